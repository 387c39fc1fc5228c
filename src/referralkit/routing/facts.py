"""What the rules see: a referral's facts at one instant, derived once and shared by all rules.

Cheap facts are read on construction; the rest (event scans, SLA clocks) are computed the first
time a rule asks and then cached, so a rule set pays only for what it uses.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Final

from referralkit.events import Event
from referralkit.model import (
    Appointment,
    AuthorizationStatus,
    Direction,
    Priority,
    RecordsRequestStatus,
    Referral,
    ReferralStatus,
)
from referralkit.routing.calendar import BusinessCalendar
from referralkit.routing.sla import ClockName, ClockState, Duration, SlaPolicy, clock_state

if TYPE_CHECKING:
    from referralkit.routing.rules import AutoAcceptPolicy

__all__ = ["ROUTING_EVENT_PREFIX", "Facts"]

ROUTING_EVENT_PREFIX: Final = "routing_"
"""Event kinds the desk records for routing decisions start with this; their ``data["key"]``
is the decision's idempotency key."""

_RECORDS_DONE: Final = frozenset({RecordsRequestStatus.RECEIVED})


def _fold(value: str | None) -> str | None:
    return value.strip().casefold() if value else None


class Facts:
    """The facts of one referral at *now*, as rule conditions read them.

    Values are codes, counts and durations, never PHI, so an explanation can quote them.
    """

    def __init__(
        self,
        referral: Referral,
        events: Sequence[Event],
        now: datetime,
        *,
        calendar: BusinessCalendar,
        sla: SlaPolicy,
        auto_accept: Sequence[AutoAcceptPolicy] = (),
    ) -> None:
        self.referral = referral
        self.events = events
        self.now = now
        self.calendar = calendar
        self.sla = sla
        self._auto_accept = auto_accept
        self.status: ReferralStatus = referral.status
        self.priority: Priority = referral.priority
        self.specialty: str | None = _fold(referral.specialty)
        self.payer: str | None = (
            _fold(referral.coverage.payer_name) if referral.coverage is not None else None
        )
        self.auth_status: AuthorizationStatus = referral.authorization.status
        self.flags: frozenset[str] = frozenset(f.casefold() for f in referral.flags)
        self._clocks: dict[ClockName, ClockState] = {}

    # -- derived facts (cached) -------------------------------------------------------------

    @cached_property
    def call_types(self) -> frozenset[str]:
        """Call types of the referral's logged interactions."""
        return frozenset(i.call_type for i in self.referral.interactions if i.call_type)

    @cached_property
    def no_shows(self) -> int:
        """How many appointments the patient missed."""
        return sum(1 for a in self.referral.appointments if a.status.value == "no_show")

    @cached_property
    def attempts(self) -> int:
        """How many outbound contact attempts were logged."""
        return sum(1 for i in self.referral.interactions if i.direction is Direction.OUTBOUND)

    @cached_property
    def state_entry(self) -> Event | None:
        """The event that moved the referral into its current state (or created it there)."""
        for event in reversed(self.events):
            if event.to_state is self.status and event.from_state is not self.status:
                return event
        return None

    @cached_property
    def state_since(self) -> datetime | None:
        """When the referral entered its current state (``updated_at`` if no event says)."""
        entry = self.state_entry
        if entry is not None:
            return entry.at
        return self.referral.updated_at or self.referral.created_at

    def last_event(self, kind: str) -> datetime | None:
        """Return when the latest event of *kind* happened, if any."""
        for event in reversed(self.events):
            if event.kind == kind:
                return event.at
        return None

    @cached_property
    def recorded_keys(self) -> frozenset[str]:
        """Idempotency keys of routing decisions already recorded in the event log."""
        keys: set[str] = set()
        for event in self.events:
            if event.kind.startswith(ROUTING_EVENT_PREFIX):
                key = event.data.get("key")
                if isinstance(key, str):
                    keys.add(key)
        return frozenset(keys)

    @cached_property
    def appointment(self) -> Appointment | None:
        """The booked appointment, if any."""
        return self.referral.current_appointment

    @cached_property
    def appointment_in(self) -> timedelta | None:
        """Time from now until the booked appointment (negative once it has started)."""
        appointment = self.appointment
        return None if appointment is None else appointment.start - self.now

    @cached_property
    def records_pending(self) -> bool:
        """Whether a records request exists that has not been received."""
        return any(r.status not in _RECORDS_DONE for r in self.referral.records_requests)

    @cached_property
    def auth_expires_before_appointment(self) -> bool:
        """Whether a granted authorization's validity ends before the booked appointment.

        Denied, pended and expired authorizations have rules of their own.
        """
        lapses = self.referral.authorization.lapses_at
        appointment = self.appointment
        return appointment is not None and lapses is not None and lapses <= appointment.start

    @cached_property
    def auth_expires_in(self) -> timedelta | None:
        """Time until a granted authorization expires, if it has a validity end."""
        lapses = self.referral.authorization.lapses_at
        return None if lapses is None else lapses - self.now

    @cached_property
    def auth_visits_unused(self) -> bool:
        """Whether a granted authorization still has visits left (or is not visit-limited)."""
        auth = self.referral.authorization
        if auth.authorized_visits is None:
            return True
        return auth.used_visits < auth.authorized_visits

    @cached_property
    def auto_accept_policy(self) -> str | None:
        """The name of the first auto-accept policy that matches, if any."""
        for policy in self._auto_accept:
            if policy.matches(self.referral):
                return policy.name
        return None

    # -- helpers used by compiled conditions --------------------------------------------------

    def reached(self, since: datetime | None, duration: Duration) -> bool:
        """Return whether *duration* has elapsed from *since* to now (``False`` if unknown)."""
        return since is not None and self.now >= duration.add_to(since, self.calendar)

    def within(self, delta: timedelta | None, duration: Duration) -> bool:
        """Return whether a future instant *delta* away is within *duration* (and not past)."""
        if delta is None or delta <= timedelta(0):
            return False
        return duration.add_to(self.now, self.calendar) >= self.now + delta

    def clock(self, name: ClockName) -> ClockState:
        """Return SLA clock *name* for this referral (computed once)."""
        state = self._clocks.get(name)
        if state is None:
            budget = self.sla.for_priority(self.priority).budget(name)
            state = clock_state(name, self.status, self.events, budget, self.calendar)
            self._clocks[name] = state
        return state

    def breached(self, name: ClockName) -> bool:
        """Return whether SLA clock *name* is past its deadline now."""
        return self.clock(name).breached(self.now)

    def describe(self, delta: timedelta | None) -> str:
        """Render a time span for an explanation (a duration, never a date)."""
        if delta is None:
            return "unknown"
        sign = "-" if delta < timedelta(0) else ""
        seconds = int(abs(delta).total_seconds())
        days, rest = divmod(seconds, 86_400)
        hours, rest = divmod(rest, 3600)
        minutes = rest // 60
        return f"{sign}{days}d {hours}h {minutes}m"

    def since(self, instant: datetime | None) -> timedelta | None:
        """Return the time from *instant* to now."""
        return None if instant is None else self.now - instant
