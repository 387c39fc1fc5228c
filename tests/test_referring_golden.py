"""Golden scenarios from the referring practice's side, on every store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from referralkit import (
    Actor,
    ActorKind,
    Appointment,
    ManualClock,
    Patient,
    PhoneContact,
    Practice,
    Referral,
    ReferralDesk,
    Role,
)
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.desk.referring import ReceiverAnswer, SentCopy
from referralkit.errors import PermissionDeniedError, TransitionBlockedError
from referralkit.events import verify_history
from referralkit.lifecycle.replay import replay
from referralkit.model import (
    Channel,
    DeclineReason,
    OutboundStatus,
    Priority,
    ReferralPackage,
    ReportDisposition,
    TaskStatus,
)
from referralkit.outbox import RetryPolicy
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import DocumentRef
from referralkit.referring import (
    OUTBOUND_QUEUE,
    REPORT_MATCH_QUEUE,
    REPORT_REVIEW_QUEUE,
    ReportHints,
)
from referralkit.store import Store
from tests.support.pg import open_store_for

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday
STAFF = Actor(kind=ActorKind.HUMAN, id="coord-ruiz", role=Role.REFERRER)
DOCTOR = Actor(kind=ActorKind.HUMAN, id="dr-patel", role=Role.CLINICIAN)
CHANNEL = Actor(kind=ActorKind.INTEGRATION, id="direct", role=Role.SYSTEM)
CARDIO = Practice(name="Lakeside Cardiology", id="lakeside", npi="1234567893", fax="+15555550199")
HEART = Practice(name="Hilltop Heart", id="hilltop", npi="1245319599", fax="+15555550188")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from open_store_for(request.param, tmp_path)


class Desk:
    def __init__(self, store: Store) -> None:
        self.clock = ManualClock(T0)
        self.plugin = InMemoryPlugin.with_clock(self.clock, sleep=lambda _s: None)
        self.desk = ReferralDesk(
            store=store,
            clock=self.clock,
            hooks=Hooks(make_plugin_manager([self.plugin], load_entrypoints=False)),
            retrying=RetryPolicy.no_wait(3),
        )
        self.referring = self.desk.referring

    def sent(self, receiver: Practice = CARDIO, *, patient_books: bool = False) -> Referral:
        draft = self.referring.draft(
            Referral(
                patient=Patient(
                    given_name="Grace",
                    family_name="Hopper",
                    birth_date=date(1952, 12, 9),
                    phones=(PhoneContact(number="+15555550123"),),
                    time_zone="America/New_York",
                ),
                referring_practice=Practice(name="Elm Street Primary Care", id="elm"),
                receiving_practice=receiver,
                specialty="cardiology",
            ),
            actor=STAFF,
            patient_books=patient_books,
        )
        package = ReferralPackage(
            reason="exertional chest pain", urgency=Priority.URGENT, documents=("ecg-1",)
        )
        self.referring.prepare_package(draft.id, package, actor=STAFF)
        self.referring.release_package(draft.id, actor=DOCTOR)
        referral, _ = self.referring.send(
            draft.id, SentCopy(b"%PDF package", "pkg-1"), actor=STAFF
        )
        return referral

    def status(self, referral_id: object) -> OutboundStatus:
        referral = self.desk.get(referral_id)  # type: ignore[arg-type]
        assert referral.outbound is not None
        return referral.outbound.status

    def open_tasks(self, referral_id: object, queue: str) -> list[str]:
        referral = self.desk.get(referral_id)  # type: ignore[arg-type]
        return [
            t.reason for t in referral.tasks if t.queue == queue and t.status is TaskStatus.OPEN
        ]


def test_the_loop_closes_when_the_clinician_reviews_the_report(store: Store) -> None:
    world = Desk(store)
    referral = world.sent()
    assert world.status(referral.id) is OutboundStatus.DELIVERED  # the fax went through
    fax = world.plugin.fax.sent[-1]
    assert (fax.purpose, fax.to) == ("referral_packet", CARDIO.fax)
    sends = world.desk.get(referral.id).outbound.sends  # type: ignore[union-attr]
    assert sends[0].sha256 == hashlib.sha256(b"%PDF package").hexdigest()
    world.referring.record_answer(referral.id, ReceiverAnswer("accepted", "m-1"), actor=CHANNEL)
    visit = Appointment(start=T0 + timedelta(days=9))
    world.referring.record_answer(
        referral.id, ReceiverAnswer("booked", "m-2", appointment=visit), actor=CHANNEL
    )
    world.clock.advance(days=9, hours=2)
    world.referring.record_answer(referral.id, ReceiverAnswer("seen", "m-3"), actor=CHANNEL)
    outcome = world.referring.receive_report(
        DocumentRef(document_id="rpt-1", kind="consult_report"),
        ReportHints(referral_number=referral.referral_number),
        received_at=world.clock.now(),
        actor=CHANNEL,
    )
    assert (outcome.status, outcome.referral_id) == ("attached", referral.id)
    assert world.open_tasks(referral.id, REPORT_REVIEW_QUEUE) == ["report_received"]
    world.referring.review_report(referral.id, ReportDisposition.ACKNOWLEDGED, actor=DOCTOR)
    assert world.status(referral.id) is OutboundStatus.REPORT_REVIEWED
    assert world.open_tasks(referral.id, REPORT_REVIEW_QUEUE) == []
    events = world.desk.history(referral.id)
    assert [e.kind for e in events if e.data.get("to")] == [
        "send", "confirm_delivery", "receiver_accept", "book", "record_seen",
        "receive_report", "review_report",
    ]  # fmt: skip
    verify_history(events, expected_count=len(events), expected_head=events[-1].hash)
    assert replay(events) == world.desk.get(referral.id)
    facts = list(world.referring.track_records())
    assert [(f.receiver_id, f.specialty, f.first_appointment_at) for f in facts] == [
        ("lakeside", "cardiology", visit.start)
    ]


def test_a_silent_receiver_is_chased_then_redirected(store: Store) -> None:
    world = Desk(store)
    referral = world.sent()
    world.clock.advance(days=1)
    assert world.referring.chase().done == ()  # one business day: not yet
    world.clock.advance(days=2)  # Thursday: two business days after Monday's send
    assert world.referring.chase().done == (("resend", 1),)
    assert world.open_tasks(referral.id, OUTBOUND_QUEUE) == ["not_acknowledged"]
    sends = world.desk.get(referral.id).outbound.sends  # type: ignore[union-attr]
    assert [s.attempt for s in sends] == [1, 2]
    assert sends[0].sha256 == sends[1].sha256  # the same copy, its own record
    assert world.referring.chase().done == ()  # recorded once
    world.clock.advance(days=4)
    assert world.referring.chase().done == (("silent", 1),)
    assert "receiver_silent" in world.open_tasks(referral.id, OUTBOUND_QUEUE)
    new = world.referring.redirect(referral.id, reason="no answer", actor=STAFF,
                                   receiving_practice=HEART)  # fmt: skip
    assert world.status(referral.id) is OutboundStatus.REDIRECTED
    assert world.open_tasks(referral.id, OUTBOUND_QUEUE) == []
    assert new.outbound is not None
    assert new.outbound.redirected_from == referral.id
    assert new.outbound.package is not None
    assert new.outbound.package.released_by is None
    with pytest.raises(TransitionBlockedError, match="released"):
        world.referring.send(new.id, SentCopy(b"v2", "pkg-2"), actor=STAFF)


def test_a_decline_opens_a_redirect_task_with_the_reason(store: Store) -> None:
    world = Desk(store)
    referral = world.sent()
    answer = ReceiverAnswer("declined", "m-9", reason=DeclineReason.NO_CAPACITY)
    world.referring.record_answer(referral.id, answer, actor=CHANNEL)
    world.referring.record_answer(referral.id, answer, actor=CHANNEL)  # repeated callback
    declined = world.desk.get(referral.id)
    tasks = [t for t in declined.tasks if t.queue == OUTBOUND_QUEUE]
    assert [(t.reason, t.detail) for t in tasks] == [("declined", "decline reason: no_capacity")]
    new = world.referring.redirect(referral.id, reason="no capacity", actor=STAFF,
                                   receiving_practice=HEART)  # fmt: skip
    world.referring.release_package(new.id, actor=DOCTOR)
    world.referring.send(new.id, SentCopy(b"%PDF package", "pkg-1b"), actor=STAFF)
    assert world.status(new.id) is OutboundStatus.DELIVERED
    facts = {f.receiver_id: f for f in world.referring.track_records()}
    assert facts["lakeside"].decline_reason == "no_capacity"
    assert facts["lakeside"].redirected_to == "hilltop"  # the new referral's receiver
    assert facts["hilltop"].sent_at is not None


def test_a_report_for_no_known_referral_waits_in_the_matching_queue(store: Store) -> None:
    world = Desk(store)
    referral = world.sent()
    outcome = world.referring.receive_report(
        DocumentRef(document_id="rpt-x", kind="consult_report"),
        ReportHints(family_name="Hopper", birth_date=date(1952, 12, 9)),  # no receiver named
        received_at=world.clock.now(),
        actor=CHANNEL,
    )
    assert outcome.status == "review"
    assert outcome.referral_id != referral.id
    held = world.desk.get(outcome.referral_id)
    task = next(t for t in held.tasks if t.queue == REPORT_MATCH_QUEUE)
    assert "Hopper" not in task.title
    assert task.detail == f"candidates: {referral.referral_number}"
    world.referring.resolve_report(outcome.referral_id, referral.id, actor=STAFF)
    assert world.status(referral.id) is OutboundStatus.REPORT_RECEIVED
    assert world.status(outcome.referral_id) is OutboundStatus.ENTERED_IN_ERROR
    assert [f.referral_id for f in world.referring.track_records()] == [referral.id]


def test_a_corrected_report_after_closure_reopens_review(store: Store) -> None:
    world = Desk(store)
    referral = world.sent()
    hints = ReportHints(referral_number=referral.referral_number)
    first = DocumentRef(document_id="rpt-1", kind="consult_report")
    world.referring.receive_report(first, hints, received_at=T0, actor=CHANNEL)
    world.referring.review_report(referral.id, ReportDisposition.ACKNOWLEDGED, actor=DOCTOR)
    corrected = DocumentRef(document_id="rpt-1b", kind="consult_report")
    outcome = world.referring.receive_report(
        corrected, ReportHints(revision_of="rpt-1"), received_at=T0, actor=CHANNEL
    )
    assert outcome.status == "revision"
    reopened = world.desk.get(referral.id)
    assert reopened.outbound is not None
    assert reopened.outbound.status is OutboundStatus.REPORT_RECEIVED
    assert [(r.report_id, r.revision) for r in reopened.outbound.reports] == [
        ("rpt-1", 1), ("rpt-1b", 2)
    ]  # fmt: skip
    assert world.open_tasks(referral.id, REPORT_REVIEW_QUEUE) == ["report_received"]
    world.referring.review_report(referral.id, ReportDisposition.FOLLOW_UP_NEEDED, actor=DOCTOR)
    assert world.status(referral.id) is OutboundStatus.REPORT_REVIEWED
    assert "follow_up_needed" in world.open_tasks(referral.id, OUTBOUND_QUEUE)


def test_only_a_person_releases_a_package(store: Store) -> None:
    world = Desk(store)
    draft = world.referring.draft(Referral(receiving_practice=CARDIO, specialty="cardiology"),
                                  actor=STAFF)  # fmt: skip
    world.referring.prepare_package(draft.id, ReferralPackage(reason="murmur"), actor=STAFF)
    with pytest.raises(PermissionDeniedError):
        world.referring.release_package(draft.id, actor=CHANNEL)
    with pytest.raises(TransitionBlockedError, match="released"):
        world.referring.send(draft.id, SentCopy(b"x", "pkg"), actor=STAFF)


def test_a_late_receipt_never_moves_the_referral_back(store: Store) -> None:
    world = Desk(store)
    referral = world.referring.draft(
        Referral(receiving_practice=CARDIO.model_copy(update={"preferred_channel": None,
                 "fax": None, "email": "intake@lakeside.example"}), specialty="cardiology"),
        actor=STAFF,
    )  # fmt: skip
    world.referring.prepare_package(referral.id, ReferralPackage(reason="murmur"), actor=STAFF)
    world.referring.release_package(referral.id, actor=DOCTOR)
    world.referring.send(referral.id, SentCopy(b"x", "pkg"), actor=STAFF, channel=Channel.PORTAL)
    assert world.status(referral.id) is OutboundStatus.SENT
    world.referring.record_answer(referral.id, ReceiverAnswer("accepted", "a-1"), actor=CHANNEL)
    world.referring.record_answer(referral.id, ReceiverAnswer("delivered", "r-1"), actor=CHANNEL)
    world.referring.record_answer(
        referral.id, ReceiverAnswer("acknowledged", "a-0"), actor=CHANNEL
    )
    done = world.desk.get(referral.id)
    assert done.outbound is not None
    assert done.outbound.status is OutboundStatus.ACCEPTED
    assert done.outbound.sends[-1].delivered_at is not None
    assert done.outbound.acknowledged_at is not None


def test_a_new_appointment_while_scheduled_is_a_rebooking(store: Store) -> None:
    world = Desk(store)
    referral = world.sent()
    first = Appointment(start=T0 + timedelta(days=9))
    second = Appointment(start=T0 + timedelta(days=12))
    for key, visit in (("b-1", first), ("b-2", second), ("b-2", second)):
        answer = ReceiverAnswer("booked", key, appointment=visit)
        world.referring.record_answer(referral.id, answer, actor=CHANNEL)
    booked = world.desk.get(referral.id)
    assert [a.start for a in booked.appointments] == [first.start, second.start]


def test_a_chased_resend_is_faxed_once_and_a_lost_hand_off_is_resumed(store: Store) -> None:
    world = Desk(store)
    referral = world.sent()
    world.clock.advance(days=3)
    world.referring.chase()
    faxes = [f for f in world.plugin.fax.sent if f.purpose == "referral_packet"]
    assert len(faxes) == 2  # the first send and the chase's re-send
    world.referring.transmit(referral.id)  # as after a crash: the outbox replays, sends nothing
    assert len([f for f in world.plugin.fax.sent if f.purpose == "referral_packet"]) == 2


def test_a_fax_send_without_a_fax_number_writes_nothing(store: Store) -> None:
    world = Desk(store)
    no_fax = CARDIO.model_copy(update={"fax": None})
    draft = world.referring.draft(
        Referral(receiving_practice=no_fax, specialty="cardiology"), actor=STAFF
    )
    world.referring.prepare_package(draft.id, ReferralPackage(reason="murmur"), actor=STAFF)
    world.referring.release_package(draft.id, actor=DOCTOR)
    before = world.desk.get(draft.id).version
    with pytest.raises(ValueError, match="no fax number"):
        world.referring.send(draft.id, SentCopy(b"x", "pkg"), actor=STAFF)
    assert world.desk.get(draft.id).version == before
