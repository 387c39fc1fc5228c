"""Golden scenarios: whole cadences driven by sweeps on a manual clock, through the desk."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from referralkit import (
    Actor,
    ActorKind,
    Address,
    Appointment,
    AuthorizationStatus,
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
from referralkit.model import Channel, TaskPriority
from referralkit.outbox import RetryPolicy
from referralkit.outreach.consent import cap_violations
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.outreach.policy import DEFAULT_CAPS
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import CallRequest, PracticeUpdateRequest, SmsReply, SmsRequest

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Monday 08:00 in Chicago
CHICAGO = ZoneInfo("America/Chicago")
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)


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
        self.sent_at: list[tuple[str, datetime]] = []

    def ready(self, **overrides: object) -> Referral:
        fields: dict[str, object] = {
            "status": ReferralStatus.RECEIVED,
            "referral_number": "R-1",
            "patient": Patient(
                given_name="Ada",
                family_name="Lovelace",
                birth_date=date(1980, 1, 2),
                phones=(PhoneContact(number="+15555550123"),),
                address=Address(
                    line1="1 Main St", city="Springfield", state="IL", postal_code="62701"
                ),
            ),
            "referring_practice": Practice(name="Maple Street FM", fax="+15555550100"),
            "receiving_practice": Practice(name="Lakeside Cardiology", phone="+15555550199"),
            "specialty": "cardiology",
            "reason": ReasonForReferral(text="palpitations"),
        }
        fields.update(overrides)
        referral = self.desk.create(Referral(**fields), actor=SYSTEM)  # type: ignore[arg-type]
        self.desk.fire(referral.id, "accept", actor=CLINICIAN)
        return self.desk.fire(referral.id, "clear", actor=SYSTEM)

    def run(self, hours: int, step: int = 1) -> None:
        """Sweep every *step* hours for *hours*, noting when each patient contact went out."""
        for _ in range(0, hours, step):
            before = set(self.plugin.telephony.contacts)
            self.desk.sweep(routing=False)  # routing has its own tests; its tasks would mix in
            for key in set(self.plugin.telephony.contacts) - before:
                self.sent_at.append((key, self.clock.now()))
            self.clock.advance(hours=step)

    def patient_contacts(self) -> list[datetime]:
        return [at for _, at in self.sent_at]

    def updates(self) -> list[PracticeUpdateRequest]:
        return [r for r in self.plugin.notification.sent if isinstance(r, PracticeUpdateRequest)]


@pytest.fixture
def world() -> World:
    return World()


def _local_hours(instants: list[datetime]) -> set[int]:
    return {i.astimezone(CHICAGO).hour for i in instants}


def test_unbooked_cadence_ends_lost_with_the_referrer_notified(world: World) -> None:
    referral = world.ready()
    world.run(hours=24 * 20)
    calls = world.plugin.telephony.calls
    texts = world.plugin.telephony.sms
    letters = [r for r in world.plugin.notification.sent if type(r).__name__ == "LetterRequest"]
    assert [c.script_id for c in calls] == [
        "schedule.call_d0",
        "schedule.call_d5",
        "schedule.final_call",
    ]
    assert [s.template_id for s in texts] == ["schedule.sms_d2"]
    assert len(letters) == 1
    days = sorted((at.date() - T0.date()).days for at in world.patient_contacts())
    assert days == [0, 2, 5, 14]  # calls and SMS; the letter went to the mail vendor on day 10
    final = world.desk.get(referral.id)
    assert final.status is ReferralStatus.LOST
    assert final.status_reason is not None
    assert final.status_reason.code == "unreachable"
    assert final.next_action_at is None
    updates = world.updates()
    assert [u.status for u in updates] == [ReferralStatus.LOST]
    assert updates[0].reason_code == "unreachable"
    assert _local_hours(world.patient_contacts()) <= set(range(8, 21))
    assert cap_violations(world.patient_contacts(), DEFAULT_CAPS) == 0
    world.desk.verify(referral.id)


def test_requests_carry_only_what_their_purpose_needs(world: World) -> None:
    world.ready()
    world.run(hours=24 * 3)
    call = world.plugin.telephony.calls[0]
    sms = world.plugin.telephony.sms[0]
    for request in (call, sms):
        dumped = str(request.model_dump())
        # Every canary holds a letter outside a-f or punctuation: an idempotency key is hex,
        # so a bare "1980" appeared in one now and then.
        birth = ("1980-01-02", "datetime.date(1980, 1, 2)", "01/02/1980")
        for phi in ("Ada", "Lovelace", *birth, "palpitations", "Springfield"):
            assert phi not in dumped  # minimum necessary: a number and a script or text
        assert date(1980, 1, 2) not in request.model_dump().values()
    assert "palpitations" not in sms.body
    assert "Lakeside Cardiology" in sms.body
    assert "STOP" in sms.body
    assert len(sms.body) <= 160
    assert call.window_start <= call.window_end


def test_texts_give_the_practice_extension_and_calls_dial_the_patient_one(world: World) -> None:
    world.ready(
        receiving_practice=Practice(
            name="Lakeside Cardiology", phone="+15555550199", phone_extension="42"
        ),
        patient=Patient(
            given_name="Ada",
            family_name="Lovelace",
            birth_date=date(1980, 1, 2),
            phones=(PhoneContact(number="+15555550123", extension="7"),),
            address=Address(
                line1="1 Main St", city="Springfield", state="IL", postal_code="62701"
            ),
        ),
    )
    world.run(hours=24 * 3)
    call = world.plugin.telephony.calls[0]
    sms = world.plugin.telephony.sms[0]
    assert (call.to, call.extension) == ("+15555550123", "7")
    assert "+15555550199 ext. 42" in sms.body
    assert sms.to == "+15555550123"  # a text goes to the number itself


def test_booking_stops_the_cadence_and_plans_reminders(world: World) -> None:
    referral = world.ready()
    world.run(hours=2)
    appointment_at = datetime(2026, 3, 16, 15, 30, tzinfo=UTC)
    world.desk.record_booking(referral.id, Appointment(start=appointment_at), actor=SCHEDULER)
    world.run(hours=24 * 15)
    assert len(world.plugin.telephony.calls) == 1  # only the day-0 call before booking
    reminders = [s for s in world.plugin.telephony.sms if s.template_id.startswith("reminder")]
    assert [s.template_id for s in reminders] == ["reminder.3d", "reminder.1d"]
    sent = dict(world.sent_at)
    reminder_days = sorted(
        (appointment_at.date() - sent[s.idempotency_key].date()).days for s in reminders
    )
    assert reminder_days == [1, 3]
    assert "Mar 16" in reminders[0].body
    assert [u.status for u in world.updates()] == [ReferralStatus.SCHEDULED]
    assert _local_hours(world.patient_contacts()) <= set(range(8, 21))


def test_no_show_recovery_calls_then_texts_then_stops_when_rebooked(world: World) -> None:
    referral = world.ready()
    world.run(hours=2)
    world.desk.record_booking(
        referral.id, Appointment(start=T0 + timedelta(days=1, hours=2)), actor=SCHEDULER
    )
    world.run(hours=24 * 2)
    world.desk.fire(referral.id, "no_show", actor=SCHEDULER)
    world.run(hours=24 * 6)
    scripts = [c.script_id for c in world.plugin.telephony.calls]
    assert scripts[-1] == "no_show.call"
    recovery_sms = world.plugin.telephony.sms[-1]
    assert recovery_sms.template_id == "no_show.sms"
    # Day 0 call, reminder and recovery call filled the 3-a-week cap: the SMS waits for it.
    sent = dict(world.sent_at)[recovery_sms.idempotency_key]
    assert sent >= T0 + timedelta(days=7)
    world.desk.record_booking(
        referral.id, Appointment(start=T0 + timedelta(days=10)), actor=SCHEDULER
    )
    calls_before = len(world.plugin.telephony.calls)
    world.run(hours=24 * 5)
    assert len(world.plugin.telephony.calls) == calls_before
    assert [u.status for u in world.updates()][:2] == [
        ReferralStatus.SCHEDULED,
        ReferralStatus.READY_TO_SCHEDULE,
    ]
    assert cap_violations(world.patient_contacts(), DEFAULT_CAPS) == 0


def test_authorization_ending_before_the_appointment_opens_an_urgent_task(world: World) -> None:
    referral = world.ready()
    world.desk.fire(referral.id, "require_auth", actor=SCHEDULER)
    world.desk.fire(
        referral.id,
        "authorize",
        actor=SCHEDULER,
        data={"number": "A-1", "valid_from": date(2026, 3, 1), "valid_to": date(2026, 4, 30)},
    )
    world.desk.record_booking(
        referral.id, Appointment(start=datetime(2026, 4, 20, 15, 0, tzinfo=UTC)), actor=SCHEDULER
    )
    # The payer shortens the authorization: it now ends before the visit.
    world.desk.amend(
        referral.id,
        "authorization_updated",
        actor=SCHEDULER,
        update=lambda r: {
            "authorization": r.authorization.model_copy(update={"valid_to": date(2026, 4, 10)})
        },
    )
    world.run(hours=2)
    tasks = world.desk.get(referral.id).tasks
    assert [(t.queue, t.priority) for t in tasks] == [("authorization", TaskPriority.HIGH)]
    assert "authorization_does_not_cover_appointment" in tasks[0].reason
    world.run(hours=24)
    assert len(world.desk.get(referral.id).tasks) == 1  # opened once


def test_authorization_expiring_while_unscheduled_opens_a_task(world: World) -> None:
    referral = world.ready()
    world.desk.fire(referral.id, "require_auth", actor=SCHEDULER)
    world.desk.fire(
        referral.id,
        "authorize",
        actor=SCHEDULER,
        data={"number": "A-1", "valid_from": date(2026, 3, 1), "valid_to": date(2026, 3, 12)},
    )
    world.run(hours=24 * 6)
    tasks = world.desk.get(referral.id).tasks
    # Nobody worked the task for days: the authorization queue's ladder escalated it.
    assert [t.queue for t in tasks] == ["authorization", "supervisor"]
    assert world.desk.get(referral.id).authorization.status is AuthorizationStatus.APPROVED


def test_spanish_stop_reply_moves_the_sms_step_to_a_call(world: World) -> None:
    referral = world.ready()
    world.run(hours=2)
    world.desk.record_sms_reply(
        SmsReply(
            referral_id=referral.id,
            provider_ref="in-1",
            from_number="+15555550123",
            body="¡Alto!",
            at=world.clock.now(),
        )
    )
    world.run(hours=24 * 6)
    assert world.plugin.telephony.sms == []
    assert [c.script_id for c in world.plugin.telephony.calls] == [
        "schedule.call_d0",
        "schedule.sms_d2",
        "schedule.call_d5",
    ]
    consent = world.desk.get(referral.id).patient.consent  # type: ignore[union-attr]
    assert not consent.allows(Channel.SMS, "+15555550123")


def test_full_opt_out_stops_automated_contact_and_hands_over_to_a_person(world: World) -> None:
    referral = world.ready()
    world.run(hours=2)
    world.desk.withdraw_consent(referral.id, actor=SCHEDULER)
    world.run(hours=24 * 20)
    assert len(world.plugin.telephony.contacts) == 1
    final = world.desk.get(referral.id)
    assert final.status is ReferralStatus.READY_TO_SCHEDULE  # opting out is not declining care
    handed = [t for t in final.tasks if not (t.rule_id or "").startswith("task_sla:")]
    assert [t.reason.rsplit(": ", 1)[-1] for t in handed] == ["consent"]
    # Left unworked for weeks, the hand-over escalates along its queue's ladder.
    assert all(t.rule_id == f"task_sla:{handed[0].id}" for t in final.tasks if t not in handed)


def test_patient_without_any_zone_gets_a_person_not_a_robocall(world: World) -> None:
    patient = Patient(
        given_name="Ada",
        family_name="Lovelace",
        birth_date=date(1980, 1, 2),
        phones=(PhoneContact(number="+15555550123"),),
    )
    referral = world.ready(patient=patient)
    world.run(hours=3)
    assert world.plugin.telephony.contacts == {}
    tasks = world.desk.get(referral.id).tasks
    assert tasks
    assert tasks[0].reason.endswith("no_time_zone")


def test_patient_declined_marks_lost_and_notifies_the_referrer(world: World) -> None:
    referral = world.ready()
    world.run(hours=2)
    world.desk.record_patient_declined(referral.id, actor=SCHEDULER)
    world.run(hours=2)
    final = world.desk.get(referral.id)
    assert final.status is ReferralStatus.LOST
    assert [u.reason_code for u in world.updates()] == ["patient_declined"]


def test_records_request_is_faxed_to_the_sending_practice(world: World) -> None:
    from referralkit.model import RecordsRequest

    referral = world.ready()
    request = RecordsRequest(requested_at=T0, due_at=T0 + timedelta(days=1))
    world.desk.amend(
        referral.id,
        "records_requested",
        actor=SCHEDULER,
        update={"records_requests": (request,)},
    )
    world.run(hours=24 * 5)
    faxes = world.plugin.fax.sent
    assert [f.purpose for f in faxes] == ["records_request", "records_request"]
    assert faxes[0].to == "+15555550100"


def test_sweep_report_counts_and_is_phi_free(world: World) -> None:
    world.ready()
    report = world.desk.sweep(routing=False)
    assert report.summary()["dispatched"] == 1
    text = repr(report)
    assert "Ada" not in text
    assert "+1555" not in text


def test_sweep_without_outreach_configured_does_nothing(world: World) -> None:
    world.desk.outreach = None
    world.ready()
    assert world.desk.sweep(routing=False).summary()["claimed"] == 0


def test_sweep_runs_routing_too_when_the_desk_has_it(world: World) -> None:
    world.ready()
    report = world.desk.sweep()
    assert report.summary()["dispatched"] == 1
    if hasattr(world.desk, "sweep_routing"):
        assert report.routing is not None


def test_every_decision_is_in_the_verified_history(world: World) -> None:
    referral = world.ready()
    world.run(hours=24 * 3)
    kinds = [e.kind for e in world.desk.history(referral.id)]
    assert kinds.count("action_queued") == kinds.count("action_sent") == 2
    world.desk.verify(referral.id)


def test_unique_referral_ids_do_not_share_keys(world: World) -> None:
    world.ready(referral_number="R-1")
    world.ready(referral_number="R-2", id=uuid4())
    world.run(hours=2)
    assert len(world.plugin.telephony.calls) == 2
    assert isinstance(world.plugin.telephony.calls[0], CallRequest)
    assert not isinstance(world.plugin.telephony.calls[0], SmsRequest)
