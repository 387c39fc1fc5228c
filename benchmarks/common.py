"""Shared helpers for the benchmarks: interleaved samples, medians with ranges, JSON figures.

Every figure is a ratio of two sides measured in the same run, interleaved (the order of the two
sides alternates from round to round), at least :data:`MIN_SAMPLES` times, with the cyclic
garbage collector paused around each timed side alike (:func:`no_gc`). ``report`` prints the
median ratio and the range of the per-round ratios, and records the figure for ``--json``.
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from referralkit import (
    Actor,
    ActorKind,
    Address,
    Coverage,
    Patient,
    PhoneContact,
    PhoneKind,
    Practice,
    Priority,
    Provider,
    ReasonForReferral,
    Referral,
    ReferralStatus,
    Role,
    SQLiteStore,
)

MIN_SAMPLES = 5
"""No figure is printed from fewer samples than this."""
RESULTS: list[dict[str, Any]] = []
"""Every figure reported in this process, in order (what ``run.py --json`` writes)."""
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="bench", role=Role.SYSTEM)
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while timing, as :mod:`timeit` does.

    Both sides of every comparison run under it, so a collection triggered by one side's
    allocations cannot land in the other side's time.
    """
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def per_op(fn: Callable[[], object], ops: int, repeats: int = MIN_SAMPLES) -> list[float]:
    """Seconds per operation of *fn* (which performs *ops* operations), one sample per repeat."""
    samples = []
    for _ in range(repeats):
        with no_gc():
            began = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - began) / ops)
    return samples


def interleaved(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    ops: int,
    rounds: int = 7,
    *,
    setup: Callable[[], object] | None = None,
) -> tuple[list[float], list[float]]:
    """Seconds per operation of *ours* and *baseline*, one sample of each per round.

    The two sides alternate which goes first, so neither always runs on a warmer (or more
    fragmented) process; both run under :func:`no_gc`. *setup*, if given, runs before each
    round, outside the timers.
    """
    rounds = max(rounds, MIN_SAMPLES)
    mine: list[float] = []
    base: list[float] = []
    for round_ in range(rounds):
        if setup is not None:
            setup()
        order = (
            ((baseline, base), (ours, mine))
            if round_ % 2 == 0
            else ((ours, mine), (baseline, base))
        )
        for fn, into in order:
            with no_gc():
                began = time.perf_counter()
                fn()
                into.append((time.perf_counter() - began) / ops)
    return mine, base


def compare(
    ours: Callable[[], object], baseline: Callable[[], object], ops: int, rounds: int = 7
) -> tuple[list[float], list[float]]:
    """Alias of :func:`interleaved` (samples of both sides, interleaved)."""
    return interleaved(ours, baseline, ops, rounds)


def _as_samples(value: float | Sequence[float]) -> list[float]:
    return [float(value)] if isinstance(value, int | float) else [float(v) for v in value]


def report(
    name: str,
    ours: float | Sequence[float],
    baseline: float | Sequence[float],
    goal: float | None = None,
    *,
    unit: str = "us",
) -> float:
    """Print one figure: the median ratio, its range over rounds, and both medians; return it.

    With paired samples (one of each side per round) the range is of the per-round ratios;
    otherwise of every ours/baseline combination's extremes.
    """
    mine, base = _as_samples(ours), _as_samples(baseline)
    if len(mine) == len(base):
        ratios = [m / b for m, b in zip(mine, base, strict=True)]
    else:
        ratios = [min(mine) / max(base), max(mine) / min(base)]
    ours_median, base_median = statistics.median(mine), statistics.median(base)
    ratio = ours_median / base_median
    verdict = "" if goal is None else ("  ok" if ratio <= goal else f"  OVER GOAL {goal}x")
    scale = {"us": 1e6, "ms": 1e3, "s": 1.0, "MB": 1 / 1e6}[unit]
    print(
        f"{name:<58} {ratio:6.2f}x  [{min(ratios):.2f}-{max(ratios):.2f}, n={len(mine)}]"
        f"  (ours {ours_median * scale:9.2f} {unit}, baseline {base_median * scale:9.2f} {unit})"
        f"{verdict}"
    )
    RESULTS.append(
        {
            "name": name,
            "ratio": ratio,
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "samples": len(mine),
            "ours": ours_median,
            "baseline": base_median,
            "unit": "s" if unit != "MB" else "bytes",
            "goal": goal,
            "ok": None if goal is None else ratio <= goal,
        }
    )
    return ratio


