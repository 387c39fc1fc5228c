"""The compiled rule set: validation against queues, hand-offs and the lifecycle; compilation.

:class:`RuleSet` checks every rule (declared queues, approved hand-offs per call type, known
SLA clocks, triggers the lifecycle allows the system to fire from every state the rule matches)
and compiles all conditions once into one generated function (as attrs generates ``__init__``),
so matching a hundred rules costs about what a hundred hand-written ``if`` statements do. Each
condition is also kept as separate checks with descriptions, for explanations.

.. versionadded:: 0.1
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Final, cast, get_args

import attrs
from pydantic import ValidationError

from referralkit.errors import RuleLoadError
from referralkit.events import Event
from referralkit.lifecycle import TRIGGER_DATA, TRIGGERS, allowed_triggers
from referralkit.model import Referral
from referralkit.routing.calendar import BusinessCalendar, UsBusinessCalendar
from referralkit.routing.facts import Facts
from referralkit.routing.queues import CALL_TYPES, CallType, QueueConfig
from referralkit.routing.rules import (
    ROUTING_ACTOR,
    Action,
    ActionKind,
    AutoAcceptPolicy,
    Condition,
    Recipient,
    Rule,
    SlaDue,
    Subject,
)
from referralkit.routing.sla import CLOCKS, DEFAULT_SLA, ClockName, SlaPolicy

__all__ = ["Check", "RuleSet", "rule_problems"]

_RULE_ID_RE: Final = re.compile(r"^[a-z][a-z0-9_.-]{0,79}$")


def _rules(values: Iterable[Rule]) -> tuple[Rule, ...]:
    return tuple(values)


def _policies(values: Iterable[AutoAcceptPolicy]) -> tuple[AutoAcceptPolicy, ...]:
    return tuple(values)


@attrs.frozen
class Check:
    """One compiled test of a condition, with how to describe it.

    :ivar name: the condition field.
    :ivar expression: the generated Python expression over ``f`` (a :class:`Facts`).
    :ivar expected: what the rule needs, in words.
    """

    name: str
    expression: str
    constant: object
    expected: str
    seen: Callable[[Facts], str]
    test: Callable[[Facts], bool]


def _names(values: Iterable[object]) -> str:
    return ", ".join(sorted(str(getattr(v, "value", v)) for v in values))


def _check(
    name: str, template: str, constant: object, expected: str, seen: Callable[[Facts], str]
) -> Check:
    expression = template.format(c="_c")
    # Only our own templates reach compile(): constants are passed by name, never as text.
    test = cast(
        "Callable[[Facts], bool]",
        eval(compile("lambda f: " + expression, "<routing check>", "eval"), {"_c": constant}),  # noqa: S307
    )
    return Check(name, template, constant, expected, seen, test)


def _value(f: Facts, attribute: str) -> str:
    raw = getattr(f, attribute)
    if raw is None:
        return "none"
    return str(getattr(raw, "value", raw))


def _checks(condition: Condition) -> list[Check]:
    c = condition
    checks: list[Check] = []

    def add(name: str, template: str, constant: object, expected: str,
            seen: Callable[[Facts], str]) -> None:  # fmt: skip
        checks.append(_check(name, template, constant, expected, seen))

    if c.status is not None:
        add("status", "f.status in {c}", c.status, "one of " + _names(c.status),
            lambda f: _value(f, "status"))  # fmt: skip
    if c.priority is not None:
        add("priority", "f.priority in {c}", c.priority, "one of " + _names(c.priority),
            lambda f: _value(f, "priority"))  # fmt: skip
    if c.specialty is not None:
        add("specialty", "f.specialty in {c}", c.specialty, "one of " + _names(c.specialty),
            lambda f: _value(f, "specialty"))  # fmt: skip
    if c.payer is not None:
        add("payer", "f.payer in {c}", c.payer, "one of " + _names(c.payer),
            lambda f: _value(f, "payer"))  # fmt: skip
    if c.authorization is not None:
        add("authorization", "f.auth_status in {c}", c.authorization,
            "one of " + _names(c.authorization), lambda f: _value(f, "auth_status"))  # fmt: skip
    if c.call_type is not None:
        add("call_type", "not f.call_types.isdisjoint({c})", c.call_type,
            "a call of type " + _names(c.call_type),
            lambda f: _names(f.call_types) or "none")  # fmt: skip
    if c.flags_any is not None:
        add("flags_any", "not f.flags.isdisjoint({c})", c.flags_any,
            "any flag of " + _names(c.flags_any), lambda f: _names(f.flags) or "none")  # fmt: skip
    if c.flags_none is not None:
        add("flags_none", "f.flags.isdisjoint({c})", c.flags_none,
            "no flag of " + _names(c.flags_none), lambda f: _names(f.flags) or "none")  # fmt: skip
    _count_checks(c, add)
    _time_checks(c, add)
    return checks


_Add = Callable[[str, str, object, str, Callable[[Facts], str]], None]


def _count_checks(c: Condition, add: _Add) -> None:
    if c.min_no_shows is not None:
        add("min_no_shows", "f.no_shows >= {c}", c.min_no_shows,
            f"at least {c.min_no_shows} no-shows", lambda f: str(f.no_shows))  # fmt: skip
    if c.min_attempts is not None:
        add("min_attempts", "f.attempts >= {c}", c.min_attempts,
            f"at least {c.min_attempts} outbound attempts", lambda f: str(f.attempts))  # fmt: skip
    if c.auto_accept is not None:
        wanted = "an auto-accept policy matches" if c.auto_accept else "no policy matches"
        add("auto_accept", "(f.auto_accept_policy is not None) is {c}", c.auto_accept, wanted,
            lambda f: f.auto_accept_policy or "no policy matches")  # fmt: skip
    if c.auth_expires_before_appointment is not None:
        flag = c.auth_expires_before_appointment
        add("auth_expires_before_appointment", "f.auth_expires_before_appointment is {c}",
            flag, str(flag).lower(),
            lambda f: str(f.auth_expires_before_appointment).lower())  # fmt: skip


def _time_checks(c: Condition, add: _Add) -> None:
    if c.in_state_for is not None:
        add("in_state_for", "f.reached(f.state_since, {c})", c.in_state_for,
            f"in state for at least {c.in_state_for.describe()}",
            lambda f: "in state for " + f.describe(f.since(f.state_since)))  # fmt: skip
    if c.since_event is not None:
        age = c.since_event
        add("since_event", "f.reached(f.last_event({c}.kind), {c}.at_least)", age,
            f"at least {age.at_least.describe()} since {age.kind}",
            lambda f: f"{age.kind} {f.describe(f.since(f.last_event(age.kind)))} ago")  # fmt: skip
    if c.auth_expiring_within is not None:
        add("auth_expiring_within", "f.auth_visits_unused and f.within(f.auth_expires_in, {c})",
            c.auth_expiring_within,
            f"visits left and expiry within {c.auth_expiring_within.describe()}",
            lambda f: f"expires in {f.describe(f.auth_expires_in)}, "
            f"visits left {str(f.auth_visits_unused).lower()}")  # fmt: skip
    if c.records_pending_within is not None:
        add("records_pending_within", "f.records_pending and f.within(f.appointment_in, {c})",
            c.records_pending_within,
            f"records outstanding, visit within {c.records_pending_within.describe()}",
            lambda f: f"records pending {str(f.records_pending).lower()}, "
            f"visit in {f.describe(f.appointment_in)}")  # fmt: skip
    if c.sla_breached is not None:
        clock = c.sla_breached
        add("sla_breached", "f.breached({c})", clock, f"{clock} SLA breached",
            lambda f: _describe_clock(f, clock))  # fmt: skip


def _describe_clock(f: Facts, clock: ClockName) -> str:
    state = f.clock(clock)
    if not state.running:
        return f"{clock} clock not running"
    if state.paused:
        return f"{clock} clock paused (on hold)"
    if state.deadline is None:
        return f"{clock} clock has no deadline"
    return (
        f"{clock} deadline {'passed' if f.now >= state.deadline else 'in'} "
        + f.describe(abs(state.deadline - f.now))
        + (" ago" if f.now >= state.deadline else "")
    )


# -- The compiled rule set ----------------------------------------------------------------


def rule_problems(rule: Rule, queues: QueueConfig) -> list[str]:
    """Return what is wrong with *rule* given the declared *queues* (empty when valid).

    .. versionadded:: 0.1
    """
    found: list[str] = []
    if not _RULE_ID_RE.match(rule.id):
        found.append("rule id must be lower-case letters, digits, '_', '.', '-' (max 80)")
    if not rule.description.strip():
        found.append("description is empty")
    if not rule.then:
        found.append("rule has no actions")
    if rule.subject not in get_args(Subject):
        found.append(f"unknown subject {rule.subject!r}")
    call_types = rule.when.call_type or frozenset()
    for call_type in sorted(call_types - set(CALL_TYPES)):
        found.append(f"unknown call type {call_type!r}")
    if rule.when.sla_breached is not None and rule.when.sla_breached not in CLOCKS:
        found.append(f"unknown SLA clock {rule.when.sla_breached!r}")
    for action in rule.then:
        if action.kind not in get_args(ActionKind):
            found.append(f"unknown action {action.kind!r}")
            continue
        targets: list[str] = []
        if action.queue is not None:
            if action.queue not in queues.queues:
                found.append(f"{action.kind}: unknown queue {action.queue!r}")
            else:
                targets.append(action.queue)
        if isinstance(action.due, SlaDue) and action.due.clock not in CLOCKS:
            found.append(f"unknown SLA clock {action.due.clock!r}")
        if action.kind == "open_task":
            if action.queue is None:
                found.append("open_task needs a queue")
            if not action.title:
                found.append("open_task needs a title")
            if action.due is None:
                found.append("open_task needs a due time")
        elif action.kind == "notify":
            if action.recipient not in get_args(Recipient):
                found.append(f"notify: unknown recipient {action.recipient!r}")
            if action.recipient == "staff" and action.queue is None:
                found.append("notify staff needs the queue to alert")
            if not action.message:
                found.append("notify needs a message")
        elif action.kind == "escalate":
            if action.clock not in CLOCKS:
                found.append(f"escalate: unknown SLA clock {action.clock!r}")
        else:
            found.extend(_fire_problems(rule, action))
        for call_type in sorted(call_types & set(CALL_TYPES)):
            approved = queues.handoffs.get(cast("CallType", call_type), frozenset())
            for target in targets:
                if target not in approved:
                    found.append(
                        f"call type {call_type!r} may not hand off to queue {target!r}"
                        f" (approved: {_names(approved) or 'none'})"
                    )
    return found


def _fire_problems(rule: Rule, action: Action) -> list[str]:
    trigger = action.trigger
    if trigger is None or trigger not in TRIGGERS:
        return [f"fire: unknown trigger {trigger!r}"]
    found: list[str] = []
    # An empty referral in each state, every other field at its default: constructed, since
    # validating would build the whole Referral validator when the default rules load (when a
    # desk opens), and defaults need no validation.
    refused = sorted(
        state.value
        for state in rule.when.states()
        if trigger not in allowed_triggers(Referral.model_construct(status=state), ROUTING_ACTOR)
    )
    if refused:
        found.append(
            f"fire: the lifecycle refuses {trigger!r} for the system from state(s) "
            f"{', '.join(refused)} that the rule matches"
        )
    try:
        TRIGGER_DATA[trigger].model_validate(dict(action.data))
    except ValidationError as exc:
        fields = ", ".join(
            ".".join(str(p) for p in e["loc"]) or "<data>" for e in exc.errors(include_input=False)
        )
        found.append(f"fire: invalid data for {trigger!r} ({fields})")
    return found


def _compile(
    rules: Sequence[Rule], checks: Sequence[Sequence[Check]]
) -> Callable[[Facts], list[int]]:
    namespace: dict[str, object] = {}
    lines = ["def _match(f):", "    out = []", "    add = out.append"]
    for index, rule_checks in enumerate(checks):
        if not rules[index].enabled:
            continue
        parts = []
        for position, check in enumerate(rule_checks):
            name = f"_c{index}_{position}"
            namespace[name] = check.constant
            parts.append("(" + check.expression.format(c=name) + ")")
        lines.append(f"    if {' and '.join(parts) or 'True'}:")
        lines.append(f"        add({index})")
    lines.append("    return out")
    # Generated from our own templates (as attrs generates __init__): rule text never becomes
    # code; every constant is bound by name in the namespace.
    exec(compile("\n".join(lines), "<referralkit.routing compiled rules>", "exec"), namespace)  # noqa: S102
    return cast("Callable[[Facts], list[int]]", namespace["_match"])


@attrs.frozen
class RuleSet:
    """Validated, compiled rules with the queues, SLA policy and calendar they use.

    Construction validates everything and compiles the conditions once.

    :raises RuleLoadError: a rule is invalid (names the rule, its line if known, and why);
        ``.problems`` lists every problem found.

    .. versionadded:: 0.1
    """

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)
    queues: QueueConfig = attrs.field(factory=QueueConfig)
    sla: SlaPolicy = DEFAULT_SLA
    calendar: BusinessCalendar = attrs.field(factory=UsBusinessCalendar)
    auto_accept: tuple[AutoAcceptPolicy, ...] = attrs.field(default=(), converter=_policies)
    source: str = "<python>"
    _checks: tuple[tuple[Check, ...], ...] = attrs.field(init=False, repr=False, eq=False)
    _match: Callable[[Facts], list[int]] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        problems: list[tuple[str | None, int | None, str]] = [
            (None, None, p) for p in self.queues.problems()
        ]
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                problems.append((rule.id, rule.line, "duplicate rule id"))
            seen.add(rule.id)
            problems.extend((rule.id, rule.line, p) for p in rule_problems(rule, self.queues))
        if problems:
            raise RuleLoadError(self.source, problems)
        checks = tuple(tuple(_checks(rule.when)) for rule in self.rules)
        object.__setattr__(self, "_checks", checks)
        object.__setattr__(self, "_match", _compile(self.rules, checks))

    def facts(self, referral: Referral, events: Sequence[Event], now: datetime) -> Facts:
        """Return the :class:`Facts` these rules read for *referral* at *now*."""
        return Facts(
            referral,
            events,
            now,
            calendar=self.calendar,
            sla=self.sla,
            auto_accept=self.auto_accept,
        )

    def match(self, facts: Facts) -> list[Rule]:
        """Return the enabled rules whose condition holds, in declaration order."""
        rules = self.rules
        return [rules[i] for i in self._match(facts)]

    def checks(self, rule_index: int) -> tuple[Check, ...]:
        """Return the compiled checks of the rule at *rule_index*."""
        return self._checks[rule_index]

    def rule(self, rule_id: str) -> Rule | None:
        """Return the rule with *rule_id*, if any."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None

    def replace(self, **changes: Any) -> RuleSet:
        """Return a copy with *changes* (validated and compiled again)."""
        return attrs.evolve(self, **changes)
