"""Inbound data handed to the desk: call outcomes, SMS replies and received faxes."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from referralkit.model import PhoneE164, UtcDatetime
from referralkit.ports.common import DocumentRef, Id, IdempotencyKey, Message

__all__ = ["CallOutcome", "InboundFax", "SmsReply"]


class CallOutcome(Message):
    """The outcome of an outbound call, reported by the telephony vendor.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"summary"})
    referral_id: UUID
    provider_ref: Id
    outcome: Literal[
        "answered", "voicemail", "no_answer", "busy", "failed", "wrong_number", "declined"
    ]
    at: UtcDatetime
    idempotency_key: IdempotencyKey | None = None
    duration_seconds: Annotated[int, Field(ge=0)] | None = None
    summary: str | None = None


class SmsReply(Message):
    """An SMS the patient sent back; ``STOP`` and its synonyms opt the patient out of SMS.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"from_number", "body"})
    referral_id: UUID
    provider_ref: Id
    from_number: PhoneE164
    body: Annotated[str, Field(max_length=1600)]
    at: UtcDatetime


class InboundFax(Message):
    """A fax received for a referral (the host matched it), e.g. records sent back.

    .. versionadded:: 0.1
    """

    phi_fields: ClassVar[frozenset[str]] = frozenset({"from_number"})
    referral_id: UUID
    provider_ref: Id
    from_number: PhoneE164 | None = None
    received_at: UtcDatetime
    document: DocumentRef
    records_request_id: UUID | None = None