def note(name: str, value: float, unit: str, goal: str | None = None) -> float:
    """Print and record a figure that is not a ratio (throughput, bytes)."""
    print(f"{name:<58} {value:12,.1f} {unit}" + (f"  (goal {goal})" if goal else ""))
    RESULTS.append({"name": name, "value": value, "unit": unit, "goal": goal})
    return value


def sample_referral(i: int, status: ReferralStatus = ReferralStatus.RECEIVED) -> Referral:
    """A realistic, complete referral (~1.5 KB of JSON) with synthetic data."""
    return Referral(
        id=UUID(int=i + 1),
        referral_number=f"REF-{i:07d}",
        status=status,
        priority=Priority.ROUTINE,
        patient=Patient(
            given_name=f"Given{i}",
            family_name=f"Family{i}",
            birth_date=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
            phones=(
                PhoneContact(number=f"+1217555{i % 10000:04d}", time_zones=("America/Chicago",)),
                PhoneContact(number=f"+1312555{i % 10000:04d}", kind=PhoneKind.HOME),
            ),
            email=f"patient{i}@example.org",
            address=Address(
                line1=f"{i} Main St", city="Springfield", state="IL", postal_code="62701"
            ),
            time_zone="America/Chicago",
        ),
        referring_practice=Practice(name="Maple Street Family Medicine", npi="1234567893"),
        referring_provider=Provider(name="Dr. Avery Quinn", npi="1497758544"),
        receiving_practice=Practice(name="Lakeside Cardiology", npi="1245319599"),
        specialty="cardiology",
        reason=ReasonForReferral(icd10_codes=("I48.91",), text="Irregular heartbeat"),
        coverage=Coverage(payer_name="Prairie Health Plan", member_id=f"PHP{i:08d}"),
    )


PG_DSN = os.environ.get("REFERRALKIT_PG_DSN", "host=127.0.0.1 port=5432 dbname=test")
"""The PostgreSQL server the store benchmarks use (skipped with a line when none answers)."""

_Fill = Callable[[Any, int], None]
_Measure = Callable[[str, Any, Any, int], None]


def small_vs_large_sqlite(
    prefix: str, fill: _Fill, measure: _Measure, small_size: int, total: int
) -> None:
    """Fill a small and a large SQLite store, then *measure* them side by side."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        small = SQLiteStore(Path(tmp) / "small.db")
        large = SQLiteStore(Path(tmp) / "large.db")
        fill(small, small_size)
        fill(large, total)
        measure("SQLite", small, large, total)
        small.close()
        large.close()


def small_vs_large_postgres(
    fill: _Fill, measure: _Measure, small_size: int, total: int, analyze: Sequence[str]
) -> None:
    """The same on PostgreSQL, each store in a schema of its own (dropped afterwards).

    :param analyze: the tables to ``ANALYZE`` once filled, so the planner sees their size.
    """
    try:
        import psycopg

        from referralkit.adapters.postgres import PostgresStore
    except ImportError:
        print("  PostgreSQL skipped: psycopg missing (referralkit[postgres])")
        return
    try:
        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except psycopg.OperationalError:
        print(f"  PostgreSQL skipped: no server at {PG_DSN!r}")
        return
    schemas = [f"rk_bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    try:
        small = PostgresStore(PG_DSN, schema=schemas[0])
        large = PostgresStore(PG_DSN, schema=schemas[1])
        fill(small, small_size)
        fill(large, total)
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            for schema in schemas:
                for table in analyze:
                    conn.execute(f"ANALYZE {schema}.{table}")
        measure("PostgreSQL", small, large, total)
        small.close()
        large.close()
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
