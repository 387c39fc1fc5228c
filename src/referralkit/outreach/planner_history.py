"""What outreach already did, read from the event log, and the planner's working context."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

import attrs

from referralkit.events import Event
from referralkit.model import Channel, Referral
from referralkit.outreach.planner_types import (
    ACTION_QUEUED,
    ACTION_SENT,
    DONE_OUTCOMES,
    OUTREACH_TASK,
    TASK_OPENED,
    PlannedAction,
    Skipped,
    idempotency_key,
)
from referralkit.outreach.policy import Policy
from referralkit.outreach.windows import BusinessCalendar

_OPERATION_CHANNELS: Final = {
    "place_call": Channel.VOICE,
    "send_sms": Channel.SMS,
    "email_patient": Channel.EMAIL,
    "send_letter": Channel.LETTER,
}


@attrs.define
class _StepLog:
    starts: dict[int, datetime] = attrs.field(factory=dict)
    results: dict[int, tuple[str, datetime]] = attrs.field(factory=dict)

    def failures(self) -> int:
        return sum(1 for outcome, _ in self.results.values() if outcome == "failed")

    def done_at(self, max_attempts: int) -> datetime | None:
        for outcome, at in self.results.values():
            if outcome in DONE_OUTCOMES:
                return at
        if self.failures() >= max_attempts:
            return max(at for _, at in self.results.values())
        return None

    def open_attempt(self) -> tuple[int, datetime] | None:
        for attempt, at in self.starts.items():
            if attempt not in self.results:
                return attempt, at
        return None

    def last_failure(self) -> datetime | None:
        times = [at for outcome, at in self.results.values() if outcome == "failed"]
        return max(times, default=None)


@attrs.define
class _Entry:
    """One outbox action as the events record it."""

    operation: str
    queued_at: datetime
    outcome: str | None = None
    ended_at: datetime | None = None


@attrs.define
class _Context:
    referral: Referral
    policy: Policy
    calendar: BusinessCalendar | None
    now: datetime
    entries: dict[str, _Entry]
    tasks: dict[str, datetime]
    contacts: list[datetime]
    actions: list[PlannedAction] = attrs.field(factory=list)
    skipped: list[Skipped] = attrs.field(factory=list)

    def log(self, key: str) -> _StepLog:
        """Return what the outbox and the task log say about the step *key*."""
        log = _StepLog()
        opened = self.tasks.get(key)
        if opened is not None:
            log.starts[1] = opened
            log.results[1] = ("opened", opened)
            return log
        attempt = 1
        while True:
            entry = self.entries.get(idempotency_key(self.referral.id, key, attempt))
            if entry is None:
                return log
            log.starts[attempt] = entry.queued_at
            if entry.outcome is not None and entry.ended_at is not None:
                log.results[attempt] = (entry.outcome, entry.ended_at)
            attempt += 1

    def started_channel(self, key: str, attempt: int) -> Channel | None:
        entry = self.entries.get(idempotency_key(self.referral.id, key, attempt))
        return _OPERATION_CHANNELS.get(entry.operation) if entry is not None else None


def _read_events(
    events: Iterable[Event],
) -> tuple[dict[str, _Entry], dict[str, datetime], list[datetime]]:
    entries: dict[str, _Entry] = {}
    tasks: dict[str, datetime] = {}
    for event in events:
        kind = event.kind
        if kind == ACTION_QUEUED:
            key = str(event.data.get("key"))
            if key not in entries:
                entries[key] = _Entry(str(event.data.get("operation")), event.at)
        elif kind == ACTION_SENT:
            entry = entries.get(str(event.data.get("key")))
            if entry is not None and entry.outcome is None:
                entry.outcome, entry.ended_at = "sent", event.at
        elif kind == TASK_OPENED:
            step = event.data.get(OUTREACH_TASK)
            if step is not None:
                tasks.setdefault(str(step), event.at)
            action = event.data.get("action")
            if isinstance(action, Mapping):
                entry = entries.get(str(action.get("key")))
                if entry is not None and entry.outcome is None:
                    entry.outcome = _outcome(str(action.get("status")), action.get("reason"))
                    entry.ended_at = event.at
    # Every patient contact that may have happened counts against the caps, at its queue time.
    contacts = [
        e.queued_at
        for e in entries.values()
        if e.operation in _OPERATION_CHANNELS and e.outcome not in ("failed", "rejected")
    ]
    return entries, tasks, contacts


def _outcome(status: str, reason: object) -> str:
    if status == "failed":
        # Transient faults that outlasted the retries get a later attempt; the rest are final.
        return "failed" if reason == "retries_exhausted" else "rejected"
    return "unknown" if status == "unknown" else "sent"
