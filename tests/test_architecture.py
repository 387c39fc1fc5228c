"""The import rules docs/architecture.md lists, checked on the source (an AST read)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src"
PACKAGE = SRC / "referralkit"

DOMAIN = ("model", "lifecycle", "events", "intake", "routing", "outreach", "ports", "store")
UPPER = ("referralkit.desk", "referralkit.adapters", "referralkit.plugins", "referralkit.outbox")
# The package root re-exports the stores lazily (its table names them; nothing is imported).
# The simulator's run module is a composition root too: it builds a desk on a memory store.
ADAPTER_USERS = (
    "referralkit",
    "referralkit.desk.stores",
    "referralkit.cli",
    "referralkit.demo",
    "referralkit.simulate.run",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield _module_name(path), ast.parse(path.read_text(encoding="utf-8"))


def _imports(name: str, tree: ast.Module) -> set[str]:
    """Every referralkit module *tree* imports, TYPE_CHECKING and function-level included."""
    found: set[str] = set()
    is_package = (SRC / name.replace(".", "/")).is_dir()
    package = name if is_package else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("referralkit"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not target.startswith("referralkit"):
                continue
            found.add(target)
            for alias in node.names:  # `from referralkit.desk import outbox` names a module
                candidate = f"{target}.{alias.name}"
                if (SRC / candidate.replace(".", "/")).with_suffix(".py").exists():
                    found.add(candidate)
    return found


GRAPH = {name: _imports(name, tree) for name, tree in _modules()}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize("layer", DOMAIN)
def test_domain_never_imports_upward(layer: str) -> None:
    prefix = f"referralkit.{layer}"
    bad = {
        (module, target)
        for module, targets in GRAPH.items()
        if _under(module, prefix)
        for target in targets
        if any(_under(target, upper) for upper in (*UPPER, "referralkit.cli"))
    }
    assert bad == set()


def test_the_model_imports_only_errors_and_itself() -> None:
    # ... and the lazy-export helper its package __init__ imports names through.
    allowed = ("referralkit.errors", "referralkit._lazy")
    bad = {
        (module, target)
        for module, targets in GRAPH.items()
        if _under(module, "referralkit.model")
        for target in targets
        if not (_under(target, "referralkit.model") or target in allowed)
    }
    assert bad == set()


def test_only_the_composition_roots_import_concrete_adapters() -> None:
    bad = {
        (module, target)
        for module, targets in GRAPH.items()
        for target in targets
        if _under(target, "referralkit.adapters")
        and not _under(module, "referralkit.adapters")
        and not _under(module, "referralkit.testing")
        and module not in ADAPTER_USERS
    }
    assert bad == set()


def test_only_the_unit_of_work_writes_to_the_store() -> None:
    writers = set()
    for name, tree in _modules():
        if _under(name, "referralkit.adapters") or name == "referralkit.store":
            continue  # the stores themselves, and the protocol
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("create", "save", "create_many")
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "store"
            ):
                writers.add(name)
    assert writers <= {"referralkit.desk.unit_of_work", "referralkit.demo"}


def test_there_is_no_import_cycle() -> None:
    graph = {m: {t for t in ts if t in GRAPH and t != m} for m, ts in GRAPH.items()}
    # A package's __init__ re-exporting its own modules is not a cycle between concepts.
    for module, targets in graph.items():
        graph[module] = {t for t in targets if not _under(t, module)}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycle.extend([*path[path.index(target) :], target])
                return True
            if state.get(target) is None and visit(target, [*path, target]):
                return True
        state[node] = 2
        return False

    for module in sorted(graph):
        if state.get(module) is None and visit(module, [module]):
            break
    assert cycle == []


def test_no_module_imports_another_modules_private_name() -> None:
    bad = set()
    for name, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("referralkit"):
                bad.update(
                    (name, node.module, alias.name)
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                )
    assert bad == set()


def test_no_test_module_imports_another() -> None:
    # Shared builders and worlds live in tests/support; fixtures in conftest and the plugin.
    tests = Path(__file__).parent
    bad = set()
    for path in sorted(tests.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests."):
                target = node.module.split(".")[1]
                if target.startswith("test_") or target == "conftest":
                    bad.add((path.name, node.module))
    assert bad == set()
