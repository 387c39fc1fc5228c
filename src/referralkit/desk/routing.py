"""Routing on the desk: evaluating rules and applying their decisions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from referralkit.errors import (
    ConflictError,
    InvalidTransitionError,
    NoBackendError,
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
from referralkit.ports import (
    PracticeUpdateRequest,
    StaffAlertRequest,
    idempotency_key,
)
from referralkit.routing import (
    ROUTING_ACTOR,
    RoutingDecision,
    RoutingReport,
    RoutingSweepReport,
    RuleExplanation,
    evaluate,
    next_routing_at,
    suggested_decision,
)
from referralkit.routing import (
    explain as explain_rules,
)
from referralkit.store import RoutingStore

if TYPE_CHECKING:
    from referralkit.desk.core import ReferralDesk

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


def route(desk: ReferralDesk, referral_id: UUID, *, now: datetime | None = None) -> RoutingReport:
    """Implement :meth:`ReferralDesk.route` (documented there)."""
    at = now or desk.clock.now()
    rules = desk.routing_rules.active
    applied: _Decisions = []
    failed: _Failures = []
    attempt = 0
    while True:
        referral = desk.store.get(referral_id)
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


def sweep_routing(
    desk: ReferralDesk, now: datetime | None = None, *, page_size: int = 500
) -> RoutingSweepReport:
    """Implement :meth:`ReferralDesk.sweep_routing` (documented there)."""
    at = now or desk.clock.now()
    if isinstance(desk.store, RoutingStore) and not desk.hooks.implemented(
        "referralkit_add_routing_rules"
    ):
        return _sweep_due(desk, desk.store, at, page_size)
    # Contributed rules may depend on the time in ways next_routing_at cannot know, and a store
    # without the index cannot say what is due: evaluate every open referral.
    statuses = (*ACTIVE_STATES, ReferralStatus.ON_HOLD)
    examined = routed = decisions = failures = conflicts = 0
    after: UUID | None = None
    while True:
        page = desk.store.list_by_status(statuses, limit=page_size, after=after)
        if not page:
            break
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
        after = page[-1].id
    _log.info("routing sweep: %d examined, %d decisions applied", examined, decisions)
    return RoutingSweepReport(at, examined, routed, decisions, failures, conflicts)


def _sweep_due(
    desk: ReferralDesk, store: RoutingStore, at: datetime, page_size: int
) -> RoutingSweepReport:
    # Only referrals whose next_routing_at has come (index order, keyset paging): the cost
    # follows what is due, not what is open. A referral with nothing to do after all (its
    # time was early, or the decision was already recorded) moves on to its next time.
    rules = desk.routing_rules.active
    examined = routed = decisions = failures = conflicts = 0
    after: tuple[datetime, UUID] | None = None
    while True:
        page = store.due_for_routing(at, limit=page_size, after=after)
        if not page:
            break
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
            if not report.applied and not report.failed:  # nothing committed: move it on
                current = store.get(referral.id)
                due = next_routing_at(current, store.events(referral.id), rules, at)
                store.reschedule_routing(current, due)
        last = page[-1]
        if last.next_routing_at is None:  # pragma: no cover - due rows always have a time
            break
        after = (last.next_routing_at, last.id)
    _log.info("routing sweep: %d due examined, %d decisions applied", examined, decisions)
    return RoutingSweepReport(at, examined, routed, decisions, failures, conflicts)


def explain(
    desk: ReferralDesk, referral_id: UUID, *, now: datetime | None = None
) -> tuple[RuleExplanation, ...]:
    """Implement :meth:`ReferralDesk.explain` (documented there)."""
    referral = desk.store.get(referral_id)
    events = desk.store.events(referral_id)
    return explain_rules(referral, events, desk.routing_rules.active, now or desk.clock.now())


def _contributed_routing(
    desk: ReferralDesk, referral: Referral, events: Sequence[Event], at: datetime
) -> _Decisions:
    if not desk.hooks.implemented("referralkit_add_routing_rules"):
        return []
    queues = desk.routing_rules.active.queues.queues
    decisions: _Decisions = []
    for rule in desk.hooks.routing_rules():
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
    desk: ReferralDesk, referral: Referral, decision: RoutingDecision, version: int
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

        updated = desk.amend(
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
    updated = desk.amend(
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
        desk.dispatch(alert, queue=task.queue)
    except NoBackendError:
        return updated.version, None
    return desk.store.get(referral_id).version, None


def _apply_routing_referrer(
    desk: ReferralDesk, referral: Referral, decision: RoutingDecision, version: int
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
            outcome = desk.dispatch(request, queue=decision.queue or "practice_relations")
        except NoBackendError:
            pass
        else:
            data["channel"] = "notification"
            data["outcome"] = outcome.status
            updated = desk.amend(
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
    updated = desk.amend(
        referral_id,
        "routing_notified",
        actor=ROUTING_ACTOR,
        update=_with_task(task) if task is not None else {},
        data=data,
        expected_version=version,
    )
    return updated.version, None


def _apply_routing_fire(
    desk: ReferralDesk, referral_id: UUID, decision: RoutingDecision, version: int
) -> tuple[int, str | None]:
    data = decision.event_data()
    trigger = decision.trigger
    if trigger is None:  # pragma: no cover - the engine always sets it for "fire"
        return version, "no trigger"
    try:
        fired = desk.fire(
            referral_id,
            trigger,
            actor=ROUTING_ACTOR,
            data=dict(decision.data),
            expected_version=version,
        )
    except (InvalidTransitionError, TriggerDataError) as exc:
        # Refused: record it (so it is not retried every sweep) and hand it to a person.
        data["refused"] = type(exc).__name__
        task = decision.task
        updated = desk.amend(
            referral_id,
            "routing_fire_refused",
            actor=ROUTING_ACTOR,
            update=_with_task(task) if task is not None else {},
            data=data,
            expected_version=version,
        )
        return updated.version, f"trigger {trigger} refused: {type(exc).__name__}"
    updated = desk.amend(
        referral_id,
        "routing_fired",
        actor=ROUTING_ACTOR,
        update={},
        data=data,
        expected_version=fired.version,
    )
    return updated.version, None
