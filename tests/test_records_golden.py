"""Golden scenarios for records transfer, driven by sweeps on a manual clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from referralkit import (
    Actor,
    ActorKind,
    Appointment,
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
from referralkit.model import RecordsChannel, RecordsRequestStatus, RecordsSource, TaskStatus
from referralkit.outbox import RetryPolicy
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import DocumentRef, InboundFax

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Monday 08:00 in Chicago
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)
REFERRER_FAX = "+15555550100"


class World:
    def __init__(self) -> None:
        self.clock = ManualClock(T0)
        self.plugin = InMemoryPlugin.with_clock(self.clock, sleep=lambda _s: None)
        self.desk = ReferralDesk(
            store=MemoryStore(),
            clock=self.clock,
            hooks=Hooks(make_plugin_manager([self.plugin], load_entrypoints=False)),
            retrying=RetryPolicy.no_wait(3),
            outreach=OutreachSettings(),
        )

    def scheduled(self, visit: datetime) -> Referral:
        referral = self.desk.create(
            Referral(
                status=ReferralStatus.RECEIVED,
                patient=Patient(
                    given_name="Ada",
                    family_name="Lovelace",
                    birth_date=date(1980, 1, 2),
                    mrn="MRN-1",
                    phones=(PhoneContact(number="+15555550123"),),
                    time_zone="America/Chicago",
                ),
                referring_practice=Practice(name="Maple Street FM", fax=REFERRER_FAX),
                receiving_practice=Practice(name="Lakeside Cardiology"),
                specialty="cardiology",
                reason=ReasonForReferral(text="palpitations"),
            ),
            actor=SYSTEM,
        )
        self.desk.fire(referral.id, "accept", actor=CLINICIAN)
        self.desk.fire(referral.id, "clear", actor=SYSTEM)
        return self.desk.record_booking(referral.id, Appointment(start=visit), actor=SCHEDULER)

    def run(self, hours: int) -> None:
        for _ in range(hours):
            self.desk.sweep(routing=False)
            self.clock.advance(hours=1)

    def records_faxes(self) -> list[str]:
        return [f.purpose for f in self.plugin.fax.sent if f.purpose == "records_request"]


@pytest.fixture
def world() -> World:
    return World()


def _open_tasks(referral: Referral, queue: str) -> list[str]:
    return [t.reason for t in referral.tasks if t.queue == queue and t.status is TaskStatus.OPEN]


def _missing_tasks(referral: Referral) -> int:
    return sum(
        r.endswith("records_missing_before_visit") for r in _open_tasks(referral, "records")
    )


def test_records_requested_chased_and_received_before_the_visit(world: World) -> None:
    visit = T0 + timedelta(days=14)
    referral = world.scheduled(visit)
    referral = world.desk.request_records(
        referral.id,
        actor=SCHEDULER,
        kinds=("consult_note", "imaging"),
        needed_days_before_visit=2,
    )
    request = referral.records_requests[-1]
    assert request.status is RecordsRequestStatus.REQUESTED
    assert request.needed_by is not None
    assert request.needed_by.date() == date(2026, 3, 12)  # two business days before the visit
    assert referral.missing_records() == ("consult_note", "imaging")

    world.run(hours=2)
    fax = world.plugin.fax.sent[0]
    assert (fax.purpose, fax.to, fax.records_request_id) == (
        "records_request",
        REFERRER_FAX,
        request.id,
    )
    assert world.desk.get(referral.id).records_requests[0].status is RecordsRequestStatus.SENT

    # Nothing comes back: three business days later the reminder fax goes out.
    world.run(hours=24 * 4)
    assert world.records_faxes() == ["records_request", "records_request"]

    # The practice faxes the consult note; the host does not know which request it answers.
    world.desk.receive_fax(
        InboundFax(
            referral_id=referral.id,
            provider_ref="in-1",
            from_number=REFERRER_FAX,
            received_at=world.clock.now(),
            document=DocumentRef(document_id="doc-note", kind="consult_note"),
        )
    )
    partial = world.desk.get(referral.id)
    assert partial.records_requests[0].status is RecordsRequestStatus.PARTIALLY_RECEIVED
    assert partial.missing_records() == ("imaging",)

    world.desk.receive_fax(
        InboundFax(
            referral_id=referral.id,
            provider_ref="in-2",
            from_number=REFERRER_FAX,
            received_at=world.clock.now(),
            document=DocumentRef(document_id="doc-ct", kind="imaging"),
        )
    )
    done = world.desk.get(referral.id)
    assert done.records_requests[0].status is RecordsRequestStatus.RECEIVED
    assert done.records_requests[0].documents == ("doc-note", "doc-ct")
    assert done.missing_records() == ()
    faxes_before = len(world.records_faxes())

    world.run(hours=24 * 10)  # up to the visit: no more chasing, no missing-records task
    final = world.desk.get(referral.id)
    assert len(world.records_faxes()) == faxes_before
    assert _open_tasks(final, "records") == []


def test_repeated_fax_report_attaches_the_document_once(world: World) -> None:
    referral = world.scheduled(T0 + timedelta(days=14))
    world.desk.request_records(referral.id, actor=SCHEDULER, kinds=("labs", "imaging"))
    fax = InboundFax(
        referral_id=referral.id,
        provider_ref="in-1",
        received_at=T0,
        document=DocumentRef(document_id="doc-labs", kind="labs"),
    )
    world.desk.receive_fax(fax)
    version = world.desk.get(referral.id).version
    world.desk.receive_fax(fax)
    after = world.desk.get(referral.id)
    assert after.version == version
    assert after.records_requests[0].documents == ("doc-labs",)


def test_records_missing_three_business_days_before_the_visit_open_a_task(
    world: World,
) -> None:
    visit = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)  # Friday
    referral = world.scheduled(visit)
    world.desk.request_records(referral.id, actor=SCHEDULER, kinds=("consult_note",))
    # Records never arrive. Until Tuesday 17th (three business days before) no missing task.
    world.run(hours=int((datetime(2026, 3, 17, tzinfo=UTC) - T0).total_seconds() // 3600))
    assert _missing_tasks(world.desk.get(referral.id)) == 0
    world.run(hours=1)  # the sweep at midnight UTC on Tuesday
    assert _missing_tasks(world.desk.get(referral.id)) == 1
    world.run(hours=24 * 2)  # sweeps keep running: still one task
    assert _missing_tasks(world.desk.get(referral.id)) == 1


def test_waived_records_are_not_chased(world: World) -> None:
    referral = world.scheduled(T0 + timedelta(days=10))
    referral = world.desk.request_records(referral.id, actor=SCHEDULER, kinds=("labs",))
    request_id = referral.records_requests[0].id
    world.desk.close_records_request(
        referral.id,
        request_id,
        RecordsRequestStatus.WAIVED,
        actor=SCHEDULER,
        reason="labs done in-house",
    )
    world.run(hours=24 * 10)
    assert world.records_faxes() == []
    final = world.desk.get(referral.id)
    assert _open_tasks(final, "records") == []
    assert final.missing_records() == ()
    with pytest.raises(ValueError, match="already waived"):
        world.desk.close_records_request(
            referral.id, request_id, RecordsRequestStatus.FAILED, actor=SCHEDULER, reason="x"
        )
    assert "labs done" not in repr(final.records_requests[0])


def test_records_fetched_from_the_ehr(world: World) -> None:
    world.plugin.ehr.documents["MRN-1"] = (
        DocumentRef(document_id="ehr-echo", kind="imaging"),
        DocumentRef(document_id="ehr-note", kind="consult_note"),
    )
    referral = world.scheduled(T0 + timedelta(days=10))
    referral = world.desk.request_records(
        referral.id,
        actor=SCHEDULER,
        kinds=("imaging", "labs"),
        source=RecordsSource.EHR,
        channel=RecordsChannel.EHR,
    )
    request = referral.records_requests[0]
    assert request.status is RecordsRequestStatus.PARTIALLY_RECEIVED
    assert request.documents == ("ehr-echo",)
    assert referral.missing_records() == ("labs",)
    world.run(hours=24 * 3)
    assert world.records_faxes() == []  # EHR requests are not faxed


def test_a_records_request_from_another_provider_is_faxed_there(world: World) -> None:
    referral = world.scheduled(T0 + timedelta(days=14))
    world.desk.request_records(
        referral.id,
        actor=SCHEDULER,
        kinds=("imaging",),
        source=RecordsSource.OTHER_PROVIDER,
        from_practice="Valley Imaging",
        from_fax="+15555550177",
    )
    world.run(hours=2)
    fax = world.plugin.fax.sent[0]
    assert (fax.to, fax.recipient_name) == ("+15555550177", "Valley Imaging")


def test_a_fax_request_without_a_number_is_refused(world: World) -> None:
    referral = world.scheduled(T0 + timedelta(days=14))
    world.desk.amend(
        referral.id,
        "practice_changed",
        actor=SCHEDULER,
        update={"referring_practice": Practice(name="No Fax FM")},
    )
    with pytest.raises(ValueError, match="fax number"):
        world.desk.request_records(referral.id, actor=SCHEDULER)
    assert world.desk.get(referral.id).records_requests == ()


def _needed_by(world: World, referral: Referral) -> datetime | None:
    return world.desk.get(referral.id).records_requests[-1].needed_by


def test_needed_by_follows_the_visit_and_so_does_the_missing_records_task(
    world: World,
) -> None:
    first = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)  # Friday
    referral = world.scheduled(first)
    world.desk.request_records(
        referral.id, actor=SCHEDULER, kinds=("consult_note",), needed_days_before_visit=2
    )
    assert _needed_by(world, referral) == datetime(2026, 3, 18, 15, 0, tzinfo=UTC)

    # Rescheduled a week later: due two business days before the new visit.
    later = datetime(2026, 3, 27, 15, 0, tzinfo=UTC)
    world.desk.fire(
        referral.id,
        "reschedule",
        actor=SCHEDULER,
        data={"appointment": Appointment(start=later)},
    )
    assert _needed_by(world, referral) == datetime(2026, 3, 25, 15, 0, tzinfo=UTC)
    moved = [e for e in world.desk.history(referral.id) if e.kind == "records_needed_by_moved"]
    assert [e.actor.id for e in moved] == ["referralkit.records"]
    world.desk.verify(referral.id)  # the move replays: it is in the tamper-evident history

    # Tuesday 17th was three business days before the old visit: no task for it now.
    world.run(hours=int((datetime(2026, 3, 18, tzinfo=UTC) - T0).total_seconds() // 3600))
    assert _missing_tasks(world.desk.get(referral.id)) == 0
    # Tuesday 24th is three business days before the new one.
    world.run(hours=24 * 6)
    assert _missing_tasks(world.desk.get(referral.id)) == 0
    world.run(hours=1)
    assert _missing_tasks(world.desk.get(referral.id)) == 1


def test_needed_by_is_cleared_by_a_cancellation_and_set_by_a_new_booking(
    world: World,
) -> None:
    referral = world.scheduled(datetime(2026, 3, 20, 15, 0, tzinfo=UTC))
    world.desk.request_records(
        referral.id, actor=SCHEDULER, kinds=("consult_note",), needed_days_before_visit=1
    )
    world.desk.fire(
        referral.id, "cancel_appointment", actor=SCHEDULER, data={"reason": "patient_request"}
    )
    assert _needed_by(world, referral) is None  # no visit, nothing to be in time for
    world.desk.record_booking(
        referral.id, Appointment(start=datetime(2026, 4, 6, 16, 0, tzinfo=UTC)), actor=SCHEDULER
    )
    assert _needed_by(world, referral) == datetime(2026, 4, 3, 16, 0, tzinfo=UTC)  # Friday


def test_a_fixed_needed_by_does_not_move(world: World) -> None:
    referral = world.scheduled(datetime(2026, 3, 20, 15, 0, tzinfo=UTC))
    fixed = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    world.desk.request_records(
        referral.id, actor=SCHEDULER, kinds=("consult_note",), needed_by=fixed
    )
    world.desk.fire(
        referral.id,
        "reschedule",
        actor=SCHEDULER,
        data={"appointment": Appointment(start=datetime(2026, 3, 27, 15, 0, tzinfo=UTC))},
    )
    assert _needed_by(world, referral) == fixed
    kinds = [e.kind for e in world.desk.history(referral.id)]
    assert "records_needed_by_moved" not in kinds
