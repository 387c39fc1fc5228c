"""Outreach sweeps cost what is due, not what is open: ``python benchmarks/bench_outreach.py``.

Two SQLite files, both with exactly 1,000 referrals due:

* small: 1,000 open referrals, all due;
* large: 1,000,000 open referrals (100,000 with ``--quick``), of which 1,000 are due.

Each round readies a fresh due group in both files, then sweeps both (the order alternating
between rounds, garbage collector paused alike): five rounds for time (``time.perf_counter``),
five more under ``tracemalloc`` for peak memory. 1,000 are due per sweep (100 with
``--quick``). Goals: large/small <= 1.5 for both. The outreach sweep is what
is measured (``ReferralDesk.sweep(routing=False)``): the routing sweep has its own benchmark
(``bench_routing_sweep.py``). Planner throughput (referrals/s) is measured
in memory. Every figure is a ratio within this run.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from common import MIN_SAMPLES, no_gc, note, report

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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)  # the SQLite store's encoding


def _fill_background(path: Path, count: int) -> None:
    """Write *count* open referrals with outreach far ahead: stored, indexed, never due.

    Raw rows in the store's own schema (clones of one referral, each with its own id): building
    them is not what is measured, and they are never read, so they carry no events.
    """
    later = T0 + timedelta(days=30)
    template = created(_referral(0, later), SYSTEM, T0 - timedelta(days=1)).referral
    body, old = template.model_dump_json(), str(template.id)
    rows = (
        (new, _micros(later), f"B-{n}", _micros(T0), body.replace(old, new))
        for n, new in ((n, str(uuid4())) for n in range(count))
    )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO referrals (id, version, status, next_action_at, referral_number,"
        " updated_at, body) VALUES (?, 1, 'received', ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    conn.close()


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
        _fill_background(path, background)
        print(f"  built {background:,} open referrals in {time.perf_counter() - began:.1f} s")
    return desk, clock


def _sweep(
    desk: ReferralDesk, clock: ManualClock, at: datetime, *, traced: bool
) -> tuple[float, int, int]:
    clock.set(at)
    with no_gc():
        if traced:
            tracemalloc.start()
        began = time.perf_counter()
        swept = desk.sweep(at, routing=False)
        elapsed = time.perf_counter() - began
        peak = 0
        if traced:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return elapsed, peak, len(swept.dispatched)


def _planner_throughput(desk: ReferralDesk) -> float:
    store = desk.store
    pairs = [(r, store.events(r.id)) for r in store.due(T1 + timedelta(days=4), limit=DUE)]
    assert pairs, "no due referrals to plan"
    policy = default_policy()
    rounds = 5
    began = time.perf_counter()
    for _ in range(rounds):
        for referral, events in pairs:
            plan(referral, events, policy, None, T1)
    return rounds * len(pairs) / (time.perf_counter() - began)


def main(quick: bool = False) -> None:
    """Run the benchmark and print its figures; *quick* builds 100,000 open, not 1,000,000."""
    global DUE
    total = 100_000 if quick else 1_000_000
    DUE = 100 if quick else 1_000
    print(f"outreach sweep: {DUE:,} due of {total:,} open vs {DUE:,} due of {DUE:,} (SQLite)")
    times: dict[str, list[float]] = {"small": [], "large": []}
    peaks: dict[str, list[float]] = {"small": [], "large": []}
    with tempfile.TemporaryDirectory(prefix="bench-outreach-") as tmp:
        small, small_clock = _build(Path(tmp) / "small.db", 0)
        large, large_clock = _build(Path(tmp) / "large.db", total - 2 * DUE)
        desks = {"small": (small, small_clock), "large": (large, large_clock)}
        # Groups a minute apart: each sweep finds exactly its own group's day-0 call due
        # (earlier groups' next steps are days away). Order alternates between rounds.
        samples = 0
        for traced in (False, True):
            for round_ in range(MIN_SAMPLES):
                samples += 1
                at = T0 + timedelta(minutes=samples)
                for number, (desk, clock) in enumerate(desks.values()):
                    _ready(desk, clock, at, DUE, 100_000_000 * (number + 1) + samples * DUE)
                order = ["small", "large"] if round_ % 2 == 0 else ["large", "small"]
                for name in order:
                    desk, clock = desks[name]
                    elapsed, peak, sent = _sweep(desk, clock, at, traced=traced)
                    assert sent == DUE, (name, sent)
                    (peaks if traced else times)[name].append(peak if traced else elapsed)
        claims: dict[str, list[float]] = {"small": [], "large": []}
        for round_ in range(MIN_SAMPLES):
            for name in ("small", "large") if round_ % 2 == 0 else ("large", "small"):
                claims[name].append(_claim_time(desks[name][0], round_))
        throughput = _planner_throughput(large)
        small.close()
        large.close()
    report(f"outreach sweep {DUE:,} due of {total:,} vs of {DUE:,} (time)", times["large"],
           times["small"], goal=1.5, unit="ms")  # fmt: skip
    report("  the same, peak memory", peaks["large"], peaks["small"], goal=1.5, unit="MB")
    report(f"  claim of {DUE:,} due: large vs small", claims["large"], claims["small"], unit="ms")
    note("  planner throughput", throughput, "referrals/s")


def _claim_time(desk: ReferralDesk, round_: int) -> float:
    store = desk.store
    # The day-2 SMS of every group is due by then; each round claims after the last round's
    # one-minute leases have expired, so it claims the same rows again.
    at = T1 + timedelta(days=4, minutes=2 * round_)
    lease = timedelta(minutes=1)
    with no_gc():
        began = time.perf_counter()
        rows = store.claim_due(at, worker=f"bench-{round_}", lease=lease, limit=DUE)  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - began
    assert len(rows) == DUE, len(rows)
    return elapsed


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
