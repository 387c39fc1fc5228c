"""The transition table: states, guards, role permissions and what is allowed when."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, cast
from zoneinfo import ZoneInfo

from referralkit.model import (
    Actor,
    ActorKind,
    AuthorizationStatus,
    Referral,
    ReferralStatus,
    Role,
)

if TYPE_CHECKING:  # exists only in transitions' .pyi stubs: importing it at runtime fails
    from transitions.core import TransitionConfigDict

from referralkit.lifecycle.triggers import TRIGGERS, AcceptData, ScheduleData, Trigger

__all__ = [
    "ACTIVE_STATES",
    "ROLE_TRIGGERS",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "GuardEvent",
    "allowed_triggers",
]

S = ReferralStatus
ACTIVE_STATES: Final = (
    S.INTAKE,
    S.RECEIVED,
    S.ACCEPTED,
    S.PENDING_AUTH,
    S.READY_TO_SCHEDULE,
    S.SCHEDULED,
    S.VISIT_COMPLETED,
)
"""States in which the referral is open and someone owns a next step."""
TERMINAL_STATES: Final = frozenset({S.CLOSED, S.DECLINED, S.CANCELLED, S.LOST, S.ENTERED_IN_ERROR})
"""States nothing leaves, except ``lost`` (``reopen``) and ``mark_error``."""


# -- Guards: module functions taking a GuardEvent; a refusal is recorded on the token ------------


class GuardEvent(Protocol):
    """What a guard reads: the token being moved (``model``) and the trigger's keyword arguments.

    :class:`transitions.EventData` has this shape, and so does the light probe the compiled
    dispatch table passes, so one guard function serves both paths.
    """

    @property
    def model(self) -> object:
        """The token being moved (a :class:`Token`)."""
        ...

    @property
    def kwargs(self) -> dict[str, Any]:
        """``referral``, ``actor`` and the validated ``data``."""
        ...


class Token:  # what transitions mutates; private, so no generated attribute leaks out
    __slots__ = ("blocked", "state")

    def __init__(self, state: ReferralStatus) -> None:
        self.state = state
        self.blocked: tuple[str, str] | None = None


def _refuse(event: GuardEvent, guard: str, reason: str) -> bool:
    cast("Token", event.model).blocked = (guard, reason)
    return False


def _intake_complete(event: GuardEvent) -> bool:
    referral: Referral = event.kwargs["referral"]
    missing = referral.missing_fields()
    if missing:
        return _refuse(event, "intake_complete", "missing " + ", ".join(missing))
    return True


def _decided_by_human_or_policy(event: GuardEvent) -> bool:
    actor: Actor = event.kwargs["actor"]
    data: AcceptData = event.kwargs["data"]
    if actor.kind is ActorKind.HUMAN or data.policy:
        return True
    return _refuse(
        event,
        "decided_by_human_or_policy",
        "acceptance is a human decision unless an auto-accept policy is named",
    )


def _authorization_settled(event: GuardEvent) -> bool:
    referral: Referral = event.kwargs["referral"]
    status = referral.authorization.status
    if status in (
        AuthorizationStatus.NOT_REQUIRED,
        AuthorizationStatus.APPROVED,
        AuthorizationStatus.MODIFIED,
    ):
        return True
    return _refuse(event, "authorization_settled", f"authorization is {status.value}")


def _local_day(referral: Referral, instant: datetime) -> date:
    # Authorization validity is in calendar days where the care happens; the patient's zone is
    # the best stand-in the model has (UTC when unknown).
    zone = referral.patient.time_zone if referral.patient is not None else None
    return instant.astimezone(ZoneInfo(zone)).date() if zone else instant.date()


def _authorization_covers_appointment(event: GuardEvent) -> bool:
    referral: Referral = event.kwargs["referral"]
    data: ScheduleData = event.kwargs["data"]
    day = _local_day(referral, data.appointment.start)
    if referral.authorization.covers(day):
        return True
    return _refuse(
        event,
        "authorization_covers_appointment",
        f"authorization ({referral.authorization.status.value}) does not cover {day.isoformat()}",
    )


def _has_booked_appointment(event: GuardEvent) -> bool:
    referral: Referral = event.kwargs["referral"]
    if referral.current_appointment is not None:
        return True
    return _refuse(event, "has_booked_appointment", "no booked appointment")


@functools.cache
def _resumes_to(state: ReferralStatus) -> Any:
    def guard(event: GuardEvent) -> bool:
        referral: Referral = event.kwargs["referral"]
        if referral.hold_from is state:
            return True
        return _refuse(event, "resumes_to_held_state", "no state recorded to resume to")

    guard.__name__ = f"_resumes_to_{state.value}"
    return guard


@functools.cache
def _reopens_to(state: ReferralStatus) -> Any:
    def guard(event: GuardEvent) -> bool:
        referral: Referral = event.kwargs["referral"]
        if referral.lost_from is state:
            return True
        return _refuse(event, "reopens_to_state_lost_from", "no state recorded to reopen to")

    guard.__name__ = f"_reopens_to_{state.value}"
    return guard


_OPEN = list(ACTIVE_STATES)
_LOSABLE = [S.INTAKE, S.RECEIVED, S.ACCEPTED, S.PENDING_AUTH, S.READY_TO_SCHEDULE]
# reopen returns a lost referral to where it was lost: a referral lost during intake comes back
# to intake, not to scheduling, so it is never scheduled without intake and acceptance.
_REOPENS: Final[list[TransitionConfigDict]] = [
    {"trigger": "reopen", "source": S.LOST, "dest": state, "conditions": _reopens_to(state)}
    for state in _LOSABLE
]
# on_hold resumes to the state it left: one guarded transition per state it can have left.
_RESUMES: Final[list[TransitionConfigDict]] = [
    {"trigger": "resume", "source": S.ON_HOLD, "dest": state, "conditions": _resumes_to(state)}
    for state in ACTIVE_STATES
]

TRANSITIONS: Final[list[TransitionConfigDict]] = [
    {"trigger": "complete_intake", "source": S.INTAKE, "dest": S.RECEIVED,
     "conditions": _intake_complete},
    {"trigger": "request_info", "source": S.RECEIVED, "dest": S.INTAKE},
    {"trigger": "redirect", "source": S.RECEIVED, "dest": S.RECEIVED},
    {"trigger": "accept", "source": S.RECEIVED, "dest": S.ACCEPTED,
     "conditions": _decided_by_human_or_policy},
    {"trigger": "decline", "source": [S.RECEIVED, S.ACCEPTED], "dest": S.DECLINED},
    {"trigger": "require_auth", "source": [S.ACCEPTED, S.READY_TO_SCHEDULE],
     "dest": S.PENDING_AUTH},
    {"trigger": "clear", "source": S.ACCEPTED, "dest": S.READY_TO_SCHEDULE,
     "conditions": _authorization_settled},
    {"trigger": "authorize", "source": S.PENDING_AUTH, "dest": S.READY_TO_SCHEDULE},
    {"trigger": "schedule", "source": S.READY_TO_SCHEDULE, "dest": S.SCHEDULED,
     "conditions": _authorization_covers_appointment},
    {"trigger": "reschedule", "source": S.SCHEDULED, "dest": S.SCHEDULED,
     "conditions": _authorization_covers_appointment},
    {"trigger": "no_show", "source": S.SCHEDULED, "dest": S.READY_TO_SCHEDULE,
     "conditions": _has_booked_appointment},
    {"trigger": "cancel_appointment", "source": S.SCHEDULED, "dest": S.READY_TO_SCHEDULE,
     "conditions": _has_booked_appointment},
    {"trigger": "complete_visit", "source": S.SCHEDULED, "dest": S.VISIT_COMPLETED,
     "conditions": _has_booked_appointment},
    {"trigger": "close_loop", "source": S.VISIT_COMPLETED, "dest": S.CLOSED},
    {"trigger": "mark_lost", "source": _LOSABLE, "dest": S.LOST},
    *_REOPENS,
    {"trigger": "hold", "source": _OPEN, "dest": S.ON_HOLD},
    *_RESUMES,
    {"trigger": "cancel", "source": [*_OPEN, S.ON_HOLD], "dest": S.CANCELLED},
    {"trigger": "mark_error", "source": [s for s in S if s is not S.ENTERED_IN_ERROR],
     "dest": S.ENTERED_IN_ERROR},
]  # fmt: skip
"""The whole transition table, in the form :class:`transitions.Machine` takes."""


def _sources(entry: TransitionConfigDict) -> list[ReferralStatus]:
    source = entry["source"]
    return list(source) if isinstance(source, list) else [cast("ReferralStatus", source)]


TRIGGER_SOURCES: Final[dict[ReferralStatus, tuple[Trigger, ...]]] = {
    state: tuple(
        t for t in TRIGGERS if any(e["trigger"] == t and state in _sources(e) for e in TRANSITIONS)
    )
    for state in S
}

ROLE_TRIGGERS: Final[Mapping[Role, frozenset[Trigger]]] = {
    Role.REFERRER: frozenset({"complete_intake", "hold", "resume", "cancel", "mark_error"}),
    Role.INTAKE: frozenset({
        "complete_intake", "request_info", "require_auth", "clear", "authorize", "schedule",
        "reschedule", "cancel_appointment", "hold", "resume", "cancel", "mark_error",
    }),
    Role.CLINICIAN: frozenset({
        "accept", "decline", "redirect", "request_info", "require_auth", "clear",
        "complete_visit", "close_loop", "hold", "resume", "cancel", "mark_error",
    }),
    Role.SCHEDULER: frozenset({
        "require_auth", "clear", "authorize", "schedule", "reschedule", "no_show",
        "cancel_appointment", "complete_visit", "mark_lost", "reopen", "hold", "resume",
        "cancel", "mark_error",
    }),
    Role.SYSTEM: frozenset({
        "complete_intake", "accept", "require_auth", "clear", "authorize", "schedule",
        "reschedule", "no_show", "cancel_appointment", "complete_visit", "close_loop",
        "mark_lost", "hold", "resume",
    }),
}  # fmt: skip
"""Which triggers each role may fire (guards still apply)."""


def allowed_triggers(referral: Referral, actor: Actor | None = None) -> tuple[Trigger, ...]:
    """Return the triggers that may be fired now, by *actor* if given.

    Guards that depend on trigger data (an appointment date, an auto-accept policy) are checked
    only when firing; everything else (state, role) is decided here. A referral we sent takes
    none of these (see :func:`~referralkit.lifecycle.allowed_outbound_triggers`).
    """
    if referral.outbound is not None:
        return ()
    triggers = TRIGGER_SOURCES[referral.status]
    if actor is None:
        return triggers
    permitted = ROLE_TRIGGERS[actor.role]
    return tuple(t for t in triggers if t in permitted)
