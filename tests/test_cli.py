"""The ``referralkit`` command: the demo runs end to end and prints no PHI."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

import referralkit.demo
from referralkit import ReferralStatus, SQLiteStore

EXPECTED_FINAL = {
    "REF-1001": ReferralStatus.CLOSED,
    "REF-1002": ReferralStatus.DECLINED,
    "REF-1003": ReferralStatus.CLOSED,
    "REF-1004": ReferralStatus.LOST,
}

# The demo's synthetic patients, read from its source so the check follows the demo.
_PATIENT_CALL = re.compile(
    r'patient_of\(\s*"([^"]+)",\s*"([^"]+)",\s*date\((\d+),\s*(\d+),\s*(\d+)\),\s*"([^"]+)"'
)
DEMO_PHI = [
    token
    for given, family, year, month, day, phone in _PATIENT_CALL.findall(
        inspect.getsource(referralkit.demo)
    )
    for token in (given, family, f"{int(year):04d}-{int(month):02d}-{int(day):02d}", phone)
]


def console_script() -> str:
    found = shutil.which("referralkit", path=str(Path(sys.executable).parent))
    if found is None:  # pragma: no cover - depends on how the package was installed
        pytest.skip("the referralkit console script is not installed next to this Python")
    return found


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv, our own interpreter and script
        argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str, int]]:
    """Run the demo once per entry point: {name: (db path, stdout, exit status)}."""
    runs = {}
    commands = {
        "console-script": [console_script(), "demo"],
        "python-m": [sys.executable, "-m", "referralkit", "demo"],
    }
    for name, command in commands.items():
        tmp = tmp_path_factory.mktemp(name)
        db = tmp / "demo.db"
        result = run(*command, str(db), cwd=tmp)
        runs[name] = (db, result.stdout, result.returncode)
    return runs


ENTRY_POINTS = ["console-script", "python-m"]


def test_demo_patient_list_was_found() -> None:
    assert len(DEMO_PHI) == 4 * 4


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_demo_exits_zero(demo_runs: dict[str, tuple[Path, str, int]], entry: str) -> None:
    _, _, status = demo_runs[entry]
    assert status == 0


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_demo_prints_four_timelines(
    demo_runs: dict[str, tuple[Path, str, int]], entry: str
) -> None:
    _, out, _ = demo_runs[entry]
    for number in EXPECTED_FINAL:
        assert re.search(rf"^{number}  ", out, re.MULTILINE), number
    assert out.count("chain intact") == 4
    assert "By status: closed: 2, declined: 1, lost: 1" in out


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_demo_timelines_show_the_expected_endings(
    demo_runs: dict[str, tuple[Path, str, int]], entry: str
) -> None:
    _, out, _ = demo_runs[entry]
    assert re.search(r"close_loop\s+visit_completed -> closed", out)
    assert re.search(r"decline\s+received -> declined", out)
    assert re.search(r"no_show\s+scheduled -> ready_to_schedule", out)
    assert re.search(r"mark_lost\s+ready_to_schedule -> lost", out)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_demo_output_holds_no_patient_phi(
    demo_runs: dict[str, tuple[Path, str, int]], entry: str
) -> None:
    _, out, _ = demo_runs[entry]
    assert [t for t in DEMO_PHI if re.search(rf"\b{re.escape(t)}\b", out)] == []


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_demo_database_holds_the_final_states(
    demo_runs: dict[str, tuple[Path, str, int]], entry: str
) -> None:
    db, _, _ = demo_runs[entry]
    with closing(SQLiteStore(db)) as store:
        stored = store.list_by_status(list(ReferralStatus))
        assert {r.referral_number: r.status for r in stored} == EXPECTED_FINAL


def test_demo_without_a_path_uses_a_temporary_file(tmp_path: Path) -> None:
    result = run(sys.executable, "-m", "referralkit", "demo", cwd=tmp_path)
    assert result.returncode == 0
    assert "REF-1004" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_unknown_command_exits_with_usage_error(tmp_path: Path) -> None:
    result = run(sys.executable, "-m", "referralkit", "frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_demo_text_is_the_same_with_and_without_rich(tmp_path, capsys, monkeypatch):
    import builtins

    from referralkit import cli

    assert cli.main(["demo", str(tmp_path / "with_rich.db")]) == 0
    with_rich = capsys.readouterr().out
    real_import = builtins.__import__

    def no_rich(name, *args, **kwargs):
        if name.startswith("rich"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rich)
    assert cli.main(["demo", str(tmp_path / "plain.db")]) == 0
    plain = capsys.readouterr().out
    assert with_rich.replace("with_rich.db", "plain.db") == plain
