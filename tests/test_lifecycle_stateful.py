"""Random trigger sequences through :class:`ReferralDesk`, against a reference model.

The reference model below is written from DESIGN.md, independently of ``referralkit.lifecycle``.
Each step fires a random trigger (known or not) as a random actor with valid or invalid data,
and checks that the desk accepted exactly what the model accepts, refused the rest with the
right error, wrote exactly one event per accepted change, and that the history verifies.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from referralkit import (
    Actor,
    ActorKind,
    Appointment,
    ConflictError,
    InvalidTransitionError,
    InvalidTriggerError,
    ManualClock,
    MemoryStore,
    Patient,
    PermissionDeniedError,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
    SQLiteStore,
    Store,
    TransitionBlockedError,
    TriggerDataError,
    verify_history,
)
from tests.support.lifecycle_reference import ROLES

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

# -- Reference model: state -> {trigger: destination}; "HELD" = the state hold left, --------
# -- "LOST_FROM" = the state mark_lost left --------------------------------------------------
_ACTIVE = ("intake", "received", "accepted", "pending_auth", "ready_to_schedule", "scheduled",
           "visit_completed")  # fmt: skip
_TERMINAL = ("closed", "declined", "cancelled", "lost", "entered_in_error")
_ANY_ACTIVE = {"hold": "on_hold", "cancel": "cancelled", "mark_error": "entered_in_error"}
_LOSABLE = {"mark_lost": "lost"}
TABLE: Mapping[str, Mapping[str, str]] = {
    "intake": {"complete_intake": "received", **_LOSABLE, **_ANY_ACTIVE},
    "received": {"request_info": "intake", "redirect": "received", "accept": "accepted",
                 "decline": "declined", **_LOSABLE, **_ANY_ACTIVE},
    "accepted": {"decline": "declined", "require_auth": "pending_auth",
                 "clear": "ready_to_schedule", **_LOSABLE, **_ANY_ACTIVE},
    "pending_auth": {"authorize": "ready_to_schedule", **_LOSABLE, **_ANY_ACTIVE},
    "ready_to_schedule": {"require_auth": "pending_auth", "schedule": "scheduled", **_LOSABLE,
                          **_ANY_ACTIVE},
    "scheduled": {"reschedule": "scheduled", "no_show": "ready_to_schedule",
                  "cancel_appointment": "ready_to_schedule",
                  "complete_visit": "visit_completed", **_ANY_ACTIVE},
    "visit_completed": {"close_loop": "closed", **_ANY_ACTIVE},
    "closed": {"mark_error": "entered_in_error"},
    "declined": {"mark_error": "entered_in_error"},
    "cancelled": {"mark_error": "entered_in_error"},
    "lost": {"reopen": "LOST_FROM", "mark_error": "entered_in_error"},
    "on_hold": {"resume": "HELD", "cancel": "cancelled", "mark_error": "entered_in_error"},
    "entered_in_error": {},
}  # fmt: skip
_PROGRESS = frozenset({
    "complete_intake", "accept", "require_auth", "clear", "authorize", "schedule", "no_show",
    "complete_visit", "close_loop", "reopen", "resume",
})  # fmt: skip
"""The happy path (and back onto it): steered steps prefer these, to reach deep states."""
TRIGGERS = tuple(sorted({t for moves in TABLE.values() for t in moves}))


ACTORS = [
    Actor(kind=kind, id=f"{kind.value}-{role.value}", role=role)
    for kind in ActorKind
    for role in Role
    if not (kind is ActorKind.AI and role is Role.CLINICIAN)
]


@attrs.define
class Model:
    """What the reference model tracks about the one referral under test."""

    status: str
    complete: bool
    auth: str = "not_required"  # not_required | required | approved
    valid_from: date | None = None
    valid_to: date | None = None
    visits: int | None = None
    used: int = 0
    booked: bool = False
    held_from: str | None = None
    lost_from: str | None = None
    events: int = 1

    def covers(self, day: date) -> bool:
        if self.auth == "not_required":
            return True
        if self.auth != "approved":
            return False
        assert self.valid_from is not None
        assert self.valid_to is not None
        in_window = self.valid_from <= day <= self.valid_to
        return in_window and (self.visits is None or self.used < self.visits)


@attrs.frozen
class Step:
    """One attempted trigger and the data drawn for it."""

    trigger: str
    actor: Actor
    valid: bool
    policy: bool
    day: int
    window: tuple[int, int]
    visits: int | None


def payload(step: Step, now: datetime) -> Mapping[str, Any] | None:
    """Build the trigger's data: valid, or refused by validation (an unexpected field)."""
    if not step.valid:
        return {"unexpected": "field"}
    start = (now + timedelta(days=step.day)).replace(hour=12, minute=0)
    valid_from = now.date() + timedelta(days=step.window[0])
    match step.trigger:
        case "request_info":
            return {"missing": ["patient.phones"]}
        case "redirect":
            return {"specialty": "electrophysiology", "reason": "better fit"}
        case "accept":
            return {"policy": "auto-accept"} if step.policy else None
        case "decline":
            return {"reason": "no_capacity"}
        case "authorize":
            return {
                "number": "AUTH-1",
                "valid_from": valid_from.isoformat(),
                "valid_to": (valid_from + timedelta(days=step.window[1])).isoformat(),
                "authorized_visits": step.visits,
            }
        case "schedule" | "reschedule":
            return {"appointment": Appointment(start=start)}
        case "no_show":
            return {"reason": "forgot"}
        case "cancel_appointment" | "cancel":
            return {"reason": "patient_request"}
        case "close_loop":
            return {"report_reference": "DocumentReference/1"}
        case "mark_lost":
            return {"reason": "unreachable"}
        case "reopen" | "hold" | "mark_error":
            return {"reason": "because"}
        case _:
            return None


