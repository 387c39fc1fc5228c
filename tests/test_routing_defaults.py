"""Each built-in routing rule against a golden referral: the queue, the task and its due time.

Times are in the default calendar (America/New_York, US federal holidays). T0 is Monday
2026-03-02 14:00 UTC (09:00 EST); US daylight saving starts on Sunday 2026-03-08.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from referralkit import (
    Actor,
    ActorKind,
    Appointment,
    Authorization,
    AuthorizationStatus,
    Coverage,
    Patient,
    PhoneContact,
    Practice,
    Priority,
    ReasonForReferral,
    RecordsRequest,
    Referral,
    ReferralStatus,
    Role,
    TaskPriority,
)
from referralkit.events import Event
from referralkit.lifecycle import created, shared_lifecycle
from referralkit.routing import AutoAcceptPolicy, RoutingResult, default_rules, evaluate

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-1", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-1", role=Role.SCHEDULER)
INTAKE = Actor(kind=ActorKind.HUMAN, id="intake-1", role=Role.INTAKE)
RULES = default_rules()


def _referral(**overrides: Any) -> Referral:
    fields: dict[str, Any] = {
        "status": ReferralStatus.RECEIVED,
        "patient": Patient(
            given_name="Golden",
            family_name="Zyxwv",
            birth_date=date(1960, 5, 5),
            phones=(PhoneContact(number="+15555550123"),),
        ),
        "referring_practice": Practice(name="Referring", id="prac-1"),
        "specialty": "cardiology",
        "reason": ReasonForReferral(text="palpitations"),
    }
    fields.update(overrides)
    return Referral(**fields)


def _history(
    referral: Referral, steps: list[tuple[str, Actor, dict[str, Any] | None]], at: datetime = T0
) -> tuple[Referral, list[Event]]:
    change = created(referral, INTAKE, at)
    current, events = change.referral, [change.event]
    for trigger, actor, data in steps:
        change = shared_lifecycle().fire(current, trigger, actor=actor, now=at, data=data)  # type: ignore[arg-type]
        current = change.referral
        events.append(change.event)
    return current, events


def _scheduled(start: datetime, **overrides: Any) -> tuple[Referral, list[Event]]:
    appointment = Appointment(start=start)
    return _history(
        _referral(**overrides),
        [
            ("accept", CLINICIAN, None),
            ("clear", CLINICIAN, None),
            ("schedule", SCHEDULER, {"appointment": appointment}),
        ],
    )


def _by_rule(result: RoutingResult) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for decision in result.decisions:
        out.setdefault(decision.rule_id, []).append(decision)
    return out


def test_urgent_referral_goes_to_urgent_clinical_within_four_hours():
    referral, events = _history(_referral(priority=Priority.URGENT), [])
    decisions = _by_rule(evaluate(referral, events, RULES, T0))
    (decision,) = decisions["urgent_priority"]
    assert decision.task.queue == "urgent_clinical"
    assert decision.task.priority is TaskPriority.URGENT
    assert decision.task.due_at == T0 + timedelta(hours=4)
    assert "needs_acceptance" not in decisions  # one task for one urgent referral


@pytest.mark.parametrize(
    ("priority", "hours"), [(Priority.URGENT, 4), (Priority.ASAP, 2), (Priority.STAT, 1)]
)
def test_urgent_due_time_follows_priority(priority, hours):
    referral, events = _history(_referral(priority=priority), [])
    (decision,) = _by_rule(evaluate(referral, events, RULES, T0))["urgent_priority"]
    assert decision.task.due_at == T0 + timedelta(hours=hours)


def test_urgency_flag_at_intake_goes_to_urgent_clinical_in_one_hour():
    referral, events = _history(_referral(flags=("urgency_language",)), [])
    now = T0 + timedelta(minutes=10)
    decisions = _by_rule(evaluate(referral, events, RULES, now))
    (flagged,) = decisions["urgent_intake_flag"]
    assert flagged.task.queue == "urgent_clinical"
    assert flagged.task.due_at == now + timedelta(hours=1)
    assert decisions["needs_acceptance"][0].task.queue == "clinical_review"


def test_new_routine_referral_needs_acceptance_within_two_business_days():
    referral, events = _history(_referral(), [])
    decisions = _by_rule(evaluate(referral, events, RULES, T0))
    (decision,) = decisions["needs_acceptance"]
    assert decision.task.queue == "clinical_review"
    # Monday 09:00 EST + 2 business days = Wednesday 09:00 EST.
    assert decision.task.due_at == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
    assert decision.task.rule_id == "needs_acceptance"
    assert set(decisions) == {"needs_acceptance"}


def test_auto_accept_policy_fires_accept_instead_of_a_review_task():
    rules = default_rules(
        auto_accept=(AutoAcceptPolicy(name="cardio", specialties={"Cardiology"}),)
    )
    referral, events = _history(_referral(), [])
    decisions = _by_rule(evaluate(referral, events, rules, T0))
    (decision,) = decisions["auto_accept"]
    assert decision.kind == "fire"
    assert decision.trigger == "accept"
    assert decision.data == {"policy": "cardio"}
    assert decision.task.queue == "clinical_review"  # if the lifecycle refuses
    assert "needs_acceptance" not in decisions


def test_acceptance_breach_climbs_owner_then_supervisor():
    referral, events = _history(_referral(), [])
    # Deadline Wednesday 14:00 UTC; one ladder step per business day after it.
    now = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    decisions = _by_rule(evaluate(referral, events, RULES, now))
    owner, supervisor = decisions["acceptance_sla"]
    review_task = decisions["needs_acceptance"][0].task
    assert (owner.step, owner.escalate_task_id, owner.task) == ("owner", review_task.id, None)
    assert supervisor.step == "supervisor"
    assert supervisor.task.queue == "clinical_supervisor"
    assert supervisor.task.priority is TaskPriority.URGENT


def test_acceptance_breach_reaches_the_referrer_on_the_third_step():
    referral, events = _history(_referral(), [])
    now = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    steps = [d.step for d in _by_rule(evaluate(referral, events, RULES, now))["acceptance_sla"]]
    assert steps == ["owner", "supervisor", "referrer"]


def test_booking_breach_goes_to_scheduling_across_the_dst_change():
    referral, events = _history(_referral(), [("accept", CLINICIAN, None)])
    # 10 business days from Mon 2 Mar 09:00 EST is Mon 16 Mar 09:00 EDT = 13:00 UTC.
    before = datetime(2026, 3, 16, 12, 59, tzinfo=UTC)
    assert "booking_sla" not in _by_rule(evaluate(referral, events, RULES, before))
    after = datetime(2026, 3, 16, 13, 0, tzinfo=UTC)
    (owner,) = _by_rule(evaluate(referral, events, RULES, after))["booking_sla"]
    assert owner.step == "owner"
    assert owner.task.queue == "scheduling"


def test_denied_authorization_goes_to_authorization_next_business_day():
    referral, events = _history(_referral(), [("accept", CLINICIAN, None)])
    referral = referral.model_copy(
        update={"authorization": Authorization(status=AuthorizationStatus.DENIED)}
    )
    (decision,) = _by_rule(evaluate(referral, events, RULES, T0))["authorization_problem"]
    assert decision.task.queue == "authorization"
    assert decision.task.priority is TaskPriority.HIGH
    assert decision.task.due_at == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


def test_authorization_ending_before_the_visit_alerts_authorization():
    start = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
    referral, events = _scheduled(start)
    referral = referral.model_copy(
        update={
            "authorization": Authorization(
                status=AuthorizationStatus.APPROVED,
                number="A-1",
                valid_from=date(2026, 3, 1),
                valid_to=date(2026, 3, 18),
            )
        }
    )
    (decision,) = _by_rule(evaluate(referral, events, RULES, T0))[
        "authorization_expires_before_visit"
    ]
    assert decision.kind == "notify"
    assert decision.recipient == "staff"
    assert decision.task.queue == "authorization"
    assert decision.task.due_at == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "status", [AuthorizationStatus.DENIED, AuthorizationStatus.EXPIRED, AuthorizationStatus.PENDED]
)
def test_an_authorization_that_was_never_granted_does_not_raise_the_expiry_alert(status):
    referral, events = _scheduled(datetime(2026, 3, 20, 15, 0, tzinfo=UTC))
    referral = referral.model_copy(
        update={
            "authorization": Authorization(
                status=status, valid_from=date(2026, 3, 1), valid_to=date(2026, 3, 18)
            )
        }
    )
    assert "authorization_expires_before_visit" not in _by_rule(
        evaluate(referral, events, RULES, T0)
    )


def test_authorization_expiring_with_unused_visits_alerts_authorization():
    referral, events = _history(
        _referral(), [("accept", CLINICIAN, None), ("clear", CLINICIAN, None)]
    )
    referral = referral.model_copy(
        update={
            "authorization": Authorization(
                status=AuthorizationStatus.APPROVED,
                number="A-2",
                valid_to=date(2026, 3, 12),
                authorized_visits=2,
                used_visits=1,
            )
        }
    )
    (decision,) = _by_rule(evaluate(referral, events, RULES, T0))["authorization_expiring_unused"]
    assert decision.task.queue == "authorization"
    assert decision.task.due_at == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)


def test_authorization_with_every_visit_used_raises_no_alert():
    referral, events = _history(
        _referral(), [("accept", CLINICIAN, None), ("clear", CLINICIAN, None)]
    )
    referral = referral.model_copy(
        update={
            "authorization": Authorization(
                status=AuthorizationStatus.APPROVED,
                valid_to=date(2026, 3, 12),
                authorized_visits=2,
                used_visits=2,
            )
        }
    )
    assert "authorization_expiring_unused" not in _by_rule(evaluate(referral, events, RULES, T0))


def test_records_missing_before_the_visit_go_to_records_due_by_the_visit():
    start = T0 + timedelta(hours=20)
    referral, events = _scheduled(
        start, records_requests=(RecordsRequest(requested_at=T0 - timedelta(days=3)),)
    )
    (decision,) = _by_rule(evaluate(referral, events, RULES, T0))["records_not_received"]
    assert decision.task.queue == "records"
    # One business day would be Tuesday 14:00 UTC; the visit comes first.
    assert decision.task.due_at == start


def test_records_are_not_chased_a_week_before_the_visit():
    start = T0 + timedelta(days=7)
    referral, events = _scheduled(
        start, records_requests=(RecordsRequest(requested_at=T0 - timedelta(days=3)),)
    )
    assert "records_not_received" not in _by_rule(evaluate(referral, events, RULES, T0))


def test_patient_asking_for_a_person_goes_to_counselling_within_four_hours():
    referral, events = _history(_referral(flags=("asked_for_person",)), [])
    (decision,) = _by_rule(evaluate(referral, events, RULES, T0))["patient_asked_for_person"]
    assert decision.task.queue == "patient_counselling"
    assert decision.task.due_at == T0 + timedelta(hours=4)


def test_referrer_complaint_goes_to_practice_relations():
    referral, events = _history(
        _referral(flags=("referrer_complaint",), coverage=Coverage(payer_name="X", member_id="1")),
        [("accept", CLINICIAN, None)],
    )
    (decision,) = _by_rule(evaluate(referral, events, RULES, T0))["referrer_complaint"]
    assert decision.task.queue == "practice_relations"
    assert decision.task.due_at == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


def test_every_decision_explains_itself_without_phi():
    referral, events = _history(_referral(priority=Priority.STAT, flags=("asked_for_person",)), [])
    result = evaluate(referral, events, RULES, T0 + timedelta(days=3))
    assert result.decisions
    for decision in result.decisions:
        text = repr(decision.explanation) + repr(decision.event_data())
        assert decision.rule_id in {e.rule_id for e in result.matched}
        assert decision.explanation.reason.startswith("matched")
        for phi in ("Golden", "Zyxwv", "1960-05-05", "+1555"):
            assert phi not in text
