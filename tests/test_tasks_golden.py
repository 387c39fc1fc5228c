"""Golden end-to-end: a referral from intake to closed and to lost leaves no task open, and
every task that closed says why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from referralkit.adapters.memory import MemoryStore
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.desk import ReferralDesk
from referralkit.model import Appointment, Referral, ReferralStatus, TaskStatus
from referralkit.tasks import LIVE_STATUSES
from tests.support.builders import complete_referral


@pytest.fixture(params=["memory", "sqlite"])
def desk(request, tmp_path: Path, referralkit_clock, referralkit_hooks, referralkit_retrying):
    store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "g.db")
    with ReferralDesk(
        store=store,
        clock=referralkit_clock,
        hooks=referralkit_hooks,
        retrying=referralkit_retrying,
        auto_route=True,
    ) as opened:
        yield opened


def _intake(desk: ReferralDesk, actors) -> Referral:
    draft = desk.create(complete_referral(status=ReferralStatus.INTAKE), actor=actors.intake_ai)
    return desk.fire(draft.id, "complete_intake", actor=actors.intake_ai)


def _assert_nothing_left_open(desk: ReferralDesk, referral_id) -> None:
    referral = desk.get(referral_id)
    assert referral.tasks, "the path should have produced human work"
    for task in referral.tasks:
        assert task.status not in LIVE_STATUSES, (task.queue, task.status)
        assert task.close_reason, task.queue
        assert task.closed_at is not None
        assert task.closed_by
    assert desk.tasks() == []
    assert desk.queue_counts() == {}
    desk.verify(referral_id)


def test_intake_to_closed(desk, actors, referralkit_clock):
    clock = referralkit_clock
    referral = _intake(desk, actors)
    (review,) = desk.get(referral.id).tasks  # routing: a clinician must accept
    assert review.queue == "clinical_review"
    assert [r.task_id for r in desk.tasks(queue="clinical_review")] == [review.id]
    desk.claim_task(referral.id, review.id, actor=actors.clinician)
    desk.fire(referral.id, "accept", actor=actors.clinician)
    held = next(t for t in desk.get(referral.id).tasks if t.id == review.id)
    assert held.moot is not None  # the clinician still holds it and sees it is moot
    desk.complete_task(referral.id, review.id, actor=actors.clinician, outcome="accepted")
    desk.fire(referral.id, "clear", actor=actors.clinician)
    clock.advance(timedelta(days=20))  # the booking SLA breaches: routing escalates
    desk.sweep_routing()
    desk.sweep_tasks()
    open_now = [t for t in desk.get(referral.id).tasks if t.status in LIVE_STATUSES]
    assert open_now, "a breached booking clock puts work in front of people"
    desk.record_booking(
        referral.id, Appointment(start=clock.now() + timedelta(days=2)), actor=actors.scheduler
    )
    clock.advance(timedelta(days=2, hours=1))
    desk.fire(referral.id, "complete_visit", actor=actors.clinician)
    desk.fire(
        referral.id, "close_loop", actor=actors.clinician, data={"report_reference": "doc-1"}
    )
    assert desk.get(referral.id).status is ReferralStatus.CLOSED
    _assert_nothing_left_open(desk, referral.id)


def test_intake_to_lost(desk, actors, referralkit_clock):
    clock = referralkit_clock
    referral = _intake(desk, actors)
    desk.fire(referral.id, "accept", actor=actors.clinician)
    desk.fire(referral.id, "clear", actor=actors.clinician)
    clock.advance(timedelta(days=30))
    desk.sweep_routing()
    desk.sweep_tasks()
    clock.advance(timedelta(days=5))
    desk.sweep_routing()
    desk.sweep_tasks()
    live = [t for t in desk.get(referral.id).tasks if t.status in LIVE_STATUSES]
    assert {t.queue for t in live} >= {"scheduling", "supervisor"}
    somebody = live[0]
    desk.claim_task(referral.id, somebody.id, actor=actors.scheduler)
    desk.record_patient_declined(referral.id, actor=actors.scheduler)
    assert desk.get(referral.id).status is ReferralStatus.LOST
    held = next(t for t in desk.get(referral.id).tasks if t.id == somebody.id)
    assert (held.status, held.moot) == (TaskStatus.CLAIMED, "moot: referral lost")
    assert [r.task_id for r in desk.my_tasks(actors.scheduler.id)] == [somebody.id]
    desk.release_task(referral.id, somebody.id, actor=actors.scheduler)
    _assert_nothing_left_open(desk, referral.id)
