"""A routing sweep that reads only what is due decides exactly what evaluating every referral does.

Two desks take the same referrals, the same changes and the same sweeps at the same instants:
one on a store that indexes ``next_routing_at`` (the sweep reads only due referrals), the other
on a store without that index (the sweep evaluates every open referral, as before). Their event
logs must stay identical, decision for decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referralkit import ManualClock, MemoryStore, ReferralDesk, SQLiteStore
from referralkit.errors import ReferralKitError
from referralkit.events import Event
from referralkit.model import (
    Actor,
    ActorKind,
    Appointment,
    Priority,
    RecordsRequest,
    Referral,
    ReferralStatus,
    Role,
)
from referralkit.store import RoutingStore, Store
from tests.support.builders import complete_referral

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched", role=Role.SCHEDULER)
INTAKE = Actor(kind=ActorKind.HUMAN, id="intake", role=Role.INTAKE)


@attrs.define
class PlainStore:
    """A store without the routing index: the desk falls back to evaluating every referral."""

    inner: MemoryStore = attrs.field(factory=MemoryStore)

    def create(self, referral: Referral, events: Any) -> None:
        self.inner.create(referral, events)

    def create_many(self, items: Any, *, batch_size: int = 1000) -> int:
        return self.inner.create_many(items, batch_size=batch_size)

    def save(self, referral: Referral, events: Any, *, expected_version: int) -> None:
        self.inner.save(referral, events, expected_version=expected_version)

    def get(self, referral_id: UUID) -> Referral:
        return self.inner.get(referral_id)

    def events(self, referral_id: UUID) -> list[Event]:
        return self.inner.events(referral_id)

    def list_by_status(
        self, statuses: Sequence[ReferralStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        return self.inner.list_by_status(statuses, limit=limit, after=after)

    def due(self, now: datetime, *, limit: int = 100, after: Any = None) -> list[Referral]:
        return self.inner.due(now, limit=limit, after=after)

    def count_by_status(self) -> dict[ReferralStatus, int]:
        return self.inner.count_by_status()

    def iter_events(self, **window: Any) -> Any:
        return self.inner.iter_events(**window)

    def close(self) -> None:
        self.inner.close()


def test_the_fallback_store_really_lacks_the_index() -> None:
    assert isinstance(PlainStore(), Store)
    assert not isinstance(PlainStore(), RoutingStore)
    assert isinstance(MemoryStore(), RoutingStore)


def _data(trigger: str, now: datetime) -> dict[str, Any] | None:
    match trigger:
        case "schedule" | "reschedule":
            return {"appointment": Appointment(start=now + timedelta(days=3))}
        case "hold":
            return {"reason": "travel"}
        case "no_show":
            return {"reason": "forgot"}
        case "authorize":
            until = (now + timedelta(days=9)).date()
            return {"number": "A-1", "valid_from": date(2026, 1, 1), "valid_to": until}
        case "require_auth" | "accept" | "clear" | "resume":
            return None
        case _:
            return None


_ACTORS = {"accept": CLINICIAN}
TRIGGERS = ["accept", "require_auth", "authorize", "clear", "schedule", "reschedule", "no_show",
            "hold", "resume"]  # fmt: skip
steps = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(min_value=1, max_value=60 * 60)),  # minutes
        st.tuples(
            st.just("fire"),
            st.integers(min_value=0, max_value=5),
            st.sampled_from(TRIGGERS),
        ),
        st.tuples(st.just("sweep"), st.integers(min_value=0, max_value=3)),
    ),
    min_size=1,
    max_size=25,
)


def _referrals(priorities: list[Priority]) -> list[Referral]:
    return [
        complete_referral(
            id=UUID(int=i + 1),
            priority=priority,
            flags=("asked_for_person",) if i % 3 == 0 else (),
            records_requests=(RecordsRequest(requested_at=T0),) if i % 2 else (),
        )
        for i, priority in enumerate(priorities)
    ]


def _run(stores: tuple[Store, Store], priorities: list[Priority], plan: list[Any]) -> None:
    clocks = (ManualClock(T0), ManualClock(T0))
    desks = [ReferralDesk(store=s, clock=c) for s, c in zip(stores, clocks, strict=True)]
    referrals = _referrals(priorities)
    for desk in desks:
        for referral in referrals:
            desk.create(referral, actor=INTAKE)
    for step in plan:
        if step[0] == "wait":
            for clock in clocks:
                clock.advance(timedelta(minutes=step[1]))
        elif step[0] == "fire":
            referral_id = referrals[step[1] % len(referrals)].id
            trigger = step[2]
            outcomes = []
            for desk in desks:
                try:
                    desk.fire(referral_id, trigger, actor=_ACTORS.get(trigger, SCHEDULER),
                              data=_data(trigger, desk.clock.now()))  # fmt: skip
                    outcomes.append("ok")
                except ReferralKitError as exc:
                    outcomes.append(type(exc).__name__)
            assert outcomes[0] == outcomes[1]
        else:
            reports = [desk.sweep_routing(page_size=1 + step[1]) for desk in desks]
            assert reports[0].decisions == reports[1].decisions
            assert reports[0].examined <= reports[1].examined
        for referral in referrals:
            logs = [[(e.kind, e.at, dict(e.data)) for e in d.history(referral.id)] for d in desks]
            assert logs[0] == logs[1]


priorities = st.lists(st.sampled_from(list(Priority)), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(priorities, steps)
def test_due_sweep_decides_what_a_full_sweep_decides(priorities, plan) -> None:
    _run((MemoryStore(), PlainStore()), priorities, plan)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(priorities, steps)
def test_due_sweep_on_sqlite_decides_what_a_full_sweep_decides(tmp_path: Path, priorities, plan):
    path = tmp_path / f"due-{len(list(tmp_path.iterdir()))}.db"
    store = SQLiteStore(path)
    try:
        _run((store, PlainStore()), priorities, plan)
    finally:
        store.close()
