"""Task SLAs: an overdue task climbs its queue's ladder, one recorded step at a time."""

from datetime import timedelta

from referralkit.model import (
    Actor,
    ActorKind,
    HumanTask,
    Priority,
    Role,
    TaskPriority,
    TaskStatus,
)
from referralkit.routing import QueueConfig
from referralkit.tasks.sla import supervisor_chain

ALICE = Actor(kind=ActorKind.HUMAN, id="alice", role=Role.SCHEDULER)


def _open(desk, referral_id, queue="scheduling", hours=1):
    now = desk.clock.now()
    task = HumanTask(
        queue=queue,
        title="Book the patient",
        reason="test",
        created_at=now,
        due_at=now + timedelta(hours=hours),
    )
    desk.amend(
        referral_id,
        "task_opened",
        actor=ALICE,
        update=lambda r: {"tasks": (*r.tasks, task)},
        data={"task_id": str(task.id)},
    )
    return task


def _get(desk, referral_id, task_id):
    return next(t for t in desk.get(referral_id).tasks if t.id == task_id)


def test_a_task_not_yet_due_does_not_escalate(desk, make_referral, actors):
    referral = desk.create(make_referral(priority=Priority.URGENT), actor=actors.intake_staff)
    _open(desk, referral.id)
    assert desk.sweep_tasks().escalated == ()


def test_overdue_task_climbs_one_step_per_interval_and_only_once(
    desk, make_referral, actors, clock
):
    # An urgent referral escalates every 2 hours (DEFAULT_SLA).
    referral = desk.create(make_referral(priority=Priority.URGENT), actor=actors.intake_staff)
    task = _open(desk, referral.id, hours=1)
    clock.advance(timedelta(hours=1))
    first = desk.sweep_tasks()
    assert first.escalated == ((task.id, 1),)
    owner_step = _get(desk, referral.id, task.id)
    assert (owner_step.escalation_level, owner_step.priority) == (1, TaskPriority.URGENT)
    assert desk.sweep_tasks().escalated == ()  # once per step
    clock.advance(timedelta(hours=2))
    second = desk.sweep_tasks()
    assert second.escalated == ((task.id, 2),)
    (opened,) = second.opened
    supervisor = _get(desk, referral.id, opened)
    assert (supervisor.queue, supervisor.rule_id) == ("supervisor", f"task_sla:{task.id}")
    clock.advance(timedelta(days=2))
    # The scheduling task is at the top of its ladder; the overdue supervisor task takes its
    # own first step (its queue has nothing above it).
    assert desk.sweep_tasks().escalated == ((opened, 1),)
    assert _get(desk, referral.id, task.id).escalation_level == 2
    assert desk.sweep_tasks().escalated == ()


def test_sweep_catches_up_missed_steps_in_order(desk, make_referral, actors, clock):
    referral = desk.create(make_referral(priority=Priority.URGENT), actor=actors.intake_staff)
    task = _open(desk, referral.id, hours=1)
    clock.advance(timedelta(hours=10))
    report = desk.sweep_tasks()
    assert report.escalated == ((task.id, 1), (task.id, 2))


def test_closing_the_overdue_task_moots_its_supervisor_task(desk, make_referral, actors, clock):
    referral = desk.create(make_referral(priority=Priority.URGENT), actor=actors.intake_staff)
    task = _open(desk, referral.id, hours=1)
    clock.advance(timedelta(hours=5))
    (opened,) = desk.sweep_tasks().opened
    desk.complete_task(referral.id, task.id, actor=ALICE, outcome="booked")
    supervisor = _get(desk, referral.id, opened)
    assert supervisor.status is TaskStatus.CANCELLED
    assert supervisor.close_reason == "moot: the overdue task was closed"


def test_snoozed_and_closed_tasks_do_not_escalate(desk, make_referral, actors, clock):
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    snoozed = _open(desk, referral.id, hours=1)
    done = _open(desk, referral.id, hours=1)
    desk.snooze_task(referral.id, snoozed.id, actor=ALICE, until=clock.now() + timedelta(days=9))
    desk.complete_task(referral.id, done.id, actor=ALICE, outcome="done")
    clock.advance(timedelta(days=3))
    assert desk.sweep_tasks().escalated == ()


def test_supervisor_chain_follows_escalates_to():
    queues = QueueConfig()
    assert supervisor_chain(queues, "clinical_review") == ["clinical_supervisor"]
    assert supervisor_chain(queues, "supervisor") == []
    assert supervisor_chain(queues, "outreach") == []


def test_the_desk_sweep_runs_the_task_sweep(desk, make_referral, actors, clock):
    referral = desk.create(make_referral(priority=Priority.URGENT), actor=actors.intake_staff)
    task = _open(desk, referral.id, hours=1)
    clock.advance(timedelta(hours=1))
    report = desk.sweep(routing=False)
    assert report.tasks is not None
    assert report.tasks.escalated == ((task.id, 1),)
