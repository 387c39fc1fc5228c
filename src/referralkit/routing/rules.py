"""Rules as data: :class:`Condition`, :class:`Action` and :class:`Rule`, compiled once.

A rule says *when* (a :class:`Condition` over the referral, its events and the time) and *then*
(one or more :class:`Action`). A :class:`~referralkit.routing.ruleset.RuleSet` validates
rules against the declared queues, the call types' approved hand-offs and the lifecycle, and
compiles them once.

Rules are written in Python::

    Rule(
        id="urgent_priority",
        description="Urgent referrals need a clinician now",
        when=Condition(status={ReferralStatus.RECEIVED}, priority={Priority.URGENT}),
        then=(Action.open_task("urgent_clinical", "Prioritise urgent referral", due="1h"),),
    )

or loaded from TOML with :func:`referralkit.routing.loader.load_toml`.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

import attrs

from referralkit.lifecycle import Trigger
from referralkit.model import (
    Actor,
    ActorKind,
    AuthorizationStatus,
    Priority,
    Referral,
    ReferralStatus,
    Role,
    TaskPriority,
)
from referralkit.routing.sla import CLOCKS, ClockName, Duration

__all__ = [
    "ROUTING_ACTOR",
    "Action",
    "ActionKind",
    "AutoAcceptPolicy",
    "Condition",
    "Due",
    "EventAge",
    "Recipient",
    "Rule",
    "SlaDue",
    "Subject",
    "parse_due",
]

ROUTING_ACTOR: Final = Actor(kind=ActorKind.SYSTEM, id="referralkit.routing", role=Role.SYSTEM)
"""The actor routing records its events and fires its triggers as."""


# Typed converters, one per element type: mypy's attrs plugin cannot solve generic ones.
def _statuses(values: Iterable[ReferralStatus] | None) -> frozenset[ReferralStatus] | None:
    return None if values is None else frozenset(values)


def _priorities(values: Iterable[Priority] | None) -> frozenset[Priority] | None:
    return None if values is None else frozenset(values)


def _auth_statuses(
    values: Iterable[AuthorizationStatus] | None,
) -> frozenset[AuthorizationStatus] | None:
    return None if values is None else frozenset(values)


def _texts(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def _actions(values: Iterable[Action]) -> tuple[Action, ...]:
    return tuple(values)


def _folded_or_none(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(v.strip().casefold() for v in values)


def _duration_or_none(value: Duration | str | None) -> Duration | None:
    return Duration.parse(value) if isinstance(value, str) else value


# -- Conditions ----------------------------------------------------------------------------


@attrs.frozen
class EventAge:
    """Require at least *at_least* since the latest event of *kind* (``no_show``, ...).

    .. versionadded:: 0.1
    """

    kind: str
    at_least: Duration = attrs.field(converter=Duration.parse)  # type: ignore[misc]


@attrs.frozen
class AutoAcceptPolicy:
    """A practice's standing decision to accept some referrals without a clinician's review.

    Every criterion given must hold; ``None`` means "any". A referral with required fields
    missing never matches.

    .. versionadded:: 0.1
    """

    name: str
    specialties: frozenset[str] | None = attrs.field(default=None, converter=_folded_or_none)
    priorities: frozenset[Priority] | None = attrs.field(
        default=frozenset({Priority.ROUTINE}), converter=_priorities
    )
    referring_practices: frozenset[str] | None = attrs.field(default=None, converter=_texts)
    """Referring practice ids or NPIs."""
    payers: frozenset[str] | None = attrs.field(default=None, converter=_folded_or_none)

    def matches(self, referral: Referral) -> bool:
        """Return whether this policy accepts *referral*."""
        if self.priorities is not None and referral.priority not in self.priorities:
            return False
        if self.specialties is not None and (
            referral.specialty is None
            or referral.specialty.strip().casefold() not in self.specialties
        ):
            return False
        if self.referring_practices is not None:
            practice = referral.referring_practice
            ids = {practice.id, practice.npi} if practice is not None else set()
            if not ids & self.referring_practices:
                return False
        if self.payers is not None:
            coverage = referral.coverage
            if coverage is None or coverage.payer_name.strip().casefold() not in self.payers:
                return False
        return not referral.missing_fields()


@attrs.frozen
class Condition:
    """When a rule applies. Every field given must hold (``None`` means "any").

    Set-valued fields match if the referral's value is one of the set; text is compared
    case-insensitively.

    :ivar status: lifecycle states.
    :ivar priority: referral priorities.
    :ivar specialty: receiving specialties.
    :ivar payer: payer names.
    :ivar authorization: authorization sub-statuses.
    :ivar call_type: the referral has an interaction of one of these call types.
    :ivar flags_any: the referral carries at least one of these intake flags.
    :ivar flags_none: the referral carries none of these flags.
    :ivar min_no_shows: at least this many missed appointments.
    :ivar min_attempts: at least this many outbound contact attempts.
    :ivar in_state_for: in the current state for at least this long.
    :ivar since_event: at least this long since the latest event of a kind.
    :ivar auth_expires_before_appointment: the authorization ends before the booked visit.
    :ivar auth_expiring_within: a granted authorization with visits left ends within this long.
    :ivar records_pending_within: records not received and the visit is within this long.
    :ivar auto_accept: whether an auto-accept policy matches.
    :ivar sla_breached: this SLA clock is past its deadline.

    .. versionadded:: 0.1
    """

    status: frozenset[ReferralStatus] | None = attrs.field(default=None, converter=_statuses)
    priority: frozenset[Priority] | None = attrs.field(default=None, converter=_priorities)
    specialty: frozenset[str] | None = attrs.field(default=None, converter=_folded_or_none)
    payer: frozenset[str] | None = attrs.field(default=None, converter=_folded_or_none)
    authorization: frozenset[AuthorizationStatus] | None = attrs.field(
        default=None, converter=_auth_statuses
    )
    call_type: frozenset[str] | None = attrs.field(default=None, converter=_texts)
    flags_any: frozenset[str] | None = attrs.field(default=None, converter=_folded_or_none)
    flags_none: frozenset[str] | None = attrs.field(default=None, converter=_folded_or_none)
    min_no_shows: int | None = None
    min_attempts: int | None = None
    in_state_for: Duration | None = attrs.field(default=None, converter=_duration_or_none)
    since_event: EventAge | None = None
    auth_expires_before_appointment: bool | None = None
    auth_expiring_within: Duration | None = attrs.field(default=None, converter=_duration_or_none)
    records_pending_within: Duration | None = attrs.field(
        default=None, converter=_duration_or_none
    )
    auto_accept: bool | None = None
    sla_breached: ClockName | None = None

    def states(self) -> frozenset[ReferralStatus]:
        """Return the states this condition can match in."""
        return self.status if self.status is not None else frozenset(ReferralStatus)


# -- Actions --------------------------------------------------------------------------------

Subject = Literal["referral", "state_entry", "appointment", "authorization"]
"""What one task or alert is about; with the rule id it forms the idempotency key:
``referral`` (once per referral), ``state_entry`` (once per entry into the current state),
``appointment`` (once per booked appointment), ``authorization`` (once per authorization
status and number)."""
ActionKind = Literal["open_task", "escalate", "notify", "fire"]
Recipient = Literal["staff", "referrer"]


@attrs.frozen
class SlaDue:
    """A due time taken from an SLA clock's deadline (``"sla:acceptance"``).

    .. versionadded:: 0.1
    """

    clock: ClockName

    def __str__(self) -> str:
        return f"sla:{self.clock}"


Due = Duration | SlaDue
"""When a task is due: a duration from when it is opened, or an SLA clock's deadline."""


