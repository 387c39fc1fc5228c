"""The referral domain model: pydantic v2 types for data that crosses a boundary.

Every model is frozen (changes return :meth:`~pydantic.BaseModel.model_copy`), forbids unknown
fields and is strict when built from Python objects; JSON input (``model_validate_json``) accepts
ISO dates and enum values, so a referral round-trips through JSON exactly.

Fields that hold protected health information (names, birth dates, phones, emails, addresses,
member ids, free-text summaries) are masked in ``repr()`` and ``str()``, and validation errors
never echo input values (``hide_input_in_errors``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Actor",
    "ActorKind",
    "Address",
    "Appointment",
    "AppointmentStatus",
    "Authorization",
    "AuthorizationStatus",
    "CancelReason",
    "Channel",
    "ContactConsent",
    "Coverage",
    "DeclineReason",
    "Direction",
    "HumanTask",
    "Interaction",
    "LostReason",
    "NoShowReason",
    "Patient",
    "PhoneContact",
    "PhoneKind",
    "Practice",
    "Priority",
    "Provider",
    "ReasonForReferral",
    "RecordsRequest",
    "RecordsRequestStatus",
    "Referral",
    "ReferralStatus",
    "Role",
    "StatusReason",
    "TaskPriority",
    "TaskStatus",
    "is_valid_npi",
    "mask",
]

MASK = "***"


def mask(value: object) -> str:
    """Return the placeholder shown instead of a PHI value (never a fragment of it)."""
    return MASK if value not in (None, "", ()) else repr(value)


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
    """State of a medical-records transfer request."""

    REQUESTED = "requested"
    SENT = "sent"
    RECEIVED = "received"
    FAILED = "failed"


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
    """State of a human task."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


# -- Constrained scalars ------------------------------------------------------------------------


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


_NPI_RE = re.compile(r"\d{10}")


def is_valid_npi(value: str) -> bool:
    """Return whether *value* is a 10-digit NPI whose check digit is right (Luhn over 80840)."""
    return bool(_NPI_RE.fullmatch(value)) and _luhn_ok("80840" + value)


def _check_npi(value: str) -> str:
    if not is_valid_npi(value):
        raise ValueError("not a valid NPI (10 digits with a Luhn check digit)")
    return value


@lru_cache(maxsize=1024)
def _zone_exists(key: str) -> bool:
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _check_zone(value: str) -> str:
    if not _zone_exists(value):
        raise ValueError("not an IANA time zone name")
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC."""
PhoneE164 = Annotated[str, Field(pattern=r"^\+[1-9]\d{6,14}$")]
"""A phone number in E.164 form (``+15551234567``); intake normalises raw input to this."""
Npi = Annotated[str, AfterValidator(_check_npi)]
"""A US National Provider Identifier."""
# Any letter: ICD-10-CM uses U codes too (U07.1 COVID-19, U09.9 post-COVID condition).
Icd10Code = Annotated[str, Field(pattern=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")]
"""An ICD-10-CM code in dotted form (format check only; intake can look codes up)."""
TimeZoneName = Annotated[str, AfterValidator(_check_zone)]
"""An IANA time zone name such as ``America/Chicago``."""
# A cheap syntax check: full email validation is too slow for a hot path (PERFORMANCE.md).
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
"""An email address (syntax check only)."""
UsState = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
"""A two-letter US state or territory code."""
LanguageTag = Annotated[str, Field(pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")]
"""A BCP 47 language tag such as ``en`` or ``es-MX``."""
NonEmpty = Annotated[str, Field(min_length=1, max_length=500)]


class _Record(BaseModel):
    """Base of every model: frozen, strict, no unknown fields, PHI masked in repr."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, hide_input_in_errors=True)
    _phi: ClassVar[frozenset[str]] = frozenset()

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in self._phi and value not in (None, "", ()):
                yield name, MASK
            else:
                yield name, value


# -- Sub-records ----------------------------------------------------------------------------


class Actor(_Record):
    """Who did something: a person, the AI receptionist, the system or an integration."""

    kind: ActorKind
    id: NonEmpty
    role: Role
    display_name: str | None = None

    @model_validator(mode="after")
    def _ai_is_never_a_clinician(self) -> Actor:
        # Clinical appropriateness stays human (DESIGN.md, "What stays human").
        if self.kind is ActorKind.AI and self.role is Role.CLINICIAN:
            raise ValueError("an AI actor cannot act in the clinician role")
        return self


