"""Contact windows: when a patient may be called or texted, in the patient's local time.

The patient's zone comes from the address (a US state maps to its zones) or an explicit
``Patient.time_zone``; a phone's possible zones (from its area code) are added, and the window
is open only when it is open in *every* candidate zone (their intersection). No zone at all
means no automated call: the planner opens a human task instead.

Local times are derived with :mod:`zoneinfo` from UTC instants, so a daylight-saving change
never yields a nonexistent or doubled local time: an instant is checked by converting it to
local time (always well defined), and window edges computed from local times are taken on the
safe side of a gap or fold, then checked again.

.. versionadded:: 0.1
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from referralkit.calendar import BusinessCalendar, WeekdayCalendar
from referralkit.model import Patient, PhoneContact
from referralkit.outreach.policy import WeeklyHours, WindowRules

__all__ = [
    "STATE_ZONES",
    "BusinessCalendar",
    "ContactWindow",
    "WeekdayCalendar",
    "business_days_after",
    "business_days_before",
    "patient_state",
    "patient_zones",
]


_ET, _CT, _MT, _PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
STATE_ZONES: Final[dict[str, tuple[str, ...]]] = {
    "AL": (_CT,), "AK": ("America/Anchorage", "America/Adak"), "AZ": ("America/Phoenix",),
    "AR": (_CT,), "CA": (_PT,), "CO": (_MT,), "CT": (_ET,), "DE": (_ET,), "DC": (_ET,),
    "FL": (_ET, _CT), "GA": (_ET,), "HI": ("Pacific/Honolulu",), "ID": ("America/Boise", _PT),
    "IL": (_CT,), "IN": ("America/Indiana/Indianapolis", _CT), "IA": (_CT,), "KS": (_CT, _MT),
    "KY": ("America/Kentucky/Louisville", _CT), "LA": (_CT,), "ME": (_ET,), "MD": (_ET,),
    "MA": (_ET,), "MI": ("America/Detroit", "America/Menominee"), "MN": (_CT,), "MS": (_CT,),
    "MO": (_CT,), "MT": (_MT,), "NE": (_CT, _MT), "NV": (_PT,), "NH": (_ET,), "NJ": (_ET,),
    "NM": (_MT,), "NY": (_ET,), "NC": (_ET,), "ND": (_CT, _MT), "OH": (_ET,), "OK": (_CT,),
    "OR": (_PT, "America/Boise"), "PA": (_ET,), "RI": (_ET,), "SC": (_ET,), "SD": (_CT, _MT),
    "TN": (_CT, _ET), "TX": (_CT, _MT), "UT": (_MT,), "VT": (_ET,), "VA": (_ET,), "WA": (_PT,),
    "WV": (_ET,), "WI": (_CT,), "WY": (_MT,), "PR": ("America/Puerto_Rico",),
    "GU": ("Pacific/Guam",), "VI": ("America/St_Thomas",), "AS": ("Pacific/Pago_Pago",),
    "MP": ("Pacific/Saipan",),
}  # fmt: skip
"""The IANA zones each US state or territory spans (every zone, so windows stay safe)."""


def business_days_after(day: date, days: int, calendar: BusinessCalendar) -> date:
    """Return the business day *days* business days after *day* (*day* itself for 0).

    .. versionadded:: 0.3
    """
    while days > 0:
        day += timedelta(days=1)
        if calendar.is_business_day(day):
            days -= 1
    return day


def business_days_before(day: date, days: int, calendar: BusinessCalendar) -> date:
    """Return the business day *days* business days before *day* (*day* itself for 0).

    .. versionadded:: 0.3
    """
    while days > 0:
        day -= timedelta(days=1)
        if calendar.is_business_day(day):
            days -= 1
    return day


def patient_state(patient: Patient | None) -> str | None:
    """Return the patient's US state from the address, if known."""
    if patient is None or patient.address is None or patient.address.country != "US":
        return None
    return patient.address.state


def patient_zones(patient: Patient | None, phone: PhoneContact | None = None) -> tuple[str, ...]:
    """Return every zone the patient may be in when reached on *phone*.

    An explicit ``time_zone`` that is one of the address state's zones narrows the state to it;
    one that is not (the patient moved?) is kept together with the state's zones. The phone's
    possible zones are always added. Empty means unknown.
    """
    zones: set[str] = set()
    state = patient_state(patient)
    state_zones = STATE_ZONES.get(state, ()) if state else ()
    if patient is not None and patient.time_zone:
        zones.add(patient.time_zone)
        if state_zones and patient.time_zone not in state_zones:
            zones.update(state_zones)
    else:
        zones.update(state_zones)
    if phone is not None:
        zones.update(phone.time_zones)
    return tuple(sorted(zones))


