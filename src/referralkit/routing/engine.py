"""The routing engine: pure functions from (referral, events, rules, now) to decisions.

:func:`evaluate` returns what should happen (open a task, escalate, notify, fire a trigger),
each decision with the rule that fired, the values it saw and why, and an idempotency key
(rule id + subject). A decision whose key is already recorded in the event log is not made
again, so evaluating twice opens no second task and sends no second alert. :func:`explain`
lists every rule, matched or not, with the reason: for staff and for audits.

Nothing here writes anything; :class:`~referralkit.desk.ReferralDesk` applies the decisions.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from referralkit.events import Event
from referralkit.model import HumanTask, Referral, ReferralStatus, TaskPriority
from referralkit.routing.decider import Decider
from referralkit.routing.decisions import (
    CheckResult,
    DecisionKind,
    RoutingDecision,
    RoutingReport,
    RoutingResult,
    RoutingSweepReport,
    RuleExplanation,
    clip,
    task_id_for,
)
from referralkit.routing.facts import ROUTING_EVENT_PREFIX, Facts
from referralkit.routing.rules import Rule
from referralkit.routing.ruleset import RuleSet

__all__ = [
    "CheckResult",
    "DecisionKind",
    "RoutingDecision",
    "RoutingReport",
    "RoutingResult",
    "RoutingSweepReport",
    "RuleExplanation",
    "decisions_due",
    "evaluate",
    "explain",
    "suggested_decision",
    "task_id_for",
]

_VOID: Final = "not evaluated: the referral was entered in error and is never routed"


def _utc(now: datetime) -> datetime:
    # A naive instant is taken as UTC, so a caller's mistake cannot make evaluation raise.
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _run_checks(
    rules: RuleSet, index: int, facts: Facts, *, all_checks: bool
) -> tuple[CheckResult, ...]:
    results: list[CheckResult] = []
    for check in rules.checks(index):
        passed = bool(check.test(facts))
        results.append(CheckResult(check.name, passed, check.expected, check.seen(facts)))
        if not passed and not all_checks:
            break
    return tuple(results)


def _reason(rule: Rule, checks: Sequence[CheckResult], matched: bool) -> str:
    if not rule.enabled:
        return "rule is disabled"
    if matched:
        seen = "; ".join(f"{c.name}={c.seen}" for c in checks) or "no conditions"
        return clip(f"matched ({seen})")
    failed = next((c for c in checks if not c.passed), None)
    if failed is None:  # pragma: no cover - a rule that did not match has a failing check
        return "not matched"
    return clip(f"not matched: {failed.name} saw {failed.seen}, needs {failed.expected}")


def evaluate(
    referral: Referral, events: Sequence[Event], rules: RuleSet, now: datetime
) -> RoutingResult:
    """Decide what routing should do for *referral* at *now*.

    Pure: reads the referral, its *events* (oldest first) and the rules; writes nothing.
    Decisions already recorded in *events* (by idempotency key) are left out. A referral
    entered in error is void and never routed.

    :param now: the evaluation instant (a naive value is taken as UTC).

    .. versionadded:: 0.1
    """
    at = _utc(now)
    if referral.status is ReferralStatus.ENTERED_IN_ERROR:
        return RoutingResult(referral.id, at, (), ())  # void: nothing to route
    facts = rules.facts(referral, events, at)
    decider = Decider(rules, facts)
    decisions: list[RoutingDecision] = []
    matched: list[RuleExplanation] = []
    index_of = {id(rule): i for i, rule in enumerate(rules.rules)}
    for rule in rules.match(facts):
        checks = _run_checks(rules, index_of[id(rule)], facts, all_checks=True)
        explanation = RuleExplanation(
            rule.id, rule.description, True, _reason(rule, checks, True), checks
        )
        matched.append(explanation)
        decisions.extend(decider.decide(rule, explanation))
    return RoutingResult(referral.id, at, tuple(decisions), tuple(matched), tuple(decider.skipped))


_PROBE: Final = RuleExplanation("", "", True, "", ())


def decisions_due(rules: RuleSet, facts: Facts) -> bool:
    """Return whether :func:`evaluate` would decide anything for these *facts*.

    The same rules and the same decider, without building explanations: for the desk's
    check at every commit (:func:`~referralkit.routing.next_routing_at`).

    .. versionadded:: 0.1
    """
    if facts.status is ReferralStatus.ENTERED_IN_ERROR:
        return False
    decider = Decider(rules, facts)
    return any(decider.has_due(rule, _PROBE) for rule in rules.match(facts))


def explain(
    referral: Referral, events: Sequence[Event], rules: RuleSet, now: datetime
) -> tuple[RuleExplanation, ...]:
    """Explain every rule for *referral* at *now*: matched or not, the values seen, and why.

    Matched rules list their outcomes (what would be decided, or that it is already recorded).

    .. versionadded:: 0.1
    """
    at = _utc(now)
    facts = rules.facts(referral, events, at)
    explanations: list[RuleExplanation] = []
    void = referral.status is ReferralStatus.ENTERED_IN_ERROR
    for index, rule in enumerate(rules.rules):
        checks = _run_checks(rules, index, facts, all_checks=True)
        matched = rule.enabled and not void and all(c.passed for c in checks)
        reason = _VOID if void else _reason(rule, checks, matched)
        explanation = RuleExplanation(rule.id, rule.description, matched, reason, checks)
        if matched:
            decider = Decider(rules, facts)
            outcomes = [
                f"{d.kind}"
                + (f" -> {d.queue}" if d.queue else "")
                + (f" ({d.step})" if d.step else "")
                + f" due {facts.describe(d.task.due_at - at)} from now"
                if d.task is not None
                else f"{d.kind} {d.trigger or ''}".strip()
                for d in decider.decide(rule, explanation)
            ]
            outcomes.extend(f"already recorded: {key}" for key in decider.skipped)
            if not outcomes:
                outcomes.append("nothing due yet")
            explanation = attrs.evolve(explanation, outcomes=tuple(outcomes))
        explanations.append(explanation)
    return tuple(explanations)


def suggested_decision(
    referral: Referral,
    events: Sequence[Event],
    now: datetime,
    *,
    rule_id: str,
    queue: str,
    title: str,
    reason: str,
    priority: TaskPriority,
    due_in: timedelta,
) -> RoutingDecision | None:
    """Turn a rule's suggestion from outside the rule set (a plugin) into a task decision.

    Keyed by *rule_id* per referral like a built-in rule; ``None`` if already recorded.

    .. versionadded:: 0.1
    """
    at = _utc(now)
    if referral.status is ReferralStatus.ENTERED_IN_ERROR:
        return None
    key = f"{rule_id}:referral"
    recorded = {e.data.get("key") for e in events if e.kind.startswith(ROUTING_EVENT_PREFIX)}
    task_id = task_id_for(referral.id, key)
    if key in recorded or any(t.id == task_id for t in referral.tasks):
        return None
    try:
        due_at = at + max(due_in, timedelta(0))
    except OverflowError:
        due_at = datetime.max.replace(tzinfo=UTC)
    task = HumanTask(
        id=task_id,
        queue=queue,
        title=clip(title),
        reason=clip(f"rule {rule_id}: {reason}"),
        priority=priority,
        created_at=at,
        due_at=due_at,
        rule_id=rule_id,
    )
    explanation = RuleExplanation(rule_id, reason, True, "suggested by a contributed rule", ())
    return RoutingDecision("open_task", rule_id, key, explanation, task)
