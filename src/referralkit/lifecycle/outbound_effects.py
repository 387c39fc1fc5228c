"""What each sending-side trigger records besides the state.

.. versionadded:: 0.4
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from referralkit.lifecycle.outbound_triggers import (
    AnswerData,
    BookData,
    OutboundTrigger,
    ReceiverDeclineData,
    ReceiveReportData,
    RedirectToData,
    ReviewReportData,
    SendData,
)
from referralkit.lifecycle.triggers import ReasonData, TriggerData
from referralkit.model import OutboundRecord, OutboundStatus, Referral

__all__ = ["outbound_effects"]


def _callbacks(record: OutboundRecord, data: TriggerData) -> tuple[str, ...]:
    callback_id = data.callback_id if isinstance(data, AnswerData) else None
    if callback_id is None or callback_id in record.callbacks:
        return record.callbacks
    return (*record.callbacks, callback_id)


def outbound_effects(
    referral: Referral,
    trigger: OutboundTrigger,
    data: TriggerData,
    dest: OutboundStatus,
    now: datetime,
) -> dict[str, Any]:
    """Return the referral fields *trigger* changes (always a new ``outbound`` record)."""
    record = referral.outbound or OutboundRecord()
    at = data.at if isinstance(data, AnswerData) and data.at is not None else now
    changes: dict[str, Any] = {"status": dest, "callbacks": _callbacks(record, data)}
    update: dict[str, Any] = {}
    match trigger:
        case "send" | "resend":
            assert isinstance(data, SendData)  # noqa: S101 - TRIGGER_DATA says so
            changes["sends"] = (*record.sends, data.send)
        case "confirm_delivery":
            if record.sends:
                last = record.sends[-1]
                changes["sends"] = (
                    *record.sends[:-1],
                    last.model_copy(update={"delivered_at": at}),
                )
        case "acknowledge":
            changes["acknowledged_at"] = record.acknowledged_at or at
        case "receiver_accept":
            changes["accepted_at"] = record.accepted_at or at
        case "receiver_decline":
            assert isinstance(data, ReceiverDeclineData)  # noqa: S101
            changes.update(
                declined_at=at, decline_reason=data.reason.value, decline_note=data.note
            )
        case "redirect_to":
            assert isinstance(data, RedirectToData)  # noqa: S101
            changes.update(redirected_to=data.to_referral, closed_reason=data.reason)
        case "book":
            assert isinstance(data, BookData)  # noqa: S101
            changes["accepted_at"] = record.accepted_at or at
            update["appointments"] = (*referral.appointments, data.appointment)
        case "record_seen":
            changes["seen_at"] = at
        case "receive_report":
            assert isinstance(data, ReceiveReportData)  # noqa: S101
            changes["reports"] = (*record.reports, data.report)
            changes["seen_at"] = record.seen_at or data.report.received_at
        case "review_report":
            assert isinstance(data, ReviewReportData)  # noqa: S101
            changes["reviews"] = (*record.reviews, data.review)
        case "withdraw" | "mark_not_seen" | "void":
            assert isinstance(data, ReasonData)  # noqa: S101
            changes["closed_reason"] = data.reason
    update["outbound"] = record.model_copy(update=changes)
    return update
