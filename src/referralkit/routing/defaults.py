"""The built-in rule set: what stays human, routed to a named queue with a due time.

The library never makes the clinical or negotiation decision: these rules detect the cases and
hand them to people. A practice starts from :func:`default_rules` and overrides it in Python or
with a TOML file that ``extends = "defaults"`` (see ``docs/routing.md``).

.. versionadded:: 0.1
"""

from __future__ import annotations

from typing import Final

from referralkit.model import AuthorizationStatus, Priority, ReferralStatus, TaskPriority
from referralkit.routing.calendar import BusinessCalendar, UsBusinessCalendar
from referralkit.routing.queues import QueueConfig
from referralkit.routing.rules import Action, AutoAcceptPolicy, Condition, Rule
from referralkit.routing.ruleset import RuleSet
from referralkit.routing.sla import DEFAULT_SLA, SlaPolicy

__all__ = [
    "ASKED_FOR_PERSON_FLAGS",
    "AUTH_EXPIRY_WARNING",
    "COMPLAINT_FLAGS",
    "DEFAULT_RULES",
    "RECORDS_LEAD_TIME",
    "URGENT_FLAGS",
    "default_rules",
]

S = ReferralStatus
URGENT_FLAGS: Final = frozenset({"urgent", "urgency_language", "stated_urgent_priority"})
"""Intake flags that mean "a clinician must look at this now"."""
ASKED_FOR_PERSON_FLAGS: Final = frozenset({"asked_for_person", "counselling_requested"})
"""Intake flags raised when a patient asks for a person or for counselling."""
COMPLAINT_FLAGS: Final = frozenset({"referrer_complaint"})
"""Flags raised when a referring practice complains."""
AUTH_EXPIRY_WARNING: Final = "14d"
"""How long before an authorization with unused visits expires that staff are alerted."""
RECORDS_LEAD_TIME: Final = "3d"
"""How long before the visit outstanding records go to the records queue."""

_PRE_VISIT: Final = frozenset(
    {S.INTAKE, S.RECEIVED, S.ACCEPTED, S.PENDING_AUTH, S.READY_TO_SCHEDULE, S.SCHEDULED}
)
_OPEN: Final = frozenset({*_PRE_VISIT, S.VISIT_COMPLETED})
_NOT_ROUTINE: Final = frozenset({Priority.URGENT, Priority.ASAP, Priority.STAT})

