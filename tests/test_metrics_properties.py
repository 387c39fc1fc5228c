"""Properties of metrics over random lifecycle histories: invariants any report must keep."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referralkit.adapters.memory import MemoryStore
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.clock import ManualClock
from referralkit.desk import ReferralDesk
from referralkit.errors import TransitionBlockedError
from referralkit.lifecycle import ROLE_TRIGGERS, allowed_triggers
from referralkit.metrics import Cms50Period, MetricsConfig, compute_metrics
from referralkit.model import Actor, ActorKind, Appointment, Role
from referralkit.store import Store
from tests.support.builders import complete_referral

START = datetime(2026, 3, 1, tzinfo=UTC)
DATA: dict[str, Any] = {
    "request_info": {"missing": ["patient.phones"]},
    "redirect": {"specialty": "neurology", "reason": "better fit"},
    "decline": {"reason": "no_capacity"},
    "authorize": {"number": "A1", "valid_from": date(2026, 1, 1), "valid_to": date(2027, 1, 1)},
    "close_loop": {"report_reference": "doc"},
    "mark_lost": {"reason": "unreachable"},
    "reopen": {"reason": "called back"},
    "hold": {"reason": "travelling"},
    "mark_error": {"reason": "duplicate"},
    "cancel": {"reason": "patient_request"},
    "cancel_appointment": {"reason": "patient_request"},
}


def actor_for(trigger: str) -> Actor:
    role = next(r for r in (Role.SCHEDULER, Role.CLINICIAN, Role.INTAKE, Role.REFERRER)
                if trigger in ROLE_TRIGGERS[r])  # fmt: skip
    return Actor(kind=ActorKind.HUMAN, id=f"h-{role.value}", role=role)


def data_for(trigger: str, now: datetime) -> dict[str, Any] | None:
    if trigger in ("schedule", "reschedule"):
        return {"appointment": Appointment(start=now + timedelta(days=3))}
    return DATA.get(trigger)


histories = st.lists(
    st.tuples(st.integers(0, 40), st.lists(st.tuples(st.integers(0, 99), st.integers(1, 96)),
                                            max_size=12)),
    min_size=1,
    max_size=6,
)  # fmt: skip


def build(store: Store, plan: list[tuple[int, list[tuple[int, int]]]]) -> None:
    clock = ManualClock(START - timedelta(days=3))
    desk = ReferralDesk(store=store, clock=clock)  # not closed: the caller owns the store
    for offset_days, steps in plan:
        clock.current = START - timedelta(days=3) + timedelta(days=offset_days)
        referral = desk.create(complete_referral(), actor=actor_for("hold"))
        for pick, hours in steps:
            choices = allowed_triggers(referral)
            if not choices:
                break
            trigger = choices[pick % len(choices)]
            clock.current += timedelta(hours=hours)
            try:
                referral = desk.fire(referral.id, trigger, actor=actor_for(trigger),
                                     data=data_for(trigger, clock.current))  # fmt: skip
            except TransitionBlockedError:
                continue


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories)
def test_funnel_invariants_hold_for_any_history(plan) -> None:
    store = MemoryStore()
    build(store, plan)
    config = MetricsConfig(since=START, until=START + timedelta(days=30))
    report = compute_metrics(
        store, config, by=("specialty",), cms50=Cms50Period(START, config.until)
    )
    m = report.overall
    assert m.closed <= m.seen <= m.booked <= m.received
    assert m.leaked <= m.received
    assert sum(m.outcomes.values()) == m.received
    assert sum(m.leak_reasons.values()) == m.leaked
    assert "entered_in_error" not in m.outcomes
    assert sum(m.booked_within.values()) == m.booked == m.time_to_booked.count
    for rate in (m.booking_rate, m.completion_rate, m.leakage_rate, m.loop_closure_rate,
                 m.no_show_rate):  # fmt: skip
        assert rate is None or 0 <= rate <= 1
    assert sum(g.received for g in report.groups["specialty"].values()) == m.received
    created = [e for e in store.iter_events() if e.kind == "created"]
    in_window = [e for e in created if config.since <= e.at < config.until]
    assert m.received + report.excluded_entered_in_error == len(in_window)
    assert report.cms50 is not None
    assert report.cms50.denominator <= 1  # every referral here is the same test patient
    assert report.cms50.numerator <= report.cms50.denominator


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories, st.integers(1, 5))
def test_sqlite_paged_in_any_size_gives_the_memory_report(plan, pages: int) -> None:
    memory = MemoryStore()
    build(memory, plan)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SQLiteStore(Path(tmp) / "p.db")
        build(sqlite, plan)  # the same histories (new ids) in SQLite

        class Paged:
            """The SQLite store, read in pages of *pages* events."""

            def __getattr__(self, name: str) -> Any:
                return getattr(sqlite, name)

            def iter_events(self, **kwargs: Any) -> Any:
                return sqlite.iter_events(**{**kwargs, "batch_size": pages})

        config = MetricsConfig(since=START, until=START + timedelta(days=30))
        try:
            paged = compute_metrics(Paged(), config, by=("specialty",)).as_json()  # type: ignore[arg-type]
        finally:
            sqlite.close()
    assert paged == compute_metrics(memory, config, by=("specialty",)).as_json()
