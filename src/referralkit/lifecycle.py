"""The referral lifecycle: states, triggers, guards, roles and the FHIR status crosswalk.

One :class:`transitions.Machine` is built per process (:func:`shared_lifecycle`) and fired on a
throwaway token that holds the state; a referral never owns a machine. :meth:`Lifecycle.fire`
is pure: it returns the changed referral and the event that records the change, and the caller
(:class:`~referralkit.desk.ReferralDesk`) commits both together.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, cast, final, get_args
from zoneinfo import ZoneInfo

import attrs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from transitions import EventData, Machine, MachineError

from referralkit.errors import (
    InvalidTransitionError,
    InvalidTriggerError,
    PermissionDeniedError,
    TransitionBlockedError,
    TriggerDataError,
)
from referralkit.events import GENESIS_HASH, Event, make_event
from referralkit.model import (
    Actor,
    ActorKind,
    Appointment,
    AppointmentStatus,
    Authorization,
    AuthorizationStatus,
    CancelReason,
    DeclineReason,
    LostReason,
    NoShowReason,
    Practice,
    Referral,
    ReferralStatus,
    Role,
    StatusReason,
)

if TYPE_CHECKING:  # exists only in transitions' .pyi stubs: importing it at runtime fails
    from transitions.core import TransitionConfigDict

__all__ = [
    "ACTIVE_STATES",
    "ROLE_TRIGGERS",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "TRIGGERS",
    "TRIGGER_DATA",
    "AcceptData",
    "AuthorizeData",
    "CancelAppointmentData",
    "CancelData",
    "Change",
    "CloseLoopData",
    "DeclineData",
    "Lifecycle",
    "MarkLostData",
    "NoShowData",
    "NoteData",
    "ReasonData",
    "RedirectData",
    "RequestInfoData",
    "ScheduleData",
    "StatusCodes",
    "Trigger",
    "allowed_triggers",
    "amended",
    "created",
    "crosswalk",
    "shared_lifecycle",
]

Trigger = Literal[
    "complete_intake",
    "request_info",
    "redirect",
    "accept",
    "decline",
    "require_auth",
    "clear",
    "authorize",
    "schedule",
    "reschedule",
    "no_show",
    "cancel_appointment",
    "complete_visit",
    "close_loop",
    "mark_lost",
    "reopen",
    "hold",
    "resume",
    "cancel",
    "mark_error",
]
TRIGGERS: Final[tuple[Trigger, ...]] = get_args(Trigger)
"""Every lifecycle trigger, in table order."""

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


# -- Trigger data ---------------------------------------------------------------------------


class _TriggerData(BaseModel):
    # Not strict: data comes from host code, CLIs and JSON alike ("unreachable" for an enum).
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, hide_input_in_errors=True)


class NoteData(_TriggerData):
    """Data of a trigger that needs none: an optional note."""

    note: str | None = None


class ReasonData(_TriggerData):
    """Data of ``hold``, ``reopen`` and ``mark_error``: a free-text reason is required."""

    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class RequestInfoData(_TriggerData):
    """Data of ``request_info``: which fields are missing (paths, not values)."""

    missing: Annotated[tuple[str, ...], Field(min_length=1)]
    note: str | None = None


class RedirectData(_TriggerData):
    """Data of ``redirect``: the new receiving specialty and/or practice, and why."""

    specialty: str | None = None
    receiving_practice: Practice | None = None
    reason: Annotated[str, Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _names_a_target(self) -> RedirectData:
        if self.specialty is None and self.receiving_practice is None:
            raise ValueError("redirect needs a new specialty or receiving practice")
        return self


class AcceptData(_TriggerData):
    """Data of ``accept``: ``policy`` names the auto-accept policy when no human decided."""

    policy: str | None = None
    note: str | None = None


class DeclineData(_TriggerData):
    """Data of ``decline``: a coded reason is required."""

    reason: DeclineReason
    note: str | None = None


class AuthorizeData(_TriggerData):
    """Data of ``authorize``: the payer's authorization number and validity."""

    number: Annotated[str, Field(min_length=1, max_length=100)]
    valid_from: date
    valid_to: date
    authorized_visits: Annotated[int, Field(ge=1)] | None = None
    modified: bool = False

    @model_validator(mode="after")
    def _dates_in_order(self) -> AuthorizeData:
        if self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class ScheduleData(_TriggerData):
    """Data of ``schedule`` and ``reschedule``: the booked appointment."""

    appointment: Appointment


