"""Business calendars: which days a practice works, and business-day arithmetic over them.

A clinic replaces :class:`UsBusinessCalendar` with anything satisfying :class:`BusinessCalendar`
(a time zone and an ``is_business_day`` test). The arithmetic in this module works in the
calendar's local wall-clock time, so "two business days from Friday 15:00" is Tuesday 15:00
local, whether or not a daylight-saving change falls in between.

.. versionadded:: 0.1
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import attrs

if TYPE_CHECKING:  # imported where first needed: its country data slows every start-up
    import holidays

__all__ = [
    "BusinessCalendar",
    "UsBusinessCalendar",
    "add_business_days",
    "business_days_between",
]

_DAY_SECONDS: Final = 86_400.0
# Stepping a calendar further than this is a data error (a date centuries away), not a deadline.
_MAX_STEPS: Final = 3_660
_FAR: Final = datetime.max.replace(tzinfo=UTC)


@runtime_checkable
class BusinessCalendar(Protocol):
    """The working days of a practice, in its local time zone.

    .. versionadded:: 0.1
    """

    @property
    def zone(self) -> tzinfo:
        """The practice's local time zone (business days begin and end at local midnight)."""
        ...

    def is_business_day(self, day: date) -> bool:
        """Return whether *day* (a local date) is a working day.

        Called often and for nearby dates: implementations should be cheap or cache.
        """
        ...


@attrs.define
class UsBusinessCalendar:
    """Monday to Friday, except US federal holidays (from the ``holidays`` package).

    :param zone_name: the practice's IANA time zone.
    :param subdivision: a US state code, to add that state's holidays.
    :param extra_closed: further local dates the practice is closed.

    .. versionadded:: 0.1
    """

    zone_name: str = "America/New_York"
    subdivision: str | None = None
    extra_closed: frozenset[date] = frozenset()
    _zone: ZoneInfo = attrs.field(init=False, repr=False, eq=False)
    _holidays: holidays.HolidayBase | None = attrs.field(
        init=False, default=None, repr=False, eq=False
    )
    _cache: dict[date, bool] = attrs.field(init=False, factory=dict, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        self._zone = ZoneInfo(self.zone_name)
        if self.subdivision is not None:
            self._holiday_table()  # an unknown subdivision fails here, not at the first use

    def _holiday_table(self) -> holidays.HolidayBase:
        # Built on first use: loading the holidays package costs more than the rest of a
        # desk's start-up together, and a desk that never counts business days never needs it.
        table = self._holidays
        if table is None:
            import holidays

            table = self._holidays = holidays.country_holidays("US", subdiv=self.subdivision)
        return table

    @property
    def zone(self) -> tzinfo:
        """The practice's local time zone."""
        return self._zone

    def is_business_day(self, day: date) -> bool:
        """Return whether *day* is a weekday that is neither a holiday nor a closed day."""
        cached = self._cache.get(day)
        if cached is None:
            cached = (
                day.weekday() < 5
                and day not in self._holiday_table()
                and day not in self.extra_closed
            )
            self._cache[day] = cached
        return cached

    def holiday_name(self, day: date) -> str | None:
        """Return the name of the holiday on *day*, if any (for explanations)."""
        name: str | None = self._holiday_table().get(day)
        return name


def _local(calendar: BusinessCalendar, instant: datetime) -> datetime:
    return instant.astimezone(calendar.zone)


def _fraction(local: datetime) -> float:
    # Wall-clock fraction of the local day: DST days still run 00:00..24:00 on the wall clock.
    return (local.hour * 3600 + local.minute * 60 + local.second) / _DAY_SECONDS


def business_days_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Return how many business days elapse from *start* to *end* (0 if *end* is not later).

    Time on closed days does not count; a business day counts as one whole unit of local
    wall-clock time, so a 23- or 25-hour DST day is still exactly one business day.

    .. versionadded:: 0.1
    """
    if end <= start:
        return 0.0
    first = _local(calendar, start)
    last = _local(calendar, end)
    total = 0.0
    day = first.date()
    end_day = last.date()
    steps = 0
    while day <= end_day and steps < _MAX_STEPS:
        if calendar.is_business_day(day):
            begin = _fraction(first) if day == first.date() else 0.0
            finish = _fraction(last) if day == end_day else 1.0
            total += max(0.0, finish - begin)
        day += timedelta(days=1)
        steps += 1
    return total


def add_business_days(calendar: BusinessCalendar, start: datetime, days: float) -> datetime:
    """Return the instant *days* business days after *start*, in UTC.

    From a closed day (or its evening), counting starts at the next business day's local
    midnight. The result keeps the local wall-clock time, so DST changes do not move it.

    .. versionadded:: 0.1
    """
    if days <= 0:
        return start.astimezone(UTC)
    local = _local(calendar, start)
    day = local.date()
    position = _fraction(local) if calendar.is_business_day(day) else 0.0
    remaining = days
    steps = 0
    while steps < _MAX_STEPS:
        if calendar.is_business_day(day):
            left_today = 1.0 - position
            if remaining < left_today or math.isclose(remaining, left_today):
                seconds = round((position + remaining) * _DAY_SECONDS)
                if seconds >= _DAY_SECONDS:
                    # Exactly the end of a business day: the start of the next calendar day.
                    wall = datetime.combine(day + timedelta(days=1), time(), calendar.zone)
                else:
                    wall = datetime.combine(day, time(), calendar.zone) + timedelta(
                        seconds=seconds
                    )
                    # Wall-clock arithmetic: re-attach the zone so DST offsets are recomputed.
                    wall = wall.replace(tzinfo=calendar.zone)
                return wall.astimezone(UTC)
            remaining -= left_today
        position = 0.0
        try:
            day += timedelta(days=1)
        except OverflowError:
            return _FAR
        steps += 1
    return _FAR
