"""A fleet of worker processes on PostgreSQL, for the worker scale and restart tests.

Each worker is a real OS process (``python -m tests.support.worker_fleet ...``) running
:func:`referralkit.worker.run_worker` on its own desk, serving every tenant: the referrals are
spread over 20 tenants (one per referring practice), each created through its tenant's desk.
Its telephony fake waits a fixed latency and writes every attempt to the shared table
``fleet_sends`` before acknowledging, so the parent can count attempts per idempotency key
across processes, including those of a worker it killed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from referralkit import (
    Actor,
    ActorKind,
    Address,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
)
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.adapters.memory.telephony import InMemoryTelephony
from referralkit.outbox import RetryPolicy
from referralkit.outreach import default_policy
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import CallRequest, Receipt, SmsRequest

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
"""Simulated start: a Monday, inside the patients' calling hours."""
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr", role=Role.CLINICIAN)
PRACTICES = 20
ROOT = Path(__file__).resolve().parents[2]


@attrs.frozen
class SimClock:
    """Simulated time that runs with the wall clock from a shared epoch (same in every process)."""

    epoch: float

    def now(self) -> datetime:
        return T0 + timedelta(seconds=time.time() - self.epoch)


def sim_time(epoch: float, wall: float) -> datetime:
    return T0 + timedelta(seconds=wall - epoch)


def practice_of(index: int) -> Practice:
    """The referring practice of the *index*-th referral: 20 practices, round robin."""
    return Practice(name=f"Practice {index % PRACTICES:02d}", fax="+15555550100")


def tenant_of(index: int) -> str:
    """The tenant of the *index*-th referral: its referring practice's."""
    return f"practice-{index % PRACTICES:02d}"


def fleet_referral(index: int) -> Referral:
    return Referral(
        status=ReferralStatus.RECEIVED,
        patient=Patient(
            given_name="Pat",
            family_name=f"Fleet{index}",
            birth_date=datetime(1980, 1, 2).date(),
            phones=(PhoneContact(number="+15555550123"),),
            address=Address(line1="1 Main", city="Springfield", state="IL", postal_code="62701"),
        ),
        referring_practice=practice_of(index),
        receiving_practice=Practice(name="Lakeside Cardiology"),
        specialty="cardiology",
        reason=ReasonForReferral(text="x"),
    )


def seed(desk: ReferralDesk, count: int, start: int = 0) -> list[Any]:
    """Create *count* referrals ready to schedule: each has one outreach action due now.

    The *index*-th is created through the desk of :func:`tenant_of` *index*.
    """
    ids = []
    desks: dict[str, ReferralDesk] = {}
    for index in range(start, start + count):
        tenant = tenant_of(index)
        if tenant not in desks:
            desks[tenant] = desk.for_tenant(tenant)
        own = desks[tenant]
        referral = own.create(fleet_referral(index), actor=SYSTEM)
        own.fire(referral.id, "accept", actor=CLINICIAN)
        ids.append(own.fire(referral.id, "clear", actor=SYSTEM).id)
    return ids


@attrs.define
class LoggedTelephony(InMemoryTelephony):
    """The telephony fake, with a fixed latency and every attempt logged to ``fleet_sends``."""

    conninfo: str = ""
    latency: float = 0.0
    _log_lock: threading.Lock = attrs.field(factory=threading.Lock)
    _conn: Any = None

    def _logged(self, key: str) -> None:
        import psycopg

        time.sleep(self.latency)
        with self._log_lock:
            if self._conn is None:
                self._conn = psycopg.connect(self.conninfo, autocommit=True)
            self._conn.execute(
                "INSERT INTO fleet_sends (key, pid, at) VALUES (%s, %s, clock_timestamp())",
                (key, os.getpid()),
            )

    def close(self) -> None:
        """Close the log connection (a worker process's ends with the process)."""
        with self._log_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def place_call(self, request: CallRequest) -> Receipt:
        self._logged(request.idempotency_key)
        return super().place_call(request)

    def send_sms(self, request: SmsRequest) -> Receipt:
        self._logged(request.idempotency_key)
        return super().send_sms(request)


def fleet_desk(dsn: str, schema: str, *, epoch: float, lease: float, latency: float, worker: str):
    from psycopg.conninfo import make_conninfo

    from referralkit.adapters.postgres import PostgresStore
    from referralkit.worker import WorkerSettings

    clock = SimClock(epoch)
    settings = WorkerSettings(dsn, schema=schema)
    plugin = InMemoryPlugin.with_clock(clock)  # type: ignore[arg-type]
    # The vendor's log is not the worker's database: a simulated restart leaves it alone.
    vendor = make_conninfo(settings.job_conninfo(), application_name="fleet_vendor")
    plugin.telephony = LoggedTelephony(clock=clock, conninfo=vendor, latency=latency)
    return ReferralDesk(
        store=PostgresStore(dsn, schema=schema, pool_size=2),
        clock=clock,
        hooks=Hooks(make_plugin_manager([plugin], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(2),
        outreach=OutreachSettings(
            policy=attrs.evolve(default_policy(), in_flight_timeout=timedelta(seconds=lease)),
            lease=timedelta(seconds=lease),
            worker=worker,
        ),
    )


def close_desk(desk: ReferralDesk) -> None:
    """Close a :func:`fleet_desk`: its store and its telephony's log connection."""
    for _name, plugin in desk.hooks.pm.list_name_plugin():
        telephony = getattr(plugin, "telephony", None)
        if isinstance(telephony, LoggedTelephony):
            telephony.close()
    desk.close()


def log_path(schema: str, name: str) -> Path:
    """Where worker *name* of the fleet in *schema* writes its stderr."""
    return Path(tempfile.gettempdir()) / f"{schema}-{name}.log"


def start_worker(
    dsn: str,
    schema: str,
    *,
    name: str,
    epoch: float,
    lease: float,
    latency: float,
    concurrency: int = 2,
) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tests.support.worker_fleet", dsn, schema, name,
            str(epoch), str(lease), str(latency), str(concurrency)]  # fmt: skip
    with log_path(schema, name).open("wb") as log:
        # Our own interpreter and module, with arguments the test chose.
        return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)  # noqa: S603


def main() -> None:
    from referralkit.worker import WorkerSettings, run_worker

    parser = argparse.ArgumentParser()
    for name in ("dsn", "schema", "name", "epoch", "lease", "latency", "concurrency"):
        parser.add_argument(name)
    a = parser.parse_args()
    desk = fleet_desk(a.dsn, a.schema, epoch=float(a.epoch), lease=float(a.lease),
                      latency=float(a.latency), worker=a.name)  # fmt: skip
    settings = WorkerSettings(
        a.dsn,
        schema=a.schema,
        concurrency=int(a.concurrency),
        schedule_every=1,
        fetch_interval=0.5,
        shutdown_timeout=30,
        schedule_limit=400,
    )
    run_worker(lambda: desk, settings, name=a.name)
    desk.close()


if __name__ == "__main__":
    main()
