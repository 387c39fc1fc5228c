"""The vendor ports: one :class:`typing.Protocol` per backend, and the data that crosses them.

Plugins provide objects satisfying :class:`TelephonyAdapter`, :class:`EhrAdapter`,
:class:`FaxAdapter` and :class:`NotificationAdapter` through the provider hooks in
:mod:`referralkit.hookspecs`. Every call takes one typed request and returns one typed receipt.

Minimum necessary: a request carries only what its purpose needs. A voice call gets a number, a
script id and a contact window; an SMS gets a number and its rendered text; a fax cover gets
the practice's fax number and document references. No request to telephony, SMS, fax or
notification adapters carries a diagnosis, a referral reason or ICD-10 codes. The fields of a
request that hold PHI are listed in its ``phi_fields`` and masked in ``repr()``.

Idempotency: every outbound request carries an ``idempotency_key`` (see
:func:`idempotency_key`) that is the same on every retry of the same planned action. An adapter
that sees a key again must not contact anyone a second time; it returns the first receipt
(with ``duplicate=True``).

Errors: adapters raise :class:`~referralkit.errors.TransientAdapterError` for faults worth
retrying and :class:`~referralkit.errors.PermanentAdapterError` for the rest. Anything else
they raise is treated as permanent.

.. versionadded:: 0.1
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, Protocol, Self, runtime_checkable
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from referralkit.events import Event
from referralkit.model import (
    MASK,
    ActorKind,
    Address,
    CancelReason,
    Channel,
    Coverage,
    Email,
    LanguageTag,
    Patient,
    PhoneE164,
    Referral,
    ReferralStatus,
    Role,
    TaskPriority,
    UtcDatetime,
)

__all__ = [
    "AppointmentReceipt",
    "BookAppointmentRequest",
    "CallOutcome",
    "CallRequest",
    "CancelAppointmentRequest",
    "Capability",
    "DocumentList",
    "DocumentRef",
    "DocumentsRequest",
    "EhrAdapter",
    "EventNotice",
    "FaxAdapter",
    "FaxRequest",
    "IdempotencyKey",
    "InboundFax",
    "IntakeCheck",
    "LetterRequest",
    "NotificationAdapter",
    "OutboundRequest",
    "OutreachTemplate",
    "PatientEmailRequest",
    "PatientLookupRequest",
    "PatientRecord",
    "PracticeUpdateRequest",
    "Receipt",
    "RoutingRule",
    "RoutingSuggestion",
    "SmsReply",
    "SmsRequest",
    "StaffAlertRequest",
    "StatusPushRequest",
    "TelephonyAdapter",
    "idempotency_key",
]

Capability = Literal["telephony", "ehr", "fax", "notification"]
"""The four backend kinds a host picks an adapter for."""

IdempotencyKey = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
"""A sha256 hex digest made by :func:`idempotency_key`."""

_Id = Annotated[str, Field(min_length=1, max_length=200)]
_Text = Annotated[str, Field(min_length=1, max_length=1600)]


def idempotency_key(referral_id: UUID, action: str, attempt: int = 1) -> str:
    """Return the idempotency key of one planned action.

    The key depends only on what was planned (referral, action or cadence step, attempt
    number), never on the try, so every retry and every re-send after a crash carries it.

    :param action: a stable name of the planned action, such as ``"outreach:step-2"``.
    :param attempt: the planned attempt number (not the retry count).
    :returns: 64 lowercase hex digits.

    .. versionadded:: 0.1
    """
    return hashlib.sha256(f"{referral_id}|{action}|{attempt}".encode()).hexdigest()


class _Message(BaseModel):
    """Base of port data: frozen, strict, no unknown fields, PHI masked in repr."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, hide_input_in_errors=True)
    phi_fields: ClassVar[frozenset[str]] = frozenset()

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in self.phi_fields and value not in (None, "", ()):
                yield name, MASK
            else:
                yield name, value


