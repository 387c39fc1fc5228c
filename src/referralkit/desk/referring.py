"""The referring practice's side: referrals we send, chased until the report is read.

Every change commits through the :class:`~referralkit.desk.unit_of_work.UnitOfWork`, on the
referral's one hash-chained event log; the sending lifecycle is
:class:`~referralkit.lifecycle.OutboundLifecycle` (``docs/referring.md``).

Crash model: each step is one transaction. A send records its copy (hash and reference) and
fires ``send`` in one commit, then hands the fax to the outbox under the send's idempotency
key; after a crash between the two, :meth:`ReferringService.transmit` hands it over again (a
fax the outbox already sent is not sent twice), and a chasing sweep's re-send transmits too.
A redirect first creates the new referral under an id derived from the old one, then marks the
old one redirected; a retry after a crash between the two finds the new referral and finishes.
Receipts and answers carry the sender's id and are applied once; an answer that arrives after
a later step (a receipt after the acceptance) is recorded without moving the referral back.

.. versionadded:: 0.4
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final, Literal
from uuid import UUID, uuid5

import attrs

from referralkit.clock import Clock
from referralkit.desk.outbox import OUTBOX_ACTOR, Outbox
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.directory import SentReferralFacts
from referralkit.errors import (
    DuplicateReferralError,
    InvalidTransitionError,
    PermissionDeniedError,
)
from referralkit.lifecycle import OutboundTrigger, allowed_outbound_triggers
from referralkit.model import (
    Actor,
    ActorKind,
    Appointment,
    Channel,
    DeclineReason,
    HumanTask,
    OutboundRecord,
    OutboundStatus,
    PackageSend,
    Practice,
    Provider,
    ReceivedReport,
    Referral,
    ReferralPackage,
    ReferralSide,
    ReferralStatus,
    ReportDisposition,
    ReportReview,
    Role,
    TaskPriority,
    TaskStatus,
)
from referralkit.outbox import DispatchOutcome
from referralkit.outreach.sms import DEFAULT_SMS_TEMPLATES, render_sms
from referralkit.ports import DocumentRef, FaxRequest, OutboundRequest, Receipt, SmsRequest
from referralkit.referring import (
    OUTBOUND_QUEUE,
    REPORT_MATCH_QUEUE,
    REPORT_REVIEW_QUEUE,
    ChasePolicy,
    ReportHints,
    chase_actions,
    is_sent,
    match_report,
    track_record_facts,
)
from referralkit.store import OutboundStore, Store

__all__ = [
    "CHASED_STATES",
    "DID_YOU_BOOK",
    "REPORTABLE_STATES",
    "ChaseReport",
    "ReceiverAnswer",
    "ReferringService",
    "ReportOutcome",
    "SentCopy",
    "package_delivered_step",
]

DID_YOU_BOOK: Final = "referral.did_you_book"
"""The SMS template id of the patient's "did you book?" text; sent only through the outbox,
so the outreach policy's consent and contact-window checks apply."""
CHASED_STATES: Final = (
    OutboundStatus.SENT,
    OutboundStatus.DELIVERED,
    OutboundStatus.ACKNOWLEDGED,
    OutboundStatus.ACCEPTED,
    OutboundStatus.SCHEDULED,
    OutboundStatus.SEEN,
)
"""The sending states a chasing sweep reads."""
REPORTABLE_STATES: Final = (
    *CHASED_STATES,
    OutboundStatus.REPORT_RECEIVED,
    OutboundStatus.REPORT_REVIEWED,
    OutboundStatus.LOST,
)
"""The sending states a report that comes back may be matched to (revisions reopen)."""
_REDIRECT_NAMESPACE: Final = UUID("6f1c1c1e-6d0a-4c1e-9a51-7f1d2c0b8e11")
_RELEASERS: Final = frozenset({Role.CLINICIAN, Role.REFERRER})
_ORDER: Final = {
    OutboundStatus.SENT: 1,
    OutboundStatus.DELIVERED: 2,
    OutboundStatus.ACKNOWLEDGED: 3,
    OutboundStatus.ACCEPTED: 4,
    OutboundStatus.SCHEDULED: 5,
    OutboundStatus.SEEN: 6,
    OutboundStatus.REPORT_RECEIVED: 7,
    OutboundStatus.REPORT_REVIEWED: 8,
}
_ANSWER_TRIGGER: Final[dict[str, OutboundTrigger]] = {
    "delivered": "confirm_delivery",
    "acknowledged": "acknowledge",
    "accepted": "receiver_accept",
    "declined": "receiver_decline",
    "booked": "book",
    "seen": "record_seen",
}
_ANSWER_RANK: Final = {"delivered": 2, "acknowledged": 3, "accepted": 4, "booked": 5, "seen": 6}


