"""Documentation that is generated from, or executed against, the code."""

import re
from pathlib import Path

import pytest

from referralkit.reference import lifecycle_tables

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _generated_block(text: str) -> str:
    match = re.search(
        r"<!-- BEGIN GENERATED: lifecycle_tables -->\n(.*?)<!-- END GENERATED -->", text, re.S
    )
    assert match, "docs/lifecycle.md lost its generated block markers"
    return match.group(1)


def test_lifecycle_reference_matches_the_code():
    text = (DOCS / "lifecycle.md").read_text(encoding="utf-8")
    assert _generated_block(text) == lifecycle_tables(), (
        "docs/lifecycle.md is stale: regenerate the block with `referralkit lifecycle`"
    )


def test_lifecycle_tables_cover_every_state_and_trigger():
    from referralkit import TRIGGERS, ReferralStatus

    tables = lifecycle_tables()
    for state in ReferralStatus:
        assert f"| `{state.value}` |" in tables
    for trigger in TRIGGERS:
        assert f"| `{trigger}` |" in tables


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


PAGES = sorted(
    str(p.relative_to(ROOT)) for p in [ROOT / "README.md", *DOCS.glob("*.md")] if _python_blocks(p)
)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: Path(p).name)
def test_python_examples_in_docs_run(page, tmp_path, monkeypatch):
    # As a reader runs them: in order, one namespace per page, in an empty directory; a block
    # may opt out with a first line "# doc: no-run - why".
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__doc_blocks__"}
    ran = 0
    for block in _python_blocks(ROOT / page):
        if block.lstrip().startswith(("# doc: no-run", ">>>")):  # >>> blocks are doctested
            continue
        exec(compile(block, page, "exec"), namespace)  # noqa: S102 - our own documentation
        ran += 1
    assert ran, f"{page} has no python example that runs"


def test_outreach_quick_start_runs_with_the_installed_vendor_plugins(tmp_path, monkeypatch):
    # The first outreach example must give the desk the installed adapters: a desk from
    # ReferralDesk.open() is hermetic and could send nothing.
    from importlib.metadata import entry_points

    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(_python_blocks(DOCS / "outreach.md")[0], "outreach.md", "exec"), namespace)  # noqa: S102
    desk = namespace["desk"]
    try:
        loaded = {name for name, _ in desk.hooks.pm.list_name_plugin()}
        installed = {ep.name for ep in entry_points(group="referralkit")}
        assert installed <= loaded
        assert desk.outreach is not None
    finally:
        desk.close()


@pytest.mark.parametrize("page", ["docs/intake.md"])
def test_doctest_examples_in_docs_pass(page):
    import doctest

    result = doctest.testfile(
        str(ROOT / page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0, f"{page} has no doctest examples"
    assert result.failed == 0


@pytest.mark.parametrize(
    "page", ["docs/getting-started.md", "docs/metrics.md", "docs/cli.md"], ids=lambda p: p
)
def test_pages_run_in_order_in_a_fresh_directory(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks(ROOT / page)
    assert blocks, f"{page} has no python example"
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)  # noqa: S102 - our own documentation
