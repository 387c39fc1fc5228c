"""Exceptions raised by referralkit.

::

    ReferralKitError
    ├── InvalidTriggerError      (the name is not a lifecycle trigger; .trigger)
    ├── InvalidTransitionError   (trigger not allowed from the current status; .trigger, .status,
    │   │                         .allowed)
    │   ├── TransitionBlockedError (allowed, but a guard said no; .guard, .reason)
    │   └── PermissionDeniedError  (the actor's role may not fire this trigger; .role)
    ├── TriggerDataError         (the data given with a trigger is invalid; .trigger, .errors())
    ├── HistoryTamperedError     (the event log of a referral fails verification; .referral_id,
    │                             .seq, .reason)
    └── StoreError               (persistence failed)
        ├── ReferralNotFoundError  (.referral_id)
        ├── DuplicateReferralError (.referral_id)
        ├── ConflictError          (stale version: nothing was written; .referral_id,
        │                           .expected, .actual)
        ├── CorruptRecordError     (a stored row cannot be decoded; .referral_id)
        └── NotAReferralkitDatabaseError (the file or schema is not one referralkit can use)

Messages never contain PHI: they name referral ids, states, triggers and field paths only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

__all__ = [
    "ConflictError",
    "CorruptRecordError",
    "DuplicateReferralError",
    "HistoryTamperedError",
    "InvalidTransitionError",
    "InvalidTriggerError",
    "NotAReferralkitDatabaseError",
    "PermissionDeniedError",
    "ReferralKitError",
    "ReferralNotFoundError",
    "StoreError",
    "TransitionBlockedError",
    "TriggerDataError",
]


class ReferralKitError(Exception):
    """Base class of every exception referralkit raises on purpose."""


class InvalidTriggerError(ReferralKitError):
    """The name given is not a lifecycle trigger at all."""

    def __init__(self, trigger: str, known: Sequence[str]) -> None:
        self.trigger = trigger
        self.known = tuple(known)
        super().__init__(f"unknown trigger {trigger!r}; known triggers: {', '.join(self.known)}")


class InvalidTransitionError(ReferralKitError):
    """The trigger cannot be fired from the referral's current status."""

    def __init__(
        self, trigger: str, status: str, allowed: Sequence[str], detail: str = ""
    ) -> None:
        self.trigger = trigger
        self.status = status
        self.allowed = tuple(allowed)
        allowed_text = ", ".join(self.allowed) if self.allowed else "none"
        message = (
            detail or f"trigger {trigger!r} is not allowed in state {status!r}"
        ) + f" (allowed now: {allowed_text})"
        super().__init__(message)


class TransitionBlockedError(InvalidTransitionError):
    """The trigger is allowed from this status, but a guard refused it."""

    def __init__(
        self, trigger: str, status: str, allowed: Sequence[str], guard: str, reason: str
    ) -> None:
        self.guard = guard
        self.reason = reason
        super().__init__(
            trigger,
            status,
            allowed,
            detail=f"trigger {trigger!r} from state {status!r} blocked by guard {guard}: {reason}",
        )


class PermissionDeniedError(InvalidTransitionError):
    """The actor's role may not fire this trigger."""

    def __init__(self, trigger: str, status: str, allowed: Sequence[str], role: str) -> None:
        self.role = role
        super().__init__(
            trigger,
            status,
            allowed,
            detail=f"role {role!r} may not fire trigger {trigger!r} in state {status!r}",
        )


class TriggerDataError(ReferralKitError):
    """The data passed with a trigger failed validation."""

    def __init__(self, trigger: str, errors: Sequence[dict[str, Any]]) -> None:
        self.trigger = trigger
        self._errors = [
            {"loc": tuple(e.get("loc", ())), "type": e.get("type", ""), "msg": e.get("msg", "")}
            for e in errors
        ]
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<data>'}: {e['msg']}" for e in self._errors
        )
        super().__init__(f"invalid data for trigger {trigger!r}: {summary}")

    def errors(self) -> list[dict[str, Any]]:
        """Return the field errors (location, type, message; never the input values)."""
        return list(self._errors)


class HistoryTamperedError(ReferralKitError):
    """A referral's event log does not verify: an event was edited, deleted or reordered."""

    def __init__(self, referral_id: UUID | None, seq: int, reason: str) -> None:
        self.referral_id = referral_id
        self.seq = seq
        self.reason = reason
        super().__init__(f"history of referral {referral_id} fails at event {seq}: {reason}")


class StoreError(ReferralKitError):
    """Persistence failed."""


class ReferralNotFoundError(StoreError, KeyError):
    """No referral with this id exists in the store."""

    def __init__(self, referral_id: UUID) -> None:
        self.referral_id = referral_id
        super().__init__(f"no referral with id {referral_id}")

    def __str__(self) -> str:
        # KeyError's __str__ would repr() the message; keep it readable.
        return str(self.args[0])


class DuplicateReferralError(StoreError):
    """A referral with this id already exists."""

    def __init__(self, referral_id: UUID) -> None:
        self.referral_id = referral_id
        super().__init__(f"referral {referral_id} already exists")


class ConflictError(StoreError):
    """A write was based on a stale version of the referral; nothing was written."""

    def __init__(self, referral_id: UUID, expected: int, actual: int | None) -> None:
        self.referral_id = referral_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"referral {referral_id} was changed concurrently: "
            f"expected version {expected}, store has {actual}"
        )


class CorruptRecordError(StoreError):
    """A stored referral or event cannot be decoded."""

    def __init__(self, referral_id: UUID | str, what: str) -> None:
        self.referral_id = referral_id
        super().__init__(f"stored {what} of referral {referral_id} cannot be decoded")


class NotAReferralkitDatabaseError(StoreError):
    """The database is not a referralkit database, or has a schema this version cannot use."""