@attrs.frozen(repr=False)
class SentCopy:
    """The exact bytes of a package as sent, and where the host keeps that copy.

    Only the hash and the reference are stored on the referral; the bytes stay with the host.
    """

    content: bytes
    ref: str

    def __repr__(self) -> str:
        return f"SentCopy(ref={self.ref!r}, bytes={len(self.content)})"


@attrs.frozen
class ReceiverAnswer:
    """A delivery receipt or an answer from the receiver.

    :ivar kind: ``delivered`` (the channel's receipt), ``acknowledged``, ``accepted``,
        ``declined``, ``booked`` or ``seen``.
    :ivar callback_id: the id the channel or receiver gave it; a repeat is applied once.
    :ivar at: when it happened at the sender's end (defaults to now).
    """

    kind: Literal["delivered", "acknowledged", "accepted", "declined", "booked", "seen"]
    callback_id: str | None = None
    at: datetime | None = None
    reason: DeclineReason | None = None
    note: str | None = attrs.field(default=None, repr=False)
    appointment: Appointment | None = None


@attrs.frozen
class ReportOutcome:
    """What happened to a consult report that came back.

    :ivar status: ``attached``, ``revision`` (a new version; review reopens), ``review`` (held
        on *referral_id* with *task_id* in the restricted matching queue) or ``duplicate``.
    """

    status: Literal["attached", "revision", "review", "duplicate"]
    referral_id: UUID
    task_id: UUID | None = None


@attrs.frozen
class ChaseReport:
    """What a chasing sweep did: chases by kind, and patient messages the outbox refused."""

    done: tuple[tuple[str, int], ...]
    refused: int = 0


def _task(
    queue: str,
    title: str,
    reason: str,
    now: datetime,
    hours: float,
    detail: str | None,
    priority: TaskPriority = TaskPriority.NORMAL,
) -> HumanTask:
    return HumanTask(
        queue=queue,
        title=title,
        reason=reason,
        detail=detail,
        priority=priority,
        created_at=now,
        due_at=now + timedelta(hours=hours),
        rule_id="referring",
    )


def _open_task(batch: Batch, task: HumanTask, actor: Actor) -> None:
    batch.amend(
        "task_opened",
        actor=actor,
        update=lambda r: {"tasks": (*r.tasks, task)},
        data={"task_id": str(task.id), "queue": task.queue, "reason": task.reason},
    )


def _close_tasks(batch: Batch, queue: str, actor: Actor, outcome: str) -> None:
    open_ = [t for t in batch.referral.tasks if t.queue == queue and t.status is TaskStatus.OPEN]
    for task in open_:
        done = task.model_copy(update={"status": TaskStatus.DONE, "outcome": outcome})
        batch.amend(
            "task_closed",
            actor=actor,
            update=_replacing(done),
            data={"task_id": str(task.id), "queue": queue, "outcome": outcome},
        )


