"""Foundation benchmarks: lifecycle, event log and stores, each as a ratio to a bare baseline.

Run: ``python benchmarks/bench_foundation.py [--quick]``.
"""

from __future__ import annotations

import gc
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from statistics import median

from common import START, SYSTEM, compare, no_gc, per_op, report, sample_referral
from transitions import Machine

from referralkit import (
    ManualClock,
    MemoryStore,
    ReferralDesk,
    SQLiteStore,
    Trigger,
    created,
    shared_lifecycle,
)
from referralkit.lifecycle import Change


class _Token:
    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def _bare_machine() -> Machine:
    return Machine(
        model=None,
        states=["a", "b"],
        transitions=[
            {"trigger": "go", "source": "a", "dest": "b"},
            {"trigger": "back", "source": "b", "dest": "a"},
        ],
        initial="a",
        auto_transitions=False,
        send_event=True,
    )


def memory_transition_costs(n: int) -> tuple[float, float, float]:
    """Lifecycle transition + event append in a MemoryStore vs a bare transitions trigger.

    Returns (ours, desk, baseline): *ours* is what the issue measures (fire the trigger, build
    the hash-chained event, append both to the store); *desk* is ``ReferralDesk.fire`` end to end
    (load, fire, save, observers, outreach planning hook).
    """
    machine = _bare_machine()
    go, back = machine.events["go"], machine.events["back"]
    lifecycle = shared_lifecycle()
    store = MemoryStore()
    first = created(sample_referral(0), SYSTEM, START)
    store.create(first.referral, first.event)
    state = {"current": first.referral}
    desk = ReferralDesk(store=MemoryStore(), clock=ManualClock(START))
    referral_id = desk.create(sample_referral(1), actor=SYSTEM).id
    hold = {"reason": "patient travelling"}

    def baseline() -> None:
        token = _Token("a")
        for _ in range(n // 2):
            go.trigger(token)
            back.trigger(token)

    def ours() -> None:
        current = state["current"]
        for _ in range(n // 2):
            for trigger, data in (("hold", hold), ("resume", None)):
                change = lifecycle.fire(current, trigger, actor=SYSTEM, now=START, data=data)
                store.save(change.referral, change.event, expected_version=current.version)
                current = change.referral
        state["current"] = current

    def through_desk() -> None:
        for _ in range(n // 2):
            desk.fire(referral_id, "hold", actor=SYSTEM, data=hold)
            desk.fire(referral_id, "resume", actor=SYSTEM)

    ours_cost, base_cost = compare(ours, baseline, n)
    desk_cost, base_cost_2 = compare(through_desk, baseline, n)
    return ours_cost, desk_cost * base_cost / base_cost_2, base_cost


def _chain(index: int, n: int) -> list[Change]:
    """Precompute n hold/resume changes of one referral (computing them is not timed here)."""
    lifecycle = shared_lifecycle()
    first = created(sample_referral(index), SYSTEM, START)
    changes = [first]
    current = first.referral
    for i in range(n):
        trigger: Trigger = "hold" if i % 2 == 0 else "resume"
        data = {"reason": "travel"} if trigger == "hold" else None
        change = lifecycle.fire(current, trigger, actor=SYSTEM, now=START, data=data)
        changes.append(change)
        current = change.referral
    return changes


def sqlite_transition_costs(n: int, tmp: Path, rounds: int = 5) -> tuple[float, float, float]:
    """SQLiteStore.save and desk.fire on SQLite vs raw sqlite3 doing the same writes."""
    store = SQLiteStore(tmp / "ours.db")
    desk = ReferralDesk(store=SQLiteStore(tmp / "desk.db"), clock=ManualClock(START))
    SQLiteStore(tmp / "raw.db").close()  # the same schema, written by raw sqlite3 below
    conn = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    save_times, desk_times, raw_times = [], [], []
    for round_ in range(rounds):
        changes = _chain(round_, n)
        store.create(changes[0].referral, changes[0].event)
        first = changes[0]
        conn.execute(
            "INSERT INTO referrals (id, version, status, next_action_at, referral_number,"
            " updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(first.referral.id),
                1,
                first.referral.status.value,
                None,
                None,
                0,
                first.referral.model_dump_json(),
            ),
        )
        rows = [
            (
                c.referral.version,
                c.referral.status.value,
                None,
                c.referral.referral_number,
                0,
                c.referral.model_dump_json(),
                str(c.referral.id),
                c.referral.version - 1,
                c.event.seq,
                c.event.to_json(),
            )
            for c in changes[1:]
        ]
        with no_gc():
            began = time.perf_counter()
            for r in rows:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "UPDATE referrals SET version = ?, status = ?, next_action_at = ?,"
                    " referral_number = ?, updated_at = ?, body = ? WHERE id = ? AND version = ?",
                    r[:8],
                )
                conn.execute(
                    "INSERT INTO events (referral_id, seq, body) VALUES (?, ?, ?)",
                    (r[6], r[8], r[9]),
                )
                conn.execute("COMMIT")
            raw_times.append((time.perf_counter() - began) / n)
        with no_gc():
            began = time.perf_counter()
            for change in changes[1:]:
                store.save(
                    change.referral, change.event, expected_version=change.referral.version - 1
                )
            save_times.append((time.perf_counter() - began) / n)
        rid = desk.create(sample_referral(1000 + round_), actor=SYSTEM).id
        with no_gc():
            began = time.perf_counter()
            for _ in range(n // 2):
                desk.fire(rid, "hold", actor=SYSTEM, data={"reason": "travel"})
                desk.fire(rid, "resume", actor=SYSTEM)
            desk_times.append((time.perf_counter() - began) / n)
    conn.close()
    store.close()
    desk.close()
    return median(save_times), median(desk_times), median(raw_times)


def bulk_costs(n: int, tmp: Path) -> tuple[float, float]:
    pairs = [
        (c.referral, c.event)
        for c in (created(sample_referral(i), SYSTEM, START) for i in range(n))
    ]
    store = SQLiteStore(tmp / "bulk.db")

    def ours() -> None:
        store.create_many(pairs, batch_size=1000)

    ours_cost = per_op(ours, n, repeats=1)
    store.close()
    raw_store = SQLiteStore(tmp / "bulk_raw.db")
    raw_store.close()
    rows = [
        (str(r.id), r.version, r.status.value, None, r.referral_number, 0, r.model_dump_json())
        for r, _ in pairs
    ]
    event_rows = [(str(e.referral_id), e.seq, e.to_json()) for _, e in pairs]
    conn = sqlite3.connect(tmp / "bulk_raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")

    def raw() -> None:
        for start in range(0, n, 1000):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO referrals (id, version, status, next_action_at, referral_number,"
                " updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows[start : start + 1000],
            )
            conn.executemany(
                "INSERT INTO events (referral_id, seq, body) VALUES (?, ?, ?)",
                event_rows[start : start + 1000],
            )
            conn.execute("COMMIT")

    raw_cost = per_op(raw, n, repeats=1)
    conn.close()
    return ours_cost, raw_cost


def memory_per_referral(n: int) -> tuple[float, float]:
    referrals = [created(sample_referral(i), SYSTEM, START) for i in range(n)]
    json_size = sum(len(c.referral.model_dump_json()) for c in referrals[:100]) / 100
    del referrals
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = MemoryStore()
    store.create_many(
        (c.referral, c.event)
        for c in (created(sample_referral(i), SYSTEM, START) for i in range(n))
    )
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert sum(store.count_by_status().values()) == n
    return (after - before) / n, json_size


def main(quick: bool = False) -> dict[str, float]:
    """Run the foundation benchmarks and print ratios; return them by name."""
    n = 4_000 if quick else 20_000
    durable = 400 if quick else 2_000
    bulk = 20_000 if quick else 100_000
    print(f"== foundation ({'quick' if quick else 'full'}) ==")
    results: dict[str, float] = {}
    ours, through_desk, bare = memory_transition_costs(n)
    results["memory_transition"] = report(
        "transition + event append (memory) vs bare trigger", ours, bare, goal=3.0
    )
    results["memory_desk_fire"] = report(
        "  end to end desk.fire (memory) vs bare trigger", through_desk, bare
    )
    print(
        f"{'  transitions/s on one core (memory store)':<58} {1 / ours:10,.0f}  (goal >= 50,000)"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        save_cost, desk_cost, raw_cost = sqlite_transition_costs(durable, tmp)
        results["sqlite_transition"] = report(
            "durable transition (SQLiteStore.save) vs raw sqlite3", save_cost, raw_cost, goal=1.5
        )
        results["sqlite_desk_fire"] = report(
            "  end to end desk.fire on SQLite vs raw sqlite3", desk_cost, raw_cost
        )
        ours_bulk, raw_bulk = bulk_costs(bulk, tmp)
        results["bulk_create"] = report(
            f"create_many {bulk:,} referrals vs raw executemany", ours_bulk, raw_bulk, goal=2.0
        )
    per_referral, json_size = memory_per_referral(2_000 if quick else 10_000)
    results["memory_bytes_per_referral"] = per_referral
    print(
        f"{'memory per referral held in MemoryStore':<58} {per_referral / 1024:6.1f} KiB"
        f"  (its JSON: {json_size / 1024:.1f} KiB; ratio {per_referral / json_size:.1f}x)"
    )
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
