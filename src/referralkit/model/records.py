"""The sub-records of a referral: people, practices, coverage, appointments, tasks and reasons."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import Field, model_validator

from referralkit.model.enums import (
    ActorKind,
    AppointmentStatus,
    AuthorizationStatus,
    CancelReason,
    Channel,
    DeclineReason,
    Direction,
    LostReason,
    NoShowReason,
    PhoneKind,
    RecordsChannel,
    RecordsRequestStatus,
    RecordsSource,
    ReportDeliveryStatus,
    Role,
    TaskPriority,
    TaskStatus,
)
from referralkit.model.types import (
    Email,
    Icd10Code,
    LanguageTag,
    NonEmpty,
    Npi,
    PhoneE164,
    PhoneExtension,
    Record,
    TimeZoneName,
    UsState,
    UtcDatetime,
)

__all__ = [
    "Actor",
    "Address",
    "Appointment",
    "Authorization",
    "ConsultReport",
    "ContactConsent",
    "Coverage",
    "Disclosure",
    "HumanTask",
    "Interaction",
    "Patient",
    "PhoneContact",
    "Practice",
    "Provider",
    "ReasonForReferral",
    "ReceivedDocument",
    "RecordsRequest",
    "ReferralDocument",
    "StatusReason",
    "TaskChange",
]

# -- Sub-records ----------------------------------------------------------------------------


class Actor(Record):
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


class Address(Record):
    """A postal address (all of it is PHI for a patient)."""

    _phi: ClassVar[frozenset[str]] = frozenset({"line1", "line2", "city", "postal_code"})
    line1: NonEmpty
    line2: str | None = None
    city: NonEmpty
    state: UsState
    postal_code: Annotated[str, Field(pattern=r"^\d{5}(-\d{4})?$")]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "US"


class PhoneContact(Record):
    """One phone number of a patient, with what outreach needs to know about it."""

    _phi: ClassVar[frozenset[str]] = frozenset({"number", "extension"})
    number: PhoneE164
    """The dialable number, in E.164 form (never with the extension)."""
    kind: PhoneKind = PhoneKind.MOBILE
    time_zones: tuple[TimeZoneName, ...] = ()
    """The number's possible time zones (from its area code), for contact windows."""
    extension: PhoneExtension | None = None
    """Digits to dial once *number* answers (``ext. 123``), if any.

    .. versionadded:: 0.2
    """


class ContactConsent(Record):
    """What the patient agreed to be contacted by; opt-outs win over everything."""

    _phi: ClassVar[frozenset[str]] = frozenset({"opted_out_numbers"})
    contact_allowed: bool = True
    opted_out_channels: tuple[Channel, ...] = ()
    opted_out_numbers: tuple[PhoneE164, ...] = ()
    """Numbers that texted STOP: no text goes to them, whoever the patient (the number's
    owner opted out, not necessarily this patient).

    .. versionadded:: 0.2"""
    updated_at: UtcDatetime | None = None

    def allows(self, channel: Channel, number: str | None = None) -> bool:
        """Return whether automated contact on *channel* (to *number*, if given) is allowed.

        .. versionchanged:: 0.2 *number*: texts to a number that sent STOP are refused.
        """
        if not self.contact_allowed or channel in self.opted_out_channels:
            return False
        return not (
            channel is Channel.SMS and number is not None and number in self.opted_out_numbers
        )


class Patient(Record):
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


class Practice(Record):
    """A referring or receiving practice (organisation).

    :ivar preferred_channel: how the practice wants updates and the consult report: fax (the
        default), email (to *email*), portal (the practice's *id* in the portal or EHR) or
        EHR (the consult report pushed into its EHR, addressed by *id* or *npi*; milestone
        updates then go by fax).

    .. versionchanged:: 0.3 *email* and *preferred_channel*.
    """

    name: NonEmpty
    id: str | None = None
    npi: Npi | None = None
    phone: PhoneE164 | None = None
    phone_extension: PhoneExtension | None = None
    """The extension of *phone*, if any (practice lines often have one).

    .. versionadded:: 0.2
    """
    fax: PhoneE164 | None = None
    email: Email | None = None
    preferred_channel: Channel | None = None
    address: Address | None = None


class Provider(Record):
    """An individual clinician."""

    name: NonEmpty
    npi: Npi | None = None
    specialty: str | None = None


class Coverage(Record):
    """The patient's insurance coverage."""

    _phi: ClassVar[frozenset[str]] = frozenset({"member_id", "group_number"})
    payer_name: NonEmpty
    payer_id: str | None = None
    member_id: NonEmpty
    group_number: str | None = None
    plan_name: str | None = None


