"""The EHR port: status pushes, bookings, patient and document reads, and :class:`EhrAdapter`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal, Protocol, runtime_checkable
from uuid import UUID

from pydantic import Field

from referralkit.model import (
    CancelReason,
    Channel,
    Coverage,
    Direction,
    Patient,
    ReferralStatus,
    TaskPriority,
    TaskStatus,
    UtcDatetime,
)
from referralkit.ports.common import (
    Capability,
    DocumentRef,
    Id,
    IdempotencyKey,
    Message,
    OutboundRequest,
    Receipt,
)

__all__ = [
    "AppointmentReceipt",
    "BookAppointmentRequest",
    "CancelAppointmentRequest",
    "DocumentList",
    "DocumentPushRequest",
    "DocumentsRequest",
    "EhrAdapter",
    "EhrDocumentPush",
    "EhrWorkMirror",
    "InteractionMirrorRequest",
    "PatientLookupRequest",
    "PatientRecord",
    "Slot",
    "SlotList",
    "SlotsRequest",
    "StatusPushRequest",
    "TaskMirrorRequest",
    "same_location",
]


class StatusPushRequest(OutboundRequest):
    """Push a referral's status change into the EHR (FHIR Task / ServiceRequest status).

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "push_status"
    capability: ClassVar[Capability] = "ehr"
    status: ReferralStatus
    at: UtcDatetime
    reason_code: str | None = None


class BookAppointmentRequest(OutboundRequest):
    """Book an appointment where the EHR owns the schedule.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "book_appointment"
    capability: ClassVar[Capability] = "ehr"
    phi_fields: ClassVar[frozenset[str]] = frozenset({"mrn"})
    appointment_id: UUID
    mrn: Id
    start: UtcDatetime
    duration_minutes: Annotated[int, Field(gt=0, le=24 * 60)] = 30
    provider_npi: str | None = None
    location: str | None = None


class CancelAppointmentRequest(OutboundRequest):
    """Cancel an appointment the EHR booked.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "cancel_appointment"
    capability: ClassVar[Capability] = "ehr"
    appointment_id: UUID
    external_id: Id
    reason: CancelReason


class InteractionMirrorRequest(OutboundRequest):
    """Log an interaction (a call, message or letter and its summary) in the EHR's chart.

    The summary is the point of the request, so it is sent (and masked in ``repr``); the key
    is derived from the interaction id, so mirroring twice logs it once.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "log_interaction"
    capability: ClassVar[Capability] = "ehr"
    phi_fields: ClassVar[frozenset[str]] = frozenset({"summary"})
    interaction_id: UUID
    at: UtcDatetime
    ended_at: UtcDatetime | None = None
    channel: Channel
    direction: Direction
    call_type: str | None = None
    outcome: str | None = None
    actor_id: str | None = None
    summary: Annotated[str, Field(max_length=20_000)] | None = None


class TaskMirrorRequest(OutboundRequest):
    """Create or update a task in the EHR's (or task system's) work queue.

    Sent again whenever the task's status, queue or assignee changes (a new key each time);
    the EHR keys its task on ``task_id``.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "push_task"
    capability: ClassVar[Capability] = "ehr"
    task_id: UUID
    queue: Id
    title: Annotated[str, Field(min_length=1, max_length=500)]
    status: TaskStatus
    priority: TaskPriority
    due_at: UtcDatetime
    assignee: str | None = None
    close_reason: str | None = None


class DocumentPushRequest(OutboundRequest):
    """Deliver a document into another practice's EHR (the consult report back to the referrer).

    An optional operation (``push_document``): an EHR adapter that offers it has the method
    (:class:`EhrDocumentPush`) and, if it declares ``supported_operations``, names it there.
    Maps to a FHIR ``Communication`` whose payload references the ``DocumentReference``, sent
    to the recipient ``Organization`` (360X calls it the closed-loop consult note); the bytes
    stay in the host's document store, only the reference travels.

    :ivar recipient: the receiving organization's id in the EHR network (the practice's id,
        or its NPI).
    :ivar recipient_npi: the practice's NPI, when known.
    :ivar purpose: why it is sent (``"consult_report"``).
    :ivar documents: the documents, by reference (at least one).

    .. versionadded:: 0.3
    """

    operation: ClassVar[str] = "push_document"
    capability: ClassVar[Capability] = "ehr"
    recipient: Id
    recipient_name: Id
    recipient_npi: str | None = None
    referral_number: str | None = None
    purpose: Literal["consult_report"] = "consult_report"
    documents: Annotated[tuple[DocumentRef, ...], Field(min_length=1)]


# -- EHR reads (no side effect; still keyed, so vendors can trace them) ----------------------


class PatientLookupRequest(Message):
    """Fetch a patient's demographics and coverage from the EHR.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"mrn"})
    idempotency_key: IdempotencyKey
    referral_id: UUID
    mrn: Id
    include_coverage: bool = True


class PatientRecord(Message):
    """What the EHR returned for a :class:`PatientLookupRequest`.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"patient", "coverage"})
    idempotency_key: IdempotencyKey
    patient: Patient | None = None
    coverage: tuple[Coverage, ...] = ()


