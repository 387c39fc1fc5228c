"""The worker, health and migrate --jobs commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from referralkit.cli import main
from tests.support.outreach_world import T0, outreach_desk, ready_referral
from tests.support.pg import DSN, drop_schema, server_or_skip


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _pg_url(schema: str) -> str:
    # The URL form of the test DSN, with the test's schema first on the search path.
    parts = conninfo_to_dict(DSN)
    host, port, db = parts.get("host", "127.0.0.1"), parts.get("port", "5432"), parts["dbname"]
    return f"postgresql://{host}:{port}/{db}?options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_schema():
    server_or_skip()
    name = f"rk_test_{uuid.uuid4().hex[:12]}"
    import psycopg

    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield name
    drop_schema(name)


def test_health_reports_due_work_and_lag_on_sqlite(tmp_path: Path, capsys) -> None:
    from referralkit import SQLiteStore

    desk, _, _ = outreach_desk()
    desk.store = SQLiteStore(tmp_path / "h.db")
    referral = ready_referral(desk)
    desk.close()
    later = "2026-03-02T14:30:00+00:00"
    status, out, _ = cli(capsys, "--store", f"sqlite:///{tmp_path / 'h.db'}", "health",
                         "--at", later, "--json")  # fmt: skip
    assert status == 0
    figures = json.loads(out)
    assert figures["due_referrals"] == 1
    assert figures["oldest_due"] == T0.isoformat()
    assert figures["lag_seconds"] == 1800.0
    assert figures["leases_live"] == figures["leases_expired"] == 0
    assert figures["queued_actions"] == 0
    # PHI-free: no patient detail, only counts and times.
    assert str(referral.id) not in out
    assert "Ada" not in out


def test_worker_needs_a_postgresql_store(tmp_path: Path, capsys) -> None:
    status, _, err = cli(capsys, "--store", f"sqlite:///{tmp_path / 'w.db'}", "worker")
    assert status == 2
    assert "needs a PostgreSQL store" in err


def test_worker_rejects_a_period_that_does_not_divide_a_minute(pg_schema, capsys) -> None:
    status, _, err = cli(capsys, "--store", _pg_url(pg_schema), "worker", "--schedule-every", "7")
    assert status == 2
    assert "must divide 60" in err


def test_migrate_jobs_creates_the_job_tables_once(pg_schema, capsys) -> None:
    url = _pg_url(pg_schema)
    status, out, _ = cli(capsys, "--store", url, "migrate", "--jobs")
    assert status == 0
    assert "job tables created" in out
    status, out, _ = cli(capsys, "--store", url, "migrate", "--jobs")
    assert "job tables present" in out
    status, out, _ = cli(capsys, "--store", url, "health", "--json")
    assert json.loads(out)["jobs"] == {}


def test_worker_command_runs_until_sigterm_and_exits_cleanly(pg_schema, tmp_path: Path) -> None:
    url = _pg_url(pg_schema)
    env = {**os.environ, "REFERRALKIT_STORE": url}
    command = [sys.executable, "-m", "referralkit", "worker", "--schedule-every", "1"]
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=log)  # noqa: S603
    try:
        # Started: it created the job tables and its periodic ticks run.
        import psycopg

        deadline = time.monotonic() + 60
        ticked = False
        with psycopg.connect(DSN, autocommit=True) as conn:
            while not ticked and time.monotonic() < deadline:
                time.sleep(0.5)
                if worker.poll() is not None:
                    break
                row = conn.execute(
                    f"SELECT to_regclass('{pg_schema}.procrastinate_periodic_defers')"
                ).fetchone()
                if row[0] is not None:
                    ticked = conn.execute(
                        f"SELECT COUNT(*) > 0 FROM {pg_schema}.procrastinate_periodic_defers"
                    ).fetchone()[0]
        assert ticked, (tmp_path / "worker.log").read_text()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_health_all_tenants_gives_each_tenant_and_the_total(tmp_path: Path, capsys) -> None:
    from referralkit import SQLiteStore

    desk, _, _ = outreach_desk()
    desk.store = SQLiteStore(tmp_path / "t.db", tenant="north")
    ready_referral(desk)
    ready_referral(desk)
    south = desk.for_tenant("south")
    ready_referral(south)
    desk.close()
    later = "2026-03-02T14:30:00+00:00"
    status, out, _ = cli(capsys, "--store", f"sqlite:///{tmp_path / 't.db'}", "health",
                         "--at", later, "--json", "--all-tenants")  # fmt: skip
    assert status == 0
    figures = json.loads(out)
    assert figures["due_referrals"] == 3
    assert {t: f["due_referrals"] for t, f in figures["tenants"].items()} == {
        "north": 2,
        "south": 1,
    }
    # Without --all-tenants the command reads its own tenant only (here: the default one).
    status, out, _ = cli(capsys, "--store", f"sqlite:///{tmp_path / 't.db'}", "health",
                         "--at", later, "--json")  # fmt: skip
    assert json.loads(out)["due_referrals"] == 0


def test_worker_refuses_an_unusable_tenant_to_serve(pg_schema, capsys) -> None:
    status, _, err = cli(capsys, "--store", _pg_url(pg_schema), "worker", "--serve-tenant", "a b")
    assert status == 2
    assert "tenant id" in err
