"""Mirroring summaries and tasks to the EHR: idempotent, per practice, failures become tasks."""

from datetime import timedelta
from uuid import uuid4

import pytest

from referralkit.adapters.memory import MemoryStore
from referralkit.desk import ReferralDesk
from referralkit.errors import NoBackendError
from referralkit.model import (
    Actor,
    ActorKind,
    Channel,
    Direction,
    HumanTask,
    Interaction,
    ReferralStatus,
    Role,
    TaskStatus,
)
from referralkit.plugins import Hooks, hookimpl, make_plugin_manager
from referralkit.ports import EhrAdapter, InteractionMirrorRequest, TaskMirrorRequest
from referralkit.tasks import MirrorSettings
from referralkit.testing.conformance import canary_referral

STAFF = Actor(kind=ActorKind.HUMAN, id="staff-1", role=Role.SCHEDULER)


@pytest.fixture
def referral(referralkit_desk):
    desk = referralkit_desk
    created = desk.create(
        canary_referral().model_copy(update={"id": uuid4(), "status": ReferralStatus.RECEIVED}),
        actor=STAFF,
    )
    now = desk.clock.now()
    task = HumanTask(
        queue="scheduling", title="Call", reason="r", created_at=now, due_at=now + timedelta(1)
    )
    desk.amend(created.id, "task_opened", actor=STAFF, update={"tasks": (task,)})
    desk.log_interaction(
        created.id,
        Interaction(
            at=now,
            channel=Channel.VOICE,
            direction=Direction.INBOUND,
            call_type="status_inquiry",
            summary="asked about the appointment",
        ),
        actor=STAFF,
    )
    return desk.get(created.id)


def _mirrored(ehr, kind):
    return [r for r in ehr.contacts.values() if isinstance(r, kind)]


def test_summaries_and_tasks_reach_the_ehr_once(referralkit_desk, referralkit_memory, referral):
    report = referralkit_desk.mirror_work(referral.id, MirrorSettings())
    assert (report.sent, report.failed_tasks) == (2, ())
    (logged,) = _mirrored(referralkit_memory.ehr, InteractionMirrorRequest)
    assert logged.summary == "asked about the appointment"
    assert "appointment" not in repr(logged)
    (pushed,) = _mirrored(referralkit_memory.ehr, TaskMirrorRequest)
    assert (pushed.task_id, pushed.status) == (referral.tasks[0].id, TaskStatus.OPEN)
    again = referralkit_desk.mirror_work(referral.id, MirrorSettings())
    assert again.sent == 0
    assert len(referralkit_memory.ehr.requests) == 2


def test_a_task_change_is_pushed_again(referralkit_desk, referralkit_memory, referral):
    desk = referralkit_desk
    desk.mirror_work(referral.id, MirrorSettings())
    desk.claim_task(referral.id, referral.tasks[0].id, actor=STAFF)
    assert desk.mirror_work(referral.id, MirrorSettings()).sent == 1
    latest = _mirrored(referralkit_memory.ehr, TaskMirrorRequest)[-1]
    assert (latest.status, latest.assignee) == (TaskStatus.CLAIMED, "staff-1")


def test_only_configured_practices_are_mirrored(referralkit_desk, referralkit_memory, referral):
    settings = MirrorSettings(practices=frozenset({"not-this-practice"}))
    assert referralkit_desk.mirror_work(referral.id, settings).skipped
    assert referralkit_memory.ehr.requests == []


def test_a_failure_becomes_a_task_and_a_retry_closes_it(
    referralkit_desk, referralkit_memory, referral
):
    desk = referralkit_desk
    referralkit_memory.ehr.fail_next(1, "permanent")
    report = desk.mirror_work(referral.id, MirrorSettings(tasks=False))
    (failure,) = report.failed_tasks
    task = next(t for t in desk.get(referral.id).tasks if t.id == failure)
    assert (task.queue, task.status) == ("records", TaskStatus.OPEN)
    assert desk.get(referral.id).interactions[0].summary  # the summary is kept, not lost
    assert desk.mirror_work(referral.id, MirrorSettings(tasks=False)).sent == 0  # not retried
    retried = desk.mirror_work(referral.id, MirrorSettings(tasks=False, retry_failed=True))
    assert retried.sent == 1
    closed = next(t for t in desk.get(referral.id).tasks if t.id == failure)
    assert closed.close_reason == "moot: a later log_interaction succeeded"


def test_the_failure_task_itself_is_not_mirrored(referralkit_desk, referralkit_memory, referral):
    referralkit_memory.ehr.fail_next(1, "permanent")
    (failure,) = referralkit_desk.mirror_work(referral.id, MirrorSettings()).failed_tasks
    referralkit_desk.mirror_work(referral.id, MirrorSettings())
    pushed = {r.task_id for r in _mirrored(referralkit_memory.ehr, TaskMirrorRequest)}
    assert failure not in pushed


class _PlainEhr:
    """An EHR adapter written before mirroring existed: EhrAdapter's methods only."""

    name = "plain"

    def fetch_patient(self, request):  # pragma: no cover - never called here
        raise NotImplementedError

    push_status = fetch_documents = book_appointment = cancel_appointment = fetch_patient


class _PlainPlugin:
    @hookimpl
    def referralkit_register_ehr_adapters(self):
        return [_PlainEhr()]


def test_an_ehr_without_mirroring_is_no_backend(referralkit_clock, referral):
    desk = ReferralDesk(
        store=MemoryStore(),
        clock=referralkit_clock,
        hooks=Hooks(make_plugin_manager([_PlainPlugin()], load_entrypoints=False)),
    )
    stored = desk.create(referral.model_copy(update={"version": 0}), actor=STAFF)
    assert isinstance(_PlainEhr(), EhrAdapter)
    with pytest.raises(NoBackendError):
        desk.mirror_work(stored.id, MirrorSettings(interactions=False))
    assert desk.history(stored.id)[-1].kind == "created"  # nothing recorded


def test_a_desk_with_mirror_settings_mirrors_after_every_change(
    referralkit_desk, referralkit_memory
):
    desk = referralkit_desk
    desk.mirror = MirrorSettings()
    created = desk.create(
        canary_referral().model_copy(update={"id": uuid4(), "status": ReferralStatus.RECEIVED}),
        actor=STAFF,
    )
    desk.log_interaction(
        created.id,
        Interaction(
            at=desk.clock.now(),
            channel=Channel.VOICE,
            direction=Direction.INBOUND,
            call_type="status_inquiry",
            summary="asked about the appointment",
        ),
        actor=STAFF,
    )
    # No mirror_work() call: the change itself mirrored the summary, once.
    assert len(_mirrored(referralkit_memory.ehr, InteractionMirrorRequest)) == 1
    desk.amend(created.id, "note_added", actor=STAFF, update={})
    assert len(_mirrored(referralkit_memory.ehr, InteractionMirrorRequest)) == 1
    keys = [r.idempotency_key for r in referralkit_memory.ehr.requests]
    assert len(keys) == len(set(keys))
