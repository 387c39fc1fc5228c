"""Routing through the desk: decisions committed as events, idempotent, notifications, sweeps."""

from datetime import timedelta

import pytest

from referralkit import (
    Authorization,
    AuthorizationStatus,
    MemoryStore,
    Practice,
    Priority,
    ReferralDesk,
    ReferralStatus,
    RuleLoadError,
    TaskPriority,
)
from referralkit.ports import StaffAlertRequest
from referralkit.routing import Action, AutoAcceptPolicy, Condition, Rule, RuleSet, default_rules
from referralkit.store import as_events


def _tasks(desk, referral_id):
    return desk.get(referral_id).tasks


def _kinds(desk, referral_id):
    return [e.kind for e in desk.history(referral_id) if e.kind.startswith("routing_")]


def test_route_opens_the_acceptance_task_with_its_reason(desk, make_referral, actors):
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    report = desk.route(referral.id)
    (task,) = _tasks(desk, referral.id)
    assert (task.queue, task.rule_id) == ("clinical_review", "needs_acceptance")
    assert [d.rule_id for d in report.applied] == ["needs_acceptance"]
    (event,) = [e for e in desk.history(referral.id) if e.kind == "routing_task_opened"]
    assert event.data["key"] == report.applied[0].key
    assert event.data["task_id"] == str(task.id)
    assert event.data["reason"].startswith("matched (status=received; priority=routine")


def test_routing_twice_opens_no_second_task(desk, make_referral, actors):
    referral = desk.create(make_referral(flags=("asked_for_person",)), actor=actors.intake_staff)
    first = desk.route(referral.id)
    second = desk.route(referral.id)
    assert len(first.applied) == 2
    assert second.applied == ()
    assert set(second.already_recorded) == {d.key for d in first.applied}
    assert len(_tasks(desk, referral.id)) == 2


def test_sweep_twice_opens_one_task_per_referral(desk, make_referral, actors, clock):
    ids = [desk.create(make_referral(), actor=actors.intake_staff).id for _ in range(7)]
    closed = desk.create(make_referral(), actor=actors.intake_staff)
    desk.fire(closed.id, "mark_error", actor=actors.clinician, data={"reason": "duplicate"})
    first = desk.sweep_routing(page_size=3)
    second = desk.sweep_routing(page_size=3)
    assert (first.examined, first.routed, first.decisions) == (7, 7, 7)
    # Nothing is due again until a time-driven rule can decide: the second sweep reads nothing.
    assert (second.examined, second.decisions) == (0, 0)
    assert all(len(_tasks(desk, i)) == 1 for i in ids)
    assert _tasks(desk, closed.id) == ()


def test_sweep_on_sqlite_store_is_idempotent(tmp_path, clock, make_referral, actors):
    with ReferralDesk.open(f"sqlite:///{tmp_path}/r.db", clock=clock) as desk:
        referral = desk.create(make_referral(priority=Priority.URGENT), actor=actors.referrer)
        desk.sweep_routing()
        desk.sweep_routing()
        (task,) = desk.get(referral.id).tasks
        assert task.queue == "urgent_clinical"
        desk.verify(referral.id)


def test_breached_acceptance_climbs_the_ladder_once_per_step(desk, make_referral, actors, clock):
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    desk.route(referral.id)
    clock.advance(days=3, hours=1)  # Thursday 15:00 UTC: owner and supervisor steps due
    report = desk.route(referral.id)
    assert [d.step for d in report.applied] == ["owner", "supervisor"]
    tasks = {t.queue: t for t in _tasks(desk, referral.id)}
    assert tasks["clinical_review"].priority is TaskPriority.URGENT  # the owner was alerted
    assert tasks["clinical_supervisor"].rule_id == "acceptance_sla"
    assert desk.route(referral.id).applied == ()
    clock.advance(days=1)
    (referrer,) = desk.route(referral.id).applied
    assert referrer.step == "referrer"
    # No notification backend on this desk: a person tells the referring practice.
    assert "practice_relations" in {t.queue for t in _tasks(desk, referral.id)}
    assert _kinds(desk, referral.id) == [
        "routing_task_opened",
        "routing_task_escalated",
        "routing_task_opened",
        "routing_notified",
    ]


def test_referrer_is_notified_through_the_backend_when_there_is_one(
    referralkit_desk, referralkit_memory, make_referral, actors, referralkit_clock
):
    desk = referralkit_desk
    practice = Practice(name="Referring", npi="1234567893", fax="+15555550100")
    referral = desk.create(make_referral(referring_practice=practice), actor=actors.referrer)
    referralkit_clock.advance(days=6)
    report = desk.route(referral.id)
    assert "referrer" in [d.step for d in report.applied]
    updates = [
        r for r in referralkit_memory.notification.sent if not isinstance(r, StaffAlertRequest)
    ]
    assert len(updates) == 1
    assert "practice_relations" not in {t.queue for t in _tasks(desk, referral.id)}
    desk.route(referral.id)
    assert len(referralkit_memory.notification.sent) == 1  # idempotent