class DocumentRef(_Message):
    """A reference to a stored document; the content stays in the host's document store.

    .. versionadded:: 0.1
    """

    document_id: _Id
    kind: _Id
    content_type: str = "application/pdf"
    pages: Annotated[int, Field(ge=1)] | None = None


# -- Outbound requests --------------------------------------------------------------------------


class OutboundRequest(_Message):
    """Base of every request that has a side effect outside referralkit.

    :ivar operation: the port method that carries it (class constant).
    :ivar capability: which kind of adapter serves it (class constant).

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = ""
    capability: ClassVar[Capability] = "notification"
    idempotency_key: IdempotencyKey
    referral_id: UUID


class CallRequest(OutboundRequest):
    """Place an outbound voice call that follows a script, inside a contact window.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "place_call"
    capability: ClassVar[Capability] = "telephony"
    phi_fields: ClassVar[frozenset[str]] = frozenset({"to"})
    to: PhoneE164
    script_id: _Id
    language: LanguageTag = "en"
    window_start: UtcDatetime
    window_end: UtcDatetime

    @model_validator(mode="after")
    def _window_in_order(self) -> Self:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self

    @classmethod
    def for_referral(
        cls,
        referral: Referral,
        *,
        action: str,
        attempt: int,
        script_id: str,
        window_start: datetime,
        window_end: datetime,
        phone_index: int = 0,
    ) -> Self:
        """Build the request from a referral, taking the patient's phone and language only.

        :raises ValueError: the referral has no patient phone at *phone_index*.
        """
        patient = _patient(referral)
        if len(patient.phones) <= phone_index:
            raise ValueError("the patient has no phone at that index")
        return cls(
            idempotency_key=idempotency_key(referral.id, action, attempt),
            referral_id=referral.id,
            to=patient.phones[phone_index].number,
            script_id=script_id,
            language=patient.preferred_language,
            window_start=window_start,
            window_end=window_end,
        )


class SmsRequest(OutboundRequest):
    """Send one SMS; *body* is rendered from an approved template and names no diagnosis.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "send_sms"
    capability: ClassVar[Capability] = "telephony"
    phi_fields: ClassVar[frozenset[str]] = frozenset({"to", "body"})
    to: PhoneE164
    template_id: _Id
    body: Annotated[str, Field(min_length=1, max_length=640)]
    language: LanguageTag = "en"

    @classmethod
    def for_referral(
        cls, referral: Referral, *, action: str, attempt: int, template_id: str, body: str
    ) -> Self:
        """Build the request to the patient's first mobile phone.

        :raises ValueError: the patient has no mobile phone.
        """
        patient = _patient(referral)
        mobiles = [p.number for p in patient.phones if p.kind.value == "mobile"]
        if not mobiles:
            raise ValueError("the patient has no mobile phone")
        return cls(
            idempotency_key=idempotency_key(referral.id, action, attempt),
            referral_id=referral.id,
            to=mobiles[0],
            template_id=template_id,
            body=body,
            language=patient.preferred_language,
        )


class FaxRequest(OutboundRequest):
    """Send a fax to a practice: a coded cover plus referenced documents.

    The cover names the purpose, the practice and the referral number; clinical content is only
    in the referenced documents, which the adapter fetches from the host.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "send_fax"
    capability: ClassVar[Capability] = "fax"
    to: PhoneE164
    purpose: Literal["records_request", "status_letter", "referral_packet"]
    recipient_name: _Id
    referral_number: str | None = None
    documents: tuple[DocumentRef, ...] = ()

    @classmethod
    def for_referral(
        cls,
        referral: Referral,
        *,
        action: str,
        attempt: int,
        purpose: Literal["records_request", "status_letter", "referral_packet"],
        documents: Sequence[DocumentRef] = (),
        to_receiving: bool = False,
    ) -> Self:
        """Build a fax to the referring (or receiving) practice's fax number.

        :raises ValueError: that practice has no fax number.
        """
        practice = referral.receiving_practice if to_receiving else referral.referring_practice
        if practice is None or practice.fax is None:
            raise ValueError("the practice has no fax number")
        return cls(
            idempotency_key=idempotency_key(referral.id, action, attempt),
            referral_id=referral.id,
            to=practice.fax,
            purpose=purpose,
            recipient_name=practice.name,
            referral_number=referral.referral_number,
            documents=tuple(documents),
        )


