"""Human work: the task lifecycle, moot closures, work lists, task SLAs and the interaction log.

See ``docs/work.md``. The pure parts (:mod:`~referralkit.tasks.lifecycle`,
:mod:`~referralkit.tasks.moot`, :mod:`~referralkit.tasks.sla`,
:mod:`~referralkit.tasks.interactions`) compute changes; :class:`TaskService` commits them
through the desk's ``amend``.

.. versionadded:: 0.1
"""

from typing import TYPE_CHECKING

from referralkit._lazy import exports

if TYPE_CHECKING:  # the names as type checkers see them; at run time, __getattr__
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

# Each name is imported when first used, so importing one module of the package (as a
# store or the desk does) does not import all of it.
__getattr__ = exports(
    __name__,
    {
        "CLOSED_STATUSES": "referralkit.tasks.lifecycle",
        "Continuity": "referralkit.tasks.interactions",
        "EscalationStep": "referralkit.tasks.sla",
        "INTERACTION_LOGGED": "referralkit.tasks.service",
        "LIVE_STATUSES": "referralkit.tasks.lifecycle",
        "LastEvent": "referralkit.tasks.interactions",
        "MOOT_ACTOR": "referralkit.tasks.moot",
        "MirrorDesk": "referralkit.tasks.mirror",
        "MirrorReport": "referralkit.tasks.mirror",
        "MirrorSettings": "referralkit.tasks.mirror",
        "MootPolicy": "referralkit.tasks.moot",
        "QueueCounts": "referralkit.tasks.index",
        "TASK_SLA_ACTOR": "referralkit.tasks.service",
        "TaskCursor": "referralkit.tasks.index",
        "TaskDesk": "referralkit.tasks.service",
        "TaskIndex": "referralkit.tasks.index",
        "TaskQuery": "referralkit.tasks.index",
        "TaskRow": "referralkit.tasks.index",
        "TaskService": "referralkit.tasks.service",
        "TaskSweepReport": "referralkit.tasks.service",
        "TaskUpdate": "referralkit.tasks.lifecycle",
        "URGENCY": "referralkit.tasks.index",
        "call_interaction": "referralkit.tasks.interactions",
        "close_moot_tasks": "referralkit.tasks.service",
        "continuity": "referralkit.tasks.interactions",
        "due_escalations": "referralkit.tasks.sla",
        "handoff_allowed": "referralkit.tasks.lifecycle",
        "interaction_log": "referralkit.tasks.interactions",
        "mirror_work": "referralkit.tasks.mirror",
        "moot_closures": "referralkit.tasks.moot",
        "moot_reason": "referralkit.tasks.moot",
        "outbox_interactions": "referralkit.tasks.interactions",
        "status_disclosure": "referralkit.tasks.interactions",
        "task_rows": "referralkit.tasks.index",
    },
)

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
