"""Records transfer: ask for medical records, follow them in, and say what is still missing.

A request names who holds the records (the referring practice, another provider, the
patient's EHR), the document kinds needed, when they are needed (a number of business days
before the visit) and the channel. Its sub-status moves by amendments, never lifecycle
triggers::

    requested --(request fax sent)--> sent --(some kinds in)--> partially_received
        --(every kind in)--> received;      any open state --> failed | waived (staff)

Fax requests are chased by the outreach planner's ``records_follow_up`` cadence (request fax,
reminder fax, then a task in the records queue) until received; required records still open a
few business days before the visit open a task (:class:`~referralkit.outreach.RecordsRules`).
Documents are attached by reference (:class:`~referralkit.model.ReceivedDocument`): the bytes
stay in the host's document store.

.. versionadded:: 0.3
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Final
from uuid import UUID

import attrs

from referralkit.clock import Clock
from referralkit.desk.outbox import Outbox
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.errors import AdapterError, NoBackendError
from referralkit.model import (
    Actor,
    ActorKind,
    Appointment,
    HumanTask,
    PhoneE164,
    ReceivedDocument,
    RecordsChannel,
    RecordsRequest,
    RecordsRequestStatus,
    RecordsSource,
    Referral,
    Role,
    TaskPriority,
)
from referralkit.outreach.windows import BusinessCalendar, WeekdayCalendar, business_days_before
from referralkit.ports import (
    DocumentRef,
    DocumentsRequest,
    FaxRequest,
    OutboundRequest,
    Receipt,
)
from referralkit.ports.common import idempotency_key
from referralkit.store import Store

__all__ = [
    "RECORDS_ACTOR",
    "RecordsService",
    "attach_documents",
    "follow_visit",
    "match_fax",
    "needed_before_visit",
    "records_sent_step",
]

_log = logging.getLogger("referralkit.desk")

RECORDS_ACTOR: Final = Actor(kind=ActorKind.SYSTEM, id="referralkit.records", role=Role.SYSTEM)
"""The actor automatic records changes (sent, fetched, matched) are recorded under."""


def _replace(referral: Referral, changed: RecordsRequest) -> tuple[RecordsRequest, ...]:
    return tuple(changed if r.id == changed.id else r for r in referral.records_requests)


def _find(referral: Referral, request_id: UUID) -> RecordsRequest:
    for request in referral.records_requests:
        if request.id == request_id:
            return request
    raise KeyError(f"referral {referral.id} has no records request {request_id}")


def records_sent_step(
    batch: Batch, request: OutboundRequest, receipt: Receipt | None = None
) -> None:
    """Outbox step: a records request fax went out, so the request is ``sent``."""
    if not isinstance(request, FaxRequest) or request.records_request_id is None:
        return
    asked = next(
        (r for r in batch.referral.records_requests if r.id == request.records_request_id), None
    )
    if asked is None or asked.status is not RecordsRequestStatus.REQUESTED:
        return
    sent = asked.model_copy(update={"status": RecordsRequestStatus.SENT})
    batch.amend(
        "records_request_sent",
        actor=RECORDS_ACTOR,
        update={"records_requests": _replace(batch.referral, sent)},
        data={"records_request_id": str(asked.id), "key": request.idempotency_key},
    )


def attach_documents(
    batch: Batch, request_id: UUID, documents: Sequence[ReceivedDocument], actor: Actor
) -> None:
    """Attach *documents* to the request in *batch* (already attached ones are ignored)."""
    asked = _find(batch.referral, request_id)
    changed = asked.with_documents(tuple(documents))
    if changed is asked:
        return  # every document was already attached: a repeated report changes nothing
    new = [d.document_id for d in changed.received[len(asked.received) :]]
    batch.amend(
        "records_received",
        actor=actor,
        update={"records_requests": _replace(batch.referral, changed)},
        data={
            "records_request_id": str(request_id),
            "document_ids": new,
            "status": changed.status.value,
            "missing": list(changed.missing_kinds),
        },
    )


def needed_before_visit(
    appointment: Appointment | None, business_days: int, calendar: BusinessCalendar
) -> datetime | None:
    """Return when records are needed: *business_days* before the visit, at its time of day.

    ``None`` when no visit is booked (nothing to be in time for).

    .. versionadded:: 0.3
    """
    if appointment is None:
        return None
    day = business_days_before(appointment.start.date(), business_days, calendar)
    return datetime.combine(day, appointment.start.timetz())


def _visit(referral: Referral) -> tuple[UUID, datetime] | None:
    appointment = referral.current_appointment
    return (appointment.id, appointment.start) if appointment is not None else None


def follow_visit(batch: Batch, loaded: Referral, calendar: BusinessCalendar) -> None:
    """Unit-of-work reaction: a moved visit moves the ``needed_by`` of open records requests.

    Only requests asked for relative to the visit (``needed_days_before_visit``) follow it;
    a fixed ``needed_by`` stays. The change commits with the move (``records_needed_by_moved``),
    so the pre-visit "records missing" check and the status answers read the new date.
    """
    referral = batch.referral
    if referral.appointments is loaded.appointments or not referral.records_requests:
        return  # the visits are untouched (most commits): nothing to follow
    if _visit(referral) == _visit(loaded):
        return
    appointment = referral.current_appointment
    moved: list[RecordsRequest] = []
    for request in referral.records_requests:
        if not request.is_open or request.needed_days_before_visit is None:
            continue
        due = needed_before_visit(appointment, request.needed_days_before_visit, calendar)
        if due != request.needed_by:
            moved.append(request.model_copy(update={"needed_by": due}))
    if not moved:
        return
    changed = {r.id: r for r in moved}
    batch.amend(
        "records_needed_by_moved",
        actor=RECORDS_ACTOR,
        update={
            "records_requests": tuple(changed.get(r.id, r) for r in referral.records_requests)
        },
        data={
            "records_request_ids": [str(r.id) for r in moved],
            "needed_by": moved[0].needed_by.isoformat() if moved[0].needed_by else None,
            "appointment_id": str(appointment.id) if appointment is not None else None,
        },
    )


@attrs.define
class RecordsService:
    """Requests, receives, waives and fails records requests; fetches them from the EHR.

    :ivar calendar: business days for "N business days before the visit".
    :ivar task_due: how long staff have for a task this service opens.
    """

    uow: UnitOfWork
    store: Store
    clock: Clock
    outbox: Outbox
    calendar: BusinessCalendar = attrs.field(factory=WeekdayCalendar)

    def follow_visit(self, batch: Batch, loaded: Referral) -> None:
        """Unit-of-work reaction: :func:`follow_visit` on this service's business calendar."""
        follow_visit(batch, loaded, self.calendar)

    def request(
        self,
        referral_id: UUID,
        *,
        actor: Actor,
        kinds: Sequence[str] = (),
        source: RecordsSource = RecordsSource.REFERRING_PRACTICE,
        channel: RecordsChannel = RecordsChannel.FAX,
        needed_days_before_visit: int | None = None,
        needed_by: datetime | None = None,
        from_practice: str | None = None,
        from_fax: PhoneE164 | None = None,
        required: bool = True,
    ) -> Referral:
        """Open a records request (see :meth:`~referralkit.desk.ReferralDesk.request_records`).

        :raises ValueError: a fax request with no number to send it to, or a negative number of
            days.
        """
        if needed_days_before_visit is not None and needed_days_before_visit < 0:
            raise ValueError("needed_days_before_visit must not be negative")
        now = self.clock.now()
        fixed = needed_by

        def decide(batch: Batch) -> None:
            referral = batch.referral
            practice = referral.referring_practice
            no_number = practice is None or practice.fax is None
            if channel is RecordsChannel.FAX and from_fax is None and no_number:
                raise ValueError("a fax records request needs a fax number")
            needed = fixed
            relative = needed_days_before_visit if fixed is None else None
            if relative is not None:
                needed = needed_before_visit(referral.current_appointment, relative, self.calendar)
            asked = RecordsRequest(
                requested_at=now,
                due_at=now,  # the first request fax goes out on the next sweep
                needed_by=needed,
                needed_days_before_visit=relative,
                source=source,
                channel=channel,
                kinds=tuple(kinds),
                required=required,
                from_practice=from_practice
                or (
                    practice.name
                    if practice and source is RecordsSource.REFERRING_PRACTICE
                    else None
                ),
                from_fax=from_fax,
            )
            batch.amend(
                "records_requested",
                actor=actor,
                update={"records_requests": (*referral.records_requests, asked)},
                data={
                    "records_request_id": str(asked.id),
                    "kinds": list(asked.kinds),
                    "source": source.value,
                    "channel": channel.value,
                    "needed_by": needed.isoformat() if needed else None,
                },
            )

        referral = self.uow.commit(referral_id, decide)
        if channel is RecordsChannel.EHR:
            referral = self.fetch(referral_id, referral.records_requests[-1].id)
        return referral

    def fetch(self, referral_id: UUID, request_id: UUID) -> Referral:
        """Fetch the request's documents from the EHR and attach those of the kinds asked for.

        The request is ``sent`` once the EHR answered; kinds the EHR does not have stay
        missing. A failing (or absent) EHR opens a task in the records queue instead.
        """
        referral = self.store.get(referral_id)
        asked = _find(referral, request_id)
        mrn = referral.patient.mrn if referral.patient is not None else None
        attempt = 1 + len(asked.received)  # a later fetch (more documents) is a new read
        if mrn is None:
            return self._task(referral_id, request_id, "records_fetch_no_mrn")
        try:
            found = self.outbox.fetch_documents(
                DocumentsRequest(
                    idempotency_key=idempotency_key(
                        referral_id, f"records_fetch@{request_id.hex[:12]}", attempt
                    ),
                    referral_id=referral_id,
                    mrn=mrn,
                    kinds=asked.kinds,
                )
            )
        except (AdapterError, NoBackendError) as exc:
            _log.warning("referral %s: records fetch failed (%s)", referral_id, type(exc).__name__)
            return self._task(referral_id, request_id, "records_fetch_failed")
        now = self.clock.now()
        wanted = set(asked.kinds)
        documents = [
            ReceivedDocument(
                document_id=d.document_id, kind=d.kind, received_at=now, via=RecordsChannel.EHR
            )
            for d in found.documents
            if not wanted or d.kind in wanted
        ]

        def decide(batch: Batch) -> None:
            current = _find(batch.referral, request_id)
            if current.status is RecordsRequestStatus.REQUESTED:
                sent = current.model_copy(update={"status": RecordsRequestStatus.SENT})
                batch.amend(
                    "records_request_sent",
                    actor=RECORDS_ACTOR,
                    update={"records_requests": _replace(batch.referral, sent)},
                    data={"records_request_id": str(request_id), "key": found.idempotency_key},
                )
            attach_documents(batch, request_id, documents, RECORDS_ACTOR)

        return self.uow.commit(referral_id, decide)

    def receive(
        self,
        referral_id: UUID,
        request_id: UUID,
        documents: Sequence[DocumentRef],
        *,
        actor: Actor,
        via: RecordsChannel = RecordsChannel.FAX,
    ) -> Referral:
        """Attach received *documents* (by reference) to the request; see the module doc.

        :raises KeyError: the referral has no such request.
        """
        now = self.clock.now()
        received = [
            ReceivedDocument(document_id=d.document_id, kind=d.kind, received_at=now, via=via)
            for d in documents
        ]
        return self.uow.commit(
            referral_id, lambda batch: attach_documents(batch, request_id, received, actor)
        )

    def close(
        self,
        referral_id: UUID,
        request_id: UUID,
        status: RecordsRequestStatus,
        *,
        actor: Actor,
        reason: str,
    ) -> Referral:
        """End an open request as ``waived`` or ``failed``, with why (kept off logs).

        :raises ValueError: *status* is neither, or the request is already closed.
        :raises KeyError: the referral has no such request.
        """
        if status not in (RecordsRequestStatus.WAIVED, RecordsRequestStatus.FAILED):
            raise ValueError("a records request is closed as waived or failed")

        def decide(batch: Batch) -> None:
            asked = _find(batch.referral, request_id)
            if not asked.is_open:
                raise ValueError(f"records request {request_id} is already {asked.status.value}")
            closed = asked.model_copy(update={"status": status, "reason": reason})
            batch.amend(
                f"records_{status.value}",
                actor=actor,
                update={"records_requests": _replace(batch.referral, closed)},
                data={"records_request_id": str(request_id)},
            )

        return self.uow.commit(referral_id, decide)

    def _task(self, referral_id: UUID, request_id: UUID, reason: str) -> Referral:
        now = self.clock.now()
        task = HumanTask(
            queue="records",
            title="Records request needs a person",
            reason=reason,
            priority=TaskPriority.HIGH,
            created_at=now,
            due_at=now + self.outbox.task_due,
            rule_id="records",
        )

        def decide(batch: Batch) -> None:
            batch.amend(
                "task_opened",
                actor=RECORDS_ACTOR,
                update=lambda r: {"tasks": (*r.tasks, task)},
                data={
                    "task_id": str(task.id),
                    "queue": task.queue,
                    "records_request_id": str(request_id),
                    "reason": reason,
                },
            )

        return self.uow.commit(referral_id, decide)


def match_fax(referral: Referral, request_id: UUID | None, from_number: str | None) -> UUID | None:
    """Return the open records request an inbound fax answers, or ``None`` if unclear.

    The request the host named wins; else the one open fax request, or the one open request
    whose fax number (or the referring practice's) sent it.
    """
    if request_id is not None:
        return request_id
    open_requests = [r for r in referral.records_requests if r.is_open]
    if len(open_requests) == 1:
        return open_requests[0].id
    practice_fax = referral.referring_practice.fax if referral.referring_practice else None
    by_number = [
        r
        for r in open_requests
        if from_number is not None and (r.from_fax or practice_fax) == from_number
    ]
    return by_number[0].id if len(by_number) == 1 else None