def _replacing(done: HumanTask) -> Callable[[Referral], dict[str, object]]:
    def update(referral: Referral) -> dict[str, object]:
        return {"tasks": tuple(done if t.id == done.id else t for t in referral.tasks)}

    return update


def _preferred(referral: Referral) -> Channel:
    practice = referral.receiving_practice
    if practice is not None and practice.preferred_channel is not None:
        return practice.preferred_channel
    return Channel.FAX


def _outbound(referral: Referral) -> OutboundRecord:
    if not is_sent(referral) or referral.outbound is None:
        raise InvalidTransitionError(
            "referring", referral.status.value, [], detail="this is not a referral we sent"
        )
    return referral.outbound


def apply_answer(batch: Batch, answer: ReceiverAnswer, actor: Actor) -> bool:
    """Apply a receipt or an answer on *batch*; return whether it changed anything.

    A repeat (same callback id) changes nothing. An answer for a step the referral has passed
    is recorded (``receiver_answer_recorded``) without moving it back.
    """
    record = _outbound(batch.referral)
    if answer.callback_id is not None and answer.callback_id in record.callbacks:
        return False
    trigger = _ANSWER_TRIGGER[answer.kind]
    rank = _ORDER.get(record.status, 0)
    # A booking while scheduled is a re-booking (a new appointment), not a late answer.
    passed = _ANSWER_RANK.get(answer.kind)
    late = passed is not None and (rank > passed or (rank == passed and answer.kind != "booked"))
    if late or (
        trigger not in allowed_outbound_triggers(batch.referral) and answer.kind == "delivered"
    ):
        at = answer.at or batch.now
        changes: dict[str, object] = {}
        if answer.kind == "delivered" and record.sends and record.sends[-1].delivered_at is None:
            last = record.sends[-1].model_copy(update={"delivered_at": at})
            changes["sends"] = (*record.sends[:-1], last)
        if answer.kind == "acknowledged" and record.acknowledged_at is None:
            changes["acknowledged_at"] = at
        if answer.kind == "accepted" and record.accepted_at is None:
            changes["accepted_at"] = at
        if answer.callback_id is not None:
            changes["callbacks"] = (*record.callbacks, answer.callback_id)
        if not changes:
            return False
        batch.amend(
            "receiver_answer_recorded",
            actor=actor,
            update={"outbound": record.model_copy(update=changes)},
            data={"answer": answer.kind, "late": True},
        )
        return True
    data: dict[str, object] = {"callback_id": answer.callback_id, "at": answer.at}
    if answer.kind == "declined":
        data.update(reason=answer.reason or DeclineReason.OTHER, note=answer.note)
    if answer.kind == "booked":
        if answer.appointment is None:
            raise ValueError("a booked answer needs the appointment")
        data["appointment"] = answer.appointment
    batch.fire_outbound(
        trigger, actor=actor, data={k: v for k, v in data.items() if v is not None}
    )
    return True


def package_delivered_step(
    batch: Batch, request: OutboundRequest, receipt: Receipt | None = None
) -> None:
    """Outbox step: the fax carrying our referral package went through (the channel's receipt)."""
    if not (isinstance(request, FaxRequest) and request.purpose == "referral_packet"):
        return
    if not is_sent(batch.referral):
        return
    apply_answer(
        batch, ReceiverAnswer("delivered", callback_id=request.idempotency_key), OUTBOX_ACTOR
    )