class NoShowData(_TriggerData):
    """Data of ``no_show``."""

    reason: NoShowReason = NoShowReason.UNKNOWN
    note: str | None = None


class CancelAppointmentData(_TriggerData):
    """Data of ``cancel_appointment``."""

    reason: CancelReason
    note: str | None = None


class CloseLoopData(_TriggerData):
    """Data of ``close_loop``: a reference to the consult report sent to the referrer."""

    report_reference: Annotated[str, Field(min_length=1, max_length=500)]


class MarkLostData(_TriggerData):
    """Data of ``mark_lost``: the coded leakage reason."""

    reason: LostReason
    note: str | None = None


class CancelData(_TriggerData):
    """Data of ``cancel``: a coded reason."""

    reason: CancelReason
    note: str | None = None


_NO_NOTE: Final = NoteData()
_EMPTY: Final[Mapping[str, Any]] = {}

TRIGGER_DATA: Final[Mapping[Trigger, type[_TriggerData]]] = {
    "complete_intake": NoteData,
    "request_info": RequestInfoData,
    "redirect": RedirectData,
    "accept": AcceptData,
    "decline": DeclineData,
    "require_auth": NoteData,
    "clear": NoteData,
    "authorize": AuthorizeData,
    "schedule": ScheduleData,
    "reschedule": ScheduleData,
    "no_show": NoShowData,
    "cancel_appointment": CancelAppointmentData,
    "complete_visit": NoteData,
    "close_loop": CloseLoopData,
    "mark_lost": MarkLostData,
    "reopen": ReasonData,
    "hold": ReasonData,
    "resume": NoteData,
    "cancel": CancelData,
    "mark_error": ReasonData,
}
"""The data model each trigger validates its ``data`` with."""


# -- Guards: module functions taking EventData; a refusal is recorded on the token ------------


class _Token:  # what transitions mutates; private, so no generated attribute leaks out
    __slots__ = ("blocked", "state")

    def __init__(self, state: ReferralStatus) -> None:
        self.state = state
        self.blocked: tuple[str, str] | None = None


def _refuse(event: EventData, guard: str, reason: str) -> bool:
    cast("_Token", event.model).blocked = (guard, reason)
    return False


def _intake_complete(event: EventData) -> bool:
    referral: Referral = event.kwargs["referral"]
    missing = referral.missing_fields()
    if missing:
        return _refuse(event, "intake_complete", "missing " + ", ".join(missing))
    return True


def _decided_by_human_or_policy(event: EventData) -> bool:
    actor: Actor = event.kwargs["actor"]
    data: AcceptData = event.kwargs["data"]
    if actor.kind is ActorKind.HUMAN or data.policy:
        return True
    return _refuse(
        event,
        "decided_by_human_or_policy",
        "acceptance is a human decision unless an auto-accept policy is named",
    )


def _authorization_settled(event: EventData) -> bool:
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


def _authorization_covers_appointment(event: EventData) -> bool:
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


def _has_booked_appointment(event: EventData) -> bool:
    referral: Referral = event.kwargs["referral"]
    if referral.current_appointment is not None:
        return True
    return _refuse(event, "has_booked_appointment", "no booked appointment")


@functools.cache
def _resumes_to(state: ReferralStatus) -> Any:
    def guard(event: EventData) -> bool:
        referral: Referral = event.kwargs["referral"]
        if referral.hold_from is state:
            return True
        return _refuse(event, "resumes_to_held_state", "no state recorded to resume to")

    guard.__name__ = f"_resumes_to_{state.value}"
    return guard


@functools.cache
def _reopens_to(state: ReferralStatus) -> Any:
    def guard(event: EventData) -> bool:
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


