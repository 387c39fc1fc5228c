"""The compiled dispatch table against the ``transitions`` machine it is compiled from.

:meth:`Lifecycle.fire` dispatches through a table read out of the machine at start-up;
:meth:`Lifecycle.fire_with_machine` fires the machine itself. These tests prove the two give the
same referral, the same event (and hash) and the same error, for every state, trigger, role and
guard outcome, and along random trigger sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from transitions import Machine

from referralkit.errors import ReferralKitError
from referralkit.events import Event, verify_history
from referralkit.lifecycle import TRIGGERS, Change, Lifecycle, created, shared_lifecycle
from referralkit.lifecycle.machine import compile_machine
from referralkit.model import (
    Actor,
    ActorKind,
    Appointment,
    Authorization,
    AuthorizationStatus,
    Referral,
    ReferralStatus,
    Role,
)
from tests.support.builders import complete_referral

S = ReferralStatus
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ACTORS = [
    *(Actor(kind=ActorKind.HUMAN, id=f"human-{role.value}", role=role) for role in Role),
    Actor(kind=ActorKind.SYSTEM, id="system", role=Role.SYSTEM),
    Actor(kind=ActorKind.AI, id="ai", role=Role.INTAKE),
]
_OPEN = (S.INTAKE, S.RECEIVED, S.ACCEPTED, S.PENDING_AUTH, S.READY_TO_SCHEDULE, S.SCHEDULED,
         S.VISIT_COMPLETED)  # fmt: skip
_LOSABLE = (S.INTAKE, S.RECEIVED, S.ACCEPTED, S.PENDING_AUTH, S.READY_TO_SCHEDULE)


def _approved(start: date, end: date) -> Authorization:
    return Authorization(
        status=AuthorizationStatus.APPROVED, number="A-1", valid_from=start, valid_to=end
    )


# Every guard reads one of these facts; together the variants drive each guard both ways.
VARIANTS: Mapping[str, dict[str, Any]] = {
    "complete": {},
    "incomplete": {"patient": None},
    "auth_required": {"authorization": Authorization(status=AuthorizationStatus.REQUIRED)},
    "auth_covers": {"authorization": _approved(date(2026, 3, 1), date(2026, 6, 1))},
    "auth_lapsed": {"authorization": _approved(date(2025, 1, 1), date(2025, 2, 1))},
    "booked": {"appointments": (Appointment(start=T0 + timedelta(days=3)),)},
    **{f"held_from_{s.value}": {"hold_from": s} for s in _OPEN},
    **{f"lost_from_{s.value}": {"lost_from": s} for s in _LOSABLE},
}


def _data(trigger: str) -> Iterator[Mapping[str, Any] | None]:
    """Valid data for *trigger*; two kinds where the data decides a guard."""
    soon = {"appointment": Appointment(start=T0 + timedelta(days=5))}
    late = {"appointment": Appointment(start=T0 + timedelta(days=400))}
    match trigger:
        case "accept":
            yield None
            yield {"policy": "auto-accept cardiology"}
        case "schedule" | "reschedule":
            yield soon
            yield late
        case "request_info":
            yield {"missing": ["patient.phones"]}
        case "redirect":
            yield {"reason": "better fit", "specialty": "electrophysiology"}
        case "decline":
            yield {"reason": "no_capacity"}
        case "authorize":
            yield {"number": "A-2", "valid_from": "2026-03-01", "valid_to": "2026-09-01"}
        case "no_show":
            yield {"reason": "forgot"}
        case "cancel_appointment" | "cancel":
            yield {"reason": "patient_request"}
        case "close_loop":
            yield {"report_reference": "DocumentReference/1"}
        case "mark_lost":
            yield {"reason": "unreachable"}
        case "reopen" | "hold" | "mark_error":
            yield {"reason": "because"}
        case _:
            yield None


def _referral(status: ReferralStatus, variant: str) -> Referral:
    change = created(complete_referral(), ACTORS[0], T0)
    return change.referral.model_copy(update={"status": status, **VARIANTS[variant]})


def _outcome(fire: Callable[..., Change], referral: Referral, trigger: str, actor: Actor,
             data: Mapping[str, Any] | None) -> tuple[Any, ...]:  # fmt: skip
    try:
        change = fire(referral, trigger, actor=actor, now=T0 + timedelta(hours=1), data=data)
    except ReferralKitError as exc:
        return ("error", type(exc), str(exc), vars(exc))
    return ("moved", change.referral, change.event, change.event.hash)


def test_table_is_read_from_the_machine() -> None:
    lifecycle = shared_lifecycle()
    machine = lifecycle.machine
    expected = {
        (machine.get_state(source).value, trigger): [
            (machine.get_state(t.dest).value, [(c.func, c.target) for c in t.conditions])
            for t in candidates
        ]
        for trigger, event in machine.events.items()
        for source, candidates in event.transitions.items()
    }
    compiled = {
        key: [(route.dest, list(route.guards)) for route in routes]
        for key, routes in lifecycle.table.items()
    }
    assert compiled == expected
    assert {trigger for _, trigger in compiled} == set(TRIGGERS)


def test_a_machine_with_callbacks_is_not_compiled() -> None:
    machine = Machine(
        model=None,
        states=S,
        transitions=[
            {"trigger": "go", "source": S.INTAKE, "dest": S.RECEIVED, "after": lambda e: None}
        ],
        initial=S.INTAKE,
        auto_transitions=False,
        send_event=True,
    )
    with pytest.raises(RuntimeError, match="go callbacks"):
        compile_machine(machine)


def test_a_guard_named_by_string_is_not_compiled() -> None:
    machine = Machine(
        model=None,
        states=S,
        transitions=[
            {"trigger": "go", "source": S.INTAKE, "dest": S.RECEIVED, "conditions": "ready"}
        ],
        initial=S.INTAKE,
        auto_transitions=False,
        send_event=True,
    )
    with pytest.raises(RuntimeError, match="guard named 'ready'"):
        compile_machine(machine)


@pytest.mark.parametrize("status", list(S), ids=lambda s: s.value)
def test_every_state_trigger_role_and_guard_outcome_agrees(status: ReferralStatus) -> None:
    lifecycle = Lifecycle()
    moved = 0
    for variant in VARIANTS:
        referral = _referral(status, variant)
        for trigger in (*TRIGGERS, "not_a_trigger"):
            for actor in ACTORS:
                for data in _data(trigger):
                    compiled = _outcome(lifecycle.fire, referral, trigger, actor, data)
                    reference = _outcome(
                        lifecycle.fire_with_machine, referral, trigger, actor, data
                    )
                    assert compiled == reference, (variant, trigger, actor.role, data)
                    moved += compiled[0] == "moved"
    # The sweep is not vacuous: something moves from every state but the void one.
    assert moved > 0 or status is S.ENTERED_IN_ERROR


def test_every_guard_is_seen_both_ways() -> None:
    lifecycle = Lifecycle()
    outcomes: dict[str, set[bool]] = {}
    for status in S:
        for variant in VARIANTS:
            referral = _referral(status, variant)
            for trigger in TRIGGERS:
                for actor in ACTORS:
                    for data in _data(trigger):
                        kind, *rest = _outcome(lifecycle.fire, referral, trigger, actor, data)
                        if kind == "error" and rest[0].__name__ == "TransitionBlockedError":
                            outcomes.setdefault(rest[2]["guard"], set()).add(False)
                        elif kind == "moved":
                            for route in lifecycle.table[(status, trigger)]:
                                for guard, _ in route.guards:
                                    outcomes.setdefault(guard.__name__, set()).add(True)
    refused = {name for name, seen in outcomes.items() if False in seen}
    assert refused >= {
        "intake_complete",
        "decided_by_human_or_policy",
        "authorization_settled",
        "authorization_covers_appointment",
        "has_booked_appointment",
        "resumes_to_held_state",
        "reopens_to_state_lost_from",
    }


@st.composite
def _steps(draw: st.DrawFn) -> tuple[str, Actor, Mapping[str, Any] | None]:
    trigger = draw(st.sampled_from(TRIGGERS))
    actor = draw(st.sampled_from(ACTORS))
    data = draw(st.sampled_from(list(_data(trigger))))
    return trigger, actor, data


class BothPaths(RuleBasedStateMachine):
    """Fire random triggers through both paths on one referral; they never differ."""

    def __init__(self) -> None:
        super().__init__()
        self.lifecycle = Lifecycle()
        first = created(complete_referral(status=S.INTAKE), ACTORS[0], T0)
        self.referral = first.referral
        self.events: list[Event] = [first.event]
        self.now = T0

    @rule(step=_steps(), minutes=st.integers(min_value=0, max_value=10_000))
    def fire(self, step: tuple[str, Actor, Mapping[str, Any] | None], minutes: int) -> None:
        trigger, actor, data = step
        self.now += timedelta(minutes=minutes)
        outcomes = []
        for fire in (self.lifecycle.fire, self.lifecycle.fire_with_machine):
            try:
                change = fire(self.referral, trigger, actor=actor, now=self.now, data=data)
            except ReferralKitError as exc:
                outcomes.append((type(exc), str(exc), vars(exc)))
            else:
                outcomes.append((change.referral, change.event, change.event.hash))
        assert outcomes[0] == outcomes[1]
        if isinstance(outcomes[0][0], Referral):
            self.referral = outcomes[0][0]
            self.events.append(outcomes[0][1])

    @invariant()
    def history_verifies(self) -> None:
        verify_history(
            self.events,
            expected_count=self.referral.version,
            expected_head=self.referral.history_hash,
        )


TestBothPaths = BothPaths.TestCase
TestBothPaths.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
