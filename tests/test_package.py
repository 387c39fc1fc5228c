"""The package surface: every public name resolves, and importing it stays light."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import referralkit


def test_every_name_in_all_resolves():
    missing = [name for name in referralkit.__all__ if not hasattr(referralkit, name)]
    assert missing == []


def test_all_has_no_duplicates():
    assert len(referralkit.__all__) == len(set(referralkit.__all__))


def test_an_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = referralkit.Nope


def test_the_pytest_plugin_loads_without_building_the_library():
    # pytest11 loads referralkit.testing into every pytest session wherever referralkit is
    # installed: it must not import the desk, the model or the adapters until a fixture runs.
    code = (
        "import sys, referralkit.testing\n"
        "heavy = [m for m in ('referralkit.desk', 'referralkit.model', 'referralkit.adapters',"
        " 'pydantic', 'transitions') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def _type_checking_imports() -> dict[str, str]:
    """Return name -> module of the imports under ``if TYPE_CHECKING`` in __init__.py."""
    tree = ast.parse(Path(referralkit.__file__).read_text(encoding="utf-8"))
    seen: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                for alias in statement.names:
                    original = alias.name
                    exported = alias.asname or alias.name
                    where = str(statement.module)
                    seen[exported] = where if original == exported else f"{where}:{original}"
    return seen


def test_the_export_table_all_and_type_checking_imports_agree():
    from referralkit import _EXPORTS  # the one table

    imported = _type_checking_imports()
    assert imported.pop("__version__") == "referralkit._version"
    assert imported == dict(_EXPORTS)
    assert sorted(referralkit.__all__) == sorted([*_EXPORTS, "__version__"])


def _mypy(*files: str) -> subprocess.CompletedProcess[str]:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent)) or "mypy"
    return subprocess.run(  # noqa: S603 - our own mypy on our own files
        [mypy, "--strict", "--no-incremental", "--follow-imports=silent", *files],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )


def test_a_host_app_type_checks_and_a_misspelled_name_does_not():
    typing_dir = Path(__file__).parent / "typing"
    good = _mypy(str(typing_dir / "host_app.py"))
    assert good.returncode == 0, good.stdout
    bad = _mypy(str(typing_dir / "misspelled_name.py"))
    assert bad.returncode == 1
    assert 'Module "referralkit" has no attribute "RefferalDesk"' in bad.stdout