class Authorization(Record):
    """Insurance authorization for the referred care: a sub-status, not a lifecycle state."""

    status: AuthorizationStatus = AuthorizationStatus.NOT_REQUIRED
    number: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    authorized_visits: Annotated[int, Field(ge=0)] | None = None
    used_visits: Annotated[int, Field(ge=0)] = 0
    payer_reference: str | None = None
    """The payer's reference for the request (its case or tracking number).

    .. versionadded:: 0.3"""
    submitted_at: UtcDatetime | None = None
    """When the request (or the latest appeal) went to the payer.

    .. versionadded:: 0.3"""
    denial_reason: str | None = None
    """The payer's coded reason for a denial.

    .. versionadded:: 0.3"""
    appeals: Annotated[int, Field(ge=0)] = 0
    """How many times a denial was appealed.

    .. versionadded:: 0.3"""

    @property
    def visits_left(self) -> int | None:
        """Authorized visits not used yet (``None``: no visit limit)."""
        if self.authorized_visits is None:
            return None
        return max(self.authorized_visits - self.used_visits, 0)

    @property
    def lapses_at(self) -> datetime | None:
        """When a granted (approved or modified) authorization lapses: the end of ``valid_to``.

        Validity is by date, through the end of *valid_to* in UTC (the instant after it is
        midnight UTC the next day). ``None`` when it is not granted or has no end date.

        .. versionadded:: 0.3
        """
        if self.valid_to is None or self.status not in (
            AuthorizationStatus.APPROVED,
            AuthorizationStatus.MODIFIED,
        ):
            return None
        try:
            return datetime.combine(self.valid_to + timedelta(days=1), time(), UTC)
        except OverflowError:  # valid_to is date.max: it never lapses
            return None

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


class ReasonForReferral(Record):
    """Why the patient is referred: ICD-10-CM codes and text."""

    _phi: ClassVar[frozenset[str]] = frozenset({"text", "icd10_codes"})
    icd10_codes: tuple[Icd10Code, ...] = ()
    text: str | None = None


class ReceivedDocument(Record):
    """A document received for a records request, by reference (the bytes stay with the host).

    .. versionadded:: 0.3
    """

    document_id: NonEmpty
    kind: str | None = None
    received_at: UtcDatetime
    via: RecordsChannel = RecordsChannel.FAX


_OPEN_RECORDS: frozenset[RecordsRequestStatus] = frozenset(
    {
        RecordsRequestStatus.REQUESTED,
        RecordsRequestStatus.SENT,
        RecordsRequestStatus.PARTIALLY_RECEIVED,
    }
)


class RecordsRequest(Record):
    """A request to transfer medical records for this referral.

    :ivar due_at: when chasing starts (the first request fax goes out then).
    :ivar needed_by: when the records must be in (before the visit); missing required records
        open a task a few business days before the visit either way.
    :ivar needed_days_before_visit: *needed_by* as business days before the visit, when it
        was asked for that way: the desk recomputes *needed_by* whenever the visit moves
        (rescheduled, cancelled, booked again), and clears it while no visit is booked.
    :ivar kinds: the document kinds asked for (``"consult_note"``, ``"imaging"``...); empty:
        any document answers the request.
    :ivar documents: the ids of every document received (see *received* for kinds).

    .. versionchanged:: 0.3 *source*, *channel*, *kinds*, *received*, *needed_by*,
       *required*, *from_fax* and *reason*.
    """

    _phi: ClassVar[frozenset[str]] = frozenset({"reason"})
    id: UUID = Field(default_factory=uuid4)
    status: RecordsRequestStatus = RecordsRequestStatus.REQUESTED
    from_practice: str | None = None
    requested_at: UtcDatetime
    due_at: UtcDatetime | None = None
    documents: tuple[str, ...] = ()
    source: RecordsSource = RecordsSource.REFERRING_PRACTICE
    channel: RecordsChannel = RecordsChannel.FAX
    kinds: tuple[str, ...] = ()
    received: tuple[ReceivedDocument, ...] = ()
    needed_by: UtcDatetime | None = None
    needed_days_before_visit: Annotated[int, Field(ge=0)] | None = None
    required: bool = True
    from_fax: PhoneE164 | None = None
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        """Whether the request still waits for records (requested, sent or partly received)."""
        return self.status in _OPEN_RECORDS

    @property
    def missing_kinds(self) -> tuple[str, ...]:
        """The kinds asked for that no received document has yet (empty once closed)."""
        if not self.is_open:
            return ()
        have = {d.kind for d in self.received}
        return tuple(kind for kind in self.kinds if kind not in have)

    def with_documents(self, documents: tuple[ReceivedDocument, ...]) -> RecordsRequest:
        """Return the request with *documents* attached (ones already attached are ignored).

        The status becomes ``received`` when every kind asked for has a document (or, when no
        kinds were named, on the first document), else ``partially_received``. A closed request
        keeps its status and only gains the documents.
        """
        known = set(self.documents)
        new = tuple(d for d in documents if d.document_id not in known)
        if not new:
            return self
        received = (*self.received, *new)
        status = self.status
        if self.is_open:
            have = {d.kind for d in received}
            complete = all(kind in have for kind in self.kinds)
            status = (
                RecordsRequestStatus.RECEIVED
                if complete
                else RecordsRequestStatus.PARTIALLY_RECEIVED
            )
        return self.model_copy(
            update={
                "received": received,
                "documents": (*self.documents, *(d.document_id for d in new)),
                "status": status,
            }
        )


