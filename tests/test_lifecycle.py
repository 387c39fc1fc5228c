"""The lifecycle table, guards, roles and crosswalk, checked against tables written here.

The tables below are transcribed from DESIGN.md ("Referral lifecycle"), not derived from
``referralkit.lifecycle``: a change to the code's table must be a deliberate change here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from referralkit import (
    TRIGGERS,
    Actor,
    ActorKind,
    Appointment,
    AppointmentStatus,
    Authorization,
    AuthorizationStatus,
    InvalidTransitionError,
    InvalidTriggerError,
    Lifecycle,
    PermissionDeniedError,
    Referral,
    ReferralStatus,
    Role,
    TransitionBlockedError,
    TriggerDataError,
    allowed_triggers,
    created,
    crosswalk,
    shared_lifecycle,
)
from tests.support.lifecycle_reference import ROLES

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
HELD = "<state it left>"
LOST_FROM = "<state it was lost from>"

# state -> {trigger: destination}. Everything not listed is illegal.
TABLE: Mapping[str, Mapping[str, str]] = {
    "intake": {
        "complete_intake": "received",
        "mark_lost": "lost",
        "hold": "on_hold",
        "cancel": "cancelled",
        "mark_error": "entered_in_error",
    },
    "received": {
        "request_info": "intake",
        "redirect": "received",
        "accept": "accepted",
        "decline": "declined",
        "mark_lost": "lost",
        "hold": "on_hold",
        "cancel": "cancelled",
        "mark_error": "entered_in_error",
    },
    "accepted": {
        "decline": "declined",
        "require_auth": "pending_auth",
        "clear": "ready_to_schedule",
        "mark_lost": "lost",
        "hold": "on_hold",
        "cancel": "cancelled",
        "mark_error": "entered_in_error",
    },
    "pending_auth": {
        "authorize": "ready_to_schedule",
        "mark_lost": "lost",
        "hold": "on_hold",
        "cancel": "cancelled",
        "mark_error": "entered_in_error",
    },
    "ready_to_schedule": {
        "require_auth": "pending_auth",
        "schedule": "scheduled",
        "mark_lost": "lost",
        "hold": "on_hold",
        "cancel": "cancelled",
        "mark_error": "entered_in_error",
    },
    "scheduled": {
        "reschedule": "scheduled",
        "no_show": "ready_to_schedule",
        "cancel_appointment": "ready_to_schedule",
        "complete_visit": "visit_completed",
        "hold": "on_hold",
        "cancel": "cancelled",
        "mark_error": "entered_in_error",
    },
    "visit_completed": {
        "close_loop": "closed",
        "hold": "on_hold",
        "cancel": "cancelled",
        "mark_error": "entered_in_error",
    },
    "closed": {"mark_error": "entered_in_error"},
    "declined": {"mark_error": "entered_in_error"},
    "cancelled": {"mark_error": "entered_in_error"},
    "lost": {"reopen": LOST_FROM, "mark_error": "entered_in_error"},
    "on_hold": {"resume": HELD, "cancel": "cancelled", "mark_error": "entered_in_error"},
    "entered_in_error": {},
}

ALL_TRIGGERS = (
    "complete_intake", "request_info", "redirect", "accept", "decline", "require_auth", "clear",
    "authorize", "schedule", "reschedule", "no_show", "cancel_appointment", "complete_visit",
    "close_loop", "mark_lost", "reopen", "hold", "resume", "cancel", "mark_error",
)  # fmt: skip


# Crosswalk (DESIGN.md as revised by the interop work): state -> (Task.status,
# Task.businessStatus step, BSeR code, ServiceRequest.status). Decline and lost leave the
# referrer's order active; only cancel revokes it.
CROSSWALK: Mapping[str, tuple[str, str | None, str | None, str]] = {
    "intake": ("draft", "intake", None, "draft"),
    "received": ("received", "received", "2.0", "active"),
    "accepted": ("accepted", "accepted", "3.0", "active"),
    "pending_auth": ("accepted", "awaiting-authorization", "3.0", "active"),
    "ready_to_schedule": ("ready", "ready-to-schedule", "3.0", "active"),
    "scheduled": ("in-progress", "visit-scheduled", "5.1.1", "active"),
    "visit_completed": ("in-progress", "visit-complete", "5.1.4", "active"),
    "closed": ("completed", "report-sent", "7.0", "completed"),
    "declined": ("rejected", "declined", "4.0", "active"),
    "cancelled": ("cancelled", "cancelled", "6.0", "revoked"),
    "lost": ("failed", "patient-lost", None, "active"),
    "on_hold": ("on-hold", "on-hold", None, "active"),
    "entered_in_error": ("entered-in-error", None, None, "entered-in-error"),
}

ACTIVE = (
    "intake", "received", "accepted", "pending_auth", "ready_to_schedule", "scheduled",
    "visit_completed",
)  # fmt: skip

APPOINTMENT_DAY = date(2026, 3, 20)


def appointment(day: date = APPOINTMENT_DAY) -> Appointment:
    return Appointment(start=datetime(day.year, day.month, day.day, 15, 30, tzinfo=UTC))


VALID_DATA: Mapping[str, Mapping[str, Any] | None] = {
    "complete_intake": None,
    "request_info": {"missing": ["patient.phones"]},
    "redirect": {"specialty": "electrophysiology", "reason": "better fit"},
    "accept": None,
    "decline": {"reason": "no_capacity"},
    "require_auth": None,
    "clear": None,
    "authorize": {"number": "AUTH-1", "valid_from": "2026-03-01", "valid_to": "2026-06-01"},
    "schedule": {"appointment": appointment()},
    "reschedule": {"appointment": appointment(APPOINTMENT_DAY + timedelta(days=1))},
    "no_show": {"reason": "forgot"},
    "cancel_appointment": {"reason": "patient_request"},
    "complete_visit": None,
    "close_loop": {"report_reference": "DocumentReference/1"},
    "mark_lost": {"reason": "unreachable"},
    "reopen": {"reason": "patient called back"},
    "hold": {"reason": "patient travelling"},
    "resume": None,
    "cancel": {"reason": "patient_request"},
    "mark_error": {"reason": "duplicate entry"},
}


def actor_for(trigger: str) -> Actor:
    """A human actor whose role may fire *trigger* (so only state and guards decide)."""
    role = next(r for r in Role if trigger in ROLES[r])
    return Actor(kind=ActorKind.HUMAN, id=f"human-{role.value}", role=role)


def human(role: Role) -> Actor:
    return Actor(kind=ActorKind.HUMAN, id=f"human-{role.value}", role=role)


def in_state(make_referral: Any, state: str, **overrides: Any) -> Referral:
    """A complete referral in *state*, set up so that every guard passes."""
    fields: dict[str, Any] = {
        "status": ReferralStatus(state),
        "version": 3,
        "history_hash": "0" * 64,
        "appointments": (appointment(),) if state == "scheduled" else (),
        "hold_from": ReferralStatus.ACCEPTED if state == "on_hold" else None,
        "lost_from": ReferralStatus.READY_TO_SCHEDULE if state == "lost" else None,
    }
    fields.update(overrides)
    return make_referral(**fields)


def fire(referral: Referral, trigger: str, actor: Actor | None = None, data: Any = "valid") -> Any:
    return shared_lifecycle().fire(
        referral,
        trigger,  # type: ignore[arg-type]
        actor=actor or actor_for(trigger),
        now=NOW,
        data=VALID_DATA[trigger] if data == "valid" else data,
    )


# -- The table --------------------------------------------------------------------------------


def test_table_covers_every_state_and_trigger() -> None:
    assert set(TABLE) == {s.value for s in ReferralStatus}
    assert set(ALL_TRIGGERS) == set(TRIGGERS)


LEGAL = [(s, t) for s in TABLE for t in ALL_TRIGGERS if t in TABLE[s]]
ILLEGAL = [(s, t) for s in TABLE for t in ALL_TRIGGERS if t not in TABLE[s]]


@pytest.mark.parametrize(("state", "trigger"), LEGAL)
def test_legal_transition_moves_to_table_destination(make_referral, state, trigger) -> None:
    referral = in_state(make_referral, state)
    change = fire(referral, trigger)
    expected = TABLE[state][trigger]
    if expected == HELD:
        expected = referral.hold_from.value
    if expected == LOST_FROM:
        expected = referral.lost_from.value
    assert change.referral.status.value == expected
    assert (change.event.from_state.value, change.event.to_state.value) == (state, expected)
    assert change.event.kind == trigger
    assert change.event.seq == change.referral.version == referral.version + 1
    assert change.referral.history_hash == change.event.hash
    assert change.event.prev_hash == referral.history_hash


@pytest.mark.parametrize(("state", "trigger"), ILLEGAL)
def test_illegal_transition_is_refused(make_referral, state, trigger) -> None:
    referral = in_state(make_referral, state)
    with pytest.raises(InvalidTransitionError, match=f"{trigger!r} is not allowed") as info:
        fire(referral, trigger)
    # Not a guard refusal nor a role refusal: the state alone rules it out.
    assert type(info.value) is InvalidTransitionError
    assert (info.value.trigger, info.value.status) == (trigger, state)


@pytest.mark.parametrize("held_from", ACTIVE)
def test_resume_returns_to_the_state_hold_left(make_referral, held_from) -> None:
    referral = in_state(make_referral, held_from)
    held = fire(referral, "hold").referral
    assert held.status is ReferralStatus.ON_HOLD
    assert held.hold_from is ReferralStatus(held_from)
    resumed = fire(held, "resume").referral
    assert resumed.status is ReferralStatus(held_from)
    assert resumed.hold_from is None


def test_resume_without_recorded_state_is_blocked(make_referral) -> None:
    referral = in_state(make_referral, "on_hold", hold_from=None)
    with pytest.raises(TransitionBlockedError, match="resumes_to_held_state") as info:
        fire(referral, "resume")
    assert info.value.guard == "resumes_to_held_state"


@pytest.mark.parametrize(
    "terminal", ["closed", "declined", "cancelled", "lost", "entered_in_error"]
)
def test_terminal_states_only_leave_by_reopen_or_mark_error(terminal) -> None:
    assert set(TABLE[terminal]) <= {"reopen", "mark_error"}
    assert ("reopen" in TABLE[terminal]) == (terminal == "lost")


# -- Errors name state, trigger and what is allowed ------------------------------------------


def test_invalid_transition_names_state_trigger_and_allowed(make_referral) -> None:
    referral = in_state(make_referral, "received")
    clinician = human(Role.CLINICIAN)
    with pytest.raises(InvalidTransitionError, match=r"'schedule'.*'received'") as info:
        fire(referral, "schedule", actor=clinician)
    expected = {t for t in TABLE["received"] if t in ROLES[Role.CLINICIAN]}
    assert set(info.value.allowed) == expected
    for trigger in expected:
        assert trigger in str(info.value)


def test_unknown_trigger_raises_invalid_trigger_error(make_referral) -> None:
    referral = in_state(make_referral, "received")
    # The caller's text is kept on the error but never printed (it may be anything, even PHI).
    with pytest.raises(InvalidTriggerError, match=r"^unknown trigger; known triggers: ") as info:
        shared_lifecycle().fire(
            referral,
            "teleport",  # type: ignore[arg-type]
            actor=human(Role.CLINICIAN),
            now=NOW,
        )
    assert info.value.trigger == "teleport"
    assert "teleport" not in str(info.value)
    assert set(info.value.known) == set(ALL_TRIGGERS)


def test_invalid_trigger_data_raises_trigger_data_error(make_referral) -> None:
    referral = in_state(make_referral, "received")
    with pytest.raises(TriggerDataError, match=r"'decline'.*reason") as info:
        fire(referral, "decline", data={"reason": "bored"})
    assert [e["loc"] for e in info.value.errors()] == [("reason",)]


def test_trigger_data_of_another_trigger_is_refused(make_referral) -> None:
    from referralkit.lifecycle import CancelData

    referral = in_state(make_referral, "received")
    with pytest.raises(TriggerDataError, match="expected DeclineData"):
        fire(referral, "decline", data=CancelData(reason="patient_request"))


def test_unknown_field_in_trigger_data_is_refused(make_referral) -> None:
    referral = in_state(make_referral, "received")
    with pytest.raises(TriggerDataError, match="hold"):
        fire(referral, "hold", data={"reason": "travel", "until": "june"})


# -- Roles ------------------------------------------------------------------------------------


ROLE_REFUSALS = [
    (state, trigger, role)
    for state in TABLE
    for trigger in TABLE[state]
    for role in Role
    if trigger not in ROLES[role]
]


@pytest.mark.parametrize(("state", "trigger", "role"), ROLE_REFUSALS)
def test_role_without_permission_is_refused(make_referral, state, trigger, role) -> None:
    referral = in_state(make_referral, state)
    with pytest.raises(PermissionDeniedError, match=f"role {role.value!r} may not") as info:
        fire(referral, trigger, actor=human(role))
    assert info.value.role == role.value
    assert trigger not in info.value.allowed


@pytest.mark.parametrize("state", list(TABLE))
@pytest.mark.parametrize("role", list(Role))
def test_allowed_triggers_per_role(make_referral, state, role) -> None:
    referral = in_state(make_referral, state)
    expected = {t for t in TABLE[state] if t in ROLES[role]}
    assert set(allowed_triggers(referral, human(role))) == expected


@pytest.mark.parametrize("state", list(TABLE))
def test_allowed_triggers_without_actor_lists_the_state_triggers(make_referral, state) -> None:
    referral = in_state(make_referral, state)
    assert set(allowed_triggers(referral)) == set(TABLE[state])


def test_ai_actor_cannot_be_a_clinician() -> None:
    with pytest.raises(ValidationError, match="AI actor cannot act in the clinician role"):
        Actor(kind=ActorKind.AI, id="ai-receptionist", role=Role.CLINICIAN)


def test_ai_intake_actor_may_not_accept(make_referral) -> None:
    referral = in_state(make_referral, "received")
    ai = Actor(kind=ActorKind.AI, id="ai-receptionist", role=Role.INTAKE)
    with pytest.raises(PermissionDeniedError, match="'intake' may not fire trigger 'accept'"):
        fire(referral, "accept", actor=ai)


# -- Guards -----------------------------------------------------------------------------------


def test_complete_intake_with_missing_fields_is_blocked(make_referral) -> None:
    referral = in_state(make_referral, "intake", specialty=None, reason=None)
    with pytest.raises(TransitionBlockedError, match="intake_complete") as info:
        fire(referral, "complete_intake")
    assert info.value.guard == "intake_complete"
    assert "specialty" in info.value.reason
    assert "reason" in info.value.reason


def test_blocked_transition_is_also_an_invalid_transition(make_referral) -> None:
    referral = in_state(make_referral, "intake", specialty=None)
    with pytest.raises(InvalidTransitionError, match="blocked by guard intake_complete"):
        fire(referral, "complete_intake")


def test_accept_by_system_without_policy_is_blocked(make_referral) -> None:
    referral = in_state(make_referral, "received")
    with pytest.raises(TransitionBlockedError, match="decided_by_human_or_policy") as info:
        fire(referral, "accept", actor=Actor(kind=ActorKind.SYSTEM, id="rk", role=Role.SYSTEM))
    assert info.value.guard == "decided_by_human_or_policy"


def test_accept_by_system_with_auto_accept_policy_succeeds(make_referral) -> None:
    referral = in_state(make_referral, "received")
    system = Actor(kind=ActorKind.SYSTEM, id="referralkit", role=Role.SYSTEM)
    change = fire(referral, "accept", actor=system, data={"policy": "in-network-routine"})
    assert change.referral.status is ReferralStatus.ACCEPTED
    assert change.event.data == {"policy": "in-network-routine"}


def test_accept_by_human_clinician_needs_no_policy(make_referral) -> None:
    referral = in_state(make_referral, "received")
    assert fire(referral, "accept").referral.status is ReferralStatus.ACCEPTED


@pytest.mark.parametrize(
    "status",
    [
        AuthorizationStatus.REQUIRED,
        AuthorizationStatus.SUBMITTED,
        AuthorizationStatus.PENDED,
        AuthorizationStatus.DENIED,
        AuthorizationStatus.EXPIRED,
    ],
)
def test_clear_with_unsettled_authorization_is_blocked(make_referral, status) -> None:
    referral = in_state(make_referral, "accepted", authorization=Authorization(status=status))
    with pytest.raises(TransitionBlockedError, match="authorization_settled") as info:
        fire(referral, "clear")
    assert info.value.reason == f"authorization is {status.value}"


@pytest.mark.parametrize(
    "status",
    [AuthorizationStatus.NOT_REQUIRED, AuthorizationStatus.APPROVED, AuthorizationStatus.MODIFIED],
)
def test_clear_with_settled_authorization_succeeds(make_referral, status) -> None:
    referral = in_state(make_referral, "accepted", authorization=Authorization(status=status))
    assert fire(referral, "clear").referral.status is ReferralStatus.READY_TO_SCHEDULE


def test_require_auth_marks_authorization_required(make_referral) -> None:
    referral = in_state(make_referral, "accepted")
    change = fire(referral, "require_auth")
    assert change.referral.authorization.status is AuthorizationStatus.REQUIRED


def test_authorize_records_number_and_validity(make_referral) -> None:
    referral = in_state(
        make_referral,
        "pending_auth",
        authorization=Authorization(status=AuthorizationStatus.REQUIRED),
    )
    auth = fire(referral, "authorize").referral.authorization
    assert auth.status is AuthorizationStatus.APPROVED
    assert (auth.number, auth.valid_from, auth.valid_to) == (
        "AUTH-1",
        date(2026, 3, 1),
        date(2026, 6, 1),
    )


def test_authorize_with_dates_out_of_order_is_refused(make_referral) -> None:
    referral = in_state(make_referral, "pending_auth")
    data = {"number": "AUTH-1", "valid_from": "2026-06-01", "valid_to": "2026-03-01"}
    with pytest.raises(TriggerDataError, match="valid_to is before valid_from"):
        fire(referral, "authorize", data=data)


def approved(valid_from: date, valid_to: date, visits: int | None = None, used: int = 0) -> Any:
    return Authorization(
        status=AuthorizationStatus.APPROVED,
        number="AUTH-1",
        valid_from=valid_from,
        valid_to=valid_to,
        authorized_visits=visits,
        used_visits=used,
    )


@pytest.mark.parametrize("day", [date(2026, 3, 1), date(2026, 3, 20), date(2026, 4, 30)], ids=str)
def test_schedule_within_authorization_validity_succeeds(make_referral, day) -> None:
    auth = approved(date(2026, 3, 1), date(2026, 4, 30))
    referral = in_state(make_referral, "ready_to_schedule", authorization=auth)
    change = fire(referral, "schedule", data={"appointment": appointment(day)})
    assert change.referral.status is ReferralStatus.SCHEDULED
    assert change.referral.current_appointment.start.date() == day


@pytest.mark.parametrize("day", [date(2026, 2, 28), date(2026, 5, 1)], ids=str)
def test_schedule_outside_authorization_validity_is_blocked(make_referral, day) -> None:
    auth = approved(date(2026, 3, 1), date(2026, 4, 30))
    referral = in_state(make_referral, "ready_to_schedule", authorization=auth)
    with pytest.raises(
        TransitionBlockedError, match=f"authorization_covers_appointment.*{day.isoformat()}"
    ) as info:
        fire(referral, "schedule", data={"appointment": appointment(day)})
    assert info.value.guard == "authorization_covers_appointment"


def test_schedule_on_last_valid_day_in_the_evening_local_time_succeeds(make_referral) -> None:
    auth = approved(date(2026, 3, 1), date(2026, 4, 30))
    patient = make_referral().patient.model_copy(update={"time_zone": "America/Los_Angeles"})
    referral = in_state(make_referral, "ready_to_schedule", authorization=auth, patient=patient)
    evening = datetime(2026, 4, 30, 17, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    change = fire(referral, "schedule", data={"appointment": Appointment(start=evening)})
    assert change.referral.status is ReferralStatus.SCHEDULED


def test_schedule_with_authorized_visits_used_up_is_blocked(make_referral) -> None:
    auth = approved(date(2026, 3, 1), date(2026, 4, 30), visits=1, used=1)
    referral = in_state(make_referral, "ready_to_schedule", authorization=auth)
    with pytest.raises(TransitionBlockedError, match="authorization_covers_appointment"):
        fire(referral, "schedule")


@pytest.mark.parametrize(
    "status",
    [AuthorizationStatus.REQUIRED, AuthorizationStatus.DENIED, AuthorizationStatus.EXPIRED],
)
def test_schedule_with_unapproved_authorization_is_blocked(make_referral, status) -> None:
    referral = in_state(
        make_referral, "ready_to_schedule", authorization=Authorization(status=status)
    )
    with pytest.raises(TransitionBlockedError, match="authorization_covers_appointment"):
        fire(referral, "schedule")


def test_reschedule_outside_authorization_is_blocked(make_referral) -> None:
    auth = approved(date(2026, 3, 1), date(2026, 3, 20))
    referral = in_state(make_referral, "scheduled", authorization=auth)
    late = {"appointment": appointment(date(2026, 3, 21))}
    with pytest.raises(TransitionBlockedError, match="authorization_covers_appointment"):
        fire(referral, "reschedule", data=late)


def test_reschedule_cancels_the_old_appointment_and_books_the_new(make_referral) -> None:
    referral = in_state(make_referral, "scheduled")
    change = fire(referral, "reschedule")
    old, new = change.referral.appointments
    assert old.status is AppointmentStatus.CANCELLED
    assert new.status is AppointmentStatus.BOOKED
    assert change.referral.current_appointment == new


@pytest.mark.parametrize("trigger", ["no_show", "cancel_appointment", "complete_visit"])
def test_appointment_trigger_without_booked_appointment_is_blocked(make_referral, trigger) -> None:
    referral = in_state(make_referral, "scheduled", appointments=())
    with pytest.raises(TransitionBlockedError, match="has_booked_appointment"):
        fire(referral, trigger)


def test_complete_visit_counts_an_authorized_visit(make_referral) -> None:
    auth = approved(date(2026, 3, 1), date(2026, 4, 30), visits=2)
    referral = in_state(make_referral, "scheduled", authorization=auth)
    change = fire(referral, "complete_visit")
    assert change.referral.authorization.used_visits == 1
    assert change.referral.appointments[0].status is AppointmentStatus.COMPLETED


def test_no_show_returns_to_ready_to_schedule_with_reason(make_referral) -> None:
    referral = in_state(make_referral, "scheduled")
    change = fire(referral, "no_show", data={"reason": "transportation"})
    assert change.referral.status is ReferralStatus.READY_TO_SCHEDULE
    assert change.referral.appointments[0].status is AppointmentStatus.NO_SHOW
    assert change.referral.current_appointment is None


def test_request_info_sends_back_to_intake_with_missing_paths(make_referral) -> None:
    referral = in_state(make_referral, "received")
    change = fire(referral, "request_info", data={"missing": ["patient.birth_date"]})
    assert change.referral.status is ReferralStatus.INTAKE
    assert change.event.data == {"missing": ["patient.birth_date"]}


def test_request_info_needs_the_missing_fields(make_referral) -> None:
    referral = in_state(make_referral, "received")
    with pytest.raises(TriggerDataError, match="missing"):
        fire(referral, "request_info", data={"missing": []})


def test_redirect_changes_specialty_and_stays_received(make_referral) -> None:
    referral = in_state(make_referral, "received")
    change = fire(referral, "redirect")
    assert change.referral.status is ReferralStatus.RECEIVED
    assert change.referral.specialty == "electrophysiology"
    assert change.referral.status_reason.kind == "redirect"


def test_redirect_without_a_target_is_refused(make_referral) -> None:
    referral = in_state(make_referral, "received")
    with pytest.raises(TriggerDataError, match="new specialty or receiving practice"):
        fire(referral, "redirect", data={"reason": "wrong place"})


@pytest.mark.parametrize(
    ("trigger", "kind", "code"),
    [
        ("decline", "decline", "no_capacity"),
        ("cancel", "cancel", "patient_request"),
        ("mark_lost", "lost", "unreachable"),
    ],
)
def test_terminal_trigger_records_coded_reason(make_referral, trigger, kind, code) -> None:
    state = "received"
    change = fire(in_state(make_referral, state), trigger)
    assert (change.referral.status_reason.kind, change.referral.status_reason.code) == (kind, code)


def test_schedule_the_evening_before_validity_local_time_is_blocked(make_referral) -> None:
    auth = approved(date(2026, 3, 1), date(2026, 4, 30))
    patient = make_referral().patient.model_copy(update={"time_zone": "America/Los_Angeles"})
    referral = in_state(make_referral, "ready_to_schedule", authorization=auth, patient=patient)
    evening = datetime(2026, 2, 28, 17, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    with pytest.raises(TransitionBlockedError, match="2026-02-28"):
        fire(referral, "schedule", data={"appointment": Appointment(start=evening)})


@pytest.mark.parametrize(
    "lost_in", ["intake", "received", "accepted", "pending_auth", "ready_to_schedule"]
)
def test_reopen_returns_to_the_state_it_was_lost_from(make_referral, lost_in) -> None:
    lost = fire(in_state(make_referral, lost_in), "mark_lost").referral
    assert lost.lost_from is ReferralStatus(lost_in)
    change = fire(lost, "reopen")
    assert change.referral.status is ReferralStatus(lost_in)
    assert change.referral.lost_from is None
    assert change.referral.status_reason.kind == "reopen"


@pytest.mark.parametrize("trigger", ["cancel", "mark_error"])
def test_leaving_hold_for_a_terminal_state_forgets_the_held_state(make_referral, trigger) -> None:
    change = fire(in_state(make_referral, "on_hold"), trigger)
    assert change.referral.hold_from is None


def test_a_referral_entered_in_error_takes_no_amendments(make_referral) -> None:
    from referralkit.lifecycle import amended

    void = in_state(make_referral, "entered_in_error")
    with pytest.raises(InvalidTransitionError, match="void"):
        amended(void, "note_added", actor=actor_for("hold"), now=NOW, update={})


def test_cancel_cancels_booked_appointments(make_referral) -> None:
    referral = in_state(make_referral, "scheduled")
    change = fire(referral, "cancel")
    assert [a.status for a in change.referral.appointments] == [AppointmentStatus.CANCELLED]


def test_fire_does_not_change_the_referral_it_was_given(make_referral) -> None:
    referral = in_state(make_referral, "received")
    before = referral.model_dump()
    fire(referral, "accept")
    assert referral.model_dump() == before


def test_lifecycle_instances_agree_with_the_shared_one(make_referral) -> None:
    referral = in_state(make_referral, "received")
    change = Lifecycle().fire(referral, "accept", actor=human(Role.CLINICIAN), now=NOW)
    assert change.referral == fire(referral, "accept").referral


# -- Creation ---------------------------------------------------------------------------------


def test_created_in_received_requires_complete_intake(make_referral) -> None:
    referral = make_referral(patient=None)
    with pytest.raises(TransitionBlockedError, match="intake_complete") as info:
        created(referral, human(Role.REFERRER), NOW)
    assert info.value.trigger == "create"


@pytest.mark.parametrize("state", [s for s in TABLE if s not in ("intake", "received")])
def test_created_in_a_later_state_is_refused(make_referral, state) -> None:
    referral = make_referral(status=ReferralStatus(state))
    with pytest.raises(InvalidTransitionError, match="starts in intake or received"):
        created(referral, human(Role.REFERRER), NOW)


def test_created_stamps_version_one_and_genesis_event(make_referral) -> None:
    change = created(make_referral(), human(Role.REFERRER), NOW)
    assert change.referral.version == 1
    assert change.event.seq == 1
    assert change.event.prev_hash == ""
    assert (change.event.kind, change.event.from_state) == ("created", None)
    assert change.referral.history_hash == change.event.hash


# -- Crosswalk --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(CROSSWALK))
def test_crosswalk_matches_design_table(state) -> None:
    codes = crosswalk(ReferralStatus(state))
    business = codes.business_status
    assert (
        codes.task_status,
        codes.task_business_status,
        None if business is None else business.bser,
        codes.service_request_status,
    ) == CROSSWALK[state]
