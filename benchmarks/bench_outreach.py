"""Outreach sweeps cost what is due, not what is open: ``python benchmarks/bench_outreach.py``.

Two SQLite files, both with exactly 1,000 referrals due:

* small: 1,000 open referrals, all due;
* large: 1,000,000 open referrals (100,000 with ``--quick``), of which 1,000 are due.

Each is swept once for time (``time.perf_counter``) and, on a second due group, once under
``tracemalloc`` for peak memory. Goals: large/small <= 1.5 for both. The outreach sweep is what
is measured (``ReferralDesk.sweep(routing=False)``): the routing sweep examines every open
referral by design and runs on its own schedule. Planner throughput (referrals/s) is measured
in memory. Every figure is a ratio within this run.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from referralkit import (
    Actor,
    ActorKind,
    Address,
    ManualClock,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
    SQLiteStore,
    created,
)
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.events import Event
from referralkit.outbox import RetryPolicy
from referralkit.outreach import default_policy, plan
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.plugins import Hooks, make_plugin_manager

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Monday 08:00 in Chicago: the window is open
T1 = T0 + timedelta(days=1)
DUE = 1_000
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="bench", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="bench-dr", role=Role.CLINICIAN)


def _referral(number: int, next_action_at: datetime | None = None) -> Referral:
    return Referral(
        status=ReferralStatus.RECEIVED,
        referral_number=f"B-{number}",
        patient=Patient(
            given_name="Ada",
            family_name="Lovelace",
            birth_date=date(1980, 1, 2),
            phones=(PhoneContact(number=f"+1555{number % 10_000_000:07d}"),),
            address=Address(
                line1="1 Main St", city="Springfield", state="IL", postal_code="62701"
            ),
        ),
        referring_practice=Practice(name="Maple Street FM", fax="+15555550100"),
        receiving_practice=Practice(name="Lakeside Cardiology", phone="+15555550199"),
        specialty="cardiology",
        reason=ReasonForReferral(text="palpitations"),
        next_action_at=next_action_at,
    )


def _background(count: int) -> Iterator[tuple[Referral, Event]]:
    # Open referrals with outreach far ahead: stored, indexed, never due in this run.
    template = _referral(0, T0 + timedelta(days=30))
    for number in range(count):
        referral = template.model_copy(
            update={
                "id": uuid4(),
                "referral_number": f"B-{number}",
                "next_action_at": T0 + timedelta(days=30, seconds=number % 86_400),
            }
        )
        change = created(referral, SYSTEM, T0 - timedelta(days=1))
        yield change.referral, change.event


def _desk(path: Path, clock: ManualClock) -> ReferralDesk:
    plugin = InMemoryPlugin.with_clock(clock, sleep=lambda _s: None)
    return ReferralDesk(
        store=SQLiteStore(path),
        clock=clock,
        hooks=Hooks(make_plugin_manager([plugin], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(3),
        outreach=OutreachSettings(worker="bench", page_size=500),
    )


def _ready(desk: ReferralDesk, clock: ManualClock, at: datetime, count: int, base: int) -> None:
    """Make *count* referrals ready to schedule at *at*: their day-0 call is then due."""
    clock.set(at)
    for number in range(count):
        referral = desk.create(_referral(base + number), actor=SYSTEM)
        desk.fire(referral.id, "accept", actor=CLINICIAN)
        desk.fire(referral.id, "clear", actor=SYSTEM)


def _build(path: Path, background: int) -> tuple[ReferralDesk, ManualClock]:
    clock = ManualClock(T0 - timedelta(days=2))
    desk = _desk(path, clock)
    if background:
        began = time.perf_counter()
        desk.store.create_many(_background(background), batch_size=5_000)
        print(f"  built {background:,} open referrals in {time.perf_counter() - began:.1f} s")
    _ready(desk, clock, T0, DUE, 10_000_000)
    return desk, clock


def _sweep(
    desk: ReferralDesk, clock: ManualClock, at: datetime, *, traced: bool
) -> tuple[float, int, int]:
    if traced:
        # A second group, ready a day later: its day-0 calls are the 1,000 due at T1 (the first
        # group's next step, the day-2 SMS, is not due yet).
        _ready(desk, clock, at, DUE, 20_000_000)
    clock.set(at)
    if traced:
        tracemalloc.start()
    began = time.perf_counter()
    report = desk.sweep(at, routing=False)
    elapsed = time.perf_counter() - began
    peak = 0
    if traced:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return elapsed, peak, len(report.dispatched)


def _planner_throughput(desk: ReferralDesk) -> float:
    store = desk.store
    pairs = [(r, store.events(r.id)) for r in store.due(T1 + timedelta(days=1), limit=DUE)]
    policy = default_policy()
    rounds = 5
    began = time.perf_counter()
    for _ in range(rounds):
        for referral, events in pairs:
            plan(referral, events, policy, None, T1)
    return rounds * len(pairs) / (time.perf_counter() - began)


def main(quick: bool = False) -> None:
    """Run the benchmark and print its figures; *quick* builds 100,000 open, not 1,000,000."""
    total = 100_000 if quick else 1_000_000
    print(f"outreach sweep: 1,000 due of {total:,} open vs 1,000 due of 1,000 open (SQLite)")
    with tempfile.TemporaryDirectory(prefix="bench-outreach-") as tmp:
        small, small_clock = _build(Path(tmp) / "small.db", 0)
        large, large_clock = _build(Path(tmp) / "large.db", total - 2 * DUE)
        small_time, _, small_sent = _sweep(small, small_clock, T0, traced=False)
        large_time, _, large_sent = _sweep(large, large_clock, T0, traced=False)
        _, small_peak, _ = _sweep(small, small_clock, T1, traced=True)
        _, large_peak, _ = _sweep(large, large_clock, T1, traced=True)
        assert small_sent == large_sent == DUE, (small_sent, large_sent)
        claim_small = _claim_time(small)
        claim_large = _claim_time(large)
        throughput = _planner_throughput(large)
        small.close()
        large.close()
    for name, elapsed, sent in (
        ("small", small_time, small_sent),
        ("large", large_time, large_sent),
    ):
        each = elapsed / sent * 1e3
        print(f"  {name} sweep: {elapsed:.3f} s for {sent} dispatched ({each:.2f} ms each)")
    print(f"  time ratio large/small: {large_time / small_time:.2f}x (goal <= 1.5x)")
    print(f"  peak memory small {small_peak / 1e6:.1f} MB, large {large_peak / 1e6:.1f} MB")
    print(f"  memory ratio large/small: {large_peak / small_peak:.2f}x (goal <= 1.5x)")
    print(f"  claim of 1,000 due: ratio large/small {claim_large / claim_small:.2f}x")
    print(f"  planner throughput: {throughput:,.0f} referrals/s")


def _claim_time(desk: ReferralDesk) -> float:
    store = desk.store
    at = T1 + timedelta(days=4)  # the day-2 SMS of both groups is due by then
    began = time.perf_counter()
    lease = timedelta(minutes=1)
    rows = store.claim_due(at, worker="bench-claim", lease=lease, limit=DUE)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - began
    assert len(rows) == DUE, len(rows)
    return elapsed


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
