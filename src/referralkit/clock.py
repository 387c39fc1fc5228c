"""Time as an injected dependency: every timestamp in referralkit comes from a :class:`Clock`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Tells the time; always timezone-aware UTC."""

    def now(self) -> datetime:
        """Return the current instant as an aware UTC datetime."""
        ...


@attrs.frozen
class SystemClock:
    """The real clock (the only place referralkit reads the system time)."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("ManualClock needs a timezone-aware datetime")
    return value.astimezone(UTC)


@attrs.define
class ManualClock:
    """A clock that moves only when told to: for tests, demos and replays."""

    current: datetime = attrs.field(converter=_utc)

    def now(self) -> datetime:
        """Return the clock's current instant in UTC."""
        return self.current

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move the clock forward by *delta* (or ``timedelta(**kwargs)``); return the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("a clock does not go backwards")
        self.current = self.current + step
        return self.current

    def set(self, when: datetime) -> None:
        """Jump to *when* (which must be aware and not in the clock's past)."""
        when = _utc(when)
        if when < self.current:
            raise ValueError("a clock does not go backwards")
        self.current = when
