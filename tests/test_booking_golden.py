"""Golden scenarios: booking a referred appointment through an in-memory EHR."""

from __future__ import annotations

from datetime import UTC, date, datetime

import attrs
import pytest

from referralkit import (
    Actor,
    ActorKind,
    ManualClock,
    MemoryStore,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
)
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.adapters.memory.ehr import InMemoryEhr
from referralkit.errors import NoBackendError, TransitionBlockedError
from referralkit.outbox import RetryPolicy
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import Slot, SlotList, SlotsRequest

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)


def _slot(n: int, day: int, hour: int = 15) -> Slot:
    return Slot(
        slot_id=f"slot-{n}",
        start=datetime(2026, 3, day, hour, tzinfo=UTC),
        location="Lakeside Cardiology, room 2",
    )


class World:
    def __init__(self) -> None:
        self.clock = ManualClock(T0)
        self.plugin = InMemoryPlugin.with_clock(self.clock, sleep=lambda _s: None)
        self.plugin.ehr.slots["cardiology"] = [
            _slot(1, 1),
            _slot(2, 5),
            _slot(3, 10),
            _slot(4, 20),
        ]
        self.desk = ReferralDesk(
            store=MemoryStore(),
            clock=self.clock,
            hooks=Hooks(make_plugin_manager([self.plugin], load_entrypoints=False)),
            retrying=RetryPolicy.no_wait(3),
        )

    def ready(self, *, auth_until: date | None = None) -> Referral:
        referral = self.desk.create(
            Referral(
                status=ReferralStatus.RECEIVED,
                patient=Patient(
                    given_name="Ada",
                    family_name="Lovelace",
                    birth_date=date(1980, 1, 2),
                    mrn="MRN-1",
                    phones=(PhoneContact(number="+15555550123"),),
                ),
                referring_practice=Practice(name="Maple Street FM", fax="+15555550100"),
                specialty="cardiology",
                reason=ReasonForReferral(text="palpitations"),
            ),
            actor=SYSTEM,
        )
        self.desk.fire(referral.id, "accept", actor=CLINICIAN)
        if auth_until is None:
            return self.desk.fire(referral.id, "clear", actor=SYSTEM)
        self.desk.fire(referral.id, "require_auth", actor=CLINICIAN)
        self.desk.submit_authorization(referral.id, payer_reference="P-1", actor=SCHEDULER)
        return self.desk.approve_authorization(
            referral.id,
            number="A-1",
            valid_from=date(2026, 3, 1),
            valid_to=auth_until,
            authorized_visits=1,
            actor=SCHEDULER,
        )


@pytest.fixture
def world() -> World:
    return World()


def test_booking_through_an_in_memory_ehr(world: World) -> None:
    referral = world.ready()
    slots = world.desk.find_slots(referral.id)
    assert [s.slot_id for s in slots] == ["slot-2", "slot-3", "slot-4"]  # never in the past
    outcome = world.desk.book_slot(referral.id, slots[0], actor=SCHEDULER)
    assert outcome.status == "sent"
    booked = world.desk.get(referral.id)
    assert booked.status is ReferralStatus.SCHEDULED
    appointment = booked.current_appointment
    assert appointment is not None
    assert appointment.start == slots[0].start
    assert appointment.external_id is not None
    request = world.plugin.ehr.contacts[outcome.key]
    assert request.mrn == "MRN-1"  # type: ignore[attr-defined]
    kinds = [e.kind for e in world.desk.history(referral.id)][-2:]
    assert kinds == ["action_sent", "schedule"]  # one transaction
    assert "slot-2" not in [s.slot_id for s in world.desk.find_slots(referral.id)]
    # Booking the same slot again books nothing more.
    again = world.desk.book_slot(referral.id, slots[0], actor=SCHEDULER)
    assert again.replayed
    assert len(world.plugin.ehr.contacts) == 1


def test_rebooking_through_the_ehr_reschedules(world: World) -> None:
    referral = world.ready()
    first, second = world.desk.find_slots(referral.id)[:2]
    world.desk.book_slot(referral.id, first, actor=SCHEDULER)
    world.desk.book_slot(referral.id, second, actor=SCHEDULER)
    moved = world.desk.get(referral.id)
    assert moved.current_appointment is not None
    assert moved.current_appointment.start == second.start
    assert [e.kind for e in world.desk.history(referral.id)][-1] == "reschedule"


def test_slots_honour_the_authorization_validity(world: World) -> None:
    referral = world.ready(auth_until=date(2026, 3, 12))
    assert [s.slot_id for s in world.desk.find_slots(referral.id)] == ["slot-2", "slot-3"]
    with pytest.raises(TransitionBlockedError):
        world.desk.book_slot(referral.id, _slot(4, 20), actor=SCHEDULER)
    assert world.plugin.ehr.contacts == {}  # nothing was booked in the EHR


def test_a_refused_booking_becomes_a_task(world: World) -> None:
    referral = world.ready()
    slot = world.desk.find_slots(referral.id)[0]
    world.plugin.ehr.fail_next(1, "permanent")
    outcome = world.desk.book_slot(referral.id, slot, actor=SCHEDULER)
    assert outcome.status == "failed"
    current = world.desk.get(referral.id)
    assert current.status is ReferralStatus.READY_TO_SCHEDULE
    assert [t.id for t in current.tasks] == [outcome.task_id]


