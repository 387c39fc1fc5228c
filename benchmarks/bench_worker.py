"""Dispatch throughput with 1, 2, 4 and 8 workers: ``python benchmarks/bench_worker.py``.

Each worker is a thread running dispatch jobs (:func:`referralkit.worker.run_dispatch`, one per
due referral) from one queue filled by :func:`referralkit.worker.schedule_due`, as the
procrastinate worker's job threads do, on one desk over the in-memory store. The telephony
adapter answers after a fixed simulated latency (50 ms; 20 ms with ``--quick``), so the work
is adapter-bound, as it is with a real vendor. Each round runs every worker count on a fresh
desk with the same number of due actions, the order rotating from round to round, garbage
collector paused alike; building the referrals is not timed.

Figures: actions per second per worker count, and the speedup over one worker (time per action
with one worker / with N). Goals: 2 workers >= 1.8x, 8 workers >= 5x.
"""

from __future__ import annotations

import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable
from uuid import UUID

import attrs
from common import MIN_SAMPLES, RESULTS, START, no_gc, note

from referralkit import (
    Actor,
    ActorKind,
    Address,
    ManualClock,
    MemoryStore,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
)
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.adapters.memory.telephony import InMemoryTelephony
from referralkit.outbox import RetryPolicy
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import CallRequest, Receipt
from referralkit.worker import run_dispatch, schedule_due

WORKERS = (1, 2, 4, 8)
GOALS = {2: 1.8, 8: 5.0}
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr", role=Role.CLINICIAN)
NOW = START.replace(hour=15)  # inside the patients' calling hours


@attrs.define
class SlowTelephony(InMemoryTelephony):
    """The telephony fake, answering after a fixed latency (a vendor's round trip)."""

    latency: float = 0.05

    def place_call(self, request: CallRequest) -> Receipt:
        time.sleep(self.latency)
        return super().place_call(request)


def _desk(latency: float) -> tuple[ReferralDesk, InMemoryPlugin]:
    clock = ManualClock(NOW)
    plugin = InMemoryPlugin.with_clock(clock)
    plugin.telephony = SlowTelephony(clock=clock, latency=latency)
    desk = ReferralDesk(
        store=MemoryStore(),
        clock=clock,
        hooks=Hooks(make_plugin_manager([plugin], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(1),
        outreach=OutreachSettings(),
    )
    return desk, plugin


def _referral(i: int) -> Referral:
    return Referral(
        status=ReferralStatus.RECEIVED,
        patient=Patient(
            given_name="Pat",
            family_name=f"Bench{i}",
            birth_date=START.date().replace(year=1980),
            phones=(PhoneContact(number="+15555550123"),),
            address=Address(line1="1 Main", city="Springfield", state="IL", postal_code="62701"),
        ),
        referring_practice=Practice(name=f"Practice {i % 20:02d}", fax="+15555550100"),
        receiving_practice=Practice(name="Lakeside Cardiology"),
        specialty="cardiology",
        reason=ReasonForReferral(text="x"),
    )


def _prepared(actions: int, latency: float) -> tuple[ReferralDesk, InMemoryPlugin, list[UUID]]:
    desk, plugin = _desk(latency)
    for i in range(actions):
        referral = desk.create(_referral(i), actor=SYSTEM)
        desk.fire(referral.id, "accept", actor=CLINICIAN)
        desk.fire(referral.id, "clear", actor=SYSTEM)
    jobs: list[UUID] = []
    schedule_due(desk.store, NOW, lambda referral_id, _urgent: jobs.append(referral_id) or True)
    return desk, plugin, jobs


def _run(desk: ReferralDesk, jobs: list[UUID], workers: int) -> Callable[[], None]:
    def go() -> None:
        pending: queue.SimpleQueue[UUID | None] = queue.SimpleQueue()
        for job in jobs:
            pending.put(job)
        for _ in range(workers):
            pending.put(None)

        def work() -> None:
            while (job := pending.get()) is not None:
                run_dispatch(desk, job)

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return go


def main(quick: bool = False) -> None:
    actions, latency = (48, 0.02) if quick else (200, 0.05)
    rounds = MIN_SAMPLES if quick else 7
    seconds: dict[int, list[float]] = {n: [] for n in WORKERS}
    for round_ in range(rounds):
        order = WORKERS[round_ % len(WORKERS) :] + WORKERS[: round_ % len(WORKERS)]
        for workers in order:
            desk, plugin, jobs = _prepared(actions, latency)
            go = _run(desk, jobs, workers)
            with no_gc():
                began = time.perf_counter()
                go()
                elapsed = time.perf_counter() - began
            # Every due action went out once: the figure is of work actually done.
            assert len(plugin.telephony.contacts) == actions, (
                workers,
                len(plugin.telephony.contacts),
            )
            seconds[workers].append(elapsed / actions)
    print(f"dispatch throughput, {actions} due calls, adapter latency {latency * 1000:.0f} ms")
    for workers in WORKERS:
        note(
            f"dispatch with {workers} worker(s)",
            1 / statistics.median(seconds[workers]),
            "actions/s",
        )
    base = seconds[1]
    for workers in WORKERS[1:]:
        ratios = [b / m for b, m in zip(base, seconds[workers], strict=True)]
        speedup = statistics.median(base) / statistics.median(seconds[workers])
        goal = GOALS.get(workers)
        verdict = "" if goal is None else ("  ok" if speedup >= goal else f"  UNDER GOAL {goal}x")
        print(
            f"{f'dispatch speedup, {workers} workers vs 1':<58} {speedup:6.2f}x"
            f"  [{min(ratios):.2f}-{max(ratios):.2f}, n={len(ratios)}]{verdict}"
        )
        RESULTS.append(
            {
                "name": f"dispatch speedup, {workers} workers vs 1",
                "ratio": speedup,
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
                "samples": len(ratios),
                "goal": goal,
                "ok": None if goal is None else speedup >= goal,
                "higher_is_better": True,
            }
        )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
