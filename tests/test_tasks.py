"""The human-task lifecycle on the desk: claim, release, reassign, complete, cancel, snooze."""

from datetime import timedelta

import pytest

from referralkit import ReferralDesk
from referralkit.errors import (
    HandoffNotAllowedError,
    TaskNotFoundError,
    TaskStateError,
)
from referralkit.model import Actor, ActorKind, HumanTask, Role, TaskPriority, TaskStatus
from referralkit.routing import QueueConfig
from referralkit.tasks import handoff_allowed

ALICE = Actor(kind=ActorKind.HUMAN, id="alice", role=Role.SCHEDULER)
BOB = Actor(kind=ActorKind.HUMAN, id="bob", role=Role.SCHEDULER)


def _open(desk: ReferralDesk, referral_id, *, queue="records", **fields) -> HumanTask:
    now = desk.clock.now()
    task = HumanTask(
        queue=queue,
        title="Chase records",
        reason="records missing",
        created_at=now,
        due_at=fields.pop("due_at", now + timedelta(hours=4)),
        **fields,
    )
    desk.amend(
        referral_id,
        "task_opened",
        actor=ALICE,
        update=lambda r: {"tasks": (*r.tasks, task)},
        data={"task_id": str(task.id), "queue": queue},
    )
    return task


@pytest.fixture
def referral(desk, make_referral, actors):
    return desk.create(make_referral(), actor=actors.intake_staff)


def test_claim_assigns_the_task_and_records_who_and_when(desk, referral, clock):
    task = _open(desk, referral.id)
    clock.advance(timedelta(minutes=5))
    claimed = desk.claim_task(referral.id, task.id, actor=ALICE)
    assert (claimed.status, claimed.assignee) == (TaskStatus.CLAIMED, "alice")
    change = claimed.changes[-1]
    assert (change.action, change.actor_id, change.at) == ("claimed", "alice", clock.now())
    event = desk.history(referral.id)[-1]
    assert event.kind == "task_claimed"
    assert event.data == {"task_id": str(task.id), "queue": "records", "assignee": "alice"}
    assert event.actor == ALICE


def test_a_task_someone_holds_cannot_be_claimed_by_another(desk, referral):
    task = _open(desk, referral.id)
    desk.claim_task(referral.id, task.id, actor=ALICE)
    with pytest.raises(TaskStateError, match="cannot claim a task that is claimed"):
        desk.claim_task(referral.id, task.id, actor=BOB)


def test_release_puts_the_task_back_unassigned(desk, referral):
    task = _open(desk, referral.id)
    desk.claim_task(referral.id, task.id, actor=ALICE)
    released = desk.release_task(referral.id, task.id, actor=ALICE)
    assert (released.status, released.assignee) == (TaskStatus.OPEN, None)
    with pytest.raises(TaskStateError, match="cannot release"):
        desk.release_task(referral.id, task.id, actor=ALICE)


def test_complete_needs_an_outcome_and_keeps_the_note(desk, referral):
    task = _open(desk, referral.id)
    with pytest.raises(TaskStateError, match="outcome code is required"):
        desk.complete_task(referral.id, task.id, actor=ALICE, outcome=" ")
    done = desk.complete_task(
        referral.id, task.id, actor=ALICE, outcome="records_received", note="fax arrived"
    )
    assert (done.status, done.outcome, done.close_reason) == (
        TaskStatus.DONE,
        "records_received",
        "completed",
    )
    assert (done.closed_by, done.note) == ("alice", "fax arrived")
    assert "fax arrived" not in repr(done)
    assert "note" not in desk.history(referral.id)[-1].data


def test_a_closed_task_takes_no_further_change(desk, referral):
    task = _open(desk, referral.id)
    desk.cancel_task(referral.id, task.id, actor=ALICE, reason="duplicate")
    for action in (
        lambda: desk.claim_task(referral.id, task.id, actor=ALICE),
        lambda: desk.complete_task(referral.id, task.id, actor=ALICE, outcome="x"),
        lambda: desk.cancel_task(referral.id, task.id, actor=ALICE, reason="again"),
        lambda: desk.snooze_task(
            referral.id, task.id, actor=ALICE, until=desk.clock.now() + timedelta(hours=1)
        ),
    ):
        with pytest.raises(TaskStateError, match="cancelled"):
            action()


def test_another_persons_claim_blocks_completion(desk, referral):
    task = _open(desk, referral.id)
    desk.claim_task(referral.id, task.id, actor=ALICE)
    with pytest.raises(TaskStateError, match="another person holds it"):
        desk.complete_task(referral.id, task.id, actor=BOB, outcome="done")


def test_cancel_records_the_reason(desk, referral):
    task = _open(desk, referral.id)
    cancelled = desk.cancel_task(referral.id, task.id, actor=ALICE, reason="duplicate")
    assert (cancelled.status, cancelled.close_reason) == (TaskStatus.CANCELLED, "duplicate")
    assert desk.history(referral.id)[-1].data["reason"] == "duplicate"


def test_unknown_task_is_reported(desk, referral):
    with pytest.raises(TaskNotFoundError):
        desk.claim_task(referral.id, referral.id, actor=ALICE)


