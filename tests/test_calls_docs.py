"""docs/calls.md: every python block runs, in order, in one namespace, in a fresh directory."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "calls.md"


def test_calls_page_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 6
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert "Please bring your insurance card" in out
    assert "False patient_counselling" in out
    assert '"code": "not_permitted"' in out
    assert "[('visit.0.approved_by', 'missing'), ('visit.0.approved_on', 'missing')]" in out
