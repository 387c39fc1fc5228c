"""Shared helpers for the benchmarks: timing by medians, ratio printing, sample referrals."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
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
)

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


def per_op(fn: Callable[[], object], ops: int, repeats: int = 5) -> float:
    """Median seconds per operation of *fn*, which performs *ops* operations per call."""
    samples = []
    for _ in range(repeats):
        with no_gc():
            began = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - began) / ops)
    return statistics.median(samples)


def compare(
    ours: Callable[[], object], baseline: Callable[[], object], ops: int, rounds: int = 7
) -> tuple[float, float]:
    """Median seconds per operation of *ours* and *baseline*, measured interleaved.

    Interleaving keeps both sides under the same machine load, so their ratio is stable even
    when absolute times drift.
    """
    mine, base = [], []
    for _ in range(rounds):
        with no_gc():
            began = time.perf_counter()
            baseline()
            base.append((time.perf_counter() - began) / ops)
        with no_gc():
            began = time.perf_counter()
            ours()
            mine.append((time.perf_counter() - began) / ops)
    return statistics.median(mine), statistics.median(base)


def report(name: str, ours: float, baseline: float, goal: float | None = None) -> float:
    """Print one figure as a ratio to its baseline; return the ratio."""
    ratio = ours / baseline
    verdict = "" if goal is None else ("  ok" if ratio <= goal else f"  OVER GOAL {goal}x")
    print(
        f"{name:<58} {ratio:6.2f}x  (ours {ours * 1e6:8.2f} us, baseline {baseline * 1e6:8.2f} us)"
        f"{verdict}"
    )
    return ratio


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
