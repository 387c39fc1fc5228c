"""Human work: the task lifecycle, moot closures, work lists, task SLAs and the interaction log.

See ``docs/work.md``. The pure parts (:mod:`~referralkit.tasks.lifecycle`,
:mod:`~referralkit.tasks.moot`, :mod:`~referralkit.tasks.sla`,
:mod:`~referralkit.tasks.interactions`) compute changes; :class:`TaskService` commits them
through the desk's ``amend``.

.. versionadded:: 0.1
"""

from referralkit.tasks.index import (
    URGENCY,
    QueueCounts,
    TaskCursor,
    TaskIndex,
    TaskQuery,
    TaskRow,
    task_rows,
)
from referralkit.tasks.interactions import (
    Continuity,
    LastEvent,
    call_interaction,
    continuity,
    interaction_log,
    outbox_interactions,
    status_disclosure,
)
from referralkit.tasks.lifecycle import (
    CLOSED_STATUSES,
    LIVE_STATUSES,
    TaskUpdate,
    handoff_allowed,
)
from referralkit.tasks.mirror import MirrorDesk, MirrorReport, MirrorSettings, mirror_work
from referralkit.tasks.moot import MOOT_ACTOR, MootPolicy, moot_closures, moot_reason
from referralkit.tasks.service import (
    INTERACTION_LOGGED,
    TASK_SLA_ACTOR,
    TaskDesk,
    TaskService,
    TaskSweepReport,
    close_moot_tasks,
)
from referralkit.tasks.sla import EscalationStep, due_escalations

__all__ = [
    "CLOSED_STATUSES",
    "INTERACTION_LOGGED",
    "LIVE_STATUSES",
    "MOOT_ACTOR",
    "TASK_SLA_ACTOR",
    "URGENCY",
    "Continuity",
    "EscalationStep",
    "LastEvent",
    "MirrorDesk",
    "MirrorReport",
    "MirrorSettings",
    "MootPolicy",
    "QueueCounts",
    "TaskCursor",
    "TaskDesk",
    "TaskIndex",
    "TaskQuery",
    "TaskRow",
    "TaskService",
    "TaskSweepReport",
    "TaskUpdate",
    "call_interaction",
    "close_moot_tasks",
    "continuity",
    "due_escalations",
    "handoff_allowed",
    "interaction_log",
    "mirror_work",
    "moot_closures",
    "moot_reason",
    "outbox_interactions",
    "status_disclosure",
    "task_rows",
]
