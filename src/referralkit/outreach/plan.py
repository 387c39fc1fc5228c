"""What the outreach planner returns: :class:`Plan`, its actions and skips."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal
from uuid import UUID

import attrs

from referralkit.model import Channel, LostReason, TaskPriority
from referralkit.ports import idempotency_key as _port_key

__all__ = [
    "DONE_OUTCOMES",
    "PATIENT_CHANNELS",
    "ActionKind",
    "Outcome",
    "Plan",
    "PlannedAction",
    "Skipped",
    "idempotency_key",
]

Outcome = Literal["sent", "failed", "rejected", "unknown", "opened"]
"""``failed`` is transient (retried as a new attempt); every other outcome ends the step."""
DONE_OUTCOMES: Final = frozenset({"sent", "rejected", "unknown", "opened"})

ActionKind = Literal["contact", "fax_records", "task", "notify_referrer", "digest", "mark_lost"]
PATIENT_CHANNELS: Final = frozenset({Channel.VOICE, Channel.SMS, Channel.EMAIL, Channel.LETTER})

_EXTERNAL: Final = frozenset({"contact", "fax_records", "notify_referrer"})


def idempotency_key(referral_id: UUID, step_key: str, attempt: int) -> str:
    """Return ``sha256(referral id, step, attempt)`` as hex: the same on every re-send.

    The same function as :func:`referralkit.ports.idempotency_key`, with the step key as the
    action name.
    """
    return _port_key(referral_id, step_key, attempt)


@attrs.frozen
class PlannedAction:
    """One thing outreach should do for a referral, and when.

    :ivar key: the step key, unique within the referral (``schedule@7/call_d0``).
    :ivar attempt: 1 for the first try; a transient failure plans attempt 2, and so on.
    :ivar not_before: the earliest instant the action may run (inside the contact window and
        the frequency caps for a patient contact).
    :ivar not_after: the instant it must not run at or after (the window closes, the step
        expires), or ``None``.
    :ivar in_flight: an earlier run started this attempt but recorded no outcome (a crash); it
        is resumed with the same idempotency key.
    :ivar abandon: for an in-flight attempt that must not be re-sent (consent withdrawn), why.
    :ivar reason: a PHI-free code for tasks and skips (``no_time_zone``, ``exhausted``...).
    """

    referral_id: UUID
    key: str
    purpose: str
    step_id: str
    attempt: int
    action: ActionKind
    not_before: datetime
    not_after: datetime | None = None
    channel: Channel | None = None
    template: str = ""
    in_flight: bool = False
    abandon: str | None = None
    reason: str | None = None
    queue: str | None = None
    task_priority: TaskPriority = TaskPriority.NORMAL
    lost_reason: LostReason | None = None
    phone_index: int | None = None
    records_request_id: UUID | None = None
    event_seq: int | None = None
    zones: tuple[str, ...] = ()

    @property
    def idempotency_key(self) -> str:
        """The key adapters dedupe on: ``sha256(referral id, step, attempt)``."""
        return idempotency_key(self.referral_id, self.key, self.attempt)

    @property
    def external(self) -> bool:
        """Whether running the action calls an adapter (and so records an intent first)."""
        return self.action in _EXTERNAL

    def is_due(self, now: datetime) -> bool:
        """Return whether the action may run at *now*."""
        return self.not_before <= now and (self.not_after is None or now < self.not_after)


@attrs.frozen
class Skipped:
    """A step the planner passed over, and why (``consent``, ``expired``, ``condition``...)."""

    key: str
    reason: str


@attrs.frozen
class Plan:
    """The planner's answer: pending actions by not-before, skips, and ``next_action_at``."""

    actions: tuple[PlannedAction, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def next_action_at(self) -> datetime | None:
        """The earliest not-before of any action, or ``None`` when nothing is pending."""
        return min((a.not_before for a in self.actions), default=None)

    def due(self, now: datetime) -> tuple[PlannedAction, ...]:
        """Return the actions that may run at *now*, earliest first."""
        return tuple(a for a in self.actions if a.is_due(now))
