"""Outreach policies as data: cadences of steps per purpose and priority, windows, caps, retries.

A :class:`Policy` is plain, frozen data. Build one in Python, start from
:func:`default_policy`, or load one from TOML with :func:`load_policy` (validated; a bad file
raises :class:`PolicyError` naming the field path, never a patient value).

.. versionadded:: 0.1
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Final, Literal, get_args

import attrs

from referralkit.errors import ReferralKitError
from referralkit.model import Channel, LostReason, Priority, TaskPriority

__all__ = [
    "ACTIONS",
    "CONDITIONS",
    "DEFAULT_STATE_HOURS",
    "PURPOSES",
    "Action",
    "AuthRules",
    "Cadence",
    "Condition",
    "Exhaustion",
    "FrequencyCap",
    "Hours",
    "Policy",
    "PolicyError",
    "Purpose",
    "ReferrerUpdates",
    "RetryRule",
    "Step",
    "WeeklyHours",
    "WindowRules",
    "default_policy",
    "load_policy",
    "parse_duration",
    "policy_from_mapping",
]

Purpose = Literal[
    "schedule", "no_show_recovery", "reminder", "records_follow_up", "auth_follow_up"
]
"""What a cadence is for; the planner picks cadences by purpose and priority."""
PURPOSES: Final[tuple[Purpose, ...]] = get_args(Purpose)

Action = Literal["contact", "fax_records", "task"]
"""What a step does: contact the patient, fax the sending practice, or open a human task."""
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)

Condition = Literal[
    "has_phone", "has_mobile", "has_email", "has_address", "auth_required", "auth_not_required"
]
"""A precondition of a step; a step whose conditions fail is skipped (not retried)."""
CONDITIONS: Final[tuple[Condition, ...]] = get_args(Condition)

_PATIENT_CHANNELS: Final = frozenset({Channel.VOICE, Channel.SMS, Channel.EMAIL, Channel.LETTER})


class PolicyError(ReferralKitError, ValueError):
    """An outreach policy is invalid; ``.path`` names the offending field.

    .. versionadded:: 0.1
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"invalid outreach policy at {path or '<root>'}: {problem}")


# -- Value types ------------------------------------------------------------------------------


def _hours_order(instance: Hours, _attribute: object, end: time) -> None:
    if end <= instance.start:
        raise PolicyError("hours", "end must be after start on the same day")


@attrs.frozen
class Hours:
    """Allowed local hours of one day: ``start <= local time < end``."""

    start: time
    end: time = attrs.field(validator=_hours_order)


@attrs.frozen
class WeeklyHours:
    """Hours per weekday (Monday is 0); a weekday mapped to ``None`` allows no contact."""

    default: Hours
    weekdays: Mapping[int, Hours | None] = attrs.field(factory=dict)

    def on(self, weekday: int) -> Hours | None:
        """Return the hours for *weekday* (0 = Monday), or ``None`` if contact is not allowed."""
        if weekday in self.weekdays:
            return self.weekdays[weekday]
        return self.default


DEFAULT_HOURS: Final = Hours(time(8), time(21))
# Conservative defaults drawn from state telephone-solicitation laws (FL 501.616, OK 15-775C.4,
# MD Com. Law 14-4503, WA RCW 80.36.390, TX Bus. & Com. 301.051). Care messages are often exempt,
# but the stricter hours cost little; hosts override them in their policy.
DEFAULT_STATE_HOURS: Final[Mapping[str, WeeklyHours]] = {
    "FL": WeeklyHours(Hours(time(8), time(20))),
    "MD": WeeklyHours(Hours(time(8), time(20))),
    "OK": WeeklyHours(Hours(time(8), time(20))),
    "WA": WeeklyHours(Hours(time(8), time(20))),
    "TX": WeeklyHours(Hours(time(9), time(21)), {6: Hours(time(12), time(21))}),
}


@attrs.frozen
class WindowRules:
    """When automated calls and SMS may reach a patient, in the patient's local time.

    :ivar default: hours everywhere without a state rule (08:00-21:00 every day).
    :ivar states: per US state (two-letter code) hours that replace the default.
    """

    default: WeeklyHours = WeeklyHours(DEFAULT_HOURS)
    states: Mapping[str, WeeklyHours] = attrs.field(factory=lambda: dict(DEFAULT_STATE_HOURS))

    def for_state(self, state: str | None) -> WeeklyHours:
        """Return the weekly hours that apply to a patient in *state* (``None``: unknown)."""
        if state is not None and state in self.states:
            return self.states[state]
        return self.default


