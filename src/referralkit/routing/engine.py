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

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from uuid import UUID, uuid5

import attrs

from referralkit.events import Event
from referralkit.lifecycle import Trigger
from referralkit.model import (
    HumanTask,
    Priority,
    Referral,
    ReferralStatus,
    TaskPriority,
    TaskStatus,
)
from referralkit.routing.facts import ROUTING_EVENT_PREFIX, Facts
from referralkit.routing.rules import Action, Recipient, Rule, SlaDue
from referralkit.routing.ruleset import RuleSet
from referralkit.routing.sla import LADDER, ClockName, LadderStep, ladder_level

__all__ = [
    "CheckResult",
    "DecisionKind",
    "RoutingDecision",
    "RoutingReport",
    "RoutingResult",
    "RoutingSweepReport",
    "RuleExplanation",
    "evaluate",
    "explain",
    "suggested_decision",
    "task_id_for",
]

DecisionKind = Literal["open_task", "escalate", "notify", "fire"]
_TASK_NAMESPACE: Final = UUID("6f0f3c52-5c8e-4d53-9a55-0c1bb1f0a6e4")
_MAX_TEXT: Final = 500
_VOID: Final = "not evaluated: the referral was entered in error and is never routed"


@attrs.frozen
class CheckResult:
    """One condition test of one rule: what it needs, what it saw, and whether it passed.

    .. versionadded:: 0.1
    """

    name: str
    passed: bool
    expected: str
    seen: str

    def __str__(self) -> str:
        verdict = "ok" if self.passed else "no"
        return f"{self.name}: saw {self.seen}; needs {self.expected} [{verdict}]"


@attrs.frozen
class RuleExplanation:
    """Why a rule did or did not match (values are codes and durations, never PHI).

    :ivar outcomes: for a matched rule, what became of each action (decided, or already
        recorded and skipped).

    .. versionadded:: 0.1
    """

    rule_id: str
    description: str
    matched: bool
    reason: str
    checks: tuple[CheckResult, ...]
    outcomes: tuple[str, ...] = ()


