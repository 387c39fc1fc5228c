"""Workers on procrastinate, a PostgreSQL job queue beside the store (``referralkit[worker]``).

procrastinate keeps its jobs in PostgreSQL tables, wakes workers with ``LISTEN/NOTIFY``,
defers periodic jobs once per tick however many workers run, retries failed jobs and shuts
down gracefully. :func:`build_app` registers three tasks over the units of work in
:mod:`referralkit.worker.units`:

- ``referralkit.schedule`` (every *schedule_every* seconds): for each tenant, enqueue a
  ``referralkit.dispatch`` job per due referral, under the queueing lock
  ``referralkit.dispatch:<id>`` (at most one job waits per referral). It is also the
  reconciler: a job lost with a killed worker is enqueued again on the next tick.
- ``referralkit.dispatch`` (one referral of one tenant): lease it, run its due actions,
  release it, on that tenant's desk.
- ``referralkit.routing`` (every *routing_every* seconds): the routing and task sweeps, for
  each tenant.

One fleet serves every tenant in the database: the ticks list the tenants
(:meth:`~referralkit.store.TenantStore.admin_list_tenants`, or :attr:`WorkerSettings.tenants`)
and work each one through its own desk, bound to that tenant's store; a dispatch job carries
its tenant, so it runs on that tenant's desk and cannot reach another's referral.

Why not enqueue in the transaction that records ``action_queued``? procrastinate can defer
through an existing psycopg connection, but the store commits through its own; and the due
index already is a durable queue, so nothing is lost between two ticks. Shutdown: SIGTERM
(or SIGINT) stops fetching new jobs and lets running ones finish for *shutdown_timeout*
seconds; SIGKILL leaves the job ``doing`` and its lease held until it expires, after which
the next tick's job re-claims the referral and resumes any interrupted send under its
original idempotency key.

.. versionadded:: 0.4
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, Final, Protocol
from uuid import UUID

import attrs

from referralkit.clock import Clock
from referralkit.errors import StoreError
from referralkit.store import Store, TenantStore
from referralkit.tenancy import check_tenant
from referralkit.worker.units import run_dispatch, run_routing, schedule_due

try:
    import procrastinate
    from procrastinate import exceptions as job_errors
    from procrastinate.schema import SchemaManager
    from psycopg.conninfo import make_conninfo
except ImportError as exc:  # pragma: no cover - exercised only without the extra installed
    raise ImportError(
        "referralkit.worker needs procrastinate: pip install 'referralkit[worker]'"
    ) from exc

__all__ = [
    "DISPATCH_TASK",
    "ROUTING_TASK",
    "SCHEDULE_TASK",
    "Desk",
    "WorkerSettings",
    "apply_job_schema",
    "build_app",
    "job_counts",
    "run_worker",
]

_log = logging.getLogger("referralkit.worker")

DISPATCH_TASK: Final = "referralkit.dispatch"
"""The task that runs one referral's due outreach."""
SCHEDULE_TASK: Final = "referralkit.schedule"
"""The periodic task that enqueues a dispatch job per due referral (and reconciles)."""
ROUTING_TASK: Final = "referralkit.routing"
"""The periodic task that runs the routing and task sweeps."""
_TICK: Final = 10  # job priorities: procrastinate runs higher first
_URGENT: Final = 5
_RESTART_PAUSE: Final = 1.0  # seconds before fetching again after losing the job queue


class Desk(Protocol):
    """What the worker drives (:class:`~referralkit.desk.ReferralDesk` satisfies it)."""

    @property
    def store(self) -> Store:
        """The store (a :class:`~referralkit.store.WorkerStore`)."""
        ...

    @property
    def clock(self) -> Clock:
        """The desk's clock."""
        ...

    def dispatch_referral(self, referral_id: UUID, now: datetime | None = ...) -> Any:
        """Lease one referral and run its due outreach."""
        ...

    def sweep_routing(self, now: datetime | None = ...) -> object:
        """Route the referrals due for routing."""
        ...

    def sweep_tasks(self, now: datetime | None = ...) -> object:
        """Wake snoozed tasks and escalate overdue ones."""
        ...


def _seconds(value: int) -> int:
    if not 1 <= value <= 59 or 60 % value:
        raise ValueError("a period in seconds must divide 60 (1, 2, 3, 4, 5, 6, 10, 15, 20, 30)")
    return value


