"""Booking through the EHR: offer open slots, book the chosen one where the EHR owns the schedule.

:meth:`BookingService.find_slots` asks the EHR for open slots of the referral's specialty and
priority, inside the authorization's validity (when one is required) and after now.
:meth:`BookingService.book` checks the lifecycle would accept the appointment (state,
authorization validity and visits) before anything is booked, then books through the
:class:`~referralkit.desk.outbox.Outbox` (``book_appointment``); the ``schedule`` (or
``reschedule``) trigger fires in the same transaction that records the EHR's receipt, with
the EHR's appointment id stored on the appointment. A booking the EHR refuses becomes a task.

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, time, timedelta
from typing import Final
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import attrs

from referralkit.clock import Clock
from referralkit.desk.lookup import PatientLookup
from referralkit.desk.outbox import OUTBOX_ACTOR, Outbox
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.lifecycle import Trigger
from referralkit.model import (
    Actor,
    Appointment,
    AuthorizationStatus,
    CancelReason,
    Referral,
    ReferralStatus,
)
from referralkit.outbox import DispatchOutcome
from referralkit.ports import (
    AppointmentReceipt,
    BookAppointmentRequest,
    CancelAppointmentRequest,
    OutboundRequest,
    Receipt,
    Slot,
    SlotsRequest,
    idempotency_key,
    same_location,
)
from referralkit.store import Store

__all__ = ["BookingService", "booking_step"]

_SLOT_NS: Final = UUID("0b7b5a52-3f7e-4a8e-9a51-8a3c1f0f5e21")


def booking_step(batch: Batch, request: OutboundRequest, receipt: Receipt | None = None) -> None:
    """Outbox step: the EHR booked (or cancelled), so the referral follows in the same batch."""
    if isinstance(request, CancelAppointmentRequest):
        current = batch.referral.current_appointment
        if current is not None and current.id == request.appointment_id:
            batch.fire("cancel_appointment", actor=OUTBOX_ACTOR, data={"reason": request.reason})
        return
    if not isinstance(request, BookAppointmentRequest):
        return
    if not isinstance(receipt, AppointmentReceipt):
        return
    if any(a.id == request.appointment_id for a in batch.referral.appointments):
        return  # already recorded (a repeated receipt)
    appointment = Appointment(
        id=request.appointment_id,
        start=request.start,
        duration_minutes=request.duration_minutes,
        location=request.location,
        external_id=receipt.external_id,
    )
    trigger: Trigger = (
        "reschedule" if batch.referral.status is ReferralStatus.SCHEDULED else "schedule"
    )
    batch.fire(trigger, actor=OUTBOX_ACTOR, data={"appointment": appointment})


@attrs.define
class BookingService:
    """Finds open slots and books them through the EHR."""

    uow: UnitOfWork
    store: Store
    clock: Clock
    outbox: Outbox

    def find_slots(
        self,
        referral_id: UUID,
        *,
        after: datetime | None = None,
        before: datetime | None = None,
        limit: int = 10,
        weekdays: Collection[int] | None = None,
        hours: tuple[time, time] | None = None,
        location: str | None = None,
    ) -> tuple[Slot, ...]:
        """Return open slots for the referral, earliest first (see the module doc).

        :param weekdays: the patient's preferred days (Monday is 0), in the patient's time zone.
        :param hours: the patient's preferred start times, ``(earliest, latest)``, local.
        :param location: the patient's preferred location, as the EHR names it in
            :attr:`Slot.location` (compared by :func:`~referralkit.ports.same_location`).

        :raises ValueError: the referral has no specialty.
        :raises NoBackendError: no EHR adapter offers ``find_slots``.
        """
        referral = self.store.get(referral_id)
        if not referral.specialty:
            raise ValueError("the referral has no specialty to search")
        now = self.clock.now()
        start = max(after or now, now)
        end = before
        auth = referral.authorization
        if auth.status is not AuthorizationStatus.NOT_REQUIRED:
            if auth.valid_from is not None:
                start = max(start, datetime.combine(auth.valid_from, time(0), tzinfo=UTC))
            if auth.valid_to is not None:
                last = datetime.combine(auth.valid_to + timedelta(days=1), time(0), tzinfo=UTC)
                end = last if end is None else min(end, last)
        if end is not None and end <= start:
            return ()
        zone = (
            ZoneInfo(referral.patient.time_zone)
            if referral.patient and referral.patient.time_zone
            else UTC
        )

        wanted = same_location(location)

        def preferred(slot: Slot) -> bool:
            if wanted is not None and same_location(slot.location) != wanted:
                return False
            local = slot.start.astimezone(zone)
            if weekdays is not None and local.weekday() not in weekdays:
                return False
            return hours is None or hours[0] <= local.time() <= hours[1]

        found = self.outbox.find_slots(
            SlotsRequest(
                idempotency_key=idempotency_key(referral_id, f"slots@{start.isoformat()}", 1),
                referral_id=referral_id,
                specialty=referral.specialty,
                priority=referral.priority.value,
                start_after=start,
                end_before=end,
                # Preferences are applied here too (an EHR may ignore the location), so ask
                # for more than will be offered.
                limit=limit if weekdays is None and hours is None and wanted is None else 100,
                location=location if wanted is not None else None,
            )
        )
        # The EHR's answer is re-checked: a slot the referral could not be booked into is
        # never offered to the patient.
        return tuple(
            s
            for s in found.slots
            if s.start >= start and (end is None or s.start < end) and preferred(s)
        )[:limit]

    def book(
        self, referral_id: UUID, slot: Slot, *, actor: Actor, queue: str = "scheduling"
    ) -> DispatchOutcome:
        """Book *slot* in the EHR and schedule the referral when the EHR confirms.

        :raises InvalidTransitionError: the referral cannot be scheduled now (nothing is
            booked); :class:`~referralkit.errors.TransitionBlockedError` when the
            authorization does not cover the slot.
        :raises ValueError: the patient has no MRN for the EHR.
        :raises NoBackendError: no EHR adapter books appointments.
        """
        current = self.store.get(referral_id)
        patient = current.patient
        if patient is None or patient.mrn is None:
            raise ValueError("the patient has no MRN for the EHR")
        appointment = Appointment(
            id=uuid5(_SLOT_NS, f"{referral_id}:{slot.slot_id}"),
            start=slot.start,
            duration_minutes=slot.duration_minutes,
            location=slot.location,
        )
        trigger: Trigger = (
            "reschedule" if current.status is ReferralStatus.SCHEDULED else "schedule"
        )
        # A dry run of the transition (pure: nothing is written) so an appointment the
        # lifecycle would refuse is never booked in the EHR.
        self.uow.lifecycle.fire(
            current, trigger, actor=actor, now=self.clock.now(), data={"appointment": appointment}
        )
        request = BookAppointmentRequest(
            idempotency_key=idempotency_key(referral_id, f"book@{slot.slot_id}", 1),
            referral_id=referral_id,
            appointment_id=appointment.id,
            mrn=patient.mrn,
            start=slot.start,
            duration_minutes=slot.duration_minutes,
            provider_npi=slot.provider_npi,
            location=slot.location,
        )
        return self.outbox.dispatch(request, queue=queue)

    def cancel(
        self,
        referral_id: UUID,
        *,
        reason: CancelReason,
        actor: Actor,
        queue: str = "scheduling",
    ) -> DispatchOutcome:
        """Cancel the current appointment in the EHR.

        The referral is ready to schedule again when the EHR confirms (``cancel_appointment``
        fires in the same transaction).

        :raises ValueError: no current appointment booked through the EHR.
        :raises InvalidTransitionError: *actor* may not cancel it (nothing is sent).
        """
        current = self.store.get(referral_id)
        appointment = current.current_appointment
        if appointment is None or appointment.external_id is None:
            raise ValueError("no appointment booked in the EHR to cancel")
        self.uow.lifecycle.fire(
            current,
            "cancel_appointment",
            actor=actor,
            now=self.clock.now(),
            data={"reason": reason},
        )
        request = CancelAppointmentRequest(
            idempotency_key=idempotency_key(referral_id, f"cancel@{appointment.id.hex}", 1),
            referral_id=referral_id,
            appointment_id=appointment.id,
            external_id=appointment.external_id,
            reason=reason,
        )
        return self.outbox.dispatch(request, queue=queue)

    def record_ehr_booking(
        self,
        *,
        mrn: str,
        specialty: str,
        appointment: Appointment,
        actor: Actor,
    ) -> Referral | None:
        """Match a booking the EHR reports (made at its front desk) to the referral.

        The referral is the one open referral of that patient (by MRN) and specialty that is
        ready to schedule or scheduled; it is scheduled (or rescheduled) with the EHR's
        appointment. A booking already recorded (same external id) changes nothing.

        :returns: the referral, or ``None`` when no single referral matches (a person decides).
        :raises ValueError: *appointment* has no ``external_id``.
        """
        if appointment.external_id is None:
            raise ValueError("an EHR booking needs its external id")
        open_states = (ReferralStatus.READY_TO_SCHEDULE, ReferralStatus.SCHEDULED)
        found = [
            r
            for r in PatientLookup(self.store).with_mrn(mrn, open_states)
            if r.patient is not None and r.patient.mrn == mrn and r.specialty == specialty
        ]
        if len(found) != 1:
            return None
        referral = found[0]
        if any(a.external_id == appointment.external_id for a in referral.appointments):
            return referral

        def decide(batch: Batch) -> None:
            trigger: Trigger = (
                "reschedule" if batch.referral.status is ReferralStatus.SCHEDULED else "schedule"
            )
            batch.fire(trigger, actor=actor, data={"appointment": appointment})

        return self.uow.commit(referral.id, decide)
