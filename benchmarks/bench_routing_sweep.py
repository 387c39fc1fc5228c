"""Routing sweeps cost what is due, not what is open: ``python benchmarks/bench_routing_sweep.py``.

Two stores of each kind (SQLite, and PostgreSQL when a server answers at
``REFERRALKIT_PG_DSN``, default ``host=127.0.0.1 port=5432 dbname=test``):

* small: exactly the due referrals are open;
* large: 1,000,000 open referrals (100,000 with ``--quick``), of which the same number are due.

1,000 referrals are due per sweep (100 with ``--quick``). Each round adds a fresh due group to
both stores (received referrals whose acceptance task is to be opened), then sweeps both with
``ReferralDesk.sweep_routing``, small and large alternating which goes first, garbage
collector paused alike; five rounds for time and five more under ``tracemalloc`` for peak
memory. Goals: large/small <= 1.5x for time and for memory, on each store.

The background rows are written with raw SQL in the store's own schema (``next_routing_at``
a year ahead, so they are indexed but not due); building them is not what is measured.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import MIN_SAMPLES, START, SYSTEM, no_gc, report, sample_referral

from referralkit import ManualClock, ReferralDesk, SQLiteStore, created
from referralkit.store import RoutingStore

DSN = os.environ.get("REFERRALKIT_PG_DSN", "host=127.0.0.1 port=5432 dbname=test")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)  # the SQLite store's encoding


_FAR = START + timedelta(days=365)


def _background_bodies(count: int) -> Iterator[tuple[str, str, str]]:
    # (id, referral_number, body): clones of one received referral, each with its own id.
    template = created(sample_referral(0), SYSTEM, START).referral.model_copy(
        update={"next_routing_at": _FAR}
    )
    body = template.model_dump_json()
    old = str(template.id)
    for _ in range(count):
        new = str(uuid.uuid4())
        yield new, "BG", body.replace(old, new)


def _fill_sqlite(path: Path, count: int) -> None:
    SQLiteStore(path).close()
    far_us, now_us = _micros(_FAR), _micros(START)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO referrals (id, version, status, next_action_at, referral_number,"
        " updated_at, body, next_routing_at) VALUES (?, 1, 'received', NULL, ?, ?, ?, ?)",
        ((key, number, now_us, body, far_us) for key, number, body in _background_bodies(count)),
    )
    conn.execute("COMMIT")
    conn.close()


def _fill_postgres(schema: str, count: int) -> None:
    import psycopg

    from referralkit.adapters.postgres import PostgresStore

    PostgresStore(DSN, schema=schema).close()
    with psycopg.connect(DSN, autocommit=True) as conn, conn.cursor() as cur:
        with cur.copy(
            f"COPY {schema}.referralkit_referrals (id, version, status, referral_number,"
            " updated_at, body, next_routing_at) FROM STDIN"
        ) as copy:
            for key, number, body in _background_bodies(count):
                copy.write_row((key, 1, "received", number, START, body, _FAR))
        cur.execute(f"ANALYZE {schema}.referralkit_referrals")


def _add_due_group(store: RoutingStore, due: int, at: Any, base: int) -> None:
    # Received referrals whose acceptance task routing opens at *at*.
    def items() -> Iterator[Any]:
        for i in range(due):
            change = created(sample_referral(base + i), SYSTEM, at - timedelta(seconds=1))
            yield change.referral.model_copy(update={"next_routing_at": at}), change.event

    store.create_many(items(), batch_size=1000)


def _measure(
    desks: dict[str, ReferralDesk], due: int, rounds: int, first_base: int
) -> dict[str, tuple[list[float], list[float]]]:
    times: dict[str, list[float]] = {name: [] for name in desks}
    peaks: dict[str, list[float]] = {name: [] for name in desks}
    base = first_base
    for traced in (False, True):
        for round_ in range(rounds):
            at = START + timedelta(minutes=len(times["small"]) + len(peaks["small"]) + 1)
            for desk in desks.values():
                assert isinstance(desk.store, RoutingStore)
                _add_due_group(desk.store, due, at, base)
                base += due
            order = ["small", "large"] if round_ % 2 == 0 else ["large", "small"]
            for name in order:
                desk = desks[name]
                desk.clock.set(at)  # type: ignore[attr-defined]
                with no_gc():
                    if traced:
                        tracemalloc.start()
                    began = time.perf_counter()
                    swept = desk.sweep_routing(at)
                    elapsed = time.perf_counter() - began
                    if traced:
                        peaks[name].append(float(tracemalloc.get_traced_memory()[1]))
                        tracemalloc.stop()
                    else:
                        times[name].append(elapsed)
                assert swept.examined == due, (name, swept.examined, due)
                assert swept.decisions == due, (name, swept.decisions, due)
    return {name: (times[name], peaks[name]) for name in desks}


def _run(label: str, make: Callable[[str, int], RoutingStore], total: int, due: int) -> None:
    began = time.perf_counter()
    stores = {"small": make("small", 0), "large": make("large", total - due)}
    built = time.perf_counter() - began
    print(f"  {label}: built {total - due:,} background referrals in {built:.1f} s")
    desks = {
        name: ReferralDesk(store=store, clock=ManualClock(START)) for name, store in stores.items()
    }
    try:
        results = _measure(desks, due, MIN_SAMPLES, 50_000_000)
    finally:
        for store in stores.values():
            store.close()
    (small_t, small_m), (large_t, large_m) = results["small"], results["large"]
    report(f"{label}: sweep {due:,} due of {total:,} vs of {due:,} (time)", large_t, small_t,
           goal=1.5, unit="ms")  # fmt: skip
    report(f"{label}: the same, peak memory", large_m, small_m, goal=1.5, unit="MB")


def main(quick: bool = False) -> None:
    """Run the benchmark on SQLite, and on PostgreSQL when a server answers."""
    total, due = (100_000, 100) if quick else (1_000_000, 1_000)
    print(f"routing sweep: {due:,} due of {total:,} open vs {due:,} due of {due:,} open")
    with tempfile.TemporaryDirectory(prefix="bench-routing-") as tmp:

        def sqlite_store(name: str, background: int) -> RoutingStore:
            path = Path(tmp) / f"{name}.db"
            if background:
                _fill_sqlite(path, background)
            return SQLiteStore(path)

        _run("SQLite", sqlite_store, total, due)
    try:
        import psycopg

        psycopg.connect(DSN, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to measure
        print(f"  PostgreSQL: skipped, no server at {DSN!r} ({type(exc).__name__})")
        return
    from referralkit.adapters.postgres import PostgresStore

    schemas: list[str] = []

    def pg_store(name: str, background: int) -> RoutingStore:
        schema = f"rk_bench_{name}_{uuid.uuid4().hex[:8]}"
        schemas.append(schema)
        if background:
            _fill_postgres(schema, background)
        return PostgresStore(DSN, schema=schema)

    try:
        _run("PostgreSQL", pg_store, total, due)
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
