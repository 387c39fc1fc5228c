from __future__ import annotations

import types
from typing import Literal
from uuid import uuid4

import acme_fax
import pytest

from referralkit import PermanentAdapterError, TransientAdapterError
from referralkit.plugins import hookimpl
from referralkit.ports import Capability, FaxRequest, idempotency_key
from referralkit.testing.conformance import PluginConformance


class Faults:
    def __init__(self, transport: acme_fax.SandboxTransport) -> None:
        self.transport = transport

    def inject(self, capability: Capability, kind: Literal["transient", "permanent"]) -> None:
        assert capability == "fax"
        self.transport.fail_with.append(503 if kind == "transient" else 400)


class TestAcmeFaxConforms(PluginConformance):
    @pytest.fixture
    def transport(self) -> acme_fax.SandboxTransport:
        return acme_fax.SandboxTransport()

    @pytest.fixture
    def conformance_plugin(self, transport: acme_fax.SandboxTransport) -> object:
        adapter = acme_fax.AcmeFax(transport=transport)
        plugin = types.SimpleNamespace()
        plugin.referralkit_register_fax_adapters = hookimpl(lambda: [adapter])
        return plugin

    @pytest.fixture
    def conformance_faults(self, transport: acme_fax.SandboxTransport) -> Faults:
        return Faults(transport)


class TestAcmeModuleAsPublished(PluginConformance):
    """The module exactly as its entry point publishes it."""

    @pytest.fixture
    def conformance_plugin(self) -> object:
        return acme_fax


def test_rate_limit_is_transient_and_bad_number_permanent() -> None:
    transport = acme_fax.SandboxTransport(fail_with=[429, 404])
    fax = acme_fax.AcmeFax(transport=transport)
    rid = uuid4()
    request = FaxRequest(
        idempotency_key=idempotency_key(rid, "records", 1),
        referral_id=rid,
        to="+15550001111",
        purpose="records_request",
        recipient_name="Clinic",
    )
    with pytest.raises(TransientAdapterError):
        fax.send_fax(request)
    with pytest.raises(PermanentAdapterError):
        fax.send_fax(request)
    assert fax.send_fax(request).provider_ref == "acme-1"
