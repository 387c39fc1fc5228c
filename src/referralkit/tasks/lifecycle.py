"""The human-task lifecycle: pure functions from a referral's tasks to their next tuple.

::

    open ──claim──> claimed ──complete──> done
     │ ^              │  └────cancel───> cancelled
     │ └──release─────┘
     ├──snooze──> snoozed ──wake (sweep) / claim──> open / claimed
     └──cancel / moot──> cancelled

Each operation returns a :class:`TaskUpdate`: the referral's new task tuple and the event kind
and data to commit it with (through ``ReferralDesk.amend``, the one commit path). Nothing here
writes; an operation the task's status does not allow raises
:class:`~referralkit.errors.TaskStateError` before anything is committed.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import attrs

from referralkit.errors import HandoffNotAllowedError, TaskNotFoundError, TaskStateError
from referralkit.model import Actor, HumanTask, Referral, TaskChange, TaskPriority, TaskStatus
from referralkit.model.records import TaskAction
from referralkit.routing.queues import QueueConfig

__all__ = [
    "CLOSED_STATUSES",
    "LIVE_STATUSES",
    "TASK_EVENT_PREFIX",
    "TaskUpdate",
    "cancel",
    "claim",
    "complete",
    "escalated",
    "find_task",
    "handoff_allowed",
    "reassign",
    "release",
    "snooze",
    "wake",
]

TASK_EVENT_PREFIX: Final = "task_"
"""Every task event kind starts with this (``task_claimed``, ``task_mooted``...)."""
LIVE_STATUSES: Final = frozenset({TaskStatus.OPEN, TaskStatus.CLAIMED, TaskStatus.SNOOZED})
"""Statuses of a task still to be worked."""
CLOSED_STATUSES: Final = frozenset({TaskStatus.DONE, TaskStatus.CANCELLED})
"""Statuses a task never leaves."""
_S = TaskStatus


@attrs.frozen
class TaskUpdate:
    """A computed change of a referral's tasks, ready for ``amend``.

    :ivar kind: the event kind (``task_claimed``, ``task_completed``...).
    :ivar tasks: the referral's complete new task tuple.
    :ivar data: the event data (ids, queues, codes: never the note).

    .. versionadded:: 0.1
    """

    kind: str
    tasks: tuple[HumanTask, ...]
    data: Mapping[str, Any]

    def update(self) -> dict[str, Any]:
        """Return the ``update`` mapping for ``amend``."""
        return {"tasks": self.tasks}


def find_task(referral: Referral, task_id: UUID) -> HumanTask:
    """Return the referral's task *task_id*.

    :raises TaskNotFoundError: the referral has no such task.
    """
    for task in referral.tasks:
        if task.id == task_id:
            return task
    raise TaskNotFoundError(referral.id, task_id)


def handoff_allowed(queues: QueueConfig, source: str, target: str) -> bool:
    """Return whether work may move from queue *source* to queue *target*.

    Allowed: up the escalation ladder (*target* is *source*'s supervisor queue), between two
    queues some call type may both hand off to, and from an undeclared queue (``outreach``,
    say) to any declared one. Never to an undeclared queue.
    """
    if target not in queues.queues or target == source:
        return False
    if source not in queues.queues:
        return True
    if queues.supervisor_of(source) == target:
        return True
    return any(source in allowed and target in allowed for allowed in queues.handoffs.values())


def _changed(
    referral: Referral,
    task: HumanTask,
    action: TaskAction,
    actor: Actor,
    now: datetime,
    **fields: Any,
) -> tuple[HumanTask, tuple[HumanTask, ...]]:
    # model_copy does not validate: every value passed here is already typed.
    draft = task.model_copy(update=fields)
    entry = TaskChange(
        action=action,
        at=now,
        actor_id=actor.id,
        actor_kind=actor.kind,
        status=draft.status,
        queue=draft.queue,
        assignee=draft.assignee,
    )
    new = draft.model_copy(update={"changes": (*task.changes, entry)})
    return new, tuple(new if t.id == task.id else t for t in referral.tasks)


def _data(task: HumanTask, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"task_id": str(task.id), "queue": task.queue}
    data.update({k: v for k, v in extra.items() if v is not None})
    return data


def _refuse(referral: Referral, task: HumanTask, action: str, why: str = "") -> TaskStateError:
    return TaskStateError(referral.id, task.id, task.status.value, action, why)


def claim(referral: Referral, task_id: UUID, *, actor: Actor, now: datetime) -> TaskUpdate:
    """Claim an open (or snoozed) task for *actor*: they are now working it.

    :raises TaskStateError: it is closed, or another person holds it.
    """
    task = find_task(referral, task_id)
    if task.status is _S.CLAIMED and task.assignee == actor.id:
        raise _refuse(referral, task, "claim", "you hold it already")
    if task.status not in (_S.OPEN, _S.SNOOZED):
        raise _refuse(referral, task, "claim")
    new, tasks = _changed(
        referral,
        task,
        "claimed",
        actor,
        now,
        status=_S.CLAIMED,
        assignee=actor.id,
        snoozed_until=None,
    )
    return TaskUpdate("task_claimed", tasks, _data(new, assignee=actor.id))


def release(referral: Referral, task_id: UUID, *, actor: Actor, now: datetime) -> TaskUpdate:
    """Put a claimed task back in its queue, unassigned.

    Releasing a task whose reason went away while it was held (``moot`` set) closes it
    instead: nobody else should pick up moot work.

    :raises TaskStateError: it is not claimed.
    """
    task = find_task(referral, task_id)
    if task.status is not _S.CLAIMED:
        raise _refuse(referral, task, "release")
    if task.moot is not None:
        new, tasks = _close(
            referral, task, "released", actor, now, status=_S.CANCELLED, reason=task.moot
        )
        return TaskUpdate("task_released", tasks, _data(new, reason=task.moot))
    new, tasks = _changed(referral, task, "released", actor, now, status=_S.OPEN, assignee=None)
    return TaskUpdate("task_released", tasks, _data(new, previous_assignee=task.assignee))


def reassign(
    referral: Referral,
    task_id: UUID,
    *,
    actor: Actor,
    now: datetime,
    queues: QueueConfig,
    queue: str | None = None,
    assignee: str | None = None,
) -> TaskUpdate:
    """Move a live task to another queue (an approved hand-off) and/or another person.

    Moving to a queue unassigns it (it waits open there) unless *assignee* is given too;
    naming only an assignee hands the claim to that person.

    :raises TaskStateError: it is closed, neither *queue* nor *assignee* is given, or it is
        moot and *queue* would hand it to others.
    :raises HandoffNotAllowedError: *queue* is not an approved hand-off from its queue.
    """
    task = find_task(referral, task_id)
    if task.status not in LIVE_STATUSES:
        raise _refuse(referral, task, "reassign")
    if queue is None and assignee is None:
        raise _refuse(referral, task, "reassign", "name a queue or an assignee")
    fields: dict[str, Any] = {}
    if queue is not None and queue != task.queue:
        if task.moot is not None:
            raise _refuse(referral, task, "hand off", "its reason is gone: complete or cancel it")
        if not handoff_allowed(queues, task.queue, queue):
            raise HandoffNotAllowedError(referral.id, task.id, task.queue, queue)
        fields.update(queue=queue, status=_S.OPEN, assignee=None, snoozed_until=None)
    if assignee is not None:
        fields.update(status=_S.CLAIMED, assignee=assignee, snoozed_until=None)
    new, tasks = _changed(referral, task, "reassigned", actor, now, **fields)
    return TaskUpdate(
        "task_reassigned",
        tasks,
        _data(new, from_queue=task.queue, assignee=new.assignee),
    )


def _close(
    referral: Referral,
    task: HumanTask,
    action: TaskAction,
    actor: Actor,
    now: datetime,
    *,
    status: TaskStatus,
    reason: str,
    outcome: str | None = None,
    note: str | None = None,
) -> tuple[HumanTask, tuple[HumanTask, ...]]:
    return _changed(
        referral,
        task,
        action,
        actor,
        now,
        status=status,
        close_reason=reason,
        closed_at=now,
        closed_by=actor.id,
        outcome=outcome,
        note=note if note is not None else task.note,
        snoozed_until=None,
    )


def complete(
    referral: Referral,
    task_id: UUID,
    *,
    actor: Actor,
    now: datetime,
    outcome: str,
    note: str | None = None,
) -> TaskUpdate:
    """Mark a live task done with an *outcome* code and an optional note (PHI-masked).

    A person may complete a task without claiming it first (it is claimed and done in one
    step); a task another person holds must be released or reassigned first.

    :raises TaskStateError: it is closed, held by someone else, or *outcome* is empty.
    """
    task = find_task(referral, task_id)
    if task.status not in LIVE_STATUSES:
        raise _refuse(referral, task, "complete")
    if task.status is _S.CLAIMED and task.assignee not in (None, actor.id):
        raise _refuse(referral, task, "complete", "another person holds it")
    if not outcome.strip():
        raise _refuse(referral, task, "complete", "an outcome code is required")
    new, tasks = _close(
        referral,
        task,
        "completed",
        actor,
        now,
        status=_S.DONE,
        reason="completed",
        outcome=outcome,
        note=note,
    )
    return TaskUpdate("task_completed", tasks, _data(new, outcome=outcome))


def cancel(
    referral: Referral,
    task_id: UUID,
    *,
    actor: Actor,
    now: datetime,
    reason: str,
    note: str | None = None,
) -> TaskUpdate:
    """Cancel a live task, saying why (a short code or phrase, not PHI).

    :raises TaskStateError: it is closed or *reason* is empty.
    """
    task = find_task(referral, task_id)
    if task.status not in LIVE_STATUSES:
        raise _refuse(referral, task, "cancel")
    if not reason.strip():
        raise _refuse(referral, task, "cancel", "a reason is required")
    new, tasks = _close(
        referral,
        task,
        "cancelled",
        actor,
        now,
        status=_S.CANCELLED,
        reason=reason,
        note=note,
    )
    return TaskUpdate("task_cancelled", tasks, _data(new, reason=reason))


def snooze(
    referral: Referral, task_id: UUID, *, actor: Actor, now: datetime, until: datetime
) -> TaskUpdate:
    """Set a live task aside until *until*; the task sweep reopens it then.

    Snoozing unassigns it, and its due time moves to *until* if that is later.

    :raises TaskStateError: it is closed or moot, or *until* is not in the future.
    """
    task = find_task(referral, task_id)
    if task.status not in LIVE_STATUSES:
        raise _refuse(referral, task, "snooze")
    if until <= now:
        raise _refuse(referral, task, "snooze", "the snooze must end in the future")
    if task.moot is not None:
        raise _refuse(referral, task, "snooze", "its reason is gone: complete or cancel it")
    new, tasks = _changed(
        referral,
        task,
        "snoozed",
        actor,
        now,
        status=_S.SNOOZED,
        assignee=None,
        snoozed_until=until,
        due_at=max(task.due_at, until),
    )
    return TaskUpdate("task_snoozed", tasks, _data(new, until=until.isoformat()))


def wake(referral: Referral, now: datetime, *, actor: Actor) -> TaskUpdate | None:
    """Reopen every snoozed task whose snooze has ended; ``None`` when there is none."""
    woken: list[str] = []
    current = referral
    for task in referral.tasks:
        until = task.snoozed_until
        if task.status is _S.SNOOZED and until is not None and until <= now:
            _, tasks = _changed(
                current, task, "woken", actor, now, status=_S.OPEN, snoozed_until=None
            )
            current = current.model_copy(update={"tasks": tasks})
            woken.append(str(task.id))
    if not woken:
        return None
    return TaskUpdate("task_woken", current.tasks, {"task_ids": woken})


def escalated(
    referral: Referral,
    task: HumanTask,
    *,
    actor: Actor,
    now: datetime,
    level: int,
    opened: HumanTask | None,
) -> TaskUpdate:
    """Record that *task* climbed its ladder to *level* (and, optionally, open *opened*)."""
    fields: dict[str, Any] = {"escalation_level": level}
    if level >= 1:
        fields["priority"] = TaskPriority.URGENT
    new, tasks = _changed(referral, task, "escalated", actor, now, **fields)
    if opened is not None:
        tasks = (*tasks, opened)
    return TaskUpdate(
        "task_escalated",
        tasks,
        _data(
            new,
            level=level,
            opened_task_id=None if opened is None else str(opened.id),
            opened_queue=None if opened is None else opened.queue,
        ),
    )
