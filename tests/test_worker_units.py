"""The worker's engine-neutral units of work and health figures, on the in-memory store."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import attrs
import pytest

from referralkit.adapters.memory.telephony import InMemoryTelephony
from referralkit.outreach.ledger import read_ledger
from referralkit.ports import CallRequest, Receipt
from referralkit.worker import (
    ScheduleReport,
    admin_fleet_health,
    health,
    health_by_tenant,
    run_dispatch,
    schedule_due,
)
from tests.support.outreach_world import outreach_desk, ready_referral

LEASE = timedelta(minutes=10)


class Collect:
    """An engine's enqueue: records jobs and refuses a second waiting job per referral."""

    def __init__(self) -> None:
        self.jobs: list[tuple[UUID, bool]] = []

    def __call__(self, referral_id: UUID, urgent: bool) -> bool:
        if any(job == referral_id for job, _ in self.jobs):
            return False
        self.jobs.append((referral_id, urgent))
        return True


def test_schedule_enqueues_each_due_referral_once_oldest_first():
    desk, _, clock = outreach_desk()
    first = ready_referral(desk)
    clock.advance(minutes=5)
    second = ready_referral(desk)
    enqueue = Collect()
    report = schedule_due(desk.store, clock.now(), enqueue)
    assert report == ScheduleReport(due=2, enqueued=2, already=0)
    assert enqueue.jobs == [(first.id, False), (second.id, False)]
    # The next tick finds the same jobs waiting: none is enqueued twice.
    again = schedule_due(desk.store, clock.now(), enqueue)
    assert (again.enqueued, again.already) == (0, 2)


def test_schedule_looks_at_no_more_than_the_limit():
    desk, _, clock = outreach_desk()
    for _ in range(3):
        ready_referral(desk)
    enqueue = Collect()
    assert schedule_due(desk.store, clock.now(), enqueue, limit=2).due == 2
    assert len(enqueue.jobs) == 2


def test_a_dead_workers_referral_is_enqueued_first_and_urgent_once_its_lease_expires():
    desk, _, clock = outreach_desk(lease=LEASE)
    fresh = ready_referral(desk)
    clock.advance(minutes=1)
    held = ready_referral(desk)
    # A worker claims it and dies without releasing.
    assert desk.store.claim(held.id, clock.now(), worker="dead", lease=LEASE) is not None
    clock.advance(LEASE)
    enqueue = Collect()
    report = schedule_due(desk.store, clock.now(), enqueue)
    assert enqueue.jobs == [(held.id, True), (fresh.id, False)]
    assert report.abandoned == 1


def test_a_duplicate_dispatch_job_contacts_nobody_twice():
    desk, plugin, _ = outreach_desk()
    referral = ready_referral(desk)
    first = run_dispatch(desk, referral.id)
    second = run_dispatch(desk, referral.id)
    assert (first.claimed, len(first.dispatched)) == (1, 1)
    assert (second.claimed, second.dispatched) == (0, [])
    assert len(plugin.telephony.calls) == 1


def test_a_dispatch_job_leaves_a_referral_another_worker_holds_alone():
    desk, plugin, clock = outreach_desk()
    referral = ready_referral(desk)
    desk.store.claim(referral.id, clock.now(), worker="other", lease=LEASE)
    assert run_dispatch(desk, referral.id).claimed == 0
    assert plugin.telephony.calls == []
    assert desk.store.backlog(clock.now()).leases_live == 1


@attrs.define
class CrashingTelephony(InMemoryTelephony):
    """Dies mid-send once (as a killed process would), after the request reached the vendor."""

    crashes: int = 1

    def place_call(self, request: CallRequest) -> Receipt:
        receipt = super().place_call(request)
        if self.crashes:
            self.crashes -= 1
            raise KeyboardInterrupt  # not an Exception: nothing in referralkit catches it
        return receipt


def test_an_interrupted_send_shows_in_health_and_is_resumed_under_its_key():
    desk, plugin, clock = outreach_desk(lease=LEASE)
    plugin.telephony = CrashingTelephony(clock=clock)
    referral = ready_referral(desk)
    with pytest.raises(KeyboardInterrupt):
        run_dispatch(desk, referral.id)
    (entry,) = read_ledger(desk.history(referral.id)).entries.values()
    assert entry.status == "queued"
    clock.advance(desk.outreach.policy.in_flight_timeout)
    figures = health(desk.store, clock.now())
    assert (figures.backlog.due, figures.queued_actions, figures.examined) == (1, 1, 1)
    report = run_dispatch(desk, referral.id)
    assert len(report.dispatched) == 1
    (done,) = read_ledger(desk.history(referral.id)).entries.values()
    assert (done.key, done.status) == (entry.key, "sent")
    # The vendor saw the same key twice and placed one call.
    assert [r.idempotency_key for r in plugin.telephony.requests] == [entry.key, entry.key]
    assert len(plugin.telephony.calls) == 1
    assert health(desk.store, clock.now()).queued_actions == 0