@attrs.frozen
class FrequencyCap:
    """At most *limit* automated patient contacts in any rolling *period*, across channels."""

    limit: int = attrs.field(validator=attrs.validators.ge(1))
    period: timedelta


DEFAULT_CAPS: Final = (FrequencyCap(1, timedelta(days=1)), FrequencyCap(3, timedelta(days=7)))


@attrs.frozen
class RetryRule:
    """How a step whose send failed transiently is retried (each retry is a new attempt)."""

    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    delay: timedelta = timedelta(hours=2)


@attrs.frozen
class Step:
    """One step of a cadence.

    :ivar id: unique within the cadence; part of the idempotency key, so never reuse an id for
        a different step.
    :ivar offset: when the step is due, from the cadence's anchor (the time the referral became
        ready to schedule, the no-show, the appointment start (negative: before), the records
        request's due time, or the time authorization became pending).
    :ivar action: ``contact`` (the patient, on *channel*), ``fax_records`` (the sending
        practice) or ``task`` (a human task in *queue*).
    :ivar channel: the patient channel of a ``contact`` step.
    :ivar fallback: channels tried in order when *channel* is unusable (no mobile, opted out).
    :ivar template: the message template id handed to the adapter or shown on the task.
    :ivar when: conditions that must all hold, else the step is skipped.
    :ivar business_days: only on business days (of the injected calendar) in local time.
    :ivar valid_for: how long after its due time the step is still worth doing; after that it
        is skipped as expired (``None``: no limit).
    """

    id: str = attrs.field(validator=attrs.validators.matches_re(r"^[a-z0-9][a-z0-9_.-]{0,63}$"))
    offset: timedelta
    action: Action = "contact"
    channel: Channel | None = None
    fallback: tuple[Channel, ...] = ()
    template: str = ""
    when: tuple[Condition, ...] = ()
    business_days: bool = False
    valid_for: timedelta | None = None
    queue: str = "scheduling"
    task_priority: TaskPriority = TaskPriority.NORMAL

    def __attrs_post_init__(self) -> None:
        where = f"step {self.id}"
        if self.action == "contact":
            if self.channel not in _PATIENT_CHANNELS:
                raise PolicyError(where, "a contact step needs a patient channel")
            if any(c not in _PATIENT_CHANNELS for c in self.fallback):
                raise PolicyError(where, "fallback channels must be patient channels")
        elif self.channel is not None or self.fallback:
            raise PolicyError(where, f"a {self.action} step takes no channel")
        if not self.template:
            raise PolicyError(where, "template is required")
        if self.valid_for is not None and self.valid_for <= timedelta(0):
            raise PolicyError(where, "valid_for must be positive")


@attrs.frozen
class Exhaustion:
    """What happens when a cadence's steps are all done and the patient has not booked.

    ``mark_lost`` fires the lifecycle trigger with *lost_reason* (the referrer is then notified
    through :class:`ReferrerUpdates`); ``task`` opens a human task in *queue*; ``none`` stops.
    """

    action: Literal["mark_lost", "task", "none"] = "none"
    lost_reason: LostReason = LostReason.UNREACHABLE
    queue: str = "scheduling"
    template: str = "outreach.exhausted"
    task_priority: TaskPriority = TaskPriority.NORMAL


@attrs.frozen
class Cadence:
    """An ordered list of steps for one purpose (and optionally one priority).

    Steps run in order: a step is planned only once every earlier step is done or skipped.
    After the last step, and *grace* later, *on_exhausted* applies.
    """

    purpose: Purpose
    steps: tuple[Step, ...]
    priority: Priority | None = None
    grace: timedelta = timedelta(days=2)
    on_exhausted: Exhaustion = Exhaustion()

    def __attrs_post_init__(self) -> None:
        where = f"cadence {self.purpose}/{self.priority.value if self.priority else '*'}"
        if not self.steps:
            raise PolicyError(where, "a cadence needs at least one step")
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise PolicyError(where, "step ids must be unique")
        offsets = [s.offset for s in self.steps]
        if offsets != sorted(offsets):
            raise PolicyError(where, "step offsets must not decrease")
        if self.grace < timedelta(0):
            raise PolicyError(where, "grace must not be negative")


