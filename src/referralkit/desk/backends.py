"""Backend calls through the plugin facade: the outbox, dispatch with retries, inbound messages."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID, uuid5

from referralkit.desk import consent as _consent
from referralkit.errors import (
    AdapterError,
    NoBackendError,
    PermanentAdapterError,
    TransientAdapterError,
)
from referralkit.events import Event
from referralkit.model import (
    Actor,
    ActorKind,
    Channel,
    Direction,
    HumanTask,
    Interaction,
    RecordsRequestStatus,
    Referral,
    Role,
    TaskPriority,
)
from referralkit.outbox import (
    ACTION_QUEUED,
    ACTION_SENT,
    TASK_OPENED,
    ActionStatus,
    DispatchOutcome,
    OutboxEntry,
    outbox_entries,
)
from referralkit.outreach.consent import is_opt_out
from referralkit.ports import (
    CallOutcome,
    DocumentList,
    DocumentsRequest,
    EventNotice,
    InboundFax,
    OutboundRequest,
    PatientLookupRequest,
    PatientRecord,
    Receipt,
    SmsReply,
)

if TYPE_CHECKING:
    from referralkit.desk.core import ReferralDesk

_log = logging.getLogger("referralkit.desk")

_OUTBOX_ACTOR: Final = Actor(kind=ActorKind.SYSTEM, id="referralkit.outbox", role=Role.SYSTEM)

_INBOUND_ACTOR: Final = Actor(
    kind=ActorKind.INTEGRATION, id="referralkit.inbound", role=Role.SYSTEM
)

_INBOUND_NS: Final = UUID("5b0f3c39-8a4e-4d0e-9d55-6f8f2b8f1a11")

_Outcomes = list[DispatchOutcome]


def _notify(desk: ReferralDesk, event: Event) -> None:
    # Called only after the event is committed: an observer can never corrupt state.
    if not desk.hooks.has_observers():
        return
    notice = EventNotice.from_event(event)
    desk.hooks.on_event(notice)
    if notice.is_transition:
        desk.hooks.on_transition(notice)


def call(desk: ReferralDesk, request: OutboundRequest) -> Receipt:
    """Implement :meth:`ReferralDesk.call` (documented there)."""
    return desk._invoker.call(request)


def dispatch(
    desk: ReferralDesk,
    request: OutboundRequest,
    *,
    queue: str = "outreach",
    expected_version: int | None = None,
) -> DispatchOutcome:
    """Implement :meth:`ReferralDesk.dispatch` (documented there)."""
    entry = desk.outbox(request.referral_id).get(request.idempotency_key)
    if entry is not None and entry.status != "queued":
        return DispatchOutcome(
            key=entry.key,
            referral_id=entry.referral_id,
            status=entry.status,
            task_id=entry.task_id,
            reason=entry.reason,
            replayed=True,
        )
    bound = desk._invoker.bind(request)
    if entry is None:
        desk.amend(
            request.referral_id,
            ACTION_QUEUED,
            actor=_OUTBOX_ACTOR,
            update={},
            data={
                "key": request.idempotency_key,
                "operation": request.operation,
                "adapter": desk.backends.get(request.capability),
                "request": request.model_dump(mode="json"),
            },
            expected_version=expected_version,
        )
    try:
        receipt = desk._invoker.send(bound, request)
    except TransientAdapterError as exc:
        return _action_task(desk, request.referral_id, request, "retries_exhausted", exc, queue)
    except PermanentAdapterError as exc:
        unexpected = exc.__cause__ is not None and not isinstance(exc.__cause__, AdapterError)
        reason = "unexpected" if unexpected else "permanent"
        return _action_task(desk, request.referral_id, request, reason, exc, queue)
    desk.amend(
        request.referral_id,
        ACTION_SENT,
        actor=_OUTBOX_ACTOR,
        update={},
        data={
            "key": request.idempotency_key,
            "provider_ref": receipt.provider_ref,
            "duplicate": receipt.duplicate,
        },
    )
    return DispatchOutcome(
        key=request.idempotency_key,
        referral_id=request.referral_id,
        status="sent",
        receipt=receipt,
    )


def outbox(desk: ReferralDesk, referral_id: UUID) -> dict[str, OutboxEntry]:
    """Implement :meth:`ReferralDesk.outbox` (documented there)."""
    return outbox_entries(desk.store.events(referral_id))


def recover(
    desk: ReferralDesk,
    referral_id: UUID,
    *,
    resend: bool = True,
    queue: str = "outreach",
    key: str | None = None,
) -> Sequence[DispatchOutcome]:
    """Implement :meth:`ReferralDesk.recover` (documented there)."""
    outcomes: _Outcomes = []
    for entry in desk.outbox(referral_id).values():
        if entry.status != "queued" or (key is not None and entry.key != key):
            continue
        request = entry.rebuild()
        if resend:
            try:
                outcomes.append(desk.dispatch(request, queue=queue))
                continue
            except NoBackendError:
                pass
        outcomes.append(_action_task(desk, referral_id, request, "crash_recovery", None, queue))
    return outcomes


def _action_task(
    desk: ReferralDesk,
    referral_id: UUID,
    request: OutboundRequest,
    reason: str,
    exc: AdapterError | None,
    queue: str,
) -> DispatchOutcome:
    status: ActionStatus = "unknown" if reason == "crash_recovery" else "failed"
    now = desk.clock.now()
    task = HumanTask(
        queue=queue,
        title=f"Outbound {request.operation} {status}",
        reason=f"{request.operation} {status}: {reason}",
        detail=None if exc is None else type(exc).__name__,
        priority=TaskPriority.HIGH,
        created_at=now,
        due_at=now + desk.task_due,
        rule_id="outbox",
    )
    _log.warning(
        "referral %s: action %s %s (%s); task %s opened",
        referral_id,
        request.operation,
        status,
        reason,
        task.id,
    )
    desk.amend(
        referral_id,
        TASK_OPENED,
        actor=_OUTBOX_ACTOR,
        update=lambda r: {"tasks": (*r.tasks, task)},
        data={
            "task_id": str(task.id),
            "queue": queue,
            "action": {
                "key": request.idempotency_key,
                "operation": request.operation,
                "status": status,
                "reason": reason,
            },
        },
    )
    return DispatchOutcome(
        key=request.idempotency_key,
        referral_id=referral_id,
        status=status,
        task_id=task.id,
        reason=reason,
    )


def fetch_patient(desk: ReferralDesk, request: PatientLookupRequest) -> PatientRecord:
    """Implement :meth:`ReferralDesk.fetch_patient` (documented there)."""
    ehr = desk.hooks.ehr(desk.backends.get("ehr"))
    return desk._invoker.retry(lambda: ehr.fetch_patient(request), operation="fetch_patient")


def fetch_documents(desk: ReferralDesk, request: DocumentsRequest) -> DocumentList:
    """Implement :meth:`ReferralDesk.fetch_documents` (documented there)."""
    ehr = desk.hooks.ehr(desk.backends.get("ehr"))
    return desk._invoker.retry(lambda: ehr.fetch_documents(request), operation="fetch_documents")


def record_call_outcome(desk: ReferralDesk, outcome: CallOutcome) -> Referral:
    """Implement :meth:`ReferralDesk.record_call_outcome` (documented there)."""
    interaction = Interaction(
        id=uuid5(_INBOUND_NS, f"call:{outcome.provider_ref}"),
        at=outcome.at,
        channel=Channel.VOICE,
        direction=Direction.OUTBOUND,
        outcome=outcome.outcome,
        summary=outcome.summary,
        actor_id=_INBOUND_ACTOR.id,
    )
    current = desk.get(outcome.referral_id)
    if any(i.id == interaction.id for i in current.interactions):
        return current
    return desk.amend(
        outcome.referral_id,
        "call_outcome_recorded",
        actor=_INBOUND_ACTOR,
        update=lambda r: {"interactions": (*r.interactions, interaction)},
        data={"interaction_id": str(interaction.id), "outcome": outcome.outcome},
    )


def record_sms_reply(desk: ReferralDesk, reply: SmsReply) -> Referral:
    """Implement :meth:`ReferralDesk.record_sms_reply` (documented there)."""
    interaction = Interaction(
        id=uuid5(_INBOUND_NS, f"sms:{reply.provider_ref}"),
        at=reply.at,
        channel=Channel.SMS,
        direction=Direction.INBOUND,
        outcome="reply",
        summary=reply.body,
        actor_id=_INBOUND_ACTOR.id,
    )
    current = desk.get(reply.referral_id)
    if any(i.id == interaction.id for i in current.interactions):
        return current
    opt_out = is_opt_out(reply.body)  # any case or punctuation; English and Spanish

    def update(referral: Referral) -> dict[str, Any]:
        values: dict[str, Any] = {"interactions": (*referral.interactions, interaction)}
        patient = referral.patient
        if opt_out and patient is not None:
            consent = patient.consent
            channels = consent.opted_out_channels
            if Channel.SMS not in channels:
                channels = (*channels, Channel.SMS)
            values["patient"] = patient.model_copy(
                update={
                    "consent": consent.model_copy(
                        update={"opted_out_channels": channels, "updated_at": reply.at}
                    )
                }
            )
        return values

    kind = "consent_opted_out" if opt_out else "sms_reply_received"
    referral = desk.amend(
        reply.referral_id,
        kind,
        actor=_INBOUND_ACTOR,
        update=update,
        data={"interaction_id": str(interaction.id), "channel": Channel.SMS.value},
    )
    if opt_out:
        # The patient said stop, not this referral: their other referrals stop texting too.
        _consent.propagate_opt_out(desk, referral, Channel.SMS, actor=_INBOUND_ACTOR)
    return referral


def receive_fax(desk: ReferralDesk, fax: InboundFax) -> Referral:
    """Implement :meth:`ReferralDesk.receive_fax` (documented there)."""
    interaction = Interaction(
        id=uuid5(_INBOUND_NS, f"fax:{fax.provider_ref}"),
        at=fax.received_at,
        channel=Channel.FAX,
        direction=Direction.INBOUND,
        outcome="received",
        actor_id=_INBOUND_ACTOR.id,
    )
    current = desk.get(fax.referral_id)
    if any(i.id == interaction.id for i in current.interactions):
        return current

    def update(referral: Referral) -> dict[str, Any]:
        requests = tuple(
            r.model_copy(
                update={
                    "status": RecordsRequestStatus.RECEIVED,
                    "documents": (*r.documents, fax.document.document_id),
                }
            )
            if r.id == fax.records_request_id
            else r
            for r in referral.records_requests
        )
        return {
            "interactions": (*referral.interactions, interaction),
            "records_requests": requests,
        }

    return desk.amend(
        fax.referral_id,
        "fax_received",
        actor=_INBOUND_ACTOR,
        update=update,
        data={
            "interaction_id": str(interaction.id),
            "document_id": fax.document.document_id,
            "records_request_id": (
                str(fax.records_request_id) if fax.records_request_id else None
            ),
        },
    )