def _tenant_ids(tenants: Iterable[str]) -> tuple[str, ...]:
    return tuple(check_tenant(tenant) for tenant in tenants)


@attrs.frozen
class WorkerSettings:
    """How a worker process connects and paces itself.

    :ivar conninfo: the libpq connection string or URL of the database the store uses.
    :ivar schema: the PostgreSQL schema of the store's tables; the job tables live there too.
    :ivar concurrency: jobs one process runs at once (threads; each adapter call waits on I/O).
    :ivar schedule_every: seconds between schedule ticks (divides 60).
    :ivar routing_every: seconds between routing sweeps (divides 60).
    :ivar queue: the procrastinate queue the tasks use.
    :ivar shutdown_timeout: seconds SIGTERM waits for running jobs before cancelling them.
    :ivar fetch_interval: seconds between polls when ``LISTEN/NOTIFY`` brings nothing.
    :ivar max_attempts: tries of a dispatch job that failed on the database (``StoreError``).
    :ivar schedule_limit: due referrals one tick looks at per tenant (oldest first): at most
        this many of a tenant's dispatch jobs wait at once, so a referral whose worker died is
        never stuck behind a long queue. Keep it above what the fleet dispatches in one tick.
    :ivar tenants: serve only these tenants; ``None`` (the default) serves every tenant the
        store lists (:meth:`~referralkit.store.TenantStore.admin_list_tenants`).

    .. versionadded:: 0.4
    """

    conninfo: str
    schema: str | None = None
    concurrency: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    schedule_every: int = attrs.field(default=10, converter=_seconds)
    routing_every: int = attrs.field(default=30, converter=_seconds)
    queue: str = "referralkit"
    shutdown_timeout: float = 60.0
    fetch_interval: float = 5.0
    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    schedule_limit: int = attrs.field(default=2000, validator=attrs.validators.ge(1))
    tenants: tuple[str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(_tenant_ids)
    )

    def job_conninfo(self) -> str:
        """Return the connection string for the job tables (the store's schema first)."""
        if self.schema is None:
            return self.conninfo
        return make_conninfo(self.conninfo, options=f"-c search_path={self.schema}")


@attrs.define
class _Desks:
    # One base desk and one desk per tenant per worker process, each opened by the first job
    # that needs it and shared by the job threads (the store serialises its connection use).
    factory: Callable[[], Desk]
    tenant_desk: Callable[[str], Desk] | None
    tenants: tuple[str, ...] | None
    _base: Desk | None = None
    _by_tenant: dict[str, Desk] = attrs.field(factory=dict)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def base(self) -> Desk:
        with self._lock:
            return self._base_locked()

    def _base_locked(self) -> Desk:
        if self._base is None:
            self._base = self.factory()
        return self._base

    def served(self) -> list[str | None]:
        """Return the tenants the ticks work through (``None``: a store without tenants)."""
        if self.tenants is not None:
            return list(self.tenants)
        store = self.base().store
        if isinstance(store, TenantStore):
            return list(store.admin_list_tenants())
        return [None]

    def get(self, tenant: str | None) -> Desk:
        with self._lock:
            base = self._base_locked()
            if tenant is None:
                return base  # a job enqueued before jobs carried tenants, or no tenants
            desk = self._by_tenant.get(tenant)
            if desk is None:
                desk = self._open(base, tenant)
                self._by_tenant[tenant] = desk
            return desk

    def _open(self, base: Desk, tenant: str) -> Desk:
        if self.tenant_desk is not None:
            desk = self.tenant_desk(tenant)
        else:
            store = base.store
            if isinstance(store, TenantStore) and store.tenant == tenant:
                return base
            for_tenant = getattr(base, "for_tenant", None)
            if for_tenant is None:
                raise TypeError(
                    f"{type(base).__name__} has no for_tenant(): pass tenant_desk to serve"
                    " tenants other than its store's"
                )
            desk = for_tenant(tenant)
        bound = desk.store
        # A misbound desk would run one tenant's job against another's rows: refuse it.
        if not isinstance(bound, TenantStore) or bound.tenant != tenant:
            raise ValueError("tenant_desk returned a desk whose store is bound to another tenant")
        return desk


