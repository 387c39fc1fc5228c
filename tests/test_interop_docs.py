"""docs/interop.md: the crosswalk tables are generated from the code, and the examples run."""

import re
from pathlib import Path

from referralkit.model import ReferralStatus
from referralkit.reference import interop_tables

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "interop.md"


def test_interop_crosswalk_matches_the_code():
    text = PAGE.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- BEGIN GENERATED: interop_tables -->\n(.*?)<!-- END GENERATED -->", text, re.S
    )
    assert match, "docs/interop.md lost its generated block markers"
    assert match.group(1) == interop_tables(), (
        "docs/interop.md is stale: replace the generated block with "
        "referralkit.reference.interop_tables()"
    )


def test_interop_tables_cover_every_state():
    tables = interop_tables()
    for state in ReferralStatus:
        assert f"| `{state.value}` |" in tables
    for heading in ("HL7 v2 referral status", "360X", "NHS e-Referral", "BSeR"):
        assert heading in tables


def test_interop_page_points_to_the_hl7v2_page():
    text = PAGE.read_text(encoding="utf-8")
    assert "## HL7 v2 and 360X" in text
    assert "hl7v2.md" in text


def test_python_examples_in_interop_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    for block in blocks:  # one namespace, in order, as the docs checker runs them
        exec(compile(block, "interop.md", "exec"), namespace)  # noqa: S102 - our own docs