@attrs.frozen
class ReferrerUpdates:
    """Status updates to the referring practice: lifecycle event kind -> template id."""

    on: Mapping[str, str] = attrs.field(
        factory=lambda: {
            "schedule": "referrer.scheduled",
            "reschedule": "referrer.rescheduled",
            "no_show": "referrer.no_show",
            "complete_visit": "referrer.seen",
            "close_loop": "referrer.report_sent",
            "mark_lost": "referrer.lost",
        }
    )


@attrs.frozen
class AuthRules:
    """Authorization checks that open human tasks (negotiation with payers stays human).

    :ivar warn_before: open a task when an approved authorization ends within this time and the
        referral is still unscheduled.
    """

    queue: str = "authorizations"
    warn_before: timedelta = timedelta(days=7)


@attrs.frozen
class Policy:
    """A complete outreach policy.

    :ivar cadences: looked up by (purpose, priority), falling back to (purpose, any priority).
    :ivar in_flight_timeout: after this long an attempt started but not recorded (a crashed
        worker) is resumed with the same idempotency key; keep it at least the claim lease.
    """

    cadences: tuple[Cadence, ...]
    window: WindowRules = WindowRules()
    caps: tuple[FrequencyCap, ...] = DEFAULT_CAPS
    retry: RetryRule = RetryRule()
    referrer_updates: ReferrerUpdates = ReferrerUpdates()
    auth: AuthRules = AuthRules()
    windowed_channels: frozenset[Channel] = frozenset({Channel.VOICE, Channel.SMS})
    in_flight_timeout: timedelta = timedelta(minutes=10)
    horizon: timedelta = timedelta(days=400)

    def __attrs_post_init__(self) -> None:
        seen: set[tuple[str, Priority | None]] = set()
        for cadence in self.cadences:
            key = (cadence.purpose, cadence.priority)
            if key in seen:
                raise PolicyError("cadences", f"two cadences for {cadence.purpose}")
            seen.add(key)

    def cadence(self, purpose: Purpose, priority: Priority) -> Cadence | None:
        """Return the cadence for *purpose* at *priority*, or its any-priority cadence."""
        fallback: Cadence | None = None
        for cadence in self.cadences:
            if cadence.purpose != purpose:
                continue
            if cadence.priority is priority:
                return cadence
            if cadence.priority is None:
                fallback = cadence
        return fallback


# -- Defaults -------------------------------------------------------------------------------

_D = timedelta(days=1)


def _contact(step_id: str, days: float, channel: Channel, **kwargs: Any) -> Step:
    fallback = (Channel.VOICE,) if channel is Channel.SMS else ()
    return Step(
        id=step_id,
        offset=timedelta(days=days),
        channel=channel,
        fallback=kwargs.pop("fallback", fallback),
        template=kwargs.pop("template", f"schedule.{step_id}"),
        **kwargs,
    )


