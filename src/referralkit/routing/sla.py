"""Priority SLA clocks and the escalation ladder, derived from a referral's event log.

Two clocks run per referral: **acceptance** (triage: from entering ``received`` until the
receiving practice accepts or declines) and **booking** (from acceptance until an appointment is
booked). Each priority sets a budget for both, in business days (routine) or hours (urgent,
asap, stat). Time on hold does not count: each ``hold`` ... ``resume`` pair in the event log
pushes the deadline out by the time lost, measured in the budget's own unit.

A breached clock climbs :data:`LADDER` one step per ``escalate_every``: the task owner, then the
supervisor queue, then the referring practice. Nothing here has side effects; the desk records
each step as an event, which is also how a step is known to be done.

.. versionadded:: 0.1
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, get_args

import attrs

from referralkit.config import parse_duration
from referralkit.events import Event
from referralkit.model import Priority, ReferralStatus
from referralkit.routing.calendar import BusinessCalendar, add_business_days, business_days_between

__all__ = [
    "CLOCKS",
    "DEFAULT_SLA",
    "LADDER",
    "ClockName",
    "ClockState",
    "Duration",
    "DurationUnit",
    "LadderStep",
    "SlaPolicy",
    "SlaTargets",
    "clock_state",
    "ladder_level",
]

DurationUnit = Literal["m", "h", "d", "bd"]
"""Minutes, hours, calendar days (24 h), business days."""
_UNIT_SECONDS: Final[Mapping[str, int]] = {"m": 60, "h": 3600, "d": 86_400}
_DURATION_RE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|bd)\s*$")
_FAR: Final = datetime.max.replace(tzinfo=UTC)
_MAX_SECONDS: Final = 3660 * 86_400  # ten years: no SLA or escalation is longer
_UNIT_NAMES: Final[Mapping[str, str]] = {
    "m": "minutes",
    "h": "hours",
    "d": "days",
    "bd": "business days",
}


@attrs.frozen
class Duration:
    """A span of time in one unit: ``Duration.parse("2bd")``, ``Duration(4, "h")``.

    .. versionadded:: 0.1
    """

    amount: float = attrs.field(validator=attrs.validators.ge(0))
    unit: DurationUnit = attrs.field(validator=attrs.validators.in_(get_args(DurationUnit)))

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse ``"30m"``, ``"4h"``, ``"3d"``, ``"1d12h"`` or ``"2bd"`` (the one grammar).

        :raises ValueError: not a duration in one of those forms.
        """
        # The one grammar (referralkit.config), bounded so that every use stays finite and
        # cheap: a business-day count is walked day by day.
        parsed = parse_duration(text)
        if parsed.negative:
            raise ValueError("bad duration: must not be negative")
        if len(parsed.terms) > 1:  # 1d12h: wall-clock time, kept in hours
            return cls(parsed.seconds() / 3600, "h")
        amount, unit = parsed.terms[0]
        if unit == "m":
            return cls(amount, "m")
        if unit == "h":
            return cls(amount, "h")
        if unit == "d":
            return cls(amount, "d")
        return cls(amount, "bd")

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount}{self.unit}"

    def describe(self) -> str:
        """Return the duration in words, e.g. ``"2 business days"``."""
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {_UNIT_NAMES[self.unit]}"

    def add_to(
        self, start: datetime, calendar: BusinessCalendar, amount: float | None = None
    ) -> datetime:
        """Return *start* plus this duration (or *amount* of its unit), in UTC."""
        value = self.amount if amount is None else amount
        if self.unit == "bd":
            return add_business_days(calendar, start, value)
        try:
            # In UTC: aware arithmetic in a local zone is wall-clock time and would gain or lose
            # an hour across a DST change.
            return start.astimezone(UTC) + timedelta(seconds=value * _UNIT_SECONDS[self.unit])
        except OverflowError:
            return _FAR

    def measure(self, start: datetime, end: datetime, calendar: BusinessCalendar) -> float:
        """Return how much of this duration's unit elapses from *start* to *end* (>= 0)."""
        if end <= start:
            return 0.0
        if self.unit == "bd":
            return business_days_between(calendar, start, end)
        return (end - start).total_seconds() / _UNIT_SECONDS[self.unit]


ClockName = Literal["acceptance", "booking"]
"""The SLA clocks: acceptance (triage) and booking."""
CLOCKS: Final[tuple[ClockName, ...]] = get_args(ClockName)

_S = ReferralStatus
_RUNNING: Final[Mapping[ClockName, frozenset[ReferralStatus]]] = {
    "acceptance": frozenset({_S.RECEIVED}),
    "booking": frozenset({_S.ACCEPTED, _S.PENDING_AUTH, _S.READY_TO_SCHEDULE}),
}
"""States in which each clock runs (it pauses in ``on_hold`` and stops anywhere else)."""

LadderStep = Literal["owner", "supervisor", "referrer"]
"""Escalation steps: alert the task owner, open a supervisor task, notify the referrer."""
LADDER: Final[tuple[LadderStep, ...]] = get_args(LadderStep)


