"""The fax port: :class:`FaxRequest` and :class:`FaxAdapter`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal, Protocol, Self, runtime_checkable
from uuid import UUID

from referralkit.model import PhoneE164, Referral
from referralkit.ports.common import (
    Capability,
    DocumentRef,
    Id,
    OutboundRequest,
    Receipt,
    idempotency_key,
)

__all__ = ["FaxAdapter", "FaxPurpose", "FaxRequest"]

FaxPurpose = Literal["records_request", "status_letter", "referral_packet", "consult_report"]
"""What a fax is for; the adapter prints it on the cover.

.. versionchanged:: 0.3 ``consult_report``: the specialist's report back to the referrer."""


class FaxRequest(OutboundRequest):
    """Send a fax to a practice: a coded cover plus referenced documents.

    The cover names the purpose, the practice and the referral number; clinical content is only
    in the referenced documents, which the adapter fetches from the host.

    .. versionadded:: 0.1
    """

    operation: ClassVar[str] = "send_fax"
    capability: ClassVar[Capability] = "fax"
    to: PhoneE164
    purpose: FaxPurpose
    recipient_name: Id
    referral_number: str | None = None
    documents: tuple[DocumentRef, ...] = ()
    records_request_id: UUID | None = None
    """The records request a ``records_request`` fax asks for (printed on the cover so the
    answer can be matched back to it).

    .. versionadded:: 0.3"""

    @classmethod
    def for_referral(
        cls,
        referral: Referral,
        *,
        action: str,
        attempt: int,
        purpose: FaxPurpose,
        documents: Sequence[DocumentRef] = (),
        to_receiving: bool = False,
        records_request_id: UUID | None = None,
    ) -> Self:
        """Build a fax to the referring (or receiving) practice's fax number.

        A ``records_request`` fax for a request that names another provider's fax number
        (:attr:`~referralkit.model.RecordsRequest.from_fax`) goes to that number instead.

        :raises ValueError: that practice has no fax number.

        .. versionchanged:: 0.3 *records_request_id*.
        """
        practice = referral.receiving_practice if to_receiving else referral.referring_practice
        asked = next((r for r in referral.records_requests if r.id == records_request_id), None)
        if asked is not None and asked.from_fax is not None:
            to, name = asked.from_fax, asked.from_practice or "Records department"
        elif practice is None or practice.fax is None:
            raise ValueError("the practice has no fax number")
        else:
            to, name = practice.fax, practice.name
        return cls(
            idempotency_key=idempotency_key(referral.id, action, attempt),
            referral_id=referral.id,
            to=to,
            purpose=purpose,
            recipient_name=name,
            referral_number=referral.referral_number,
            documents=tuple(documents),
            records_request_id=records_request_id,
        )


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