def expected_outcome(model: Model, step: Step, now: datetime) -> type[Exception] | str:
    """Return the destination state, or the error the desk must raise."""
    moves = TABLE[model.status]
    if step.trigger not in TRIGGERS:
        return InvalidTriggerError
    if step.trigger not in moves:
        return InvalidTransitionError
    if step.trigger not in ROLES[step.actor.role]:
        return PermissionDeniedError
    if not step.valid:
        return TriggerDataError
    day = (now + timedelta(days=step.day)).date()
    blocked = {
        "complete_intake": not model.complete,
        "accept": step.actor.kind is not ActorKind.HUMAN and not step.policy,
        "clear": model.auth not in ("not_required", "approved"),
        "schedule": not model.covers(day),
        "reschedule": not model.covers(day),
        "no_show": not model.booked,
        "cancel_appointment": not model.booked,
        "complete_visit": not model.booked,
    }
    if blocked.get(step.trigger, False):
        return TransitionBlockedError
    destination = moves[step.trigger]
    if destination == "HELD":
        assert model.held_from is not None
        return model.held_from
    if destination == "LOST_FROM":
        assert model.lost_from is not None
        return model.lost_from
    return destination


def apply(model: Model, step: Step, destination: str, now: datetime) -> None:
    """Apply the side effects the reference model tracks."""
    source = model.status
    match step.trigger:
        case "require_auth" if model.auth == "not_required":
            model.auth = "required"
        case "authorize":
            model.auth = "approved"
            model.valid_from = now.date() + timedelta(days=step.window[0])
            model.valid_to = model.valid_from + timedelta(days=step.window[1])
            model.visits = step.visits
        case "schedule" | "reschedule":
            model.booked = True
        case "no_show" | "cancel_appointment" | "cancel":
            model.booked = False
        case "complete_visit":
            model.booked = False
            if model.auth != "not_required":
                model.used += 1
        case "hold":
            model.held_from = source
        case "resume":
            model.held_from = None
        case "mark_lost":
            model.lost_from = source
        case "reopen":
            model.lost_from = None
    if step.trigger in ("cancel", "mark_error"):
        model.held_from = None
    if step.trigger == "mark_error":
        model.lost_from = None
    model.status = destination
    model.events += 1


def intake_ready_patient() -> Patient:
    return Patient(
        given_name="Model",
        family_name="Patient",
        birth_date=date(1980, 5, 17),
        phones=(PhoneContact(number="+15555550188"),),
    )


steps = st.builds(
    Step,
    trigger=st.sampled_from([*TRIGGERS, "teleport"]),
    actor=st.sampled_from(ACTORS),
    valid=st.sampled_from([True, True, True, False]),
    policy=st.booleans(),
    day=st.integers(min_value=0, max_value=30),
    window=st.tuples(st.integers(0, 10), st.integers(0, 60)),
    visits=st.none() | st.integers(1, 3),
)


