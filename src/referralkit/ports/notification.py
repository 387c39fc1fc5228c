"""The notification port: staff alerts, practice updates, patient email and letters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, ClassVar, Protocol, Self, runtime_checkable
from uuid import UUID

from pydantic import Field, field_validator

from referralkit.model import (
    Address,
    Channel,
    Email,
    LanguageTag,
    Practice,
    Referral,
    ReferralStatus,
    TaskPriority,
    UtcDatetime,
)
from referralkit.ports.common import (
    DocumentRef,
    Id,
    Message,
    OutboundRequest,
    Receipt,
    Text,
    idempotency_key,
)

__all__ = [
    "LetterRequest",
    "NotificationAdapter",
    "PatientEmailRequest",
    "PracticeDigestEntry",
    "PracticeUpdateRequest",
    "StaffAlertRequest",
    "practice_destination",
]


class StaffAlertRequest(OutboundRequest):
    """Alert staff that a human task waits in a queue (no PHI: the task is looked up in-app).

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "alert_staff"
    task_id: UUID
    queue: Id
    title: Id
    priority: TaskPriority = TaskPriority.NORMAL
    due_at: UtcDatetime


def practice_destination(practice: Practice | None, *, ehr: bool = False) -> tuple[Channel, str]:
    """Return the channel and address a practice is written to.

    Its preferred channel when it has the address for it (email, portal id; the EHR, by the
    practice's id or NPI, only for a send that can go through the EHR: *ehr*), else its fax.

    :param ehr: the message can be pushed into the practice's EHR (a document, such as the
        consult report); milestone updates cannot, and go by fax to an EHR-preferring practice.
    :raises ValueError: the practice has no usable destination.

    .. versionadded:: 0.3
    """
    if practice is None:
        raise ValueError("no practice")
    if ehr and practice.preferred_channel is Channel.EHR:
        address = practice.id or practice.npi
        if address is not None:
            return Channel.EHR, address
    if practice.preferred_channel is Channel.EMAIL and practice.email is not None:
        return Channel.EMAIL, practice.email
    if practice.preferred_channel is Channel.PORTAL and practice.id is not None:
        return Channel.PORTAL, practice.id
    if practice.fax is None:
        raise ValueError("the practice has no fax number")
    return Channel.FAX, practice.fax


class PracticeDigestEntry(Message):
    """One referral's part of a practice's weekly digest: its number and milestone codes.

    Nothing more than a single practice update carries (no patient details).

    :ivar status: the state the referral's latest listed milestone left it in.

    .. versionadded:: 0.3
    """

    referral_id: UUID
    referral_number: str | None = None
    status: ReferralStatus
    milestones: tuple[Id, ...]


class PracticeUpdateRequest(OutboundRequest):
    """Tell the referring practice where its referral stands (closing the loop).

    :ivar status: the state the milestone left the referral in (from the committed event, not
        the referral's state when the update is sent).
    :ivar milestone: the distinct status code of the milestone (``"scheduled"``,
        ``"visit_completed"``, ``"report_sent"``...; see docs/coordination.md).
    :ivar documents: documents sent with the update (the consult report), by reference.

    .. versionadded:: 0.1
    .. versionchanged:: 0.3 *milestone* and *documents*; the practice's preferred channel.
    """

    operation: ClassVar[str] = "update_practice"
    practice_name: Id
    channel: Channel
    """Fax, email or portal (a plain :class:`Channel` so a queued request rebuilt from its
    JSON validates: a ``Literal`` of enum members refuses ``"fax"``)."""
    destination: Id
    referral_number: str | None = None
    status: ReferralStatus
    reason_code: str | None = None
    appointment_at: UtcDatetime | None = None
    milestone: Id | None = None
    documents: tuple[DocumentRef, ...] = ()
    milestones: tuple[Id, ...] = ()
    """A weekly digest's milestone codes, oldest first (*milestone* is then
    ``"weekly_digest"`` and the state, reason and appointment are the latest ones).

    .. versionadded:: 0.3"""
    referrals: tuple[PracticeDigestEntry, ...] = ()
    """A practice digest's referrals, each with its milestone codes, in referral id order.
    A digest covers every referral of the practice with milestones in the period: then
    *referral_id*, *referral_number* and *status* are the first entry's and *milestones*
    lists every entry's codes in order.

    .. versionadded:: 0.3"""

    @field_validator("channel")
    @classmethod
    def _practice_channel(cls, value: Channel) -> Channel:
        if value not in (Channel.FAX, Channel.EMAIL, Channel.PORTAL):
            raise ValueError("a practice is written to by fax, email or portal")
        return value

    @classmethod
    def for_referral(
        cls,
        referral: Referral,
        *,
        action: str,
        attempt: int,
        status: ReferralStatus | None = None,
        milestone: str | None = None,
        reason_code: str | None = None,
        appointment_at: datetime | None = None,
        documents: Sequence[DocumentRef] = (),
        milestones: Sequence[str] = (),
    ) -> Self:
        """Build an update to the referring practice on its preferred channel.

        Without *status*, the referral's current state, reason and appointment are sent.

        :raises ValueError: the referring practice has no usable destination.
        """
        practice = referral.referring_practice
        channel, destination = practice_destination(practice)
        assert practice is not None  # noqa: S101 - practice_destination checked it
        if status is None:
            appointment = referral.current_appointment
            reason = referral.status_reason
            status = referral.status
            reason_code = reason.code if reason is not None else None
            appointment_at = appointment.start if appointment is not None else None
        return cls(
            idempotency_key=idempotency_key(referral.id, action, attempt),
            referral_id=referral.id,
            practice_name=practice.name,
            channel=channel,
            destination=destination,
            referral_number=referral.referral_number,
            status=status,
            reason_code=reason_code,
            appointment_at=appointment_at,
            milestone=milestone,
            documents=tuple(documents),
            milestones=tuple(milestones),
        )


class PatientEmailRequest(OutboundRequest):
    """Send the patient an email rendered from an approved template.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "email_patient"
    phi_fields: ClassVar[frozenset[str]] = frozenset({"to", "subject", "body"})
    to: Email
    template_id: Id
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    body: Text
    language: LanguageTag = "en"


class LetterRequest(OutboundRequest):
    """Send the patient a printed letter through a print-and-mail vendor.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "send_letter"
    phi_fields: ClassVar[frozenset[str]] = frozenset({"recipient_name", "address", "body"})
    recipient_name: Id
    address: Address
    template_id: Id
    body: Annotated[str, Field(min_length=1, max_length=20_000)]
    language: LanguageTag = "en"


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
