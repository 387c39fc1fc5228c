"""The sending lifecycle's transition table: states, guards and role permissions.

A referral we sent (``Referral.side`` is ``sent``) moves through its own table, built into a
:class:`transitions.Machine` and fired through the same compiled path as the receiving one
(:meth:`~referralkit.lifecycle.OutboundLifecycle.fire`). Delivery (the channel's receipt) and
the receiver's answers are separate steps; answers may arrive before the receipt, so they are
accepted from ``sent`` as well as ``delivered``.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, cast

from referralkit.lifecycle.outbound_triggers import (
    OUTBOUND_TRIGGERS,
    OutboundTrigger,
    ReviewReportData,
)
from referralkit.lifecycle.table import GuardEvent
from referralkit.model import Actor, ActorKind, OutboundStatus, Referral, Role

if TYPE_CHECKING:  # exists only in transitions' .pyi stubs: importing it at runtime fails
    from transitions.core import TransitionConfigDict

__all__ = [
    "OUTBOUND_OPEN_STATES",
    "OUTBOUND_ROLE_TRIGGERS",
    "OUTBOUND_TERMINAL_STATES",
    "OUTBOUND_TRANSITIONS",
    "OUTBOUND_TRIGGER_SOURCES",
    "OutboundToken",
    "allowed_outbound_triggers",
]

O = OutboundStatus  # noqa: E741 - the table reads as the receiving one does (S)
_AWAITING: Final = [O.SENT, O.DELIVERED, O.ACKNOWLEDGED]
OUTBOUND_OPEN_STATES: Final = (
    O.DRAFT,
    O.SENT,
    O.DELIVERED,
    O.ACKNOWLEDGED,
    O.ACCEPTED,
    O.DECLINED,
    O.SCHEDULED,
    O.SEEN,
    O.REPORT_RECEIVED,
)
"""States in which someone on our side still owns a next step."""
OUTBOUND_TERMINAL_STATES: Final = frozenset(
    {O.REDIRECTED, O.REPORT_REVIEWED, O.CANCELLED, O.LOST, O.ENTERED_IN_ERROR}
)
"""States that end the referral; a report arriving reopens ``report_reviewed`` and ``lost``."""


class OutboundToken:
    """What the sending machine moves: the state, and why a guard refused (if one did)."""

    __slots__ = ("blocked", "state")

    def __init__(self, state: OutboundStatus) -> None:
        self.state = state
        self.blocked: tuple[str, str] | None = None


def _refuse(event: GuardEvent, guard: str, reason: str) -> bool:
    cast("OutboundToken", event.model).blocked = (guard, reason)
    return False


def _package_released(event: GuardEvent) -> bool:
    referral: Referral = event.kwargs["referral"]
    outbound = referral.outbound
    package = outbound.package if outbound is not None else None
    if package is None:
        return _refuse(event, "package_released", "no package has been prepared")
    if package.released_by is None:
        return _refuse(event, "package_released", "the package has not been released by a person")
    return True


def _receiver_named(event: GuardEvent) -> bool:
    referral: Referral = event.kwargs["referral"]
    if referral.receiving_practice is None and referral.receiving_provider is None:
        return _refuse(event, "receiver_named", "no receiving practice or provider")
    if not referral.specialty:
        return _refuse(event, "receiver_named", "no specialty")
    return True


def _reviewed_by_a_person(event: GuardEvent) -> bool:
    actor: Actor = event.kwargs["actor"]
    if actor.kind is not ActorKind.HUMAN:
        return _refuse(event, "reviewed_by_a_person", "a report is reviewed by a person")
    return True


def _latest_report(event: GuardEvent) -> bool:
    referral: Referral = event.kwargs["referral"]
    data: ReviewReportData = event.kwargs["data"]
    reports = referral.outbound.reports if referral.outbound is not None else ()
    if not reports or reports[-1].report_id != data.review.report_id:
        return _refuse(event, "latest_report", "the review is not of the latest report revision")
    return True


_RESENDS: Final[list[TransitionConfigDict]] = [
    {"trigger": "resend", "source": s, "dest": s} for s in (*_AWAITING, O.ACCEPTED)
]
OUTBOUND_TRANSITIONS: Final[list[TransitionConfigDict]] = [
    {"trigger": "send", "source": O.DRAFT, "dest": O.SENT,
     "conditions": [_package_released, _receiver_named]},
    # A re-send is its own record and leaves the state where it was.
    *_RESENDS,
    {"trigger": "confirm_delivery", "source": O.SENT, "dest": O.DELIVERED},
    {"trigger": "acknowledge", "source": [O.SENT, O.DELIVERED], "dest": O.ACKNOWLEDGED},
    {"trigger": "receiver_accept", "source": _AWAITING, "dest": O.ACCEPTED},
    {"trigger": "receiver_decline", "source": [*_AWAITING, O.ACCEPTED], "dest": O.DECLINED},
    {"trigger": "redirect_to", "source": [O.DECLINED, *_AWAITING, O.LOST],
     "dest": O.REDIRECTED},
    # A booking implies the receiver accepted; a later answer then changes nothing.
    {"trigger": "book", "source": [*_AWAITING, O.ACCEPTED, O.SCHEDULED, O.LOST],
     "dest": O.SCHEDULED},
    {"trigger": "record_seen", "source": [*_AWAITING, O.ACCEPTED, O.SCHEDULED, O.LOST],
     "dest": O.SEEN},
    # New information after closure reopens: a corrected report re-opens review.
    {"trigger": "receive_report",
     "source": [*_AWAITING, O.ACCEPTED, O.SCHEDULED, O.SEEN, O.REPORT_RECEIVED,
                O.REPORT_REVIEWED, O.LOST],
     "dest": O.REPORT_RECEIVED},
    {"trigger": "review_report", "source": O.REPORT_RECEIVED, "dest": O.REPORT_REVIEWED,
     "conditions": [_reviewed_by_a_person, _latest_report]},
    {"trigger": "withdraw", "source": [O.DRAFT, *_AWAITING, O.ACCEPTED, O.DECLINED,
                                       O.SCHEDULED], "dest": O.CANCELLED},
    {"trigger": "mark_not_seen", "source": [*_AWAITING, O.ACCEPTED, O.SCHEDULED],
     "dest": O.LOST},
    {"trigger": "void", "source": [s for s in O if s is not O.ENTERED_IN_ERROR],
     "dest": O.ENTERED_IN_ERROR},
]  # fmt: skip
"""The whole sending lifecycle, in the form :class:`transitions.Machine` takes."""


def _sources(entry: TransitionConfigDict) -> list[OutboundStatus]:
    source = entry["source"]
    return list(source) if isinstance(source, list) else [cast("OutboundStatus", source)]


OUTBOUND_TRIGGER_SOURCES: Final[dict[OutboundStatus, tuple[OutboundTrigger, ...]]] = {
    state: tuple(
        t
        for t in OUTBOUND_TRIGGERS
        if any(e["trigger"] == t and state in _sources(e) for e in OUTBOUND_TRANSITIONS)
    )
    for state in O
}
"""The triggers each sending-side state accepts."""

_ANSWERS: Final[frozenset[OutboundTrigger]] = frozenset(
    {"confirm_delivery", "acknowledge", "receiver_accept", "receiver_decline", "book",
     "record_seen", "receive_report"}
)  # fmt: skip
OUTBOUND_ROLE_TRIGGERS: Final[Mapping[Role, frozenset[OutboundTrigger]]] = {
    # The referring practice's staff: send, chase, record what the receiver said.
    Role.REFERRER: frozenset({*_ANSWERS, "send", "resend", "redirect_to", "withdraw",
                              "mark_not_seen", "void"}),
    Role.CLINICIAN: frozenset({"send", "resend", "redirect_to", "receive_report",
                               "review_report", "withdraw", "mark_not_seen", "void"}),
    Role.SCHEDULER: frozenset({*_ANSWERS, "resend"}),
    Role.INTAKE: frozenset(_ANSWERS),
    # Channels and integrations: receipts and answers, and the chasing sweep's re-send.
    Role.SYSTEM: frozenset({*_ANSWERS, "resend"}),
}  # fmt: skip
"""Which sending-side triggers each role may fire; only a clinician reviews a report."""


def allowed_outbound_triggers(
    referral: Referral, actor: Actor | None = None
) -> tuple[OutboundTrigger, ...]:
    """Return the sending-side triggers that may be fired now, by *actor* if given.

    A referral we received (or one without a sending record) allows none.
    """
    if referral.outbound is None:
        return ()
    triggers = OUTBOUND_TRIGGER_SOURCES[referral.outbound.status]
    if actor is None:
        return triggers
    permitted = OUTBOUND_ROLE_TRIGGERS[actor.role]
    return tuple(t for t in triggers if t in permitted)
