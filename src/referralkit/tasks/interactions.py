"""The interaction log: every call, message and letter about a referral, and a continuity view.

Interactions logged on the referral (calls, intake sessions, status disclosures, inbound SMS
and faxes) and outbound actions from the outbox (SMS, calls, faxes, emails, letters the
desk sent) read as one log, oldest first: :func:`interaction_log`. :func:`continuity` tells the
next shift what happened last, what is open, and who owns the next step.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final
from uuid import NAMESPACE_URL, UUID, uuid5

import attrs

from referralkit.events import Event
from referralkit.intake.status import StatusAnswer
from referralkit.model import (
    Actor,
    Channel,
    Direction,
    Disclosure,
    HumanTask,
    Interaction,
    Referral,
    ReferralStatus,
)
from referralkit.tasks.index import URGENCY
from referralkit.tasks.lifecycle import LIVE_STATUSES

__all__ = [
    "OPERATION_CHANNELS",
    "Continuity",
    "LastEvent",
    "call_interaction",
    "continuity",
    "interaction_log",
    "outbox_interactions",
    "status_disclosure",
]

OPERATION_CHANNELS: Final[Mapping[str, Channel]] = {
    "place_call": Channel.VOICE,
    "send_sms": Channel.SMS,
    "send_fax": Channel.FAX,
    "update_practice": Channel.FAX,
    "push_document": Channel.EHR,
    "email_patient": Channel.EMAIL,
    "send_letter": Channel.LETTER,
}
"""Outbound operations that reach a person, and the channel each uses."""
_NS: Final = uuid5(NAMESPACE_URL, "referralkit:outbox-interaction")


def outbox_interactions(events: Sequence[Event]) -> list[Interaction]:
    """Return the outbound contacts the outbox recorded, as interactions (one per action key).

    The outcome is ``queued``, ``sent``, ``failed`` or ``unknown``; a failed or unknown one
    links the task opened for it.
    """
    found: dict[str, Interaction] = {}
    for event in events:
        key = event.data.get("key")
        if event.kind == "action_queued" and key is not None:
            channel = OPERATION_CHANNELS.get(str(event.data.get("operation")))
            if channel is None or key in found:
                continue
            found[str(key)] = Interaction(
                id=uuid5(_NS, str(key)),
                at=event.at,
                channel=channel,
                direction=Direction.OUTBOUND,
                outcome="queued",
                actor_id=event.actor.id,
                actor_kind=event.actor.kind,
                action_key=str(key),
            )
        elif event.kind == "action_sent" and str(key) in found:
            found[str(key)] = found[str(key)].model_copy(
                update={"outcome": "sent", "ended_at": event.at}
            )
        elif event.kind == "task_opened" and isinstance(event.data.get("action"), dict):
            action = event.data["action"]
            ref = str(action.get("key"))
            if ref in found:
                found[ref] = found[ref].model_copy(
                    update={
                        "outcome": str(action.get("status")),
                        "task_id": UUID(str(event.data["task_id"])),
                    }
                )
    return list(found.values())


def interaction_log(referral: Referral, events: Sequence[Event]) -> list[Interaction]:
    """Return every interaction of the referral, oldest first (logged ones and outbox contacts).

    An outbox contact that was also logged explicitly (same ``action_key``) appears once, as
    logged.
    """
    logged = list(referral.interactions)
    keys = {i.action_key for i in logged if i.action_key is not None}
    merged = logged + [i for i in outbox_interactions(events) if i.action_key not in keys]
    return sorted(merged, key=lambda i: i.at)  # stable: same-instant entries keep their order


@attrs.frozen
class LastEvent:
    """The latest change of a referral: what, when and by whom (no data, so no PHI).

    .. versionadded:: 0.1
    """

    kind: str
    at: datetime
    actor_id: str


@attrs.frozen
class Continuity:
    """A shift hand-over view of one referral.

    :ivar last_interaction: the latest call, message or letter (its summary stays masked in
        ``repr``).
    :ivar open_tasks: live tasks, most urgent first.
    :ivar next_owner: who owns the next step: the assignee of the most urgent live task, else
        its queue (``"queue:scheduling"``); ``None`` when nothing is open.

    .. versionadded:: 0.1
    """

    referral_id: UUID
    status: ReferralStatus
    last_event: LastEvent | None
    last_interaction: Interaction | None
    open_tasks: tuple[HumanTask, ...]
    next_owner: str | None
    interactions: int


def continuity(referral: Referral, events: Sequence[Event]) -> Continuity:
    """Summarise *referral* for the next person to pick it up."""
    log = interaction_log(referral, events)
    live = sorted(
        (t for t in referral.tasks if t.status in LIVE_STATUSES),
        key=lambda t: (URGENCY[t.priority], t.due_at, str(t.id)),
    )
    owner = None
    if live:
        owner = live[0].assignee or f"queue:{live[0].queue}"
    last = events[-1] if events else None
    return Continuity(
        referral_id=referral.id,
        status=referral.status,
        last_event=None if last is None else LastEvent(last.kind, last.at, last.actor.id),
        last_interaction=log[-1] if log else None,
        open_tasks=tuple(live),
        next_owner=owner,
        interactions=len(log),
    )


def status_disclosure(answer: StatusAnswer) -> Disclosure | None:
    """Return what a status or authorization answer disclosed (field names), or ``None``.

    Nothing is disclosed to an unverified caller, so that answer has no disclosure record.
    """
    if answer.audience is None:
        return None
    fields = ["status"]
    if answer.authorization is not None:
        fields.append("authorization")
    if answer.next_step is not None:
        fields.append("next_step")
    if answer.owner is not None:
        fields.append("owner")
    fields.extend(sorted(answer.details))
    return Disclosure(fields=tuple(fields), recipient_role=answer.audience, verified=True)


def call_interaction(
    *,
    call_type: str,
    actor: Actor,
    at: datetime,
    outcome: str,
    summary: str | None = None,
    ended_at: datetime | None = None,
    answer: StatusAnswer | None = None,
    channel: Channel = Channel.VOICE,
    direction: Direction = Direction.INBOUND,
) -> Interaction:
    """Build the interaction of a call an intake session captured (AI or human *actor*).

    With *answer* (a status or authorization call), the disclosure record says what the caller
    was told. Intended for ``submit_intake`` to log instead of its bare record.
    """
    return Interaction(
        at=at,
        channel=channel,
        direction=direction,
        call_type=call_type,
        outcome=outcome,
        summary=summary,
        actor_id=actor.id,
        actor_kind=actor.kind,
        ended_at=ended_at,
        disclosure=None if answer is None else status_disclosure(answer),
    )
