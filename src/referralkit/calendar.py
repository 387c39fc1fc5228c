"""Business calendars: which days a practice works, in its local time zone.

The one calendar protocol: routing's SLA clocks and outreach's business-day steps both take a
:class:`BusinessCalendar`. :class:`UsBusinessCalendar` (US federal holidays, from the
``holidays`` package) and :class:`WeekdayCalendar` (Monday to Friday) implement it; business-day
arithmetic is in :mod:`referralkit.routing.calendar`.

.. versionadded:: 0.2
"""

from __future__ import annotations

from datetime import UTC, date, tzinfo
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import attrs

if TYPE_CHECKING:  # imported where first needed: its country data slows every start-up
    import holidays

__all__ = ["BusinessCalendar", "UsBusinessCalendar", "WeekdayCalendar"]


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


@attrs.frozen
class WeekdayCalendar:
    """Monday to Friday, minus the given holidays, in *zone_name* (UTC by default).

    .. versionadded:: 0.1
    """

    holidays: frozenset[date] = frozenset()
    zone_name: str = "UTC"

    @property
    def zone(self) -> tzinfo:
        """The calendar's time zone."""
        return UTC if self.zone_name == "UTC" else ZoneInfo(self.zone_name)

    def is_business_day(self, day: date) -> bool:
        """Return whether *day* is a weekday that is not a holiday."""
        return day.weekday() < 5 and day not in self.holidays
