"""The outbox service: the only caller of outbound adapters.

Crash model (the ledger's events are in :mod:`referralkit.outreach.ledger`)::

    action_queued committed  ->  check, send (retries: check before each attempt)  ->
        action_sent | action_cancelled (refused) | task_opened {action: failed}

A crash after ``action_queued`` leaves the action queued. :meth:`Outbox.recover` (and the
sweep, through it) first commits an ``action_claimed`` event checked against the version it
read, so of two workers holding the same stale version only one may send; then it runs the
same check as a first send (consent, the patient-local window, the state the action was
planned for) and re-sends with the original idempotency key, or records why not.

.. versionadded:: 0.2
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Final
from uuid import UUID

import attrs

from referralkit.clock import Clock
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.errors import (
    AdapterError,
    ConflictError,
    NoBackendError,
    PermanentAdapterError,
    SendRefusedError,
    TransientAdapterError,
)
from referralkit.model import Actor, ActorKind, HumanTask, Referral, Role, TaskPriority
from referralkit.outbox import DispatchOutcome, DispatchStatus, Invoker
from referralkit.outreach.guard import Refusal, contact_refusal
from referralkit.outreach.ledger import (
    ACTION_CANCELLED,
    ACTION_CLAIMED,
    ACTION_QUEUED,
    ACTION_SENT,
    TASK_OPENED,
    ActionStatus,
    OutboxEntry,
    read_ledger,
)
from referralkit.outreach.policy import Policy
from referralkit.ports import (
    DocumentList,
    DocumentsRequest,
    OutboundRequest,
    PatientLookupRequest,
    PatientRecord,
    Receipt,
    SlotList,
    SlotsRequest,
)
from referralkit.store import Store

__all__ = ["OUTBOX_ACTOR", "ActionStep", "Outbox"]

_log = logging.getLogger("referralkit.desk")

OUTBOX_ACTOR: Final = Actor(kind=ActorKind.SYSTEM, id="referralkit.outbox", role=Role.SYSTEM)
"""The actor the outbox records its events under."""


ActionStep = Callable[[Batch, OutboundRequest, Receipt | None], None]
"""Adds what follows from an action's outcome to the batch that records the outcome (with
the receipt when the action was sent)."""


@attrs.define
class Outbox:
    """Records outbound actions, sends them through adapters, and records what happened.

    :ivar policy: the contact rules (windows) every patient contact is checked against.
    :ivar task_due: how long staff have for a task opened by a failed action.
    :ivar on_sent: steps that add to the batch recording a sent action (a records request
        becomes ``sent``, a consult report ``delivered``), so the two commit together.
    :ivar on_failed: steps that add to the batch recording a failed action and its task.
    """

    uow: UnitOfWork
    store: Store
    clock: Clock
    invoker: Invoker
    policy: Callable[[], Policy]
    task_due: timedelta = timedelta(hours=4)
    on_sent: list[ActionStep] = attrs.field(factory=list)
    on_failed: list[ActionStep] = attrs.field(factory=list)

    # -- reads through the EHR ------------------------------------------------------------

    def fetch_patient(self, request: PatientLookupRequest) -> PatientRecord:
        """Fetch demographics and coverage from the EHR adapter, with retries."""
        ehr = self.invoker.hooks.ehr(self.invoker.backends.get("ehr"), "fetch_patient")
        return self.invoker.retry(lambda: ehr.fetch_patient(request), operation="fetch_patient")

    def find_slots(self, request: SlotsRequest) -> SlotList:
        """Ask the EHR adapter for open slots, with retries.

        :raises NoBackendError: no EHR adapter offers ``find_slots``.
        """
        ehr = self.invoker.supporting(
            self.invoker.hooks.ehr(self.invoker.backends.get("ehr"), "find_slots"),
            "ehr",
            "find_slots",
        )
        finder = getattr(ehr, "find_slots")  # noqa: B009 - an optional operation
        return self.invoker.retry(lambda: finder(request), operation="find_slots")  # type: ignore[no-any-return]

    def fetch_documents(self, request: DocumentsRequest) -> DocumentList:
        """Fetch document references from the EHR adapter, with retries."""
        ehr = self.invoker.hooks.ehr(self.invoker.backends.get("ehr"), "fetch_documents")
        return self.invoker.retry(
            lambda: ehr.fetch_documents(request), operation="fetch_documents"
        )

    # -- outbound actions -----------------------------------------------------------------

    def call(self, request: OutboundRequest) -> Receipt:
        """Send *request* now with retries, without recording it (see :meth:`dispatch`)."""
        return self.invoker.call(request)

    def entries(self, referral_id: UUID) -> dict[str, OutboxEntry]:
        """Return the referral's outbound actions by idempotency key, in queue order."""
        return dict(read_ledger(self.store.events(referral_id)).entries)

    def dispatch(
        self,
        request: OutboundRequest,
        *,
        queue: str = "outreach",
        expected_version: int | None = None,
    ) -> DispatchOutcome:
        """Record, check, send and record one outbound action (documented on the desk)."""
        referral = self.store.get(request.referral_id)
        if expected_version is not None and referral.version != expected_version:
            # A stale caller sends nothing, whether the action is new or already queued.
            raise ConflictError(referral.id, expected_version, referral.version)
        entry = self.entries(request.referral_id).get(request.idempotency_key)
        if entry is not None and entry.status != "queued":
            return DispatchOutcome(
                key=entry.key,
                referral_id=entry.referral_id,
                status=entry.status,
                task_id=entry.task_id,
                reason=entry.reason,
                replayed=True,
            )
        bound = self.invoker.bind(request)
        planned = entry.queued_status if entry is not None else None
        refusal = self._refusal(referral, request, planned)
        if refusal is not None:
            if entry is None:
                # Nothing was queued, so nothing is recorded: the caller decides (the sweep
                # re-plans; consent and windows keep the plan from asking again).
                return self._outcome(request, "skipped", refusal)
            return self._refused(request, refusal, queue)
        if entry is None:
            self.uow.amend(
                request.referral_id,
                ACTION_QUEUED,
                actor=OUTBOX_ACTOR,
                update={},
                data={
                    "key": request.idempotency_key,
                    "operation": request.operation,
                    "adapter": self.invoker.backends.get(request.capability),
                    "request": request.model_dump(mode="json"),
                },
                expected_version=referral.version,
            )
        else:
            # The claim: only the holder of the current version may re-send a queued action.
            self.uow.amend(
                request.referral_id,
                ACTION_CLAIMED,
                actor=OUTBOX_ACTOR,
                update={},
                data={"key": request.idempotency_key},
                expected_version=referral.version,
            )
        return self._send(bound, request, planned or referral.status.value, queue)

    def recover(
        self,
        referral_id: UUID,
        *,
        resend: bool = True,
        queue: str = "outreach",
        key: str | None = None,
    ) -> Sequence[DispatchOutcome]:
        """Finish queued actions: check and re-send each, or record it ``unknown``."""
        outcomes: list[DispatchOutcome] = []
        for entry in self.entries(referral_id).values():
            if entry.status != "queued" or (key is not None and entry.key != key):
                continue
            request = entry.rebuild()
            if resend:
                try:
                    outcomes.append(self.dispatch(request, queue=queue))
                    continue
                except NoBackendError:
                    pass
            outcomes.append(self.action_task(request, "crash_recovery", None, queue))
        return outcomes

    def action_task(
        self,
        request: OutboundRequest,
        reason: str,
        exc: AdapterError | None,
        queue: str,
    ) -> DispatchOutcome:
        """End a queued action as ``failed`` (or ``unknown``) with a human task in *queue*."""
        status: ActionStatus = "unknown" if reason == "crash_recovery" else "failed"
        now = self.clock.now()
        task = HumanTask(
            queue=queue,
            title=f"Outbound {request.operation} {status}",
            reason=f"{request.operation} {status}: {reason}",
            detail=None if exc is None else type(exc).__name__,
            priority=TaskPriority.HIGH,
            created_at=now,
            due_at=now + self.task_due,
            rule_id="outbox",
        )
        _log.warning(
            "referral %s: action %s %s (%s); task %s opened",
            request.referral_id,
            request.operation,
            status,
            reason,
            task.id,
        )

        def decide(batch: Batch) -> None:
            batch.amend(
                TASK_OPENED,
                actor=OUTBOX_ACTOR,
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
            for step in self.on_failed:
                step(batch, request, None)

        self.uow.commit(request.referral_id, decide)
        return self._outcome(request, status, reason, task_id=task.id)

    # -- internals ------------------------------------------------------------------------

    def _record(self, request: OutboundRequest, kind: str, **data: object) -> None:
        # One ledger event about *request*, committed through the unit of work.
        fields = {"key": request.idempotency_key, **data}
        self.uow.amend(request.referral_id, kind, actor=OUTBOX_ACTOR, update={}, data=fields)

    def _refusal(
        self, referral: Referral, request: OutboundRequest, planned: str | None
    ) -> Refusal | None:
        return contact_refusal(
            referral, request, now=self.clock.now(), policy=self.policy(), planned_status=planned
        )

    def _send(
        self,
        bound: Callable[[], Receipt],
        request: OutboundRequest,
        planned: str,
        queue: str,
    ) -> DispatchOutcome:
        def check() -> None:
            # Read again before every attempt: an opt-out may have been committed meanwhile.
            refusal = self._refusal(self.store.get(request.referral_id), request, planned)
            if refusal is not None:
                raise SendRefusedError(refusal)

        try:
            receipt = self.invoker.send(bound, request, before_attempt=check)
        except SendRefusedError as exc:
            return self._refused(request, exc.reason, queue)
        except TransientAdapterError as exc:
            return self.action_task(request, "retries_exhausted", exc, queue)
        except PermanentAdapterError as exc:
            unexpected = exc.__cause__ is not None and not isinstance(exc.__cause__, AdapterError)
            return self.action_task(
                request, "unexpected" if unexpected else "permanent", exc, queue
            )

        def sent(batch: Batch) -> None:
            batch.amend(
                ACTION_SENT,
                actor=OUTBOX_ACTOR,
                update={},
                data={
                    "key": request.idempotency_key,
                    "provider_ref": receipt.provider_ref,
                    "duplicate": receipt.duplicate,
                },
            )
            for step in self.on_sent:
                step(batch, request, receipt)

        self.uow.commit(request.referral_id, sent)
        return self._outcome(request, "sent", None, receipt=receipt)

    def _refused(self, request: OutboundRequest, reason: str, queue: str) -> DispatchOutcome:
        _log.info(
            "referral %s: action %s refused before sending (%s)",
            request.referral_id,
            request.operation,
            reason,
        )
        if reason == "window_closed":
            # Left queued: the planner resumes it, with the same key, when the window opens.
            return self._outcome(request, "queued", reason)
        if reason == "no_time_zone":
            return self.action_task(request, reason, None, queue)
        self._record(request, ACTION_CANCELLED, reason=reason)
        return self._outcome(request, "cancelled", reason)

    @staticmethod
    def _outcome(
        request: OutboundRequest,
        status: DispatchStatus,
        reason: str | None,
        *,
        task_id: UUID | None = None,
        receipt: Receipt | None = None,
    ) -> DispatchOutcome:
        return DispatchOutcome(
            key=request.idempotency_key,
            referral_id=request.referral_id,
            status=status,
            reason=reason,
            task_id=task_id,
            receipt=receipt,
        )