def test_a_read_only_ehr_cannot_book(world: World) -> None:
    referral = world.ready()
    slot = world.desk.find_slots(referral.id)[0]
    world.plugin.ehr.supported_operations = frozenset({"fetch_patient", "find_slots"})
    with pytest.raises(NoBackendError):
        world.desk.book_slot(referral.id, slot, actor=SCHEDULER)
    assert world.desk.get(referral.id).status is ReferralStatus.READY_TO_SCHEDULE
    world.plugin.ehr.supported_operations = frozenset({"fetch_patient"})
    with pytest.raises(NoBackendError):
        world.desk.find_slots(referral.id)


def test_cancelling_through_the_ehr(world: World) -> None:
    from referralkit.model import CancelReason

    referral = world.ready()
    slot = world.desk.find_slots(referral.id)[0]
    world.desk.book_slot(referral.id, slot, actor=SCHEDULER)
    outcome = world.desk.cancel_booked_slot(
        referral.id, reason=CancelReason.PATIENT_REQUEST, actor=SCHEDULER
    )
    assert outcome.status == "sent"
    cancelled = world.desk.get(referral.id)
    assert cancelled.status is ReferralStatus.READY_TO_SCHEDULE
    assert cancelled.current_appointment is None
    assert [e.kind for e in world.desk.history(referral.id)][-2:] == [
        "action_sent",
        "cancel_appointment",
    ]
    with pytest.raises(ValueError, match="no appointment"):
        world.desk.cancel_booked_slot(
            referral.id, reason=CancelReason.PATIENT_REQUEST, actor=SCHEDULER
        )


def test_a_booking_made_in_the_ehr_is_matched_to_the_referral(world: World) -> None:
    from referralkit.model import Appointment

    referral = world.ready()
    other = world.ready()  # the same patient: two open cardiology referrals
    booked = Appointment(start=datetime(2026, 3, 6, 15, tzinfo=UTC), external_id="ehr-77")
    assert (
        world.desk.record_ehr_booking(
            mrn="MRN-1", specialty="cardiology", appointment=booked, actor=SCHEDULER
        )
        is None
    )  # two candidates: a person decides
    world.desk.fire(other.id, "cancel", actor=SCHEDULER, data={"reason": "duplicate"})
    matched = world.desk.record_ehr_booking(
        mrn="MRN-1", specialty="cardiology", appointment=booked, actor=SCHEDULER
    )
    assert matched is not None
    assert matched.id == referral.id
    assert matched.status is ReferralStatus.SCHEDULED
    again = world.desk.record_ehr_booking(
        mrn="MRN-1", specialty="cardiology", appointment=booked, actor=SCHEDULER
    )
    assert again is not None
    assert again.version == matched.version  # reported twice: recorded once


def test_slots_honour_the_patient_preferences(world: World) -> None:
    from datetime import time

    referral = world.ready()
    tuesdays = world.desk.find_slots(referral.id, weekdays={1})
    assert [s.slot_id for s in tuesdays] == ["slot-3"]
    assert world.desk.find_slots(referral.id, hours=(time(16), time(18))) == ()
    afternoon = world.desk.find_slots(referral.id, hours=(time(14), time(16)), limit=2)
    assert [s.slot_id for s in afternoon] == ["slot-2", "slot-3"]


@attrs.define
class _Unfiltered(InMemoryEhr):
    """An EHR that lists every slot of the specialty, whatever location it is asked for."""

    asked: list[SlotsRequest] = attrs.field(factory=list)

    def find_slots(self, request: SlotsRequest) -> SlotList:
        self.asked.append(request)
        return SlotList(
            idempotency_key=request.idempotency_key,
            slots=tuple(self.slots.get(request.specialty, [])),
        )


def test_slots_honour_a_location_preference(world: World) -> None:
    from datetime import time

    world.plugin.ehr.slots["cardiology"].append(
        Slot(
            slot_id="slot-north",
            start=datetime(2026, 3, 10, 15, tzinfo=UTC),
            location="North Clinic",
        )
    )
    referral = world.ready()
    # Spelled as a caller or agent might: case and spacing do not matter.
    north = world.desk.find_slots(referral.id, location="  north   CLINIC ")
    assert [s.slot_id for s in north] == ["slot-north"]
    # With the other preferences: all must hold.
    assert world.desk.find_slots(referral.id, location="North Clinic", weekdays={0}) == ()
    lakeside = world.desk.find_slots(
        referral.id, location="Lakeside Cardiology, room 2", hours=(time(14), time(16)), limit=2
    )
    assert [s.slot_id for s in lakeside] == ["slot-2", "slot-3"]
    assert world.desk.find_slots(referral.id, location="Elsewhere") == ()


def test_an_ehr_that_ignores_the_location_is_filtered_after_it(world: World) -> None:
    referral = world.ready()
    unfiltered = _Unfiltered(clock=world.clock, sleep=lambda _s: None)
    unfiltered.slots["cardiology"] = [
        *world.plugin.ehr.slots["cardiology"],
        Slot(slot_id="slot-north", start=datetime(2026, 3, 10, 15, tzinfo=UTC), location="North"),
    ]
    world.plugin.ehr = unfiltered
    assert [s.slot_id for s in world.desk.find_slots(referral.id, location="north")] == [
        "slot-north"
    ]
    assert unfiltered.asked[-1].location == "north"  # the EHR was asked for it
