"""Outreach policy data: hours, windows, caps, retries, steps, cadences and :class:`Policy`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time, timedelta
from types import MappingProxyType
from typing import Final, Literal, get_args

import attrs

from referralkit.errors import PolicyError
from referralkit.model import Channel, LostReason, Practice, Priority, TaskPriority

__all__ = [
    "ACTIONS",
    "CONDITIONS",
    "DEFAULT_STATE_HOURS",
    "MILESTONES",
    "PURPOSES",
    "Action",
    "AuthRules",
    "Cadence",
    "Condition",
    "Exhaustion",
    "FrequencyCap",
    "Hours",
    "Policy",
    "PolicyError",
    "PracticeUpdates",
    "Purpose",
    "RecordsRules",
    "ReferrerUpdates",
    "RetryRule",
    "Step",
    "WeeklyHours",
    "WindowRules",
]

Purpose = Literal[
    "schedule", "no_show_recovery", "reminder", "records_follow_up", "auth_follow_up"
]
"""What a cadence is for; the planner picks cadences by purpose and priority."""
PURPOSES: Final[tuple[Purpose, ...]] = get_args(Purpose)

Action = Literal["contact", "fax_records", "task"]
"""What a step does: contact the patient, fax the sending practice, or open a human task."""
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)

Condition = Literal[
    "has_phone", "has_mobile", "has_email", "has_address", "auth_required", "auth_not_required"
]
"""A precondition of a step; a step whose conditions fail is skipped (not retried)."""
CONDITIONS: Final[tuple[Condition, ...]] = get_args(Condition)

_PATIENT_CHANNELS: Final = frozenset({Channel.VOICE, Channel.SMS, Channel.EMAIL, Channel.LETTER})


def _hours_order(instance: Hours, _attribute: object, end: time) -> None:
    if end <= instance.start:
        raise PolicyError("hours", "end must be after start on the same day")


@attrs.frozen
class Hours:
    """Allowed local hours of one day: ``start <= local time < end``."""

    start: time
    end: time = attrs.field(validator=_hours_order)


@attrs.frozen
class WeeklyHours:
    """Hours per weekday (Monday is 0); a weekday mapped to ``None`` allows no contact."""

    default: Hours
    weekdays: Mapping[int, Hours | None] = attrs.field(factory=dict)

    def on(self, weekday: int) -> Hours | None:
        """Return the hours for *weekday* (0 = Monday), or ``None`` if contact is not allowed."""
        if weekday in self.weekdays:
            return self.weekdays[weekday]
        return self.default


DEFAULT_HOURS: Final = Hours(time(8), time(21))
# Conservative defaults drawn from state telephone-solicitation laws (FL 501.616, OK 15-775C.4,
# MD Com. Law 14-4503, WA RCW 80.36.390, TX Bus. & Com. 301.051). Care messages are often exempt,
# but the stricter hours cost little; hosts override them in their policy.
DEFAULT_STATE_HOURS: Final[Mapping[str, WeeklyHours]] = {
    "FL": WeeklyHours(Hours(time(8), time(20))),
    "MD": WeeklyHours(Hours(time(8), time(20))),
    "OK": WeeklyHours(Hours(time(8), time(20))),
    "WA": WeeklyHours(Hours(time(8), time(20))),
    "TX": WeeklyHours(Hours(time(9), time(21)), {6: Hours(time(12), time(21))}),
}


@attrs.frozen
class WindowRules:
    """When automated calls and SMS may reach a patient, in the patient's local time.

    :ivar default: hours everywhere without a state rule (08:00-21:00 every day).
    :ivar states: per US state (two-letter code) hours that replace the default.
    """

    default: WeeklyHours = WeeklyHours(DEFAULT_HOURS)
    states: Mapping[str, WeeklyHours] = attrs.field(factory=lambda: dict(DEFAULT_STATE_HOURS))

    def for_state(self, state: str | None) -> WeeklyHours:
        """Return the weekly hours that apply to a patient in *state* (``None``: unknown)."""
        if state is not None and state in self.states:
            return self.states[state]
        return self.default


@attrs.frozen
class FrequencyCap:
    """At most *limit* automated patient contacts in any rolling *period*, across channels."""

    limit: int = attrs.field(validator=attrs.validators.ge(1))
    period: timedelta


DEFAULT_CAPS: Final = (FrequencyCap(1, timedelta(days=1)), FrequencyCap(3, timedelta(days=7)))


@attrs.frozen
class RetryRule:
    """How a step whose send failed transiently is retried (each retry is a new attempt)."""

    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    delay: timedelta = timedelta(hours=2)


@attrs.frozen
class Step:
    """One step of a cadence.

    :ivar id: unique within the cadence; part of the idempotency key, so never reuse an id for
        a different step.
    :ivar offset: when the step is due, from the cadence's anchor (the time the referral became
        ready to schedule, the no-show, the appointment start (negative: before), the records
        request's due time, or the time authorization became pending).
    :ivar action: ``contact`` (the patient, on *channel*), ``fax_records`` (the sending
        practice) or ``task`` (a human task in *queue*).
    :ivar channel: the patient channel of a ``contact`` step.
    :ivar fallback: channels tried in order when *channel* is unusable (no mobile, opted out).
    :ivar template: the message template id handed to the adapter or shown on the task.
    :ivar when: conditions that must all hold, else the step is skipped.
    :ivar business_days: only on business days (of the injected calendar) in local time.
    :ivar valid_for: how long after its due time the step is still worth doing; after that it
        is skipped as expired (``None``: no limit).
    """

    id: str = attrs.field(validator=attrs.validators.matches_re(r"^[a-z0-9][a-z0-9_.-]{0,63}$"))
    offset: timedelta
    action: Action = "contact"
    channel: Channel | None = None
    fallback: tuple[Channel, ...] = ()
    template: str = ""
    when: tuple[Condition, ...] = ()
    business_days: bool = False
    valid_for: timedelta | None = None
    queue: str = "scheduling"
    task_priority: TaskPriority = TaskPriority.NORMAL

    def __attrs_post_init__(self) -> None:
        where = f"step {self.id}"
        if self.action == "contact":
            if self.channel not in _PATIENT_CHANNELS:
                raise PolicyError(where, "a contact step needs a patient channel")
            if any(c not in _PATIENT_CHANNELS for c in self.fallback):
                raise PolicyError(where, "fallback channels must be patient channels")
        elif self.channel is not None or self.fallback:
            raise PolicyError(where, f"a {self.action} step takes no channel")
        if not self.template:
            raise PolicyError(where, "template is required")
        if self.valid_for is not None and self.valid_for <= timedelta(0):
            raise PolicyError(where, "valid_for must be positive")


@attrs.frozen
class Exhaustion:
    """What happens when a cadence's steps are all done and the patient has not booked.

    ``mark_lost`` fires the lifecycle trigger with *lost_reason* (the referrer is then notified
    through :class:`ReferrerUpdates`); ``task`` opens a human task in *queue*; ``none`` stops.
    """

    action: Literal["mark_lost", "task", "none"] = "none"
    lost_reason: LostReason = LostReason.UNREACHABLE
    queue: str = "scheduling"
    template: str = "outreach.exhausted"
    task_priority: TaskPriority = TaskPriority.NORMAL


@attrs.frozen
class Cadence:
    """An ordered list of steps for one purpose (and optionally one priority).

    Steps run in order: a step is planned only once every earlier step is done or skipped.
    After the last step, and *grace* later, *on_exhausted* applies.
    """

    purpose: Purpose
    steps: tuple[Step, ...]
    priority: Priority | None = None
    grace: timedelta = timedelta(days=2)
    on_exhausted: Exhaustion = Exhaustion()

    def __attrs_post_init__(self) -> None:
        where = f"cadence {self.purpose}/{self.priority.value if self.priority else '*'}"
        if not self.steps:
            raise PolicyError(where, "a cadence needs at least one step")
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise PolicyError(where, "step ids must be unique")
        offsets = [s.offset for s in self.steps]
        if offsets != sorted(offsets):
            raise PolicyError(where, "step offsets must not decrease")
        if self.grace < timedelta(0):
            raise PolicyError(where, "grace must not be negative")


MILESTONES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "complete_intake": "received",
        "accept": "accepted",
        "decline": "declined",
        "request_info": "info_requested",
        "require_auth": "auth_pending",
        "authorization_denied": "auth_denied",
        "schedule": "scheduled",
        "reschedule": "rescheduled",
        "no_show": "no_show",
        "complete_visit": "visit_completed",
        "close_loop": "report_sent",
        "mark_lost": "lost",
        "cancel": "cancelled",
    }
)
"""Event kind -> the distinct status code a referring practice is sent for that milestone.

