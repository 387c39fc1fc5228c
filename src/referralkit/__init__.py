"""referralkit: keep specialist referrals from getting lost.

The public API is re-exported here; see ``docs/`` for concepts and references.
"""

from __future__ import annotations

from typing import Any

from referralkit.adapters.memory import MemoryStore
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.clock import Clock, ManualClock, SystemClock
from referralkit.desk import ReferralDesk, open_store
from referralkit.errors import (
    ConflictError,
    CorruptRecordError,
    DuplicateReferralError,
    HistoryTamperedError,
    InvalidTransitionError,
    InvalidTriggerError,
    NotAReferralkitDatabaseError,
    PermissionDeniedError,
    ReferralKitError,
    ReferralNotFoundError,
    StoreError,
    TransitionBlockedError,
    TriggerDataError,
)
from referralkit.events import Event, verify_history
from referralkit.lifecycle import (
    TRIGGERS,
    Change,
    Lifecycle,
    StatusCodes,
    Trigger,
    allowed_triggers,
    amended,
    created,
    crosswalk,
    shared_lifecycle,
)
from referralkit.model import (
    Actor,
    ActorKind,
    Address,
    Appointment,
    AppointmentStatus,
    Authorization,
    AuthorizationStatus,
    CancelReason,
    Channel,
    ContactConsent,
    Coverage,
    DeclineReason,
    Direction,
    HumanTask,
    Interaction,
    LostReason,
    NoShowReason,
    Patient,
    PhoneContact,
    PhoneKind,
    Practice,
    Priority,
    Provider,
    ReasonForReferral,
    RecordsRequest,
    RecordsRequestStatus,
    Referral,
    ReferralStatus,
    Role,
    StatusReason,
    TaskPriority,
    TaskStatus,
)
from referralkit.store import Store

__all__ = [
    "TRIGGERS",
    "Actor",
    "ActorKind",
    "Address",
    "Appointment",
    "AppointmentStatus",
    "Authorization",
    "AuthorizationStatus",
    "CancelReason",
    "Change",
    "Channel",
    "Clock",
    "ConflictError",
    "ContactConsent",
    "CorruptRecordError",
    "Coverage",
    "DeclineReason",
    "Direction",
    "DuplicateReferralError",
    "Event",
    "HistoryTamperedError",
    "HumanTask",
    "Interaction",
    "InvalidTransitionError",
    "InvalidTriggerError",
    "Lifecycle",
    "LostReason",
    "ManualClock",
    "MemoryStore",
    "NoShowReason",
    "NotAReferralkitDatabaseError",
    "Patient",
    "PermissionDeniedError",
    "PhoneContact",
    "PhoneKind",
    "Practice",
    "Priority",
    "Provider",
    "ReasonForReferral",
    "RecordsRequest",
    "RecordsRequestStatus",
    "Referral",
    "ReferralDesk",
    "ReferralKitError",
    "ReferralNotFoundError",
    "ReferralStatus",
    "Role",
    "SQLiteStore",
    "StatusCodes",
    "StatusReason",
    "Store",
    "StoreError",
    "SystemClock",
    "TaskPriority",
    "TaskStatus",
    "TransitionBlockedError",
    "Trigger",
    "TriggerDataError",
    "__version__",
    "allowed_triggers",
    "amended",
    "created",
    "crosswalk",
    "open_store",
    "shared_lifecycle",
    "verify_history",
]


def __getattr__(name: str) -> Any:
    # Lazy, as pluggy does: reading package metadata at import costs time nobody asked for.
    if name == "__version__":
        from referralkit._version import __version__

        return __version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