class DocumentsRequest(Message):
    """Fetch references to clinical documents for a records request.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"mrn"})
    idempotency_key: IdempotencyKey
    referral_id: UUID
    mrn: Id
    kinds: tuple[Id, ...] = ()
    since: date | None = None


class DocumentList(Message):
    """The documents an EHR found for a :class:`DocumentsRequest`.

    .. versionadded:: 0.1
    """

    idempotency_key: IdempotencyKey
    documents: tuple[DocumentRef, ...] = ()


class AppointmentReceipt(Receipt):
    """The receipt of a booking: the EHR's appointment id.

    .. versionadded:: 0.1
    """

    external_id: Id


class SlotsRequest(Message):
    """Ask the EHR for open appointment slots (FHIR ``Slot``/``Schedule``, HL7 SIU).

    An optional operation: an EHR adapter that offers it has a ``find_slots`` method (and,
    if it declares ``supported_operations``, names it there).

    :ivar specialty: the referral's specialty (the schedule to search).
    :ivar priority: the referral's priority (``routine``, ``urgent``...): an EHR may hold
        urgent slots back for urgent referrals.
    :ivar start_after: the earliest start (now, or the authorization's first day).
    :ivar end_before: the latest start (the authorization's last day, when it has one).
    :ivar location: the location the patient prefers (a site or room name as the EHR spells
        it in :attr:`Slot.location`); an EHR may search only there. The desk re-checks it.

    .. versionadded:: 0.3
    """

    idempotency_key: IdempotencyKey
    referral_id: UUID
    specialty: Id
    priority: str = "routine"
    start_after: UtcDatetime
    end_before: UtcDatetime | None = None
    duration_minutes: Annotated[int, Field(gt=0, le=24 * 60)] = 30
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    location: Id | None = None


class Slot(Message):
    """One open slot the EHR offers.

    .. versionadded:: 0.3
    """

    slot_id: Id
    start: UtcDatetime
    duration_minutes: Annotated[int, Field(gt=0, le=24 * 60)] = 30
    location: str | None = None
    provider_npi: str | None = None


def same_location(location: str | None) -> str | None:
    """Return *location* in the form two spellings of one site compare equal in.

    Case, outer spaces and runs of inner spaces are ignored (``" Room  2"`` is ``"room 2"``);
    ``None`` or a blank name is ``None`` (no preference).

    .. versionadded:: 0.3
    """
    if location is None:
        return None
    folded = " ".join(location.split()).casefold()
    return folded or None


class SlotList(Message):
    """The slots an EHR found for a :class:`SlotsRequest`, earliest first.

    .. versionadded:: 0.3
    """

    idempotency_key: IdempotencyKey
    slots: tuple[Slot, ...] = ()


# -- Port ------------------------------------------------------------------------------------


@runtime_checkable
class EhrAdapter(Protocol):
    """Reads from and writes to the practice's EHR.

    .. versionadded:: 0.1
    """

    @property
    def name(self) -> str:
        """The name the host selects this adapter by."""
        ...

    def fetch_patient(self, request: PatientLookupRequest) -> PatientRecord:
        """Return the patient (and coverage) the EHR holds for ``request.mrn``.

        :returns: a record with ``patient=None`` when the MRN is unknown.
        :raises TransientAdapterError: the EHR is unavailable for now.
        :raises PermanentAdapterError: the request is refused.
        """
        ...

    def push_status(self, request: StatusPushRequest) -> Receipt:
        """Record the referral's new status in the EHR.

        :raises TransientAdapterError: the EHR is unavailable for now.
        :raises PermanentAdapterError: the EHR refused the update.
        """
        ...

    def fetch_documents(self, request: DocumentsRequest) -> DocumentList:
        """Return references to the patient's documents of the requested kinds.

        :raises TransientAdapterError: the EHR is unavailable for now.
        :raises PermanentAdapterError: the request is refused.
        """
        ...

    def book_appointment(self, request: BookAppointmentRequest) -> AppointmentReceipt:
        """Book the appointment; a repeated key returns the first booking.

        :raises TransientAdapterError: nothing was booked; worth retrying.
        :raises PermanentAdapterError: the slot or the request is invalid.
        """
        ...

    def cancel_appointment(self, request: CancelAppointmentRequest) -> Receipt:
        """Cancel a booked appointment.

        :raises TransientAdapterError: nothing was cancelled; worth retrying.
        :raises PermanentAdapterError: no such appointment, or it cannot be cancelled.
        """
        ...


@runtime_checkable
class EhrDocumentPush(Protocol):
    """An EHR adapter that can deliver documents to another practice's EHR.

    Optional, like :class:`EhrWorkMirror`: an :class:`EhrAdapter` with this method is used
    to send the consult report to a referring practice whose preferred channel is the EHR.

    .. versionadded:: 0.3
    """

    @property
    def name(self) -> str:
        """The name the host selects this adapter by."""
        ...

    def push_document(self, request: DocumentPushRequest) -> Receipt:
        """Deliver the documents to ``request.recipient``; a repeated key delivers once.

        :raises TransientAdapterError: nothing was delivered; worth retrying.
        :raises PermanentAdapterError: the recipient or the document was refused (the desk
            opens a task for a person).
        """
        ...


@runtime_checkable
class EhrWorkMirror(Protocol):
    """An EHR (or task system) that keeps a copy of call summaries and human tasks.

    Optional: an :class:`EhrAdapter` that also has these two methods is used to mirror work
    (see ``docs/work.md``). A separate protocol, so an EHR adapter written before it still
    satisfies :class:`EhrAdapter`.

    .. versionadded:: 0.1
    """

    @property
    def name(self) -> str:
        """The name the host selects this adapter by."""
        ...

    def log_interaction(self, request: InteractionMirrorRequest) -> Receipt:
        """Record the interaction in the chart; a repeated key returns the first receipt.

        :raises TransientAdapterError: the EHR is unavailable for now.
        :raises PermanentAdapterError: the EHR refused it (the desk opens a task for a person).
        """
        ...

    def push_task(self, request: TaskMirrorRequest) -> Receipt:
        """Create or update the task ``request.task_id``; a repeated key changes nothing.

        :raises TransientAdapterError: the EHR is unavailable for now.
        :raises PermanentAdapterError: the EHR refused it (the desk opens a task for a person).
        """
        ...
