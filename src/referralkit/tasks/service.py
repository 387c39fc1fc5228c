"""Task and interaction operations on a desk: work lists, the task lifecycle, moot closures.

:class:`TaskService` talks to the desk through the small :class:`TaskDesk` protocol (``amend``
to commit, ``get``, ``store``, ``clock`` and the routing rules for queues and SLAs), so this
module imports neither the desk nor the plugins. Every change goes through ``amend``: it is
committed with its event in one transaction.

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any, Final, Protocol
from uuid import UUID

import attrs

from referralkit.clock import Clock
from referralkit.errors import ConflictError, InvalidTransitionError
from referralkit.events import Event
from referralkit.lifecycle import Change
from referralkit.model import (
    Actor,
    ActorKind,
    Channel,
    Direction,
    Disclosure,
    HumanTask,
    Interaction,
    Referral,
    ReferralStatus,
    Role,
    TaskPriority,
    TaskStatus,
)
from referralkit.routing import RuleRegistry, evaluate
from referralkit.routing.ruleset import RuleSet
from referralkit.store import Store
from referralkit.tasks import lifecycle as _lc
from referralkit.tasks.index import (
    QueueCounts,
    TaskCursor,
    TaskIndex,
    TaskQuery,
    TaskRow,
    count_rows,
    query_rows,
    task_rows,
)
from referralkit.tasks.interactions import Continuity, continuity, interaction_log
from referralkit.tasks.moot import MOOT_ACTOR, MootPolicy, moot_closures
from referralkit.tasks.sla import due_escalations

__all__ = [
    "INTERACTION_LOGGED",
    "TASK_SLA_ACTOR",
    "TaskDesk",
    "TaskService",
    "TaskSweepReport",
    "close_moot_tasks",
]

_log = logging.getLogger("referralkit.tasks")

INTERACTION_LOGGED: Final = "interaction_logged"
"""The event kind of :meth:`TaskService.log_interaction`."""
TASK_SLA_ACTOR: Final = Actor(kind=ActorKind.SYSTEM, id="referralkit.task_sla", role=Role.SYSTEM)
"""The actor task escalations and snooze wake-ups are recorded under."""
_ATTEMPTS: Final = 3
_ALL_STATUSES: Final = tuple(ReferralStatus)


class TaskDesk(Protocol):
    """What the task service needs from a desk (``ReferralDesk`` satisfies it).

    .. versionadded:: 0.1
    """

    @property
    def store(self) -> Store:
        """The desk's store."""
        ...

    @property
    def clock(self) -> Clock:
        """The desk's clock."""
        ...

    @property
    def routing_rules(self) -> RuleRegistry:
        """The active routing rules: queues, hand-offs, SLA policy, calendar."""
        ...

    def get(self, referral_id: UUID) -> Referral:
        """Return the current referral."""
        ...

    def amend(
        self,
        referral_id: UUID,
        kind: str,
        *,
        actor: Actor,
        update: Mapping[str, Any] | Callable[[Referral], Mapping[str, Any]],
        data: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> Referral:
        """Commit a non-transition change with its event."""
        ...


@attrs.frozen
class TaskSweepReport:
    """What one task sweep did.

    :ivar woken: tasks whose snooze ended (reopened).
    :ivar escalated: ``(task id, level)`` per ladder step recorded.
    :ivar opened: supervisor tasks opened by escalation.
    :ivar conflicts: referrals skipped because other writers kept changing them.

    .. versionadded:: 0.1
    """

    at: datetime
    woken: tuple[UUID, ...] = ()
    escalated: tuple[tuple[UUID, int], ...] = ()
    opened: tuple[UUID, ...] = ()
    conflicts: int = 0


def _with_task(referral: Referral, task_id: UUID) -> HumanTask:
    return _lc.find_task(referral, task_id)


@attrs.frozen
class TaskService:
    """Work the human tasks of a desk's referrals, and log interactions.

    Build with :meth:`for_desk`; the desk's one-line methods (``claim_task``, ``tasks``, ...)
    delegate here.

    .. versionadded:: 0.1
    """

    desk: TaskDesk
    moot_policy: MootPolicy = attrs.field(factory=MootPolicy)

    @classmethod
    def for_desk(cls, desk: TaskDesk) -> TaskService:
        """Return the service for *desk*."""
        return cls(desk)

    @property
    def _rules(self) -> RuleSet:
        return self.desk.routing_rules.active

    # -- committing ---------------------------------------------------------------------

    def _commit(
        self, referral_id: UUID, actor: Actor, compute: Callable[[Referral], _lc.TaskUpdate]
    ) -> Referral:
        # Computed on the freshly loaded referral and committed only if it is still current:
        # a lost race recomputes (the task may have been claimed meanwhile, which then fails).
        attempt = 0
        while True:
            current = self.desk.get(referral_id)
            change = compute(current)
            try:
                return self.desk.amend(
                    referral_id,
                    change.kind,
                    actor=actor,
                    update=change.update(),
                    data=change.data,
                    expected_version=current.version,
                )
            except ConflictError:
                attempt += 1
                if attempt >= _ATTEMPTS:
                    raise

    def _task_op(
        self,
        referral_id: UUID,
        task_id: UUID,
        actor: Actor,
        compute: Callable[[Referral, datetime], _lc.TaskUpdate],
    ) -> HumanTask:
        now = self.desk.clock.now()
        updated = self._commit(referral_id, actor, lambda r: compute(r, now))
        return _with_task(updated, task_id)

    # -- the task lifecycle -------------------------------------------------------------

    def claim(self, referral_id: UUID, task_id: UUID, *, actor: Actor) -> HumanTask:
        """Claim a task for *actor* (see :func:`referralkit.tasks.lifecycle.claim`)."""
        return self._task_op(
            referral_id,
            task_id,
            actor,
            lambda r, now: _lc.claim(r, task_id, actor=actor, now=now),
        )

    def release(self, referral_id: UUID, task_id: UUID, *, actor: Actor) -> HumanTask:
        """Put a claimed task back in its queue (a moot one closes instead)."""
        return self._task_op(
            referral_id,
            task_id,
            actor,
            lambda r, now: _lc.release(r, task_id, actor=actor, now=now),
        )

    def reassign(
        self,
        referral_id: UUID,
        task_id: UUID,
        *,
        actor: Actor,
        queue: str | None = None,
        assignee: str | None = None,
    ) -> HumanTask:
        """Move a task to another queue (approved hand-offs only) and/or another person."""
        queues = self._rules.queues
        return self._task_op(
            referral_id,
            task_id,
            actor,
            lambda r, now: _lc.reassign(
                r, task_id, actor=actor, now=now, queues=queues, queue=queue, assignee=assignee
            ),
        )

    def complete(
        self,
        referral_id: UUID,
        task_id: UUID,
        *,
        actor: Actor,
        outcome: str,
        note: str | None = None,
    ) -> HumanTask:
        """Mark a task done with an outcome code and an optional note (masked in repr)."""
        return self._task_op(
            referral_id,
            task_id,
            actor,
            lambda r, now: _lc.complete(
                r, task_id, actor=actor, now=now, outcome=outcome, note=note
            ),
        )

    def cancel(
        self,
        referral_id: UUID,
        task_id: UUID,
        *,
        actor: Actor,
        reason: str,
        note: str | None = None,
    ) -> HumanTask:
        """Cancel a task, saying why."""
        return self._task_op(
            referral_id,
            task_id,
            actor,
            lambda r, now: _lc.cancel(r, task_id, actor=actor, now=now, reason=reason, note=note),
        )

    def snooze(
        self, referral_id: UUID, task_id: UUID, *, actor: Actor, until: datetime
    ) -> HumanTask:
        """Set a task aside until *until*; :meth:`sweep` reopens it then."""
        return self._task_op(
            referral_id,
            task_id,
            actor,
            lambda r, now: _lc.snooze(r, task_id, actor=actor, now=now, until=until),
        )

    # -- work lists ---------------------------------------------------------------------

    def tasks(
        self,
        *,
        queue: str | None = None,
        status: TaskStatus | Sequence[TaskStatus] | None = None,
        assignee: str | None = None,
        due_before: datetime | None = None,
        priority: TaskPriority | None = None,
        limit: int = 50,
        after: TaskCursor | None = None,
    ) -> list[TaskRow]:
        """Return a work list, most urgent first, then by due time (keyset-paged by *after*).

        :param status: one status or several (default: open and claimed).
        :param after: the ``cursor`` of the last row of the previous page.
        """
        if status is None:
            statuses: tuple[TaskStatus, ...] = (TaskStatus.OPEN, TaskStatus.CLAIMED)
        elif isinstance(status, TaskStatus):
            statuses = (status,)
        else:
            statuses = tuple(status)
        query = TaskQuery(
            queue=queue,
            statuses=statuses,
            assignee=assignee,
            due_before=due_before,
            priority=priority,
            limit=limit,
            after=after,
        )
        store = self.desk.store
        if isinstance(store, TaskIndex):
            return store.tasks(query)
        return query_rows(self._scan(), query)  # a store without a task index: read them all

    def _scan(self) -> list[TaskRow]:
        rows: list[TaskRow] = []
        after: UUID | None = None
        while True:
            page = self.desk.store.list_by_status(_ALL_STATUSES, limit=500, after=after)
            if not page:
                return rows
            for referral in page:
                rows.extend(task_rows(referral))
            after = page[-1].id

    def my_tasks(self, assignee: str, *, limit: int = 50) -> list[TaskRow]:
        """Return the tasks *assignee* holds, most urgent first (moot ones show ``moot``)."""
        return self.tasks(assignee=assignee, status=TaskStatus.CLAIMED, limit=limit)

    def queue_counts(self, now: datetime | None = None) -> dict[str, QueueCounts]:
        """Return per-queue counts for a dashboard: open, overdue, due today, oldest.

        "Today" ends at midnight in the practice calendar's time zone.
        """
        at = now or self.desk.clock.now()
        zone = self._rules.calendar.zone
        local = at.astimezone(zone)
        day_end = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=zone)
        store = self.desk.store
        if isinstance(store, TaskIndex):
            return store.queue_counts(at, day_end)
        return count_rows(self._scan(), at, day_end)

    # -- SLAs and snoozes -----------------------------------------------------------------

    def sweep(self, now: datetime | None = None, *, page_size: int = 200) -> TaskSweepReport:
        """Reopen tasks whose snooze ended and escalate overdue tasks one ladder step each.

        Reads the task index (overdue and snoozed tasks only), so it costs what is overdue.
        Safe to run again: each step is recorded on its task and never repeated.
        """
        at = now or self.desk.clock.now()
        referral_ids: dict[UUID, None] = {}
        for statuses, due_before in (
            # due_before is strict; a task due exactly now is overdue (ladder_level agrees).
            ((TaskStatus.OPEN, TaskStatus.CLAIMED), at + timedelta(microseconds=1)),
            ((TaskStatus.SNOOZED,), None),
        ):
            cursor: TaskCursor | None = None
            while True:
                page = self.tasks(
                    status=statuses, due_before=due_before, limit=page_size, after=cursor
                )
                for row in page:
                    referral_ids[row.referral_id] = None
                if len(page) < page_size:
                    break
                cursor = page[-1].cursor
        woken: list[UUID] = []
        escalated: list[tuple[UUID, int]] = []
        opened: list[UUID] = []
        conflicts = 0
        for referral_id in referral_ids:
            try:
                self._sweep_one(referral_id, at, woken, escalated, opened)
            except ConflictError:
                conflicts += 1
            except InvalidTransitionError:
                continue  # entered in error meanwhile: void, nothing to escalate
        return TaskSweepReport(at, tuple(woken), tuple(escalated), tuple(opened), conflicts)

    def _sweep_one(
        self,
        referral_id: UUID,
        at: datetime,
        woken: list[UUID],
        escalated: list[tuple[UUID, int]],
        opened: list[UUID],
    ) -> None:
        referral = self.desk.get(referral_id)
        wake = _lc.wake(referral, at, actor=TASK_SLA_ACTOR)
        if wake is not None:
            referral = self.desk.amend(
                referral_id,
                wake.kind,
                actor=TASK_SLA_ACTOR,
                update=wake.update(),
                data=wake.data,
                expected_version=referral.version,
            )
            woken.extend(UUID(t) for t in wake.data["task_ids"])
        rules = self._rules
        for step in due_escalations(
            referral, at, queues=rules.queues, sla=rules.sla, calendar=rules.calendar
        ):
            task = _lc.find_task(referral, step.task.id)
            if task.escalation_level >= step.level or task.status not in _lc.LIVE_STATUSES:
                continue
            change = _lc.escalated(
                referral, task, actor=TASK_SLA_ACTOR, now=at, level=step.level, opened=step.opens
            )
            referral = self.desk.amend(
                referral_id,
                change.kind,
                actor=TASK_SLA_ACTOR,
                update=change.update(),
                data=change.data,
                expected_version=referral.version,
            )
            escalated.append((task.id, step.level))
            if step.opens is not None:
                opened.append(step.opens.id)

    # -- interactions ---------------------------------------------------------------------

    def log_interaction(
        self, referral_id: UUID, interaction: Interaction, *, actor: Actor
    ) -> Interaction:
        """Log a call, message, letter or portal exchange on the referral.

        Idempotent by ``interaction.id``: logging the same interaction again changes nothing.
        The event carries the channel, direction, call type, outcome and links, never the
        summary (which may hold PHI).

        :raises TaskNotFoundError: ``interaction.task_id`` names no task of the referral.
        """
        current = self.desk.get(referral_id)
        for existing in current.interactions:
            if existing.id == interaction.id:
                return existing
        if interaction.task_id is not None:
            _lc.find_task(current, interaction.task_id)
        logged = interaction
        if logged.actor_id is None:
            logged = logged.model_copy(update={"actor_id": actor.id, "actor_kind": actor.kind})
        data: dict[str, Any] = {
            "interaction_id": str(logged.id),
            "channel": logged.channel.value,
            "direction": logged.direction.value,
        }
        for name in ("call_type", "outcome", "action_key"):
            value = getattr(logged, name)
            if value is not None:
                data[name] = value
        if logged.task_id is not None:
            data["task_id"] = str(logged.task_id)
        if logged.disclosure is not None:
            data["disclosed"] = list(logged.disclosure.fields)
            data["recipient_role"] = logged.disclosure.recipient_role

        def add(fresh: Referral) -> Mapping[str, Any]:
            if any(i.id == logged.id for i in fresh.interactions):
                return {}
            return {"interactions": (*fresh.interactions, logged)}

        self.desk.amend(referral_id, INTERACTION_LOGGED, actor=actor, update=add, data=data)
        return logged

    def record_disclosure(
        self,
        referral_id: UUID,
        *,
        fields: Sequence[str],
        recipient_role: str,
        actor: Actor,
        verified: bool = False,
        channel: Channel = Channel.VOICE,
        call_type: str = "status_inquiry",
        at: datetime | None = None,
    ) -> Interaction:
        """Log what a status or authorization answer disclosed, and to whom (field names only).

        :param fields: the names of the fields the answer disclosed (``"status"``,
            ``"appointment"``, ``"authorization.status"``...).
        :param recipient_role: the caller's role (``"patient"``, ``"referring_practice"``...).
        """
        interaction = Interaction(
            at=at or self.desk.clock.now(),
            channel=channel,
            direction=Direction.INBOUND,
            call_type=call_type,
            outcome="answered",
            actor_id=actor.id,
            actor_kind=actor.kind,
            disclosure=Disclosure(
                fields=tuple(fields), recipient_role=recipient_role, verified=verified
            ),
        )
        return self.log_interaction(referral_id, interaction, actor=actor)

    def interactions(self, referral_id: UUID) -> list[Interaction]:
        """Return the referral's interactions, oldest first (logged ones and outbox contacts)."""
        referral = self.desk.get(referral_id)
        return interaction_log(referral, self.desk.store.events(referral_id))

    def continuity(self, referral_id: UUID) -> Continuity:
        """Return the hand-over view: what happened last, what is open, who owns the next step."""
        referral = self.desk.get(referral_id)
        return continuity(referral, self.desk.store.events(referral_id))

    # -- moot closures --------------------------------------------------------------------

    def close_moot(self, change: Change) -> Referral | None:
        """Commit the closures *change* made moot; return the referral after, or ``None``.

        Called by the desk after every committed change. A writer that got in first wins:
        the closure is skipped (the next change re-evaluates the state rules).
        """
        referral = change.referral
        if not any(t.status in _lc.LIVE_STATUSES and t.moot is None for t in referral.tasks):
            return None  # the common case: nothing to close, nothing read

        events: Sequence[Event] | None = None
        if change.event.kind == "action_sent":
            events = self.desk.store.events(referral.id)
        unmatched, events = self._unmatched_rules(referral, events)
        closure = moot_closures(
            referral,
            change.event,
            history=events or (),
            unmatched_rules=unmatched,
            now=self.desk.clock.now(),
            policy=self.moot_policy,
        )
        if closure is None:
            return None
        try:
            return self.desk.amend(
                referral.id,
                closure.kind,
                actor=MOOT_ACTOR,
                update=closure.update(),
                data=closure.data,
                expected_version=referral.version,
            )
        except ConflictError:
            _log.info(
                "referral %s: moot closure lost a race; left for the next change", referral.id
            )
            return None

    def _unmatched_rules(
        self, referral: Referral, events: Sequence[Event] | None
    ) -> tuple[frozenset[str], Sequence[Event] | None]:
        rules = self._rules
        known = {rule.id for rule in rules.rules}
        routed = [
            t
            for t in referral.tasks
            if t.status in _lc.LIVE_STATUSES and t.moot is None and t.rule_id in known
        ]
        if not routed:
            return frozenset(), events
        history = events if events is not None else self.desk.store.events(referral.id)
        # Evaluated no earlier than the tasks were opened: routing may run at a future "now".
        at = max(self.desk.clock.now(), *(t.created_at for t in routed))
        matched = {m.rule_id for m in evaluate(referral, history, rules, at).matched}
        return frozenset(str(t.rule_id) for t in routed if t.rule_id not in matched), history


def close_moot_tasks(desk: TaskDesk, change: Change) -> Referral | None:
    """Close what *change* made moot on *desk* (the desk's after-commit step).

    :returns: the referral after the closure, or ``None`` when nothing was moot.

    .. versionadded:: 0.1
    """
    if not change.referral.tasks:
        return None  # most commits: skip building the service at all
    return TaskService.for_desk(desk).close_moot(change)
