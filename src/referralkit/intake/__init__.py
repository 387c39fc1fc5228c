"""Intake: capture each kind of referral call, validate and normalise it, say what to ask next.

A domain module: it never imports the desk, plugins or adapters. Modules:

- :mod:`~referralkit.intake.fields`: :class:`CallType` and the field catalogue;
- :mod:`~referralkit.intake.specs`: :class:`CallTypeSpec`, :class:`Requirement`, the defaults;
- :mod:`~referralkit.intake.config`: :class:`IntakeConfig` (TOML and Python overrides);
- :mod:`~referralkit.intake.normalise` and :mod:`~referralkit.intake.phones`: phones, NPI,
  ICD-10-CM, dates, names, addresses;
- :mod:`~referralkit.intake.validators`: the per-field validators and the walk over a turn;
- :mod:`~referralkit.intake.progress`: what is missing, what to ask, what to flag;
- :mod:`~referralkit.intake.build`: the referral a complete ``new_referral`` makes;
- :mod:`~referralkit.intake.session`: :class:`IntakeSession` and :func:`validate_intake`;
- :mod:`~referralkit.intake.results`: results, issues, questions, flags and call records;
- :mod:`~referralkit.intake.duplicates`: :func:`find_duplicate`;
- :mod:`~referralkit.intake.status`: :func:`answer_status` for status and authorization calls.

.. versionadded:: 0.1
"""

from __future__ import annotations

from referralkit.intake.config import IntakeConfig
from referralkit.intake.duplicates import DuplicateMatch, find_duplicate
from referralkit.intake.fields import FIELDS, CallType, FieldDef
from referralkit.intake.normalise import NormalisedPhone, normalise_phone
from referralkit.intake.outcome import IntakeOutcome
from referralkit.intake.results import CallRecord, FieldIssue, IntakeFlag, IntakeResult, Question
from referralkit.intake.session import IntakeSession, validate_intake
from referralkit.intake.specs import DEFAULT_SPECS, CallTypeSpec, Requirement
from referralkit.intake.status import (
    CallerIdentity,
    LookupQuery,
    StatusAnswer,
    answer_status,
    match_referrals,
    verify_caller,
)

__all__ = [
    "DEFAULT_SPECS",
    "FIELDS",
    "CallRecord",
    "CallType",
    "CallTypeSpec",
    "CallerIdentity",
    "DuplicateMatch",
    "FieldDef",
    "FieldIssue",
    "IntakeConfig",
    "IntakeFlag",
    "IntakeOutcome",
    "IntakeResult",
    "IntakeSession",
    "LookupQuery",
    "NormalisedPhone",
    "Question",
    "Requirement",
    "StatusAnswer",
    "answer_status",
    "find_duplicate",
    "match_referrals",
    "normalise_phone",
    "validate_intake",
    "verify_caller",
]