.. versionadded:: 0.3"""


@attrs.frozen
class PracticeUpdates:
    """What one referring practice wants to hear about.

    :ivar milestones: the status codes it wants (:data:`MILESTONES` values); ``None``: every
        milestone the policy sends.

    .. versionadded:: 0.3
    """

    milestones: frozenset[str] | None = None
    digest: bool = False
    """One message a week instead of one per milestone: sent the next Monday, it lists every
    referral of the practice with milestones that week (:mod:`referralkit.outreach.digest`).

    .. versionadded:: 0.3"""

    def __attrs_post_init__(self) -> None:
        unknown = set(self.milestones or ()) - set(MILESTONES.values())
        if unknown:
            where = "referrer_updates.practices"
            raise PolicyError(where, f"unknown milestones {sorted(unknown)}")


@attrs.frozen
class ReferrerUpdates:
    """Status updates to the referring practice: lifecycle event kind -> template id.

    Each milestone is sent once per occurrence (the event that committed it), with its
    status, reason and appointment as that event left them, on the practice's preferred
    channel (:attr:`~referralkit.model.Practice.preferred_channel`).

    :ivar practices: per referring practice (by its ``id``, else its NPI), which milestones it
        wants; practices not listed get every milestone in *on*.

    .. versionchanged:: 0.3 *practices*; ``decline``, ``request_info`` and
       ``authorization_denied`` are sent by default
       (``accept`` and ``complete_intake`` when a policy adds them).
    """

    on: Mapping[str, str] = attrs.field(
        factory=lambda: {
            "decline": "referrer.declined",
            "request_info": "referrer.info_requested",
            "authorization_denied": "referrer.auth_denied",
            "schedule": "referrer.scheduled",
            "reschedule": "referrer.rescheduled",
            "no_show": "referrer.no_show",
            "complete_visit": "referrer.seen",
            "close_loop": "referrer.report_sent",
            "mark_lost": "referrer.lost",
        }
    )
    practices: Mapping[str, PracticeUpdates] = attrs.field(factory=dict)

    def digest_for(self, practice: Practice | None) -> bool:
        """Return whether *practice* (by its id, else its NPI) asked for a weekly digest."""
        key = (practice.id or practice.npi) if practice is not None else None
        prefs = self.practices.get(key) if key is not None else None
        return prefs is not None and prefs.digest

    def wants(self, practice_key: str | None, kind: str) -> bool:
        """Return whether the practice keyed *practice_key* wants the milestone of *kind*."""
        if kind not in self.on:
            return False
        prefs = self.practices.get(practice_key) if practice_key is not None else None
        if prefs is None or prefs.milestones is None:
            return True
        return MILESTONES.get(kind, kind) in prefs.milestones


@attrs.frozen
class AuthRules:
    """Authorization checks that open human tasks (negotiation with payers stays human).

    :ivar warn_before: open a task when an approved authorization ends within this time and the
        referral is still unscheduled.

    Tasks also open when authorization is needed (``required``), when it is with the payer
    longer than *pending_after* business days, and when its visits are used up.

    .. versionchanged:: 0.3 *pending_after*; the needed, pending and used-up tasks.
    """

    queue: str = "authorization"  # the routing rules' queue (DEFAULT_QUEUES): one queue
    warn_before: timedelta = timedelta(days=7)
    pending_after: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    """Business days after submission (or appeal) with no answer before a task opens.

    .. versionadded:: 0.3"""


@attrs.frozen
class RecordsRules:
    """Records checks that open human tasks before the visit.

    :ivar queue: where the tasks go.
    :ivar missing_before_visit: business days before a booked visit at which a task opens if
        a required records request is still open.

    .. versionadded:: 0.3
    """

    queue: str = "records"
    missing_before_visit: int = attrs.field(default=3, validator=attrs.validators.ge(0))


@attrs.frozen
class Policy:
    """A complete outreach policy.

    :ivar cadences: looked up by (purpose, priority), falling back to (purpose, any priority).
    :ivar in_flight_timeout: after this long an attempt started but not recorded (a crashed
        worker) is resumed with the same idempotency key; keep it at least the claim lease.
    """

    cadences: tuple[Cadence, ...]
    window: WindowRules = WindowRules()
    caps: tuple[FrequencyCap, ...] = DEFAULT_CAPS
    retry: RetryRule = RetryRule()
    referrer_updates: ReferrerUpdates = ReferrerUpdates()
    auth: AuthRules = AuthRules()
    records: RecordsRules = RecordsRules()
    windowed_channels: frozenset[Channel] = frozenset({Channel.VOICE, Channel.SMS})
    in_flight_timeout: timedelta = timedelta(minutes=10)
    horizon: timedelta = timedelta(days=400)

    def __attrs_post_init__(self) -> None:
        seen: set[tuple[str, Priority | None]] = set()
        for cadence in self.cadences:
            key = (cadence.purpose, cadence.priority)
            if key in seen:
                raise PolicyError("cadences", f"two cadences for {cadence.purpose}")
            seen.add(key)

    def cadence(self, purpose: Purpose, priority: Priority) -> Cadence | None:
        """Return the cadence for *purpose* at *priority*, or its any-priority cadence."""
        fallback: Cadence | None = None
        for cadence in self.cadences:
            if cadence.purpose != purpose:
                continue
            if cadence.priority is priority:
                return cadence
            if cadence.priority is None:
                fallback = cadence
        return fallback
