"""Trigger names of the sending lifecycle and the data each validates.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Final, Literal, get_args
from uuid import UUID

from pydantic import AwareDatetime, Field

from referralkit.lifecycle.triggers import ReasonData, TriggerData
from referralkit.model import Appointment, DeclineReason, PackageSend, ReceivedReport, ReportReview

__all__ = [
    "OUTBOUND_TRIGGERS",
    "OUTBOUND_TRIGGER_DATA",
    "AnswerData",
    "BookData",
    "OutboundTrigger",
    "ReceiveReportData",
    "ReceiverDeclineData",
    "RedirectToData",
    "ReviewReportData",
    "SeenData",
    "SendData",
]

OutboundTrigger = Literal[
    "send",
    "resend",
    "confirm_delivery",
    "acknowledge",
    "receiver_accept",
    "receiver_decline",
    "redirect_to",
    "book",
    "record_seen",
    "receive_report",
    "review_report",
    "withdraw",
    "mark_not_seen",
    "void",
]
OUTBOUND_TRIGGERS: Final[tuple[OutboundTrigger, ...]] = get_args(OutboundTrigger)
"""Every trigger of the sending lifecycle, in table order (no name is also a receiving one)."""


class SendData(TriggerData):
    """Data of ``send`` and ``resend``: the record of this send (its own, a re-send too)."""

    send: PackageSend


class AnswerData(TriggerData):
    """Data of a channel receipt or a receiver's answer.

    :ivar callback_id: the id the channel or receiver gave the message; the same id twice is
        applied once.
    :ivar at: when it happened, as the sender said (defaults to when it was recorded).
    """

    callback_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    at: AwareDatetime | None = None


class ReceiverDeclineData(AnswerData):
    """Data of ``receiver_decline``: the receiver's coded reason and optional note."""

    reason: DeclineReason
    note: Annotated[str, Field(max_length=1000)] | None = None


class RedirectToData(TriggerData):
    """Data of ``redirect_to``: the new referral (to another receiver) and why."""

    to_referral: UUID
    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class BookData(AnswerData):
    """Data of ``book``: the appointment the receiver (or the patient) booked."""

    appointment: Appointment


class SeenData(AnswerData):
    """Data of ``record_seen``: the patient was seen (``at``: when)."""


class ReceiveReportData(TriggerData):
    """Data of ``receive_report``: the report (or a revision of it) that came back."""

    report: ReceivedReport


class ReviewReportData(TriggerData):
    """Data of ``review_report``: the clinician's review of the latest report revision."""

    review: ReportReview


OUTBOUND_TRIGGER_DATA: Final[Mapping[OutboundTrigger, type[TriggerData]]] = {
    "send": SendData,
    "resend": SendData,
    "confirm_delivery": AnswerData,
    "acknowledge": AnswerData,
    "receiver_accept": AnswerData,
    "receiver_decline": ReceiverDeclineData,
    "redirect_to": RedirectToData,
    "book": BookData,
    "record_seen": SeenData,
    "receive_report": ReceiveReportData,
    "review_report": ReviewReportData,
    "withdraw": ReasonData,
    "mark_not_seen": ReasonData,
    "void": ReasonData,
}
"""The data model each sending-side trigger validates."""
