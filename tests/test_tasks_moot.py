"""Tasks close themselves when their reason is gone, and say why; a held task is only marked."""

from datetime import timedelta
from uuid import uuid4

import pytest

from referralkit.adapters.memory import MemoryStore
from referralkit.desk import ReferralDesk
from referralkit.model import (
    Actor,
    ActorKind,
    Appointment,
    HumanTask,
    Priority,
    ReferralStatus,
    Role,
    TaskStatus,
)
from referralkit.ports import SmsRequest
from referralkit.tasks import LIVE_STATUSES, moot_closures
from referralkit.testing.conformance import canary_referral

ALICE = Actor(kind=ActorKind.HUMAN, id="alice", role=Role.SCHEDULER)


def _open(desk, referral_id, queue):
    now = desk.clock.now()
    task = HumanTask(
        queue=queue,
        title=f"{queue} work",
        reason="test",
        created_at=now,
        due_at=now + timedelta(hours=4),
    )
    desk.amend(
        referral_id,
        "task_opened",
        actor=ALICE,
        update=lambda r: {"tasks": (*r.tasks, task)},
        data={"task_id": str(task.id), "queue": queue},
    )
    return task


def _task(desk, referral_id, task_id):
    return next(t for t in desk.get(referral_id).tasks if t.id == task_id)


def _book(desk, referral_id, actors):
    desk.fire(referral_id, "accept", actor=actors.clinician)
    desk.fire(referral_id, "clear", actor=actors.clinician)
    start = desk.clock.now() + timedelta(days=3)
    return desk.record_booking(referral_id, Appointment(start=start), actor=actors.scheduler)


def test_review_task_closes_when_the_referral_is_accepted(desk, make_referral, actors):
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    desk.route(referral.id)
    (review,) = desk.get(referral.id).tasks
    assert review.queue == "clinical_review"
    desk.fire(referral.id, "accept", actor=actors.clinician)
    closed = _task(desk, referral.id, review.id)
    assert closed.status is TaskStatus.CANCELLED
    assert closed.close_reason == "moot: review decided (referral accepted)"
    assert closed.closed_by == "referralkit.tasks"
    event = desk.history(referral.id)[-1]
    assert event.kind == "task_mooted"
    assert event.data["closed"][0]["task_id"] == str(review.id)
    assert desk.tasks(queue="clinical_review") == []


def test_review_task_closes_when_the_referral_is_declined(desk, make_referral, actors):
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    review = _open(desk, referral.id, "clinical_review")
    desk.fire(referral.id, "decline", actor=actors.clinician, data={"reason": "wrong_specialty"})
    assert _task(desk, referral.id, review.id).close_reason == "moot: referral declined"


def test_claimed_task_is_marked_moot_not_closed(desk, make_referral, actors):
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    review = _open(desk, referral.id, "clinical_review")
    desk.claim_task(referral.id, review.id, actor=ALICE)
    desk.fire(referral.id, "accept", actor=actors.clinician)
    held = _task(desk, referral.id, review.id)
    assert (held.status, held.assignee) == (TaskStatus.CLAIMED, "alice")
    assert held.moot == "moot: review decided (referral accepted)"
    (row,) = desk.my_tasks("alice")
    assert row.moot
    released = desk.release_task(referral.id, review.id, actor=ALICE)
    assert released.status is TaskStatus.CANCELLED
    assert released.close_reason == held.moot


def test_scheduling_task_closes_once_scheduled_but_not_a_later_one(desk, make_referral, actors):
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    before = _open(desk, referral.id, "scheduling")
    _book(desk, referral.id, actors)
    assert _task(desk, referral.id, before.id).close_reason == "moot: referral scheduled"
    after = _open(desk, referral.id, "scheduling")
    desk.amend(referral.id, "note_added", actor=ALICE, update={})
    assert _task(desk, referral.id, after.id).status is TaskStatus.OPEN