def test_reassign_along_an_approved_handoff(desk, referral):
    task = _open(desk, referral.id, queue="records")
    desk.claim_task(referral.id, task.id, actor=ALICE)
    moved = desk.reassign_task(referral.id, task.id, actor=ALICE, queue="practice_relations")
    assert (moved.queue, moved.status, moved.assignee) == (
        "practice_relations",
        TaskStatus.OPEN,
        None,
    )
    assert desk.history(referral.id)[-1].data["from_queue"] == "records"


def test_reassign_outside_the_handoffs_is_refused(desk, referral):
    task = _open(desk, referral.id, queue="records")
    with pytest.raises(HandoffNotAllowedError) as caught:
        desk.reassign_task(referral.id, task.id, actor=ALICE, queue="urgent_clinical_typo")
    assert (caught.value.source, caught.value.target) == ("records", "urgent_clinical_typo")
    with pytest.raises(HandoffNotAllowedError):
        desk.reassign_task(referral.id, task.id, actor=ALICE, queue="clinical_supervisor")
    assert desk.get(referral.id).tasks[0].queue == "records"


def test_reassign_to_a_person_hands_them_the_claim(desk, referral):
    task = _open(desk, referral.id)
    moved = desk.reassign_task(referral.id, task.id, actor=ALICE, assignee="bob")
    assert (moved.status, moved.assignee) == (TaskStatus.CLAIMED, "bob")
    assert [t.task_id for t in desk.my_tasks("bob")] == [task.id]


def test_handoffs_follow_the_ladder_and_shared_call_types():
    queues = QueueConfig()
    assert handoff_allowed(queues, "scheduling", "supervisor")  # up the ladder
    assert handoff_allowed(queues, "scheduling", "authorization")  # schedule_appointment
    assert not handoff_allowed(queues, "records", "clinical_supervisor")
    assert handoff_allowed(queues, "outreach", "scheduling")  # undeclared source
    assert not handoff_allowed(queues, "scheduling", "outreach")  # never to undeclared
    assert not handoff_allowed(queues, "scheduling", "scheduling")


def test_snooze_hides_the_task_until_the_sweep_wakes_it(desk, referral, clock):
    task = _open(desk, referral.id)
    until = clock.now() + timedelta(days=1)
    snoozed = desk.snooze_task(referral.id, task.id, actor=ALICE, until=until)
    assert (snoozed.status, snoozed.snoozed_until, snoozed.due_at) == (
        TaskStatus.SNOOZED,
        until,
        until,
    )
    assert desk.tasks(queue="records") == []
    assert desk.sweep_tasks().woken == ()
    clock.advance(timedelta(days=1))
    report = desk.sweep_tasks()
    assert report.woken == (task.id,)
    assert [r.task_id for r in desk.tasks(queue="records")] == [task.id]
    with pytest.raises(TaskStateError, match="future"):
        desk.snooze_task(referral.id, task.id, actor=ALICE, until=clock.now())


def test_every_change_is_an_event_with_a_verified_history(desk, referral):
    task = _open(desk, referral.id)
    desk.claim_task(referral.id, task.id, actor=ALICE)
    desk.release_task(referral.id, task.id, actor=ALICE)
    desk.complete_task(referral.id, task.id, actor=BOB, outcome="done")
    kinds = [e.kind for e in desk.history(referral.id)][-4:]
    assert kinds == ["task_opened", "task_claimed", "task_released", "task_completed"]
    desk.verify(referral.id)
    actions = [c.action for c in desk.get(referral.id).tasks[0].changes]
    assert actions == ["claimed", "released", "completed"]


def test_work_list_is_ordered_by_urgency_then_due_time(desk, referral, clock):
    now = clock.now()
    late_urgent = _open(desk, referral.id, priority=TaskPriority.URGENT, due_at=now + timedelta(9))
    soon_normal = _open(desk, referral.id, due_at=now + timedelta(hours=1))
    later_normal = _open(desk, referral.id, due_at=now + timedelta(hours=2))
    rows = desk.tasks(queue="records")
    assert [r.task_id for r in rows] == [late_urgent.id, soon_normal.id, later_normal.id]
    page = desk.tasks(queue="records", limit=2)
    rest = desk.tasks(queue="records", limit=2, after=page[-1].cursor)
    assert [r.task_id for r in page + rest] == [r.task_id for r in rows]


class _StoreWithoutIndex:
    """A third-party store that predates the task index: the Store protocol only."""

    def __init__(self) -> None:
        from referralkit.adapters.memory import MemoryStore

        inner = MemoryStore()
        for name in (
            "create",
            "create_many",
            "save",
            "get",
            "events",
            "list_by_status",
            "due",
            "count_by_status",
            "close",
        ):
            setattr(self, name, getattr(inner, name))


def test_a_store_without_a_task_index_still_serves_work_lists(make_referral, actors, clock):
    from referralkit.tasks import TaskIndex

    store = _StoreWithoutIndex()
    assert not isinstance(store, TaskIndex)
    desk = ReferralDesk(store=store, clock=clock)  # type: ignore[arg-type]
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    task = _open(desk, referral.id, queue="records")
    assert [r.task_id for r in desk.tasks(queue="records")] == [task.id]
    assert desk.queue_counts()["records"].open == 1