DEFAULT_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        id="urgent_priority",
        description="Urgent, asap and stat referrals go to a clinician at once",
        when=Condition(
            status={S.INTAKE, S.RECEIVED, S.ACCEPTED, S.PENDING_AUTH, S.READY_TO_SCHEDULE},
            priority=_NOT_ROUTINE,
        ),
        then=(
            Action.open_task(
                "urgent_clinical",
                "Urgent referral: review, prioritise and accept",
                due="sla:acceptance",
                priority=TaskPriority.URGENT,
            ),
        ),
    ),
    Rule(
        id="urgent_intake_flag",
        description="Intake heard urgency: a clinician decides the priority",
        when=Condition(status=_PRE_VISIT, priority={Priority.ROUTINE}, flags_any=URGENT_FLAGS),
        then=(
            Action.open_task(
                "urgent_clinical",
                "Urgency raised at intake: review priority",
                due="1h",
                priority=TaskPriority.URGENT,
            ),
        ),
    ),
    Rule(
        id="needs_acceptance",
        description="A routine referral needs a clinician's acceptance (no auto-accept policy)",
        when=Condition(status={S.RECEIVED}, priority={Priority.ROUTINE}, auto_accept=False),
        subject="state_entry",
        then=(
            Action.open_task(
                "clinical_review",
                "Review and accept or decline",
                due="sla:acceptance",
                priority=TaskPriority.NORMAL,
            ),
        ),
    ),
    Rule(
        id="auto_accept",
        description="The practice's auto-accept policy matches: accept without review",
        when=Condition(status={S.RECEIVED}, auto_accept=True),
        subject="state_entry",
        then=(
            Action.fire(
                "accept",
                fallback_queue="clinical_review",
                title="Auto-accept was refused: review and accept or decline",
                due="sla:acceptance",
            ),
        ),
    ),
    Rule(
        id="acceptance_sla",
        description="Acceptance (triage) SLA breached: escalate along the ladder",
        when=Condition(status={S.RECEIVED}, sla_breached="acceptance"),
        then=(Action.escalate("acceptance"),),
    ),
    Rule(
        id="booking_sla",
        description="Booking SLA breached: escalate along the ladder",
        when=Condition(
            status={S.ACCEPTED, S.PENDING_AUTH, S.READY_TO_SCHEDULE}, sla_breached="booking"
        ),
        then=(Action.escalate("booking", owner_queue="scheduling"),),
    ),
    Rule(
        id="authorization_problem",
        description="Authorization denied, pended or modified: staff negotiate with the payer",
        when=Condition(
            status=_OPEN,
            authorization={
                AuthorizationStatus.DENIED,
                AuthorizationStatus.PENDED,
                AuthorizationStatus.MODIFIED,
            },
        ),
        subject="authorization",
        then=(
            Action.open_task(
                "authorization",
                "Authorization needs attention",
                due="1bd",
                priority=TaskPriority.HIGH,
            ),
        ),
    ),
    Rule(
        id="authorization_expires_before_visit",
        description="The authorization ends before the booked appointment",
        when=Condition(status={S.SCHEDULED}, auth_expires_before_appointment=True),
        subject="appointment",
        then=(
            Action.notify(
                "staff",
                "Authorization expires before the booked appointment",
                queue="authorization",
                due="1bd",
            ),
        ),
    ),
    Rule(
        id="authorization_expiring_unused",
        description="An authorization with unused visits expires soon",
        when=Condition(status=_OPEN, auth_expiring_within=AUTH_EXPIRY_WARNING),
        subject="authorization",
        then=(
            Action.notify(
                "staff",
                "Authorization with unused visits expires soon",
                queue="authorization",
                due="2bd",
            ),
        ),
    ),
    Rule(
        id="records_not_received",
        description="Records not received shortly before the appointment",
        when=Condition(status={S.SCHEDULED}, records_pending_within=RECORDS_LEAD_TIME),
        subject="appointment",
        then=(
            Action.open_task(
                "records",
                "Chase outstanding records before the visit",
                due="1bd",
                priority=TaskPriority.HIGH,
            ),
        ),
    ),
    Rule(
        id="patient_asked_for_person",
        description="The patient asked for a person or for counselling",
        when=Condition(status=_OPEN | {S.ON_HOLD}, flags_any=ASKED_FOR_PERSON_FLAGS),
        then=(
            Action.open_task(
                "patient_counselling",
                "Patient asked to speak with a person",
                due="4h",
                priority=TaskPriority.HIGH,
            ),
        ),
    ),
    Rule(
        id="referrer_complaint",
        description="A referring practice complained",
        when=Condition(status=set(S) - {S.ENTERED_IN_ERROR}, flags_any=COMPLAINT_FLAGS),
        then=(
            Action.open_task(
                "practice_relations",
                "Referring practice complaint",
                due="1bd",
                priority=TaskPriority.HIGH,
            ),
        ),
    ),
)
"""The built-in rules, in evaluation order."""


def default_rules(
    *,
    calendar: BusinessCalendar | None = None,
    sla: SlaPolicy = DEFAULT_SLA,
    auto_accept: tuple[AutoAcceptPolicy, ...] = (),
    queues: QueueConfig | None = None,
) -> RuleSet:
    """Return the built-in rule set, compiled, with the given calendar and policies.

    :param calendar: defaults to :class:`~referralkit.routing.calendar.UsBusinessCalendar`.
    :param auto_accept: the practice's auto-accept policies (none: every referral is reviewed).

    .. versionadded:: 0.1
    """
    return RuleSet(
        DEFAULT_RULES,
        queues=queues or QueueConfig(),
        sla=sla,
        calendar=calendar or UsBusinessCalendar(),
        auto_accept=auto_accept,
        source="<defaults>",
    )
