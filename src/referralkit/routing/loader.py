"""Load rules from TOML, validated, and keep the active rule set (:class:`RuleRegistry`).

A rules file that fails to parse or validate raises
:class:`~referralkit.errors.RuleLoadError` naming the rule id, the line and the reason, and the
registry keeps the rule set it had. See ``docs/routing.md`` for the file format.

.. versionadded:: 0.1
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import attrs

from referralkit.config import read_toml
from referralkit.errors import ConfigError, RuleLoadError
from referralkit.lifecycle import TRIGGERS
from referralkit.model import AuthorizationStatus, Priority, ReferralStatus, TaskPriority
from referralkit.routing.calendar import BusinessCalendar, UsBusinessCalendar
from referralkit.routing.defaults import DEFAULT_RULES, default_rules
from referralkit.routing.queues import (
    CALL_TYPES,
    DEFAULT_HANDOFFS,
    DEFAULT_QUEUES,
    Queue,
    QueueConfig,
)
from referralkit.routing.rules import (
    Action,
    AutoAcceptPolicy,
    Condition,
    EventAge,
    Rule,
    parse_due,
)
from referralkit.routing.ruleset import RuleSet, rule_problems
from referralkit.routing.sla import CLOCKS, DEFAULT_SLA, Duration, SlaPolicy, SlaTargets

__all__ = ["RuleRegistry", "load_path", "load_toml"]

_E = TypeVar("_E")
_TOP: Final = frozenset(
    {"extends", "calendar", "queues", "handoffs", "sla", "auto_accept", "rules"}
)
_RULE: Final = frozenset({"id", "description", "subject", "enabled", "when", "then"})
_WHEN: Final = frozenset(attrs.fields_dict(Condition))
_ACTION: Final = {
    "open_task": frozenset({"action", "queue", "title", "priority", "due"}),
    "notify": frozenset({"action", "recipient", "message", "queue", "due", "priority"}),
    "escalate": frozenset({"action", "clock", "queue"}),
    "fire": frozenset({"action", "trigger", "data", "queue", "title", "due"}),
}
_HEADER_RE: Final = re.compile(r"^\s*\[\[\s*rules\s*\]\]\s*(#.*)?$")
_TOML_LINE_RE: Final = re.compile(r"line (\d+)")


class _Problem(Exception):  # noqa: N818 - internal control flow, never escapes this module
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class _Lines:
    """Finds the line of a rule, or of a field inside it, in the source text."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [i + 1 for i, line in enumerate(self.lines) if _HEADER_RE.match(line)]
        self.end_of_rules = len(self.lines) + 1

    def rule(self, index: int, rule_id: str | None) -> int | None:
        if index < len(self.headers):
            return self.headers[index]
        if rule_id:  # rules written inline: find the id
            pattern = re.compile(r"\bid\s*=\s*[\"']" + re.escape(rule_id) + r"[\"']")
            for number, line in enumerate(self.lines, start=1):
                if pattern.search(line):
                    return number
        return None

    def field(self, index: int, rule_id: str | None, field: str | None) -> int | None:
        start = self.rule(index, rule_id)
        if start is None or field is None:
            return start
        end = self.headers[index + 1] if index + 1 < len(self.headers) else self.end_of_rules
        pattern = re.compile(r"(^|[\s{,.\[])" + re.escape(field) + r"\s*[=\]]")
        for number in range(start, min(end, len(self.lines) + 1)):
            if pattern.search(self.lines[number - 1]):
                return number
        return start

    def key(self, key: str) -> int | None:
        pattern = re.compile(r"(^|[\s{,.\[])" + re.escape(key) + r"\s*[=\].]")
        for number, line in enumerate(self.lines, start=1):
            if pattern.search(line):
                return number
        return None