def parse_due(value: Due | str) -> Due:
    """Parse a due time: ``"4h"`` or ``"2bd"`` (a :class:`Duration`), ``"sla:booking"``.

    :raises ValueError: neither form.
    """
    if not isinstance(value, str):
        return value
    if value.startswith("sla:"):
        clock = value.removeprefix("sla:")
        if clock not in CLOCKS:
            raise ValueError(f"unknown SLA clock {clock!r}; known: {', '.join(CLOCKS)}")
        return SlaDue(clock)
    return Duration.parse(value)


def _due_or_none(value: Due | str | None) -> Due | None:
    return None if value is None else parse_due(value)


@attrs.frozen
class Action:
    """What a rule does when it matches. Build with the class methods.

    .. versionadded:: 0.1
    """

    kind: ActionKind
    queue: str | None = None
    """``open_task``: the queue; ``notify``: the staff queue (or fallback queue);
    ``escalate``: the owner queue, if not the clock's task's; ``fire``: where a refused trigger
    becomes a task."""
    title: str | None = None
    priority: TaskPriority = TaskPriority.NORMAL
    due: Due | None = attrs.field(default=None, converter=_due_or_none)
    clock: ClockName | None = None
    recipient: Recipient | None = None
    message: str | None = None
    """A short, PHI-free message or template code for notifications."""
    trigger: Trigger | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def open_task(
        cls,
        queue: str,
        title: str,
        *,
        due: Due | str,
        priority: TaskPriority = TaskPriority.NORMAL,
    ) -> Action:
        """Open a human task in *queue*, due *due* (``"4h"``, ``"2bd"``, ``"sla:acceptance"``)."""
        return cls("open_task", queue=queue, title=title, due=due, priority=priority)

    @classmethod
    def escalate(cls, clock: ClockName, *, owner_queue: str | None = None) -> Action:
        """Climb the escalation ladder while SLA *clock* is breached."""
        return cls("escalate", clock=clock, queue=owner_queue)

    @classmethod
    def notify(
        cls,
        recipient: Recipient,
        message: str,
        *,
        queue: str | None = None,
        due: Due | str = "1bd",
        priority: TaskPriority = TaskPriority.HIGH,
    ) -> Action:
        """Alert staff of *queue*, or the referring practice, with a PHI-free *message*.

        Without a notifier on the desk the alert becomes a task (in *queue*, or
        ``practice_relations`` for the referrer), due *due*.
        """
        return cls(
            "notify",
            recipient=recipient,
            message=message,
            queue=queue,
            due=due,
            priority=priority,
            title=message,
        )

    @classmethod
    def fire(
        cls,
        trigger: Trigger,
        data: Mapping[str, Any] | None = None,
        *,
        fallback_queue: str | None = None,
        title: str | None = None,
        due: Due | str = "1bd",
    ) -> Action:
        """Fire lifecycle *trigger* as the system; if refused, open a task in *fallback_queue*."""
        return cls(
            "fire",
            trigger=trigger,
            data=dict(data or {}),
            queue=fallback_queue,
            title=title or f"Automatic {trigger} was refused: decide",
            due=due,
        )


# -- Rules ----------------------------------------------------------------------------------


@attrs.frozen
class Rule:
    """A routing rule: an id, a condition and what to do.

    :ivar subject: what one task or alert is about (see :data:`Subject`).
    :ivar line: the line it was loaded from, for error messages (not part of equality).

    .. versionadded:: 0.1
    """

    id: str
    description: str
    when: Condition
    then: tuple[Action, ...] = attrs.field(converter=_actions)
    subject: Subject = "referral"
    enabled: bool = True
    line: int | None = attrs.field(default=None, eq=False, repr=False)