class StaffAlertRequest(OutboundRequest):
    """Alert staff that a human task waits in a queue (no PHI: the task is looked up in-app).

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "alert_staff"
    task_id: UUID
    queue: _Id
    title: _Id
    priority: TaskPriority = TaskPriority.NORMAL
    due_at: UtcDatetime


class PracticeUpdateRequest(OutboundRequest):
    """Tell the referring practice where its referral stands (closing the loop).

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "update_practice"
    practice_name: _Id
    channel: Literal[Channel.FAX, Channel.EMAIL, Channel.PORTAL]
    destination: _Id
    referral_number: str | None = None
    status: ReferralStatus
    reason_code: str | None = None
    appointment_at: UtcDatetime | None = None

    @classmethod
    def for_referral(cls, referral: Referral, *, action: str, attempt: int) -> Self:
        """Build a status update to the referring practice by fax.

        :raises ValueError: the referring practice has no fax number.
        """
        practice = referral.referring_practice
        if practice is None or practice.fax is None:
            raise ValueError("the referring practice has no fax number")
        appointment = referral.current_appointment
        reason = referral.status_reason
        return cls(
            idempotency_key=idempotency_key(referral.id, action, attempt),
            referral_id=referral.id,
            practice_name=practice.name,
            channel=Channel.FAX,
            destination=practice.fax,
            referral_number=referral.referral_number,
            status=referral.status,
            reason_code=reason.code if reason is not None else None,
            appointment_at=appointment.start if appointment is not None else None,
        )


class PatientEmailRequest(OutboundRequest):
    """Send the patient an email rendered from an approved template.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "email_patient"
    phi_fields: ClassVar[frozenset[str]] = frozenset({"to", "subject", "body"})
    to: Email
    template_id: _Id
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    body: _Text
    language: LanguageTag = "en"


class LetterRequest(OutboundRequest):
    """Send the patient a printed letter through a print-and-mail vendor.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "send_letter"
    phi_fields: ClassVar[frozenset[str]] = frozenset({"recipient_name", "address", "body"})
    recipient_name: _Id
    address: Address
    template_id: _Id
    body: Annotated[str, Field(min_length=1, max_length=20_000)]
    language: LanguageTag = "en"


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
    mrn: _Id
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
    external_id: _Id
    reason: CancelReason


# -- EHR reads (no side effect; still keyed, so vendors can trace them) ----------------------


class PatientLookupRequest(_Message):
    """Fetch a patient's demographics and coverage from the EHR.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"mrn"})
    idempotency_key: IdempotencyKey
    referral_id: UUID
    mrn: _Id
    include_coverage: bool = True


class PatientRecord(_Message):
    """What the EHR returned for a :class:`PatientLookupRequest`.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"patient", "coverage"})
    idempotency_key: IdempotencyKey
    patient: Patient | None = None
    coverage: tuple[Coverage, ...] = ()