def build_app(
    desk: Callable[[], Desk],
    settings: WorkerSettings,
    *,
    tenant_desk: Callable[[str], Desk] | None = None,
) -> procrastinate.App:
    """Return a procrastinate app with referralkit's three tasks registered.

    :param desk: opens the base desk (called once per worker process, lazily); its store
        lists the tenants the fleet serves.
    :param tenant_desk: opens the desk of one tenant (called once per tenant per worker
        process, lazily), for hosts whose practices have their own rules, outreach policy or
        calendars; its store must be bound to that tenant. ``None``: the base desk's
        configuration on the tenant's store (:meth:`~referralkit.desk.ReferralDesk.for_tenant`).

    .. versionchanged:: 0.4 takes *tenant_desk*; one app serves every tenant.
    """
    connector = procrastinate.PsycopgConnector(
        conninfo=settings.job_conninfo(), min_size=1, max_size=settings.concurrency + 2
    )
    app = procrastinate.App(connector=connector)
    desks = _Desks(desk, tenant_desk, settings.tenants)

    @app.task(
        name=DISPATCH_TASK,
        queue=settings.queue,
        retry=procrastinate.RetryStrategy(
            max_attempts=settings.max_attempts, wait=1, retry_exceptions={StoreError}
        ),
    )
    def dispatch(referral_id: str, tenant: str | None = None) -> None:
        run_dispatch(desks.get(tenant), UUID(referral_id))

    def replace_with_urgent(referral_id: UUID, tenant: str | None) -> bool:
        lock = f"{DISPATCH_TASK}:{referral_id}"
        deferrer = dispatch.configure(queueing_lock=lock, priority=_URGENT)
        # A dead worker's referral whose job already waits at the back of the queue (enqueued
        # while the lease still held): that job is replaced by an urgent one.
        waiting = app.job_manager.list_jobs(queueing_lock=lock, status="todo")
        if waiting and all(job.priority >= _URGENT for job in waiting):
            return False  # already urgent
        for job in waiting:
            if job.id is not None:
                app.job_manager.cancel_job_by_id(job.id, delete_job=True)
        try:
            deferrer.defer(referral_id=str(referral_id), tenant=tenant)
        except job_errors.AlreadyEnqueued:
            return False
        return True

    def tick() -> None:
        # One query for the jobs already waiting and one insert for the new ones: a tick
        # costs two round trips plus one due read per tenant, not one per due referral.
        waiting = {
            job.queueing_lock
            for job in app.job_manager.list_jobs(task=DISPATCH_TASK, status="todo")
        }
        fresh: list[Any] = []

        def enqueuer(tenant: str | None) -> Callable[[UUID, bool], bool]:
            def enqueue(referral_id: UUID, urgent: bool) -> bool:
                if urgent:
                    return replace_with_urgent(referral_id, tenant)
                # Referral ids are unique across tenants: the lock needs no tenant in it.
                lock = f"{DISPATCH_TASK}:{referral_id}"
                if lock in waiting:
                    return False
                deferrer = dispatch.configure(queueing_lock=lock)
                fresh.append(deferrer.make_new_job(referral_id=str(referral_id), tenant=tenant))
                return True

            return enqueue

        def schedule_tenant(tenant: str | None, tenant_desk: Desk) -> None:
            schedule_due(
                tenant_desk.store,
                tenant_desk.clock.now(),
                enqueuer(tenant),
                limit=settings.schedule_limit,
            )

        failure = _each_tenant(desks, schedule_tenant, SCHEDULE_TASK)
        if fresh:
            try:
                app.job_manager.batch_defer_jobs(jobs=fresh)
            except job_errors.AlreadyEnqueued:
                # Raced by a job enqueued since the query: defer one by one, skipping it.
                for job in fresh:
                    with suppress(job_errors.AlreadyEnqueued):
                        app.job_manager.defer_job(job=job)
        if failure is not None:
            raise failure

    # The ticks outrank dispatch jobs: behind a long queue they would come too late to hand
    # a dead worker's referrals on.
    @app.periodic(
        cron=f"* * * * * */{settings.schedule_every}", periodic_id="schedule", priority=_TICK
    )
    @app.task(name=SCHEDULE_TASK, queue=settings.queue, queueing_lock=SCHEDULE_TASK)
    def schedule(timestamp: int) -> None:
        with _alone(settings, SCHEDULE_TASK) as alone:
            if alone:
                tick()

    @app.periodic(
        cron=f"* * * * * */{settings.routing_every}", periodic_id="routing", priority=_TICK
    )
    @app.task(name=ROUTING_TASK, queue=settings.queue, queueing_lock=ROUTING_TASK)
    def routing(timestamp: int) -> None:
        with _alone(settings, ROUTING_TASK) as alone:
            if alone:
                failure = _each_tenant(desks, lambda _t, d: run_routing(d), ROUTING_TASK)
                if failure is not None:
                    raise failure

    return app