def test_staff_alert_opens_a_task_and_sends_one_alert(
    referralkit_desk, referralkit_memory, make_referral, actors
):
    desk = referralkit_desk
    referral = desk.create(make_referral(), actor=actors.referrer)
    desk.fire(referral.id, "accept", actor=actors.clinician)
    desk.amend(
        referral.id,
        "authorization_updated",
        actor=actors.scheduler,
        update={
            "authorization": Authorization(
                status=AuthorizationStatus.APPROVED,
                valid_to=(desk.clock.now() + timedelta(days=5)).date(),
                authorized_visits=1,
            )
        },
    )
    desk.route(referral.id)
    desk.route(referral.id)
    tasks = [t for t in _tasks(desk, referral.id) if t.queue == "authorization"]
    assert len(tasks) == 1
    (alert,) = [
        r for r in referralkit_memory.notification.sent if isinstance(r, StaffAlertRequest)
    ]
    assert (alert.task_id, alert.queue) == (tasks[0].id, "authorization")


def test_staff_alert_without_a_backend_is_left_as_a_task(desk, make_referral, actors):
    referral = desk.create(make_referral(), actor=actors.referrer)
    desk.fire(referral.id, "accept", actor=actors.clinician)
    desk.amend(
        referral.id,
        "authorization_updated",
        actor=actors.scheduler,
        update={"authorization": Authorization(status=AuthorizationStatus.DENIED)},
    )
    desk.route(referral.id)
    assert [t.queue for t in _tasks(desk, referral.id)] == ["authorization"]


def test_auto_accept_fires_accept_through_the_desk(desk, make_referral, actors):
    desk.routing_rules.use(default_rules(auto_accept=(AutoAcceptPolicy(name="cardio"),)))
    referral = desk.create(make_referral(), actor=actors.referrer)
    report = desk.route(referral.id)
    assert desk.get(referral.id).status is ReferralStatus.ACCEPTED
    assert [d.kind for d in report.applied] == ["fire"]
    kinds = [e.kind for e in desk.history(referral.id)]
    assert kinds[-2:] == ["accept", "routing_fired"]
    assert desk.history(referral.id)[-2].data["policy"] == "cardio"
    assert _tasks(desk, referral.id) == ()


def test_a_refused_trigger_is_recorded_and_handed_to_a_person(desk, make_referral, actors):
    # The system may accept only under a named policy: an empty one is refused by the guard.
    accept = Rule(
        id="accept_blindly",
        description="Accept without a policy",
        when=Condition(status={ReferralStatus.RECEIVED}),
        subject="state_entry",
        then=(Action.fire("accept", {"policy": ""}, fallback_queue="clinical_review"),),
    )
    desk.routing_rules.use(RuleSet([accept]))
    referral = desk.create(make_referral(), actor=actors.referrer)
    report = desk.route(referral.id)
    (failure,) = report.failed
    assert failure[1] == "trigger accept refused: TransitionBlockedError"
    assert desk.get(referral.id).status is ReferralStatus.RECEIVED
    assert [t.queue for t in _tasks(desk, referral.id)] == ["clinical_review"]
    assert _kinds(desk, referral.id) == ["routing_fire_refused"]
    assert desk.route(referral.id).failed == ()  # recorded: not retried every sweep


def test_explain_through_the_desk(desk, make_referral, actors):
    referral = desk.create(make_referral(priority=Priority.STAT), actor=actors.referrer)
    explanations = desk.explain(referral.id)
    assert {e.rule_id for e in explanations if e.matched} == {"urgent_priority"}
    desk.route(referral.id)
    (urgent,) = [e for e in desk.explain(referral.id) if e.rule_id == "urgent_priority"]
    assert urgent.outcomes[0].startswith("already recorded: urgent_priority:referral")


def test_a_failed_rules_load_keeps_the_desk_routing(desk, make_referral, actors):
    before = desk.routing_rules.active
    with pytest.raises(RuleLoadError):
        desk.routing_rules.load_toml("[[rules]]\nid = 'x'\nwhen = {nonsense = 1}\n")
    assert desk.routing_rules.active is before
    referral = desk.create(make_referral(), actor=actors.referrer)
    assert desk.route(referral.id).applied


def test_route_retries_after_a_concurrent_write(make_referral, actors, clock):
    class RacingStore(MemoryStore):
        raced = False

        def save(self, referral, events, *, expected_version):
            if not RacingStore.raced and as_events(events)[-1].kind.startswith("routing_"):
                RacingStore.raced = True
                current = self.get(referral.id)
                from referralkit.lifecycle import amended

                change = amended(
                    current, "note_added", actor=actors.scheduler, now=clock.now(), update={}
                )
                super().save(change.referral, change.event, expected_version=current.version)
            super().save(referral, events, expected_version=expected_version)

    desk = ReferralDesk(store=RacingStore(), clock=clock)
    referral = desk.create(make_referral(), actor=actors.referrer)
    report = desk.route(referral.id)
    assert len(report.applied) == 1
    assert len(desk.get(referral.id).tasks) == 1


