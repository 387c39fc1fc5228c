"""What the sending practice keeps about a referral it sent (``Referral.outbound``).

The package the clinician released, one record per send (with the hash of the exact bytes
sent and where that copy is kept), the receiver's answers, the reports that came back (every
revision kept) and the clinician's reviews of them.

.. versionadded:: 0.4
"""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field

from referralkit.model.enums import (
    Channel,
    OutboundStatus,
    Priority,
    ReportDisposition,
)
from referralkit.model.types import NonEmpty, Record, UtcDatetime

__all__ = [
    "OutboundRecord",
    "PackageSend",
    "ReceivedReport",
    "ReferralPackage",
    "ReportReview",
    "Sha256",
]

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
"""A sha256 digest in lower-case hex."""


class ReferralPackage(Record):
    """What goes with a referral we send, chosen and then released by a person.

    :ivar reason: why we refer (free text; PHI, masked in ``repr()``).
    :ivar problems: the excerpt of the problem list that goes with it (PHI).
    :ivar documents: the documents that go with it, by reference (ids in the host's store).
    :ivar released_by: the person who reviewed and released it; ``None`` until then, and
        again after any change to the package (a changed package is reviewed again).
    """

    _phi: ClassVar[frozenset[str]] = frozenset({"reason", "problems"})
    reason: NonEmpty
    urgency: Priority = Priority.ROUTINE
    problems: tuple[NonEmpty, ...] = ()
    documents: tuple[NonEmpty, ...] = ()
    released_by: str | None = None
    released_at: UtcDatetime | None = None


class PackageSend(Record):
    """One send of the package: its own record, a re-send included.

    :ivar sha256: the hash of the exact bytes sent.
    :ivar copy_ref: where the host keeps that immutable copy (a document id or URI).
    :ivar delivered_at: when the channel confirmed delivery (not the receiver's answer).
    """

    attempt: Annotated[int, Field(ge=1)]
    sent_at: UtcDatetime
    channel: Channel
    sha256: Sha256
    copy_ref: NonEmpty
    delivered_at: UtcDatetime | None = None
    receipt_id: str | None = None


class ReceivedReport(Record):
    """A consult report that came back for the referral, by reference.

    Revisions of one report share *revision_of* (the first version's id); every one is kept.

    :ivar matched_by: ``referral_number``, ``identifiers`` or ``review`` (a person matched it).
    """

    report_id: NonEmpty
    revision: Annotated[int, Field(ge=1)] = 1
    revision_of: str | None = None
    received_at: UtcDatetime
    sha256: Sha256 | None = None
    matched_by: NonEmpty


class ReportReview(Record):
    """The referring clinician's review of one report revision."""

    _phi: ClassVar[frozenset[str]] = frozenset({"note"})
    report_id: NonEmpty
    reviewed_at: UtcDatetime
    reviewer: NonEmpty
    disposition: ReportDisposition
    note: str | None = None


class OutboundRecord(Record):
    """The sending side of a referral we sent: its state and what happened on the way.

    :ivar status: the state in the sending lifecycle (``docs/referring.md``).
    :ivar callbacks: ids of the channel receipts and receiver answers already applied, so a
        repeated callback changes nothing.
    :ivar patient_books: the patient books the visit themselves (they get the "did you book?"
        message through the outreach policy when no appointment comes).
    :ivar chased: the chases already done (``"ack:2"``: the acknowledgement chase after send 2).
    """

    _phi: ClassVar[frozenset[str]] = frozenset({"decline_note"})
    status: OutboundStatus = OutboundStatus.DRAFT
    package: ReferralPackage | None = None
    sends: tuple[PackageSend, ...] = ()
    callbacks: tuple[str, ...] = ()
    acknowledged_at: UtcDatetime | None = None
    accepted_at: UtcDatetime | None = None
    declined_at: UtcDatetime | None = None
    decline_reason: str | None = None
    decline_note: str | None = None
    seen_at: UtcDatetime | None = None
    reports: tuple[ReceivedReport, ...] = ()
    reviews: tuple[ReportReview, ...] = ()
    redirected_from: UUID | None = None
    redirected_to: UUID | None = None
    patient_books: bool = False
    chased: tuple[str, ...] = ()
    closed_reason: str | None = None
    unmatched_report: bool = False
    """A holding record for a report that matched no referral for certain (review queue)."""
