"""A referral's timeline: its events as human-readable lines, with PHI masked by default.

:func:`timeline` turns a referral's events (lifecycle transitions, outreach sends and replies,
tasks, interactions, records and authorization) into :class:`TimelineEntry` objects whose
``text`` a person can read: "Appointment booked for 2026-03-10 09:00 UTC", "Sent a text
message to the patient", "Task opened in queue scheduling (booking SLA)". Free text (notes,
reasons typed by staff, outbound message contents) may hold PHI, so it is replaced by
``[withheld]`` unless ``show_phi=True``; codes, states, queues and channels are always shown.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import attrs

from referralkit.events import Event
from referralkit.store import Store

__all__ = ["WITHHELD", "TimelineEntry", "format_timeline", "referral_timeline", "timeline"]

WITHHELD: Final = "[withheld]"
"""What stands in for free text when PHI is masked."""

_OPERATION_TEXT: Final[Mapping[str, str]] = {
    "place_call": "a call to the patient",
    "send_sms": "a text message to the patient",
    "email_patient": "an email to the patient",
    "send_letter": "a letter to the patient",
    "send_fax": "a fax",
    "update_practice": "a status update to the referring practice",
    "alert_staff": "a staff alert",
    "push_status": "a status update to the EHR",
    "book_appointment": "a booking to the EHR",
    "cancel_appointment": "a cancellation to the EHR",
}

_TRIGGER_TEXT: Final[Mapping[str, str]] = {
    "complete_intake": "Intake completed",
    "request_info": "More information requested",
    "accept": "Accepted",
    "require_auth": "Authorization required",
    "clear": "Cleared to schedule",
    "authorize": "Authorization approved",
    "complete_visit": "Visit completed",
    "close_loop": "Loop closed: consult report sent to the referrer",
    "reopen": "Reopened",
    "hold": "Put on hold",
    "resume": "Resumed",
    "mark_error": "Marked entered in error",
}


@attrs.frozen
class TimelineEntry:
    """One line of a referral's timeline.

    :ivar text: what happened, for a person (free text masked unless asked for).
    :ivar actor: ``kind:id`` of who did it (staff ids and system names, never patients).
    """

    referral_id: UUID
    seq: int
    at: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    actor: str
    text: str

    def line(self) -> str:
        """Return the entry as one fixed-width line (time, kind, states, actor, text)."""
        source = self.from_state or "-"
        dest = self.to_state or "-"
        return (
            f"{self.at:%Y-%m-%d %H:%M}  {self.kind:<22} {source:>17} -> {dest:<17} "
            f"{self.actor}  {self.text}"
        )

    def as_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "from": self.from_state,
            "to": self.to_state,
            "actor": self.actor,
            "text": self.text,
        }


def _free(value: object, show_phi: bool) -> str:
    if value is None or value == "":
        return ""
    return str(value) if show_phi else WITHHELD


def _with_note(text: str, data: Mapping[str, Any], show_phi: bool, key: str = "note") -> str:
    note = _free(data.get(key), show_phi)
    return f"{text} (note: {note})" if note else text


def _code(data: Mapping[str, Any], key: str = "reason") -> str:
    return str(data.get(key, "unspecified")).replace("_", " ")


def _appointment(data: Mapping[str, Any]) -> str:
    appointment = data.get("appointment")
    start = appointment.get("start") if isinstance(appointment, dict) else None
    if not isinstance(start, str):
        return "an appointment"
    when = datetime.fromisoformat(start)
    return f"{when:%Y-%m-%d %H:%M} {when.tzname() or ''}".strip()


def _describe(event: Event, operations: dict[str, str], show_phi: bool) -> str:
    data = event.data
    match event.kind:
        case "created":
            state = event.to_state.value if event.to_state else "intake"
            return f"Referral received (starts in {state.replace('_', ' ')})"
        case "schedule":
            return f"Appointment booked for {_appointment(data)}"
        case "reschedule":
            return f"Appointment moved to {_appointment(data)}"
        case "no_show":
            return _with_note(f"Patient did not attend ({_code(data)})", data, show_phi)
        case "cancel_appointment":
            return _with_note(f"Appointment cancelled ({_code(data)})", data, show_phi)
        case "decline":
            return _with_note(f"Declined: {_code(data)}", data, show_phi)
        case "mark_lost":
            return _with_note(f"Marked lost: {_code(data)}", data, show_phi)
        case "cancel":
            return _with_note(f"Referral cancelled: {_code(data)}", data, show_phi)
        case "redirect":
            target = data.get("specialty") or "another practice"
            reason = _free(data.get("reason"), show_phi)
            return f"Redirected to {target} (reason: {reason})"
        case "accept" if data.get("policy"):
            return f"Accepted by auto-accept policy {data['policy']}"
        case "hold" | "reopen" | "mark_error":
            reason = _free(data.get("reason"), show_phi)
            return f"{_TRIGGER_TEXT[event.kind]} (reason: {reason})"
        case "request_info":
            missing = ", ".join(str(m) for m in data.get("missing", ()))
            return f"More information requested: {missing}"
        case "authorize":
            number = _free(data.get("number"), show_phi)
            return (
                f"Authorization approved (number {number}, "
                f"valid {data.get('valid_from')} to {data.get('valid_to')})"
            )
        case "action_queued":
            operation = str(data.get("operation", ""))
            operations[str(data.get("key"))] = operation
            return f"Queued {_OPERATION_TEXT.get(operation, operation or 'an action')}"
        case "action_sent":
            operation = operations.get(str(data.get("key")), "")
            return f"Sent {_OPERATION_TEXT.get(operation, 'an action')}"
        case "task_opened" | "routing_task_opened" | "routing_notified":
            queue = data.get("queue", "?")
            action = data.get("action")
            if isinstance(action, dict):
                why = f"{action.get('operation')} {action.get('status')}"
            elif data.get("clock"):
                why = f"{data['clock']} SLA"
            elif data.get("rule_id"):
                why = f"rule {data['rule_id']}"
            else:
                why = str(data.get("reason") or "")
            due = data.get("due_at")
            due_text = f", due {datetime.fromisoformat(due):%Y-%m-%d %H:%M}" if due else ""
            return f"Task opened in queue {queue}" + (f" ({why})" if why else "") + due_text
        case "routing_task_escalated":
            return f"Task escalated by rule {data.get('rule_id', '?')}"
        case "call_logged":
            return f"Inbound call logged ({_code(data, 'call_type')})"
        case "call_outcome_recorded":
            return f"Call outcome: {_code(data, 'outcome')}"
        case "sms_reply_received":
            return "Text reply received from the patient"
        case "consent_opted_out":
            return "Patient opted out of automated contact"
        case "fax_received":
            return "Fax received" + (" (records)" if data.get("records_request_id") else "")
        case kind if kind in _TRIGGER_TEXT:
            return _with_note(_TRIGGER_TEXT[kind], data, show_phi)
    return event.kind.replace("_", " ").capitalize()


def timeline(events: Iterable[Event], *, show_phi: bool = False) -> list[TimelineEntry]:
    """Return one :class:`TimelineEntry` per event, in the order given.

    :param events: one referral's events in sequence order (``store.events(id)``).
    :param show_phi: include free text (notes, typed reasons, authorization numbers) instead
        of :data:`WITHHELD`.
    """
    operations: dict[str, str] = {}
    return [
        TimelineEntry(
            referral_id=event.referral_id,
            seq=event.seq,
            at=event.at,
            kind=event.kind,
            from_state=event.from_state.value if event.from_state else None,
            to_state=event.to_state.value if event.to_state else None,
            actor=f"{event.actor.kind.value}:{event.actor.id}",
            text=_describe(event, operations, show_phi),
        )
        for event in events
    ]


def referral_timeline(
    store: Store, referral_id: UUID, *, show_phi: bool = False
) -> list[TimelineEntry]:
    """Return the timeline of a stored referral (empty if there is no such referral)."""
    return timeline(store.events(referral_id), show_phi=show_phi)


def format_timeline(entries: Iterable[TimelineEntry], *, indent: str = "  ") -> str:
    """Return the entries as fixed-width lines, one per entry, each ending in a newline."""
    return "".join(f"{indent}{entry.line()}\n" for entry in entries)
