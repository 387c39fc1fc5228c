"""The worker's units of work, engine-neutral: what each job does, whatever runs the jobs.

Three kinds of job keep a deployment's outreach and routing going::

    schedule (periodic)   due referrals in the store  ->  enqueue(referral id), once each
    dispatch (per id)     lease the referral, run its due actions, release it
    routing (periodic)    the routing sweep, then the task sweep (wake, escalate)

The store is the source of truth: a referral is due while ``next_action_at <= now``, and an
interrupted action (``action_queued`` without an outcome) keeps it due. So ``schedule`` is
also the reconciler: whatever was lost (a job dropped, a worker killed mid-job), the next
tick enqueues again, and ``dispatch`` is harmless to repeat (the lease, the version-checked
claim and the idempotency key stop a second send). :mod:`referralkit.worker.engine` runs
these on procrastinate; docs/deployment.md shows the same on Celery or Dramatiq.

.. versionadded:: 0.4
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol
from uuid import UUID

import attrs

from referralkit.outreach.dispatch import SweepReport
from referralkit.store import Store, WorkerStore

__all__ = [
    "RoutingDesk",
    "ScheduleReport",
    "WorkerDesk",
    "due_referral_ids",
    "run_dispatch",
    "run_routing",
    "schedule_due",
]

_log = logging.getLogger("referralkit.worker")


class WorkerDesk(Protocol):
    """What a dispatch job needs of the desk (:class:`~referralkit.desk.ReferralDesk`)."""

    @property
    def store(self) -> Store:
        """The store; a :class:`~referralkit.store.WorkerStore` for dispatch jobs."""
        ...

    def dispatch_referral(self, referral_id: UUID, now: datetime | None = ...) -> SweepReport:
        """Lease one referral, run its due outreach, release it."""
        ...


class RoutingDesk(Protocol):
    """What a routing job needs of the desk."""

    def sweep_routing(self, now: datetime | None = ...) -> object:
        """Route the referrals due for routing."""
        ...

    def sweep_tasks(self, now: datetime | None = ...) -> object:
        """Wake snoozed tasks and escalate overdue ones."""
        ...


@attrs.frozen
class ScheduleReport:
    """What one schedule tick did.

    :ivar due: due referrals seen.
    :ivar enqueued: jobs enqueued for them.
    :ivar already: referrals whose job was already waiting (the engine refused a second).
    :ivar abandoned: referrals whose lease expired unreleased, enqueued as urgent.
    """

    due: int = 0
    enqueued: int = 0
    already: int = 0
    abandoned: int = 0


def due_referral_ids(store: Store, now: datetime, *, page_size: int = 500) -> Iterator[UUID]:
    """Yield the ids of referrals due for outreach at *now*, oldest due first.

    Pages the store's due index by keyset ``(next_action_at, id)``: the cost follows the number
    due, not the number stored.
    """
    after: tuple[datetime, UUID] | None = None
    while True:
        page = store.due(now, limit=page_size, after=after)
        for referral in page:
            yield referral.id
        if len(page) < page_size:
            return
        last = page[-1]
        if last.next_action_at is None:  # pragma: no cover - due() returns only due rows
            return
        after = (last.next_action_at, last.id)


def schedule_due(
    store: Store,
    now: datetime,
    enqueue: Callable[[UUID, bool], bool],
    *,
    limit: int | None = None,
) -> ScheduleReport:
    """Enqueue a dispatch job for each referral due at *now* (the schedule and reconcile tick).

    Referrals whose lease expired unreleased (their worker died mid-job) go first, marked
    urgent; then the due referrals, oldest due first.

    :param enqueue: the engine's enqueue of one referral id, given whether it is urgent (the
        engine runs urgent jobs first); returns ``False`` when a job for it is already waiting
        (procrastinate's queueing lock, a Celery/Dramatiq dedupe key). Enqueuing twice is safe
        all the same: the second job finds nothing to do.
    :param limit: look at most at this many due referrals (the oldest); the rest wait a tick.
    """
    due = enqueued = already = 0
    abandoned = store.abandoned(now, limit=limit or 100) if isinstance(store, WorkerStore) else []
    for referral_id in abandoned:
        if enqueue(referral_id, True):
            enqueued += 1
    urgent = set(abandoned)
    for referral_id in due_referral_ids(store, now):
        if limit is not None and due >= limit:
            break
        due += 1
        if referral_id in urgent:
            continue
        if enqueue(referral_id, False):
            enqueued += 1
        else:
            already += 1
    report = ScheduleReport(due=due, enqueued=enqueued, already=already, abandoned=len(abandoned))
    _log.info(
        "worker schedule: %s due, %s abandoned, %s enqueued, %s already waiting",
        due,
        len(abandoned),
        enqueued,
        already,
        extra={"referralkit": {"operation": "worker_schedule", **attrs.asdict(report)}},
    )
    return report


def run_dispatch(desk: WorkerDesk, referral_id: UUID, now: datetime | None = None) -> SweepReport:
    """Run one dispatch job: :meth:`~referralkit.desk.ReferralDesk.dispatch_referral`."""
    return desk.dispatch_referral(referral_id, now)


def run_routing(desk: RoutingDesk, now: datetime | None = None) -> None:
    """Run one routing job: the routing sweep, then the task sweep."""
    desk.sweep_routing(now)
    desk.sweep_tasks(now)
