"""Fold one referral's events into the facts every metric is computed from.

Metrics never look at the referral's current record for *when* things happened: each instant
below is the ``at`` of a lifecycle event (``created``, ``schedule``, ``complete_visit``...) or
of an outbox event (``action_queued``/``action_sent``), so a report for a past window gives the
same numbers tomorrow.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import attrs

from referralkit.events import Event
from referralkit.model import ReferralStatus
from referralkit.tasks.moot import MOOT_KIND

__all__ = [
    "CONTACT_CHANNELS",
    "OPERATION_CHANNELS",
    "ReferralFacts",
    "TaskFact",
    "fold_facts",
]

S = ReferralStatus

OPERATION_CHANNELS: Final[Mapping[str, str]] = {
    "place_call": "voice",
    "send_sms": "sms",
    "email_patient": "email",
    "send_letter": "letter",
    "send_fax": "fax",
    "update_practice": "practice_update",
    "alert_staff": "staff_alert",
    "push_status": "ehr_status",
    "book_appointment": "ehr_booking",
    "cancel_appointment": "ehr_booking",
}
"""The channel each outbound operation (a port method) uses."""

CONTACT_CHANNELS: Final = frozenset({"voice", "sms", "email", "letter"})
"""Channels that reach the patient: their sends are outreach attempts."""

_LEAKED: Final = {S.LOST: "lost", S.DECLINED: "declined", S.CANCELLED: "cancelled"}
_TASK_KINDS: Final = frozenset({"task_opened", "routing_task_opened", "routing_notified"})
_TASK_CLOSING: Final = frozenset({"task_completed", "task_cancelled"})
_AUTH_DENIED: Final = "authorization_denied"


@attrs.frozen
class TaskFact:
    """A human task opened by an event: its queue, when, and its due time if recorded.

    :ivar queue: the queue the task is on after the last event read (a reassignment moves it).
    :ivar closed_at: the ``task_completed``, ``task_cancelled`` or ``task_mooted`` (unheld)
        event that closed it, if any was read.

    .. versionchanged:: 0.4 ``closed_at``; ``queue`` follows reassignments.
    """

    queue: str
    task_id: str
    opened_at: datetime
    due_at: datetime | None
    sla_clock: str | None = None
    closed_at: datetime | None = None


@attrs.frozen
class ReferralFacts:
    """What one referral's events say, as of the end of the window (PHI-free).

    :ivar received_at: the ``created`` event's instant, or ``None`` when the referral was
        created before the events read (it is then not in the window's cohort).
    :ivar status: the state after the last event read.
    :ivar booked_at: the first ``schedule``; ``seen_at`` the first ``complete_visit``;
        ``closed_at`` the first ``close_loop`` (the consult report sent back).
    :ivar leak_reason: ``lost:<code>``, ``declined:<code>``, ``cancelled:<code>`` or
        ``unbooked_past_sla`` (see :func:`fold_facts`), else ``None``.
    :ivar auth_denied: the payer denied the authorization at least once (an
        ``authorization_denied`` event, or an authorization amendment recording ``denied``).

    .. versionchanged:: 0.4 ``auth_denied``.
    """

    referral_id: UUID
    received_at: datetime | None
    status: ReferralStatus
    entered_in_error: bool = False
    booked_at: datetime | None = None
    seen_at: datetime | None = None
    closed_at: datetime | None = None
    first_outreach_at: datetime | None = None
    attempts_before_booking: int = 0
    sends_by_channel: tuple[tuple[str, int], ...] = ()
    appointments_booked: int = 0
    visits_completed: int = 0
    no_shows: int = 0
    auth_required_at: datetime | None = None
    auth_decided_at: datetime | None = None
    auth_denied: bool = False
    reopened: int = 0
    redirects: int = 0
    held_for: timedelta = timedelta(0)
    leak_reason: str | None = None
    tasks: tuple[TaskFact, ...] = ()
    escalations: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()


def _leak(
    status: ReferralStatus,
    codes: Mapping[str, str],
    seen: bool,
    booked: bool,
    age: timedelta,
    unbooked_sla: timedelta,
) -> str | None:
    kind = _LEAKED.get(status)
    if kind is not None:
        # A referral cancelled after the patient was seen did not leak: the care happened.
        return None if seen else f"{kind}:{codes.get(kind, 'unspecified')}"
    if not booked and status is not S.ON_HOLD and status not in (S.CLOSED, S.ENTERED_IN_ERROR):
        return "unbooked_past_sla" if age > unbooked_sla else None
    return None


def fold_facts(
    events: Iterable[Event], *, until: datetime, unbooked_sla: timedelta
) -> ReferralFacts:
    """Fold one referral's events (in sequence order, all before *until*) into its facts.

    Holds pause the SLA clock: the age compared with *unbooked_sla* is the time from receipt
    to *until* less the time spent on hold (a hold still open at *until* counts up to it).

    :raises ValueError: *events* is empty.
    """
    referral_id: UUID | None = None
    received_at = booked_at = seen_at = closed_at = first_outreach = None
    auth_required = auth_decided = hold_started = None
    status: ReferralStatus | None = None
    entered_in_error = False
    attempts_before_booking = booked_count = completed = no_shows = reopened = redirects = 0
    held = timedelta(0)
    channels: dict[str, int] = {}
    operations: dict[str, str] = {}
    codes: dict[str, str] = {}
    auth_denied = False
    tasks: list[TaskFact] = []
    task_index: dict[str, int] = {}
    task_queues: dict[str, str] = {}
    escalations: list[str] = []
    calls: list[str] = []
    for event in events:
        referral_id = event.referral_id
        kind, at, data = event.kind, event.at, event.data
        if event.to_state is not None:
            status = event.to_state
        if kind == "created":
            received_at = at
            if event.changes is not None and event.changes.get("side") == "sent":
                # A referral we sent is measured from the sending side
                # (referralkit.referring.sent_cms50), never in the receiving cohort.
                received_at = None
        elif kind == "schedule":
            booked_count += 1
            booked_at = booked_at or at
        elif kind == "reschedule":
            booked_count += 1
        elif kind == "complete_visit":
            completed += 1
            seen_at = seen_at or at
        elif kind == "close_loop":
            closed_at = closed_at or at
        elif kind == "no_show":
            no_shows += 1
        elif kind == "require_auth":
            auth_required = auth_required or at
        elif kind == _AUTH_DENIED or (
            kind.startswith("authorization_") and data.get("status") == "denied"
        ):
            auth_denied = True
        elif kind == "authorize":
            if auth_required is not None and auth_decided is None:
                auth_decided = at
        elif kind == "reopen":
            reopened += 1
        elif kind == "redirect":
            redirects += 1
        elif kind == "hold":
            hold_started = at
        elif kind == "resume":
            if hold_started is not None:
                held += at - hold_started
            hold_started = None
        elif kind == "mark_error":
            entered_in_error = True
        elif kind in ("mark_lost", "decline", "cancel"):
            label = {"mark_lost": "lost", "decline": "declined", "cancel": "cancelled"}[kind]
            codes[label] = str(data.get("reason", "unspecified"))
        elif kind == "action_queued":
            operations[str(data.get("key"))] = str(data.get("operation", ""))
        elif kind == "action_sent":
            channel = OPERATION_CHANNELS.get(operations.get(str(data.get("key")), ""), "other")
            channels[channel] = channels.get(channel, 0) + 1
            if channel in CONTACT_CHANNELS:
                first_outreach = first_outreach or at
                if booked_at is None:
                    attempts_before_booking += 1
        elif kind in _TASK_KINDS and "queue" in data:
            due = data.get("due_at")
            task_id = str(data.get("task_id", ""))
            task_queues[task_id] = str(data["queue"])
            task_index[task_id] = len(tasks)
            clock = data.get("clock")
            tasks.append(
                TaskFact(
                    queue=str(data["queue"]),
                    task_id=task_id,
                    opened_at=at,
                    due_at=datetime.fromisoformat(due) if isinstance(due, str) else None,
                    sla_clock=str(clock) if clock is not None else None,
                )
            )
        elif kind in _TASK_CLOSING or kind == "task_reassigned":
            index = task_index.get(str(data.get("task_id", "")))
            if index is not None:
                task = tasks[index]
                if kind == "task_reassigned" and "queue" in data:
                    tasks[index] = attrs.evolve(task, queue=str(data["queue"]))
                elif kind != "task_reassigned" and task.closed_at is None:
                    tasks[index] = attrs.evolve(task, closed_at=at)
        elif kind == MOOT_KIND:
            for closed in data.get("closed", ()):
                index = task_index.get(str(closed.get("task_id", "")))
                # a mooted task someone holds stays theirs (claimed) until they close it
                if (
                    index is not None
                    and closed.get("held") is None
                    and tasks[index].closed_at is None
                ):
                    tasks[index] = attrs.evolve(tasks[index], closed_at=at)
        elif kind == "routing_task_escalated":
            escalated = str(data.get("escalated_task_id", ""))
            escalations.append(task_queues.get(escalated, "unknown"))
        elif kind == "call_logged":
            calls.append(str(data.get("call_type", "unknown")))
    if referral_id is None or status is None:
        raise ValueError("a referral's facts need at least one event")
    if hold_started is not None:
        held += until - hold_started
    age = (until - received_at - held) if received_at is not None else timedelta(0)
    return ReferralFacts(
        referral_id=referral_id,
        received_at=received_at,
        status=status,
        entered_in_error=entered_in_error,
        booked_at=booked_at,
        seen_at=seen_at,
        closed_at=closed_at,
        first_outreach_at=first_outreach,
        attempts_before_booking=attempts_before_booking,
        sends_by_channel=tuple(sorted(channels.items())),
        appointments_booked=booked_count,
        visits_completed=completed,
        no_shows=no_shows,
        auth_required_at=auth_required,
        auth_decided_at=auth_decided,
        auth_denied=auth_denied,
        reopened=reopened,
        redirects=redirects,
        held_for=held,
        leak_reason=_leak(
            status, codes, seen_at is not None, booked_at is not None, age, unbooked_sla
        ),
        tasks=tuple(tasks),
        escalations=tuple(escalations),
        calls=tuple(calls),
    )
