"""Workers on PostgreSQL: a fleet of worker processes dispatching due actions exactly once,
a worker killed mid-batch, a server restart mid-sweep, and writers racing on one referral.

The fleet tests start real OS processes (tests/support/worker_fleet.py). CI runs a smaller
fleet of the same shape; the full size (8 processes x 5,000 actions over 20 tenants) runs
with ``REFERRALKIT_SCALE=full pytest -m scale tests/test_worker_pg.py``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest

from referralkit import ConflictError, ReferralDesk, ReferralStatus
from referralkit.outreach.ledger import read_ledger
from tests.support import worker_fleet as fleet
from tests.support.pg import DSN, drop_schema, server_or_skip

pytestmark = pytest.mark.postgres

LEASE = 4.0
"""Lease period (and in-flight timeout) of the fleet's workers, in seconds."""


@pytest.fixture
def schema():
    server_or_skip()
    pytest.importorskip("procrastinate", reason="procrastinate missing: referralkit[worker]")
    name = f"rk_test_{uuid.uuid4().hex[:12]}"
    yield name
    drop_schema(name)


def _tagged(schema: str) -> str:
    # Tag the fleet's connections, so the restart test terminates only them (never another
    # test's, nor another engineer's, on the shared server).
    from psycopg.conninfo import make_conninfo

    return make_conninfo(DSN, application_name=f"fleet_{schema}")


def _prepare(schema: str, count: int, epoch: float):
    import psycopg

    from referralkit.worker import WorkerSettings, apply_job_schema

    dsn = _tagged(schema)
    desk = fleet.fleet_desk(dsn, schema, epoch=epoch, lease=LEASE, latency=0, worker="seeder")
    ids = fleet.seed(desk, count)
    settings = WorkerSettings(DSN, schema=schema)
    assert apply_job_schema(settings)
    assert not apply_job_schema(settings), "the job tables are created once"
    conn = psycopg.connect(settings.job_conninfo(), autocommit=True)
    conn.execute("CREATE TABLE fleet_sends (key text NOT NULL, pid int NOT NULL, at timestamptz)")
    return desk, ids, conn


