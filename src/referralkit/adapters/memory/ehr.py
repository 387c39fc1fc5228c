""":class:`InMemoryEhr`: the fake EHR adapter, serving patients and documents by MRN."""

from __future__ import annotations

import attrs

from referralkit.adapters.memory.recorder import Recorder, receipt_for
from referralkit.model import Coverage, Patient
from referralkit.ports import (
    AppointmentReceipt,
    BookAppointmentRequest,
    CancelAppointmentRequest,
    DocumentList,
    DocumentPushRequest,
    DocumentRef,
    DocumentsRequest,
    InteractionMirrorRequest,
    PatientLookupRequest,
    PatientRecord,
    Receipt,
    Slot,
    SlotList,
    SlotsRequest,
    StatusPushRequest,
    TaskMirrorRequest,
    same_location,
)

__all__ = ["InMemoryEhr"]


@attrs.define
class InMemoryEhr(Recorder):
    """A fake :class:`~referralkit.ports.EhrAdapter` serving patients and documents by MRN.

    It is also an :class:`~referralkit.ports.EhrWorkMirror`: mirrored interactions and tasks
    are recorded (``requests`` holds every call, ``contacts`` each one once per key); and an
    :class:`~referralkit.ports.EhrDocumentPush`: documents pushed to another practice are
    recorded the same way (see :attr:`pushed`).

    .. versionadded:: 0.1
    """

    patients: dict[str, tuple[Patient, tuple[Coverage, ...]]] = attrs.field(factory=dict)
    documents: dict[str, tuple[DocumentRef, ...]] = attrs.field(factory=dict)
    slots: dict[str, list[Slot]] = attrs.field(factory=dict)
    """Open slots by specialty; a booking at a slot's start takes it.

    .. versionadded:: 0.3"""

    @property
    def pushed(self) -> list[DocumentPushRequest]:
        """The documents delivered to other practices' EHRs, once per key, oldest first."""
        return [r for r in self.contacts.values() if isinstance(r, DocumentPushRequest)]

    def fetch_patient(self, request: PatientLookupRequest) -> PatientRecord:
        """Return the patient stored under the MRN (``patient=None`` if unknown)."""
        self._fault("fetch_patient", request)
        found = self.patients.get(request.mrn)
        if found is None:
            return PatientRecord(idempotency_key=request.idempotency_key)
        patient, coverage = found
        return PatientRecord(
            idempotency_key=request.idempotency_key,
            patient=patient,
            coverage=coverage if request.include_coverage else (),
        )

    def fetch_documents(self, request: DocumentsRequest) -> DocumentList:
        """Return the stored documents of the requested kinds (all kinds if none named)."""
        self._fault("fetch_documents", request)
        docs = self.documents.get(request.mrn, ())
        if request.kinds:
            docs = tuple(d for d in docs if d.kind in request.kinds)
        return DocumentList(idempotency_key=request.idempotency_key, documents=docs)

    def push_status(self, request: StatusPushRequest) -> Receipt:
        """Record the status push."""
        key = request.idempotency_key
        return self._serve("push_status", key, request, receipt_for(key))

    def find_slots(self, request: SlotsRequest) -> SlotList:
        """Return the open slots of the specialty in the requested range, earliest first.

        A requested location keeps only slots there (compared without case or outer spaces).
        """
        self._fault("find_slots", request)
        wanted = same_location(request.location)
        found = sorted(
            (
                slot
                for slot in self.slots.get(request.specialty, [])
                if slot.start >= request.start_after
                and (request.end_before is None or slot.start < request.end_before)
                and (wanted is None or same_location(slot.location) == wanted)
            ),
            key=lambda slot: slot.start,
        )
        return SlotList(
            idempotency_key=request.idempotency_key, slots=tuple(found[: request.limit])
        )

    def book_appointment(self, request: BookAppointmentRequest) -> AppointmentReceipt:
        """Record the booking (taking the slot that starts then) and return an external id."""
        key = request.idempotency_key
        receipt = self._serve(
            "book_appointment",
            key,
            request,
            lambda ref, now: AppointmentReceipt(
                idempotency_key=key, provider_ref=ref, accepted_at=now, external_id=ref
            ),
        )
        if not receipt.duplicate:
            for open_slots in self.slots.values():
                open_slots[:] = [slot for slot in open_slots if slot.start != request.start]
        return receipt

    def cancel_appointment(self, request: CancelAppointmentRequest) -> Receipt:
        """Record the cancellation."""
        key = request.idempotency_key
        return self._serve("cancel_appointment", key, request, receipt_for(key))

    def push_document(self, request: DocumentPushRequest) -> Receipt:
        """Record the documents delivered to the recipient's EHR (once per key).

        .. versionadded:: 0.3
        """
        key = request.idempotency_key
        return self._serve("push_document", key, request, receipt_for(key))

    def log_interaction(self, request: InteractionMirrorRequest) -> Receipt:
        """Record the mirrored interaction (once per key)."""
        key = request.idempotency_key
        return self._serve("log_interaction", key, request, receipt_for(key))

    def push_task(self, request: TaskMirrorRequest) -> Receipt:
        """Record the mirrored task state (once per key)."""
        key = request.idempotency_key
        return self._serve("push_task", key, request, receipt_for(key))
