"""Turning a matched rule's actions into decisions: tasks, notices, triggers, escalations."""

from __future__ import annotations

import hashlib
from datetime import datetime

from referralkit.model import HumanTask, Priority, TaskPriority, TaskStatus
from referralkit.routing.decisions import RoutingDecision, RuleExplanation, clip, task_id_for
from referralkit.routing.facts import Facts
from referralkit.routing.rules import Action, Rule, SlaDue
from referralkit.routing.ruleset import RuleSet
from referralkit.routing.sla import LADDER, ClockName, ladder_level


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


class Decider:
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
            title=clip(title or rule.description or rule.id),
            reason=clip(f"rule {rule.id}: {rule.description}"),
            priority=priority,
            created_at=self.now,
            due_at=due_at,
            rule_id=rule.id,
        )

    # -- actions --------------------------------------------------------------------------

    def decide(self, rule: Rule, explanation: RuleExplanation) -> list[RoutingDecision]:
        """Return what *rule* (which matched) decides now, skipping what is already recorded."""
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

    def has_due(self, rule: Rule, explanation: RuleExplanation) -> bool:
        """Return ``bool(self.decide(rule, explanation))`` without building the decisions.

        Every action but ``escalate`` decides exactly when its key is not yet recorded.
        """
        subject = _subject_key(rule, self.facts)
        for index, action in enumerate(rule.then):
            key = f"{rule.id}:{subject}" + (f"#{index}" if index else "")
            if action.kind == "escalate":
                if self._escalate(rule, action, explanation):
                    return True
            elif not self._done(key):
                return True
        return False

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