@lru_cache(maxsize=256)
def _zone(key: str) -> ZoneInfo:
    return ZoneInfo(key)


@lru_cache(maxsize=8192)
def _edge(day: date, at: time, zone: ZoneInfo, *, late: bool) -> datetime:
    # Both readings of a local time (fold 0 and 1); they differ only in a DST gap or fold.
    # Cached: sweeps ask for the same few days in the same few zones over and over.
    first = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
    second = datetime.combine(day, at, tzinfo=zone).replace(fold=1).astimezone(UTC)
    if first == second:
        return first
    if first.astimezone(zone).replace(tzinfo=None) != datetime.combine(day, at):
        # A gap: the local time never happens (clocks went forward over it). The first local
        # time at or past it is the moment the clocks jump, so a start or an end inside the gap
        # falls there, where is_open's "start <= local < end" changes; either reading would be
        # up to an hour off.
        return _jump(min(first, second), max(first, second), datetime.combine(day, at), zone)
    # A fold (the hour repeats): a start takes the later reading, an end the earlier, so the
    # window never includes an instant outside its hours.
    return max(first, second) if late else min(first, second)


def _jump(before: datetime, after: datetime, wall: datetime, zone: ZoneInfo) -> datetime:
    # The first instant in (before, after] whose local wall time is at or past *wall*:
    # bisection to the microsecond (about 32 steps over an hour-long gap).
    low, high = before, after
    while high - low > _MICRO:
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high


_MICRO: Final = timedelta(microseconds=1)


_MAX_STEPS: Final = 2000


@attrs.frozen
class ContactWindow:
    """The resolved window of one patient: zones, weekly hours, and business-day rule.

    :ivar zones: IANA zone names; the window is open only when open in all of them.
    :ivar hours: local hours per weekday.
    :ivar calendar: when given, contact only on its business days (local date in each zone).
    """

    zones: tuple[str, ...]
    hours: WeeklyHours
    calendar: BusinessCalendar | None = None

    @classmethod
    def for_patient(
        cls,
        rules: WindowRules,
        patient: Patient | None,
        phone: PhoneContact | None = None,
        calendar: BusinessCalendar | None = None,
    ) -> ContactWindow | None:
        """Resolve the window of *patient* on *phone*; ``None`` if no zone is known."""
        zones = patient_zones(patient, phone)
        if not zones:
            return None
        return cls(zones, rules.for_state(patient_state(patient)), calendar)

    def is_open(self, instant: datetime) -> bool:
        """Return whether *instant* (aware) falls inside the window in every zone."""
        for key in self.zones:
            local = instant.astimezone(_zone(key))
            day = local.date()
            if self.calendar is not None and not self.calendar.is_business_day(day):
                return False
            hours = self.hours.on(day.weekday())
            if hours is None or not (hours.start <= local.time() < hours.end):
                return False
        return True

    def _interval(self, key: str, after: datetime) -> tuple[datetime, datetime] | None:
        """Return the zone's next open interval that ends after *after*."""
        zone = _zone(key)
        day = after.astimezone(zone).date() - timedelta(days=1)
        for _ in range(370):
            if self.calendar is None or self.calendar.is_business_day(day):
                hours = self.hours.on(day.weekday())
                if hours is not None:
                    start = _edge(day, hours.start, zone, late=True)
                    end = _edge(day, hours.end, zone, late=False)
                    if end > after and start < end:
                        return start, end
            day += timedelta(days=1)
        return None

    def next_open(self, after: datetime, *, until: datetime | None = None) -> datetime | None:
        """Return the earliest instant at or after *after* when the window is open.

        :param until: give up (return ``None``) past this instant; default about a year on.
        """
        limit = until if until is not None else after + timedelta(days=370)
        current = after
        for _ in range(_MAX_STEPS):
            if current > limit:
                return None
            intervals = [self._interval(key, current) for key in self.zones]
            if any(item is None for item in intervals):
                return None
            bounds = [item for item in intervals if item is not None]
            start = max(current, *(s for s, _ in bounds))
            end = min(e for _, e in bounds)
            if start < end:
                if self.is_open(start):
                    return start if start <= limit else None
                current = start + timedelta(minutes=1)
            else:
                current = start
        return None  # pragma: no cover - pathological hours; windows are found within a year

    def closes_at(self, instant: datetime) -> datetime:
        """Return when the open stretch that contains *instant* ends (*instant* must be open)."""
        ends: list[datetime] = []
        for key in self.zones:
            interval = self._interval(key, instant)
            if interval is not None:
                ends.append(interval[1])
        return min(ends) if ends else instant

    def describe(self) -> str:
        """Return a PHI-free description for logs and tasks (zones and hours only)."""
        return f"zones={','.join(self.zones)}"