@pytest.mark.parametrize(
    ("trigger", "data", "status"),
    [
        ("cancel", {"reason": "patient_request"}, "cancelled"),
        ("mark_lost", {"reason": "unreachable"}, "lost"),
    ],
)
def test_every_task_closes_on_a_terminal_state(desk, make_referral, actors, trigger, data, status):
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    desk.fire(referral.id, "accept", actor=actors.clinician)
    desk.fire(referral.id, "clear", actor=actors.clinician)
    opened = [_open(desk, referral.id, q) for q in ("scheduling", "supervisor", "records")]
    desk.claim_task(referral.id, opened[2].id, actor=ALICE)
    desk.fire(referral.id, trigger, actor=actors.scheduler, data=data)
    tasks = {t.id: t for t in desk.get(referral.id).tasks}
    for task in opened[:2]:
        assert tasks[task.id].status is TaskStatus.CANCELLED
        assert tasks[task.id].close_reason == f"moot: referral {status}"
    assert tasks[opened[2].id].moot == f"moot: referral {status}"
    (left,) = desk.tasks()  # only the held one, flagged for its holder
    assert (left.task_id, left.moot) == (opened[2].id, True)


def test_routing_task_closes_when_its_rule_no_longer_matches(desk, make_referral, actors):
    referral = desk.create(make_referral(flags=("urgent",)), actor=actors.intake_staff)
    desk.route(referral.id)
    urgent = next(t for t in desk.get(referral.id).tasks if t.queue == "urgent_clinical")
    desk.amend(
        referral.id,
        "priority_changed",
        actor=actors.clinician,
        update={"priority": Priority.URGENT},
    )
    closed = _task(desk, referral.id, urgent.id)
    assert closed.close_reason == "moot: rule urgent_intake_flag no longer matches"


def test_routing_task_stays_while_its_rule_matches(desk, make_referral, actors):
    referral = desk.create(make_referral(flags=("urgent",)), actor=actors.intake_staff)
    desk.route(referral.id)
    desk.amend(referral.id, "note_added", actor=actors.clinician, update={})
    assert all(t.status is TaskStatus.OPEN for t in desk.get(referral.id).tasks)


def _sms(referral, attempt):
    return SmsRequest.for_referral(
        referral, action="reminder", attempt=attempt, template_id="reminder", body="Call us."
    )


def test_failed_send_task_closes_when_a_later_send_succeeds(referralkit_desk, referralkit_outbox):
    referral = referralkit_desk.create(
        canary_referral().model_copy(update={"id": uuid4(), "status": ReferralStatus.RECEIVED}),
        actor=ALICE,
    )
    referralkit_outbox.telephony.fail_next(1, "permanent")
    failed = referralkit_desk.dispatch(_sms(referral, 1))
    assert failed.status == "failed"
    assert _task(referralkit_desk, referral.id, failed.task_id).status is TaskStatus.OPEN
    sent = referralkit_desk.dispatch(_sms(referral, 2))
    assert sent.status == "sent"
    closed = _task(referralkit_desk, referral.id, failed.task_id)
    assert closed.close_reason == "moot: a later send_sms succeeded"


def test_moot_closures_is_pure_and_quiet_when_nothing_is_moot(make_referral, actors):
    desk = ReferralDesk(store=MemoryStore())
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    event = desk.history(referral.id)[-1]
    assert moot_closures(referral, event) is None


def test_entered_in_error_referral_leaves_every_work_list(desk, make_referral, actors):
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    _open(desk, referral.id, "records")
    assert len(desk.tasks(queue="records")) == 1
    desk.fire(referral.id, "mark_error", actor=actors.clinician, data={"reason": "duplicate"})
    assert desk.tasks(queue="records") == []
    assert desk.get(referral.id).tasks[0].status in LIVE_STATUSES  # void: never amended again


def test_a_moot_task_cannot_be_snoozed_or_handed_to_a_queue(desk, make_referral, actors):
    from referralkit.errors import TaskStateError

    referral = desk.create(make_referral(), actor=actors.intake_staff)
    review = _open(desk, referral.id, "clinical_review")
    desk.claim_task(referral.id, review.id, actor=ALICE)
    desk.fire(referral.id, "accept", actor=actors.clinician)
    with pytest.raises(TaskStateError, match="reason is gone"):
        desk.snooze_task(
            referral.id, review.id, actor=ALICE, until=desk.clock.now() + timedelta(hours=1)
        )
    with pytest.raises(TaskStateError, match="reason is gone"):
        desk.reassign_task(referral.id, review.id, actor=ALICE, queue="clinical_supervisor")