class _RecordsRule:
    """A plugin's routing rule: every referral in cardiology needs records checked."""

    rule_id = "cardio_records"

    def evaluate(self, referral, now):
        from referralkit.ports import RoutingSuggestion

        if referral.specialty != "cardiology":
            return None
        return RoutingSuggestion(
            rule_id=self.rule_id,
            queue="records",
            title="Check cardiology records",
            reason="cardiology needs prior ECGs",
            due_in=timedelta(hours=8),
        )


class _BrokenRule:
    rule_id = "broken"

    def evaluate(self, referral, now):
        raise RuntimeError("plugin bug")


def test_rules_contributed_by_plugins_are_applied_once(
    referralkit_desk, referralkit_memory, make_referral, actors, referralkit_clock
):
    referralkit_memory.routing_rules.extend([_BrokenRule(), _RecordsRule()])
    referral = referralkit_desk.create(make_referral(), actor=actors.referrer)
    report = referralkit_desk.route(referral.id)
    assert "plugin.cardio_records" in [d.rule_id for d in report.applied]
    referralkit_desk.route(referral.id)
    (task,) = [t for t in _tasks(referralkit_desk, referral.id) if t.queue == "records"]
    assert task.due_at == referralkit_clock.now() + timedelta(hours=8)


def test_a_plugin_contributing_no_rules_keeps_the_sweep_to_what_is_due(
    referralkit_desk, referralkit_memory, make_referral, actors
):
    # The in-memory plugin implements the hook; with no rule in it the sweep stays indexed.
    assert referralkit_memory.routing_rules == []
    for _ in range(3):
        referralkit_desk.create(make_referral(), actor=actors.referrer)
    first = referralkit_desk.sweep_routing()
    second = referralkit_desk.sweep_routing()
    assert first.examined == 3
    assert second.examined == 0


def test_a_contributed_rule_makes_the_sweep_evaluate_every_open_referral(
    referralkit_desk, referralkit_memory, make_referral, actors
):
    referralkit_memory.routing_rules.append(_RecordsRule())
    for _ in range(3):
        referralkit_desk.create(make_referral(), actor=actors.referrer)
    referralkit_desk.sweep_routing()
    # The plugin's rule may depend on the time in ways next_routing_at cannot know.
    assert referralkit_desk.sweep_routing().examined == 3


class _LeakyRule:
    """A plugin rule whose failure quotes the patient, as careless plugin code does."""

    rule_id = "leaky"

    def evaluate(self, referral, now):
        raise ValueError(f"no match for {referral.patient.family_name}")


def test_a_failing_contributed_rule_is_logged_without_its_message(
    referralkit_desk, referralkit_memory, make_referral, actors, caplog
):
    referralkit_memory.routing_rules.append(_LeakyRule())
    referral = referralkit_desk.create(make_referral(), actor=actors.referrer)
    family_name = referral.patient.family_name
    with caplog.at_level("DEBUG", logger="referralkit"):
        referralkit_desk.route(referral.id)
    (record,) = [r for r in caplog.records if "_LeakyRule" in r.getMessage()]
    assert "ValueError" in record.getMessage()
    assert family_name not in caplog.text
    assert record.exc_info is None


def _auto_desk(desk):
    return ReferralDesk(store=desk.store, clock=desk.clock, auto_route=True)


def test_auto_route_opens_the_acceptance_task_when_the_referral_is_created(
    desk, make_referral, actors
):
    auto = _auto_desk(desk)
    referral = auto.create(make_referral(), actor=actors.intake_staff)
    (task,) = referral.tasks
    assert (task.queue, task.rule_id) == ("clinical_review", "needs_acceptance")
    assert referral == auto.get(referral.id)
    auto.verify(referral.id)


def test_auto_route_reacts_to_each_change_without_looping(desk, make_referral, actors):
    auto = _auto_desk(desk)
    referral = auto.create(make_referral(), actor=actors.intake_staff)
    before = len(auto.history(referral.id))
    after = auto.amend(
        referral.id,
        "flag_raised",
        actor=actors.intake_staff,
        update={"flags": ("asked_for_person",)},
    )
    queues = sorted(t.queue for t in after.tasks)
    assert queues == ["clinical_review", "patient_counselling"]
    # One amendment, one routing decision: nothing re-routes the routing's own change.
    assert len(auto.history(referral.id)) == before + 2


def test_auto_route_failure_never_undoes_the_callers_change(desk, make_referral, actors, caplog):
    auto = _auto_desk(desk)
    auto.routing_rules = _Broken()
    referral = auto.create(make_referral(), actor=actors.intake_staff)
    assert auto.get(referral.id).version == 1
    assert "routing after created failed (RuleLoadError)" in caplog.text


class _Broken:
    @property
    def active(self):
        raise RuleLoadError("<test>", [(None, None, "rules unavailable")])
