"""Weekly practice digests: one message per referring practice per week, across its referrals.

A practice that asked for a digest (``PracticeUpdates(digest=True)``) is sent, the Monday
after each week, one :class:`~referralkit.ports.PracticeUpdateRequest` listing every referral
of this desk's tenant with milestones that week (referral numbers and milestone codes only).

Crash model. Each referral's event log is the only record, and a message spans several
referrals, so it is sent in three steps::

    form the group (practice, week, sorted member ids -> the message's idempotency key)
    ->  digest_intent committed on every member (its own milestone events, the group key)
    ->  send once every member has its intent  ->  digest_outcome committed on every member

A crash before the last intent leaves a group some member never joined: the message was
never sent (it is sent only after every intent), so the next sweep forms the group again. A
crash after it leaves every intent without an outcome: the next sweep sends the same message
(rebuilt from the intents) with the same key, which the adapter drops as a duplicate, or,
where the adapter cannot dedupe, records the outcome ``unknown`` and opens a task. A
milestone event is covered once an intent naming it has a ``sent`` or ``unknown`` outcome,
so each (practice, milestone occurrence) is sent at most once and, until covered, planned
again.

Members are the referrals one sweep claimed (their leases keep other workers off them while
the group is formed and sent), so two workers sweeping at once may split a practice's week
into two messages; neither repeats a milestone.

.. versionadded:: 0.3
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final, Literal
from uuid import UUID

import attrs

from referralkit.events import Event

__all__ = [
    "DIGEST_INTENT",
    "DIGEST_OUTCOME",
    "DigestIntent",
    "DigestLog",
    "digest_key",
    "outcome_data",
    "read_digests",
]

DIGEST_INTENT: Final = "digest_intent"
"""Event kind: this referral joined a digest group (data: the group, its items)."""

DIGEST_OUTCOME: Final = "digest_outcome"
"""Event kind: what became of a digest group's message (``sent``, ``failed``, ``unknown``)."""

DigestOutcome = Literal["sent", "failed", "unknown"]


def digest_key(practice: str, period: date, members: Iterable[UUID], attempt: int) -> str:
    """Return the idempotency key of a practice's digest for *period* with *members*.

    The same group (practice, period, member ids in any order, attempt) always gets the same
    key, so a message re-sent after a crash is dropped by the adapter.
    """
    ids = ",".join(sorted(str(m) for m in members))
    return hashlib.sha256(
        f"digest|{practice}|{period.isoformat()}|{ids}|{attempt}".encode()
    ).hexdigest()


@attrs.frozen
class DigestIntent:
    """One member's ``digest_intent``: the group it joined and its own milestones.

    :ivar key: the combined message's idempotency key (the group key).
    :ivar items: the member's milestone events in the message, as ``(seq, code)``.
    :ivar status: the state the member's latest listed milestone left it in.
    """

    key: str
    practice: str
    period: date
    members: tuple[UUID, ...]
    attempt: int
    items: tuple[tuple[int, str], ...]
    status: str
    number: str | None
    at: datetime
    outcome: DigestOutcome | None = None

    @classmethod
    def from_event(cls, event: Event) -> DigestIntent:
        """Read an intent from its event."""
        data = event.data
        return cls(
            key=str(data["key"]),
            practice=str(data["practice"]),
            period=date.fromisoformat(str(data["period"])),
            members=tuple(UUID(str(m)) for m in data["members"]),
            attempt=int(data["attempt"]),
            items=tuple((int(seq), str(code)) for seq, code in data["items"]),
            status=str(data["status"]),
            number=None if data.get("number") is None else str(data["number"]),
            at=event.at,
        )

    def data(self) -> dict[str, Any]:
        """Return the event data recording this intent (JSON-ready, PHI-free)."""
        return {
            "key": self.key,
            "practice": self.practice,
            "period": self.period.isoformat(),
            "members": [str(m) for m in self.members],
            "attempt": self.attempt,
            "items": [[seq, code] for seq, code in self.items],
            "status": self.status,
            "number": self.number,
        }


@attrs.define
class DigestLog:
    """What one referral's events say about its digests for one period."""

    intents: list[DigestIntent] = attrs.field(factory=list)

    @property
    def covered(self) -> frozenset[int]:
        """Milestone event seqs already sent (or possibly sent: ``unknown``)."""
        return frozenset(
            seq
            for intent in self.intents
            if intent.outcome in ("sent", "unknown")
            for seq, _ in intent.items
        )

    @property
    def open(self) -> DigestIntent | None:
        """The latest intent, if it has no outcome yet (a group formed, maybe sent)."""
        latest = self.intents[-1] if self.intents else None
        return latest if latest is not None and latest.outcome is None else None

    @property
    def failures(self) -> list[datetime]:
        """When each failed send of this period was recorded."""
        return [i.at for i in self.intents if i.outcome == "failed"]

    def intent(self, key: str) -> DigestIntent | None:
        """Return the latest intent for group *key*."""
        return next((i for i in reversed(self.intents) if i.key == key), None)


def read_digests(events: Sequence[Event]) -> dict[date, DigestLog]:
    """Fold a referral's digest events into logs by period (the week's Monday)."""
    logs: dict[date, DigestLog] = {}
    order: dict[str, tuple[date, int]] = {}
    for event in events:
        if event.kind == DIGEST_INTENT:
            intent = DigestIntent.from_event(event)
            log = logs.setdefault(intent.period, DigestLog())
            order[intent.key] = (intent.period, len(log.intents))
            log.intents.append(intent)
        elif event.kind == DIGEST_OUTCOME:
            key = str(event.data["key"])
            where = order.get(key)
            if where is None:
                continue
            period, index = where
            outcome: DigestOutcome = event.data["outcome"]
            log = logs[period]
            log.intents[index] = attrs.evolve(log.intents[index], outcome=outcome)
    return logs


def outcome_data(
    intent: DigestIntent, outcome: DigestOutcome, **extra: object
) -> Mapping[str, Any]:
    """Return the event data of a ``digest_outcome`` for *intent*'s group."""
    return {"key": intent.key, "period": intent.period.isoformat(), "outcome": outcome, **extra}
