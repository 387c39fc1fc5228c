"""Closing the loop: the consult report goes back to the referring practice.

:meth:`LoopService.send_report` records the report (by reference) on the referral, then sends
it through the :class:`~referralkit.desk.outbox.Outbox` on the practice's preferred channel
(pushed into its EHR, fax, email or portal; see
:func:`~referralkit.ports.notification.practice_destination`). An EHR push goes through the EHR
adapter's optional ``push_document`` (:class:`~referralkit.ports.DocumentPushRequest`); an EHR
adapter without it is no backend for it, and the report becomes a task like any failed send.
The loop counts as closed only when the report is delivered: the ``close_loop`` trigger is
fired in the same transaction that records the send. An undeliverable report (retries spent,
or a permanent fault) stays ``failed`` with a task for staff; sending again is a new attempt.

.. versionadded:: 0.3
"""

from __future__ import annotations

from uuid import UUID

import attrs

from referralkit.clock import Clock
from referralkit.desk.outbox import OUTBOX_ACTOR, Outbox
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.errors import InvalidTransitionError, NoBackendError
from referralkit.lifecycle import allowed_triggers
from referralkit.model import (
    Actor,
    Channel,
    ConsultReport,
    Referral,
    ReferralStatus,
    ReportDeliveryStatus,
)
from referralkit.outbox import DispatchOutcome
from referralkit.ports import (
    DocumentPushRequest,
    DocumentRef,
    FaxRequest,
    OutboundRequest,
    PracticeUpdateRequest,
    Receipt,
    idempotency_key,
)
from referralkit.ports.notification import practice_destination
from referralkit.store import Store

__all__ = ["LoopService", "report_delivered_step", "report_failed_step"]


_DELIVERED = frozenset({ReportDeliveryStatus.DELIVERED, ReportDeliveryStatus.ACKNOWLEDGED})


def _is_report(request: OutboundRequest) -> str | None:
    # The document id of a consult-report send, or None for any other action.
    if isinstance(request, DocumentPushRequest) and request.purpose == "consult_report":
        return request.documents[0].document_id
    if isinstance(request, FaxRequest) and request.purpose == "consult_report":
        return request.documents[0].document_id if request.documents else None
    if isinstance(request, PracticeUpdateRequest) and request.milestone == "report_sent":
        return request.documents[0].document_id if request.documents else None
    return None


def report_delivered_step(
    batch: Batch, request: OutboundRequest, receipt: Receipt | None = None
) -> None:
    """Outbox step: the report was delivered, so it is recorded and the loop is closed."""
    document_id = _is_report(request)
    report = batch.referral.consult_report
    if document_id is None or report is None or report.document_id != document_id:
        return
    batch.amend(
        "consult_report_delivered",
        actor=OUTBOX_ACTOR,
        update={
            "consult_report": report.model_copy(
                update={"status": ReportDeliveryStatus.DELIVERED, "delivered_at": batch.now}
            )
        },
        data={"document_id": document_id, "channel": report.channel.value},
    )
    if batch.referral.status is ReferralStatus.VISIT_COMPLETED:
        batch.fire("close_loop", actor=OUTBOX_ACTOR, data={"report_reference": document_id})


def report_failed_step(
    batch: Batch, request: OutboundRequest, receipt: Receipt | None = None
) -> None:
    """Outbox step: the report could not be delivered (the outbox opened the task)."""
    document_id = _is_report(request)
    report = batch.referral.consult_report
    if document_id is None or report is None or report.document_id != document_id:
        return
    batch.amend(
        "consult_report_failed",
        actor=OUTBOX_ACTOR,
        update={
            "consult_report": report.model_copy(update={"status": ReportDeliveryStatus.FAILED})
        },
        data={"document_id": document_id, "channel": report.channel.value},
    )


