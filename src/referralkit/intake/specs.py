"""Call-type specs: what each call must capture, who takes over, how it resolves.

Specs are data. A practice overrides them from Python (:meth:`IntakeConfig.override`) or from
a TOML file (:meth:`IntakeConfig.from_toml`), both in :mod:`referralkit.intake.config`.

A *requirement* is a field path (``"patient.birth_date"``), or alternatives separated by
``|`` whose parts are joined by ``+``: ``"referral_number | patient.family_name +
patient.birth_date"`` is met by a referral number, or by a last name together with a birth
date. A path names a field or a group of fields (``"reason"`` is met by any field under it).

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

import attrs

from referralkit.intake.fields import FIELDS, CallType, FieldDef

__all__ = [
    "DEFAULT_SPECS",
    "FIELDS",
    "CallType",
    "CallTypeSpec",
    "FieldDef",
    "Requirement",
]


# -- Requirements -----------------------------------------------------------------------------


@attrs.frozen
class Requirement:
    """A required field, or alternatives of field groups (see the module docstring).

    :ivar key: the requirement as written, with normalised spacing; names it in results.
    :ivar alternatives: each alternative is the paths that must all be present.
    """

    key: str
    alternatives: tuple[tuple[str, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Requirement:
        """Parse ``"a | b + c"``; raises ``ValueError`` if a part is empty."""
        alternatives = tuple(
            tuple(part.strip() for part in alternative.split("+"))
            for alternative in text.split("|")
        )
        if any(not part for alternative in alternatives for part in alternative):
            raise ValueError("empty part")
        key = " | ".join(" + ".join(alternative) for alternative in alternatives)
        return cls(key, alternatives)

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the requirement mentions, in order."""
        return tuple(path for alternative in self.alternatives for path in alternative)


# -- Specs ------------------------------------------------------------------------------------


@attrs.frozen
class CallTypeSpec:
    """What a call of one type must capture, when it escalates and how it is resolved.

    :ivar required: requirements in the order their questions are asked.
    :ivar optional: other fields worth capturing when offered (never asked for).
    :ivar escalations: flag code to the named human queue it is handed to.
    :ivar handoffs: the human queues this call type may hand off to (approved hand-offs).
    :ivar log_to: where the call's summary and tasks go: ``"referral"`` (the referral's
        interactions and tasks) or ``"call_log"`` (a call record only, no referral known).
    :ivar resolved_by: the event that ends the call's resolution time, measured from the
        start of the call (the session's ``started_at``).
    """

    call_type: CallType
    required: tuple[Requirement, ...]
    optional: tuple[str, ...]
    escalations: Mapping[str, str]
    handoffs: tuple[str, ...]
    log_to: str
    resolved_by: str
    summary: str


_LOOKUP: Final = "referral_number | patient.family_name + patient.birth_date"


def _spec(
    call_type: CallType,
    summary: str,
    required: Iterable[str],
    *,
    escalations: Mapping[str, str],
    log_to: str,
    resolved_by: str,
) -> CallTypeSpec:
    requirements = tuple(Requirement.parse(r) for r in required)
    mentioned = {p for r in requirements for p in r.paths}
    optional = tuple(p for p in FIELDS[call_type] if p not in mentioned)
    handoffs = tuple(dict.fromkeys(escalations.values()))
    return CallTypeSpec(
        call_type,
        requirements,
        optional,
        MappingProxyType(dict(escalations)),
        handoffs,
        log_to,
        resolved_by,
        summary,
    )


_C = CallType
DEFAULT_SPECS: Final[Mapping[CallType, CallTypeSpec]] = MappingProxyType(
    {
        _C.NEW_REFERRAL: _spec(
            _C.NEW_REFERRAL,
            "A practice or patient sends a new referral to a specialist.",
            [
                "patient.given_name",
                "patient.family_name",
                "patient.birth_date",
                "patient.phones",
                "referring_practice.name | referring_provider.name",
                "specialty",
                "reason.text | reason.icd10_codes",
            ],
            escalations={
                "urgency_language": "urgent_clinical",
                "stated_urgent_priority": "urgent_clinical",
                "duplicate_referral": "clinical_review",
            },
            log_to="referral",
            resolved_by="complete_intake",
        ),
        _C.SCHEDULE_APPOINTMENT: _spec(
            _C.SCHEDULE_APPOINTMENT,
            "A referred patient calls to book the specialist appointment.",
            [_LOOKUP, "patient.phones", "appointment.preferred_times"],
            escalations={
                "referral_not_found": "scheduling",
                "urgency_language": "urgent_clinical",
            },
            log_to="referral",
            resolved_by="schedule",
        ),
        _C.STATUS_INQUIRY: _spec(
            _C.STATUS_INQUIRY,
            "A patient or practice asks where a referral stands.",
            ["caller.role", _LOOKUP],
            escalations={"caller_not_verified": "scheduling", "referral_not_found": "scheduling"},
            log_to="referral",
            resolved_by="status_answered",
        ),
        _C.AUTHORIZATION_QUESTION: _spec(
            _C.AUTHORIZATION_QUESTION,
            "A caller asks about insurance authorization for a referral.",
            ["caller.role", _LOOKUP, "question.topic"],
            escalations={
                "authorization_problem": "authorization",
                "caller_not_verified": "authorization",
                "referral_not_found": "authorization",
            },
            log_to="referral",
            resolved_by="status_answered",
        ),
        _C.RECORDS_TRANSFER: _spec(
            _C.RECORDS_TRANSFER,
            "Medical records need to move between practices for a referral.",
            ["caller.role", _LOOKUP, "records.from_practice"],
            escalations={"referral_not_found": "records", "records_needed": "records"},
            log_to="referral",
            resolved_by="records_requested",
        ),
        _C.VISIT_PREPARATION: _spec(
            _C.VISIT_PREPARATION,
            "A patient asks what to expect at, or bring to, the specialist visit.",
            [_LOOKUP, "question.topic"],
            escalations={"clinical_question": "patient_counselling"},
            log_to="referral",
            resolved_by="question_answered",
        ),
        _C.PRACTICE_COORDINATION: _spec(
            _C.PRACTICE_COORDINATION,
            "A referring or receiving practice coordinates with the other practice.",
            ["caller.role", "caller.practice_name", "caller.phone", "question.topic"],
            escalations={"practice_call": "practice_relations"},
            log_to="call_log",
            resolved_by="handed_off",
        ),
    }
)
"""The built-in spec of every call type."""
