"""What a store hands the verifier: a referral's row and event rows exactly as stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

import attrs

from referralkit.integrity.seal import Seal

__all__ = ["StoredEvent", "StoredRecord", "VerifiableStore"]


@attrs.frozen(repr=False)
class StoredEvent:
    """One event row: its key columns and its body text as stored.

    .. versionadded:: 0.2
    """

    referral_id: str
    seq: int
    body: str

    def __repr__(self) -> str:
        return f"StoredEvent(referral_id={self.referral_id}, seq={self.seq})"


@attrs.frozen(repr=False)
class StoredRecord:
    """A referral as stored: the row's columns, its body text, its seal and its event rows.

    The body and events may hold PHI, so ``repr()`` leaves them out.

    :ivar body: the stored referral JSON, or ``None`` when there is no referral row (events
        without a referral are still returned).
    :ivar status: the status column (what status queries use), or ``None`` without a row.
    :ivar version: the version column, or ``None`` without a row.
    :ivar next_action_at: the column the due queries use.
    :ivar seal: the row's seal, or ``None`` if it has none.

    .. versionadded:: 0.2
    """

    referral_id: UUID
    body: str | None
    status: str | None
    version: int | None
    next_action_at: datetime | None
    seal: Seal | None
    events: Sequence[StoredEvent]

    def __repr__(self) -> str:
        return f"StoredRecord(referral_id={self.referral_id}, events={len(self.events)})"


@runtime_checkable
class VerifiableStore(Protocol):
    """A store that shows its rows as stored, for :func:`~referralkit.integrity.verify_referral`.

    Memory, SQLite and PostgreSQL stores implement it.

    .. versionadded:: 0.2
    """

    def stored_record(self, referral_id: UUID) -> StoredRecord:
        """Return the referral's row and event rows as stored (empty if there are none)."""
        ...

    def referral_ids(self, *, after: UUID | None = None, limit: int = 500) -> list[UUID]:
        """Return up to *limit* ids that have a referral row or events, in id order."""
        ...
