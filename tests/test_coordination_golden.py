"""Golden scenarios: the consult report back, referring-practice milestones, status answers."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from referralkit.errors import InvalidTransitionError
from referralkit.intake.status import CallerIdentity, answer_status
from referralkit.model import (
    AuthorizationStatus,
    Channel,
    ReportDeliveryStatus,
    TaskStatus,
)
from referralkit.outbox import RetryPolicy
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.outreach.policy import PracticeUpdates, ReferrerUpdates, default_policy
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import DocumentRef, PracticeUpdateRequest

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)
REPORT = DocumentRef(document_id="consult-77", kind="consult_report")
REFERRER_NPI = "1234567893"


class World:
    def __init__(self, outreach: OutreachSettings | None = None) -> None:
        self.clock = ManualClock(T0)
        self.plugin = InMemoryPlugin.with_clock(self.clock, sleep=lambda _s: None)
        self.desk = ReferralDesk(
            store=MemoryStore(),
            clock=self.clock,
            hooks=Hooks(make_plugin_manager([self.plugin], load_entrypoints=False)),
            retrying=RetryPolicy.no_wait(3),
            outreach=outreach or OutreachSettings(),
        )

    def seen(self, practice: Practice | None = None) -> Referral:
        referral = self.desk.create(
            Referral(
                status=ReferralStatus.RECEIVED,
                patient=Patient(
                    given_name="Ada",
                    family_name="Lovelace",
                    birth_date=date(1980, 1, 2),
                    phones=(PhoneContact(number="+15555550123"),),
                    time_zone="America/Chicago",
                ),
                referring_practice=practice
                or Practice(name="Maple Street FM", fax="+15555550100", npi=REFERRER_NPI),
                receiving_practice=Practice(name="Lakeside Cardiology"),
                specialty="cardiology",
                reason=ReasonForReferral(text="palpitations"),
            ),
            actor=SYSTEM,
        )
        self.desk.fire(referral.id, "accept", actor=CLINICIAN)
        self.desk.fire(referral.id, "clear", actor=SYSTEM)
        self.desk.record_booking(
            referral.id, Appointment(start=T0 + timedelta(days=3)), actor=SCHEDULER
        )
        self.clock.advance(days=3, hours=1)
        return self.desk.fire(referral.id, "complete_visit", actor=CLINICIAN)

    def updates(self) -> list[PracticeUpdateRequest]:
        return [r for r in self.plugin.notification.sent if isinstance(r, PracticeUpdateRequest)]

    def sweep(self, times: int = 1) -> None:
        for _ in range(times):
            self.desk.sweep(routing=False)
            self.clock.advance(hours=1)


@pytest.fixture
def world() -> World:
    return World()


# -- Closing the loop ---------------------------------------------------------------------------


def test_consult_report_delivered_by_fax_closes_the_loop(world: World) -> None:
    referral = world.seen()
    outcome = world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
    assert outcome.status == "sent"
    fax = world.plugin.fax.sent[-1]
    assert (fax.purpose, fax.to, fax.documents) == ("consult_report", "+15555550100", (REPORT,))
    closed = world.desk.get(referral.id)
    assert closed.status is ReferralStatus.CLOSED
    assert closed.consult_report is not None
    assert closed.consult_report.status is ReportDeliveryStatus.DELIVERED
    kinds = [e.kind for e in world.desk.history(referral.id)][-3:]
    assert kinds == ["action_sent", "consult_report_delivered", "close_loop"]
    # Sending again sends nothing more.
    again = world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
    assert again.replayed
    assert [f.purpose for f in world.plugin.fax.sent].count("consult_report") == 1
    acknowledged = world.desk.acknowledge_consult_report(referral.id, actor=SYSTEM)
    assert acknowledged.consult_report is not None
    assert acknowledged.consult_report.status is ReportDeliveryStatus.ACKNOWLEDGED


def test_consult_report_goes_by_the_practice_preferred_channel(world: World) -> None:
    practice = Practice(
        name="Maple Street FM",
        fax="+15555550100",
        email="referrals@maple.example",
        preferred_channel=Channel.EMAIL,
    )
    referral = world.seen(practice)
    world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
    sent = [u for u in world.updates() if u.milestone == "report_sent" and u.documents]
    assert len(sent) == 1
    assert (sent[0].channel, sent[0].destination) == (Channel.EMAIL, "referrals@maple.example")
    assert world.desk.get(referral.id).status is ReferralStatus.CLOSED


def test_undeliverable_consult_report_becomes_a_task(world: World) -> None:
    referral = world.seen()
    world.plugin.fax.fail_next(1, "permanent")
    outcome = world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
    assert outcome.status == "failed"
    failed = world.desk.get(referral.id)
    assert failed.status is ReferralStatus.VISIT_COMPLETED  # the loop is not closed
    assert failed.consult_report is not None
    assert failed.consult_report.status is ReportDeliveryStatus.FAILED
    tasks = [t for t in failed.tasks if t.status is TaskStatus.OPEN and t.queue == "referrals"]
    assert [t.id for t in tasks] == [outcome.task_id]
    # Staff fix it and send again: a new attempt, delivered, loop closed.
    retried = world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
    assert retried.status == "sent"
    final = world.desk.get(referral.id)
    assert final.status is ReferralStatus.CLOSED
    assert final.consult_report is not None
    assert final.consult_report.attempts == 2


EHR_PRACTICE = Practice(
    name="Maple Street FM",
    id="org-maple",
    npi=REFERRER_NPI,
    fax="+15555550100",
    preferred_channel=Channel.EHR,
)


def test_consult_report_pushed_into_the_practice_ehr_closes_the_loop(world: World) -> None:
    referral = world.seen(EHR_PRACTICE)
    world.plugin.ehr.fail_next(1, "transient")  # retried, then delivered
    outcome = world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
    assert outcome.status == "sent"
    [pushed] = world.plugin.ehr.pushed
    assert (pushed.recipient, pushed.recipient_npi, pushed.documents) == (
        "org-maple",
        REFERRER_NPI,
        (REPORT,),
    )
    assert pushed.referral_number == referral.referral_number
    assert world.plugin.fax.sent == []  # not faxed as well
    closed = world.desk.get(referral.id)
    assert closed.status is ReferralStatus.CLOSED
    assert closed.consult_report is not None
    assert (closed.consult_report.channel, closed.consult_report.status) == (
        Channel.EHR,
        ReportDeliveryStatus.DELIVERED,
    )
    queued = [e for e in world.desk.history(referral.id) if e.kind == "action_queued"]
    assert queued[-1].data["operation"] == "push_document"  # the delivery is in the history
    # The push is the practice's "report sent": no second message for the closed loop.
    world.sweep(3)
    assert [u.milestone for u in world.updates() if u.milestone == "report_sent"] == []
    assert [u.channel for u in world.updates()] == [Channel.FAX] * len(world.updates())
    # Sending again pushes nothing more.
    assert world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN).replayed
    assert len(world.plugin.ehr.pushed) == 1


def test_consult_report_the_ehr_refuses_becomes_a_task_and_the_answer_says_so(
    world: World,
) -> None:
    referral = world.seen(EHR_PRACTICE)
    world.plugin.ehr.fail_next(1, "permanent")
    outcome = world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
    assert outcome.status == "failed"
    failed = world.desk.get(referral.id)
    assert failed.status is ReferralStatus.VISIT_COMPLETED  # the loop is not closed
    assert failed.consult_report is not None
    assert failed.consult_report.status is ReportDeliveryStatus.FAILED
    tasks = [t for t in failed.tasks if t.status is TaskStatus.OPEN and t.queue == "referrals"]
    assert [t.id for t in tasks] == [outcome.task_id]
    answer = answer_status(failed, _practice_caller())
    assert "could not be delivered" in answer.text
    assert answer.owner_team == "our records team"


def test_an_ehr_without_document_push_leaves_the_report_to_a_person(world: World) -> None:
    world.plugin.ehr.supported_operations = frozenset({"fetch_patient", "fetch_documents"})
    referral = world.seen(EHR_PRACTICE)
    outcome = world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
    assert outcome.status == "failed"
    assert world.plugin.ehr.pushed == []
    failed = world.desk.get(referral.id)
    assert failed.consult_report is not None
    assert failed.consult_report.status is ReportDeliveryStatus.FAILED
    assert any(t.queue == "referrals" and t.status is TaskStatus.OPEN for t in failed.tasks)


def test_transient_faults_are_retried_before_delivery(world: World) -> None:
    referral = world.seen()
    world.plugin.fax.fail_next(2, "transient")
    assert world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN).status == "sent"
    assert world.desk.get(referral.id).status is ReferralStatus.CLOSED


def test_the_loop_cannot_close_before_the_visit(world: World) -> None:
    referral = world.desk.create(
        Referral(status=ReferralStatus.INTAKE, specialty="cardiology"), actor=SYSTEM
    )
    with pytest.raises(InvalidTransitionError):
        world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
    assert world.desk.get(referral.id).consult_report is None


# -- Referring-practice milestones --------------------------------------------------------------


def test_visit_completed_and_closed_in_one_sweep_are_two_distinct_updates(
    world: World,
) -> None:
    referral = world.seen()
    # The host closes the loop by hand (its own report delivery) before the next sweep.
    world.desk.fire(referral.id, "close_loop", actor=CLINICIAN, data={"report_reference": "doc-1"})
    world.sweep(times=3)
    milestones = [u.milestone for u in world.updates() if not u.documents]
    assert milestones == ["scheduled", "visit_completed", "report_sent"]
    statuses = [u.status for u in world.updates() if not u.documents]
    assert statuses == [
        ReferralStatus.SCHEDULED,
        ReferralStatus.VISIT_COMPLETED,
        ReferralStatus.CLOSED,
    ]
    assert world.updates()[0].appointment_at == T0 + timedelta(days=3)


def test_a_delivered_report_is_the_report_sent_milestone(world: World) -> None:
    referral = world.seen()
    world.desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
    world.sweep(times=3)
    assert [u.milestone for u in world.updates()] == ["scheduled", "visit_completed"]
    assert [f.purpose for f in world.plugin.fax.sent] == ["consult_report"]


class Crash(BaseException):
    """The worker dies (not an Exception: nothing in the desk catches it)."""


def test_a_crash_between_commit_and_send_sends_each_milestone_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    referral = world.seen()
    notification = world.plugin.notification
    original = type(notification).update_practice
    crashes = []

    def send_then_die(self: Any, request: PracticeUpdateRequest) -> Any:
        receipt = original(self, request)  # the vendor has it...
        if not crashes:
            crashes.append(request.milestone)
            raise Crash  # ...but the worker dies before recording the outcome
        return receipt

    monkeypatch.setattr(type(notification), "update_practice", send_then_die)
    with pytest.raises(Crash):
        world.desk.sweep(routing=False)
    assert crashes == ["scheduled"]
    world.clock.advance(minutes=30)  # past the in-flight timeout: the action is resumed
    world.sweep(times=3)
    counts = Counter(u.milestone for u in world.updates())
    assert counts == {"scheduled": 1, "visit_completed": 1}
    keys = [e.data.get("key") for e in world.desk.history(referral.id) if e.kind == "action_sent"]
    assert len(keys) == len(set(keys)) == 2


def test_a_practice_gets_only_the_milestones_it_wants() -> None:
    prefs = ReferrerUpdates(practices={REFERRER_NPI: PracticeUpdates(frozenset({"report_sent"}))})
    policy = default_policy()
    import attrs

    world = World(OutreachSettings(policy=attrs.evolve(policy, referrer_updates=prefs)))
    referral = world.seen()
    world.desk.fire(referral.id, "close_loop", actor=CLINICIAN, data={"report_reference": "doc-1"})
    world.sweep(times=3)
    assert [u.milestone for u in world.updates()] == ["report_sent"]


EVENTS = st.lists(
    st.sampled_from(["sweep", "sweep", "complete", "report", "no_show", "rebook", "advance"]),
    max_size=12,
)


@settings(max_examples=25)
@given(EVENTS, st.booleans())
def test_each_practice_milestone_occurrence_is_notified_at_most_once(
    steps: list[str], digest: bool
) -> None:
    import attrs

    prefs = ReferrerUpdates(practices={REFERRER_NPI: PracticeUpdates(digest=digest)})
    world = World(OutreachSettings(policy=attrs.evolve(default_policy(), referrer_updates=prefs)))
    referral = world.seen()
    desk = world.desk
    for step in steps:
        current = desk.get(referral.id)
        try:
            if step == "sweep":
                world.sweep()
            elif step == "advance":
                world.clock.advance(hours=6)
            elif step == "report":
                desk.send_consult_report(referral.id, REPORT, actor=CLINICIAN)
            elif step == "rebook" and current.status is ReferralStatus.READY_TO_SCHEDULE:
                desk.record_booking(
                    referral.id,
                    Appointment(start=world.clock.now() + timedelta(days=2)),
                    actor=SCHEDULER,
                )
            elif step == "no_show" and current.status is ReferralStatus.SCHEDULED:
                desk.fire(referral.id, "no_show", actor=SCHEDULER)
            elif step == "complete" and current.status is ReferralStatus.SCHEDULED:
                desk.fire(referral.id, "complete_visit", actor=CLINICIAN)
        except InvalidTransitionError:
            pass
    if digest:
        world.clock.advance(days=8)  # every week's digest is due
    world.sweep(times=2)
    sent = Counter(u.idempotency_key for u in world.updates())
    assert all(n == 1 for n in sent.values())
    # One update per committed milestone event at most: (practice, event seq) is the occurrence.
    milestone_events = [
        e for e in desk.history(referral.id) if e.kind in default_policy().referrer_updates.on
    ]
    plain = [u for u in world.updates() if not u.documents]
    assert len(plain) <= len(milestone_events)
    # A digest lists its milestones per referral; a single update names one.
    by_milestone = Counter(
        code
        for u in plain
        for code in ([c for e in u.referrals for c in e.milestones] if digest else [u.milestone])
    )
    by_event = Counter(
        {"schedule": "scheduled", "reschedule": "rescheduled", "no_show": "no_show",
         "complete_visit": "visit_completed", "close_loop": "report_sent",
         "mark_lost": "lost"}.get(e.kind, e.kind)
        for e in milestone_events
    )  # fmt: skip
    for milestone, n in by_milestone.items():
        assert n <= by_event[milestone]


# -- Status answers ----------------------------------------------------------------------------


def _practice_caller() -> CallerIdentity:
    return CallerIdentity(role="referring_practice", npi=REFERRER_NPI)


@pytest.mark.parametrize(
    ("auth", "owner", "says", "never"),
    [
        (
            AuthorizationStatus.REQUIRED,
            "specialist_office",
            "has not been requested yet",
            "insurance company's answer",
        ),
        (
            AuthorizationStatus.SUBMITTED,
            "insurance",
            "waiting for the insurance decision",
            "has not been requested",
        ),
        (
            AuthorizationStatus.PENDED,
            "referring_practice",  # the clinical notes the payer asked for come from the PCP
            "asked for more information",
            "has not been requested",
        ),
        (
            AuthorizationStatus.APPROVED,
            "specialist_office",
            "Insurance approved the visit",
            "waiting for the insurance decision",
        ),
    ],
)
def test_pending_authorization_is_described_consistently(
    auth: AuthorizationStatus, owner: str, says: str, never: str, make_referral: Any
) -> None:
    referral = make_referral(
        status=ReferralStatus.PENDING_AUTH,
        referring_practice=Practice(name="Maple", npi=REFERRER_NPI),
    )
    referral = referral.model_copy(
        update={"authorization": referral.authorization.model_copy(update={"status": auth})}
    )
    answer = answer_status(referral, _practice_caller())
    assert answer.owner == owner
    assert says in answer.text
    assert never not in answer.text


# -- Authorization workflow --------------------------------------------------------------------


def _pending_auth(world: World) -> Referral:
    referral = world.desk.create(
        Referral(
            status=ReferralStatus.RECEIVED,
            patient=Patient(
                given_name="Ada",
                family_name="Lovelace",
                birth_date=date(1980, 1, 2),
                phones=(PhoneContact(number="+15555550123"),),
                time_zone="America/Chicago",
            ),
            referring_practice=Practice(
                name="Maple Street FM", fax="+15555550100", npi=REFERRER_NPI
            ),
            specialty="cardiology",
            reason=ReasonForReferral(text="palpitations"),
        ),
        actor=SYSTEM,
    )
    world.desk.fire(referral.id, "accept", actor=CLINICIAN)
    return world.desk.fire(referral.id, "require_auth", actor=CLINICIAN)


def _open_auth_tasks(world: World, referral: Referral) -> list[str]:
    current = world.desk.get(referral.id)
    return [
        t.reason.rsplit(": ", 1)[-1]
        for t in current.tasks
        if t.queue == "authorization" and t.status is TaskStatus.OPEN
    ]


def test_authorization_denied_then_appealed_and_approved(world: World) -> None:
    referral = _pending_auth(world)
    desk = world.desk
    world.sweep()
    assert "authorization_needed" in _open_auth_tasks(world, referral)

    desk.submit_authorization(referral.id, payer_reference="PAY-1", actor=SCHEDULER)
    desk.pend_authorization(referral.id, actor=SCHEDULER)
    answer = answer_status(desk.get(referral.id), _practice_caller())
    assert answer.authorization is AuthorizationStatus.PENDED
    desk.submit_authorization(referral.id, payer_reference="PAY-1", actor=SCHEDULER)
    denied = desk.deny_authorization(
        referral.id, reason="not_medically_necessary", actor=SCHEDULER
    )
    assert denied.authorization.status is AuthorizationStatus.DENIED
    assert denied.status is ReferralStatus.PENDING_AUTH
    answer = answer_status(denied, _practice_caller())
    assert answer.owner == "referring_practice"  # deciding on an appeal with the specialist
    assert "did not approve" in answer.text

    with pytest.raises(InvalidTransitionError):
        desk.approve_authorization(
            referral.id,
            number="A-1",
            valid_from=date(2026, 3, 1),
            valid_to=date(2026, 4, 30),
            actor=SCHEDULER,
        )
    appealed = desk.appeal_authorization(
        referral.id, payer_reference="PAY-1-APPEAL", actor=SCHEDULER
    )
    assert (appealed.authorization.status, appealed.authorization.appeals) == (
        AuthorizationStatus.SUBMITTED,
        1,
    )
    approved = desk.approve_authorization(
        referral.id,
        number="A-1",
        valid_from=date(2026, 3, 1),
        valid_to=date(2026, 4, 30),
        authorized_visits=1,
        actor=SCHEDULER,
    )
    assert approved.status is ReferralStatus.READY_TO_SCHEDULE
    assert approved.authorization.status is AuthorizationStatus.APPROVED
    assert approved.authorization.payer_reference == "PAY-1-APPEAL"
    kinds = [e.kind for e in desk.history(referral.id)]
    assert kinds.count("authorization_submitted") == 2
    assert "authorization_appealed" in kinds
    # The referring practice heard about the denial once.
    world.sweep(times=2)
    assert [u.milestone for u in world.updates()].count("auth_denied") == 1


def test_booking_outside_the_authorization_is_refused_and_visits_are_counted(
    world: World,
) -> None:
    from referralkit.errors import TransitionBlockedError

    referral = _pending_auth(world)
    desk = world.desk
    desk.submit_authorization(referral.id, payer_reference="PAY-2", actor=SCHEDULER)
    desk.approve_authorization(
        referral.id,
        number="A-2",
        valid_from=date(2026, 3, 1),
        valid_to=date(2026, 3, 31),
        authorized_visits=1,
        actor=SCHEDULER,
    )
    with pytest.raises(TransitionBlockedError):
        desk.record_booking(
            referral.id,
            Appointment(start=datetime(2026, 4, 6, 15, tzinfo=UTC)),
            actor=SCHEDULER,
        )
    desk.record_booking(
        referral.id, Appointment(start=datetime(2026, 3, 9, 15, tzinfo=UTC)), actor=SCHEDULER
    )
    seen = desk.fire(referral.id, "complete_visit", actor=CLINICIAN)
    assert seen.authorization.visits_left == 0


def test_authorization_pending_past_n_business_days_alerts_staff(world: World) -> None:
    referral = _pending_auth(world)
    world.desk.submit_authorization(referral.id, payer_reference="PAY-3", actor=SCHEDULER)
    world.sweep(times=24 * 6)  # Monday + 5 business days is the next Monday
    assert "authorization_pending_too_long" not in _open_auth_tasks(world, referral)
    world.sweep(times=24 * 2)
    assert _open_auth_tasks(world, referral).count("authorization_pending_too_long") == 1


def test_authorization_steps_out_of_order_are_refused(world: World) -> None:
    referral = _pending_auth(world)
    with pytest.raises(InvalidTransitionError):
        world.desk.pend_authorization(referral.id, actor=SCHEDULER)
    with pytest.raises(InvalidTransitionError):
        world.desk.appeal_authorization(referral.id, payer_reference="X", actor=SCHEDULER)
    assert world.desk.get(referral.id).version == referral.version


def test_a_practice_that_prefers_a_weekly_digest_gets_one_message_a_week() -> None:
    import attrs

    prefs = ReferrerUpdates(practices={REFERRER_NPI: PracticeUpdates(digest=True)})
    world = World(OutreachSettings(policy=attrs.evolve(default_policy(), referrer_updates=prefs)))
    referral = world.seen()  # scheduled Monday, seen Thursday: both in the week of March 2
    world.desk.fire(referral.id, "close_loop", actor=CLINICIAN, data={"report_reference": "doc-1"})
    world.sweep(times=24 * 2)  # to Saturday: nothing yet
    assert world.updates() == []
    world.sweep(times=24 * 4)  # Monday March 9, 13:00 UTC: the digest
    (digest,) = world.updates()
    assert digest.milestone == "weekly_digest"
    assert digest.milestones == ("scheduled", "visit_completed", "report_sent")
    assert digest.status is ReferralStatus.CLOSED
    world.sweep(times=24 * 8)
    assert len(world.updates()) == 1  # each week's milestones exactly once