@attrs.define
class ReferringService:
    """Drafts, sends and chases referrals we send, and takes their reports back."""

    uow: UnitOfWork
    store: Store
    clock: Clock
    outbox: Outbox
    policy: ChasePolicy = attrs.field(factory=ChasePolicy)
    practice_phone: str = ""
    """The number the "did you book?" text asks the patient to call."""
    sms_templates: Mapping[str, str] = DEFAULT_SMS_TEMPLATES
    """Where ``referral.did_you_book`` is looked up (a host may word it its own way)."""

    # -- drafting and sending ---------------------------------------------------------------

    def draft(self, referral: Referral, *, actor: Actor, patient_books: bool = False) -> Referral:
        """Store *referral* as a draft we will send (side ``sent``, sending state ``draft``).

        :param patient_books: the patient books the visit themselves.
        """
        fields = {
            "side": ReferralSide.SENT,
            "status": ReferralStatus.INTAKE,
            "outbound": OutboundRecord(patient_books=patient_books),
        }
        return self.uow.create(referral.model_copy(update=fields), actor=actor)

    def prepare_package(
        self, referral_id: UUID, package: ReferralPackage, *, actor: Actor
    ) -> Referral:
        """Set the package (reason, urgency, problem excerpt, documents); it awaits release.

        A changed package is never released by the change: a person releases it again.
        """
        unreleased = package.model_copy(update={"released_by": None, "released_at": None})

        def decide(batch: Batch) -> None:
            record = _outbound(batch.referral)
            if record.status is not OutboundStatus.DRAFT:
                raise InvalidTransitionError(
                    "prepare_package", record.status.value, [], detail="the package is sent"
                )
            batch.amend(
                "package_prepared",
                actor=actor,
                update={
                    "outbound": record.model_copy(update={"package": unreleased}),
                    "priority": package.urgency,
                },
                data={"documents": len(package.documents), "problems": len(package.problems)},
            )

        return self.uow.commit(referral_id, decide)

    def release_package(self, referral_id: UUID, *, actor: Actor) -> Referral:
        """Record that a person reviewed the package and released it for sending.

        :raises PermissionDeniedError: *actor* is not a person acting as clinician or referrer.
        """
        if actor.kind is not ActorKind.HUMAN or actor.role not in _RELEASERS:
            raise PermissionDeniedError("release_package", "draft", [], actor.role.value)

        def decide(batch: Batch) -> None:
            record = _outbound(batch.referral)
            if record.package is None or record.status is not OutboundStatus.DRAFT:
                raise InvalidTransitionError(
                    "release_package", record.status.value, [], detail="no draft package"
                )
            released = record.package.model_copy(
                update={"released_by": actor.id, "released_at": batch.now}
            )
            batch.amend(
                "package_released",
                actor=actor,
                update={"outbound": record.model_copy(update={"package": released})},
                data={},
            )

        return self.uow.commit(referral_id, decide)

    def send(
        self,
        referral_id: UUID,
        copy: SentCopy,
        *,
        actor: Actor,
        channel: Channel | None = None,
        queue: str = OUTBOUND_QUEUE,
    ) -> tuple[Referral, DispatchOutcome | None]:
        """Record a send of the released package (a re-send is its own record) and fax it.

        The hash of *copy*'s bytes and its reference are recorded. On the fax channel (the
        receiving practice's preferred channel by default) the outbox sends it and its
        receipt counts as delivery; on another channel the host transmits and reports the
        receipt with :meth:`record_answer`.

        :raises TransitionBlockedError: the package is not released, or no receiver is named.
        :raises ValueError: the fax channel was chosen and the receiving practice has no fax
            number; nothing is written.
        """
        digest = hashlib.sha256(copy.content).hexdigest()
        sent_on = channel or _preferred(self.store.get(referral_id))
        if sent_on is Channel.FAX:
            practice = self.store.get(referral_id).receiving_practice
            if practice is None or practice.fax is None:
                raise ValueError("the receiving practice has no fax number; choose a channel")

        def decide(batch: Batch) -> None:
            record = _outbound(batch.referral)
            send = PackageSend(
                attempt=len(record.sends) + 1,
                sent_at=batch.now,
                channel=sent_on,
                sha256=digest,
                copy_ref=copy.ref,
            )
            trigger: OutboundTrigger = (
                "send" if record.status is OutboundStatus.DRAFT else "resend"
            )
            batch.fire_outbound(trigger, actor=actor, data={"send": send})

        self.uow.commit(referral_id, decide)
        outcome = self.transmit(referral_id, queue=queue)
        return self.store.get(referral_id), outcome

    def transmit(
        self, referral_id: UUID, *, queue: str = OUTBOUND_QUEUE
    ) -> DispatchOutcome | None:
        """Hand the latest recorded fax send to the outbox (again, after a crash).

        The idempotency key is the send's: a send the outbox already made is not made twice
        (its outcome is replayed). A send on another channel returns ``None`` (the host
        transmits it).
        """
        referral = self.store.get(referral_id)
        record = _outbound(referral)
        if not record.sends or record.sends[-1].channel is not Channel.FAX:
            return None
        last = record.sends[-1]
        request = FaxRequest.for_referral(
            referral,
            action="referral_package",
            attempt=last.attempt,
            purpose="referral_packet",
            documents=(DocumentRef(document_id=last.copy_ref, kind="referral_package"),),
            to_receiving=True,
        )
        return self.outbox.dispatch(request, queue=queue)

    # -- answers ----------------------------------------------------------------------------

    def record_answer(
        self, referral_id: UUID, answer: ReceiverAnswer, *, actor: Actor
    ) -> Referral:
        """Apply a delivery receipt or a receiver's answer (once; in any order).

        A decline opens a task to redirect to another receiver, with the decline reason.
        """

        def decide(batch: Batch) -> None:
            if not apply_answer(batch, answer, actor):
                return
            if (
                answer.kind == "declined"
                and _outbound(batch.referral).status is OutboundStatus.DECLINED
            ):
                reason = (answer.reason or DeclineReason.OTHER).value
                _close_tasks(batch, OUTBOUND_QUEUE, actor, "declined")
                _open_task(
                    batch,
                    _task(
                        OUTBOUND_QUEUE,
                        "Referral declined: choose another receiver",
                        "declined",
                        batch.now,
                        self.policy.task_due_hours,
                        f"decline reason: {reason}",
                        TaskPriority.HIGH,
                    ),
                    actor,
                )
            elif answer.kind in ("acknowledged", "accepted", "booked", "seen"):
                _close_tasks(batch, OUTBOUND_QUEUE, actor, answer.kind)

        return self.uow.commit(referral_id, decide)

    def redirect(
        self,
        referral_id: UUID,
        *,
        reason: str,
        actor: Actor,
        receiving_practice: Practice | None = None,
        receiving_provider: Provider | None = None,
        specialty: str | None = None,
    ) -> Referral:
        """Send the referral to another receiver: a new draft (package to release again).

        The old referral ends ``redirected`` and names the new one; the new one names the old.
        Each keeps its own receiver's track record.
        """
        old = self.store.get(referral_id)
        record = _outbound(old)
        new_id = uuid5(_REDIRECT_NAMESPACE, f"{old.id}:{len(record.sends)}")
        package = (
            record.package.model_copy(update={"released_by": None, "released_at": None})
            if record.package is not None
            else None
        )
        fields = {
            "id": new_id,
            "referral_number": None,
            "receiving_practice": receiving_practice or old.receiving_practice,
            "receiving_provider": receiving_provider,
            "specialty": specialty or old.specialty,
            "appointments": (),
            "tasks": (),
            "interactions": (),
            "documents": (),
            "version": 0,
            "history_hash": "",
            "created_at": None,
            "updated_at": None,
            "next_action_at": None,
            "next_routing_at": None,
            "outbound": OutboundRecord(
                package=package, redirected_from=old.id, patient_books=record.patient_books
            ),
        }
        try:
            created = self.uow.create(old.model_copy(update=fields), actor=actor)
        except DuplicateReferralError:
            created = self.store.get(new_id)  # a retry after a crash: finish the redirect

        def decide(batch: Batch) -> None:
            if _outbound(batch.referral).status is OutboundStatus.REDIRECTED:
                return
            batch.fire_outbound(
                "redirect_to", actor=actor, data={"to_referral": new_id, "reason": reason}
            )
            _close_tasks(batch, OUTBOUND_QUEUE, actor, "redirected")

        self.uow.commit(referral_id, decide)
        return created

    # -- chasing ----------------------------------------------------------------------------

    def sent_referrals(
        self, statuses: Sequence[OutboundStatus] = tuple(OutboundStatus)
    ) -> Iterator[Referral]:
        """Yield the referrals we sent whose sending state is in *statuses* (all by default).

        Read page by page through the store's index (:class:`~referralkit.store.OutboundStore`)
        where it has one, else by scanning the referrals in ``intake``.
        """
        after: UUID | None = None
        wanted = frozenset(statuses)
        indexed = isinstance(self.store, OutboundStore)
        while True:
            if isinstance(self.store, OutboundStore):
                page = self.store.list_outbound(statuses, limit=500, after=after)
            else:
                page = self.store.list_by_status([ReferralStatus.INTAKE], limit=500, after=after)
            for referral in page:
                if indexed or (
                    is_sent(referral)
                    and referral.outbound is not None
                    and referral.outbound.status in wanted
                ):
                    yield referral
            if len(page) < 500:
                return
            after = page[-1].id

    def chase(self, now: datetime | None = None, *, actor: Actor = OUTBOX_ACTOR) -> ChaseReport:
        """Run the chases that are due (:func:`~referralkit.referring.chase_actions`).

        Silence after a send re-sends the same copy and opens a task to call the receiving
        practice; silence after the last send opens a task to redirect. No appointment after
        acceptance opens a task to ask the receiver and, when the patient books, sends the
        patient "did you book?" through the outbox (consent and contact windows apply; a
        refused message is tried again on the next sweep). No report after the visit opens a
        task to ask for it. Each chase is recorded once.
        """
        at = now or self.clock.now()
        counts: dict[str, int] = {}
        refused = 0
        for referral in list(self.sent_referrals(CHASED_STATES)):
            for action in chase_actions(referral, self.policy, at):
                if action.kind == "ask_patient" and not self._ask_patient(referral):
                    refused += 1
                    continue
                self._chase(referral.id, action.kind, action.key)
                if action.kind == "resend":
                    self.transmit(referral.id)
                counts[action.kind] = counts.get(action.kind, 0) + 1
        return ChaseReport(tuple(sorted(counts.items())), refused)

    def _ask_patient(self, referral: Referral) -> bool:
        practice = (
            referral.referring_practice.name if referral.referring_practice else "Your doctor"
        )
        try:
            body = render_sms(
                DID_YOU_BOOK,
                practice=practice,
                phone=self.practice_phone,
                templates=self.sms_templates,
            )
            request = SmsRequest.for_referral(
                referral,
                action="did_you_book",
                attempt=1,
                template_id=DID_YOU_BOOK,
                body=body,
            )
        except ValueError:
            return False  # no mobile that may be texted: the receiver task still goes out
        outcome = self.outbox.dispatch(request, queue=OUTBOUND_QUEUE)
        return outcome.status not in ("skipped", "refused")

    def _chase(self, referral_id: UUID, kind: str, key: str) -> None:
        hours = self.policy.task_due_hours

        def decide(batch: Batch) -> None:
            record = _outbound(batch.referral)
            if key in record.chased:
                return
            now = batch.now
            if kind == "resend":
                last = record.sends[-1]
                batch.fire_outbound(
                    "resend",
                    actor=OUTBOX_ACTOR,
                    data={
                        "send": PackageSend(
                            attempt=len(record.sends) + 1,
                            sent_at=now,
                            channel=last.channel,
                            sha256=last.sha256,
                            copy_ref=last.copy_ref,
                        )
                    },
                )
                task = _task(
                    OUTBOUND_QUEUE,
                    "Call the receiving practice: no acknowledgement",
                    "not_acknowledged",
                    now,
                    hours,
                    None,
                )
            elif kind == "silent":
                task = _task(
                    OUTBOUND_QUEUE,
                    "Receiver silent: redirect to another receiver",
                    "receiver_silent",
                    now,
                    hours,
                    None,
                    TaskPriority.HIGH,
                )
            elif kind == "ask_report":
                task = _task(
                    OUTBOUND_QUEUE,
                    "Ask the specialist for the consult report",
                    "no_report",
                    now,
                    hours,
                    None,
                )
            else:
                task = _task(
                    OUTBOUND_QUEUE,
                    "Ask the receiver for the appointment date",
                    "no_appointment",
                    now,
                    hours,
                    None,
                )
            record = _outbound(batch.referral)
            batch.amend(
                "chased",
                actor=OUTBOX_ACTOR,
                update={"outbound": record.model_copy(update={"chased": (*record.chased, key)})},
                data={"chase": kind, "key": key},
            )
            if kind != "ask_patient":
                _open_task(batch, task, OUTBOX_ACTOR)

        self.uow.commit(referral_id, decide)

    # -- the report back --------------------------------------------------------------------

    def receive_report(
        self,
        document: DocumentRef,
        hints: ReportHints,
        *,
        received_at: datetime,
        actor: Actor,
        content: bytes | None = None,
    ) -> ReportOutcome:
        """Take a consult report that came back (any channel) and match it to our referral.

        Matched for certain (see :func:`~referralkit.referring.match_report`), it is kept (a
        corrected report as a revision) and opens a review task for the referring clinician;
        a revision reopens review. Otherwise it is held on a new record with a task in the
        restricted matching queue, naming no patient, listing only candidate referral numbers.
        """
        digest = hashlib.sha256(content).hexdigest() if content is not None else None
        target, how, candidates = match_report(hints, self.sent_referrals(REPORTABLE_STATES))
        if target is None or how is None:
            return self._hold(document, candidates, received_at, actor, digest)
        return self._attach(target.id, document, how, received_at, actor, digest, hints)

    def _attach(
        self,
        referral_id: UUID,
        document: DocumentRef,
        how: str,
        received_at: datetime,
        actor: Actor,
        digest: str | None,
        hints: ReportHints | None,
    ) -> ReportOutcome:
        status: Literal["attached", "revision", "duplicate"] = "attached"
        hours = self.policy.task_due_hours

        def decide(batch: Batch) -> None:
            nonlocal status
            record = _outbound(batch.referral)
            if any(r.report_id == document.document_id for r in record.reports):
                status = "duplicate"
                return
            family = hints.revision_of if hints is not None else None
            root = next((r for r in record.reports if r.report_id == family), None)
            if family is not None and root is not None:
                family = root.revision_of or root.report_id
            revision = 1
            if family is not None:
                revision = 1 + sum(
                    1 for r in record.reports if family in (r.report_id, r.revision_of)
                )
                status = "revision"
            report = ReceivedReport(
                report_id=document.document_id,
                revision=revision,
                revision_of=family,
                received_at=received_at,
                sha256=digest,
                matched_by=how,
            )
            batch.fire_outbound("receive_report", actor=actor, data={"report": report})
            _close_tasks(batch, REPORT_REVIEW_QUEUE, actor, "superseded")
            _close_tasks(batch, OUTBOUND_QUEUE, actor, "report_received")
            title = (
                "Corrected consult report to review"
                if revision > 1
                else "Consult report to review"
            )
            _open_task(
                batch,
                _task(REPORT_REVIEW_QUEUE, title, "report_received", batch.now, hours, None),
                actor,
            )

        self.uow.commit(referral_id, decide)
        return ReportOutcome(status, referral_id)

    def _hold(
        self,
        document: DocumentRef,
        candidates: list[Referral],
        received_at: datetime,
        actor: Actor,
        digest: str | None,
    ) -> ReportOutcome:
        now = self.clock.now()
        numbers = sorted(c.referral_number or str(c.id) for c in candidates)
        task = _task(
            REPORT_MATCH_QUEUE,
            "Consult report needs matching",
            "several_matches" if candidates else "no_certain_match",
            now,
            self.policy.task_due_hours,
            ("candidates: " + ", ".join(numbers)) if numbers else None,
            TaskPriority.HIGH,
        )
        held = ReceivedReport(
            report_id=document.document_id,
            received_at=received_at,
            sha256=digest,
            matched_by="review",
        )

        def then(batch: Batch) -> None:
            record = _outbound(batch.referral)
            batch.amend(
                "report_held",
                actor=actor,
                update={"outbound": record.model_copy(update={"reports": (held,)})},
                data={"report_id": document.document_id},
            )
            _open_task(batch, task, actor)

        holding = Referral(side=ReferralSide.SENT, outbound=OutboundRecord(unmatched_report=True))
        made = self.uow.create(holding, actor=actor, then=then)
        return ReportOutcome("review", made.id, task.id)

    def resolve_report(
        self,
        holding_id: UUID,
        target_id: UUID | None,
        *,
        actor: Actor,
        revision_of: str | None = None,
    ) -> Referral:
        """Resolve a held report: attach it to *target_id*, or (``None``) set it aside.

        The holding record is then voided with the reason, and its matching task closed.
        """
        holding = self.store.get(holding_id)
        record = _outbound(holding)
        if not record.unmatched_report or not record.reports:
            raise ValueError("nothing waits for matching on this record")
        if target_id is not None:
            held = record.reports[0]
            self._attach(
                target_id,
                DocumentRef(document_id=held.report_id, kind="consult_report"),
                "review",
                held.received_at,
                actor,
                held.sha256,
                ReportHints(revision_of=revision_of),
            )

        def retire(batch: Batch) -> None:
            _close_tasks(batch, REPORT_MATCH_QUEUE, actor, "matched" if target_id else "set_aside")
            reason = f"report moved to referral {target_id}" if target_id else "not our referral"
            batch.fire_outbound("void", actor=actor, data={"reason": reason})

        return self.uow.commit(holding_id, retire)

    def review_report(
        self,
        referral_id: UUID,
        disposition: ReportDisposition,
        *,
        actor: Actor,
        note: str | None = None,
    ) -> Referral:
        """Record the referring clinician's review of the latest report; closes the loop.

        ``follow_up_needed`` and ``new_referral`` open a task for the practice's coordinators.
        """

        def decide(batch: Batch) -> None:
            record = _outbound(batch.referral)
            latest = record.reports[-1].report_id if record.reports else "none"
            review = ReportReview(
                report_id=latest,
                reviewed_at=batch.now,
                reviewer=actor.id,
                disposition=disposition,
                note=note,
            )
            batch.fire_outbound("review_report", actor=actor, data={"review": review})
            _close_tasks(batch, REPORT_REVIEW_QUEUE, actor, disposition.value)
            if disposition is not ReportDisposition.ACKNOWLEDGED:
                title = (
                    "Arrange the follow-up the report asks for"
                    if disposition is ReportDisposition.FOLLOW_UP_NEEDED
                    else "Make the new referral the report asks for"
                )
                _open_task(
                    batch,
                    _task(
                        OUTBOUND_QUEUE,
                        title,
                        disposition.value,
                        batch.now,
                        self.policy.task_due_hours,
                        None,
                    ),
                    actor,
                )

        return self.uow.commit(referral_id, decide)

    # -- facts ------------------------------------------------------------------------------

    def track_records(self) -> Iterator[SentReferralFacts]:
        """Yield the track-record facts of every referral we sent (for a receiver directory)."""
        return track_record_facts(self.sent_referrals())
