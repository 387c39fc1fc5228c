from __future__ import annotations

import inspect
import re
from pathlib import Path

from referralkit import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"


def _specs() -> dict[str, list[str]]:
    return {
        name: list(inspect.signature(fn).parameters)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("referralkit_")
    }


def test_every_hook_has_a_heading_with_its_arguments():
    headings = re.findall(r"^#+ `(referralkit_\w+)\(([^)]*)\)`", DOCS.read_text(), re.MULTILINE)
    documented = {
        name: [a.strip() for a in args.split(",") if a.strip()] for name, args in headings
    }
    specs = _specs()
    missing = sorted(set(specs) - set(documented))
    assert not missing, f"docs/hooks.md lacks an entry for {missing}"
    assert not sorted(set(documented) - set(specs)), "docs/hooks.md documents unknown hooks"
    for name, args in specs.items():
        assert documented[name] == args, name
