"""Random sequences of triggers, routing and task actions: every open task has a live reason,
a terminal referral has no open task, every closed task says why, and the index agrees."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from referralkit.adapters.memory import MemoryStore
from referralkit.clock import ManualClock
from referralkit.desk import ReferralDesk
from referralkit.errors import (
    InvalidTransitionError,
    ReferralKitError,
    TaskError,
    TriggerDataError,
)
from referralkit.lifecycle import TERMINAL_STATES
from referralkit.model import (
    Actor,
    ActorKind,
    Appointment,
    HumanTask,
    ReferralStatus,
    Role,
    TaskPriority,
    TaskStatus,
)
from referralkit.tasks import LIVE_STATUSES, moot_reason
from tests.support.builders import complete_referral

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr", role=Role.CLINICIAN)
STAFF = [Actor(kind=ActorKind.HUMAN, id=f"staff-{i}", role=Role.SCHEDULER) for i in range(3)]
QUEUES = ["clinical_review", "urgent_clinical", "scheduling", "records", "supervisor", "outreach"]
TRIGGERS: list[tuple[str, dict[str, Any] | None]] = [
    ("accept", None),
    ("decline", {"reason": "no_capacity"}),
    ("clear", None),
    ("require_auth", None),
    ("no_show", {"reason": "forgot"}),
    ("complete_visit", None),
    ("close_loop", {"report_reference": "r"}),
    ("mark_lost", {"reason": "unreachable"}),
    ("cancel", {"reason": "patient_request"}),
    ("hold", {"reason": "waiting"}),
    ("resume", None),
    ("reopen", {"reason": "patient called back"}),
]
_S = TaskStatus


class TaskMachine(RuleBasedStateMachine):
    """One referral, worked at random by a clinician, three staff, routing and the sweeps."""

    @initialize(received=st.booleans())
    def start(self, received: bool) -> None:
        self.clock = ManualClock(T0)
        self.desk = ReferralDesk(store=MemoryStore(), clock=self.clock)
        status = ReferralStatus.RECEIVED if received else ReferralStatus.INTAKE
        self.id = self.desk.create(complete_referral(status=status), actor=CLINICIAN).id

    def _pick(self, index: int) -> HumanTask | None:
        tasks = self.desk.get(self.id).tasks
        return tasks[index % len(tasks)] if tasks else None

    @rule(pick=st.integers(0, len(TRIGGERS) - 1))
    def fire(self, pick: int) -> None:
        trigger, data = TRIGGERS[pick]
        with contextlib.suppress(InvalidTransitionError, TriggerDataError):
            self.desk.fire(self.id, trigger, actor=CLINICIAN, data=data)  # type: ignore[arg-type]

    @rule()
    def book(self) -> None:
        with contextlib.suppress(ReferralKitError):
            self.desk.record_booking(
                self.id, Appointment(start=self.clock.now() + timedelta(days=1)), actor=STAFF[0]
            )

    @rule()
    def route(self) -> None:
        self.desk.route(self.id)

    @rule(
        queue=st.sampled_from(QUEUES),
        priority=st.sampled_from(list(TaskPriority)),
        hours=st.integers(-5, 48),
    )
    def open_task(self, queue: str, priority: TaskPriority, hours: int) -> None:
        now = self.clock.now()
        task = HumanTask(
            queue=queue,
            title="work",
            reason="test",
            priority=priority,
            created_at=now,
            due_at=now + timedelta(hours=hours),
        )
        with contextlib.suppress(InvalidTransitionError):
            self.desk.amend(
                self.id,
                "task_opened",
                actor=CLINICIAN,
                update=lambda r: {"tasks": (*r.tasks, task)},
            )

    @rule(
        index=st.integers(0, 20),
        who=st.integers(0, 2),
        action=st.sampled_from(
            ["claim", "release", "complete", "cancel", "snooze", "reassign", "handoff"]
        ),
    )
    def work(self, index: int, who: int, action: str) -> None:
        task = self._pick(index)
        if task is None:
            return
        actor = STAFF[who]
        desk, rid, tid = self.desk, self.id, task.id
        calls = {
            "claim": lambda: desk.claim_task(rid, tid, actor=actor),
            "release": lambda: desk.release_task(rid, tid, actor=actor),
            "complete": lambda: desk.complete_task(rid, tid, actor=actor, outcome="done"),
            "cancel": lambda: desk.cancel_task(rid, tid, actor=actor, reason="not needed"),
            "snooze": lambda: desk.snooze_task(
                rid, tid, actor=actor, until=self.clock.now() + timedelta(hours=3)
            ),
            "reassign": lambda: desk.reassign_task(rid, tid, actor=actor, assignee="staff-2"),
            "handoff": lambda: desk.reassign_task(rid, tid, actor=actor, queue="supervisor"),
        }
        with contextlib.suppress(TaskError):
            calls[action]()

    @rule(hours=st.integers(1, 72))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))
        self.desk.sweep_tasks()

    @invariant()
    def open_tasks_have_a_live_reason(self) -> None:
        if not hasattr(self, "desk"):
            return
        referral = self.desk.get(self.id)
        for task in referral.tasks:
            if task.status in (_S.OPEN, _S.SNOOZED):
                assert moot_reason(referral, task) is None, (task.queue, referral.status)
            if task.status is _S.CLAIMED and moot_reason(referral, task) is not None:
                assert task.moot is not None  # the holder is told
            if task.status not in LIVE_STATUSES:
                assert task.close_reason
                assert task.closed_at is not None

    @invariant()
    def terminal_referral_has_no_open_task(self) -> None:
        if not hasattr(self, "desk"):
            return
        referral = self.desk.get(self.id)
        if referral.status in TERMINAL_STATES:
            assert all(t.status not in (_S.OPEN, _S.SNOOZED) for t in referral.tasks)

    @invariant()
    def index_agrees_with_the_referral(self) -> None:
        if not hasattr(self, "desk"):
            return
        rows = self.desk.tasks(status=list(TaskStatus), limit=1000)
        indexed = {(r.task_id, r.status, r.queue, r.assignee) for r in rows}
        stored = {(t.id, t.status, t.queue, t.assignee) for t in self.desk.get(self.id).tasks}
        assert indexed == stored


TaskMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestTasks = TaskMachine.TestCase
