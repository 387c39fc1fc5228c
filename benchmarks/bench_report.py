"""The metrics report over a large event log vs a single pass that only reads the same events.

Run: ``python benchmarks/bench_report.py [--quick]``.

A SQLite store is filled with synthetic histories (ten events a referral: created, accept,
clear, two outreach sends, schedule, complete_visit, close_loop; some declined or lost), then:

* **floor**: one pass over ``store.iter_events(since=, until=)``, decoding every event and
  doing nothing with it: what any report must at least pay;
* **report**: ``compute_metrics`` over the same window, grouped by practice and specialty,
  with CMS50 (it also reads each referral's record, for the groups and the patient).

Goal: report <= 3x the floor, timed at 1,000,000 events (``--quick``: 40,000). Memory: the
peak traced Python allocation (tracemalloc, on separate runs: it slows allocation several
times over) and the peak resident set size (a fresh process per side and size, so SQLite's own
page caches count too) at two sizes, 100,000 and 1,000,000 events (``--quick``: 20,000 and
40,000). Durations vary by the minute from referral to referral, so the report's duration
counts fill as real ones do; CMS50's per-patient rows go to a temporary file. Neither side's
peak should follow the number of events. The RSS figure is what the run adds to the
process's resident set at its peak (Linux: ``VmHWM`` reset through ``/proc/self/clear_refs``).
"""

from __future__ import annotations

import gc
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import SYSTEM, no_gc, sample_referral

from referralkit.adapters.sqlite import SQLiteStore
from referralkit.events import GENESIS_HASH, Event, make_event
from referralkit.metrics import Cms50Period, MetricsConfig, compute_metrics
from referralkit.model import Practice, ReferralStatus

S = ReferralStatus
YEAR = datetime(2026, 1, 1, tzinfo=UTC)
PRACTICES = [Practice(name=f"Practice {i}", id=f"p{i}") for i in range(12)]
SPECIALTIES = ["cardiology", "dermatology", "orthopedics", "neurology"]

# (kind, from, to, data, hours after the previous event)
_BOOKED = [
    ("accept", S.RECEIVED, S.ACCEPTED, {}, 5),
    ("clear", S.ACCEPTED, S.READY_TO_SCHEDULE, {}, 1),
    ("action_queued", S.READY_TO_SCHEDULE, S.READY_TO_SCHEDULE,
     {"key": "k1", "operation": "place_call", "request": {}}, 2),
    ("action_sent", S.READY_TO_SCHEDULE, S.READY_TO_SCHEDULE, {"key": "k1"}, 0.01),
    ("action_queued", S.READY_TO_SCHEDULE, S.READY_TO_SCHEDULE,
     {"key": "k2", "operation": "send_sms", "request": {}}, 20),
    ("action_sent", S.READY_TO_SCHEDULE, S.READY_TO_SCHEDULE, {"key": "k2"}, 0.01),
    ("schedule", S.READY_TO_SCHEDULE, S.SCHEDULED,
     {"appointment": {"start": "2026-06-01T15:00:00+00:00"}}, 30),
    ("complete_visit", S.SCHEDULED, S.VISIT_COMPLETED, {}, 200),
    ("close_loop", S.VISIT_COMPLETED, S.CLOSED, {"report_reference": "doc"}, 50),
]  # fmt: skip
_LOST = [*_BOOKED[:6], ("mark_lost", S.READY_TO_SCHEDULE, S.LOST, {"reason": "unreachable"}, 300)]
_DECLINED = [("decline", S.RECEIVED, S.DECLINED, {"reason": "no_capacity"}, 8)]
# One referral in ten is declined (2 events), one lost (8), the rest booked and closed (10).
EVENTS_PER_REFERRAL = (2 + 8 + 8 * 10) / 10


def _history(i: int) -> tuple[object, list[Event]]:
    referral = sample_referral(i).model_copy(
        update={
            "referring_practice": PRACTICES[i % len(PRACTICES)],
            "specialty": SPECIALTIES[i % len(SPECIALTIES)],
        }
    )
    steps = _DECLINED if i % 10 == 0 else _LOST if i % 10 == 1 else _BOOKED
    at = YEAR + timedelta(minutes=(i * 7919) % (60 * 24 * 330))
    first = make_event(
        referral_id=referral.id,
        seq=1,
        at=at,
        actor=SYSTEM,
        kind="created",
        from_state=None,
        to_state=S.RECEIVED,
        data={},
        prev_hash=GENESIS_HASH,
    )
    events = [first]
    # Spread the waits over two days, by the minute, so durations are not all alike.
    jitter = timedelta(minutes=(i * 37) % 2880)
    for kind, source, dest, data, hours in steps:
        at += timedelta(hours=hours)
        if kind in ("schedule", "complete_visit", "close_loop"):
            at += jitter
        events.append(
            make_event(
                referral_id=referral.id,
                seq=len(events) + 1,
                at=at,
                actor=SYSTEM,
                kind=kind,
                from_state=source,
                to_state=dest,
                data=data,
                prev_hash=events[-1].hash,
            )
        )
    final = referral.model_copy(
        update={
            "status": events[-1].to_state,
            "version": len(events),
            "history_hash": events[-1].hash,
            "created_at": events[0].at,
            "updated_at": events[-1].at,
        }
    )
    return final, events