def _each_tenant(
    desks: _Desks, work: Callable[[str | None, Desk], object], tick: str
) -> Exception | None:
    # One tenant's failure (its desk will not open, its store errs) must not leave every
    # later tenant's work undone: the others run, and the caller raises the first failure
    # afterwards, so the engine still records the tick as failed.
    failure: Exception | None = None
    for tenant in desks.served():
        try:
            work(tenant, desks.get(tenant))
        except Exception as exc:  # noqa: BLE001 - reported once the other tenants ran
            # The tenant id and the error's type only: the message could name a detail.
            _log.warning(
                "%s failed for tenant %s: %s",
                tick,
                tenant,
                type(exc).__name__,
                extra={"referralkit": {"operation": "worker_tick_failed", "tenant": tenant}},
            )
            failure = failure or exc
    return failure


@contextmanager
def _alone(settings: WorkerSettings, name: str) -> Iterator[bool]:
    # One tick of a kind at a time across the fleet: a slow tick must not pile up behind
    # itself and take every worker's slots. A session advisory lock, not procrastinate's job
    # lock: it dies with a killed worker's connection instead of blocking every later tick.
    import psycopg

    # Advisory locks are database-wide: the key names the schema and queue, so deployments
    # in other schemas of the same database never skip each other's ticks.
    key = f"{settings.schema or ''}:{settings.queue}:{name}"
    with psycopg.connect(settings.job_conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
        alone = bool(row and row[0])
        try:
            yield alone
        finally:
            if alone:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


def run_worker(
    desk: Callable[[], Desk],
    settings: WorkerSettings,
    *,
    name: str | None = None,
    tenant_desk: Callable[[str], Desk] | None = None,
) -> None:
    """Run a worker until SIGTERM or SIGINT (a second one cancels running jobs).

    Applies the job tables first if they are missing (:func:`apply_job_schema`). The worker
    serves every tenant (see :func:`build_app` for *desk* and *tenant_desk*).

    .. versionchanged:: 0.4 takes *tenant_desk*.
    """
    apply_job_schema(settings)
    app = build_app(desk, settings, tenant_desk=tenant_desk)
    _log.info(
        "worker starting: concurrency %s, schedule every %s s",
        settings.concurrency,
        settings.schedule_every,
    )
    while True:
        try:
            # run_worker opens the app's async pool and closes it when the worker stops.
            app.run_worker(
                queues=[settings.queue],
                name=name,
                concurrency=settings.concurrency,
                shutdown_graceful_timeout=settings.shutdown_timeout,
                fetch_job_polling_interval=settings.fetch_interval,
                delete_jobs="successful",
            )
        except job_errors.ConnectorException as exc:
            # The server ended the job queue's connections (a restart): the jobs in flight
            # keep their leases, so nothing is lost; start fetching again on new connections.
            _log.warning(
                "worker lost its job-queue connection (%s); restarting", type(exc).__name__
            )
            time.sleep(_RESTART_PAUSE)
            continue
        break
    _log.info("worker stopped")


def apply_job_schema(settings: WorkerSettings) -> bool:
    """Create procrastinate's tables in the store's schema unless they exist.

    Two processes starting at once cannot both apply it: the check and the creation run under
    a PostgreSQL advisory lock.

    :returns: whether the tables were created.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(settings.conninfo, autocommit=True) as conn:
        if settings.schema is not None:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.schema))
            )
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.schema)))
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('referralkit_job_schema'))")
            row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
            if row is not None and row[0]:
                return False
            schema_sql = SchemaManager.get_schema()
            conn.execute(schema_sql.encode())
    _log.info("job tables created")
    return True


def job_counts(settings: WorkerSettings) -> Mapping[str, int]:
    """Return the worker queue's jobs by status (for :func:`~referralkit.worker.health`)."""
    import psycopg

    with psycopg.connect(settings.job_conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if row is None or not row[0]:
            return {}
        rows = conn.execute(
            "SELECT status::text, COUNT(*) FROM procrastinate_jobs WHERE queue_name = %s"
            " GROUP BY status ORDER BY status",
            (settings.queue,),
        ).fetchall()
    return {str(status): int(n) for status, n in rows}
