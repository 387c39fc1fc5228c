"""Task SLAs: an overdue task climbs its queue's escalation ladder, one recorded step at a time.

Reuses the routing SLA machinery (:func:`referralkit.routing.sla.ladder_level` and the
priority's ``escalate_every``): step 1 is due at the task's due time, each further step
``escalate_every`` later. The ladder of a task in queue *q*:

1. **owner**: the task becomes ``urgent`` (it rises to the top of its work list);
2. **supervisor**: a task opens in *q*'s supervisor queue, pointing at the overdue task;
3. and so on up the chain of ``escalates_to`` queues, while there is one.

Each step is recorded on the task (``escalation_level``) in its own event, so it happens once.

.. versionadded:: 0.1
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import NAMESPACE_URL, uuid5

import attrs

from referralkit.model import HumanTask, Referral, TaskPriority
from referralkit.routing.calendar import BusinessCalendar
from referralkit.routing.queues import QueueConfig
from referralkit.routing.sla import SlaPolicy, ladder_level
from referralkit.tasks.lifecycle import LIVE_STATUSES

__all__ = ["TASK_SLA_RULE_PREFIX", "EscalationStep", "due_escalations", "supervisor_chain"]

TASK_SLA_RULE_PREFIX: Final = "task_sla:"
"""``rule_id`` prefix of a supervisor task opened for an overdue task (then its id)."""
_NS: Final = uuid5(NAMESPACE_URL, "referralkit:task-sla")


@attrs.frozen
class EscalationStep:
    """One ladder step due for a task: its level and the supervisor task it opens, if any.

    .. versionadded:: 0.1
    """

    task: HumanTask
    level: int
    opens: HumanTask | None


def supervisor_chain(queues: QueueConfig, queue: str) -> list[str]:
    """Return the queues above *queue*, nearest first (stops at a repeat, for safety)."""
    chain: list[str] = []
    current = queues.supervisor_of(queue)
    while current is not None and current not in chain and current != queue:
        chain.append(current)
        current = queues.supervisor_of(current)
    return chain


def due_escalations(
    referral: Referral,
    now: datetime,
    *,
    queues: QueueConfig,
    sla: SlaPolicy,
    calendar: BusinessCalendar,
) -> list[EscalationStep]:
    """Return the ladder steps due *now* and not yet recorded, oldest step first per task.

    Only open and claimed tasks escalate (a snoozed one waits for its snooze to end).
    """
    every = sla.for_priority(referral.priority).escalate_every
    steps: list[EscalationStep] = []
    for task in referral.tasks:
        if task.status not in LIVE_STATUSES or task.snoozed_until is not None:
            continue
        if task.moot is not None or now < task.due_at:
            continue
        chain = supervisor_chain(queues, task.queue)
        top = min(ladder_level(task.due_at, every, now, calendar), 1 + len(chain))
        for level in range(task.escalation_level + 1, top + 1):
            opens = None
            if level >= 2:
                target = chain[level - 2]
                opens = HumanTask(
                    id=uuid5(_NS, f"{task.id}:{level}"),
                    queue=target,
                    title=f"Overdue in {task.queue}: {task.title}"[:500],
                    reason=f"task {task.id} overdue since {task.due_at.isoformat()}",
                    priority=TaskPriority.URGENT,
                    created_at=now,
                    due_at=every.add_to(now, calendar),
                    rule_id=f"{TASK_SLA_RULE_PREFIX}{task.id}",
                )
            steps.append(EscalationStep(task, level, opens))
    return steps
