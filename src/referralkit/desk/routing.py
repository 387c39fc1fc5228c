"""Routing on the desk: evaluating rules and applying their decisions.

A decision and its record commit together: a rule that fires a trigger commits the trigger
and its ``routing_fired`` record in one transaction, so a crash cannot re-fire it. While the
service applies decisions it ignores the after-commit calls its own changes cause (routing
never re-routes itself, also inside a sweep).

.. versionadded:: 0.2
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import attrs

from referralkit.clock import Clock
from referralkit.desk.authorization import expire_lapsed
from referralkit.desk.outbox import Outbox
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.errors import (
    ConflictError,
    InvalidTransitionError,
    NoBackendError,
    ReferralKitError,
    RuleLoadError,
    TriggerDataError,
)
from referralkit.events import Event
from referralkit.lifecycle import (
    ACTIVE_STATES,
)
from referralkit.model import (
    HumanTask,
    Referral,
    ReferralStatus,
    TaskPriority,
)
from referralkit.plugins import Hooks
from referralkit.ports import (
    PracticeUpdateRequest,
    StaffAlertRequest,
    idempotency_key,
)
from referralkit.routing import (
    ROUTED_STATES,
    ROUTING_ACTOR,
    RoutingDecision,
    RoutingReport,
    RoutingSweepReport,
    RuleExplanation,
    RuleRegistry,
    evaluate,
    next_routing_at,
    suggested_decision,
)
from referralkit.routing import (
    explain as explain_rules,
)
from referralkit.store import RoutingStore, Store

__all__ = ["RoutingService"]

_log = logging.getLogger("referralkit.desk")

_ROUTING_ATTEMPTS: Final = 3
"""How often :meth:`ReferralDesk.route` re-evaluates after losing a race to another writer."""

_Decisions = list[RoutingDecision]

_Failures = list[tuple[RoutingDecision, str]]


def _with_task(task: HumanTask) -> Callable[[Referral], Mapping[str, Any]]:
    # Applied to the freshly loaded referral; the deterministic task id makes it idempotent.
    def update(current: Referral) -> Mapping[str, Any]:
        if any(t.id == task.id for t in current.tasks):
            return {}
        return {"tasks": (*current.tasks, task)}

    return update


def _lapsed(referral: Referral, at: datetime) -> bool:
    lapses = referral.authorization.lapses_at
    return lapses is not None and lapses <= at and referral.status in ROUTED_STATES


def _route(
    desk: RoutingService, referral_id: UUID, *, now: datetime | None = None
) -> RoutingReport:
    at = now or desk.clock.now()
    rules = desk.rules.active
    applied: _Decisions = []
    failed: _Failures = []
    attempt = 0
    while True:
        referral = desk.store.get(referral_id)
        if _lapsed(referral, at):
            # Time-driven, like the rules: next_routing_at brought the sweep here by the lapse.
            try:
                referral = desk.uow.commit(
                    referral_id,
                    lambda batch: expire_lapsed(batch, now=at),
                    expected_version=referral.version,
                )
            except ConflictError:
                attempt += 1
                if attempt >= _ROUTING_ATTEMPTS:
                    raise
                continue
        events = desk.store.events(referral_id)
        result = evaluate(referral, events, rules, at)
        decisions = (*result.decisions, *_contributed_routing(desk, referral, events, at))
        version = referral.version
        try:
            for decision in decisions:
                version, problem = _apply_routing(desk, referral, decision, version)
                if problem is None:
                    applied.append(decision)
                else:
                    failed.append((decision, problem))
        except ConflictError:
            # Another writer moved the referral: re-evaluate; recorded keys are skipped.
            attempt += 1
            if attempt >= _ROUTING_ATTEMPTS:
                raise
            continue
        return RoutingReport(
            referral_id=referral_id,
            at=result.at,
            applied=tuple(applied),
            failed=tuple(failed),
            matched=result.matched,
            already_recorded=result.already_recorded,
        )


def _sweep(
    desk: RoutingService,
    now: datetime | None = None,
    *,
    page_size: int = 500,
    progress: Callable[[int, int | None], None] | None = None,
) -> RoutingSweepReport:
    at = now or desk.clock.now()
    began = time.perf_counter()
    store = desk.store
    total: int | None = None
    indexed = store if isinstance(store, RoutingStore) and not desk.hooks.routing_rules() else None
    pages: Iterator[list[Referral]]
    if indexed is not None:
        # Only referrals whose next_routing_at has come (index order, keyset paging): the cost
        # follows what is due, not what is open.
        pages = _due_pages(indexed, at, page_size)
    else:
        # Contributed rules may depend on the time in ways next_routing_at cannot know, and a
        # store without the index cannot say what is due: evaluate every open referral. A
        # plugin that implements the hook but contributes no rule does not count.
        statuses = (*ACTIVE_STATES, ReferralStatus.ON_HOLD)
        if progress is not None:
            counts = store.count_by_status()
            total = sum(counts.get(s, 0) for s in statuses)
        pages = _open_pages(store, statuses, page_size)
    rules = desk.rules.active
    examined = routed = decisions = failures = conflicts = 0
    for page in pages:
        for referral in page:
            examined += 1
            try:
                report = desk.route(referral.id, now=at)
            except ConflictError:
                conflicts += 1
                continue
            decisions += len(report.applied)
            failures += len(report.failed)
            routed += 1 if report.applied else 0
            if progress is not None:
                progress(examined, total)
            if indexed is not None and not report.applied and not report.failed:
                # Nothing to do after all (early, or already recorded): on to its next time.
                current = indexed.get(referral.id)
                due = next_routing_at(current, indexed.events(referral.id), rules, at)
                indexed.reschedule_routing(current, due)
    _log.info(
        "routing sweep: %d examined, %d decisions applied",
        examined,
        decisions,
        extra={
            "referralkit": {
                "operation": "routing_sweep",
                "due_only": indexed is not None,
                "seconds": round(time.perf_counter() - began, 3),
                "examined": examined,
                "decisions": decisions,
                "failures": failures,
                "conflicts": conflicts,
            }
        },
    )
    return RoutingSweepReport(at, examined, routed, decisions, failures, conflicts)


def _open_pages(
    store: Store, statuses: Sequence[ReferralStatus], page_size: int
) -> Iterator[list[Referral]]:
    after: UUID | None = None
    while page := store.list_by_status(statuses, limit=page_size, after=after):
        yield page
        after = page[-1].id


def _due_pages(store: RoutingStore, at: datetime, page_size: int) -> Iterator[list[Referral]]:
    after: tuple[datetime, UUID] | None = None
    while page := store.due_for_routing(at, limit=page_size, after=after):
        yield page
        last = page[-1]
        if last.next_routing_at is None:  # pragma: no cover - due rows always have a time
            return
        after = (last.next_routing_at, last.id)


def _explain(
    desk: RoutingService, referral_id: UUID, *, now: datetime | None = None
) -> tuple[RuleExplanation, ...]:
    referral = desk.store.get(referral_id)
    events = desk.store.events(referral_id)
    return explain_rules(referral, events, desk.rules.active, now or desk.clock.now())


def _contributed_routing(
    desk: RoutingService, referral: Referral, events: Sequence[Event], at: datetime
) -> _Decisions:
    contributed = desk.hooks.routing_rules()
    if not contributed:
        return []
    queues = desk.rules.active.queues.queues
    decisions: _Decisions = []
    for rule in contributed:
        try:
            suggestion = rule.evaluate(referral, at)
        except Exception as exc:  # noqa: BLE001 - a plugin's failure must not stop routing
            # Only the types: the plugin's message or traceback may quote the referral (PHI).
            _log.warning(
                "contributed routing rule %s raised %s (referral %s); ignored",
                type(rule).__name__,
                type(exc).__name__,
                referral.id,
            )
            continue
        if suggestion is None:
            continue
        if suggestion.queue not in queues:
            _log.warning(
                "routing rule %s suggested an undeclared queue; ignored", suggestion.rule_id
            )
            continue
        decision = suggested_decision(
            referral,
            events,
            at,
            rule_id=f"plugin.{suggestion.rule_id}",
            queue=suggestion.queue,
            title=suggestion.title,
            reason=suggestion.reason,
            priority=suggestion.priority,
            due_in=suggestion.due_in,
        )
        if decision is not None:
            decisions.append(decision)
    return decisions


def _apply_routing(
    desk: RoutingService, referral: Referral, decision: RoutingDecision, version: int
) -> tuple[int, str | None]:
    # Commit one routing decision; return the new version and a problem, if any.
    referral_id = referral.id
    data = decision.event_data()
    task = decision.task
    if decision.kind == "fire":
        return _apply_routing_fire(desk, referral_id, decision, version)
    if decision.recipient == "referrer":
        return _apply_routing_referrer(desk, referral, decision, version)
    if task is None:
        escalated = decision.escalate_task_id

        def raise_priority(current: Referral) -> Mapping[str, Any]:
            return {
                "tasks": tuple(
                    t.model_copy(update={"priority": TaskPriority.URGENT})
                    if t.id == escalated
                    else t
                    for t in current.tasks
                )
            }

        updated = desk.uow.amend(
            referral_id,
            "routing_task_escalated",
            actor=ROUTING_ACTOR,
            update=raise_priority,
            data=data,
            expected_version=version,
        )
        return updated.version, None
    notify = decision.kind == "notify"
    if notify:
        data["channel"] = "task"
    updated = desk.uow.amend(
        referral_id,
        "routing_notified" if notify else "routing_task_opened",
        actor=ROUTING_ACTOR,
        update=_with_task(task),
        data=data,
        expected_version=version,
    )
    if not notify:
        return updated.version, None
    # The task is the durable record; the alert only tells staff it is waiting.
    alert = StaffAlertRequest(
        idempotency_key=idempotency_key(referral_id, "routing:" + decision.key),
        referral_id=referral_id,
        task_id=task.id,
        queue=task.queue,
        title=task.title[:200],
        priority=task.priority,
        due_at=task.due_at,
    )
    try:
        desk.outbox.dispatch(alert, queue=task.queue)
    except NoBackendError:
        return updated.version, None
    return desk.store.get(referral_id).version, None


def _apply_routing_referrer(
    desk: RoutingService, referral: Referral, decision: RoutingDecision, version: int
) -> tuple[int, str | None]:
    referral_id = referral.id
    data = decision.event_data()
    try:
        request: PracticeUpdateRequest | None = PracticeUpdateRequest.for_referral(
            referral, action="routing:" + decision.key, attempt=1
        )
    except ValueError:  # the referring practice has no fax number
        request = None
    if request is not None:
        try:
            outcome = desk.outbox.dispatch(request, queue=decision.queue or "practice_relations")
        except NoBackendError:
            pass
        else:
            data["channel"] = "notification"
            data["outcome"] = outcome.status
            updated = desk.uow.amend(
                referral_id,
                "routing_notified",
                actor=ROUTING_ACTOR,
                update={},
                data=data,
                expected_version=desk.store.get(referral_id).version,
            )
            return updated.version, None
    # No way to reach the referrer automatically: a person tells them.
    data["channel"] = "task"
    task = decision.task
    updated = desk.uow.amend(
        referral_id,
        "routing_notified",
        actor=ROUTING_ACTOR,
        update=_with_task(task) if task is not None else {},
        data=data,
        expected_version=version,
    )
    return updated.version, None


def _apply_routing_fire(
    desk: RoutingService, referral_id: UUID, decision: RoutingDecision, version: int
) -> tuple[int, str | None]:
    data = decision.event_data()
    trigger = decision.trigger
    if trigger is None:  # pragma: no cover - the engine always sets it for "fire"
        return version, "no trigger"
    problem: list[str] = []

    def decide(batch: Batch) -> None:
        try:
            batch.fire(trigger, actor=ROUTING_ACTOR, data=dict(decision.data))
        except (InvalidTransitionError, TriggerDataError) as exc:
            # Refused: record it (so it is not retried every sweep) and hand it to a person.
            data["refused"] = type(exc).__name__
            task = decision.task
            batch.amend(
                "routing_fire_refused",
                actor=ROUTING_ACTOR,
                update=_with_task(task) if task is not None else {},
                data=data,
            )
            problem.append(f"trigger {trigger} refused: {type(exc).__name__}")
            return
        # The trigger and its record commit together: a crash between them cannot leave a
        # fired trigger without the record that stops the rule firing it again.
        batch.amend("routing_fired", actor=ROUTING_ACTOR, update={}, data=data)

    updated = desk.uow.commit(referral_id, decide, expected_version=version)
    return updated.version, problem[0] if problem else None


@attrs.define
class RoutingService:
    """Evaluates routing rules for referrals and commits what they decide.

    :ivar auto_route: also route after every committed change (see
        :attr:`ReferralDesk.auto_route <referralkit.desk.ReferralDesk.auto_route>`).
    """

    uow: UnitOfWork
    store: Store
    clock: Clock
    rules: RuleRegistry
    hooks: Hooks
    outbox: Outbox
    auto_route: bool = False
    _local: threading.local = attrs.field(init=False, factory=threading.local)

    def _inside(self) -> bool:
        return bool(getattr(self._local, "active", False))

    def route(self, referral_id: UUID, *, now: datetime | None = None) -> RoutingReport:
        """Evaluate the active rules for one referral and commit what they decide."""
        outer = self._inside()
        self._local.active = True
        try:
            return _route(self, referral_id, now=now)
        finally:
            self._local.active = outer

    def sweep(
        self,
        now: datetime | None = None,
        *,
        page_size: int = 500,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> RoutingSweepReport:
        """Route every open or held referral at *now*, page by page (keyset by id)."""
        return _sweep(self, now, page_size=page_size, progress=progress)

    def explain(
        self, referral_id: UUID, *, now: datetime | None = None
    ) -> tuple[RuleExplanation, ...]:
        """Explain every active rule for the referral: matched or not, and why."""
        return _explain(self, referral_id, now=now)

    def planned(
        self, referral: Referral, events: Sequence[Event], now: datetime
    ) -> Mapping[str, Any]:
        """Return ``next_routing_at`` for *referral* after *events* (a unit-of-work planner).

        A commit never fails for routing's sake: rules that cannot be loaded make an open
        referral due at once, so a sweep routes it as soon as they load again.
        """
        if referral.outbound is not None:
            return {}  # a referral we sent: chased by the referring side, not routed
        try:
            routing_at = next_routing_at(referral, events, self.rules.active, now)
        except RuleLoadError:
            routing_at = now if referral.status in ROUTED_STATES else None
        return {"next_routing_at": routing_at}

    def after_commit(self, referral: Referral, events: Sequence[Event]) -> bool:
        """Route after a committed change (when :attr:`auto_route`); never raises.

        :returns: whether routing changed the referral.
        """
        if referral.outbound is not None:
            return False
        if not self.auto_route or self._inside():
            return False
        try:
            report = self.route(referral.id)
        except ReferralKitError as exc:
            _log.warning(
                "referral %s: routing after %s failed (%s); the next sweep retries",
                referral.id,
                events[-1].kind,
                type(exc).__name__,
            )
            return False
        return bool(report.applied)