@attrs.frozen
class SlaTargets:
    """The budgets of one priority.

    :ivar acceptance: from ``received`` to accepted (or declined).
    :ivar booking: from accepted to an appointment booked.
    :ivar escalate_every: time between ladder steps after a breach.

    .. versionadded:: 0.1
    """

    acceptance: Duration
    booking: Duration
    escalate_every: Duration

    def budget(self, clock: ClockName) -> Duration:
        """Return the budget of *clock*."""
        return self.acceptance if clock == "acceptance" else self.booking


def _targets(acceptance: str, booking: str, every: str) -> SlaTargets:
    return SlaTargets(Duration.parse(acceptance), Duration.parse(booking), Duration.parse(every))


@attrs.frozen
class SlaPolicy:
    """SLA targets per priority (every priority must have targets).

    .. versionadded:: 0.1
    """

    targets: Mapping[Priority, SlaTargets] = attrs.field()

    @targets.validator
    def _complete(self, _attribute: object, value: Mapping[Priority, SlaTargets]) -> None:
        missing = [p.value for p in Priority if p not in value]
        if missing:
            raise ValueError(f"SLA targets missing for priorities {missing}")

    def for_priority(self, priority: Priority) -> SlaTargets:
        """Return the targets of *priority*."""
        return self.targets[priority]


DEFAULT_SLA: Final = SlaPolicy(
    {
        Priority.ROUTINE: _targets("2bd", "10bd", "1bd"),
        Priority.URGENT: _targets("4h", "72h", "2h"),
        Priority.ASAP: _targets("2h", "48h", "1h"),
        Priority.STAT: _targets("1h", "24h", "30m"),
    }
)
"""Routine: accept within 2 business days, book within 10; urgent priorities in hours."""


@attrs.frozen
class ClockState:
    """Where one SLA clock stands at a given time.

    :ivar running: the referral is in a state the clock runs in (or on hold from one).
    :ivar started_at: when the clock (re)started; ``None`` if it never ran.
    :ivar start_seq: sequence number of the event that started it (identifies this run).
    :ivar paused: the referral is on hold now.
    :ivar deadline: the breach instant, ``None`` while paused or not running.
    :ivar paused_for: total hold time so far in this run.

    .. versionadded:: 0.1
    """

    name: ClockName
    running: bool
    started_at: datetime | None
    start_seq: int | None
    paused: bool
    deadline: datetime | None
    paused_for: timedelta

    def breached(self, now: datetime) -> bool:
        """Return whether the clock runs, is not paused, and its deadline has passed."""
        return self.running and self.deadline is not None and now >= self.deadline


def clock_state(
    name: ClockName,
    status: ReferralStatus,
    events: Sequence[Event],
    budget: Duration,
    calendar: BusinessCalendar,
) -> ClockState:
    """Derive clock *name* of a referral in *status* from its *events* (oldest first).

    The clock restarts whenever the referral enters one of its running states from outside
    them (not from ``on_hold``), so a no-show that returns the referral to
    ``ready_to_schedule`` starts a fresh booking clock.

    .. versionadded:: 0.1
    """
    running_states = _RUNNING[name]
    started: datetime | None = None
    start_seq: int | None = None
    pauses: list[tuple[datetime, datetime | None]] = []
    for event in events:
        src, dest = event.from_state, event.to_state
        if dest is None or src == dest:
            continue
        if dest in running_states:
            if src is _S.ON_HOLD and started is not None:
                if pauses and pauses[-1][1] is None:
                    pauses[-1] = (pauses[-1][0], event.at)
            elif src not in running_states:
                started, start_seq, pauses = event.at, event.seq, []
        elif dest is _S.ON_HOLD and src in running_states and started is not None:
            pauses.append((event.at, None))
        elif src in running_states or src is _S.ON_HOLD:
            started, start_seq, pauses = None, None, []
    on_hold = status is _S.ON_HOLD
    running = started is not None and (status in running_states or on_hold)
    if not running or started is None:
        return ClockState(name, False, started, start_seq, False, None, timedelta(0))
    paused_for = timedelta(0)
    deadline: datetime | None = budget.add_to(started, calendar)
    for pause_start, pause_end in sorted(pauses, key=lambda p: p[0]):
        end = pause_end
        if end is None:
            deadline = None  # on hold now: the clock is stopped
            break
        paused_for += max(timedelta(0), end - pause_start)
        if deadline is not None and pause_start < deadline:
            lost = budget.measure(pause_start, end, calendar)
            deadline = budget.add_to(deadline, calendar, lost)
    return ClockState(name, True, started, start_seq, on_hold, deadline, paused_for)


def ladder_level(
    deadline: datetime, every: Duration, now: datetime, calendar: BusinessCalendar
) -> int:
    """Return how many ladder steps are due *now* for a clock breached at *deadline* (0-3).

    Step 1 is due at the deadline, each further step *every* later.

    .. versionadded:: 0.1
    """
    level = 0
    due = deadline
    for _step in LADDER:
        if now < due:
            break
        level += 1
        due = every.add_to(due, calendar)
    return level
