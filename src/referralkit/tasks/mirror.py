"""Mirroring call summaries and tasks to the practice's EHR or task system.

A host that keeps its own record of work configures :class:`MirrorSettings` (which practices,
what to mirror) and calls :func:`mirror_work` (``ReferralDesk.mirror_work``) after changes or
from a sweep. Each interaction and each task state goes out once through the outbox, keyed by
what it is (interaction id; task id, status, queue and assignee), so mirroring again sends
nothing new. A failed send becomes a human task (the outbox's rule): the summary itself stays
on the referral, never lost, and ``retry_failed`` sends it again under a new attempt key; once
that succeeds the failure task closes itself as moot.

The EHR adapter must also be an :class:`~referralkit.ports.EhrWorkMirror`.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Final, Protocol
from uuid import UUID

import attrs

from referralkit.events import Event
from referralkit.model import HumanTask, Interaction, Referral
from referralkit.ports import (
    InteractionMirrorRequest,
    OutboundRequest,
    TaskMirrorRequest,
    idempotency_key,
)
from referralkit.store import Store

__all__ = ["MirrorDesk", "MirrorReport", "MirrorSettings", "mirror_work"]

_MIRROR_OPERATIONS: Final = frozenset({"log_interaction", "push_task"})


@attrs.frozen
class MirrorSettings:
    """What to mirror, for which practices, and where failures go.

    :ivar practices: receiving-practice ids or NPIs whose referrals are mirrored; ``None``
        mirrors every referral.
    :ivar queue: the queue a failed mirror's task opens in.
    :ivar retry_failed: send again what failed before (a new attempt, a new key).

    .. versionadded:: 0.1
    """

    interactions: bool = True
    tasks: bool = True
    practices: frozenset[str] | None = None
    queue: str = "records"
    retry_failed: bool = False

    def applies_to(self, referral: Referral) -> bool:
        """Return whether *referral*'s receiving practice is configured for mirroring."""
        if self.practices is None:
            return True
        practice = referral.receiving_practice
        if practice is None:
            return False
        return bool({practice.id, practice.npi} & self.practices)


class _Outcome(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def task_id(self) -> UUID | None: ...


class MirrorDesk(Protocol):
    """What mirroring needs from a desk (``ReferralDesk`` satisfies it).

    .. versionadded:: 0.1
    """

    @property
    def store(self) -> Store:
        """The desk's store."""
        ...

    def get(self, referral_id: UUID) -> Referral:
        """Return the current referral."""
        ...

    def dispatch(
        self, request: OutboundRequest, *, queue: str = ..., expected_version: int | None = ...
    ) -> _Outcome:
        """Record, send and record the outcome of an outbound action."""
        ...


@attrs.frozen
class MirrorReport:
    """What one mirroring pass did.

    :ivar sent: requests the EHR accepted in this pass.
    :ivar failed_tasks: tasks opened for requests that failed in this pass.
    :ivar skipped: the referral's practice is not configured for mirroring.

    .. versionadded:: 0.1
    """

    referral_id: UUID
    sent: int = 0
    failed_tasks: tuple[UUID, ...] = ()
    skipped: bool = False


def _attempts(events: Sequence[Event]) -> dict[str, str]:
    # idempotency key -> "queued" / "sent" / "failed" / "unknown", for mirror actions only
    status: dict[str, str] = {}
    for event in events:
        key = str(event.data.get("key"))
        if event.kind == "action_queued" and event.data.get("operation") in _MIRROR_OPERATIONS:
            status[key] = "queued"
        elif event.kind == "action_sent" and key in status:
            status[key] = "sent"
        elif event.kind == "task_opened" and isinstance(event.data.get("action"), dict):
            action = event.data["action"]
            if str(action.get("key")) in status:
                status[str(action.get("key"))] = str(action.get("status"))
    return status


def _failure_tasks(events: Sequence[Event]) -> set[str]:
    found: set[str] = set()
    for event in events:
        action = event.data.get("action") if event.kind == "task_opened" else None
        if isinstance(action, dict) and action.get("operation") in _MIRROR_OPERATIONS:
            found.add(str(event.data.get("task_id")))
    return found


def _interaction_request(referral: Referral, item: Interaction, attempt: int) -> OutboundRequest:
    return InteractionMirrorRequest(
        idempotency_key=idempotency_key(referral.id, f"mirror:interaction:{item.id}", attempt),
        referral_id=referral.id,
        interaction_id=item.id,
        at=item.at,
        ended_at=item.ended_at,
        channel=item.channel,
        direction=item.direction,
        call_type=item.call_type,
        outcome=item.outcome,
        actor_id=item.actor_id,
        summary=item.summary,
    )


def _task_request(referral: Referral, task: HumanTask, attempt: int) -> OutboundRequest:
    state = f"{task.status.value}:{task.queue}:{task.assignee or ''}"
    return TaskMirrorRequest(
        idempotency_key=idempotency_key(referral.id, f"mirror:task:{task.id}:{state}", attempt),
        referral_id=referral.id,
        task_id=task.id,
        queue=task.queue,
        title=task.title,
        status=task.status,
        priority=task.priority,
        due_at=task.due_at,
        assignee=task.assignee,
        close_reason=task.close_reason,
    )


def _next_request(
    make: Callable[[int], OutboundRequest], attempts: dict[str, str], retry_failed: bool
) -> OutboundRequest | None:
    # The first attempt not yet ended; None when the item is mirrored (or failed, unretried).
    attempt = 1
    while True:
        request = make(attempt)
        ended = attempts.get(request.idempotency_key)
        if ended is None or ended == "queued":
            return request
        if ended in ("failed", "unknown") and retry_failed:
            attempt += 1
            continue
        return None


def mirror_work(desk: MirrorDesk, referral_id: UUID, settings: MirrorSettings) -> MirrorReport:
    """Send the referral's interactions and task states the EHR does not have yet.

    :raises NoBackendError: no EHR adapter mirrors work (nothing is recorded).
    """
    referral = desk.get(referral_id)
    if not settings.applies_to(referral):
        return MirrorReport(referral_id, skipped=True)
    events = desk.store.events(referral_id)
    attempts = _attempts(events)
    skip_tasks = _failure_tasks(events)
    makers: list[Callable[[int], OutboundRequest]] = []
    if settings.interactions:
        makers.extend(partial(_interaction_request, referral, i) for i in referral.interactions)
    if settings.tasks:
        makers.extend(
            partial(_task_request, referral, t)
            for t in referral.tasks
            if str(t.id) not in skip_tasks  # a failed mirror's own task: no loop
        )
    sent = 0
    failed: list[UUID] = []
    for make in makers:
        request = _next_request(make, attempts, settings.retry_failed)
        if request is None:
            continue
        outcome = desk.dispatch(request, queue=settings.queue)
        if outcome.status == "sent":
            sent += 1
        elif outcome.task_id is not None:
            failed.append(outcome.task_id)
    return MirrorReport(referral_id, sent, tuple(failed))
