"""What-if scenarios as data: a TOML file, validated on load against :data:`PARAMETERS`.

A scenario describes the world (arrivals, patients, payers, capacity, no-shows, records and
reports, staff) and the practice's choices (its outreach policy, in the format of
``docs/outreach.md``, and when it runs its sweeps). Every number left out takes the default in
:data:`~referralkit.simulate.parameters.PARAMETERS`; every number given must lie in its range.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Final

import attrs

from referralkit.config import read_toml
from referralkit.errors import ConfigError, PolicyError, ScenarioError
from referralkit.outreach import Policy, policy_from_mapping
from referralkit.simulate.parameters import PARAMETERS, parameter

__all__ = [
    "BUILTIN_SCENARIOS",
    "Scenario",
    "StaffQueue",
    "builtin_scenario",
    "load_scenario",
    "scenario_from_mapping",
]

_TABLES: Final = (
    "run",
    "arrivals",
    "patients",
    "authorization",
    "capacity",
    "no_show",
    "records",
    "report",
)
_DEFAULT_SWEEPS: Final = (time(8, 0), time(12, 0), time(16, 0))


@attrs.frozen
class StaffQueue:
    """Staff time for one queue: hours per business day and minutes per item.

    .. versionadded:: 0.4
    """

    hours_per_day: float
    minutes_per_task: float


@attrs.frozen
class Scenario:
    """A validated scenario: the world and the practice's choices.

    :ivar name: a short label (shown in comparisons).
    :ivar values: every numeric parameter by dotted path (defaults filled in).
    :ivar specialties: arrival shares by specialty (summing to 1).
    :ivar waits: mean wait to the first slot by specialty, in days.
    :ivar staff: staff time by queue; ``default`` covers queues not named.
    :ivar outreach: the practice's outreach policy, or ``None`` for no outreach at all.
    :ivar sweeps: practice-local times of day the sweeps run, on every day.
    :ivar start: the first simulated day.
    :ivar time_zone: the practice's (and its patients') time zone.
    :ivar state: the patients' US state (it sets their legal calling hours).

    .. versionadded:: 0.4
    """

    name: str
    description: str
    values: Mapping[str, float]
    specialties: Mapping[str, float]
    waits: Mapping[str, float]
    staff: Mapping[str, StaffQueue]
    outreach: Policy | None
    sweeps: tuple[time, ...] = _DEFAULT_SWEEPS
    start: date = date(2026, 1, 5)
    time_zone: str = "America/Chicago"
    state: str = "IL"

    def __getitem__(self, path: str) -> float:
        """Return the numeric parameter at *path* (``scenario["patients.self_book"]``)."""
        return self.values[path]

    def with_value(self, path: str, value: float) -> Scenario:
        """Return a copy with one numeric parameter changed (for a sensitivity sweep).

        :raises ScenarioError: no such parameter, or *value* is out of its range.
        """
        spec = _spec_for(path, self.name)
        _check_range(spec.path, path, value, self.name)
        if path.startswith("capacity.specialty."):
            return attrs.evolve(self, waits={**self.waits, path.rsplit(".", 1)[1]: value})
        if path.startswith("staff."):
            # "Add half a scheduler": staff.scheduling.hours_per_day = 12
            _, queue, key = path.split(".")
            current = self.staff_queue(queue)
            changed = attrs.evolve(current, **{key: float(value)})
            return attrs.evolve(self, staff={**self.staff, queue: changed})
        if path not in self.values:
            raise ScenarioError(self.name, "not a parameter a sweep can vary", key=path)
        return attrs.evolve(self, values={**self.values, path: float(value)})

    def wait_days(self, specialty: str) -> float:
        """Return the mean wait to the first slot for *specialty*, in days."""
        return self.waits.get(specialty, self.values["capacity.wait_days"])

    def staff_queue(self, queue: str) -> StaffQueue:
        """Return the staff time for *queue* (``default`` when not named)."""
        return self.staff.get(queue) or self.staff["default"]


def _spec_for(path: str, source: str) -> Any:
    for candidate in (path, _starred(path)):
        try:
            return parameter(candidate)
        except KeyError:
            continue
    raise ScenarioError(source, "unknown key", key=path)


def _starred(path: str) -> str:
    head, _, _ = path.rpartition(".")
    table, _, _name = head.partition(".")
    if table == "staff":
        return f"staff.*.{path.rsplit('.', 1)[1]}"
    return f"{head}.*" if head else path


def _number(value: object, key: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(source, "expected a number", key=key)
    return float(value)


def _check_range(spec_path: str, key: str, value: float, source: str) -> None:
    spec = parameter(spec_path)
    if not spec.low <= value <= spec.high:
        raise ScenarioError(source, f"must be between {spec.low:g} and {spec.high:g}", key=key)


def _table(data: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ScenarioError(source, "expected a table", key=key)
    return value


def scenario_from_mapping(data: Mapping[str, Any], *, source: str = "<scenario>") -> Scenario:
    """Build and validate a :class:`Scenario` from a mapping shaped like the TOML file.

    :param source: how errors name the scenario (a file name).
    :raises ScenarioError: naming the dotted key of the first problem.
    """
    known = {"name", "description", "start", "time_zone", "state", "sweeps", "staff",
             "outreach", *_TABLES}  # fmt: skip
    for key in data:
        if key not in known:
            raise ScenarioError(source, "unknown key", key=str(key))
    values = {p.path: float(p.default) for p in PARAMETERS if "*" not in p.path}
    specialties: dict[str, float] = {}
    waits: dict[str, float] = {}
    for table in _TABLES:
        for key, raw in _table(data, table, source).items():
            path = f"{table}.{key}"
            if table == "arrivals" and key == "specialty":
                specialties = _named(raw, path, source)
                continue
            if table == "capacity" and key == "specialty":
                waits = _named(raw, path, source)
                continue
            if path not in values:
                raise ScenarioError(source, "unknown key", key=path)
            values[path] = _number(raw, path, source)
            _check_range(path, path, values[path], source)
    if "arrival_days" not in _table(data, "run", source):
        values["run.arrival_days"] = values["run.days"]
    if values["run.arrival_days"] > values["run.days"]:
        raise ScenarioError(source, "must not exceed run.days", key="run.arrival_days")
    for low, mode, high in (("turnaround_min", "turnaround_mode", "turnaround_max"),):
        a, m, b = (values[f"authorization.{k}"] for k in (low, mode, high))
        if not a <= m <= b:
            raise ScenarioError(source, "needs min <= mode <= max", key="authorization.turnaround")
    total = sum(specialties.values())
    if specialties and total <= 0:
        raise ScenarioError(source, "shares must not all be zero", key="arrivals.specialty")
    shares = (
        {k: v / total for k, v in sorted(specialties.items())}
        if specialties
        else {"cardiology": 1.0}
    )
    return Scenario(
        name=_text(data, "name", source, Path(source).stem or "scenario"),
        description=_text(data, "description", source, ""),
        values=values,
        specialties=shares,
        waits=dict(sorted(waits.items())),
        staff=_staff(_table(data, "staff", source), source),
        outreach=_outreach(_table(data, "outreach", source), source),
        sweeps=_sweeps(data.get("sweeps"), source),
        start=_start(data.get("start"), source),
        time_zone=_text(data, "time_zone", source, "America/Chicago"),
        state=_text(data, "state", source, "IL"),
    )


def _text(data: Mapping[str, Any], key: str, source: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ScenarioError(source, "expected text", key=key)
    return value


def _named(raw: object, path: str, source: str) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise ScenarioError(source, "expected a table of names to numbers", key=path)
    found = {}
    for name, value in raw.items():
        key = f"{path}.{name}"
        found[str(name)] = _number(value, key, source)
        _check_range(f"{path}.*", key, found[str(name)], source)
    return found


def _staff(raw: Mapping[str, Any], source: str) -> dict[str, StaffQueue]:
    default_hours = parameter("staff.*.hours_per_day").default
    default_minutes = parameter("staff.*.minutes_per_task").default
    queues = {"default": StaffQueue(default_hours, default_minutes)}
    for name, table in raw.items():
        if not isinstance(table, Mapping):
            raise ScenarioError(source, "expected a table", key=f"staff.{name}")
        for key in table:
            if key not in ("hours_per_day", "minutes_per_task"):
                raise ScenarioError(source, "unknown key", key=f"staff.{name}.{key}")
        numbers = {}
        for key, fallback in (("hours_per_day", default_hours),
                              ("minutes_per_task", default_minutes)):  # fmt: skip
            path = f"staff.{name}.{key}"
            numbers[key] = _number(table.get(key, fallback), path, source)
            _check_range(f"staff.*.{key}", path, numbers[key], source)
        queues[str(name)] = StaffQueue(numbers["hours_per_day"], numbers["minutes_per_task"])
    return queues


def _outreach(raw: Mapping[str, Any], source: str) -> Policy | None:
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ScenarioError(source, "expected true or false", key="outreach.enabled")
    if not enabled:
        return None
    policy = {k: v for k, v in raw.items() if k != "enabled"}
    try:
        return policy_from_mapping(policy)
    except PolicyError as exc:
        key = f"outreach.{exc.path}" if exc.path else "outreach"
        raise ScenarioError(source, exc.problem, key=key) from None


def _sweeps(raw: object, source: str) -> tuple[time, ...]:
    if raw is None:
        return _DEFAULT_SWEEPS
    if not isinstance(raw, list) or not raw:
        raise ScenarioError(source, "expected a list of HH:MM times", key="sweeps")
    found = []
    for item in raw:
        try:
            found.append(time.fromisoformat(item))
        except (TypeError, ValueError):
            raise ScenarioError(source, "expected HH:MM", key="sweeps") from None
    return tuple(sorted(set(found)))


def _start(raw: object, source: str) -> date:
    if raw is None:
        return date(2026, 1, 5)
    if isinstance(raw, date):
        return raw
    raise ScenarioError(source, "expected a date (2026-01-05)", key="start")


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file, or a built-in scenario by name.

    :raises ScenarioError: the file is missing, unreadable, not TOML, or invalid.
    """
    if isinstance(path, str) and path in BUILTIN_SCENARIOS:
        return builtin_scenario(path)
    file = Path(path)
    try:
        data = read_toml(file, name=file.name)
    except ConfigError as exc:
        raise ScenarioError(file.name, exc.reason, key=exc.key, line=exc.line) from None
    return scenario_from_mapping(data, source=file.name)


_HERE: Final = Path(__file__).parent / "scenarios"

BUILTIN_SCENARIOS: Final = ("baseline", "default-cadence", "text-first", "all-book-at-once")
"""The scenarios shipped with referralkit (``referralkit/simulate/scenarios/<name>.toml``)."""


def builtin_scenario(name: str) -> Scenario:
    """Return a built-in scenario by name (see :data:`BUILTIN_SCENARIOS`).

    :raises ScenarioError: no built-in scenario has that name.
    """
    if name not in BUILTIN_SCENARIOS:
        raise ScenarioError(name, f"no built-in scenario; known: {', '.join(BUILTIN_SCENARIOS)}")
    file = _HERE / f"{name}.toml"
    return scenario_from_mapping(read_toml(file, name=file.name), source=file.name)
