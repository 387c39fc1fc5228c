"""Which tasks a committed change made moot: pure rules, applied by the desk after each commit.

A task exists for a reason; when the reason goes away the task closes itself and says why:

* every live task, once the referral reaches a terminal state (closed, declined, cancelled,
  lost);
* review tasks (queues ``clinical_review`` and ``urgent_clinical``), once the referral has
  left ``received`` for a decision (accepted or declined, or anything after);
* scheduling tasks (queue ``scheduling``) opened before the referral was scheduled, once it is;
* a failed-send task (opened by the outbox), once a later send of the same operation succeeds;
* a routing task, once its rule no longer matches the referral;
* a supervisor task opened for an overdue task (:mod:`referralkit.tasks.sla`), once that task
  is closed.

A task nobody holds is cancelled with ``close_reason="moot: ..."``. A task a person has
claimed is not closed under them: it keeps its claim and gets ``moot`` set, which their work
list shows, and they complete or cancel it.

A referral entered in error is void and takes no further change: its tasks leave every work
list at once (the task index holds no rows for it) and are never amended.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from referralkit.events import Event
from referralkit.lifecycle import TERMINAL_STATES
from referralkit.model import (
    Actor,
    ActorKind,
    HumanTask,
    Referral,
    ReferralStatus,
    Role,
    TaskChange,
    TaskStatus,
)
from referralkit.tasks.lifecycle import LIVE_STATUSES, TaskUpdate

__all__ = [
    "MOOT_ACTOR",
    "MOOT_KIND",
    "MootPolicy",
    "moot_closures",
    "moot_reason",
]

MOOT_KIND: Final = "task_mooted"
"""The event kind of an automatic closure."""
MOOT_ACTOR: Final = Actor(kind=ActorKind.SYSTEM, id="referralkit.tasks", role=Role.SYSTEM)
"""The actor automatic closures are recorded under."""
_S = ReferralStatus
_UNDECIDED: Final = frozenset({_S.INTAKE, _S.RECEIVED, _S.ON_HOLD})
_SCHEDULE_KINDS: Final = frozenset({"schedule", "reschedule"})
_OUTBOX_RULE: Final = "outbox"
_SLA_PREFIX: Final = "task_sla:"  # referralkit.tasks.sla.TASK_SLA_RULE_PREFIX


@attrs.frozen
class MootPolicy:
    """Which queues hold review and scheduling work.

    .. versionadded:: 0.1
    """

    review_queues: frozenset[str] = frozenset({"clinical_review", "urgent_clinical"})
    scheduling_queues: frozenset[str] = frozenset({"scheduling"})


def moot_reason(
    referral: Referral, task: HumanTask, policy: MootPolicy | None = None
) -> str | None:
    """Return why *task* is moot given the referral's current state alone, or ``None``.

    Covers the state rules (terminal referral, decided review); the rules that need the
    change that just happened are in :func:`moot_closures`.
    """
    rules = policy or MootPolicy()
    if referral.status in TERMINAL_STATES:
        return f"moot: referral {referral.status.value}"
    if task.queue in rules.review_queues and referral.status not in _UNDECIDED:
        return f"moot: review decided (referral {referral.status.value})"
    if task.rule_id is not None and task.rule_id.startswith(_SLA_PREFIX):
        overdue = task.rule_id[len(_SLA_PREFIX) :]
        for other in referral.tasks:
            if str(other.id) == overdue and (
                other.status not in LIVE_STATUSES or other.moot is not None
            ):
                return "moot: the overdue task was closed"
    return None


def _sent_operation(event: Event, history: Sequence[Event]) -> str | None:
    if event.kind != "action_sent":
        return None
    key = event.data.get("key")
    for earlier in history:
        if earlier.kind == "action_queued" and earlier.data.get("key") == key:
            return str(earlier.data.get("operation"))
    return None


def _failed_operations(history: Sequence[Event]) -> dict[str, str]:
    # task id -> the operation whose failure opened it
    found: dict[str, str] = {}
    for event in history:
        action = event.data.get("action") if event.kind == "task_opened" else None
        if isinstance(action, dict) and "task_id" in event.data:
            found[str(event.data["task_id"])] = str(action.get("operation"))
    return found


def _event_reason(
    task: HumanTask,
    event: Event,
    history: Sequence[Event],
    policy: MootPolicy,
    sent: str | None,
    failed: dict[str, str],
) -> str | None:
    if (
        event.kind in _SCHEDULE_KINDS
        and task.queue in policy.scheduling_queues
        and task.created_at <= event.at
    ):
        return "moot: referral scheduled"
    if sent is not None and task.rule_id == _OUTBOX_RULE and failed.get(str(task.id)) == sent:
        return f"moot: a later {sent} succeeded"
    return None


def moot_closures(
    referral: Referral,
    event: Event,
    *,
    history: Sequence[Event] = (),
    unmatched_rules: Collection[str] = (),
    now: datetime | None = None,
    policy: MootPolicy | None = None,
) -> TaskUpdate | None:
    """Return the task update that closes what *event* made moot, or ``None``.

    Pure: the desk calls it after each committed change and commits what it returns as a
    ``task_mooted`` event. It cannot loop: each closure it returns closes at least one live
    task, and a closed (or moot-marked) task is never closed again.

    :param referral: the referral after *event*.
    :param history: the referral's events (needed to match a successful send with the
        failed-send tasks of the same operation; without it that rule is skipped).
    :param unmatched_rules: routing rule ids that no longer match the referral: their live
        tasks are moot.
    :param now: the closure time (default: the event's time).
    """
    if referral.status is _S.ENTERED_IN_ERROR:
        return None  # void: amendments are refused; the index already drops its tasks
    rules = policy or MootPolicy()
    at = now or event.at
    sent = _sent_operation(event, history)
    failed = _failed_operations(history) if sent is not None else {}
    tasks: list[HumanTask] = []
    closed: list[dict[str, Any]] = []
    for task in referral.tasks:
        reason = None
        if task.status in LIVE_STATUSES and task.moot is None:
            reason = moot_reason(referral, task, rules) or _event_reason(
                task, event, history, rules, sent, failed
            )
            if reason is None and task.rule_id is not None and task.rule_id in unmatched_rules:
                reason = f"moot: rule {task.rule_id} no longer matches"
        if reason is None:
            tasks.append(task)
            continue
        tasks.append(_mooted(task, reason, at))
        closed.append(
            {"task_id": str(task.id), "queue": task.queue, "reason": reason, "held": task.assignee}
        )
    if not closed:
        return None
    return TaskUpdate(MOOT_KIND, tuple(tasks), {"closed": closed, "cause_seq": event.seq})


def _mooted(task: HumanTask, reason: str, at: datetime) -> HumanTask:
    held = task.status is TaskStatus.CLAIMED
    status = task.status if held else TaskStatus.CANCELLED
    change = TaskChange(
        action="mooted",
        at=at,
        actor_id=MOOT_ACTOR.id,
        actor_kind=MOOT_ACTOR.kind,
        status=status,
        queue=task.queue,
        assignee=task.assignee,
    )
    if held:
        return task.model_copy(update={"moot": reason, "changes": (*task.changes, change)})
    return task.model_copy(
        update={
            "status": status,
            "close_reason": reason,
            "closed_at": at,
            "closed_by": MOOT_ACTOR.id,
            "snoozed_until": None,
            "moot": reason,
            "changes": (*task.changes, change),
        }
    )