def default_policy() -> Policy:
    """Return the default policy (``docs/outreach.md`` lists it step by step).

    Routine: call day 0, SMS day 2, call day 5, letter day 10, final call day 14, then
    ``mark_lost`` (unreachable) and notify the referrer. Urgent cadences are compressed; asap
    and stat referrals get a human task at once and end in a human task, never ``lost``.
    """
    lost = Exhaustion("mark_lost", LostReason.UNREACHABLE)
    urgent_end = Exhaustion("task", queue="urgent-referrals", task_priority=TaskPriority.URGENT)
    routine = Cadence(
        "schedule",
        (
            _contact("call_d0", 0, Channel.VOICE),
            _contact("sms_d2", 2, Channel.SMS),
            _contact("call_d5", 5, Channel.VOICE),
            _contact("letter_d10", 10, Channel.LETTER, business_days=True),
            _contact("call_d14", 14, Channel.VOICE, template="schedule.final_call"),
        ),
        grace=2 * _D,
        on_exhausted=lost,
    )
    urgent = Cadence(
        "schedule",
        (
            _contact("call_d0", 0, Channel.VOICE),
            _contact("sms_d1", 1, Channel.SMS),
            _contact("call_d2", 2, Channel.VOICE),
            _contact("call_d4", 4, Channel.VOICE, template="schedule.final_call"),
        ),
        priority=Priority.URGENT,
        grace=_D,
        on_exhausted=lost,
    )
    immediate = tuple(
        Cadence(
            "schedule",
            (
                Step(
                    id="triage_task",
                    offset=timedelta(0),
                    action="task",
                    template="schedule.urgent_triage",
                    queue="urgent-referrals",
                    task_priority=TaskPriority.URGENT,
                ),
                _contact("call_h0", 0, Channel.VOICE),
                _contact("call_d1", 1, Channel.VOICE),
            ),
            priority=priority,
            grace=timedelta(hours=12),
            on_exhausted=urgent_end,
        )
        for priority in (Priority.ASAP, Priority.STAT)
    )
    no_show = Cadence(
        "no_show_recovery",
        (
            _contact("call_d0", 0, Channel.VOICE, template="no_show.call"),
            _contact("sms_d1", 1, Channel.SMS, template="no_show.sms"),
            _contact("call_d3", 3, Channel.VOICE, template="no_show.call"),
            _contact("call_d7", 7, Channel.VOICE, template="no_show.final_call"),
        ),
        grace=2 * _D,
        on_exhausted=lost,
    )
    reminder = Cadence(
        "reminder",
        (
            _contact("remind_3d", -3, Channel.SMS, template="reminder.3d", valid_for=2 * _D),
            _contact("remind_1d", -1, Channel.SMS, template="reminder.1d", valid_for=_D),
        ),
        grace=timedelta(0),
    )
    records = Cadence(
        "records_follow_up",
        (
            Step(
                id="fax_due",
                offset=timedelta(0),
                action="fax_records",
                template="records.request",
                business_days=True,
            ),
            Step(
                id="fax_d3",
                offset=3 * _D,
                action="fax_records",
                template="records.reminder",
                business_days=True,
            ),
        ),
        grace=2 * _D,
        on_exhausted=Exhaustion("task", queue="records", template="records.overdue"),
    )
    auth = Cadence(
        "auth_follow_up",
        (
            Step(
                id="check_d2",
                offset=2 * _D,
                action="task",
                template="auth.check_status",
                queue="authorizations",
            ),
            Step(
                id="escalate_d5",
                offset=5 * _D,
                action="task",
                template="auth.escalate",
                queue="authorizations",
                task_priority=TaskPriority.HIGH,
            ),
        ),
        grace=timedelta(0),
    )
    return Policy(cadences=(routine, urgent, *immediate, no_show, reminder, records, auth))


# -- Loading ----------------------------------------------------------------------------------

_DURATION_RE: Final = re.compile(r"^(-)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def parse_duration(text: str) -> timedelta:
    """Parse ``"2d"``, ``"1d12h"``, ``"30m"`` or ``"-3d"`` into a :class:`~datetime.timedelta`.

    :raises ValueError: the text is not such a duration.
    """
    match = _DURATION_RE.match(text.strip())
    if not match or not any(match.group(2, 3, 4)):
        raise ValueError("expected a duration like 2d, 1d12h, 30m or -3d")
    sign, days, hours, minutes = match.groups()
    value = timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0))
    return -value if sign else value


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
                     "in_flight_timeout"])  # fmt: skip
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
        updates = root.get("referrer_updates", Mapping)
        for kind, template in updates.items():
            if not isinstance(template, str) or not template:
                raise PolicyError(f"referrer_updates.{kind}", "expected a template id")
        changes["referrer_updates"] = ReferrerUpdates(dict(updates))
    if "auth" in data:
        auth = _Reader(data["auth"], "auth")
        auth.check_keys(["queue", "warn_before"])
        changes["auth"] = AuthRules(
            auth.get("queue", str, "authorizations"),
            auth.duration("warn_before", timedelta(days=7)) or timedelta(0),
        )
    if "in_flight_timeout" in data:
        changes["in_flight_timeout"] = root.duration("in_flight_timeout")
    return attrs.evolve(base, **changes)


def load_policy(path: str | Path) -> Policy:
    """Load a policy from a TOML file.

    :raises PolicyError: the file is not valid TOML or not a valid policy.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError("", f"not valid TOML: {exc}") from exc
    return policy_from_mapping(data)
