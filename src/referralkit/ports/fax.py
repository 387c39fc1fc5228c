"""The fax port: :class:`FaxRequest` and :class:`FaxAdapter`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal, Protocol, Self, runtime_checkable

from referralkit.model import PhoneE164, Referral
from referralkit.ports.common import (
    Capability,
    DocumentRef,
    OutboundRequest,
    Receipt,
    _Id,
    idempotency_key,
)

__all__ = ["FaxAdapter", "FaxRequest"]


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
