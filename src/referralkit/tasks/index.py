"""The task index: one row per human task, kept by the store in the referral's transaction.

Work lists read the index, never the referrals, so a queue's work list costs what the queue
holds, not what the database holds. A store derives the rows with :func:`task_rows` inside its
``create``/``save`` transaction, so the index never disagrees with the referrals.

Ordering is by urgency (``urgent`` first), then due time, then task id; a page continues after
the :class:`TaskCursor` of the last row (keyset paging).

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable
from uuid import UUID

import attrs

from referralkit.model import ReferralStatus, TaskPriority, TaskStatus

if TYPE_CHECKING:
    from referralkit.model import Referral

__all__ = [
    "URGENCY",
    "QueueCounts",
    "TaskCursor",
    "TaskIndex",
    "TaskQuery",
    "TaskRow",
    "count_rows",
    "files_no_tasks",
    "query_rows",
    "task_rows",
]

URGENCY: Final[Mapping[TaskPriority, int]] = {
    TaskPriority.URGENT: 0,
    TaskPriority.HIGH: 1,
    TaskPriority.NORMAL: 2,
    TaskPriority.LOW: 3,
}
"""Sort rank per priority: lower is worked first."""
_LIVE: Final = (TaskStatus.OPEN, TaskStatus.CLAIMED)


@attrs.frozen
class TaskRow:
    """One task as a work list shows it (no PHI: titles and reasons are codes and phrases).

    .. versionadded:: 0.1
    """

    task_id: UUID
    referral_id: UUID
    queue: str
    status: TaskStatus
    priority: TaskPriority
    due_at: datetime
    created_at: datetime
    title: str
    assignee: str | None = None
    moot: bool = False
    escalation_level: int = 0

    @property
    def cursor(self) -> TaskCursor:
        """The cursor to pass as ``after`` for the page that follows this row."""
        return TaskCursor(URGENCY[self.priority], self.due_at, self.task_id)


@attrs.frozen(order=True)
class TaskCursor:
    """Where a work-list page ended: (urgency rank, due time, task id).

    .. versionadded:: 0.1
    """

    urgency: int
    due_at: datetime
    task_id: UUID

    def key(self) -> tuple[int, datetime, str]:
        """Return the sort key (ids compare as text, as the SQL stores do)."""
        return (self.urgency, self.due_at, str(self.task_id))


@attrs.frozen
class TaskQuery:
    """What a work list asks for; ``None`` means no filter on that field.

    :ivar statuses: default: open and claimed (what is to be worked now).
    :ivar due_before: only tasks due strictly before this instant.

    .. versionadded:: 0.1
    """

    queue: str | None = None
    statuses: tuple[TaskStatus, ...] = _LIVE
    assignee: str | None = None
    due_before: datetime | None = None
    priority: TaskPriority | None = None
    limit: int = attrs.field(default=50, validator=attrs.validators.ge(1))
    after: TaskCursor | None = None


@attrs.frozen
class QueueCounts:
    """A queue's numbers for a dashboard (open and claimed tasks).

    :ivar open: tasks open or claimed.
    :ivar overdue: of those, due before now.
    :ivar due_today: of those, due from now until the end of the day.
    :ivar oldest: creation time of the oldest one.

    .. versionadded:: 0.1
    """

    queue: str
    open: int
    overdue: int
    due_today: int
    oldest: datetime | None


@runtime_checkable
class TaskIndex(Protocol):
    """A store that keeps the task index (memory, SQLite and PostgreSQL do).

    .. versionadded:: 0.1
    """

    def tasks(self, query: TaskQuery) -> list[TaskRow]:
        """Return up to ``query.limit`` indexed tasks matching *query*, most urgent first."""
        ...

    def queue_counts(self, now: datetime, day_end: datetime) -> dict[str, QueueCounts]:
        """Return the counts of every queue with open or claimed tasks."""
        ...


def files_no_tasks(referral: Referral) -> bool:
    """Return whether *referral* is void (entered in error), so none of its tasks is indexed."""
    return referral.status is ReferralStatus.ENTERED_IN_ERROR


def task_rows(referral: Referral) -> list[TaskRow]:
    """Derive the index rows of *referral* (none for a referral entered in error: it is void)."""
    if files_no_tasks(referral):
        return []
    return [
        TaskRow(
            task_id=t.id,
            referral_id=referral.id,
            queue=t.queue,
            status=t.status,
            priority=t.priority,
            due_at=t.due_at.astimezone(UTC),
            created_at=t.created_at.astimezone(UTC),
            title=t.title,
            assignee=t.assignee,
            moot=t.moot is not None,
            escalation_level=t.escalation_level,
        )
        for t in referral.tasks
    ]


def _row_key(row: TaskRow) -> tuple[int, datetime, str]:
    return (URGENCY[row.priority], row.due_at, str(row.task_id))


def query_rows(rows: Iterable[TaskRow], query: TaskQuery) -> list[TaskRow]:
    """Filter, order and page *rows* by *query* (the memory store's index; also a reference)."""
    after = query.after.key() if query.after is not None else None
    found = [
        r
        for r in rows
        if (query.queue is None or r.queue == query.queue)
        and r.status in query.statuses
        and (query.assignee is None or r.assignee == query.assignee)
        and (query.due_before is None or r.due_at < query.due_before)
        and (query.priority is None or r.priority is query.priority)
        and (after is None or _row_key(r) > after)
    ]
    found.sort(key=_row_key)
    return found[: query.limit]


def count_rows(
    rows: Iterable[TaskRow], now: datetime, day_end: datetime
) -> dict[str, QueueCounts]:
    """Count live rows per queue (the memory store's counts; also a reference)."""
    counts: dict[str, QueueCounts] = {}
    for row in rows:
        if row.status not in _LIVE:
            continue
        was = counts.get(row.queue) or QueueCounts(row.queue, 0, 0, 0, None)
        counts[row.queue] = QueueCounts(
            row.queue,
            was.open + 1,
            was.overdue + (row.due_at < now),
            was.due_today + (now <= row.due_at < day_end),
            row.created_at if was.oldest is None else min(was.oldest, row.created_at),
        )
    return dict(sorted(counts.items()))
