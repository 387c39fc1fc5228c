"""The telephony port: call and SMS requests and :class:`TelephonyAdapter`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Protocol, Self, runtime_checkable

from pydantic import Field, model_validator

from referralkit.model import LanguageTag, PhoneE164, PhoneExtension, Referral, UtcDatetime
from referralkit.ports.common import (
    Capability,
    Id,
    OutboundRequest,
    Receipt,
    idempotency_key,
    patient_of,
)

__all__ = ["CallRequest", "SmsRequest", "TelephonyAdapter"]


class CallRequest(OutboundRequest):
    """Place an outbound voice call that follows a script, inside a contact window.

    *to* is the dialable E.164 number; *extension*, when set, is dialled (as tones) once the
    line answers.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       *extension*.
    """

    operation: ClassVar[str] = "place_call"
    capability: ClassVar[Capability] = "telephony"
    phi_fields: ClassVar[frozenset[str]] = frozenset({"to", "extension"})
    to: PhoneE164
    extension: PhoneExtension | None = None
    script_id: Id
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
        patient = patient_of(referral)
        if len(patient.phones) <= phone_index:
            raise ValueError("the patient has no phone at that index")
        phone = patient.phones[phone_index]
        return cls(
            idempotency_key=idempotency_key(referral.id, action, attempt),
            referral_id=referral.id,
            to=phone.number,
            extension=phone.extension,
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
    template_id: Id
    body: Annotated[str, Field(min_length=1, max_length=640)]
    language: LanguageTag = "en"

    @classmethod
    def for_referral(
        cls, referral: Referral, *, action: str, attempt: int, template_id: str, body: str
    ) -> Self:
        """Build the request to the patient's first mobile phone that has not texted STOP.

        :raises ValueError: the patient has no such mobile phone.
        """
        patient = patient_of(referral)
        stopped = patient.consent.opted_out_numbers
        mobiles = [
            p.number
            for p in patient.phones
            if p.kind.value == "mobile" and p.number not in stopped
        ]
        if not mobiles:
            raise ValueError("the patient has no mobile phone that may be texted")
        return cls(
            idempotency_key=idempotency_key(referral.id, action, attempt),
            referral_id=referral.id,
            to=mobiles[0],
            template_id=template_id,
            body=body,
            language=patient.preferred_language,
        )


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