def test_health_lag_is_how_long_the_oldest_due_referral_waited():
    desk, _, clock = outreach_desk()
    ready_referral(desk)
    clock.advance(minutes=30)
    figures = health(desk.store, clock.now())
    assert figures.lag == timedelta(minutes=30)
    assert figures.as_dict()["lag_seconds"] == 1800.0


def test_worker_settings_take_periods_that_divide_a_minute():
    engine = pytest.importorskip("referralkit.worker.engine", reason="worker extra missing")
    assert engine.WorkerSettings("host=x", schedule_every=15).schedule_every == 15
    with pytest.raises(ValueError, match="must divide 60"):
        engine.WorkerSettings("host=x", schedule_every=7)


def test_the_app_registers_dispatch_schedule_and_routing():
    engine = pytest.importorskip("referralkit.worker.engine", reason="worker extra missing")
    desk, _, _ = outreach_desk()
    app = engine.build_app(lambda: desk, engine.WorkerSettings("host=x", schema="rk"))
    assert {engine.DISPATCH_TASK, engine.SCHEDULE_TASK, engine.ROUTING_TASK} <= set(app.tasks)
    periodic = {task.task.name for task in app.periodic_registry.periodic_tasks.values()}
    assert periodic == {engine.SCHEDULE_TASK, engine.ROUTING_TASK}


def test_a_dispatch_job_runs_on_its_tenants_desk_opened_once_per_process():
    engine = pytest.importorskip("referralkit.worker.engine", reason="worker extra missing")
    desk, plugin, _ = outreach_desk()
    opened: list[str] = []

    def tenant_desk(tenant: str):
        opened.append(tenant)
        return desk.for_tenant(tenant)

    app = engine.build_app(lambda: desk, engine.WorkerSettings("host=x"), tenant_desk=tenant_desk)
    dispatch = app.tasks[engine.DISPATCH_TASK]
    first = ready_referral(desk.for_tenant("north"))
    second = ready_referral(desk.for_tenant("north"))
    theirs = ready_referral(desk.for_tenant("south"))
    # A job that names the wrong tenant finds nothing to do: no call, no change.
    dispatch(referral_id=str(theirs.id), tenant="north")
    assert plugin.telephony.requests == []
    assert desk.for_tenant("south").get(theirs.id).version == theirs.version
    for referral, tenant in ((first, "north"), (second, "north"), (theirs, "south")):
        dispatch(referral_id=str(referral.id), tenant=tenant)
    assert len(plugin.telephony.calls) == 3
    assert opened == ["north", "south"], "one desk per tenant per process"
    south = desk.for_tenant("south")
    (entry,) = read_ledger(south.history(theirs.id)).entries.values()
    assert entry.status == "sent"


def test_a_tenant_desk_bound_to_another_tenant_is_refused():
    engine = pytest.importorskip("referralkit.worker.engine", reason="worker extra missing")
    desk, plugin, _ = outreach_desk()
    referral = ready_referral(desk.for_tenant("south"))
    app = engine.build_app(
        lambda: desk, engine.WorkerSettings("host=x"), tenant_desk=lambda _t: desk
    )
    with pytest.raises(ValueError, match="bound to another tenant"):
        app.tasks[engine.DISPATCH_TASK](referral_id=str(referral.id), tenant="south")
    assert plugin.telephony.requests == []


def test_health_by_tenant_and_the_fleet_wide_total():
    desk, _, clock = outreach_desk()
    ready_referral(desk.for_tenant("north"))
    clock.advance(minutes=10)
    ready_referral(desk.for_tenant("north"))
    ready_referral(desk.for_tenant("south"))
    clock.advance(minutes=20)
    each = health_by_tenant(desk.store, clock.now())
    assert {t: h.backlog.due for t, h in each.items()} == {"north": 2, "south": 1}
    assert each["south"].lag == timedelta(minutes=20)
    total = admin_fleet_health(desk.store, clock.now(), jobs={"todo": 3})
    assert (total.backlog.due, total.examined, dict(total.jobs)) == (3, 3, {"todo": 3})
    assert total.lag == timedelta(minutes=30), "the oldest due of any tenant"
    # The desk's own tenant has none of it.
    assert health(desk.store, clock.now()).backlog.due == 0