class Address(_Record):
    """A postal address (all of it is PHI for a patient)."""

    _phi: ClassVar[frozenset[str]] = frozenset({"line1", "line2", "city", "postal_code"})
    line1: NonEmpty
    line2: str | None = None
    city: NonEmpty
    state: UsState
    postal_code: Annotated[str, Field(pattern=r"^\d{5}(-\d{4})?$")]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "US"


class PhoneContact(_Record):
    """One phone number of a patient, with what outreach needs to know about it."""

    _phi: ClassVar[frozenset[str]] = frozenset({"number"})
    number: PhoneE164
    kind: PhoneKind = PhoneKind.MOBILE
    time_zones: tuple[TimeZoneName, ...] = ()
    """The number's possible time zones (from its area code), for contact windows."""


class ContactConsent(_Record):
    """What the patient agreed to be contacted by; opt-outs win over everything."""

    contact_allowed: bool = True
    opted_out_channels: tuple[Channel, ...] = ()
    updated_at: UtcDatetime | None = None

    def allows(self, channel: Channel) -> bool:
        """Return whether automated contact on *channel* is allowed."""
        return self.contact_allowed and channel not in self.opted_out_channels


class Patient(_Record):
    """The referred patient. Every identifying field is masked in repr."""

    _phi: ClassVar[frozenset[str]] = frozenset(
        {
            "given_name",
            "family_name",
            "middle_name",
            "birth_date",
            "phones",
            "email",
            "address",
            "mrn",
        }
    )
    given_name: NonEmpty
    family_name: NonEmpty
    middle_name: str | None = None
    birth_date: date | None = None
    mrn: str | None = None
    phones: tuple[PhoneContact, ...] = ()
    email: Email | None = None
    address: Address | None = None
    time_zone: TimeZoneName | None = None
    preferred_language: LanguageTag = "en"
    preferred_channel: Channel | None = None
    consent: ContactConsent = ContactConsent()


class Practice(_Record):
    """A referring or receiving practice (organisation)."""

    name: NonEmpty
    id: str | None = None
    npi: Npi | None = None
    phone: PhoneE164 | None = None
    fax: PhoneE164 | None = None
    address: Address | None = None


class Provider(_Record):
    """An individual clinician."""

    name: NonEmpty
    npi: Npi | None = None
    specialty: str | None = None


class Coverage(_Record):
    """The patient's insurance coverage."""

    _phi: ClassVar[frozenset[str]] = frozenset({"member_id", "group_number"})
    payer_name: NonEmpty
    payer_id: str | None = None
    member_id: NonEmpty
    group_number: str | None = None
    plan_name: str | None = None


class Authorization(_Record):
    """Insurance authorization for the referred care: a sub-status, not a lifecycle state."""

    status: AuthorizationStatus = AuthorizationStatus.NOT_REQUIRED
    number: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    authorized_visits: Annotated[int, Field(ge=0)] | None = None
    used_visits: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _dates_in_order(self) -> Authorization:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    def covers(self, day: date) -> bool:
        """Return whether care on *day* is covered: not required, or approved and in validity."""
        if self.status is AuthorizationStatus.NOT_REQUIRED:
            return True
        if self.status not in (AuthorizationStatus.APPROVED, AuthorizationStatus.MODIFIED):
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        if self.valid_to is not None and day > self.valid_to:
            return False
        return self.authorized_visits is None or self.used_visits < self.authorized_visits


class ReasonForReferral(_Record):
    """Why the patient is referred: ICD-10-CM codes and text."""

    _phi: ClassVar[frozenset[str]] = frozenset({"text", "icd10_codes"})
    icd10_codes: tuple[Icd10Code, ...] = ()
    text: str | None = None


class RecordsRequest(_Record):
    """A request to transfer medical records for this referral."""

    id: UUID = Field(default_factory=uuid4)
    status: RecordsRequestStatus = RecordsRequestStatus.REQUESTED
    from_practice: str | None = None
    requested_at: UtcDatetime
    due_at: UtcDatetime | None = None
    documents: tuple[str, ...] = ()


class Appointment(_Record):
    """One appointment booked for the referral; a referral may have several."""

    id: UUID = Field(default_factory=uuid4)
    start: UtcDatetime
    duration_minutes: Annotated[int, Field(gt=0, le=24 * 60)] = 30
    location: str | None = None
    provider: Provider | None = None
    status: AppointmentStatus = AppointmentStatus.BOOKED
    no_show_reason: NoShowReason | None = None
    cancel_reason: CancelReason | None = None
    external_id: str | None = None