class LifecycleMachine(RuleBasedStateMachine):
    """Drive one referral through random triggers on a desk; compare with :class:`Model`."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(T0)
        self.desk = ReferralDesk(store=self.make_store(), clock=self.clock)
        self.model: Model | None = None
        self.referral_id: Any = None

    def make_store(self) -> Store:
        return MemoryStore()

    def teardown(self) -> None:
        self.desk.close()

    @initialize(start=st.sampled_from(["intake", "received"]), complete=st.booleans())
    def create(self, start: str, complete: bool) -> None:
        complete = complete or start == "received"
        referral = Referral(
            status=ReferralStatus(start),
            patient=intake_ready_patient() if complete else None,
            referring_practice=Practice(name="Referring Practice"),
            specialty="cardiology",
            reason=ReasonForReferral(text="palpitations"),
        )
        stored = self.desk.create(referral, actor=ACTORS[0])
        self.referral_id = stored.id
        self.model = Model(status=start, complete=complete)

    @rule(step=steps, hours=st.integers(min_value=0, max_value=72))
    def fire(self, step: Step, hours: int) -> None:
        assert self.model is not None
        now = self.clock.advance(hours=hours)
        before = self.desk.get(self.referral_id)
        expected = expected_outcome(self.model, step, now)
        data = payload(step, now)
        if isinstance(expected, str):
            after = self.desk.fire(
                self.referral_id,
                step.trigger,  # type: ignore[arg-type]
                actor=step.actor,
                data=data,
            )
            assert after.status.value == expected
            if self.model.status in _TERMINAL:
                # Terminal states are absorbing, except reopen (from lost) and mark_error.
                assert step.trigger == "mark_error" or (
                    step.trigger == "reopen" and self.model.status == "lost"
                )
            apply(self.model, step, expected, now)
            last = self.desk.history(self.referral_id)[-1]
            assert (last.kind, last.seq, last.actor) == (step.trigger, after.version, step.actor)
            assert (last.from_state, last.to_state) == (before.status, after.status)
        else:
            with pytest.raises(expected) as info:
                self.desk.fire(
                    self.referral_id,
                    step.trigger,  # type: ignore[arg-type]
                    actor=step.actor,
                    data=data,
                )
            # Subclasses of InvalidTransitionError must not stand in for one another.
            assert type(info.value) is expected
            assert self.desk.get(self.referral_id) == before

    @precondition(lambda self: self.model is not None and TABLE[self.model.status])
    @rule(data=st.data(), hours=st.integers(min_value=0, max_value=72))
    def fire_a_trigger_the_state_allows(self, data: st.DataObject, hours: int) -> None:
        """Steer towards legal moves (random ones are mostly refused); prefer progress."""
        assert self.model is not None
        moves = TABLE[self.model.status]
        onward = sorted(t for t in moves if t in _PROGRESS)
        pool = onward if onward and data.draw(st.integers(0, 3)) else sorted(moves)
        trigger = data.draw(st.sampled_from(pool))
        permitted = [a for a in ACTORS if trigger in ROLES[a.role]]
        step = data.draw(steps.map(lambda s: attrs.evolve(s, trigger=trigger)))
        if data.draw(st.integers(0, 4)):
            step = attrs.evolve(step, actor=data.draw(st.sampled_from(permitted)), valid=True)
        self.fire(step, hours)

    # Hypothesis picks rules uniformly: a second entry point doubles the share of legal moves.
    @precondition(lambda self: self.model is not None and TABLE[self.model.status])
    @rule(data=st.data(), hours=st.integers(min_value=0, max_value=72))
    def fire_another_trigger_the_state_allows(self, data: st.DataObject, hours: int) -> None:
        self.fire_a_trigger_the_state_allows(data, hours)

    @rule(kind=st.sampled_from(["interaction_logged", "task_opened"]))
    def amend(self, kind: str) -> None:
        """A non-transition change adds one event and leaves the status alone."""
        assert self.model is not None
        if self.model.status == "entered_in_error":
            # A void referral takes no amendments, and nothing is written.
            before = self.desk.get(self.referral_id)
            with pytest.raises(InvalidTransitionError, match="void"):
                self.desk.amend(self.referral_id, kind, actor=ACTORS[1], update={"flags": (kind,)})
            assert self.desk.get(self.referral_id) == before
            return
        after = self.desk.amend(self.referral_id, kind, actor=ACTORS[1], update={"flags": (kind,)})
        assert after.status.value == self.model.status
        self.model.events += 1

    @precondition(lambda self: self.model is not None)
    @rule()
    def stale_write_is_refused(self) -> None:
        assert self.model is not None
        current = self.desk.get(self.referral_id)
        with pytest.raises(ConflictError, match="changed concurrently"):
            self.desk.amend(
                self.referral_id,
                "note_added",
                actor=ACTORS[1],
                update={"flags": ("stale",)},
                expected_version=current.version - 1,
            )
        assert self.desk.get(self.referral_id) == current

    @invariant()
    def store_agrees_with_model(self) -> None:
        if self.model is None:
            return
        referral = self.desk.get(self.referral_id)
        assert referral.status.value == self.model.status
        assert referral.version == self.model.events
        assert (referral.hold_from.value if referral.hold_from else None) == self.model.held_from
        assert (referral.current_appointment is not None) == self.model.booked

    @invariant()
    def history_verifies(self) -> None:
        if self.model is None:
            return
        referral = self.desk.get(self.referral_id)
        events = self.desk.history(self.referral_id)
        assert len(events) == self.model.events
        verify_history(
            events, expected_count=referral.version, expected_head=referral.history_hash
        )
        self.desk.verify(self.referral_id)


class SQLiteLifecycleMachine(LifecycleMachine):
    """The same machine on a SQLite file in a temporary directory."""

    def make_store(self) -> Store:
        self.tmp = Path(tempfile.mkdtemp(prefix="referralkit-stateful-"))
        return SQLiteStore(self.tmp / "stateful.db")

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.tmp, ignore_errors=True)


TestLifecycleOnMemoryStore = LifecycleMachine.TestCase
TestLifecycleOnMemoryStore.settings = settings(
    settings.default,
    max_examples=settings.default.max_examples * 3 // 2,
    stateful_step_count=max(settings.default.stateful_step_count, 40),
)

TestLifecycleOnSQLiteStore = SQLiteLifecycleMachine.TestCase
TestLifecycleOnSQLiteStore.settings = settings(
    settings.default,
    max_examples=max(5, settings.default.max_examples // 4),
    stateful_step_count=25,
)