class ConsultReport(Record):
    """The specialist's consult report going back to the referring practice, by reference.

    The loop is closed (``close_loop``, what 360X calls the closed-loop referral and FHIR a
    completed ``ServiceRequest``) only once the report is delivered.

    .. versionadded:: 0.3
    """

    document_id: NonEmpty
    channel: Channel
    status: ReportDeliveryStatus = ReportDeliveryStatus.PENDING
    attempts: Annotated[int, Field(ge=1)] = 1
    recorded_at: UtcDatetime
    delivered_at: UtcDatetime | None = None
    acknowledged_at: UtcDatetime | None = None


class ReferralDocument(Record):
    """A document of the referral itself (the referral letter, a correction), by reference.

    Revisions of one document share *revision_of* (the first version's id).

    .. versionadded:: 0.3
    """

    document_id: NonEmpty
    kind: str | None = None
    received_at: UtcDatetime
    revision: Annotated[int, Field(ge=1)] = 1
    revision_of: str | None = None


class Appointment(Record):
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


class Disclosure(Record):
    """What a status or authorization answer told whom: field names and the caller's role.

    Only the names of the disclosed fields are kept, never their values.

    .. versionadded:: 0.1
    """

    fields: tuple[NonEmpty, ...]
    recipient_role: NonEmpty
    """Who heard it: ``"patient"``, ``"referring_practice"``, ``"payer"``, ..."""
    verified: bool = False
    """Whether the caller's identity was verified before the answer."""


class Interaction(Record):
    """A call, SMS, fax, letter, email or portal message about the referral, with its summary.

    ``summary`` is free text and may hold PHI: it is masked in ``repr()``.

    .. versionchanged:: 0.1
       Added the actor kind, end time, task and outreach links, and disclosure records.
    """

    _phi: ClassVar[frozenset[str]] = frozenset({"summary"})
    id: UUID = Field(default_factory=uuid4)
    at: UtcDatetime
    """When the interaction started."""
    channel: Channel
    direction: Direction
    call_type: str | None = None
    outcome: str | None = None
    """A short outcome code (``"resolved"``, ``"voicemail"``, ``"no_answer"``...)."""
    summary: str | None = None
    actor_id: str | None = None
    actor_kind: ActorKind | None = None
    ended_at: UtcDatetime | None = None
    task_id: UUID | None = None
    """The human task this interaction served, if any."""
    action_key: str | None = None
    """The idempotency key of the outreach or outbox action it belongs to, if any."""
    disclosure: Disclosure | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> Interaction:
        if self.ended_at is not None and self.ended_at < self.at:
            raise ValueError("ended_at is before the interaction started")
        return self

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to end, ``None`` when the end is not recorded."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.at).total_seconds()


TaskAction = Literal[
    "opened",
    "claimed",
    "released",
    "reassigned",
    "completed",
    "cancelled",
    "snoozed",
    "woken",
    "mooted",
    "escalated",
]


class TaskChange(Record):
    """One change of a human task: what happened, who did it and when.

    .. versionadded:: 0.1
    """

    action: TaskAction
    at: UtcDatetime
    actor_id: NonEmpty
    actor_kind: ActorKind
    status: TaskStatus
    queue: NonEmpty
    assignee: str | None = None


class HumanTask(Record):
    """Work routed to a named human queue, with a due time and the reason it exists.

    ``detail`` and ``note`` are free text and may hold PHI: both are masked in ``repr()``.
    A task that closed records why in ``close_reason``; a claimed task whose reason went away
    keeps its claim and says so in ``moot``.

    .. versionchanged:: 0.1
       Added the claim, snooze, outcome, note, closure, escalation and change-history fields.
    """

    _phi: ClassVar[frozenset[str]] = frozenset({"detail", "note"})
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
    assignee: str | None = None
    """The staff member (actor id) working it: set while claimed."""
    snoozed_until: UtcDatetime | None = None
    outcome: str | None = None
    """The outcome code it was completed with (``"booked"``, ``"left_voicemail"``...)."""
    note: str | None = None
    close_reason: str | None = None
    """Why it closed: ``"completed"``, the cancel reason, or ``"moot: ..."``."""
    closed_at: UtcDatetime | None = None
    closed_by: str | None = None
    moot: str | None = None
    """Why its reason went away while a person held it (they decide what to do)."""
    escalation_level: Annotated[int, Field(ge=0)] = 0
    """How many steps of its queue's escalation ladder it has climbed."""
    changes: tuple[TaskChange, ...] = ()


_REASON_ENUMS: dict[str, type[enum.Enum]] = {
    "decline": DeclineReason,
    "cancel": CancelReason,
    "lost": LostReason,
}


class StatusReason(Record):
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
