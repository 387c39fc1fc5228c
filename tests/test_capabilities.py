"""Separate SMS and voice backends, declared operations, and the kit testing only those."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import pytest

from referralkit.adapters.memory import InMemoryEhr, InMemoryTelephony
from referralkit.errors import NoBackendError, PermanentAdapterError, TransientAdapterError
from referralkit.outbox import Invoker, RetryPolicy
from referralkit.plugins import Hooks, hookimpl, make_plugin_manager
from referralkit.ports import (
    BookAppointmentRequest,
    CallRequest,
    Capability,
    EhrAdapter,
    Receipt,
    SmsRequest,
    TelephonyAdapter,
    idempotency_key,
    supported_operations,
)
from referralkit.testing.conformance import PluginConformance

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)


class TextCo:
    """An SMS-only vendor: no place_call at all, and it says so."""

    name = "textco"
    supported_operations = frozenset({"send_sms"})

    def __init__(self) -> None:
        self.receipts: dict[str, Receipt] = {}
        self.fault: Literal["transient", "permanent"] | None = None
        self._ids = itertools.count(1)

    def send_sms(self, request: SmsRequest) -> Receipt:
        if self.fault is not None:
            kind, self.fault = self.fault, None
            error = TransientAdapterError if kind == "transient" else PermanentAdapterError
            raise error("textco refused", adapter=self.name, operation="send_sms")
        first = self.receipts.get(request.idempotency_key)
        if first is not None:
            return first.model_copy(update={"duplicate": True})
        receipt = Receipt(
            idempotency_key=request.idempotency_key,
            provider_ref=f"tc-{next(self._ids)}",
            accepted_at=NOW,
        )
        self.receipts[request.idempotency_key] = receipt
        return receipt


class TextCoPlugin:
    def __init__(self, adapter: object | None = None) -> None:
        self.adapter = adapter or TextCo()

    @hookimpl
    def referralkit_register_telephony_adapters(self) -> Sequence[TelephonyAdapter]:
        return [self.adapter]  # type: ignore[list-item]


class TextCoFaults:
    def __init__(self, plugin: TextCoPlugin) -> None:
        self.plugin = plugin

    def inject(self, capability: Capability, kind: Literal["transient", "permanent"]) -> None:
        assert capability == "telephony"
        self.plugin.adapter.fault = kind  # type: ignore[attr-defined]


class TestSmsOnlyVendorConforms(PluginConformance):
    """The kit runs its SMS checks on TextCo and skips the voice ones."""

    @pytest.fixture
    def conformance_plugin(self) -> TextCoPlugin:
        return TextCoPlugin()

    @pytest.fixture
    def conformance_faults(self, conformance_plugin: TextCoPlugin) -> TextCoFaults:
        return TextCoFaults(conformance_plugin)


def _hooks(*plugins: object) -> Hooks:
    return Hooks(make_plugin_manager(list(plugins), load_entrypoints=False))


def test_the_kit_skips_operations_the_vendor_does_not_declare() -> None:
    hooks = _hooks(TextCoPlugin())
    with pytest.raises(pytest.skip.Exception, match="declares place_call"):
        PluginConformance._sender(hooks, "place_call")
    request, send = PluginConformance._sender(hooks, "send_sms")
    assert send().idempotency_key == request.idempotency_key


def test_the_kit_refuses_a_vendor_that_declares_nothing() -> None:
    class Mute(TextCo):
        supported_operations = frozenset()

    hooks = _hooks(TextCoPlugin(Mute()))
    with pytest.raises(AssertionError, match="declares no supported operation"):
        PluginConformance().test_adapters_declare_what_they_support(hooks, "telephony")


def test_the_kit_refuses_a_declared_operation_without_its_method() -> None:
    class Liar(TextCo):
        supported_operations = frozenset({"send_sms", "place_call"})

    hooks = _hooks(TextCoPlugin(Liar()))
    with pytest.raises(AssertionError, match="declares place_call but lacks it"):
        PluginConformance().test_adapters_declare_what_they_support(hooks, "telephony")


def _sms(n: int = 1) -> SmsRequest:
    from uuid import UUID

    rid = UUID(int=5)
    return SmsRequest(
        idempotency_key=idempotency_key(rid, "sms", n),
        referral_id=rid,
        to="+15555550123",
        template_id="t",
        body="Please call us to book.",
    )


def _call(n: int = 1) -> CallRequest:
    from uuid import UUID

    rid = UUID(int=5)
    return CallRequest(
        idempotency_key=idempotency_key(rid, "call", n),
        referral_id=rid,
        to="+15555550123",
        script_id="s",
        window_start=NOW,
        window_end=NOW.replace(hour=17),
    )


class VoicePlugin:
    def __init__(self) -> None:
        self.telephony = InMemoryTelephony(
            name="voiceco", supported_operations=frozenset({"place_call"})
        )

    @hookimpl
    def referralkit_register_telephony_adapters(self) -> Sequence[TelephonyAdapter]:
        return [self.telephony]


def test_sms_and_voice_from_two_vendors_without_naming_them() -> None:
    texting, voice = TextCoPlugin(), VoicePlugin()
    invoker = Invoker(_hooks(texting, voice), RetryPolicy.no_wait(1))
    invoker.bind(_sms())()
    invoker.bind(_call())()
    assert len(texting.adapter.receipts) == 1  # type: ignore[attr-defined]
    assert [c.script_id for c in voice.telephony.calls] == ["s"]
    assert voice.telephony.sms == []


def test_sms_and_voice_backends_named_separately() -> None:
    class Both:
        def __init__(self) -> None:
            self.telephony = InMemoryTelephony(name="allinone")

        @hookimpl
        def referralkit_register_telephony_adapters(self) -> Sequence[TelephonyAdapter]:
            return [self.telephony]

    both, texting = Both(), TextCoPlugin()
    invoker = Invoker(
        _hooks(both, texting),
        RetryPolicy.no_wait(1),
        {"sms": "textco", "voice": "allinone"},
    )
    invoker.bind(_sms())()
    invoker.bind(_call())()
    assert both.telephony.sms == []
    assert len(both.telephony.calls) == 1
    assert len(texting.adapter.receipts) == 1  # type: ignore[attr-defined]


def test_a_named_backend_that_lacks_the_operation_is_no_backend() -> None:
    invoker = Invoker(_hooks(TextCoPlugin()), RetryPolicy.no_wait(1), {"voice": "textco"})
    with pytest.raises(NoBackendError):
        invoker.bind(_call())


def test_a_read_only_ehr_is_never_asked_to_book() -> None:
    from uuid import UUID

    class ReadOnly:
        def __init__(self) -> None:
            self.ehr = InMemoryEhr(
                name="readonly",
                supported_operations=frozenset({"fetch_patient", "fetch_documents"}),
            )

        @hookimpl
        def referralkit_register_ehr_adapters(self) -> Sequence[EhrAdapter]:
            return [self.ehr]

    plugin = ReadOnly()
    assert supported_operations(plugin.ehr, "ehr") == {"fetch_patient", "fetch_documents"}
    invoker = Invoker(_hooks(plugin), RetryPolicy.no_wait(1))
    request = BookAppointmentRequest(
        idempotency_key=idempotency_key(UUID(int=5), "book", 1),
        referral_id=UUID(int=5),
        appointment_id=UUID(int=9),
        mrn="M-1",
        start=NOW,
    )
    with pytest.raises(NoBackendError):
        invoker.bind(request)
    assert plugin.ehr.requests == []


def test_an_adapter_that_declares_nothing_keeps_its_whole_port() -> None:
    assert supported_operations(InMemoryTelephony(), "telephony") == {"place_call", "send_sms"}