@attrs.frozen
class RoutingDecision:
    """One thing routing decided should happen to a referral.

    :ivar key: the idempotency key (rule id + subject); recorded in the event's ``data``.
    :ivar task: the task to open: for ``open_task``; for ``escalate`` steps that open one; for
        ``notify`` and ``fire``, the task a person gets if the alert cannot be sent or the
        trigger is refused.
    :ivar escalate_task_id: for the ``owner`` ladder step, the open task whose owner is alerted.

    .. versionadded:: 0.1
    """

    kind: DecisionKind
    rule_id: str
    key: str
    explanation: RuleExplanation
    task: HumanTask | None = None
    escalate_task_id: UUID | None = None
    clock: ClockName | None = None
    step: LadderStep | None = None
    recipient: Recipient | None = None
    message: str | None = None
    trigger: Trigger | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def queue(self) -> str | None:
        """The queue the decision routes to, if any."""
        return self.task.queue if self.task is not None else None

    def event_data(self) -> dict[str, Any]:
        """Return the JSON-compatible, PHI-free record of this decision for its event."""
        data: dict[str, Any] = {
            "key": self.key,
            "rule_id": self.rule_id,
            "decision": self.kind,
            "reason": self.explanation.reason,
        }
        if self.task is not None:
            data["task_id"] = str(self.task.id)
            data["queue"] = self.task.queue
            data["due_at"] = self.task.due_at.isoformat()
            data["priority"] = self.task.priority.value
        if self.escalate_task_id is not None:
            data["escalated_task_id"] = str(self.escalate_task_id)
        for name in ("clock", "step", "recipient", "message", "trigger"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


@attrs.frozen
class RoutingResult:
    """What :func:`evaluate` decided for one referral at one instant.

    :ivar matched: explanations of the rules that matched.
    :ivar already_recorded: idempotency keys of decisions skipped because they are done.

    .. versionadded:: 0.1
    """

    referral_id: UUID
    at: datetime
    decisions: tuple[RoutingDecision, ...]
    matched: tuple[RuleExplanation, ...]
    already_recorded: tuple[str, ...] = ()


@attrs.frozen
class RoutingReport:
    """What the desk did with a :class:`RoutingResult`.

    :ivar applied: decisions committed (each with its event).
    :ivar failed: decisions that could not be applied, with a PHI-free reason; a refused
        trigger is recorded and handed to a person, so it is not retried forever.

    .. versionadded:: 0.1
    """

    referral_id: UUID
    at: datetime
    applied: tuple[RoutingDecision, ...] = ()
    failed: tuple[tuple[RoutingDecision, str], ...] = ()
    matched: tuple[RuleExplanation, ...] = ()
    already_recorded: tuple[str, ...] = ()


@attrs.frozen
class RoutingSweepReport:
    """What one routing sweep over open referrals did.

    .. versionadded:: 0.1
    """

    at: datetime
    examined: int
    routed: int
    """Referrals that had at least one decision applied."""
    decisions: int
    failures: int
    conflicts: int
    """Referrals skipped because other writers kept changing them."""


def task_id_for(referral_id: UUID, key: str) -> UUID:
    """Return the deterministic id of the task a decision with *key* opens.

    Deterministic, so two workers deciding the same thing produce the same task.
    """
    return uuid5(_TASK_NAMESPACE, f"{referral_id}/{key}")


def _utc(now: datetime) -> datetime:
    # A naive instant is taken as UTC, so a caller's mistake cannot make evaluation raise.
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _digest(value: str) -> str:
    # Subject keys go into events: identifiers are hashed, never copied.
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def _subject_key(rule: Rule, facts: Facts) -> str:
    if rule.subject == "state_entry":
        entry = facts.state_entry
        return f"state:{facts.status.value}:{entry.seq if entry is not None else 0}"
    if rule.subject == "appointment":
        appointment = facts.appointment
        return f"appointment:{appointment.id if appointment is not None else 'none'}"
    if rule.subject == "authorization":
        auth = facts.referral.authorization
        ident = f"{auth.number or ''}|{auth.valid_from or ''}|{auth.valid_to or ''}"
        return f"authorization:{auth.status.value}:{_digest(ident)}"
    return "referral"


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


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
        return _clip(f"matched ({seen})")
    failed = next((c for c in checks if not c.passed), None)
    if failed is None:  # pragma: no cover - a rule that did not match has a failing check
        return "not matched"
    return _clip(f"not matched: {failed.name} saw {failed.seen}, needs {failed.expected}")


class _Decider:
    """Turns a matched rule's actions into decisions for one referral (one evaluation)."""

    def __init__(self, rules: RuleSet, facts: Facts) -> None:
        self.rules = rules
        self.facts = facts
        self.now = facts.now
        self.referral = facts.referral
        self.task_ids = {t.id for t in self.referral.tasks}
        self.skipped: list[str] = []
        # Tasks decided earlier in this evaluation: an escalation can point at one of them.
        self.pending: list[HumanTask] = []

    # -- helpers ------------------------------------------------------------------------

    def _declared(self, *candidates: str | None) -> str:
        queues = self.rules.queues.queues
        for name in candidates:
            if name is not None and name in queues:
                return name
        return next(iter(queues))

    def _done(self, key: str) -> bool:
        recorded = key in self.facts.recorded_keys
        if recorded or (self.task_ids and task_id_for(self.referral.id, key) in self.task_ids):
            self.skipped.append(key)
            return True
        return False

    def _due(self, rule: Rule, action: Action) -> datetime:
        facts, due = self.facts, action.due
        if isinstance(due, SlaDue):
            state = facts.clock(due.clock)
            if state.deadline is not None:
                at = state.deadline
            else:  # clock not running (or paused): the budget counts from now
                budget = facts.sla.for_priority(facts.priority).budget(due.clock)
                at = budget.add_to(self.now, facts.calendar)
        elif due is None:
            at = self.now
        else:
            at = due.add_to(self.now, facts.calendar)
        appointment = facts.appointment
        if rule.subject == "appointment" and appointment is not None:
            at = min(at, max(appointment.start, self.now))
        return at

    def _task(
        self,
        key: str,
        queue: str,
        title: str,
        rule: Rule,
        due_at: datetime,
        priority: TaskPriority,
    ) -> HumanTask:
        return HumanTask(
            id=task_id_for(self.referral.id, key),
            queue=queue,
            title=_clip(title or rule.description or rule.id),
            reason=_clip(f"rule {rule.id}: {rule.description}"),
            priority=priority,
            created_at=self.now,
            due_at=due_at,
            rule_id=rule.id,
        )

    # -- actions --------------------------------------------------------------------------

    def decide(self, rule: Rule, explanation: RuleExplanation) -> list[RoutingDecision]:
        decisions: list[RoutingDecision] = []
        subject = _subject_key(rule, self.facts)
        for index, action in enumerate(rule.then):
            # Two actions of one rule get distinct keys; the first keeps the plain key.
            key = f"{rule.id}:{subject}" + (f"#{index}" if index else "")
            if action.kind == "escalate":
                decisions.extend(self._escalate(rule, action, explanation))
            elif self._done(key):
                continue
            elif action.kind == "open_task":
                task = self._task(
                    key,
                    self._declared(action.queue),
                    action.title or rule.description,
                    rule,
                    self._due(rule, action),
                    action.priority,
                )
                self.pending.append(task)
                decisions.append(RoutingDecision("open_task", rule.id, key, explanation, task))
            elif action.kind == "notify":
                decisions.append(self._notify(rule, action, key, explanation))
            else:
                decisions.append(self._fire(rule, action, key, explanation))
        return decisions

    def _notify(
        self, rule: Rule, action: Action, key: str, explanation: RuleExplanation
    ) -> RoutingDecision:
        if action.recipient == "referrer":
            queue = self._declared(action.queue, "practice_relations")
        else:
            queue = self._declared(action.queue)
        message = action.message or rule.description
        fallback = self._task(key, queue, message, rule, self._due(rule, action), action.priority)
        return RoutingDecision(
            "notify",
            rule.id,
            key,
            explanation,
            fallback,
            recipient=action.recipient or "staff",
            message=message,
        )

    def _fire(
        self, rule: Rule, action: Action, key: str, explanation: RuleExplanation
    ) -> RoutingDecision:
        data = dict(action.data)
        policy = self.facts.auto_accept_policy
        if action.trigger == "accept" and "policy" not in data and policy is not None:
            data["policy"] = policy
        fallback = None
        if action.queue is not None:
            fallback = self._task(
                key,
                self._declared(action.queue),
                action.title or rule.description,
                rule,
                self._due(rule, action),
                TaskPriority.HIGH,
            )
        return RoutingDecision(
            "fire", rule.id, key, explanation, fallback, trigger=action.trigger, data=data
        )

    def _clock_owner(self, clock: ClockName, action: Action) -> tuple[str, HumanTask | None]:
        owners = {
            r.id
            for r in self.rules.rules
            for a in r.then
            if a.kind == "open_task" and isinstance(a.due, SlaDue) and a.due.clock == clock
        }
        for task in (*self.referral.tasks, *self.pending):
            if task.status is TaskStatus.OPEN and task.rule_id in owners:
                return self._declared(action.queue, task.queue), task
        if clock == "acceptance":
            default = (
                "clinical_review" if self.facts.priority is Priority.ROUTINE else "urgent_clinical"
            )
        else:
            default = "scheduling"
        return self._declared(action.queue, default), None

    def _escalate(
        self, rule: Rule, action: Action, explanation: RuleExplanation
    ) -> list[RoutingDecision]:
        facts = self.facts
        clock: ClockName = action.clock or "acceptance"
        state = facts.clock(clock)
        if not state.breached(self.now) or state.deadline is None:
            return []
        every = facts.sla.for_priority(facts.priority).escalate_every
        level = ladder_level(state.deadline, every, self.now, facts.calendar)
        pending = [
            (step, key)
            for step in LADDER[:level]
            if not self._done(key := f"{rule.id}:{clock}:{state.start_seq}:{step}")
        ]
        if not pending:
            return []
        owner_queue, owner_task = self._clock_owner(clock, action)
        next_due = every.add_to(self.now, facts.calendar)
        decisions: list[RoutingDecision] = []
        for step, key in pending:
            if step == "owner":
                task = None
                if owner_task is None:
                    title = f"{clock.capitalize()} SLA breached: act now"
                    task = self._task(key, owner_queue, title, rule, next_due, TaskPriority.URGENT)
                decisions.append(
                    RoutingDecision(
                        "escalate",
                        rule.id,
                        key,
                        explanation,
                        task,
                        escalate_task_id=owner_task.id if owner_task is not None else None,
                        clock=clock,
                        step=step,
                    )
                )
            elif step == "supervisor":
                queue = self._declared(self.rules.queues.supervisor_of(owner_queue), owner_queue)
                title = f"Escalated: {clock} SLA breached in {owner_queue}"
                task = self._task(key, queue, title, rule, next_due, TaskPriority.URGENT)
                decisions.append(
                    RoutingDecision(
                        "escalate", rule.id, key, explanation, task, clock=clock, step=step
                    )
                )
            else:
                queue = self._declared("practice_relations", owner_queue)
                message = f"Referral {clock} is delayed past its deadline"
                task = self._task(
                    key,
                    queue,
                    "Tell the referring practice: " + message,
                    rule,
                    next_due,
                    TaskPriority.HIGH,
                )
                decisions.append(
                    RoutingDecision(
                        "escalate",
                        rule.id,
                        key,
                        explanation,
                        task,
                        clock=clock,
                        step=step,
                        recipient="referrer",
                        message=message,
                    )
                )
        return decisions


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
    decider = _Decider(rules, facts)
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
            decider = _Decider(rules, facts)
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
        title=_clip(title),
        reason=_clip(f"rule {rule_id}: {reason}"),
        priority=priority,
        created_at=at,
        due_at=due_at,
        rule_id=rule_id,
    )
    explanation = RuleExplanation(rule_id, reason, True, "suggested by a contributed rule", ())
    return RoutingDecision("open_task", rule_id, key, explanation, task)