class DocumentsRequest(_Message):
    """Fetch references to clinical documents for a records request.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"mrn"})
    idempotency_key: IdempotencyKey
    referral_id: UUID
    mrn: _Id
    kinds: tuple[_Id, ...] = ()
    since: date | None = None


class DocumentList(_Message):
    """The documents an EHR found for a :class:`DocumentsRequest`.

    .. versionadded:: 0.1
    """

    idempotency_key: IdempotencyKey
    documents: tuple[DocumentRef, ...] = ()


# -- Receipts -----------------------------------------------------------------------------------


class Receipt(_Message):
    """An adapter's acknowledgement that it accepted an outbound request.

    :ivar provider_ref: the vendor's id for the message, call, fax or booking.
    :ivar duplicate: ``True`` when the key was seen before and nothing new was sent.

    .. versionadded:: 0.1
    """

    idempotency_key: IdempotencyKey
    provider_ref: _Id
    accepted_at: UtcDatetime
    duplicate: bool = False


class AppointmentReceipt(Receipt):
    """The receipt of a booking: the EHR's appointment id.

    .. versionadded:: 0.1
    """

    external_id: _Id


# -- Inbound events (handed to ReferralDesk methods) ----------------------------------------


class CallOutcome(_Message):
    """The outcome of an outbound call, reported by the telephony vendor.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"summary"})
    referral_id: UUID
    provider_ref: _Id
    outcome: Literal[
        "answered", "voicemail", "no_answer", "busy", "failed", "wrong_number", "declined"
    ]
    at: UtcDatetime
    idempotency_key: IdempotencyKey | None = None
    duration_seconds: Annotated[int, Field(ge=0)] | None = None
    summary: str | None = None


class SmsReply(_Message):
    """An SMS the patient sent back; ``STOP`` and its synonyms opt the patient out of SMS.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"from_number", "body"})
    referral_id: UUID
    provider_ref: _Id
    from_number: PhoneE164
    body: Annotated[str, Field(max_length=1600)]
    at: UtcDatetime


class InboundFax(_Message):
    """A fax received for a referral (the host matched it), e.g. records sent back.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"from_number"})
    referral_id: UUID
    provider_ref: _Id
    from_number: PhoneE164 | None = None
    received_at: UtcDatetime
    document: DocumentRef
    records_request_id: UUID | None = None


# -- Observer and contribution data -----------------------------------------------------------


class EventNotice(_Message):
    """What observer hooks see of a committed event: who, when, what kind; never its data.

    Observers that need more read it from the desk, under the host's access control.

    .. versionadded:: 0.1
    """

    referral_id: UUID
    seq: int
    kind: str
    from_state: ReferralStatus | None
    to_state: ReferralStatus | None
    at: UtcDatetime
    actor_kind: ActorKind
    actor_role: Role

    @property
    def is_transition(self) -> bool:
        """Whether the event came from a lifecycle trigger (or creation)."""
        return self.from_state is None or self.from_state is not self.to_state

    @classmethod
    def from_event(cls, event: Event) -> Self:
        """Return the PHI-free notice of *event*."""
        return cls(
            referral_id=event.referral_id,
            seq=event.seq,
            kind=event.kind,
            from_state=event.from_state,
            to_state=event.to_state,
            at=event.at,
            actor_kind=event.actor.kind,
            actor_role=event.actor.role,
        )


class RoutingSuggestion(_Message):
    """A contributed routing rule's proposal: send the referral to a human queue.

    .. versionadded:: 0.1
    """

    rule_id: _Id
    queue: _Id
    title: _Id
    reason: _Id
    priority: TaskPriority = TaskPriority.NORMAL
    due_in: timedelta = timedelta(hours=24)


# -- Ports ----------------------------------------------------------------------------------