def _wait_until_sent(conn, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    sent = 0
    while time.monotonic() < deadline:
        sent = conn.execute("SELECT COUNT(DISTINCT key) FROM fleet_sends").fetchone()[0]
        if sent >= count:
            return sent
        time.sleep(0.25)
    return sent


def _stop(workers) -> list[int]:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    codes = []
    for worker in workers:
        try:
            codes.append(worker.wait(timeout=60))
        except Exception:
            worker.kill()
            raise
    return codes


def _tenant_desks(desk: ReferralDesk, ids) -> dict:
    """Each seeded referral's tenant desk, by referral id (see ``fleet.seed``)."""
    desks = {tenant: desk.for_tenant(tenant) for tenant in map(fleet.tenant_of, range(20))}
    return {referral_id: desks[fleet.tenant_of(i)] for i, referral_id in enumerate(ids)}


def _settled(desk: ReferralDesk, ids) -> bool:
    desks = _tenant_desks(desk, ids)
    return all(
        Counter(e.status for e in read_ledger(desks[i].history(i)).entries.values())
        == Counter(sent=1)
        for i in ids
    )


def _wait_until_settled(desk: ReferralDesk, ids, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _settled(desk, ids) and time.monotonic() < deadline:
        time.sleep(0.5)


def _assert_each_action_sent_once(
    desk: ReferralDesk, ids, conn, killed_pids: set[int], cut_at: object = None
) -> None:
    orphans = []
    desks = _tenant_desks(desk, ids)
    # Every tenant had work, and the base desk (another tenant) sees none of it.
    assert len({d.tenant for d in desks.values()}) == min(len(ids), fleet.PRACTICES)
    assert sum(desk.store.count_by_status().values()) == 0
    for referral_id in ids:
        ledger = read_ledger(desks[referral_id].history(referral_id))
        statuses = Counter(entry.status for entry in ledger.entries.values())
        if statuses != Counter(sent=1):
            orphans.append((referral_id, dict(statuses)))
    assert orphans == [], f"{len(orphans)} referrals without exactly one sent action"
    attempts: dict[str, list[int]] = {}
    first_at: dict[str, object] = {}
    for key, pid, at in conn.execute("SELECT key, pid, at FROM fleet_sends ORDER BY at"):
        attempts.setdefault(key, []).append(pid)
        first_at.setdefault(key, at)
    assert len(attempts) == len(ids)
    # A key sent twice is a double claim, unless its first attempt died with a killed worker,
    # or had its outcome write cut off by the server (before *cut_at*), and was re-sent under
    # the same idempotency key (which the vendor dedupes): the documented crash model.
    double = [
        key
        for key, pids in attempts.items()
        if len(pids) > 1
        and pids[0] not in killed_pids
        and not (cut_at is not None and first_at[key] <= cut_at)  # type: ignore[operator]
    ]
    assert double == []
    resent = [pids for pids in attempts.values() if len(pids) > 1]
    assert all(len(pids) == 2 for pids in resent)


def _fleet_run(schema: str, *, processes: int, actions: int, timeout: float) -> None:
    epoch = time.time()
    desk, ids, conn = _prepare(schema, actions, epoch)
    dsn = _tagged(schema)
    workers = [
        fleet.start_worker(dsn, schema, name=f"w{i}", epoch=epoch, lease=LEASE, latency=0.02)
        for i in range(processes)
    ]
    try:
        # Kill one worker mid-batch: once it holds a lease (a referral half worked).
        victim = workers[0]
        held: list[str] = []
        deadline = time.monotonic() + timeout
        while not held and time.monotonic() < deadline:
            held = [
                str(r)
                for (r,) in conn.execute(
                    "SELECT referral_id FROM referralkit_leases WHERE worker = 'w0'"
                ).fetchall()
            ]
        assert held, "the victim never claimed work"
        victim.send_signal(signal.SIGKILL)
        killed_at = time.time()
        victim.wait(timeout=30)
        assert _wait_until_sent(conn, actions, timeout) == actions
        codes = _stop(workers[1:])
        assert codes == [0] * (processes - 1), "SIGTERM ends workers cleanly"
        # Graceful shutdown finished or released its work: no live worker still holds a lease.
        leftover = conn.execute(
            "SELECT COUNT(*) FROM referralkit_leases WHERE worker <> 'w0'"
        ).fetchone()[0]
        assert leftover == 0
        _assert_each_action_sent_once(desk, ids, conn, {victim.pid})
        # The victim's referrals were re-claimed within two lease periods of the kill: the
        # first change after it (queueing the action, or claiming the interrupted one) is the
        # new holder's.
        kill_sim = fleet.sim_time(epoch, killed_at)
        desks = _tenant_desks(desk, ids)
        for referral_id in held:
            events = desks[uuid.UUID(referral_id)].history(uuid.UUID(referral_id))
            reclaimed = min(e.at for e in events if e.at > kill_sim)
            assert reclaimed - kill_sim <= timedelta(seconds=2 * LEASE), referral_id
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        conn.close()
        desk.close()


def test_a_fleet_dispatches_each_due_action_once_with_a_worker_killed_mid_batch(schema):
    _fleet_run(schema, processes=3, actions=240, timeout=180)


@pytest.mark.scale
@pytest.mark.skipif(
    os.environ.get("REFERRALKIT_SCALE") != "full", reason="full size: set REFERRALKIT_SCALE=full"
)
def test_eight_workers_dispatch_five_thousand_actions_once_with_one_killed(schema):
    _fleet_run(schema, processes=8, actions=5000, timeout=1800)


def test_workers_reconnect_and_continue_after_a_server_restart_mid_sweep(schema):
    epoch = time.time()
    actions = 200
    desk, ids, conn = _prepare(schema, actions, epoch)
    dsn = _tagged(schema)
    workers = [
        fleet.start_worker(dsn, schema, name=f"w{i}", epoch=epoch, lease=LEASE, latency=0.02)
        for i in range(2)
    ]
    try:
        assert _wait_until_sent(conn, 40, 120) > 0
        # What a restart looks like to a client: the server ends every session of the fleet.
        terminated = conn.execute(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s",
            (f"fleet_{schema}",),
        ).fetchone()[0]
        assert terminated >= 2
        cut_at = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        assert _wait_until_sent(conn, actions, 180) == actions
        # A send whose outcome write was cut off is resumed under its key once its lease ends:
        # wait for every ledger to settle, not only for every key to have been sent.
        _wait_until_settled(desk, ids, 180)
        assert all(worker.poll() is None for worker in workers), "workers kept running"
        assert _stop(workers) == [0, 0]
        _assert_each_action_sent_once(desk, ids, conn, killed_pids=set(), cut_at=cut_at)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        conn.close()
        desk.close()


def test_sixteen_writers_racing_on_one_referral_lose_no_update(schema):
    from referralkit.adapters.postgres import PostgresStore

    base = fleet.fleet_desk(DSN, schema, epoch=time.time(), lease=LEASE, latency=0, worker="s")
    (referral_id,) = fleet.seed(base, 1)
    seeder = base.for_tenant(fleet.tenant_of(0))
    start_version = seeder.get(referral_id).version
    writers, per_writer = 16, 5
    barrier = threading.Barrier(writers)
    committed = Counter[int]()
    unexpected: list[BaseException] = []
    conflicts = Counter[int]()

    def write(n: int) -> None:
        store = PostgresStore(DSN, schema=schema, tenant=fleet.tenant_of(0))
        desk = ReferralDesk(store=store, clock=seeder.clock)
        try:
            barrier.wait()
            while committed[n] < per_writer:
                current = desk.get(referral_id)
                held = current.status is ReferralStatus.ON_HOLD
                try:
                    desk.fire(
                        referral_id,
                        "resume" if held else "hold",
                        actor=fleet.CLINICIAN,
                        data=None if held else {"reason": "travel"},
                        expected_version=current.version,
                    )
                except ConflictError:
                    conflicts[n] += 1
                    continue
                committed[n] += 1
        except BaseException as exc:  # noqa: BLE001 - any failure but a conflict fails the test
            unexpected.append(exc)
        finally:
            desk.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unexpected == []
    assert sum(committed.values()) == writers * per_writer
    final = seeder.get(referral_id)
    assert final.version == start_version + writers * per_writer, "no update was lost"
    assert len(seeder.history(referral_id)) == final.version
    seeder.verify(referral_id)
    seeder.close()


def _engine(schema: str, desk: ReferralDesk, tenant_desk=None, **settings):
    import psycopg

    from referralkit.worker import WorkerSettings, apply_job_schema, build_app

    configured = WorkerSettings(DSN, schema=schema, **settings)
    apply_job_schema(configured)
    with psycopg.connect(configured.job_conninfo(), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS fleet_sends (key text NOT NULL, pid int NOT NULL,"
            " at timestamptz)"
        )
    return build_app(lambda: desk, configured, tenant_desk=tenant_desk)


def _waiting(app) -> set[tuple[str, str]]:
    from referralkit.worker import engine

    jobs = app.job_manager.list_jobs(task=engine.DISPATCH_TASK, status="todo")
    return {(job.task_kwargs["referral_id"], job.task_kwargs["tenant"]) for job in jobs}


def test_a_schedule_tick_enqueues_the_due_work_of_every_tenant(schema):
    from referralkit.worker import engine

    desk = fleet.fleet_desk(DSN, schema, epoch=time.time(), lease=LEASE, latency=0, worker="t")
    ids = fleet.seed(desk, 2 * fleet.PRACTICES)
    expected = {(str(r), fleet.tenant_of(i)) for i, r in enumerate(ids)}
    # The base desk's own tenant has nothing: every job comes from another tenant's store.
    assert sum(desk.store.count_by_status().values()) == 0
    try:
        only = fleet.tenant_of(3)
        restricted = _engine(schema, desk, tenants=[only])
        with restricted.open():
            restricted.tasks[engine.SCHEDULE_TASK](timestamp=0)
            assert _waiting(restricted) == {job for job in expected if job[1] == only}
        app = _engine(schema, desk)
        with app.open():
            app.tasks[engine.SCHEDULE_TASK](timestamp=0)
            assert _waiting(app) == expected
    finally:
        desk.close()


def test_a_tenants_dispatch_job_never_touches_another_tenants_referral(schema):
    from referralkit.worker import engine

    desk = fleet.fleet_desk(DSN, schema, epoch=time.time(), lease=LEASE, latency=0, worker="t")
    mine, theirs = fleet.seed(desk, 2)
    other = desk.for_tenant(fleet.tenant_of(1))
    before = other.history(theirs)
    try:
        app = _engine(schema, desk)
        with app.open():
            dispatch = app.tasks[engine.DISPATCH_TASK]
            # A job naming tenant 0 with tenant 1's referral (a forged or corrupted payload).
            dispatch(referral_id=str(theirs), tenant=fleet.tenant_of(0))
            assert other.history(theirs) == before, "tenant 0's desk changed tenant 1's referral"
            assert other.store.backlog(other.clock.now()).leases_live == 0, "nor leased it"
            dispatch(referral_id=str(theirs), tenant=fleet.tenant_of(1))
            ledger = read_ledger(other.history(theirs))
            assert Counter(e.status for e in ledger.entries.values()) == Counter(sent=1)
            assert desk.for_tenant(fleet.tenant_of(0)).get(mine).version == 3, "untouched"
    finally:
        fleet.close_desk(desk)


def test_a_tenant_whose_desk_fails_leaves_the_other_tenants_scheduled(schema):
    from referralkit.worker import engine

    desk = fleet.fleet_desk(DSN, schema, epoch=time.time(), lease=LEASE, latency=0, worker="t")
    ids = fleet.seed(desk, fleet.PRACTICES)
    broken = fleet.tenant_of(0)

    def tenant_desk(tenant: str) -> ReferralDesk:
        if tenant == broken:
            raise RuntimeError("this practice's configuration does not load")
        return desk.for_tenant(tenant)

    try:
        app = _engine(schema, desk, tenant_desk)
        with app.open():
            with pytest.raises(RuntimeError):
                app.tasks[engine.SCHEDULE_TASK](timestamp=0)  # the tick still fails, visibly
            expected = {(str(r), fleet.tenant_of(i)) for i, r in enumerate(ids)}
            assert _waiting(app) == {job for job in expected if job[1] != broken}
    finally:
        desk.close()