@attrs.define
class LoopService:
    """Sends the consult report back and records its delivery and acknowledgement."""

    uow: UnitOfWork
    store: Store
    clock: Clock
    outbox: Outbox

    def send_report(
        self, referral_id: UUID, report: DocumentRef, *, actor: Actor, queue: str = "referrals"
    ) -> DispatchOutcome:
        """Record *report* and send it to the referring practice; see the module doc.

        :raises InvalidTransitionError: the visit is not completed (or *actor* may not close
            the loop); nothing is written.
        :raises ValueError: the referring practice has no destination; nothing is written.
        :returns: the send's outcome: ``failed`` with a task in *queue* when it could not be
            delivered (retries spent, refused, or no adapter for the channel).
        """
        current = self.store.get(referral_id)
        done = current.consult_report
        if done is not None and done.status in _DELIVERED:
            # Already delivered: the same request replays the recorded outcome, sends nothing.
            return self.outbox.dispatch(self._request(current, report, done), queue=queue)
        if "close_loop" not in allowed_triggers(current, actor):
            raise InvalidTransitionError(
                "close_loop",
                current.status.value,
                allowed_triggers(current, actor),
                detail=f"the loop cannot be closed from {current.status.value!r} by this actor",
            )
        channel, _ = practice_destination(current.referring_practice, ehr=True)
        now = self.clock.now()

        def record(batch: Batch) -> None:
            previous = batch.referral.consult_report
            attempts = 1 if previous is None else previous.attempts + 1
            batch.amend(
                "consult_report_recorded",
                actor=actor,
                update={
                    "consult_report": ConsultReport(
                        document_id=report.document_id,
                        channel=channel,
                        attempts=attempts,
                        recorded_at=now,
                    )
                },
                data={"document_id": report.document_id, "attempt": attempts},
            )

        referral = self.uow.commit(referral_id, record)
        recorded = referral.consult_report
        assert recorded is not None  # noqa: S101 - recorded just above
        request = self._request(referral, report, recorded)
        try:
            return self.outbox.dispatch(request, queue=queue)
        except NoBackendError:
            # No adapter can carry it (an EHR without document push): a person delivers it.
            return self.outbox.action_task(request, "no_backend", None, queue)

    def acknowledge(self, referral_id: UUID, *, actor: Actor) -> Referral:
        """Record that the referring practice acknowledged the delivered report.

        :raises ValueError: no delivered report to acknowledge.
        """

        def decide(batch: Batch) -> None:
            report = batch.referral.consult_report
            if report is None or report.status is not ReportDeliveryStatus.DELIVERED:
                raise ValueError("no delivered consult report to acknowledge")
            batch.amend(
                "consult_report_acknowledged",
                actor=actor,
                update={
                    "consult_report": report.model_copy(
                        update={
                            "status": ReportDeliveryStatus.ACKNOWLEDGED,
                            "acknowledged_at": batch.now,
                        }
                    )
                },
                data={"document_id": report.document_id},
            )

        return self.uow.commit(referral_id, decide)

    @staticmethod
    def _request(
        referral: Referral, report: DocumentRef, recorded: ConsultReport
    ) -> OutboundRequest:
        action = f"consult_report@{recorded.document_id}"
        if recorded.channel is Channel.EHR:
            practice = referral.referring_practice
            recipient = (practice.id or practice.npi) if practice is not None else None
            if practice is None or recipient is None:
                raise ValueError("the referring practice has no EHR address (id or NPI)")
            return DocumentPushRequest(
                idempotency_key=idempotency_key(referral.id, action, recorded.attempts),
                referral_id=referral.id,
                recipient=recipient,
                recipient_name=practice.name,
                recipient_npi=practice.npi,
                referral_number=referral.referral_number,
                documents=(report,),
            )
        if recorded.channel is Channel.FAX:
            return FaxRequest.for_referral(
                referral,
                action=action,
                attempt=recorded.attempts,
                purpose="consult_report",
                documents=(report,),
            )
        return PracticeUpdateRequest.for_referral(
            referral,
            action=action,
            attempt=recorded.attempts,
            status=ReferralStatus.CLOSED,
            milestone="report_sent",
            documents=(report,),
        )
