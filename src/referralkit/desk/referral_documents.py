"""Inbound referral documents: a referral that arrives as a fax or a scan.

The document is kept by reference (:class:`~referralkit.model.ReferralDocument`) and matched to
an open referral by what was read off it (family name and birth date, given name and specialty
when known). A match is used only when it is certain: exactly one open referral of that patient
(and specialty). Otherwise the document is never attached to a guess: it is held on a new
referral in ``intake`` with a task in the restricted review queue, whose title names no patient
and whose detail lists only candidate referral numbers. A person then confirms it belongs to an
existing referral (the holding referral is marked entered in error) or keeps it as a new
referral to complete through intake.

A late or corrected document for the same referral is kept as a revision: every version stays,
numbered, and the latest is the current one.

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Final
from uuid import UUID

import attrs

from referralkit.clock import Clock
from referralkit.desk.lookup import PatientLookup
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.lifecycle import ACTIVE_STATES
from referralkit.model import (
    Actor,
    HumanTask,
    Referral,
    ReferralDocument,
    ReferralStatus,
    TaskPriority,
    TaskStatus,
    caller_matches,
)
from referralkit.ports import DocumentRef
from referralkit.store import Store

__all__ = ["REVIEW_QUEUE", "DocumentHints", "DocumentOutcome", "ReferralDocumentService"]

REVIEW_QUEUE: Final = "referral-review"
"""The restricted queue uncertain referral documents wait in (grant it narrowly)."""


@attrs.frozen(repr=False)
class DocumentHints:
    """What was read off an inbound referral document (PHI: never logged or repr'd).

    :ivar revision_of: the document id this one corrects or completes, if the sender said so.
    """

    family_name: str | None = None
    birth_date: date | None = None
    given_name: str | None = None
    specialty: str | None = None
    revision_of: str | None = None

    def __repr__(self) -> str:
        return "DocumentHints(...)"


@attrs.frozen
class DocumentOutcome:
    """What happened to an inbound referral document.

    :ivar status: ``attached`` (to a certain match), ``revision`` (a new version of a document
        the referral has), ``review`` (held on *referral_id* with *task_id* in the review
        queue) or ``duplicate`` (already received; nothing changed).
    """

    status: str
    referral_id: UUID
    task_id: UUID | None = None


def _attach(batch: Batch, document: ReferralDocument, actor: Actor) -> None:
    batch.amend(
        "referral_document_received",
        actor=actor,
        update=lambda r: {"documents": (*r.documents, document)},
        data={
            "document_id": document.document_id,
            "revision": document.revision,
            "revision_of": document.revision_of,
        },
    )


@attrs.define
class ReferralDocumentService:
    """Receives referral documents, matches them, and resolves the uncertain ones."""

    uow: UnitOfWork
    store: Store
    clock: Clock
    task_due: float = 4 * 3600.0

    def _open_referrals(self) -> Iterator[Referral]:
        after: UUID | None = None
        while True:
            page = self.store.list_by_status(ACTIVE_STATES, limit=500, after=after)
            yield from (r for r in page if r.outbound is None)  # never a referral we sent
            if len(page) < 500:
                return
            after = page[-1].id

    def _matches(self, hints: DocumentHints) -> list[Referral]:
        if hints.family_name is None or hints.birth_date is None:
            return []
        found = []
        lookup = PatientLookup(self.store)
        for referral in lookup.caller(hints.family_name, hints.birth_date, ACTIVE_STATES):
            patient = referral.patient
            if patient is None or not caller_matches(
                patient,
                family_name=hints.family_name,
                birth_date=hints.birth_date,
                given_name=hints.given_name,
            ):
                continue
            if hints.specialty and referral.specialty and referral.specialty != hints.specialty:
                continue
            found.append(referral)
        return found

    def receive(
        self,
        document: DocumentRef,
        hints: DocumentHints,
        *,
        received_at: datetime,
        actor: Actor,
    ) -> DocumentOutcome:
        """Keep *document* and match it (see the module doc); never attach it to a guess."""
        if hints.revision_of is not None:
            for referral in self._open_referrals():
                if any(d.document_id == hints.revision_of for d in referral.documents):
                    return self._add(referral.id, document, hints, received_at, actor)
        candidates = self._matches(hints)
        if len(candidates) == 1:
            return self._add(candidates[0].id, document, hints, received_at, actor)
        return self._hold(document, candidates, received_at, actor)

    def _add(
        self,
        referral_id: UUID,
        document: DocumentRef,
        hints: DocumentHints,
        received_at: datetime,
        actor: Actor,
    ) -> DocumentOutcome:
        status = "attached"

        def decide(batch: Batch) -> None:
            nonlocal status
            existing = batch.referral.documents
            if any(d.document_id == document.document_id for d in existing):
                status = "duplicate"
                return
            family = hints.revision_of
            revision = 1
            if family is not None:
                root = next((d for d in existing if d.document_id == family), None)
                family = root.revision_of or root.document_id if root else family
                revision = 1 + sum(1 for d in existing if family in (d.document_id, d.revision_of))
                status = "revision"
            _attach(
                batch,
                ReferralDocument(
                    document_id=document.document_id,
                    kind=document.kind,
                    received_at=received_at,
                    revision=revision,
                    revision_of=family,
                ),
                actor,
            )

        self.uow.commit(referral_id, decide)
        return DocumentOutcome(status, referral_id)

    def _hold(
        self,
        document: DocumentRef,
        candidates: list[Referral],
        received_at: datetime,
        actor: Actor,
    ) -> DocumentOutcome:
        now = self.clock.now()
        # Sorted: the same candidates read the same way, whatever order the store gave them.
        numbers = sorted(c.referral_number or str(c.id) for c in candidates)
        task = HumanTask(
            queue=REVIEW_QUEUE,
            # No patient name, no birth date: only what a reviewer needs to start.
            title="Inbound referral document needs review",
            reason="several_matches" if candidates else "no_certain_match",
            detail=("candidates: " + ", ".join(numbers)) if numbers else None,
            priority=TaskPriority.HIGH,
            created_at=now,
            due_at=datetime.fromtimestamp(now.timestamp() + self.task_due, tz=now.tzinfo),
            rule_id="referral_documents",
        )
        held = ReferralDocument(
            document_id=document.document_id, kind=document.kind, received_at=received_at
        )

        def then(batch: Batch) -> None:
            _attach(batch, held, actor)
            batch.amend(
                "task_opened",
                actor=actor,
                update=lambda r: {"tasks": (*r.tasks, task)},
                data={"task_id": str(task.id), "queue": REVIEW_QUEUE, "reason": task.reason},
            )

        holding = self.uow.create(Referral(status=ReferralStatus.INTAKE), actor=actor, then=then)
        return DocumentOutcome("review", holding.id, task.id)

    def confirm(self, holding_id: UUID, target_id: UUID | None, *, actor: Actor) -> Referral:
        """Resolve a held document: move it to *target_id*, or keep it as a new referral.

        Moving attaches it to the target and marks the holding referral entered in error;
        keeping it closes the review task and leaves the referral in intake to complete.
        """
        holding = self.store.get(holding_id)
        task = next(
            (t for t in holding.tasks if t.queue == REVIEW_QUEUE and t.status is TaskStatus.OPEN),
            None,
        )
        if task is None:
            raise ValueError("nothing waits for review on this referral")
        done = task.model_copy(update={"status": TaskStatus.DONE})

        def close_task(batch: Batch) -> None:
            batch.amend(
                "task_closed",
                actor=actor,
                update=lambda r: {"tasks": tuple(done if t.id == task.id else t for t in r.tasks)},
                data={"task_id": str(task.id), "target": str(target_id) if target_id else None},
            )

        if target_id is None:
            return self.uow.commit(holding_id, close_task)
        moved = holding.documents

        def attach_all(batch: Batch) -> None:
            known = {d.document_id for d in batch.referral.documents}
            for document in moved:
                if document.document_id not in known:
                    _attach(batch, document, actor)

        self.uow.commit(target_id, attach_all)

        def retire(batch: Batch) -> None:
            close_task(batch)
            batch.fire(
                "mark_error",
                actor=actor,
                data={"reason": f"document moved to referral {target_id}"},
            )

        return self.uow.commit(holding_id, retire)
