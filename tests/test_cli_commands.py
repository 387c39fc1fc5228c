"""The command line end to end on a SQLite file: exit codes, JSON schema, no PHI by default."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from referralkit.adapters.sqlite import SCHEMA_VERSION, SQLiteStore
from referralkit.cli import EXIT_CODES, main
from referralkit.metrics import REPORT_JSON_SCHEMA
from tests.support.metrics_world import MARCH, Log, funnel

PATIENT_PHI = ("Test", "1970-01-01", "+15555550123")  # tests.conftest.complete_referral


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "referrals.db"
    log = Log(SQLiteStore(path))
    funnel(log)
    log.create("x", MARCH + timedelta(days=6))
    log.desk.close()
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def store_args(database: Path) -> list[str]:
    return ["--store", f"sqlite:///{database}"]


def test_report_json_matches_its_schema(database: Path, capsys) -> None:
    status, out, _ = cli(capsys, *store_args(database), "report", "--since", "2026-01-01",
                         "--until", "2027-01-01", "--by", "specialty", "--by", "practice",
                         "--json")  # fmt: skip
    assert status == 0
    payload = json.loads(out)
    jsonschema.validate(payload, REPORT_JSON_SCHEMA)
    assert payload["overall"]["received"] == 4
    assert payload["overall"]["booked"] == 2
    # A calendar year is a CMS50 period. All four referrals are the same test patient: only
    # the first (referral a, whose report came back) counts.
    assert payload["cms50"]["denominator"] == 1
    assert payload["cms50"]["numerator"] == 1
    for phi in PATIENT_PHI:
        assert phi not in out


def test_report_text_and_html(database: Path, tmp_path: Path, capsys) -> None:
    html = tmp_path / "report.html"
    status, out, _ = cli(capsys, *store_args(database), "report", "--since", "2026-03-01",
                         "--until", "2026-04-01", "--html", str(html))  # fmt: skip
    assert status == 0
    assert "received" in out
    assert f"HTML report written to {html}" in out
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page


def test_report_rejects_a_window_that_ends_before_it_starts(database: Path, capsys) -> None:
    status, _, err = cli(capsys, *store_args(database), "report", "--since", "2026-04-01",
                         "--until", "2026-03-01")  # fmt: skip
    assert status == 2
    assert "must be after --since" in err


def test_list_masks_patients_unless_asked(database: Path, capsys) -> None:
    status, out, _ = cli(capsys, *store_args(database), "list", "--json")
    assert status == 0
    rows = json.loads(out)
    assert len(rows) == 4
    assert "patient" not in rows[0]
    assert "Test Patient" not in out
    _, shown, _ = cli(capsys, *store_args(database), "--show-phi", "list", "--json")
    assert "Test Patient, born 1970-01-01" in shown


def test_list_filters_by_status(database: Path, capsys) -> None:
    status, out, _ = cli(capsys, *store_args(database), "list", "--status", "declined", "--json")
    assert status == 0
    assert [r["status"] for r in json.loads(out)] == ["declined"]
    status, _, err = cli(capsys, *store_args(database), "list", "--status", "nope")
    assert status == 2
    assert "known statuses" in err


def test_status_shows_the_timeline(database: Path, capsys) -> None:
    _, listed, _ = cli(capsys, *store_args(database), "list", "--status", "closed", "--json")
    referral_id = json.loads(listed)[0]["id"]
    status, out, _ = cli(capsys, *store_args(database), "status", referral_id)
    assert status == 0
    assert "Loop closed: consult report sent to the referrer" in out
    assert "patient:    [withheld]" in out
    status, out, _ = cli(capsys, *store_args(database), "status", referral_id, "--json")
    assert json.loads(out)["status"] == "closed"


def test_status_of_an_unknown_referral_exits_4(database: Path, capsys) -> None:
    status, _, err = cli(capsys, *store_args(database), "status", "REF-NOPE")
    assert status == 4
    assert "referralkit list" in err


def test_verify_passes_then_finds_tampering(tmp_path: Path, database: Path, capsys) -> None:
    copy = tmp_path / "copy.db"
    copy.write_bytes(database.read_bytes())
    status, out, _ = cli(capsys, *store_args(copy), "verify", "--json")
    assert status == 0
    assert json.loads(out) == {"checked": 4, "failures": []}
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE events SET body = replace(body, 'no_capacity', 'no_reason')")
    status, out, _ = cli(capsys, *store_args(copy), "verify", "--json")
    assert status == 5
    (failure,) = json.loads(out)["failures"]
    assert "edited" in failure["reason"]


def test_migrate_reports_the_schema_version(database: Path, capsys) -> None:
    status, out, _ = cli(capsys, *store_args(database), "migrate")
    assert status == 0
    assert f"schema version {SCHEMA_VERSION} (up to date)" in out


def test_sweep_dry_run_and_sweep_with_outreach_from_the_config(tmp_path: Path, capsys) -> None:
    path = tmp_path / "sweep.db"
    log = Log(SQLiteStore(path))
    log.create("ready", MARCH)
    log.ready("ready", MARCH)
    log.desk.close()
    config = tmp_path / "referralkit.toml"
    config.write_text('[store]\nurl = "sqlite:///sweep.db"\n\n[outreach]\nenabled = true\n')
    status, out, _ = cli(capsys, "--config", str(config), "sweep", "--at", "2026-03-02T15:00Z",
                         "--dry-run")  # fmt: skip
    assert status == 0
    assert "nothing sent" in out
    # outreach was off when the referral was readied, so nothing is due yet
    status, out, _ = cli(capsys, "--config", str(config), "sweep", "--at", "2026-03-02T15:00Z",
                         "--no-routing")  # fmt: skip
    assert status == 0
    assert "claimed" in out


def test_a_bad_config_exits_3_naming_the_key(tmp_path: Path, capsys) -> None:
    config = tmp_path / "referralkit.toml"
    config.write_text("[store]\nurll = 'x'\n")
    status, _, err = cli(capsys, "--config", str(config), "list")
    assert status == 3
    assert "referralkit.toml: urll: unknown key" in err
    status, _, err = cli(capsys, "--config", str(tmp_path / "missing.toml"), "list")
    assert status == 3


def test_exit_codes_are_documented() -> None:
    doc = Path(__file__).parents[1].joinpath("docs", "cli.md").read_text(encoding="utf-8")
    for code in EXIT_CODES:
        assert f"| {code} |" in doc


def test_console_script_runs_report_end_to_end(database: Path, tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - our interpreter and module
        [sys.executable, "-m", "referralkit", *store_args(database), "report", "--since",
         "2026-03-01", "--until", "2026-04-01", "--json"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    jsonschema.validate(json.loads(result.stdout), REPORT_JSON_SCHEMA)


def test_importing_the_cli_stays_light() -> None:
    # Commands import what they need: `referralkit --help` must not pay for the library.
    heavy = "('referralkit.', 'rich', 'pydantic')"
    loaded = f"sorted(m for m in sys.modules if m.startswith({heavy}))"
    code = f"import sys, referralkit.cli; print({loaded})"
    result = subprocess.run(  # noqa: S603 - our interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "['referralkit.cli']"


def test_tasks_and_queues_show_open_work(tmp_path: Path, capsys) -> None:
    from referralkit import Actor, ActorKind, ReferralDesk, ReferralStatus, Role
    from referralkit.testing.conformance import canary_referral

    path = tmp_path / "work.db"
    with ReferralDesk(store=SQLiteStore(path)) as desk:
        desk.auto_route = True
        system = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
        fresh = canary_referral().model_copy(update={"status": ReferralStatus.RECEIVED})
        created = desk.create(fresh, actor=system)
        assert created.tasks, "routing opens a review task for a new referral"
        queue = created.tasks[0].queue
        staff = Actor(kind=ActorKind.HUMAN, id="nurse-1", role=Role.CLINICIAN)
        desk.claim_task(created.id, created.tasks[0].id, actor=staff)
    status, out, _ = cli(capsys, "--store", f"sqlite:///{path}", "tasks", "--json")
    assert status == 0
    (row,) = json.loads(out)
    assert (row["queue"], row["status"], row["assignee"]) == (queue, "claimed", "nurse-1")
    _, mine, _ = cli(capsys, "--store", f"sqlite:///{path}", "tasks", "--assignee", "x", "--json")
    assert json.loads(mine) == []
    status, out, _ = cli(capsys, "--store", f"sqlite:///{path}", "queues", "--json")
    assert status == 0
    assert [(q["queue"], q["open"]) for q in json.loads(out)] == [(queue, 1)]


def test_tenant_option_reads_only_that_practice(database: Path, capsys) -> None:
    status, out, _ = cli(capsys, *store_args(database), "--tenant", "practice-b", "list", "--json")
    assert (status, json.loads(out)) == (0, [])
    window = ["--since", "2026-01-01", "--until", "2027-01-01", "--json"]
    status, report, _ = cli(
        capsys, *store_args(database), "--tenant", "practice-b", "report", *window
    )
    assert status == 0
    assert json.loads(report)["overall"]["received"] == 0
    status, out, _ = cli(capsys, *store_args(database), "--tenant", "default", "list", "--json")
    assert len(json.loads(out)) == 4
    status, _, err = cli(capsys, *store_args(database), "--tenant", "no spaces", "list")
    assert status == 2
    assert "--tenant" in err
