from __future__ import annotations

import inspect
from typing import Literal

import pytest

from referralkit import hookspecs
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.ports import Capability
from referralkit.testing.conformance import HOOK_COVERAGE, PluginConformance


class MemoryFaults:
    def __init__(self, plugin: InMemoryPlugin) -> None:
        self.plugin = plugin

    def inject(self, capability: Capability, kind: Literal["transient", "permanent"]) -> None:
        getattr(self.plugin, capability).fail_next(1, kind)


class TestInMemoryPluginConforms(PluginConformance):
    @pytest.fixture
    def conformance_plugin(self) -> InMemoryPlugin:
        return InMemoryPlugin()

    @pytest.fixture
    def conformance_faults(self, conformance_plugin: InMemoryPlugin) -> MemoryFaults:
        return MemoryFaults(conformance_plugin)


def test_every_hookspec_has_a_conformance_test():
    specs = {name for name, _ in inspect.getmembers(hookspecs) if name.startswith("referralkit_")}
    assert set(HOOK_COVERAGE) == specs
    for tests in HOOK_COVERAGE.values():
        assert tests
        for test in tests:
            assert callable(getattr(PluginConformance, test))