def _table(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Problem(f"{what} must be a table")
    return value


def _only(table: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise _Problem(f"unknown field {unknown[0]!r} in {what}", unknown[0])


def _strings(value: object, field: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise _Problem(f"{field} must be a string or a list of strings", field)
    return cast("list[str]", items)


def _enums(value: object, field: str, enum: Callable[[str], _E], known: Iterable[str]) -> list[_E]:
    out: list[_E] = []
    for item in _strings(value, field):
        try:
            out.append(enum(item))
        except ValueError:
            raise _Problem(
                f"{field}: unknown value {item!r} (known: {', '.join(known)})", field
            ) from None
    return out


def _duration(value: object, field: str) -> Duration:
    if not isinstance(value, str):
        raise _Problem(
            f"{field}: bad duration (write it as a string such as '4h' or '2bd')", field
        )
    try:
        return Duration.parse(value)
    except ValueError as exc:
        raise _Problem(f"{field}: {exc}", field) from None


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise _Problem(f"{field} must be true or false", field)
    return value


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Problem(f"{field} must be a whole number >= 0", field)
    return value


def _str(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Problem(f"{field} must be a non-empty string", field)
    return value


def _condition(raw: object) -> Condition:
    table = _table(raw, "when")
    _only(table, _WHEN, "when")
    args: dict[str, Any] = {}
    statuses = [s.value for s in ReferralStatus]
    for field, value in table.items():
        if field == "status":
            args[field] = _enums(value, field, ReferralStatus, statuses)
        elif field == "priority":
            args[field] = _enums(value, field, Priority, [p.value for p in Priority])
        elif field == "authorization":
            known = [a.value for a in AuthorizationStatus]
            args[field] = _enums(value, field, AuthorizationStatus, known)
        elif field == "call_type":
            args[field] = _enums(value, field, _known(CALL_TYPES, field), CALL_TYPES)
        elif field in ("specialty", "payer", "flags_any", "flags_none"):
            args[field] = _strings(value, field)
        elif field in ("min_no_shows", "min_attempts"):
            args[field] = _int(value, field)
        elif field in ("in_state_for", "auth_expiring_within", "records_pending_within"):
            args[field] = _duration(value, field)
        elif field in ("auth_expires_before_appointment", "auto_accept"):
            args[field] = _bool(value, field)
        elif field == "sla_breached":
            args[field] = _enums(value, field, _known(CLOCKS, field), CLOCKS)[0]
        else:  # since_event
            age = _table(value, field)
            _only(age, ("kind", "at_least"), field)
            if "kind" not in age or "at_least" not in age:
                raise _Problem("since_event needs kind and at_least", field)
            args[field] = EventAge(_str(age["kind"], "kind"), _duration(age["at_least"], field))
    return Condition(**args)


def _known(values: Iterable[str], field: str) -> Callable[[str], str]:
    allowed = frozenset(values)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(field)
        return value

    return check


def _action(raw: object) -> Action:
    table = _table(raw, "then")
    kind = table.get("action")
    if kind not in _ACTION:
        raise _Problem(f"unknown action {kind!r} (known: {', '.join(_ACTION)})", "action")
    _only(table, _ACTION[kind], f"{kind} action")
    due: Any = None
    if "due" in table:
        if not isinstance(table["due"], str):
            raise _Problem("due: bad duration", "due")
        try:
            due = parse_due(table["due"])
        except ValueError as exc:
            raise _Problem(f"due: {exc}", "due") from None
    priority = TaskPriority.NORMAL
    if "priority" in table:
        priority = _enums(
            table["priority"], "priority", TaskPriority, [p.value for p in TaskPriority]
        )[0]
    queue = _str(table["queue"], "queue") if "queue" in table else None
    if kind == "open_task":
        if due is None:
            raise _Problem("open_task needs a due time", "action")
        return Action.open_task(
            _str(table.get("queue"), "queue"),
            _str(table.get("title"), "title"),
            due=due,
            priority=priority,
        )
    if kind == "notify":
        recipient = _enums(
            table.get("recipient"),
            "recipient",
            _known(("staff", "referrer"), "recipient"),
            ("staff", "referrer"),
        )[0]
        return Action.notify(
            cast("Any", recipient),
            _str(table.get("message"), "message"),
            queue=queue,
            due=due or "1bd",
            priority=TaskPriority.HIGH if "priority" not in table else priority,
        )
    if kind == "escalate":
        clock = _enums(table.get("clock"), "clock", _known(CLOCKS, "clock"), CLOCKS)[0]
        return Action.escalate(cast("Any", clock), owner_queue=queue)
    trigger = _enums(table.get("trigger"), "trigger", _known(TRIGGERS, "trigger"), TRIGGERS)[0]
    data = _table(table.get("data", {}), "data")
    title = _str(table["title"], "title") if "title" in table else None
    return Action.fire(
        cast("Any", trigger), dict(data), fallback_queue=queue, title=title, due=due or "1bd"
    )


def _rule(raw: object, line: int | None) -> Rule:
    table = _table(raw, "rule")
    _only(table, _RULE, "rule")
    for required in ("id", "description", "when", "then"):
        if required not in table:
            raise _Problem(f"rule needs {required!r}", required)
    then = table["then"]
    if not isinstance(then, list) or not then:
        raise _Problem("then must be a non-empty list of actions ([[rules.then]])", "then")
    subject = table.get("subject", "referral")
    if subject not in ("referral", "state_entry", "appointment", "authorization"):
        raise _Problem(f"unknown subject {subject!r}", "subject")
    return Rule(
        id=_str(table["id"], "id"),
        description=_str(table["description"], "description"),
        when=_condition(table["when"]),
        then=tuple(_action(a) for a in then),
        subject=subject,
        enabled=_bool(table.get("enabled", True), "enabled"),
        line=line,
    )


def _queues(raw: object) -> dict[str, Queue]:
    queues = dict(DEFAULT_QUEUES)
    for name, spec in _table(raw, "queues").items():
        table = _table(spec, f"queues.{name}")
        _only(table, ("title", "escalates_to"), f"queues.{name}")
        escalates = table.get("escalates_to")
        queues[name] = Queue(
            name=name,
            title=_str(table.get("title", name), "title"),
            escalates_to=_str(escalates, "escalates_to") if escalates is not None else None,
        )
    return queues


def _handoffs(raw: object, queues: Mapping[str, Queue]) -> QueueConfig:
    handoffs: dict[Any, frozenset[str]] = dict(DEFAULT_HANDOFFS)
    for call_type, targets in _table(raw, "handoffs").items():
        if call_type not in CALL_TYPES:
            raise _Problem(f"unknown call type {call_type!r} in handoffs", call_type)
        handoffs[call_type] = frozenset(_strings(targets, call_type))
    return QueueConfig(queues=queues, handoffs=handoffs)


def _sla(raw: object) -> SlaPolicy:
    targets = dict(DEFAULT_SLA.targets)
    for name, spec in _table(raw, "sla").items():
        priority = _enums(name, "sla", Priority, [p.value for p in Priority])[0]
        table = _table(spec, f"sla.{name}")
        _only(table, ("acceptance", "booking", "escalate_every"), f"sla.{name}")
        current = targets[priority]
        targets[priority] = SlaTargets(
            _duration(table["acceptance"], "acceptance")
            if "acceptance" in table
            else current.acceptance,
            _duration(table["booking"], "booking") if "booking" in table else current.booking,
            _duration(table["escalate_every"], "escalate_every")
            if "escalate_every" in table
            else current.escalate_every,
        )
    return SlaPolicy(targets)


def _calendar(raw: object) -> BusinessCalendar:
    table = _table(raw, "calendar")
    _only(table, ("zone", "subdivision", "closed"), "calendar")
    closed = table.get("closed", [])
    if not isinstance(closed, list) or not all(isinstance(d, date) for d in closed):
        raise _Problem("closed must be a list of dates (1999-12-31)", "closed")
    try:
        return UsBusinessCalendar(
            zone_name=_str(table.get("zone", "America/New_York"), "zone"),
            subdivision=_str(table["subdivision"], "subdivision")
            if "subdivision" in table
            else None,
            extra_closed=frozenset(closed),
        )
    except (ValueError, KeyError, NotImplementedError) as exc:
        field = "subdivision" if "subdivision" in str(exc).lower() else "zone"
        raise _Problem(f"calendar: unknown {field}", field) from None


def _auto_accept(raw: object) -> tuple[AutoAcceptPolicy, ...]:
    if not isinstance(raw, list):
        raise _Problem("auto_accept must be a list of tables ([[auto_accept]])", "auto_accept")
    policies = []
    for spec in raw:
        table = _table(spec, "auto_accept")
        allowed = ("name", "specialties", "priorities", "referring_practices", "payers")
        _only(table, allowed, "auto_accept")
        args: dict[str, Any] = {"name": _str(table.get("name"), "name")}
        for field in ("specialties", "referring_practices", "payers"):
            if field in table:
                args[field] = _strings(table[field], field)
        if "priorities" in table:
            args["priorities"] = _enums(
                table["priorities"], "priorities", Priority, [p.value for p in Priority]
            )
        policies.append(AutoAcceptPolicy(**args))
    return tuple(policies)


def load_toml(
    text: str, *, source: str = "<string>", calendar: BusinessCalendar | None = None
) -> RuleSet:
    """Parse, validate and compile a rules file.

    :param source: a name for error messages (a file name; never its content).
    :param calendar: the calendar to use when the file has no ``[calendar]`` table.
    :raises RuleLoadError: naming the rule id (when the problem is in a rule), the line, and
        why; nothing is compiled.

    .. versionadded:: 0.1
    """
    unreadable: ConfigError | None = None
    try:
        document = read_toml(text, name=source)
    except ConfigError as exc:
        unreadable = exc
    if unreadable is not None:  # raised outside the handler: no chain
        reason = unreadable.reason.replace("not valid TOML:", "TOML syntax error:", 1)
        reason = reason.replace("(at , column", "(column")
        raise RuleLoadError(source, [(None, unreadable.line, reason)])
    lines = _Lines(text)
    problems: list[tuple[str | None, int | None, str]] = []

    def section(key: str, parse: Callable[[object], _E], default: _E) -> _E:
        if key not in document:
            return default
        try:
            return parse(document[key])
        except _Problem as problem:
            problems.append(
                (None, lines.key(problem.field or key) or lines.key(key), problem.reason)
            )
            return default

    unknown = sorted(set(document) - _TOP)
    for key in unknown:
        problems.append((None, lines.key(key), f"unknown top-level field {key!r}"))
    extends = document.get("extends")
    if extends not in (None, "defaults"):
        problems.append((None, lines.key("extends"), 'extends must be "defaults" if given'))
    queues = section("queues", _queues, dict(DEFAULT_QUEUES))
    queue_config = section(
        "handoffs", lambda raw: _handoffs(raw, queues), QueueConfig(queues=queues)
    )
    sla = section("sla", _sla, DEFAULT_SLA)
    chosen = section("calendar", _calendar, calendar or UsBusinessCalendar())
    no_policies: tuple[AutoAcceptPolicy, ...] = ()
    auto_accept = section("auto_accept", _auto_accept, no_policies)
    raw_rules = document.get("rules", [])
    rules: list[Rule] = []
    if not isinstance(raw_rules, list):
        problems.append((None, lines.key("rules"), "rules must be a list of tables ([[rules]])"))
        raw_rules = []
    for index, raw in enumerate(raw_rules):
        rule_id = raw.get("id") if isinstance(raw, Mapping) else None
        rule_id = rule_id if isinstance(rule_id, str) else None
        try:
            rules.append(_rule(raw, lines.rule(index, rule_id)))
        except _Problem as problem:
            problems.append((rule_id, lines.field(index, rule_id, problem.field), problem.reason))
        except ValueError as exc:  # a converter refused a value (attrs validators)
            problems.append((rule_id, lines.rule(index, rule_id), str(exc)))
    if problems:
        # Report the rules that did parse too, so one round trip shows every problem.
        for rule in rules:
            problems.extend((rule.id, rule.line, p) for p in rule_problems(rule, queue_config))
        raise RuleLoadError(source, sorted(problems, key=lambda p: p[1] or 0))
    if extends == "defaults":
        own = {rule.id for rule in rules}
        rules = [rule for rule in DEFAULT_RULES if rule.id not in own] + rules
    return RuleSet(
        rules,
        queues=queue_config,
        sla=sla,
        calendar=chosen,
        auto_accept=auto_accept,
        source=source,
    )


def load_path(path: str | Path, *, calendar: BusinessCalendar | None = None) -> RuleSet:
    """Load a rules file from *path* (see :func:`load_toml`).

    :raises RuleLoadError: the file cannot be read, parsed or validated.

    .. versionadded:: 0.1
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleLoadError(
            file.name, [(None, None, f"cannot read file: {type(exc).__name__}")]
        ) from exc
    return load_toml(text, source=file.name, calendar=calendar)


@attrs.define
class RuleRegistry:
    """Holds the active :class:`~referralkit.routing.rules.RuleSet`; a failed load changes nothing.

    .. versionadded:: 0.1
    """

    active: RuleSet = attrs.field(factory=default_rules)

    def use(self, rules: RuleSet) -> RuleSet:
        """Make the already-validated *rules* active and return them."""
        self.active = rules
        return rules

    def load_toml(self, text: str, *, source: str = "<string>") -> RuleSet:
        """Validate *text* and make it active.

        :raises RuleLoadError: the rules are invalid; the previous rule set stays active.
        """
        return self.use(load_toml(text, source=source, calendar=self.active.calendar))

    def load_path(self, path: str | Path) -> RuleSet:
        """Validate the rules file at *path* and make it active.

        :raises RuleLoadError: the rules are invalid; the previous rule set stays active.
        """
        return self.use(load_path(path, calendar=self.active.calendar))
