from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from importlib.metadata import EntryPoint
from uuid import uuid4

import pluggy
import pytest

import referralkit
from referralkit.adapters.memory import InMemoryFax, InMemoryPlugin
from referralkit.errors import NoBackendError
from referralkit.model import Actor, ActorKind, Referral, ReferralStatus, Role
from referralkit.plugins import (
    DISABLED_PLUGINS_ENV,
    PROJECT_NAME,
    Hooks,
    hookimpl,
    make_plugin_manager,
)
from referralkit.ports import FaxAdapter
from referralkit.testing.conformance import canary_referral

INTAKE = Actor(kind=ActorKind.HUMAN, id="staff-1", role=Role.INTAKE)


def new_referral() -> Referral:
    return canary_referral().model_copy(update={"id": uuid4(), "status": ReferralStatus.RECEIVED})


def _fax_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def referralkit_register_fax_adapters() -> Sequence[FaxAdapter]:
        return [InMemoryFax(name=name)]

    module.referralkit_register_fax_adapters = referralkit_register_fax_adapters  # type: ignore[attr-defined]
    return module


@pytest.fixture
def five_plugins(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """Four importable vendor modules and one that fails to import."""
    points = []
    for index in range(4):
        name = f"rk_vendor_{index}"
        monkeypatch.setitem(sys.modules, name, _fax_module(name))
        points.append(EntryPoint(name=name, value=name, group=PROJECT_NAME))
    points.insert(2, EntryPoint(name="rk_broken", value="rk_missing_module", group=PROJECT_NAME))
    return points


def test_five_plugins_one_broken_four_load(five_plugins):
    pm = make_plugin_manager(entry_points=five_plugins, disabled=())
    assert sorted(Hooks(pm).fax_adapters()) == [f"rk_vendor_{i}" for i in range(4)]
    assert len(pm.load_errors) == 1
    error = pm.load_errors[0]
    assert (error.name, error.value, error.stage) == ("rk_broken", "rk_missing_module", "import")
    assert "ModuleNotFoundError" in error.reason


def test_installed_entry_points_are_read_through_importlib_metadata(monkeypatch, five_plugins):
    monkeypatch.setattr("referralkit.plugins._installed_entry_points", lambda: five_plugins)
    pm = make_plugin_manager(disabled=())
    assert len(Hooks(pm).fax_adapters()) == 4
    assert [e.name for e in pm.load_errors] == ["rk_broken"]


def test_plugin_with_unknown_hook_is_a_register_error(monkeypatch):
    module = types.ModuleType("rk_typo")

    @hookimpl
    def referralkit_register_fax_adapter() -> list[object]:  # missing "s": no such spec
        return []

    module.referralkit_register_fax_adapter = referralkit_register_fax_adapter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rk_typo", module)
    pm = make_plugin_manager(
        entry_points=[EntryPoint(name="rk_typo", value="rk_typo", group=PROJECT_NAME)],
        disabled=(),
    )
    assert [(e.name, e.stage) for e in pm.load_errors] == [("rk_typo", "register")]
    assert "referralkit_register_fax_adapter" in pm.load_errors[0].reason
    assert pm.get_plugin("rk_typo") is None


def test_explicit_plugin_with_unknown_hook_fails_loudly():
    class Typo:
        @hookimpl
        def referralkit_on_evnt(self) -> None:
            """Misspelled."""

    with pytest.raises(pluggy.PluginValidationError):
        make_plugin_manager([Typo()], load_entrypoints=False)


def test_disabled_plugins_env_blocks_by_name(monkeypatch, five_plugins):
    monkeypatch.setenv(DISABLED_PLUGINS_ENV, "rk_vendor_1, rk_broken")
    pm = make_plugin_manager(entry_points=five_plugins)
    assert sorted(Hooks(pm).fax_adapters()) == ["rk_vendor_0", "rk_vendor_2", "rk_vendor_3"]
    assert pm.load_errors == []


def test_no_backend_error_names_the_hook():
    hooks = Hooks(make_plugin_manager(load_entrypoints=False))
    with pytest.raises(NoBackendError, match="referralkit_register_fax_adapters") as caught:
        hooks.fax("acme")
    assert caught.value.capability == "fax"
    assert caught.value.requested == "acme"


def test_pick_by_name_among_several(five_plugins):
    hooks = Hooks(make_plugin_manager(entry_points=five_plugins, disabled=()))
    assert hooks.fax("rk_vendor_3").name == "rk_vendor_3"
    with pytest.raises(NoBackendError, match="several are registered") as caught:
        hooks.fax()
    assert caught.value.ambiguous
    assert "rk_vendor_3" in caught.value.available


def test_markers_are_exported_from_the_package():
    assert referralkit.hookimpl is hookimpl
    assert referralkit.PROJECT_NAME == "referralkit"
    assert referralkit.hookspec.project_name == "referralkit"


def test_failing_observer_is_contained_and_others_still_run(caplog, referralkit_desk):
    seen: list[str] = []

    class Broken:
        @hookimpl
        def referralkit_on_event(self, notice: object) -> None:
            raise RuntimeError("boom with secret")

    class Good:
        @hookimpl
        def referralkit_on_event(self, notice: object) -> None:
            seen.append("good")

    referralkit_desk.hooks.pm.register(Broken())
    referralkit_desk.hooks.pm.register(Good())
    referralkit_desk.create(new_referral(), actor=INTAKE)
    assert seen
    assert "RuntimeError" in caplog.text
    assert "secret" not in caplog.text


def test_memory_plugin_implements_every_hook():
    pm = make_plugin_manager([InMemoryPlugin()], load_entrypoints=False)
    hooks = Hooks(pm)
    from referralkit import hookspecs

    for name in dir(hookspecs):
        if name.startswith("referralkit_"):
            assert hooks.implemented(name), name
