"""docs/work.md: every python block runs, in order, in one namespace, in a fresh directory."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_work_md_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    page = ROOT / "docs" / "work.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - our own documentation
    printed = capsys.readouterr().out
    assert "cancelled moot: referral scheduled" in printed
