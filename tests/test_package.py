"""The package surface: every public name resolves, and importing it stays light."""

import subprocess
import sys

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
