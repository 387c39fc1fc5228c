"""Enumerations of the domain model: states, kinds, roles, channels and coded reasons."""

from __future__ import annotations

import enum

__all__ = [
    "ActorKind",
    "AppointmentStatus",
    "AuthorizationStatus",
    "CancelReason",
    "Channel",
    "DeclineReason",
    "Direction",
    "LostReason",
    "NoShowReason",
    "PhoneKind",
    "Priority",
    "RecordsChannel",
    "RecordsRequestStatus",
    "RecordsSource",
    "ReferralStatus",
    "ReportDeliveryStatus",
    "Role",
    "TaskPriority",
    "TaskStatus",
]

# -- Enums: plain Enum (transitions treats a StrEnum as a str) -------------------------------


class ReferralStatus(enum.Enum):
    """Lifecycle state of a referral (see ``docs/lifecycle.md``)."""

    INTAKE = "intake"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    PENDING_AUTH = "pending_auth"
    READY_TO_SCHEDULE = "ready_to_schedule"
    SCHEDULED = "scheduled"
    VISIT_COMPLETED = "visit_completed"
    CLOSED = "closed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    LOST = "lost"
    ON_HOLD = "on_hold"
    ENTERED_IN_ERROR = "entered_in_error"


class Priority(enum.Enum):
    """Request priority, as FHIR ``request-priority``; stated by the referrer, never inferred."""

    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


class AuthorizationStatus(enum.Enum):
    """Insurance authorization sub-status, parallel to the lifecycle."""

    NOT_REQUIRED = "not_required"
    REQUIRED = "required"
    SUBMITTED = "submitted"
    PENDED = "pended"
    APPROVED = "approved"
    MODIFIED = "modified"
    DENIED = "denied"
    EXPIRED = "expired"


class AppointmentStatus(enum.Enum):
    """State of one appointment."""

    BOOKED = "booked"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class RecordsRequestStatus(enum.Enum):
    """State of a medical-records transfer request.

    ``requested`` -> ``sent`` (the request went out) -> ``partially_received`` (some of the
    kinds asked for arrived) -> ``received``; or ``failed`` / ``waived`` (staff decided the
    records are not coming or not needed).

    .. versionchanged:: 0.3 ``partially_received`` and ``waived``.
    """

    REQUESTED = "requested"
    SENT = "sent"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    FAILED = "failed"
    WAIVED = "waived"


class RecordsSource(enum.Enum):
    """Who holds the records a request asks for.

    .. versionadded:: 0.3
    """

    REFERRING_PRACTICE = "referring_practice"
    OTHER_PROVIDER = "other_provider"
    EHR = "ehr"


class RecordsChannel(enum.Enum):
    """How records are asked for and arrive: fax, a fetch from the EHR, or a notification.

    .. versionadded:: 0.3
    """

    FAX = "fax"
    EHR = "ehr"
    NOTIFICATION = "notification"


class ReportDeliveryStatus(enum.Enum):
    """Where the consult report going back to the referring practice stands.

    .. versionadded:: 0.3
    """

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    ACKNOWLEDGED = "acknowledged"


class ActorKind(enum.Enum):
    """What kind of party acted."""

    HUMAN = "human"
    AI = "ai"
    SYSTEM = "system"
    INTEGRATION = "integration"


class Role(enum.Enum):
    """The role an actor acts in; decides which triggers it may fire."""

    REFERRER = "referrer"
    INTAKE = "intake"
    CLINICIAN = "clinician"
    SCHEDULER = "scheduler"
    SYSTEM = "system"


class Channel(enum.Enum):
    """A way to reach a patient or a practice."""

    VOICE = "voice"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    FAX = "fax"
    PORTAL = "portal"
    EHR = "ehr"
    """A practice's EHR: a document pushed into its chart or inbox (the consult report).

    .. versionadded:: 0.3"""


class Direction(enum.Enum):
    """Direction of an interaction, from the practice's point of view."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class PhoneKind(enum.Enum):
    """Kind of phone line; only mobile lines receive SMS."""

    MOBILE = "mobile"
    HOME = "home"
    WORK = "work"
    OTHER = "other"


class DeclineReason(enum.Enum):
    """Why the receiving practice declined a referral."""

    NOT_CLINICALLY_APPROPRIATE = "not_clinically_appropriate"
    WRONG_SPECIALTY = "wrong_specialty"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    INSURANCE_NOT_ACCEPTED = "insurance_not_accepted"
    NO_CAPACITY = "no_capacity"
    PATIENT_OUT_OF_AREA = "patient_out_of_area"
    OTHER = "other"


class CancelReason(enum.Enum):
    """Why a referral (or an appointment) was withdrawn."""

    PATIENT_REQUEST = "patient_request"
    REFERRER_REQUEST = "referrer_request"
    NO_LONGER_NEEDED = "no_longer_needed"
    PATIENT_DECEASED = "patient_deceased"
    DUPLICATE = "duplicate"
    RESCHEDULED = "rescheduled"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    OTHER = "other"


class NoShowReason(enum.Enum):
    """Why a patient missed an appointment, when known."""

    UNKNOWN = "unknown"
    FORGOT = "forgot"
    TRANSPORTATION = "transportation"
    ILLNESS = "illness"
    COST = "cost"
    OTHER = "other"


class LostReason(enum.Enum):
    """Why a referral leaked: the patient never reached the specialist."""

    UNREACHABLE = "unreachable"
    PATIENT_DECLINED = "patient_declined"
    EXPIRED = "expired"
    BOOKED_ELSEWHERE = "booked_elsewhere"


class TaskPriority(enum.Enum):
    """Urgency of a human task."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TaskStatus(enum.Enum):
    """State of a human task: open, claimed by a person, snoozed, or closed (done, cancelled).

    .. versionchanged:: 0.1
       Added ``claimed`` and ``snoozed``.
    """

    OPEN = "open"
    CLAIMED = "claimed"
    SNOOZED = "snoozed"
    DONE = "done"
    CANCELLED = "cancelled"


class ReferralSide(enum.Enum):
    """Which side of a referral this practice is on.

    .. versionadded:: 0.4
    """

    RECEIVED = "received"
    """Received by us: the receiving practice's work (:class:`ReferralStatus`)."""
    SENT = "sent"
    """Sent by us: tracked until the report is back and read (:class:`OutboundStatus`)."""


class OutboundStatus(enum.Enum):
    """Lifecycle state of a referral we sent (see ``docs/referring.md``).

    .. versionadded:: 0.4
    """

    DRAFT = "draft"
    SENT = "sent"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REDIRECTED = "redirected"
    SCHEDULED = "scheduled"
    SEEN = "seen"
    REPORT_RECEIVED = "report_received"
    REPORT_REVIEWED = "report_reviewed"
    CANCELLED = "cancelled"
    LOST = "lost"
    ENTERED_IN_ERROR = "entered_in_error"


class ReportDisposition(enum.Enum):
    """What the referring clinician decided on reading a specialist's report.

    .. versionadded:: 0.4
    """

    ACKNOWLEDGED = "acknowledged"
    FOLLOW_UP_NEEDED = "follow_up_needed"
    NEW_REFERRAL = "new_referral"
