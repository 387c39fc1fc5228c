"""The outbox ledger: how outbound actions are recorded on a referral's event log, and read back.

Every reader of outbound actions (the desk's outbox, the outreach planner, metrics) folds the
events through this one module, so they cannot disagree. An action moves through events::

    action_queued  --send-->          action_sent                     (status "sent")
                   --refused-->       action_cancelled {reason}       (status "cancelled")
                   --fail-->          task_opened {"action": failed}  (status "failed", a task)
    (crash)        --recover-->       action_claimed, then a send as above
                   --no re-send-->    task_opened {"action": unknown} (status "unknown")

``action_queued`` is committed before the adapter is called; every later (re-)send is preceded
by a committed ``action_claimed``, so two workers holding the same stale version cannot both
send. ``action_cancelled`` records a send refused at the last moment (consent withdrawn, the
referral moved on): it never reached the patient.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

import attrs
from pydantic import ValidationError

from referralkit.errors import CorruptRecordError
from referralkit.events import Event
from referralkit.ports import (
    BookAppointmentRequest,
    CallRequest,
    CancelAppointmentRequest,
    FaxRequest,
    InteractionMirrorRequest,
    LetterRequest,
    OutboundRequest,
    PatientEmailRequest,
    PracticeUpdateRequest,
    SmsRequest,
    StaffAlertRequest,
    StatusPushRequest,
    TaskMirrorRequest,
)

__all__ = [
    "ACTION_CANCELLED",
    "ACTION_CLAIMED",
    "ACTION_QUEUED",
    "ACTION_SENT",
    "OUTREACH_TASK",
    "PATIENT_OPERATIONS",
    "REQUEST_TYPES",
    "TASK_OPENED",
    "ActionStatus",
    "Ledger",
    "OutboxEntry",
    "outbox_entries",
    "read_ledger",
]

ACTION_QUEUED: Final = "action_queued"
"""Event kind: an outbound action was recorded before its adapter was called."""
ACTION_CLAIMED: Final = "action_claimed"
"""Event kind: a worker claimed an already-queued action to (re-)send it."""
ACTION_SENT: Final = "action_sent"
"""Event kind: the adapter accepted the action."""
ACTION_CANCELLED: Final = "action_cancelled"
"""Event kind: the action was refused before it reached the adapter (consent, state)."""
TASK_OPENED: Final = "task_opened"
"""Event kind: a human task was opened (by a failed action, or by an outreach step)."""
OUTREACH_TASK: Final = "outreach"
"""Key of ``task_opened`` data naming the outreach step a task completes."""

ActionStatus = Literal["queued", "sent", "failed", "unknown", "cancelled"]
"""Where an outbound action stands; only ``queued`` is not final."""

PATIENT_OPERATIONS: Final = frozenset({"place_call", "send_sms", "email_patient", "send_letter"})
"""Operations that contact the patient (consent, windows and caps apply)."""

REQUEST_TYPES: Final[Mapping[str, type[OutboundRequest]]] = {
    cls.operation: cls
    for cls in (
        CallRequest,
        SmsRequest,
        FaxRequest,
        StaffAlertRequest,
        PracticeUpdateRequest,
        PatientEmailRequest,
        LetterRequest,
        StatusPushRequest,
        InteractionMirrorRequest,
        TaskMirrorRequest,
        BookAppointmentRequest,
        CancelAppointmentRequest,
    )
}
"""Every outbound request type, by the port method that carries it."""


@attrs.frozen
class OutboxEntry:
    """One outbound action as the referral's event log records it.

    :ivar queued_status: the referral's status when the action was queued (the state it was
        planned for).
    :ivar claimed_seq: the event sequence number of the latest queue or claim: the version a
        sender must hold.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 *queued_at*, *ended_at*, *queued_status* and *claimed_seq*.
    """

    key: str
    referral_id: UUID
    operation: str
    adapter: str | None
    status: ActionStatus
    request: Mapping[str, Any] = attrs.field(repr=False)
    provider_ref: str | None = None
    task_id: UUID | None = None
    reason: str | None = None
    queued_seq: int = 0
    queued_at: datetime | None = None
    ended_at: datetime | None = None
    queued_status: str | None = None
    claimed_seq: int = 0

    @property
    def contacts_patient(self) -> bool:
        """Whether this action reaches the patient (a call, text, email or letter)."""
        return self.operation in PATIENT_OPERATIONS

    @property
    def may_have_reached(self) -> bool:
        """Whether the patient may have been contacted by it (counted against caps)."""
        return self.status in ("queued", "sent", "unknown")

    def rebuild(self) -> OutboundRequest:
        """Return the queued request, exactly as first sent (same idempotency key).

        :raises CorruptRecordError: the recorded request no longer validates (its values,
            which are PHI, are in neither the message nor the exception's context).

        .. versionchanged:: 0.2
           Raises :class:`~referralkit.errors.CorruptRecordError` instead of pydantic's error.
        """
        try:
            return REQUEST_TYPES[self.operation].model_validate(self.request, strict=False)
        except (ValidationError, KeyError):
            pass
        raise CorruptRecordError(self.referral_id, "outbound request")


@attrs.frozen
class Ledger:
    """What a referral's events say about its outbound actions and outreach tasks.

    :ivar entries: outbound actions by idempotency key, in queue order.
    :ivar step_tasks: outreach step keys whose human task was opened, with when.
    """

    entries: Mapping[str, OutboxEntry]
    step_tasks: Mapping[str, datetime]


def read_ledger(events: Iterable[Event]) -> Ledger:
    """Fold a referral's events (oldest first) into its :class:`Ledger`."""
    entries: dict[str, OutboxEntry] = {}
    step_tasks: dict[str, datetime] = {}
    for event in events:
        kind = event.kind
        data = event.data
        if kind == ACTION_QUEUED:
            key = str(data["key"])
            if key not in entries:
                entries[key] = OutboxEntry(
                    key=key,
                    referral_id=event.referral_id,
                    operation=str(data["operation"]),
                    adapter=data.get("adapter"),
                    status="queued",
                    request=data["request"],
                    queued_seq=event.seq,
                    queued_at=event.at,
                    queued_status=event.to_state.value if event.to_state else None,
                    claimed_seq=event.seq,
                )
        elif kind == ACTION_CLAIMED:
            entry = entries.get(str(data["key"]))
            if entry is not None and entry.status == "queued":
                entries[entry.key] = attrs.evolve(entry, claimed_seq=event.seq)
        elif kind == ACTION_SENT:
            entry = entries.get(str(data["key"]))
            if entry is not None and entry.status == "queued":
                entries[entry.key] = attrs.evolve(
                    entry, status="sent", provider_ref=data.get("provider_ref"), ended_at=event.at
                )
        elif kind == ACTION_CANCELLED:
            entry = entries.get(str(data["key"]))
            if entry is not None and entry.status == "queued":
                entries[entry.key] = attrs.evolve(
                    entry, status="cancelled", reason=data.get("reason"), ended_at=event.at
                )
        elif kind == TASK_OPENED:
            step = data.get(OUTREACH_TASK)
            if step is not None:
                step_tasks.setdefault(str(step), event.at)
            action = data.get("action")
            if isinstance(action, Mapping):
                entry = entries.get(str(action.get("key")))
                if entry is not None and entry.status == "queued":
                    entries[entry.key] = attrs.evolve(
                        entry,
                        status=action["status"],
                        reason=action.get("reason"),
                        task_id=_task_id(data.get("task_id")),
                        ended_at=event.at,
                    )
    return Ledger(entries, step_tasks)


def _task_id(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def outbox_entries(events: Iterable[Event]) -> dict[str, OutboxEntry]:
    """Fold a referral's events into its outbox, by idempotency key, in queue order.

    .. versionadded:: 0.1
    """
    return dict(read_ledger(events).entries)
