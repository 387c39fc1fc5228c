"""The conformance kit: a test suite a vendor runs against their own plugin.

Subclass :class:`PluginConformance` in a test module and override the ``conformance_plugin``
fixture (and, to check error classification, ``conformance_faults``)::

    from referralkit.testing.conformance import PluginConformance

    class TestAcmeFax(PluginConformance):
        @pytest.fixture
        def conformance_plugin(self) -> object:
            return acme_fax.AcmeFaxPlugin(transport=SandboxTransport())

Every hookspec has at least one test (:data:`HOOK_COVERAGE`); tests for hooks or capabilities
the plugin does not implement are skipped, and so are tests of operations no adapter declares in
its ``supported_operations`` (an SMS-only vendor declares ``{"send_sms"}``; an adapter without
the attribute is tested on its whole port; one that declares an empty set fails). The checks:
adapters satisfy their port (or what they declare) and have unique names, receipts are typed
and echo the idempotency key, a repeated key is not a second contact, faults are classified as
transient or permanent, and no PHI comes back beyond the request (receipts, error messages,
contributed checks and rules).

.. versionchanged:: 0.3 ``supported_operations``: only declared operations are tested.

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Final, Literal, Protocol
from uuid import UUID

import pytest

from referralkit.errors import AdapterError, PermanentAdapterError, TransientAdapterError
from referralkit.model import (
    ActorKind,
    Address,
    CancelReason,
    Channel,
    Coverage,
    Direction,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralStatus,
    Role,
    TaskPriority,
    TaskStatus,
)
from referralkit.outbox import Invoker, RetryPolicy
from referralkit.plugins import Hooks, ReferralkitPluginManager, make_plugin_manager
from referralkit.ports import (
    AppointmentReceipt,
    BookAppointmentRequest,
    CallRequest,
    CancelAppointmentRequest,
    Capability,
    DocumentPushRequest,
    DocumentRef,
    DocumentsRequest,
    EhrAdapter,
    EhrWorkMirror,
    EventNotice,
    FaxAdapter,
    FaxRequest,
    IntakeCheck,
    InteractionMirrorRequest,
    LetterRequest,
    NotificationAdapter,
    OutboundRequest,
    OutreachTemplate,
    PatientEmailRequest,
    PatientLookupRequest,
    PracticeUpdateRequest,
    Receipt,
    RoutingRule,
    SlotList,
    SlotsRequest,
    SmsRequest,
    StaffAlertRequest,
    StatusPushRequest,
    TaskMirrorRequest,
    TelephonyAdapter,
    idempotency_key,
    supported_operations,
)

__all__ = [
    "CANARY",
    "HOOK_COVERAGE",
    "OPERATIONS",
    "FaultInjector",
    "PluginConformance",
    "canary_referral",
]

CANARY: Final = {
    "given_name": "Canarygiven",
    "family_name": "Canaryfamily",
    "phone": "+15557310042",
    "email": "canary.patient@example.org",
    "mrn": "CANARY-MRN-5521",
    "member_id": "CANARY-MEMBER-9917",
    "reason": "CANARY-DIAGNOSIS-TEXT",
    "icd10": "Q99.8",
    "street": "731 Canary Street",
    "body": "CANARY-BODY-3307",
}
"""Recognisable PHI values: they must never come back from an adapter or a contribution."""

_REFERRAL_ID: Final = UUID("00000000-0000-4000-8000-00000000c0de")
_NOW: Final = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)
_SENDER_CAPABILITY: Final[dict[Capability, str]] = {
    "telephony": "referralkit_register_telephony_adapters",
    "ehr": "referralkit_register_ehr_adapters",
    "fax": "referralkit_register_fax_adapters",
    "notification": "referralkit_register_notification_adapters",
}


def canary_referral() -> Referral:
    """Return a referral whose every PHI field holds a :data:`CANARY` value."""
    return Referral(
        id=_REFERRAL_ID,
        referral_number="R-CONFORM-1",
        status=ReferralStatus.READY_TO_SCHEDULE,
        patient=Patient(
            given_name=CANARY["given_name"],
            family_name=CANARY["family_name"],
            birth_date=date(1961, 3, 14),
            mrn=CANARY["mrn"],
            phones=(PhoneContact(number=CANARY["phone"]),),
            email=CANARY["email"],
            address=Address(
                line1=CANARY["street"], city="Springfield", state="IL", postal_code="62701"
            ),
        ),
        referring_practice=Practice(name="Referring Family Medicine", fax="+15550001111"),
        specialty="cardiology",
        reason=ReasonForReferral(icd10_codes=(CANARY["icd10"],), text=CANARY["reason"]),
        coverage=Coverage(payer_name="Acme Health", member_id=CANARY["member_id"]),
    )


def _key(operation: str, n: int = 1) -> str:
    return idempotency_key(_REFERRAL_ID, f"conformance:{operation}", n)


def _doc() -> DocumentRef:
    return DocumentRef(document_id="doc-1", kind="records_request_letter", pages=1)


_FACTORIES: Final[dict[str, Callable[[int], OutboundRequest]]] = {
    "place_call": lambda n: CallRequest(
        idempotency_key=_key("place_call", n),
        referral_id=_REFERRAL_ID,
        to=CANARY["phone"],
        script_id="schedule-v1",
        window_start=_NOW,
        window_end=_NOW + timedelta(hours=2),
    ),
    "send_sms": lambda n: SmsRequest(
        idempotency_key=_key("send_sms", n),
        referral_id=_REFERRAL_ID,
        to=CANARY["phone"],
        template_id="reminder-v1",
        body=CANARY["body"],
    ),
    "send_fax": lambda n: FaxRequest(
        idempotency_key=_key("send_fax", n),
        referral_id=_REFERRAL_ID,
        to="+15550001111",
        purpose="records_request",
        recipient_name="Referring Family Medicine",
        referral_number="R-CONFORM-1",
        documents=(_doc(),),
    ),
    "push_document": lambda n: DocumentPushRequest(
        idempotency_key=_key("push_document", n),
        referral_id=_REFERRAL_ID,
        recipient="org-referring-family-medicine",
        recipient_name="Referring Family Medicine",
        recipient_npi="1234567893",
        referral_number="R-CONFORM-1",
        documents=(DocumentRef(document_id=f"consult-report-{n}", kind="consult_report"),),
    ),
    "alert_staff": lambda n: StaffAlertRequest(
        idempotency_key=_key("alert_staff", n),
        referral_id=_REFERRAL_ID,
        task_id=UUID(int=n),
        queue="scheduling",
        title="Call the patient back",
        priority=TaskPriority.HIGH,
        due_at=_NOW + timedelta(hours=4),
    ),
    "update_practice": lambda n: PracticeUpdateRequest(
        idempotency_key=_key("update_practice", n),
        referral_id=_REFERRAL_ID,
        practice_name="Referring Family Medicine",
        channel=Channel.FAX,
        destination="+15550001111",
        referral_number="R-CONFORM-1",
        status=ReferralStatus.SCHEDULED,
        appointment_at=_NOW + timedelta(days=3),
    ),
    "email_patient": lambda n: PatientEmailRequest(
        idempotency_key=_key("email_patient", n),
        referral_id=_REFERRAL_ID,
        to=CANARY["email"],
        template_id="reminder-email-v1",
        subject="Your appointment",
        body=CANARY["body"],
    ),
    "send_letter": lambda n: LetterRequest(
        idempotency_key=_key("send_letter", n),
        referral_id=_REFERRAL_ID,
        recipient_name=f"{CANARY['given_name']} {CANARY['family_name']}",
        address=Address(
            line1=CANARY["street"], city="Springfield", state="IL", postal_code="62701"
        ),
        template_id="letter-v1",
        body=CANARY["body"],
    ),
    "push_status": lambda n: StatusPushRequest(
        idempotency_key=_key("push_status", n),
        referral_id=_REFERRAL_ID,
        status=ReferralStatus.SCHEDULED,
        at=_NOW,
    ),
    "book_appointment": lambda n: BookAppointmentRequest(
        idempotency_key=_key("book_appointment", n),
        referral_id=_REFERRAL_ID,
        appointment_id=UUID(int=1000 + n),
        mrn=CANARY["mrn"],
        start=_NOW + timedelta(days=3),
    ),
    "cancel_appointment": lambda n: CancelAppointmentRequest(
        idempotency_key=_key("cancel_appointment", n),
        referral_id=_REFERRAL_ID,
        appointment_id=UUID(int=1000 + n),
        external_id="ext-1",
        reason=CancelReason.PATIENT_REQUEST,
    ),
}
OPERATIONS: Final = tuple(_FACTORIES)
"""Every outbound port method, by name; the suite runs each test once per operation."""

HOOK_COVERAGE: Final[Mapping[str, tuple[str, ...]]] = {
    "referralkit_register_telephony_adapters": (
        "test_provider_hook_returns_named_adapters",
        "test_adapters_declare_what_they_support",
        "test_receipt_is_typed_and_echoes_the_key",
        "test_repeated_key_is_not_a_second_contact",
        "test_transient_fault_is_transient",
        "test_permanent_fault_is_permanent",
        "test_no_phi_comes_back",
    ),
    "referralkit_register_ehr_adapters": (
        "test_provider_hook_returns_named_adapters",
        "test_adapters_declare_what_they_support",
        "test_receipt_is_typed_and_echoes_the_key",
        "test_ehr_reads_return_typed_results",
        "test_ehr_work_mirror_is_idempotent",
        "test_repeated_key_is_not_a_second_contact",
    ),
    "referralkit_register_fax_adapters": (
        "test_provider_hook_returns_named_adapters",
        "test_adapters_declare_what_they_support",
        "test_receipt_is_typed_and_echoes_the_key",
        "test_repeated_key_is_not_a_second_contact",
    ),
    "referralkit_register_notification_adapters": (
        "test_provider_hook_returns_named_adapters",
        "test_adapters_declare_what_they_support",
        "test_receipt_is_typed_and_echoes_the_key",
    ),
    "referralkit_on_event": ("test_observers_accept_notices",),
    "referralkit_on_transition": ("test_observers_accept_notices",),
    "referralkit_add_intake_checks": ("test_intake_checks_return_codes_without_phi",),
    "referralkit_add_routing_rules": ("test_routing_rules_suggest_without_phi",),
    "referralkit_add_outreach_templates": ("test_outreach_templates_render_text",),
}
"""Which conformance tests exercise each hookspec (every hookspec has at least one)."""


def _adapters(hooks: Hooks, capability: Capability) -> Mapping[str, object]:
    if capability == "telephony":
        return hooks.telephony_adapters()
    if capability == "ehr":
        return hooks.ehr_adapters()
    if capability == "fax":
        return hooks.fax_adapters()
    return hooks.notification_adapters()


class FaultInjector(Protocol):
    """Makes the vendor's adapter fail on its next call, to check error classification.

    .. versionadded:: 0.1
    """

    def inject(self, capability: Capability, kind: Literal["transient", "permanent"]) -> None:
        """Make the next call to the *capability* adapter fail with a *kind* fault."""
        ...


def _no_phi(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    return [name for name, value in CANARY.items() if value in text and name not in allowed]


class PluginConformance:
    """The suite: subclass it and override ``conformance_plugin`` (and ``conformance_faults``).

    .. versionadded:: 0.1
    """

    @pytest.fixture
    def conformance_plugin(self) -> object:
        """Return the plugin under test (override this)."""
        pytest.fail("override the conformance_plugin fixture to return your plugin")

    @pytest.fixture
    def conformance_faults(self) -> FaultInjector | None:
        """Return a fault injector for your adapters, or ``None`` to skip fault tests."""
        return None

    @pytest.fixture
    def conformance_pm(self, conformance_plugin: object) -> ReferralkitPluginManager:
        """Return a manager holding only the plugin under test."""
        return make_plugin_manager([conformance_plugin], load_entrypoints=False)

    @pytest.fixture
    def conformance_hooks(self, conformance_pm: ReferralkitPluginManager) -> Hooks:
        """Return the typed facade over ``conformance_pm``."""
        return Hooks(conformance_pm)

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _sender(
        hooks: Hooks, operation: str, n: int = 1
    ) -> tuple[OutboundRequest, Callable[[], Receipt]]:
        request = _FACTORIES[operation](n)
        hook = _SENDER_CAPABILITY[request.capability]
        if not hooks.implemented(hook):
            pytest.skip(f"the plugin does not implement {hook}")
        declared = [
            name
            for name, adapter in _adapters(hooks, request.capability).items()
            if operation in supported_operations(adapter, request.capability)
        ]
        if not declared:
            pytest.skip(f"no adapter of the plugin declares {operation}")
        # Bound directly, without retries or classification: the adapter's own behaviour.
        return request, Invoker(hooks, RetryPolicy.no_wait(1)).bind(request)

    # -- provider hooks ---------------------------------------------------------------------

    @pytest.mark.parametrize("capability", ["telephony", "ehr", "fax", "notification"])
    def test_provider_hook_returns_named_adapters(
        self, conformance_hooks: Hooks, capability: Capability
    ) -> None:
        """Adapters satisfy their port, and names are non-empty and unique."""
        hook = _SENDER_CAPABILITY[capability]
        if not conformance_hooks.implemented(hook):
            pytest.skip(f"the plugin does not implement {hook}")
        port: type[object]
        found: Mapping[str, object]
        if capability == "telephony":
            port, found = TelephonyAdapter, conformance_hooks.telephony_adapters()
        elif capability == "ehr":
            port, found = EhrAdapter, conformance_hooks.ehr_adapters()
        elif capability == "fax":
            port, found = FaxAdapter, conformance_hooks.fax_adapters()
        else:
            port, found = NotificationAdapter, conformance_hooks.notification_adapters()
        assert found, f"{hook} returned no adapters"
        for name, adapter in found.items():
            assert name, "an adapter has an empty name"
            if getattr(adapter, "supported_operations", None) is None:
                # Declaring nothing means the whole port (before 0.3): it must satisfy it.
                assert isinstance(adapter, port), (
                    f"adapter {name!r} does not satisfy {port.__name__}"
                )

    @pytest.mark.parametrize("capability", ["telephony", "ehr", "fax", "notification"])
    def test_adapters_declare_what_they_support(
        self, conformance_hooks: Hooks, capability: Capability
    ) -> None:
        """Each adapter supports at least one operation, and has a method for each one.

        An adapter's ``supported_operations`` (a set of port method names) is what the other
        tests exercise; an adapter that declares an empty set is refused.
        """
        hook = _SENDER_CAPABILITY[capability]
        if not conformance_hooks.implemented(hook):
            pytest.skip(f"the plugin does not implement {hook}")
        for name, adapter in _adapters(conformance_hooks, capability).items():
            operations = supported_operations(adapter, capability)
            assert operations, f"adapter {name!r} declares no supported operation"
            for operation in sorted(operations):
                method = getattr(adapter, operation, None)
                assert callable(method), f"adapter {name!r} declares {operation} but lacks it"

    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_receipt_is_typed_and_echoes_the_key(
        self, conformance_hooks: Hooks, operation: str
    ) -> None:
        """Each call returns a :class:`~referralkit.ports.Receipt` carrying the request's key."""
        request, send = self._sender(conformance_hooks, operation)
        receipt = send()
        expected = AppointmentReceipt if operation == "book_appointment" else Receipt
        assert isinstance(receipt, expected)
        assert receipt.idempotency_key == request.idempotency_key
        assert receipt.provider_ref
        assert not receipt.duplicate

    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_repeated_key_is_not_a_second_contact(
        self, conformance_hooks: Hooks, operation: str
    ) -> None:
        """Sending the same key again returns the first receipt, marked duplicate."""
        _request, send = self._sender(conformance_hooks, operation, n=2)
        first = send()
        again = send()
        assert again.provider_ref == first.provider_ref
        assert again.duplicate

    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_transient_fault_is_transient(
        self,
        conformance_hooks: Hooks,
        conformance_faults: FaultInjector | None,
        operation: str,
    ) -> None:
        """A transient fault surfaces as TransientAdapterError, naming no PHI."""
        request, send = self._sender(conformance_hooks, operation, n=3)
        if conformance_faults is None:
            pytest.skip("no conformance_faults fixture")
        conformance_faults.inject(request.capability, "transient")
        with pytest.raises(TransientAdapterError) as caught:
            send()
        assert not _no_phi(str(caught.value))

    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_permanent_fault_is_permanent(
        self,
        conformance_hooks: Hooks,
        conformance_faults: FaultInjector | None,
        operation: str,
    ) -> None:
        """A permanent fault surfaces as PermanentAdapterError, and is not a contact."""
        request, send = self._sender(conformance_hooks, operation, n=4)
        if conformance_faults is None:
            pytest.skip("no conformance_faults fixture")
        conformance_faults.inject(request.capability, "permanent")
        with pytest.raises(PermanentAdapterError) as caught:
            send()
        assert isinstance(caught.value, AdapterError)
        assert not _no_phi(str(caught.value))
        assert not send().duplicate, "a failed call must not count as the contact"

    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_no_phi_comes_back(
        self, conformance_hooks: Hooks, operation: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Receipts and logs hold no PHI, not even the PHI the request carried."""
        caplog.set_level(logging.DEBUG)
        _request, send = self._sender(conformance_hooks, operation, n=5)
        receipt = send()
        assert not _no_phi(receipt.model_dump_json()), "the receipt echoes PHI"
        assert not _no_phi(caplog.text), "the adapter logged PHI"

    def test_ehr_reads_return_typed_results(self, conformance_hooks: Hooks) -> None:
        """EHR reads return a PatientRecord, a DocumentList and a SlotList echoing the key.

        Only the reads the adapter supports are called (``find_slots`` is optional).
        """
        if not conformance_hooks.implemented("referralkit_register_ehr_adapters"):
            pytest.skip("the plugin does not implement referralkit_register_ehr_adapters")
        for ehr in conformance_hooks.ehr_adapters().values():
            key = _key("fetch", 1)
            operations = supported_operations(ehr, "ehr")
            if "fetch_patient" in operations:
                record = ehr.fetch_patient(
                    PatientLookupRequest(idempotency_key=key, referral_id=_REFERRAL_ID, mrn="M-1")
                )
                assert record.idempotency_key == key
            if "fetch_documents" in operations:
                documents = ehr.fetch_documents(
                    DocumentsRequest(idempotency_key=key, referral_id=_REFERRAL_ID, mrn="M-1")
                )
                assert documents.idempotency_key == key
            if "find_slots" in operations:
                slots = ehr.find_slots(  # type: ignore[attr-defined]
                    SlotsRequest(
                        idempotency_key=key,
                        referral_id=_REFERRAL_ID,
                        specialty="cardiology",
                        start_after=_NOW,
                    )
                )
                assert isinstance(slots, SlotList)
                assert slots.idempotency_key == key

    def test_ehr_work_mirror_is_idempotent(self, conformance_hooks: Hooks) -> None:
        """An EHR that mirrors work logs each interaction and task state once per key.

        Skipped for EHR adapters that are not an :class:`~referralkit.ports.EhrWorkMirror`.
        """
        if not conformance_hooks.implemented("referralkit_register_ehr_adapters"):
            pytest.skip("the plugin does not implement referralkit_register_ehr_adapters")
        mirrors = [
            ehr
            for ehr in conformance_hooks.ehr_adapters().values()
            if isinstance(ehr, EhrWorkMirror)
        ]
        if not mirrors:
            pytest.skip("no EHR adapter of the plugin mirrors interactions and tasks")
        for ehr in mirrors:
            logged = InteractionMirrorRequest(
                idempotency_key=_key("log_interaction", 1),
                referral_id=_REFERRAL_ID,
                interaction_id=UUID(int=7),
                at=_NOW,
                channel=Channel.VOICE,
                direction=Direction.INBOUND,
                call_type="status_inquiry",
                summary=CANARY["body"],
            )
            pushed = TaskMirrorRequest(
                idempotency_key=_key("push_task", 1),
                referral_id=_REFERRAL_ID,
                task_id=UUID(int=8),
                queue="scheduling",
                title="Call the patient back",
                status=TaskStatus.OPEN,
                priority=TaskPriority.HIGH,
                due_at=_NOW + timedelta(hours=4),
            )
            for key, send in (
                (logged.idempotency_key, partial(ehr.log_interaction, logged)),
                (pushed.idempotency_key, partial(ehr.push_task, pushed)),
            ):
                first = send()
                again = send()
                assert first.idempotency_key == key
                assert again.provider_ref == first.provider_ref
                assert again.duplicate
                assert not _no_phi(first.model_dump_json()), "the receipt echoes PHI"

    # -- observer hooks ---------------------------------------------------------------------

    @pytest.mark.parametrize("hook", ["referralkit_on_event", "referralkit_on_transition"])
    def test_observers_accept_notices(
        self, conformance_hooks: Hooks, hook: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Observers take a notice without raising (a raise is logged by the facade)."""
        if not conformance_hooks.implemented(hook):
            pytest.skip(f"the plugin does not implement {hook}")
        notice = EventNotice(
            referral_id=_REFERRAL_ID,
            seq=2,
            kind="accept",
            from_state=ReferralStatus.RECEIVED,
            to_state=ReferralStatus.ACCEPTED,
            at=_NOW,
            actor_kind=ActorKind.SYSTEM,
            actor_role=Role.SYSTEM,
        )
        with caplog.at_level(logging.WARNING, logger="referralkit.plugins"):
            if hook == "referralkit_on_event":
                conformance_hooks.on_event(notice)
            else:
                conformance_hooks.on_transition(notice)
        assert "raised" not in caplog.text, caplog.text

    # -- contribution hooks -----------------------------------------------------------------

    def test_intake_checks_return_codes_without_phi(self, conformance_hooks: Hooks) -> None:
        """Intake checks are named and report field paths or codes, never PHI."""
        if not conformance_hooks.implemented("referralkit_add_intake_checks"):
            pytest.skip("the plugin does not implement referralkit_add_intake_checks")
        referral = canary_referral()
        checks: list[IntakeCheck] = conformance_hooks.intake_checks()
        for check in checks:
            assert isinstance(check, IntakeCheck)
            assert check.name
            problems = check(referral)
            assert all(isinstance(p, str) for p in problems)
            assert not _no_phi(" ".join(problems))

    def test_routing_rules_suggest_without_phi(self, conformance_hooks: Hooks) -> None:
        """Routing rules return None or a RoutingSuggestion that names no PHI."""
        if not conformance_hooks.implemented("referralkit_add_routing_rules"):
            pytest.skip("the plugin does not implement referralkit_add_routing_rules")
        referral = canary_referral()
        rules: list[RoutingRule] = conformance_hooks.routing_rules()
        for rule in rules:
            assert isinstance(rule, RoutingRule)
            assert rule.rule_id
            suggestion = rule.evaluate(referral, _NOW)
            if suggestion is not None:
                assert not _no_phi(suggestion.model_dump_json())

    def test_outreach_templates_render_text(self, conformance_hooks: Hooks) -> None:
        """Templates render to text and add no clinical details of their own."""
        if not conformance_hooks.implemented("referralkit_add_outreach_templates"):
            pytest.skip("the plugin does not implement referralkit_add_outreach_templates")
        templates: list[OutreachTemplate] = conformance_hooks.outreach_templates()
        ids = [(t.template_id, t.channel, t.language) for t in templates]
        assert len(ids) == len(set(ids)), "template ids repeat for one channel and language"
        for template in templates:
            assert isinstance(template, OutreachTemplate)
            text = template.render({"practice": "Heart Clinic", "callback": "+15550002222"})
            assert isinstance(text, str)
            assert text
            assert not _no_phi(text)