class Interaction(_Record):
    """A call, SMS, fax or letter about the referral, with its summary."""

    _phi: ClassVar[frozenset[str]] = frozenset({"summary"})
    id: UUID = Field(default_factory=uuid4)
    at: UtcDatetime
    channel: Channel
    direction: Direction
    call_type: str | None = None
    outcome: str | None = None
    summary: str | None = None
    actor_id: str | None = None


class HumanTask(_Record):
    """Work routed to a named human queue, with a due time and the reason it exists."""

    _phi: ClassVar[frozenset[str]] = frozenset({"detail"})
    id: UUID = Field(default_factory=uuid4)
    queue: NonEmpty
    title: NonEmpty
    reason: NonEmpty
    detail: str | None = None
    priority: TaskPriority = TaskPriority.NORMAL
    status: TaskStatus = TaskStatus.OPEN
    created_at: UtcDatetime
    due_at: UtcDatetime
    rule_id: str | None = None


_REASON_ENUMS: dict[str, type[enum.Enum]] = {
    "decline": DeclineReason,
    "cancel": CancelReason,
    "lost": LostReason,
}


class StatusReason(_Record):
    """The coded reason behind a declined, cancelled, lost, held or erroneous referral."""

    _phi: ClassVar[frozenset[str]] = frozenset({"text"})
    kind: Literal["decline", "cancel", "lost", "hold", "error", "reopen", "redirect"]
    code: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _code_matches_kind(self) -> StatusReason:
        codes = _REASON_ENUMS.get(self.kind)
        if codes is not None:
            if self.code is None or self.code not in {m.value for m in codes}:
                raise ValueError(f"a {self.kind} reason needs a code from {codes.__name__}")
        elif self.code is None and not self.text:
            raise ValueError(f"a {self.kind} reason needs text")
        return self


# -- The referral -------------------------------------------------------------------------------


class Referral(_Record):
    """A specialist referral as the host stores it. Immutable: changes return ``model_copy``.

    ``version`` counts committed changes (creation is version 1) and ``history_hash`` is the
    hash of the last event, so the record and its event log vouch for each other.
    """

    id: UUID = Field(default_factory=uuid4)
    referral_number: str | None = None
    status: ReferralStatus = ReferralStatus.INTAKE
    priority: Priority = Priority.ROUTINE
    patient: Patient | None = None
    referring_practice: Practice | None = None
    referring_provider: Provider | None = None
    receiving_practice: Practice | None = None
    receiving_provider: Provider | None = None
    specialty: str | None = None
    reason: ReasonForReferral | None = None
    coverage: Coverage | None = None
    authorization: Authorization = Authorization()
    records_requests: tuple[RecordsRequest, ...] = ()
    appointments: tuple[Appointment, ...] = ()
    interactions: tuple[Interaction, ...] = ()
    tasks: tuple[HumanTask, ...] = ()
    flags: tuple[str, ...] = ()
    status_reason: StatusReason | None = None
    hold_from: ReferralStatus | None = None
    lost_from: ReferralStatus | None = None
    next_action_at: UtcDatetime | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    version: Annotated[int, Field(ge=0)] = 0
    history_hash: str = ""

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        # A short, PHI-free summary: nested records stay out of logs entirely.
        yield "id", self.id
        yield "referral_number", self.referral_number
        yield "status", self.status
        yield "priority", self.priority
        yield "specialty", self.specialty
        yield "version", self.version

    def missing_fields(self) -> tuple[str, ...]:
        """Return the paths of fields intake still needs before ``complete_intake``."""
        missing: list[str] = []
        if self.patient is None:
            missing.append("patient")
        else:
            if self.patient.birth_date is None:
                missing.append("patient.birth_date")
            if not self.patient.phones:
                missing.append("patient.phones")
        if self.referring_practice is None and self.referring_provider is None:
            missing.append("referring_practice")
        if not self.specialty:
            missing.append("specialty")
        if self.reason is None or not (self.reason.text or self.reason.icd10_codes):
            missing.append("reason")
        return tuple(missing)

    @property
    def current_appointment(self) -> Appointment | None:
        """The latest appointment still booked, if any."""
        for appointment in reversed(self.appointments):
            if appointment.status is AppointmentStatus.BOOKED:
                return appointment
        return None