def fill(path: Path, events_wanted: int) -> int:
    """Write referrals until about *events_wanted* events are stored; return the count."""
    store = SQLiteStore(path)
    written, i = 0, 0
    batch_refs, batch_events = [], []
    while written < events_wanted:
        referral, events = _history(i)
        batch_refs.append((referral, events[0]))
        batch_events.extend(events[1:])
        written += len(events)
        i += 1
        if len(batch_refs) >= 2000 or written >= events_wanted:
            # The referral rows and first events through the store; later events straight into
            # its table (a benchmark fixture: a million save() transactions would take minutes).
            firsts = [(r.model_copy(update={"version": 1, "history_hash": e.hash}), e)
                      for r, e in batch_refs]  # fmt: skip
            store.create_many(firsts)
            conn = store._conn  # a benchmark fixture writes straight into the table
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO events (referral_id, seq, body) VALUES (?, ?, ?)",
                [(str(e.referral_id), e.seq, e.to_json()) for e in batch_events],
            )
            conn.executemany(
                "UPDATE referrals SET version = ?, status = ?, body = ? WHERE id = ?",
                [(r.version, r.status.value, r.model_dump_json(), str(r.id))
                 for r, _ in batch_refs],
            )  # fmt: skip
            conn.execute("COMMIT")
            batch_refs, batch_events = [], []
    store.close()
    return written


def floor(store: SQLiteStore, since: datetime, until: datetime) -> int:
    count = 0
    for _ in store.iter_events(since=since, until=until):
        count += 1
    return count


def run_report(store: SQLiteStore, since: datetime, until: datetime) -> int:
    result = compute_metrics(
        store,
        MetricsConfig(since, until),
        by=("practice", "specialty"),
        cms50=Cms50Period(since, until),
    )
    return result.events_read


def timed(fn: Callable[..., object], *args: object) -> float:
    with no_gc():
        began = time.perf_counter()
        fn(*args)
        return time.perf_counter() - began


def peak(fn: Callable[..., object], *args: object) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure_time(tmp: Path, size: int, since: datetime, until: datetime, rounds: int) -> None:
    path = tmp / f"time-{size}.db"
    began = time.perf_counter()
    stored = fill(path, size)
    print(f"  filled {stored} events in {time.perf_counter() - began:.1f} s")
    store = SQLiteStore(path)
    try:
        assert floor(store, since, until) == run_report(store, since, until) == stored
        base = min(timed(floor, store, since, until) for _ in range(rounds))
        ours = min(timed(run_report, store, since, until) for _ in range(rounds))
    finally:
        store.close()
    ratio = ours / base
    verdict = "ok" if ratio <= 3 else "OVER GOAL 3x"
    print(
        f"  {stored:>9} events: report {ratio:5.2f}x the read floor (report {ours:.2f} s, "
        f"floor {base:.2f} s; {stored / ours:,.0f} events/s)  {verdict}"
    )


def measure_memory(tmp: Path, sizes: tuple[int, int], since: datetime, until: datetime) -> None:
    # tracemalloc slows allocation-heavy code several times over, so memory is measured on its
    # own runs (at two sizes), never on the timed ones.
    peaks = []
    rsses: list[tuple[int, int]] = []
    for size in sizes:
        path = tmp / f"memory-{size}.db"
        stored = fill(path, size)
        store = SQLiteStore(path)
        try:
            peaks.append(
                (stored, peak(floor, store, since, until), peak(run_report, store, since, until))
            )
        finally:
            store.close()
        rss = (_peak_rss("floor", path, since, until), _peak_rss("report", path, since, until))
        rsses.append(rss)
        n, f, r = peaks[-1]
        print(
            f"  {n:>9} events: peak traced memory: floor {f / 1e6:.2f} MB, report {r / 1e6:.2f} "
            f"MB; peak RSS added by the run: floor {rss[0] / 1e6:.1f} MB, "
            f"report {rss[1] / 1e6:.1f} MB"
        )
    (n1, f1, r1), (n2, f2, r2) = peaks
    (rf1, rr1), (rf2, rr2) = rsses
    print(
        f"  events x{n2 / n1:.1f}: traced peak floor x{f2 / f1:.2f}, report x{r2 / r1:.2f} "
        f"(report minus floor {(r1 - f1) / 1e6:.2f} MB -> {(r2 - f2) / 1e6:.2f} MB); "
        f"peak RSS added: floor {rf1 / 1e6:.1f} -> {rf2 / 1e6:.1f} MB, "
        f"report {rr1 / 1e6:.1f} -> {rr2 / 1e6:.1f} MB"
    )


def _peak_rss(side: str, path: Path, since: datetime, until: datetime) -> int:
    """Return the peak RSS in bytes of a fresh process running one side once."""
    done = subprocess.run(  # noqa: S603 - this script, with arguments it built
        [sys.executable, __file__, "--rss", side, str(path), since.isoformat(), until.isoformat()],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout.strip())


def _hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _rss_child(side: str, path: str, since: str, until: str) -> None:
    store = SQLiteStore(Path(path))
    fn = floor if side == "floor" else run_report
    # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS, so the
    # figure is the run's own high-water mark, not the imports'.
    Path("/proc/self/clear_refs").write_text("5")
    before = _hwm_kib()
    fn(store, datetime.fromisoformat(since), datetime.fromisoformat(until))
    store.close()
    print((_hwm_kib() - before) * 1024)


def main(quick: bool = False) -> None:
    since, until = YEAR, YEAR + timedelta(days=365)
    timing = 40_000 if quick else 1_000_000
    memory = (20_000, 40_000) if quick else (100_000, 1_000_000)
    print(f"report vs a single read pass over the same events (SQLite; {timing} events)")
    with tempfile.TemporaryDirectory() as tmp:
        measure_time(Path(tmp), timing, since, until, rounds=3 if quick else 1)
        measure_memory(Path(tmp), memory, since, until)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--rss"]:
        _rss_child(*sys.argv[2:6])
    else:
        main(quick="--quick" in sys.argv)