_FROM: Final[dict[ReferralStatus, tuple[Trigger, ...]]] = {
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
    only when firing; everything else (state, role) is decided here.
    """
    triggers = _FROM[referral.status]
    if actor is None:
        return triggers
    permitted = ROLE_TRIGGERS[actor.role]
    return tuple(t for t in triggers if t in permitted)


# -- Effects: what a trigger changes besides the status ------------------------------------


def _replace_current_appointment(referral: Referral, **changes: Any) -> tuple[Appointment, ...]:
    current = referral.current_appointment
    return tuple(
        a.model_copy(update=changes) if current is not None and a.id == current.id else a
        for a in referral.appointments
    )


def _effects(
    referral: Referral, trigger: Trigger, data: Any, source: ReferralStatus
) -> dict[str, Any]:
    match trigger:
        case "redirect":
            update: dict[str, Any] = {
                "status_reason": StatusReason(kind="redirect", text=data.reason)
            }
            if data.specialty is not None:
                update["specialty"] = data.specialty
            if data.receiving_practice is not None:
                update["receiving_practice"] = data.receiving_practice
            return update
        case "decline":
            return {
                "status_reason": StatusReason(
                    kind="decline", code=data.reason.value, text=data.note
                )
            }
        case "require_auth":
            if referral.authorization.status is AuthorizationStatus.NOT_REQUIRED:
                return {
                    "authorization": referral.authorization.model_copy(
                        update={"status": AuthorizationStatus.REQUIRED}
                    )
                }
            return {}
        case "authorize":
            return {
                "authorization": Authorization(
                    status=(
                        AuthorizationStatus.MODIFIED
                        if data.modified
                        else AuthorizationStatus.APPROVED
                    ),
                    number=data.number,
                    valid_from=data.valid_from,
                    valid_to=data.valid_to,
                    authorized_visits=data.authorized_visits,
                    used_visits=referral.authorization.used_visits,
                )
            }
        case "schedule":
            return {"appointments": (*referral.appointments, data.appointment)}
        case "reschedule":
            moved = _replace_current_appointment(
                referral,
                status=AppointmentStatus.CANCELLED,
                cancel_reason=CancelReason.RESCHEDULED,
            )
            return {"appointments": (*moved, data.appointment)}
        case "no_show":
            return {
                "appointments": _replace_current_appointment(
                    referral, status=AppointmentStatus.NO_SHOW, no_show_reason=data.reason
                )
            }
        case "cancel_appointment":
            return {
                "appointments": _replace_current_appointment(
                    referral, status=AppointmentStatus.CANCELLED, cancel_reason=data.reason
                )
            }
        case "complete_visit":
            update = {
                "appointments": _replace_current_appointment(
                    referral, status=AppointmentStatus.COMPLETED
                )
            }
            auth = referral.authorization
            if auth.status is not AuthorizationStatus.NOT_REQUIRED:
                update["authorization"] = auth.model_copy(
                    update={"used_visits": auth.used_visits + 1}
                )
            return update
        case "mark_lost":
            return {
                "status_reason": StatusReason(kind="lost", code=data.reason.value, text=data.note),
                "next_action_at": None,
                "lost_from": source,
            }
        case "reopen":
            return {
                "status_reason": StatusReason(kind="reopen", text=data.reason),
                "lost_from": None,
            }
        case "hold":
            return {
                "hold_from": source,
                "status_reason": StatusReason(kind="hold", text=data.reason),
            }
        case "resume":
            return {"hold_from": None, "status_reason": None}
        case "cancel":
            return {
                "status_reason": StatusReason(
                    kind="cancel", code=data.reason.value, text=data.note
                ),
                "appointments": tuple(
                    a.model_copy(
                        update={
                            "status": AppointmentStatus.CANCELLED,
                            "cancel_reason": data.reason,
                        }
                    )
                    if a.status is AppointmentStatus.BOOKED
                    else a
                    for a in referral.appointments
                ),
                "next_action_at": None,
                "hold_from": None,
            }
        case "mark_error":
            return {
                "status_reason": StatusReason(kind="error", text=data.reason),
                "next_action_at": None,
                "hold_from": None,
                "lost_from": None,
            }
        case _:
            return {}


# -- The machine --------------------------------------------------------------------------


@attrs.frozen
class Change:
    """A committed-to-be change: the new referral and the event that records it."""

    referral: Referral
    event: Event


def created(referral: Referral, actor: Actor, now: datetime) -> Change:
    """Stamp a new referral as version 1 and build its ``created`` event.

    :raises InvalidTransitionError: if the referral does not start in ``intake`` or
        ``received``, or starts in ``received`` with required fields missing.
    """
    if referral.status not in (S.INTAKE, S.RECEIVED):
        raise InvalidTransitionError(
            "create",
            referral.status.value,
            [],
            detail="a new referral starts in intake or received",
        )
    if referral.status is S.RECEIVED and referral.missing_fields():
        raise TransitionBlockedError(
            "create",
            referral.status.value,
            [],
            guard="intake_complete",
            reason="missing " + ", ".join(referral.missing_fields()),
        )
    event = make_event(
        referral_id=referral.id,
        seq=1,
        at=now,
        actor=actor,
        kind="created",
        from_state=None,
        to_state=referral.status,
        data={},
        prev_hash=GENESIS_HASH,
    )
    stamped = referral.model_copy(
        update={
            "version": 1,
            "created_at": referral.created_at or now,
            "updated_at": now,
            "history_hash": event.hash,
        }
    )
    return Change(stamped, event)


_PROTECTED_FIELDS: Final = frozenset(
    {
        "id",
        "status",
        "version",
        "history_hash",
        "created_at",
        "updated_at",
        "hold_from",
        "lost_from",
    }
)


def amended(
    referral: Referral,
    kind: str,
    *,
    actor: Actor,
    now: datetime,
    update: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
) -> Change:
    """Record a change that is not a state transition (a task opened, an interaction logged).

    The status stays; the referral gets a new version and an event of *kind* whose ``data`` is
    *data* (JSON-compatible; field paths and codes, not PHI, where you can).

    :param update: new values for fields of the referral, validated like any referral.
    :raises InvalidTransitionError: the referral was entered in error (it is void).
    :raises ValueError: *kind* is a trigger or ``"created"``, or *update* touches the status,
        version, id or history (those change only through triggers).
    :raises pydantic.ValidationError: the updated referral is invalid.
    """
    if referral.status is S.ENTERED_IN_ERROR:
        raise InvalidTransitionError(
            kind, referral.status.value, [], detail="a referral entered in error is void"
        )
    if kind in TRIGGER_DATA or kind == "created" or not kind:
        raise ValueError(f"amendment kind {kind!r} must not be empty or a lifecycle trigger")
    protected = _PROTECTED_FIELDS.intersection(update)
    if protected:
        raise ValueError(f"fields {sorted(protected)} change only through lifecycle triggers")
    event = make_event(
        referral_id=referral.id,
        seq=referral.version + 1,
        at=now,
        actor=actor,
        kind=kind,
        from_state=referral.status,
        to_state=referral.status,
        data=dict(data or {}),
        prev_hash=referral.history_hash,
    )
    fields = dict(referral)
    fields.update(update)
    fields.update(version=referral.version + 1, updated_at=now, history_hash=event.hash)
    return Change(Referral.model_validate(fields), event)


@final
class Lifecycle:
    """The referral state machine: one per process, shared by every referral."""

    def __init__(self) -> None:
        self._machine = Machine(
            model=None,
            states=ReferralStatus,
            transitions=TRANSITIONS,
            initial=ReferralStatus.INTAKE,
            auto_transitions=False,
            send_event=True,
        )

    def fire(
        self,
        referral: Referral,
        trigger: Trigger,
        *,
        actor: Actor,
        now: datetime,
        data: Mapping[str, Any] | BaseModel | None = None,
    ) -> Change:
        """Apply *trigger* to *referral* and return the new referral with its event.

        :param data: the trigger's data, as a mapping or as its model in :data:`TRIGGER_DATA`.
        :raises InvalidTriggerError: *trigger* is not a trigger.
        :raises InvalidTransitionError: not allowed from the current status.
        :raises PermissionDeniedError: the actor's role may not fire it.
        :raises TriggerDataError: the data is invalid for this trigger.
        :raises TransitionBlockedError: a guard refused; names the guard and why.
        """
        model_type = TRIGGER_DATA.get(trigger)
        if model_type is None:
            raise InvalidTriggerError(str(trigger), TRIGGERS)
        source = referral.status
        from_here = _FROM[source]
        if trigger not in from_here:
            raise InvalidTransitionError(trigger, source.value, allowed_triggers(referral, actor))
        if trigger not in ROLE_TRIGGERS[actor.role]:
            raise PermissionDeniedError(
                trigger, source.value, allowed_triggers(referral, actor), actor.role.value
            )
        checked = _validate_data(trigger, model_type, data)
        # Fire on a throwaway token, never add_model(): add_model costs ~350 us and ~28 KB
        # per call, an event trigger on an unregistered token ~8 us (PERFORMANCE.md).
        token = _Token(source)
        try:
            moved = self._machine.events[trigger].trigger(
                token, referral=referral, actor=actor, data=checked
            )
        except MachineError as exc:  # pragma: no cover - _FROM mirrors the machine's table
            raise InvalidTransitionError(
                trigger, source.value, allowed_triggers(referral, actor)
            ) from exc
        if not moved:
            guard, reason = token.blocked or ("unknown", "refused")
            raise TransitionBlockedError(
                trigger, source.value, allowed_triggers(referral, actor), guard, reason
            )
        dest: ReferralStatus = token.state
        event = make_event(
            referral_id=referral.id,
            seq=referral.version + 1,
            at=now,
            actor=actor,
            kind=trigger,
            from_state=source,
            to_state=dest,
            data=_EMPTY
            if checked is _NO_NOTE
            else checked.model_dump(mode="json", exclude_none=True),
            prev_hash=referral.history_hash,
        )
        update = _effects(referral, trigger, checked, source)
        update["status"] = dest
        update["version"] = referral.version + 1
        update["updated_at"] = now
        update["history_hash"] = event.hash
        # model_copy does not validate: every value above is already typed.
        return Change(referral.model_copy(update=update), event)


def _validate_data(
    trigger: Trigger,
    model_type: type[_TriggerData],
    data: Mapping[str, Any] | BaseModel | None,
) -> _TriggerData:
    if isinstance(data, model_type):
        return data
    if not data and model_type is NoteData:
        return _NO_NOTE  # most triggers carry no data: skip validating an empty mapping
    if isinstance(data, BaseModel):
        raise TriggerDataError(
            trigger,
            [{"loc": (), "type": "model_type", "msg": f"expected {model_type.__name__}"}],
        )
    try:
        return model_type.model_validate(data or {})
    except ValidationError as exc:
        raise TriggerDataError(
            trigger, [dict(e) for e in exc.errors(include_input=False)]
        ) from exc


@functools.cache
def shared_lifecycle() -> Lifecycle:
    """Return the process-wide :class:`Lifecycle` (built on first use, then shared)."""
    return Lifecycle()


# -- Crosswalk to other code systems ---------------------------------------------------------


@attrs.frozen
class StatusCodes:
    """How a lifecycle state is expressed in other code systems."""

    task_status: str
    """FHIR R4 ``Task.status``."""
    task_business_status: str | None
    """FHIR ``Task.businessStatus`` text, where the status alone is ambiguous."""
    service_request_status: str
    """FHIR R4 ``ServiceRequest.status``."""


_CROSSWALK: Final[Mapping[ReferralStatus, StatusCodes]] = {
    S.INTAKE: StatusCodes("draft", None, "draft"),
    S.RECEIVED: StatusCodes("requested", None, "active"),
    S.ACCEPTED: StatusCodes("accepted", None, "active"),
    S.PENDING_AUTH: StatusCodes("accepted", "awaiting-authorization", "active"),
    S.READY_TO_SCHEDULE: StatusCodes("ready", None, "active"),
    S.SCHEDULED: StatusCodes("in-progress", "visit-scheduled", "active"),
    S.VISIT_COMPLETED: StatusCodes("in-progress", "visit-complete", "active"),
    S.CLOSED: StatusCodes("completed", None, "completed"),
    S.DECLINED: StatusCodes("rejected", None, "revoked"),
    S.CANCELLED: StatusCodes("cancelled", None, "revoked"),
    S.LOST: StatusCodes("failed", None, "revoked"),
    S.ON_HOLD: StatusCodes("on-hold", None, "on-hold"),
    S.ENTERED_IN_ERROR: StatusCodes("entered-in-error", None, "entered-in-error"),
}


def crosswalk(status: ReferralStatus) -> StatusCodes:
    """Return the FHIR Task and ServiceRequest codes for a lifecycle state."""
    return _CROSSWALK[status]
