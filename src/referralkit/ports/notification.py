"""The notification port: staff alerts, practice updates, patient email and letters."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Protocol, Self, runtime_checkable
from uuid import UUID

from pydantic import Field

from referralkit.model import (
    Address,
    Channel,
    Email,
    LanguageTag,
    Referral,
    ReferralStatus,
    TaskPriority,
    UtcDatetime,
)
from referralkit.ports.common import OutboundRequest, Receipt, _Id, _Text, idempotency_key

__all__ = [
    "LetterRequest",
    "NotificationAdapter",
    "PatientEmailRequest",
    "PracticeUpdateRequest",
    "StaffAlertRequest",
]


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
