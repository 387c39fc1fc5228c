"""The planner: a pure function of (referral, events, policy, calendar, now)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from referralkit import (
    Actor,
    ActorKind,
    Address,
    Appointment,
    Patient,
    PhoneContact,
    PhoneKind,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralStatus,
    Role,
    amended,
    created,
    shared_lifecycle,
)
from referralkit.events import Event
from referralkit.model import Channel, ContactConsent
from referralkit.outreach import WeekdayCalendar, default_policy, idempotency_key, plan
from referralkit.outreach.windows import BusinessCalendar
from referralkit.ports import idempotency_key as port_key

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Monday 08:00 in Chicago
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr", role=Role.CLINICIAN)
POLICY = default_policy()
CALENDAR = WeekdayCalendar()


class Chain:
    """A referral and its events, moved along by hand (no store, no desk)."""

    def __init__(self, **patient: Any) -> None:
        fields: dict[str, Any] = {
            "given_name": "Ada",
            "family_name": "Lovelace",
            "birth_date": date(1980, 1, 2),
            "phones": (PhoneContact(number="+15555550123"),),
            "address": Address(
                line1="1 Main", city="Springfield", state="IL", postal_code="62701"
            ),
        }
        fields.update(patient)
        change = created(
            Referral(
                status=ReferralStatus.RECEIVED,
                patient=Patient(**fields),
                referring_practice=Practice(name="PCP", fax="+15555550100"),
                specialty="cardiology",
                reason=ReasonForReferral(text="x"),
            ),
            SYSTEM,
            T0,
        )
        self.referral = change.referral
        self.events: list[Event] = [change.event]
        self.fire("accept", actor=CLINICIAN)
        self.fire("clear")

    def fire(self, trigger: str, at: datetime = T0, actor: Actor = SYSTEM, **data: Any) -> None:
        change = shared_lifecycle().fire(
            self.referral,
            trigger,  # type: ignore[arg-type]
            actor=actor,
            now=at,
            data=data or None,
        )
        self.referral = change.referral
        self.events.append(change.event)

    def amend(self, kind: str, at: datetime, data: dict[str, Any], **update: Any) -> None:
        change = amended(self.referral, kind, actor=SYSTEM, now=at, update=update, data=data)
        self.referral = change.referral
        self.events.append(change.event)

    def queued(self, step: str, at: datetime, attempt: int = 1, op: str = "place_call") -> str:
        key = idempotency_key(self.referral.id, step, attempt)
        self.amend("action_queued", at, {"key": key, "operation": op, "request": {}})
        return key

    def sent(self, key: str, at: datetime) -> None:
        self.amend("action_sent", at, {"key": key})

    def failed(self, key: str, at: datetime, reason: str) -> None:
        self.amend(
            "task_opened",
            at,
            {"task_id": "t", "action": {"key": key, "status": "failed", "reason": reason}},
        )

    def plan(self, now: datetime) -> Any:
        return plan(self.referral, self.events, POLICY, CALENDAR, now)


def test_the_idempotency_key_is_the_ports_key_of_the_step() -> None:
    chain = Chain()
    action = chain.plan(T0).actions[0]
    assert action.idempotency_key == port_key(chain.referral.id, "schedule@3/call_d0", 1)


def test_first_action_of_a_ready_referral_is_the_day0_call_now() -> None:
    chain = Chain()
    result = chain.plan(T0)
    assert [(a.key, a.channel) for a in result.due(T0)] == [("schedule@3/call_d0", Channel.VOICE)]
    assert result.next_action_at == T0


def test_before_the_window_the_call_waits_for_8_local() -> None:
    chain = Chain()
    night = T0 + timedelta(hours=10)  # 18:00 Chicago: open; 04:00 next day UTC...
    late = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)  # 22:00 in Chicago
    assert chain.plan(night).due(night)
    result = chain.plan(late)
    assert result.due(late) == ()
    assert result.next_action_at == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


def test_sent_step_moves_the_cadence_on_to_the_sms_on_day_2() -> None:
    chain = Chain()
    chain.sent(chain.queued("schedule@3/call_d0", T0), T0)
    result = chain.plan(T0 + timedelta(minutes=1))
    assert result.actions[0].key == "schedule@3/sms_d2"
    assert result.next_action_at == T0 + timedelta(days=2)


def test_sms_falls_back_to_a_call_without_a_mobile_phone() -> None:
    chain = Chain(phones=(PhoneContact(number="+15555550123", kind=PhoneKind.HOME),))
    chain.sent(chain.queued("schedule@3/call_d0", T0), T0)
    action = chain.plan(T0 + timedelta(days=2)).actions[0]
    assert action.step_id == "sms_d2"
    assert action.channel is Channel.VOICE


def test_sms_falls_back_to_a_call_after_an_sms_opt_out() -> None:
    chain = Chain(consent=ContactConsent(opted_out_channels=(Channel.SMS,)))
    chain.sent(chain.queued("schedule@3/call_d0", T0), T0)
    assert chain.plan(T0 + timedelta(days=2)).actions[0].channel is Channel.VOICE


def test_a_transient_failure_is_retried_as_attempt_2_after_the_delay() -> None:
    chain = Chain()
    chain.failed(chain.queued("schedule@3/call_d0", T0), T0, "retries_exhausted")
    action = chain.plan(T0).actions[0]
    assert (action.key, action.attempt) == ("schedule@3/call_d0", 2)
    assert action.not_before == T0 + POLICY.retry.delay


def test_a_permanent_failure_ends_the_step() -> None:
    chain = Chain()
    chain.failed(chain.queued("schedule@3/call_d0", T0), T0, "permanent")
    assert chain.plan(T0).actions[0].key == "schedule@3/sms_d2"


def test_failures_do_not_count_against_the_caps() -> None:
    chain = Chain()
    chain.failed(chain.queued("schedule@3/call_d0", T0), T0, "permanent")
    chain.sent(chain.queued("schedule@3/sms_d2", T0 + timedelta(days=2), op="send_sms"), T0)
    action = chain.plan(T0 + timedelta(days=2, minutes=1)).actions[0]
    assert action.not_before == T0 + timedelta(days=5)


def test_an_unrecorded_attempt_is_resumed_with_the_same_key_after_the_timeout() -> None:
    chain = Chain()
    key = chain.queued("schedule@3/call_d0", T0)
    action = chain.plan(T0 + timedelta(minutes=1)).actions[0]
    assert action.in_flight
    assert action.idempotency_key == key
    assert action.not_before == T0 + POLICY.in_flight_timeout


def test_an_unrecorded_sms_after_an_opt_out_is_abandoned_not_resent() -> None:
    chain = Chain()
    chain.sent(chain.queued("schedule@3/call_d0", T0), T0)
    later = T0 + timedelta(days=2)
    chain.queued("schedule@3/sms_d2", later, op="send_sms")
    patient = chain.referral.patient
    assert patient is not None
    opted = patient.model_copy(
        update={"consent": ContactConsent(opted_out_channels=(Channel.SMS,))}
    )
    chain.amend("consent_opted_out", later, {"channel": "sms"}, patient=opted)
    action = chain.plan(later + timedelta(hours=1)).actions[0]
    assert action.in_flight
    assert action.abandon == "consent"


def test_reminders_are_planned_before_the_appointment_and_skip_expired_ones() -> None:
    chain = Chain()
    visit = T0 + timedelta(days=1, hours=6)  # the 3-day reminder was due yesterday...
    chain.fire("schedule", appointment=Appointment(start=visit))
    result = chain.plan(T0 + timedelta(hours=7))  # ...and was worth sending only until 6 h ago
    assert [s.key.rsplit("/", 1)[1] for s in result.skipped] == ["remind_3d"]
    action = next(a for a in result.actions if a.purpose == "reminder")
    assert action.step_id == "remind_1d"
    assert action.not_after is not None
    assert action.not_after <= visit


def test_the_referrer_is_updated_once_per_event() -> None:
    chain = Chain()
    chain.fire("schedule", appointment=Appointment(start=T0 + timedelta(days=9)))
    updates = [a for a in chain.plan(T0).actions if a.action == "notify_referrer"]
    assert [(u.step_id, u.key) for u in updates] == [("schedule", "update@4")]
    chain.sent(chain.queued("update@4", T0, op="update_practice"), T0)
    assert not [a for a in chain.plan(T0).actions if a.action == "notify_referrer"]


def test_a_letter_due_on_a_weekend_waits_for_monday() -> None:
    chain = Chain()
    for day, step, op in [
        (0, "call_d0", "place_call"),
        (2, "sms_d2", "send_sms"),
        (5, "call_d5", "place_call"),
    ]:
        at = T0 + timedelta(days=day)
        chain.sent(chain.queued(f"schedule@3/{step}", at, op=op), at)
    # Day 10 after Monday 2026-03-02 is Thursday; shift the anchor by passing a later now.
    saturday = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
    action = chain.plan(saturday).actions[0]
    assert action.step_id == "letter_d10"
    assert action.not_before.date() == date(2026, 3, 16)


def test_no_zone_means_a_task_not_a_call() -> None:
    chain = Chain(address=None)
    action = chain.plan(T0).actions[0]
    assert action.action == "task"
    assert action.reason == "no_time_zone"


def test_closed_referrals_plan_nothing() -> None:
    chain = Chain()
    chain.fire("cancel", actor=CLINICIAN, reason="patient_request")
    assert chain.plan(T0).next_action_at is None


def test_plan_is_pure() -> None:
    chain = Chain()
    assert chain.plan(T0) == chain.plan(T0)


def test_routings_business_calendar_fits_the_outreach_protocol() -> None:
    from referralkit.routing.calendar import UsBusinessCalendar

    calendar = UsBusinessCalendar("America/Chicago")
    assert isinstance(calendar, BusinessCalendar)
    chain = Chain()
    assert plan(chain.referral, chain.events, POLICY, calendar, T0).next_action_at == T0
