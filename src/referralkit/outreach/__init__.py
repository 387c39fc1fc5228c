"""Outreach: cadences, patient-local contact windows, consent and caps, planning, dispatch.

The domain half (policy, windows, consent, sms, planner) is pure and imports neither the desk,
the plugins nor any adapter; :mod:`referralkit.outreach.dispatch` performs the side effects and
is driven by :class:`~referralkit.desk.ReferralDesk`. :mod:`~referralkit.outreach.policy` and
:mod:`~referralkit.outreach.planner` re-export their parts (``policy_types``, ``policy_defaults``,
``policy_toml``); the outbox ledger is :mod:`~referralkit.outreach.ledger`.

.. versionadded:: 0.1
"""

from __future__ import annotations

from referralkit.outreach.consent import (
    OPT_OUT_KEYWORDS,
    earliest_allowed,
    is_opt_out,
    normalize_reply,
    withdraw,
)
from referralkit.outreach.ledger import OUTREACH_TASK
from referralkit.outreach.plan import Plan, PlannedAction, Skipped, idempotency_key
from referralkit.outreach.planner import plan
from referralkit.outreach.policy import (
    Cadence,
    Exhaustion,
    FrequencyCap,
    Hours,
    Policy,
    PolicyError,
    RetryRule,
    Step,
    WeeklyHours,
    WindowRules,
    default_policy,
    load_policy,
    policy_from_mapping,
)
from referralkit.outreach.sms import SmsTooLongError, is_gsm7, render_sms, sms_length
from referralkit.outreach.windows import (
    STATE_ZONES,
    BusinessCalendar,
    ContactWindow,
    WeekdayCalendar,
    patient_zones,
)

__all__ = [
    "OPT_OUT_KEYWORDS",
    "OUTREACH_TASK",
    "STATE_ZONES",
    "BusinessCalendar",
    "Cadence",
    "ContactWindow",
    "Exhaustion",
    "FrequencyCap",
    "Hours",
    "Plan",
    "PlannedAction",
    "Policy",
    "PolicyError",
    "RetryRule",
    "Skipped",
    "SmsTooLongError",
    "Step",
    "WeekdayCalendar",
    "WeeklyHours",
    "WindowRules",
    "default_policy",
    "earliest_allowed",
    "idempotency_key",
    "is_gsm7",
    "is_opt_out",
    "load_policy",
    "normalize_reply",
    "patient_zones",
    "plan",
    "policy_from_mapping",
    "render_sms",
    "sms_length",
    "withdraw",
]
