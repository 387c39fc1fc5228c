"""Shared port data: idempotency keys, the PHI-masking message base, receipts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from referralkit.model import MASK, Patient, Referral, UtcDatetime
from referralkit.model.types import refuse_unstorable_text

__all__ = [
    "OPTIONAL_OPERATIONS",
    "PORT_OPERATIONS",
    "Capability",
    "DocumentRef",
    "IdempotencyKey",
    "OutboundRequest",
    "Receipt",
    "idempotency_key",
    "supported_operations",
]

Capability = Literal["telephony", "ehr", "fax", "notification"]
"""The four backend kinds a host picks an adapter for."""

PORT_OPERATIONS: Final[Mapping[Capability, frozenset[str]]] = MappingProxyType(
    {
        "telephony": frozenset({"place_call", "send_sms"}),
        "ehr": frozenset(
            {
                "fetch_patient",
                "fetch_documents",
                "push_status",
                "book_appointment",
                "cancel_appointment",
            }
        ),
        "fax": frozenset({"send_fax"}),
        "notification": frozenset(
            {"alert_staff", "update_practice", "email_patient", "send_letter"}
        ),
    }
)
"""Every operation of each port: what an adapter that declares nothing is taken to support.

.. versionadded:: 0.3"""


OPTIONAL_OPERATIONS: Final[Mapping[Capability, frozenset[str]]] = MappingProxyType(
    {
        "telephony": frozenset(),
        "ehr": frozenset({"find_slots", "log_interaction", "push_task", "push_document"}),
        "fax": frozenset(),
        "notification": frozenset(),
    }
)
"""Operations outside the port's protocol that an adapter may offer (``find_slots``,
``push_document``...).

.. versionadded:: 0.3"""


def supported_operations(adapter: object, capability: Capability) -> frozenset[str]:
    """Return the operations *adapter* supports.

    An adapter declares them with a ``supported_operations`` attribute (a set of port method
    names: an SMS-only vendor declares ``{"send_sms"}``, a read-only EHR ``{"fetch_patient",
    "fetch_documents"}``); an adapter without the attribute is taken to support its whole
    port (:data:`PORT_OPERATIONS`), as before 0.3, and the optional operations it has
    (:data:`OPTIONAL_OPERATIONS`).

    .. versionadded:: 0.3
    """
    declared = getattr(adapter, "supported_operations", None)
    if declared is None:
        offered = {op for op in OPTIONAL_OPERATIONS[capability] if hasattr(adapter, op)}
        return PORT_OPERATIONS[capability] | offered
    return frozenset(declared)


IdempotencyKey = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
"""A sha256 hex digest made by :func:`idempotency_key`."""

Id = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(min_length=1, max_length=1600)]


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


class Message(BaseModel):
    """Base of port data: frozen, strict, no unknown fields, PHI masked in repr."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, hide_input_in_errors=True, defer_build=True
    )
    phi_fields: ClassVar[frozenset[str]] = frozenset()
    # Inbound messages become interactions on a referral: the same text rule as the models.
    _text_is_storable = field_validator("*", mode="after")(refuse_unstorable_text)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in self.phi_fields and value not in (None, "", ()):
                yield name, MASK
            else:
                yield name, value


class DocumentRef(Message):
    """A reference to a stored document; the content stays in the host's document store.

    .. versionadded:: 0.1
    """

    document_id: Id
    kind: Id
    content_type: str = "application/pdf"
    pages: Annotated[int, Field(ge=1)] | None = None


class OutboundRequest(Message):
    """Base of every request that has a side effect outside referralkit.

    :ivar operation: the port method that carries it (class constant).
    :ivar capability: which kind of adapter serves it (class constant).

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = ""
    capability: ClassVar[Capability] = "notification"
    idempotency_key: IdempotencyKey
    referral_id: UUID


class Receipt(Message):
    """An adapter's acknowledgement that it accepted an outbound request.

    :ivar provider_ref: the vendor's id for the message, call, fax or booking.
    :ivar duplicate: ``True`` when the key was seen before and nothing new was sent.

    .. versionadded:: 0.1
    """

    idempotency_key: IdempotencyKey
    provider_ref: Id
    accepted_at: UtcDatetime
    duplicate: bool = False


def patient_of(referral: Referral) -> Patient:
    if referral.patient is None:
        raise ValueError("the referral has no patient")
    return referral.patient
