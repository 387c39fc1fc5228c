"""Loading outreach policies from TOML files and mappings (:func:`load_policy`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Final

import attrs

from referralkit.config import parse_timedelta, read_toml
from referralkit.errors import ConfigError
from referralkit.model import Channel, LostReason, Priority, TaskPriority
from referralkit.outreach.policy_defaults import default_policy
from referralkit.outreach.policy_types import (
    ACTIONS,
    CONDITIONS,
    DEFAULT_STATE_HOURS,
    PURPOSES,
    AuthRules,
    Cadence,
    Exhaustion,
    FrequencyCap,
    Hours,
    Policy,
    PolicyError,
    PracticeUpdates,
    RecordsRules,
    ReferrerUpdates,
    RetryRule,
    Step,
    WeeklyHours,
    WindowRules,
)

__all__ = ["load_policy", "parse_duration", "policy_from_mapping"]

_MAX_DURATION: Final = timedelta(days=3660)  # ten years: no outreach step is further away
_DURATION_RE: Final = re.compile(r"^(-)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def parse_duration(text: str) -> timedelta:
    """Parse ``"2d"``, ``"1d12h"``, ``"30m"`` or ``"-3d"`` into a :class:`~datetime.timedelta`.

    The one duration grammar (:func:`referralkit.config.parse_duration`), without business
    days: outreach steps are offsets on the wall clock.

    :raises ValueError: the text is not such a duration.
    """
    return parse_timedelta(text)


def _hhmm(text: object, path: str) -> time:
    if not isinstance(text, str) or not re.fullmatch(r"\d{2}:\d{2}", text):
        raise PolicyError(path, "expected HH:MM")
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise PolicyError(path, "expected HH:MM") from exc


class _Reader:
    """Typed access to a TOML table, raising :class:`PolicyError` with the field path."""

    def __init__(self, table: object, path: str) -> None:
        if not isinstance(table, Mapping):
            raise PolicyError(path, "expected a table")
        self.table: Mapping[str, object] = table
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def check_keys(self, allowed: Sequence[str]) -> None:
        unknown = sorted(set(self.table) - set(allowed))
        if unknown:
            raise PolicyError(self.path, f"unknown keys {unknown}")

    def get(self, key: str, kind: type[Any], default: Any = None) -> Any:
        value = self.table.get(key, default)
        if value is not None and not isinstance(value, kind):
            raise PolicyError(self.at(key), f"expected {kind.__name__}")
        return value

    def duration(self, key: str, default: timedelta | None = None) -> timedelta | None:
        value = self.get(key, str)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise PolicyError(self.at(key), str(exc)) from exc

    def enum(self, key: str, kind: type[Any], default: Any = None) -> Any:
        value = self.get(key, str)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError as exc:
            raise PolicyError(
                self.at(key), f"unknown value; one of {[m.value for m in kind]}"
            ) from exc

    def literal(self, key: str, allowed: Sequence[str], default: str) -> str:
        value = self.get(key, str, default)
        if value not in allowed:
            raise PolicyError(self.at(key), f"expected one of {list(allowed)}")
        return str(value)


def _hours(reader: _Reader) -> Hours:
    reader.check_keys(["start", "end", "weekdays"])
    start = _hhmm(reader.table.get("start", "08:00"), reader.at("start"))
    end = _hhmm(reader.table.get("end", "21:00"), reader.at("end"))
    if end <= start:
        raise PolicyError(reader.path, "end must be after start")
    return Hours(start, end)


_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekly(reader: _Reader) -> WeeklyHours:
    default = _hours(
        _Reader({k: v for k, v in reader.table.items() if k != "weekdays"}, reader.path)
    )
    weekdays: dict[int, Hours | None] = {}
    raw = reader.get("weekdays", Mapping, {})
    for name, value in raw.items():
        path = f"{reader.at('weekdays')}.{name}"
        if name not in _WEEKDAYS:
            raise PolicyError(path, "expected a weekday name")
        if value == "closed":
            weekdays[_WEEKDAYS.index(name)] = None
        else:
            weekdays[_WEEKDAYS.index(name)] = _hours(_Reader(value, path))
    return WeeklyHours(default, weekdays)


def _window(reader: _Reader) -> WindowRules:
    reader.check_keys(["start", "end", "weekdays", "states", "replace_state_defaults"])
    default = _weekly(_Reader({k: v for k, v in reader.table.items() if k not in ("states", "replace_state_defaults")}, reader.path))  # fmt: skip  # noqa: E501
    states: dict[str, WeeklyHours] = (
        {} if reader.get("replace_state_defaults", bool, False) else dict(DEFAULT_STATE_HOURS)
    )
    for code, table in reader.get("states", Mapping, {}).items():
        path = f"{reader.at('states')}.{code}"
        if not re.fullmatch(r"[A-Z]{2}", code):
            raise PolicyError(path, "expected a two-letter state code")
        states[code] = _weekly(_Reader(table, path))
    return WindowRules(default, states)


def _step(reader: _Reader) -> Step:
    reader.check_keys(
        ["id", "offset", "action", "channel", "fallback", "template", "when",
         "business_days", "valid_for", "queue", "task_priority"]
    )  # fmt: skip
    step_id = reader.get("id", str)
    if step_id is None:
        raise PolicyError(reader.at("id"), "required")
    offset = reader.duration("offset")
    if offset is None:
        raise PolicyError(reader.at("offset"), "required")
    fallback = []
    for index, name in enumerate(reader.get("fallback", list, [])):
        try:
            fallback.append(Channel(name))
        except ValueError as exc:
            raise PolicyError(f"{reader.at('fallback')}[{index}]", "unknown channel") from exc
    when = reader.get("when", list, [])
    for index, name in enumerate(when):
        if name not in CONDITIONS:
            raise PolicyError(f"{reader.at('when')}[{index}]", f"one of {list(CONDITIONS)}")
    action = reader.literal("action", ACTIONS, "contact")
    channel = reader.enum("channel", Channel)
    valid_for = reader.duration("valid_for")
    priority = reader.enum("task_priority", TaskPriority, TaskPriority.NORMAL)
    try:
        return Step(
            id=step_id,
            offset=offset,
            action=action,  # type: ignore[arg-type]
            channel=channel,
            fallback=tuple(fallback),
            template=reader.get("template", str, ""),
            when=tuple(when),
            business_days=reader.get("business_days", bool, False),
            valid_for=valid_for,
            queue=reader.get("queue", str, "scheduling"),
            task_priority=priority,
        )
    except PolicyError as exc:
        raise PolicyError(reader.path, exc.problem) from exc
    except ValueError as exc:
        raise PolicyError(reader.at("id"), "ids are lowercase letters, digits, _ . -") from exc


def _exhaustion(reader: _Reader) -> Exhaustion:
    reader.check_keys(["action", "reason", "queue", "template", "task_priority"])
    return Exhaustion(
        action=reader.literal("action", ("mark_lost", "task", "none"), "none"),  # type: ignore[arg-type]
        lost_reason=reader.enum("reason", LostReason, LostReason.UNREACHABLE),
        queue=reader.get("queue", str, "scheduling"),
        template=reader.get("template", str, "outreach.exhausted"),
        task_priority=reader.enum("task_priority", TaskPriority, TaskPriority.NORMAL),
    )


def _cadence(reader: _Reader) -> Cadence:
    reader.check_keys(["purpose", "priority", "grace", "on_exhausted", "steps"])
    steps_raw = reader.get("steps", list)
    if not steps_raw:
        raise PolicyError(reader.at("steps"), "at least one step is required")
    steps = tuple(
        _step(_Reader(raw, f"{reader.at('steps')}[{index}]"))
        for index, raw in enumerate(steps_raw)
    )
    try:
        return Cadence(
            purpose=reader.literal("purpose", PURPOSES, ""),  # type: ignore[arg-type]
            steps=steps,
            priority=reader.enum("priority", Priority),
            grace=reader.duration("grace", timedelta(days=2)) or timedelta(0),
            on_exhausted=_exhaustion(
                _Reader(reader.get("on_exhausted", Mapping, {}), reader.at("on_exhausted"))
            ),
        )
    except PolicyError as exc:
        if exc.path.startswith(reader.path):
            raise
        raise PolicyError(reader.path, exc.problem) from exc


def policy_from_mapping(data: Mapping[str, Any]) -> Policy:
    """Build a :class:`Policy` from a mapping shaped like the TOML file (see ``docs``).

    Sections left out keep their defaults; ``cadences`` replaces the default cadences only
    when given.

    :raises PolicyError: naming the field path of the first problem.
    """
    root = _Reader(data, "")
    root.check_keys(["window", "caps", "retry", "cadences", "referrer_updates", "auth",
                     "records", "in_flight_timeout"])  # fmt: skip
    base = default_policy()
    changes: dict[str, Any] = {}
    if "window" in data:
        changes["window"] = _window(_Reader(data["window"], "window"))
    if "caps" in data:
        caps = []
        for index, raw in enumerate(root.get("caps", list)):
            cap = _Reader(raw, f"caps[{index}]")
            cap.check_keys(["limit", "period"])
            limit = cap.get("limit", int)
            period = cap.duration("period")
            if limit is None or limit < 1 or period is None or period <= timedelta(0):
                raise PolicyError(cap.path, "a cap needs limit >= 1 and a positive period")
            caps.append(FrequencyCap(limit, period))
        changes["caps"] = tuple(caps)
    if "retry" in data:
        retry = _Reader(data["retry"], "retry")
        retry.check_keys(["max_attempts", "delay"])
        attempts = retry.get("max_attempts", int, 3)
        if attempts < 1:
            raise PolicyError(retry.at("max_attempts"), "must be at least 1")
        changes["retry"] = RetryRule(attempts, retry.duration("delay", timedelta(hours=2)) or timedelta(0))  # fmt: skip  # noqa: E501
    if "cadences" in data:
        changes["cadences"] = tuple(
            _cadence(_Reader(raw, f"cadences[{index}]"))
            for index, raw in enumerate(root.get("cadences", list))
        )
    if "referrer_updates" in data:
        updates = dict(root.get("referrer_updates", Mapping))
        practices = _practice_updates(updates.pop("practices", {}))
        for kind, template in updates.items():
            if not isinstance(template, str) or not template:
                raise PolicyError(f"referrer_updates.{kind}", "expected a template id")
        changes["referrer_updates"] = ReferrerUpdates(updates, practices)
    if "auth" in data:
        auth = _Reader(data["auth"], "auth")
        auth.check_keys(["queue", "warn_before"])
        changes["auth"] = AuthRules(
            auth.get("queue", str, "authorization"),
            auth.duration("warn_before", timedelta(days=7)) or timedelta(0),
        )
    if "records" in data:
        records = _Reader(data["records"], "records")
        records.check_keys(["queue", "missing_before_visit"])
        days = records.get("missing_before_visit", int, 3)
        if days < 0:
            raise PolicyError("records.missing_before_visit", "must not be negative")
        changes["records"] = RecordsRules(records.get("queue", str, "records"), days)
    if "in_flight_timeout" in data:
        changes["in_flight_timeout"] = root.duration("in_flight_timeout")
    return attrs.evolve(base, **changes)


def _practice_updates(raw: object) -> dict[str, PracticeUpdates]:
    # [referrer_updates.practices.<practice id>] milestones = ["scheduled", "report_sent"]
    if not isinstance(raw, Mapping):
        raise PolicyError("referrer_updates.practices", "expected a table")
    found: dict[str, PracticeUpdates] = {}
    for key, table in raw.items():
        prefs = _Reader(table, f"referrer_updates.practices.{key}")
        prefs.check_keys(["milestones", "digest"])
        milestones = prefs.get("milestones", list)
        if milestones is not None and not all(isinstance(m, str) for m in milestones):
            raise PolicyError(prefs.at("milestones"), "expected a list of status codes")
        found[str(key)] = PracticeUpdates(
            frozenset(milestones) if milestones is not None else None,
            bool(prefs.get("digest", bool, False)),
        )
    return found


def load_policy(path: str | Path) -> Policy:
    """Load a policy from a TOML file.

    :raises PolicyError: the file cannot be read (missing, not UTF-8), is not valid TOML
        (including nesting too deep to parse), or is not a valid policy.

    .. versionchanged:: 0.2
       Every failure to read or parse the file is a :class:`PolicyError`.
    """
    file = Path(path)
    problem = ""
    try:
        data = read_toml(file)
    except ConfigError as exc:
        problem = f"{file.name}: {exc.reason}"
    if problem:  # raised outside the handler: no chain
        raise PolicyError("", problem)
    return policy_from_mapping(data)
