"""A queue's work list costs what the queue holds, not what the database holds.

``python benchmarks/bench_worklist.py [--quick]``

Two stores per backend (SQLite, and PostgreSQL when a server answers at
``REFERRALKIT_PG_DSN``), both with exactly 200 open tasks in the ``scheduling`` queue:

* small: 1,000 open referrals;
* large: 1,000,000 open referrals (30,000 with ``--quick``, which CI runs); one in ten of the
  others has an open task in another queue, so the task index itself is large too.

Timed: the first page of the queue's work list (50 tasks by urgency, then due time), through
``ReferralDesk.tasks``, interleaved large/small. Goal: large/small <= 1.5. The per-queue
dashboard counts scan every open task (all queues) and are shown for information.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from common import compare, report, small_vs_large_postgres, small_vs_large_sqlite

from referralkit import (
    Actor,
    ActorKind,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
    created,
)
from referralkit.clock import ManualClock
from referralkit.events import Event
from referralkit.model import HumanTask, Patient, PhoneContact, TaskPriority
from referralkit.store import Store

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
QUEUE_TASKS = 200
SMALL = 1_000
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="bench", role=Role.SYSTEM)
PRIORITIES = list(TaskPriority)


def _template() -> Referral:
    return Referral(
        status=ReferralStatus.RECEIVED,
        patient=Patient(
            given_name="Ada",
            family_name="Lovelace",
            birth_date=date(1980, 1, 2),
            phones=(PhoneContact(number="+15555550123"),),
        ),
        referring_practice=Practice(name="Maple Street FM"),
        receiving_practice=Practice(name="Lakeside Cardiology"),
        specialty="cardiology",
        reason=ReasonForReferral(text="palpitations"),
    )


def _task(queue: str, number: int) -> HumanTask:
    return HumanTask(
        queue=queue,
        title="Book the appointment",
        reason="ready to schedule",
        priority=PRIORITIES[number % 4],
        created_at=T0 - timedelta(hours=number % 48),
        due_at=T0 + timedelta(minutes=number % 5_000),
    )


def _referrals(total: int) -> Iterator[tuple[Referral, Event]]:
    template = _template()
    # The queue's tasks are spread through the id space, as real ones would be.
    every = max(1, total // QUEUE_TASKS)
    placed = 0
    for number in range(total):
        tasks: tuple[HumanTask, ...] = ()
        if number % every == 0 and placed < QUEUE_TASKS:
            tasks = (_task("scheduling", number),)
            placed += 1
        elif number % 10 == 1:
            tasks = (_task("clinical_review", number),)
        referral = template.model_copy(
            update={"id": uuid.uuid4(), "referral_number": f"W-{number}", "tasks": tasks}
        )
        change = created(referral, SYSTEM, T0 - timedelta(days=1))
        yield change.referral, change.event


def _fill(store: Store, total: int) -> None:
    began = time.perf_counter()
    store.create_many(_referrals(total), batch_size=5_000)
    print(f"  built {total:,} open referrals in {time.perf_counter() - began:.1f} s")


def _measure(backend: str, small: Store, large: Store, total: int) -> None:
    clock = ManualClock(T0)
    small_desk = ReferralDesk(store=small, clock=clock)
    large_desk = ReferralDesk(store=large, clock=clock)
    for desk in (small_desk, large_desk):
        queue = desk.tasks(queue="scheduling", limit=QUEUE_TASKS + 1)
        assert len(queue) == QUEUE_TASKS, len(queue)
        first = desk.tasks(queue="scheduling", limit=50)
        assert [r.task_id for r in first] == [r.task_id for r in queue[:50]]

    def page(desk: ReferralDesk) -> None:
        for _ in range(20):
            desk.tasks(queue="scheduling", limit=50)

    ours, base = compare(lambda: page(large_desk), lambda: page(small_desk), ops=20)
    report(f"{backend} work list, first 50 of 200 ({total:,} vs {SMALL:,})", ours, base, goal=1.5)
    ours, base = compare(
        lambda: large_desk.queue_counts(), lambda: small_desk.queue_counts(), ops=1, rounds=3
    )
    report(f"{backend} queue counts, all queues (info: scans open tasks)", ours, base)


def main(quick: bool = False) -> None:
    """Run the benchmark; *quick* builds 30,000 open referrals, not 1,000,000."""
    total = 30_000 if quick else 1_000_000
    print(f"work list: one queue of 200 tasks, {total:,} open referrals vs {SMALL:,}")
    small_vs_large_sqlite("bench-worklist-", _fill, _measure, SMALL, total)
    small_vs_large_postgres(_fill, _measure, SMALL, total, analyze=("referralkit_tasks",))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(quick="--quick" in sys.argv)
