"""When routing is next due for a referral: the instant a sweep must look at it again.

Routing decisions change for two reasons. A commit changes the referral or its events: the desk
evaluates the rules then (:func:`next_routing_at` returns the commit instant when a decision is
due at once). Or time passes, and a time-driven condition turns true with nothing committed:
an SLA deadline passes, an escalation step falls due, the referral has been in its state long
enough, an authorization enters its expiry window, a visit with records outstanding comes
within reach. :func:`next_routing_at` returns the first such instant after *now*, so the store
can index it and a sweep reads only the referrals that are due.

Between commits everything a rule reads except the time is fixed, and every time-driven check
only turns from false to true at one instant (a threshold) and never back before a later
one. So if no decision is due at *now* and no threshold of a rule that can apply lies in
``(now, t]``, no decision is due at *t* either. The returned instant may be early (a sweep then
finds nothing and moves it on), never late.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from referralkit.events import Event
from referralkit.lifecycle import ACTIVE_STATES
from referralkit.model import Referral, ReferralStatus
from referralkit.routing.engine import decisions_due
from referralkit.routing.facts import Facts
from referralkit.routing.rules import Condition, Rule
from referralkit.routing.ruleset import RuleSet
from referralkit.routing.sla import LADDER, ClockName, Duration

__all__ = ["ROUTED_STATES", "TIME_DRIVEN_CONDITIONS", "next_routing_at", "time_thresholds"]

ROUTED_STATES: Final = frozenset({*ACTIVE_STATES, ReferralStatus.ON_HOLD})
"""States a routing sweep visits (open referrals, and those on hold); others are never due."""

TIME_DRIVEN_CONDITIONS: Final = frozenset(
    {
        "in_state_for",
        "since_event",
        "auth_expiring_within",
        "records_pending_within",
        "sla_breached",
    }
)
"""The :class:`~referralkit.routing.Condition` fields whose truth changes as time passes.

Every other field reads only the referral and its events. A new time-driven condition must be
added here and given its thresholds in :func:`time_thresholds` (a test checks every field is
classified)."""

_MICRO: Final = timedelta(microseconds=1)
_FAR: Final = datetime.max.replace(tzinfo=UTC)


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _first_true(test: Callable[[datetime], bool], low: datetime, high: datetime) -> datetime:
    # Smallest instant in (low, high] at which a monotone test (false at low, true at high)
    # holds, to the microsecond: for windows measured in business days, which have no inverse.
    while high - low > _MICRO:
        middle = low + (high - low) / 2
        if test(middle):
            high = middle
        else:
            low = middle
    return high


def _window_opens(
    facts: Facts, target: datetime, duration: Duration, now: datetime
) -> datetime | None:
    """When ``facts.within(target - t, duration)`` turns true at some t after *now*, if it does.

    ``within`` holds while ``now < target <= duration.add_to(now)``; ``add_to`` never
    decreases as *now* grows, so the window opens once and closes at *target*.
    """
    if target <= now:
        return None  # already closed

    def reached(at: datetime) -> bool:
        return duration.add_to(at, facts.calendar) >= target

    if reached(now):
        return None  # already open: nothing new later
    if duration.unit != "bd":
        try:
            opens = target - (duration.add_to(now, facts.calendar) - now)
        except OverflowError:  # pragma: no cover - durations this long never open
            return None
        # add_to is now + a fixed span here; step to the first microsecond it reaches target.
        while not reached(opens):
            opens += _MICRO
        return opens if opens > now else None
    return _first_true(reached, now, target)


def time_thresholds(
    condition: Condition, facts: Facts, clocks: Sequence[ClockName] = ()
) -> list[datetime]:
    """Return the instants at which a time-driven part of *condition* can turn true.

    :param clocks: SLA clocks the rule escalates on: each ladder step is a threshold too.
    """
    found: list[datetime] = []
    calendar = facts.calendar
    if condition.in_state_for is not None and facts.state_since is not None:
        found.append(condition.in_state_for.add_to(facts.state_since, calendar))
    if condition.since_event is not None:
        last = facts.last_event(condition.since_event.kind)
        if last is not None:
            found.append(condition.since_event.at_least.add_to(last, calendar))
    if condition.auth_expiring_within is not None and facts.auth_expires_in is not None:
        opens = _window_opens(
            facts, facts.now + facts.auth_expires_in, condition.auth_expiring_within, facts.now
        )
        if opens is not None:
            found.append(opens)
    if condition.records_pending_within is not None and facts.appointment_in is not None:
        opens = _window_opens(
            facts, facts.now + facts.appointment_in, condition.records_pending_within, facts.now
        )
        if opens is not None:
            found.append(opens)
    watched = [*clocks]
    if condition.sla_breached is not None:
        watched.append(condition.sla_breached)
    for name in watched:
        deadline = facts.clock(name).deadline
        if deadline is None:
            continue
        every = facts.sla.for_priority(facts.priority).escalate_every
        step = deadline
        for _ in LADDER:  # step 1 at the deadline, each further one escalate_every later
            found.append(step)
            step = every.add_to(step, calendar)
    return found


def _escalated_clocks(rule: Rule) -> list[ClockName]:
    return [action.clock or "acceptance" for action in rule.then if action.kind == "escalate"]


def next_routing_at(
    referral: Referral, events: Sequence[Event], rules: RuleSet, now: datetime
) -> datetime | None:
    """Return when routing should next look at *referral*, or ``None`` if never by itself.

    *now* itself when a decision is due at once (an event-driven rule matched at this commit
    and is not yet recorded, or a granted authorization has lapsed); otherwise the first
    instant after *now* at which a time-driven condition of a rule that can apply turns true,
    or the authorization lapses (:attr:`~referralkit.model.Authorization.lapses_at`: the
    sweep then records it expired); ``None`` when nothing can become due without another
    commit, or the referral is not in :data:`ROUTED_STATES`.

    .. versionchanged:: 0.3 the authorization's lapse.

    Pure: reads the referral, its events (oldest first) and the rules.

    :param now: the instant of the commit (a naive value is taken as UTC).

    .. versionadded:: 0.1
    """
    at = _utc(now)
    if referral.status not in ROUTED_STATES:
        return None
    lapses = referral.authorization.lapses_at
    if lapses is not None and lapses <= at:
        return at  # a granted authorization past its end: the sweep records it expired
    facts = rules.facts(referral, events, at)
    if decisions_due(rules, facts):
        return at
    soonest: datetime | None = lapses
    for rule in rules.rules:
        when = rule.when
        if not rule.enabled or (when.status is not None and referral.status not in when.status):
            continue  # its status cannot change without a commit, which recomputes this
        for instant in time_thresholds(when, facts, _escalated_clocks(rule)):
            if instant > at and instant < _FAR and (soonest is None or instant < soonest):
                soonest = instant
    return soonest