@runtime_checkable
class TelephonyAdapter(Protocol):
    """Places voice calls and sends SMS.

    Call outcomes and SMS replies come back through
    :meth:`~referralkit.desk.ReferralDesk.record_call_outcome` and
    :meth:`~referralkit.desk.ReferralDesk.record_sms_reply`.

    .. versionadded:: 0.1
    """

    @property
    def name(self) -> str:
        """The name the host selects this adapter by."""
        ...

    def place_call(self, request: CallRequest) -> Receipt:
        """Start (or queue) a scripted call inside ``window_start``..``window_end``.

        Called by the desk after the action is committed to the outbox; retried with the same
        request on :class:`~referralkit.errors.TransientAdapterError`.

        :returns: a receipt echoing ``request.idempotency_key``.
        :raises TransientAdapterError: a fault worth retrying; nothing was dialled.
        :raises PermanentAdapterError: the call cannot be placed (e.g. invalid number).
        """
        ...

    def send_sms(self, request: SmsRequest) -> Receipt:
        """Send one SMS; a repeated idempotency key sends nothing and returns the first receipt.

        :raises TransientAdapterError: a fault worth retrying; nothing was sent.
        :raises PermanentAdapterError: the message cannot be sent (opted out, landline).
        """
        ...


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
class FaxAdapter(Protocol):
    """Sends faxes (records requests, status letters).

    Inbound faxes go to :meth:`~referralkit.desk.ReferralDesk.receive_fax`.

    .. versionadded:: 0.1
    """

    @property
    def name(self) -> str:
        """The name the host selects this adapter by."""
        ...

    def send_fax(self, request: FaxRequest) -> Receipt:
        """Queue the fax; a repeated idempotency key sends nothing and returns the first receipt.

        :raises TransientAdapterError: nothing was sent; worth retrying.
        :raises PermanentAdapterError: the number is invalid or a document is missing.
        """
        ...


@runtime_checkable
class NotificationAdapter(Protocol):
    """Alerts staff and writes to referring practices and patients (email, letter).

    .. versionadded:: 0.1
    """

    @property
    def name(self) -> str:
        """The name the host selects this adapter by."""
        ...

    def alert_staff(self, request: StaffAlertRequest) -> Receipt:
        """Tell staff a human task is waiting.

        :raises TransientAdapterError: nothing was sent; worth retrying.
        :raises PermanentAdapterError: the queue has no recipients.
        """
        ...

    def update_practice(self, request: PracticeUpdateRequest) -> Receipt:
        """Send the referring practice a status update.

        :raises TransientAdapterError: nothing was sent; worth retrying.
        :raises PermanentAdapterError: the destination is invalid.
        """
        ...

    def email_patient(self, request: PatientEmailRequest) -> Receipt:
        """Email the patient.

        :raises TransientAdapterError: nothing was sent; worth retrying.
        :raises PermanentAdapterError: the address bounced or is suppressed.
        """
        ...

    def send_letter(self, request: LetterRequest) -> Receipt:
        """Hand a letter to a print-and-mail vendor.

        :raises TransientAdapterError: nothing was queued; worth retrying.
        :raises PermanentAdapterError: the address is undeliverable.
        """
        ...


# -- Contributions ------------------------------------------------------------------------------


@runtime_checkable
class IntakeCheck(Protocol):
    """An extra intake check contributed by a plugin.

    .. versionadded:: 0.1
    """

    @property
    def name(self) -> str:
        """A stable id for the check, shown with its problems."""
        ...

    def __call__(self, referral: Referral) -> Sequence[str]:
        """Return the problems found, as field paths or codes (never PHI); empty when fine."""
        ...


@runtime_checkable
class RoutingRule(Protocol):
    """An extra routing rule contributed by a plugin; it decides nothing clinical.

    .. versionadded:: 0.1
    """

    @property
    def rule_id(self) -> str:
        """A stable id for the rule."""
        ...

    def evaluate(self, referral: Referral, now: datetime) -> RoutingSuggestion | None:
        """Return a suggestion to route the referral to a human queue, or ``None``."""
        ...


@runtime_checkable
class OutreachTemplate(Protocol):
    """A message template contributed by a plugin, rendered for one channel and language.

    .. versionadded:: 0.1
    """

    @property
    def template_id(self) -> str:
        """The id outreach policies name."""
        ...

    @property
    def channel(self) -> Channel:
        """The channel the rendered text is meant for."""
        ...

    @property
    def language(self) -> str:
        """The BCP 47 language of the text."""
        ...

    def render(self, fields: Mapping[str, str]) -> str:
        """Return the text with *fields* filled in; it must not add clinical details."""
        ...


def _patient(referral: Referral) -> Patient:
    if referral.patient is None:
        raise ValueError("the referral has no patient")
    return referral.patient
