"""The HTML report in headless Chromium: no console errors, the numbers match ``--json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from referralkit.adapters.sqlite import SQLiteStore
from referralkit.cli import main
from referralkit.metrics.html import format_duration, format_rate
from tests.support.chromium import artifacts_dir, chromium_or_skip, open_page
from tests.support.metrics_world import Log, funnel

COLLECT = """
Array.from(document.querySelectorAll('[data-metric]'))
  .map(el => [el.getAttribute('data-metric'), el.textContent])
"""
ACCESSIBILITY = """
({
  h1: document.querySelectorAll('h1').length,
  h2: document.querySelectorAll('h2').length,
  svgsWithoutTitle: Array.from(document.querySelectorAll('svg'))
    .filter(s => !s.querySelector('title') || s.getAttribute('role') !== 'img').length,
  tablesWithoutCaption: Array.from(document.querySelectorAll('table'))
    .filter(t => !t.querySelector('caption') || !t.querySelector('th[scope]')).length,
  lang: document.documentElement.lang,
  external: Array.from(document.querySelectorAll('[src],[href]')).length,
})
"""


def resolve(payload: dict[str, Any], path: str) -> Any:
    node: Any = payload
    parts = path.split(".")
    # Group and queue names may contain dots: take the longest key that matches at each step.
    while parts:
        for size in range(len(parts), 0, -1):
            key = ".".join(parts[:size])
            if isinstance(node, dict) and key in node:
                node, parts = node[key], parts[size:]
                break
        else:
            raise KeyError(path)
    return node


def expected_text(path: str, value: Any) -> str:
    leaf = path.rsplit(".", 1)[-1]
    if leaf.endswith("_rate") or leaf == "rate":
        return format_rate(value)
    if leaf.endswith("_seconds"):
        return format_duration(value)
    return str(value)


@pytest.fixture
def report_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, dict[str, Any]]:
    db = tmp_path / "referrals.db"
    log = Log(SQLiteStore(db))
    funnel(log)
    log.desk.close()
    html = tmp_path / "report.html"
    args = ["--store", f"sqlite:///{db}", "report", "--since", "2026-01-01", "--until",
            "2027-01-01", "--by", "practice", "--by", "specialty"]  # fmt: skip
    assert main([*args, "--html", str(html), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    return html, payload


def test_report_opens_cleanly_and_matches_the_json(report_files) -> None:
    chromium_or_skip()
    html, payload = report_files
    page = open_page(html.as_uri(), COLLECT)
    shot = artifacts_dir() / "report.png"
    shot.write_bytes(page.screenshot)
    assert page.console_errors == []
    assert page.exceptions == []
    assert page.screenshot.startswith(b"\x89PNG")
    shown = dict(page.value)
    assert len(shown) >= 20
    assert {"overall.received", "cms50.numerator", "cms50.denominator"} <= set(shown)
    mismatches = {
        path: (text, expected_text(path, resolve(payload, path)))
        for path, text in shown.items()
        if text != expected_text(path, resolve(payload, path))
    }
    assert mismatches == {}


def test_report_is_accessible_and_self_contained(report_files) -> None:
    chromium_or_skip()
    html, _ = report_files
    page = open_page(html.as_uri(), ACCESSIBILITY)
    assert page.value == {
        "h1": 1,
        "h2": page.value["h2"],
        "svgsWithoutTitle": 0,
        "tablesWithoutCaption": 0,
        "lang": "en",
        "external": 0,
    }
    assert page.value["h2"] >= 6
