"""FhirEhr against a real FHIR server on 127.0.0.1 (tests/fhir_server.py), not a patched client."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal
from uuid import UUID, uuid4

import httpx
import pytest

from referralkit.adapters.fhir import (
    FhirEhr,
    FhirPlugin,
    FhirSystems,
    SmartBackendServices,
    classify_response,
)
from referralkit.clock import ManualClock
from referralkit.errors import PermanentAdapterError, TransientAdapterError
from referralkit.model import (
    Appointment,
    AppointmentStatus,
    CancelReason,
    Coverage,
    Patient,
    PhoneContact,
    Practice,
    Provider,
    ReasonForReferral,
    Referral,
    ReferralStatus,
)
from referralkit.ports import (
    BookAppointmentRequest,
    CancelAppointmentRequest,
    Capability,
    DocumentPushRequest,
    DocumentRef,
    DocumentsRequest,
    PatientLookupRequest,
    StatusPushRequest,
    idempotency_key,
)
from referralkit.testing.conformance import PluginConformance
from tests.support.fhir_server import FhirTestServer, running, token_server

DATA = Path(__file__).parent / "data" / "fhir"
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
MRN_SYSTEM = "http://example.org/patient/identifiers"  # the US Core example's MRN system


@pytest.fixture
def server() -> Iterator[FhirTestServer]:
    with running() as server:
        yield server


@pytest.fixture
def ehr(server: FhirTestServer) -> Iterator[FhirEhr]:
    adapter = FhirEhr(
        server.url,
        timeout=5,
        clock=ManualClock(T0),
        systems=FhirSystems(mrn=MRN_SYSTEM),
    )
    yield adapter
    adapter.close()


def _example(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _key(action: str, n: int = 1) -> str:
    return idempotency_key(UUID(int=7), action, n)


def _push(status: ReferralStatus, n: int, referral_id: UUID, reason: str | None = None):
    return StatusPushRequest(
        idempotency_key=_key(f"push-{status.value}", n),
        referral_id=referral_id,
        status=status,
        at=T0,
        reason_code=reason,
    )


# -- the conformance kit ------------------------------------------------------------------


class ServerFaults:
    def __init__(self, server: FhirTestServer) -> None:
        self.server = server

    def inject(self, capability: Capability, kind: Literal["transient", "permanent"]) -> None:
        assert capability == "ehr"
        if kind == "transient":
            self.server.fail_next(503, "transient")
        else:
            self.server.fail_next(422, "business-rule")


class TestFhirEhrConforms(PluginConformance):
    @pytest.fixture
    def conformance_plugin(self, server: FhirTestServer, ehr: FhirEhr) -> FhirPlugin:
        # The kit cancels appointment "ext-1": the sandbox EHR holds it, as a vendor's would.
        server.seed(
            {
                "resourceType": "Appointment",
                "id": "ext-1",
                "status": "booked",
                "start": "2025-01-09T15:00:00Z",
                "end": "2025-01-09T15:30:00Z",
                "participant": [{"actor": {"display": "patient"}, "status": "accepted"}],
            }
        )
        return FhirPlugin.of(ehr)

    @pytest.fixture
    def conformance_faults(self, server: FhirTestServer) -> ServerFaults:
        return ServerFaults(server)


# -- reads ---------------------------------------------------------------------------------


def _seed_us_core_patient(server: FhirTestServer) -> None:
    server.seed(_example("uscore-patient-example.json"))
    server.seed(_example("uscore-organization-acme-payer.json"))
    server.seed(_example("uscore-coverage-example.json"))


def test_fetch_patient_maps_the_us_core_example_and_its_coverage(server, ehr):
    _seed_us_core_patient(server)
    record = ehr.fetch_patient(
        PatientLookupRequest(idempotency_key=_key("read"), referral_id=uuid4(), mrn="1032702")
    )
    assert record.patient is not None
    # The current (usual) name, not the old one; the current address, not the old one.
    assert (record.patient.given_name, record.patient.family_name) == ("Amy", "Baxter")
    assert record.patient.middle_name == "V."
    assert record.patient.birth_date == date(1987, 2, 20)
    assert record.patient.mrn == "1032702"
    # The example's phone (555-555-5555) is not a real number range: intake's own phone
    # validation leaves it out rather than store it.
    assert record.patient.phones == ()
    assert record.patient.address is not None
    assert (record.patient.address.line1, record.patient.address.postal_code) == (
        "183 MOUNTAIN VIEW ST",
        "74048",
    )
    assert record.patient.email == "amy.shaw@example.com"
    assert record.patient.preferred_language == "es"
    # The payer's name is read from the Organization the Coverage references.
    assert record.coverage == (
        Coverage(
            payer_name="Acme Health Plan",
            payer_id="55555",
            member_id="88800933501",
            group_number="xyz",
            plan_name="Acme Gold Plan",
        ),
    )


def test_unknown_mrn_returns_no_patient(ehr):
    record = ehr.fetch_patient(
        PatientLookupRequest(idempotency_key=_key("read"), referral_id=uuid4(), mrn="nobody")
    )
    assert record.patient is None
    assert record.coverage == ()


def test_searches_keep_the_mrn_out_of_every_url(server, ehr):
    _seed_us_core_patient(server)
    ehr.fetch_patient(
        PatientLookupRequest(idempotency_key=_key("read"), referral_id=uuid4(), mrn="1032702")
    )
    ehr.fetch_documents(
        DocumentsRequest(idempotency_key=_key("docs"), referral_id=uuid4(), mrn="1032702")
    )
    assert server.requests
    assert all("1032702" not in path for _, path, _, _ in server.requests)


def test_fetch_documents_filters_by_kind(server, ehr):
    _seed_us_core_patient(server)
    patient_id = server.all("Patient")[0]["id"]
    for code in ("11488-4", "18842-5"):
        server.seed(
            {
                "resourceType": "DocumentReference",
                "identifier": [{"system": "urn:docs", "value": f"doc-{code}"}],
                "status": "current",
                "type": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": f"Patient/{patient_id}"},
                "content": [{"attachment": {"contentType": "text/plain", "url": "urn:x"}}],
            }
        )
    found = ehr.fetch_documents(
        DocumentsRequest(
            idempotency_key=_key("docs"), referral_id=uuid4(), mrn="1032702", kinds=("11488-4",)
        )
    )
    assert [(d.document_id, d.kind, d.content_type) for d in found.documents] == [
        ("doc-11488-4", "11488-4", "text/plain")
    ]


# -- writes --------------------------------------------------------------------------------


def test_push_status_creates_the_task_then_updates_it_with_if_match(server, ehr):
    referral_id = uuid4()
    first = ehr.push_status(_push(ReferralStatus.ACCEPTED, 1, referral_id))
    [task] = server.all("Task")
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == ("accepted", "3.0")
    assert task["meta"]["versionId"] == "1"
    assert first.provider_ref.startswith(f"Task/{task['id']}")

    ehr.push_status(_push(ReferralStatus.SCHEDULED, 1, referral_id))
    [task] = server.all("Task")
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == (
        "in-progress",
        "5.1.1",
    )
    assert task["meta"]["versionId"] == "2"
    put = [r for r in server.requests if r[0] == "PUT"]
    assert put[-1][2]["If-Match"] == 'W/"1"'


def test_no_show_keeps_the_task_in_progress(server, ehr):
    referral_id = uuid4()
    ehr.push_status(_push(ReferralStatus.SCHEDULED, 1, referral_id))
    ehr.push_status(_push(ReferralStatus.READY_TO_SCHEDULE, 1, referral_id, reason="no_show"))
    [task] = server.all("Task")
    assert task["status"] == "in-progress"
    assert task["businessStatus"]["coding"][0]["code"] == "5.1.2"


def test_a_stale_version_is_transient_and_the_retry_succeeds(server, ehr):
    referral_id = uuid4()
    ehr.push_status(_push(ReferralStatus.ACCEPTED, 1, referral_id))
    server.fail_next(412, "conflict")  # someone else wrote the Task in between
    request = _push(ReferralStatus.DECLINED, 1, referral_id, reason="decline:no_capacity")
    with pytest.raises(TransientAdapterError, match="412"):
        ehr.push_status(request)
    receipt = ehr.push_status(request)  # the desk's retry: the same key, read again
    assert not receipt.duplicate
    assert server.all("Task")[0]["status"] == "rejected"


def test_push_status_moves_the_order_only_when_its_status_changes(server, ehr):
    referral = _referral()
    ehr.put_referral(referral)
    ehr.push_status(_push(ReferralStatus.DECLINED, 1, referral.id, reason="decline:other"))
    assert server.all("ServiceRequest")[0]["status"] == "active"  # a decline revokes nothing
    ehr.push_status(_push(ReferralStatus.CANCELLED, 1, referral.id, reason="cancel:duplicate"))
    assert server.all("ServiceRequest")[0]["status"] == "revoked"


def test_put_referral_twice_creates_nothing_twice(server, ehr):
    referral = _referral()
    first = ehr.put_referral(referral)
    counts = {kind: len(server.all(kind)) for kind in ("Patient", "Task", "ServiceRequest")}
    second = ehr.put_referral(referral)
    assert counts == {"Patient": 1, "Task": 1, "ServiceRequest": 1}
    assert {kind: len(server.all(kind)) for kind in counts} == counts
    assert first == second
    [order] = server.all("ServiceRequest")
    assert order["subject"]["reference"] == f"Patient/{server.all('Patient')[0]['id']}"


def test_book_then_cancel_an_appointment(server, ehr):
    referral_id = uuid4()
    appointment_id = uuid4()
    booking = BookAppointmentRequest(
        idempotency_key=_key("book"),
        referral_id=referral_id,
        appointment_id=appointment_id,
        mrn="M-77",
        start=T0 + timedelta(days=3),
        provider_npi="1245319599",
        location="Suite 200",
    )
    receipt = ehr.book_appointment(booking)
    [stored] = server.all("Appointment")
    assert stored["status"] == "booked"
    assert receipt.external_id == stored["id"]
    # A new process (empty ledger) repeating the booking finds the first (If-None-Exist).
    with FhirEhr(server.url, clock=ManualClock(T0)) as fresh:
        again = fresh.book_appointment(booking)
    assert again.duplicate
    assert again.external_id == receipt.external_id
    assert len(server.all("Appointment")) == 1

    ehr.cancel_appointment(
        CancelAppointmentRequest(
            idempotency_key=_key("cancel"),
            referral_id=referral_id,
            appointment_id=appointment_id,
            external_id=receipt.external_id,
            reason=CancelReason.PATIENT_REQUEST,
        )
    )
    [stored] = server.all("Appointment")
    assert stored["status"] == "cancelled"
    assert stored["cancelationReason"]["coding"][0]["code"] == "patient_request"


def test_cancelling_an_unknown_appointment_is_permanent(ehr):
    with pytest.raises(PermanentAdapterError, match="404"):
        ehr.cancel_appointment(
            CancelAppointmentRequest(
                idempotency_key=_key("cancel"),
                referral_id=uuid4(),
                appointment_id=uuid4(),
                external_id="nope",
                reason=CancelReason.OTHER,
            )
        )


# -- auth and faults -------------------------------------------------------------------------


class RotatingToken:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def __call__(self, *, refresh: bool = False) -> str:
        self.calls.append(refresh)
        return "fresh" if refresh else "expired"


def test_a_refused_token_is_refreshed_once(server):
    server.tokens = {"fresh"}
    source = RotatingToken()
    with FhirEhr(server.url, token_source=source, clock=ManualClock(T0)) as adapter:
        adapter.push_status(_push(ReferralStatus.ACCEPTED, 1, uuid4()))
    assert source.calls[:2] == [False, True]
    assert server.requests[1][2]["Authorization"] == "Bearer fresh"


def test_a_token_refused_twice_is_permanent(server):
    server.tokens = {"never"}
    with (
        FhirEhr(server.url, token_source=RotatingToken(), clock=ManualClock(T0)) as adapter,
        pytest.raises(PermanentAdapterError, match="401"),
    ):
        adapter.push_status(_push(ReferralStatus.ACCEPTED, 1, uuid4()))


def test_a_server_that_never_answers_is_a_transient_timeout():
    with socket.socket() as silent:  # listens, never accepts: the request times out
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        adapter = FhirEhr(f"http://127.0.0.1:{port}/fhir", timeout=0.3, clock=ManualClock(T0))
        with adapter, pytest.raises(TransientAdapterError, match="timed out"):
            adapter.push_status(_push(ReferralStatus.ACCEPTED, 1, uuid4()))


def test_a_refused_connection_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        adapter = FhirEhr(f"http://127.0.0.1:{port}/fhir", timeout=1, clock=ManualClock(T0))
        with adapter, pytest.raises(TransientAdapterError, match="unreachable"):
            adapter.push_status(_push(ReferralStatus.ACCEPTED, 1, uuid4()))


def _outcome(status: int, *codes: str) -> httpx.Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": c, "diagnostics": "Canary Patient"} for c in codes
        ],
    }
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("status", "codes", "transient"),
    [
        (503, (), True),
        (429, ("throttled",), True),
        (412, ("conflict",), True),
        (400, ("invalid",), False),
        (422, ("business-rule",), False),
        (404, ("not-found",), False),
        (400, ("transient",), True),  # the outcome says retry, whatever the status
        (403, ("forbidden",), False),
    ],
)
def test_classification_from_status_and_operation_outcome(status, codes, transient):
    error = classify_response(_outcome(status, *codes), adapter="fhir", operation="push_status")
    assert isinstance(error, TransientAdapterError if transient else PermanentAdapterError)
    assert "Canary" not in str(error)  # diagnostics can quote PHI: never repeated


def test_the_server_rejects_an_invalid_resource_with_a_permanent_error(server, ehr):
    # The test server validates with fhir.resources: prove it refuses what is not FHIR.
    response = httpx.post(
        f"{server.url}/Task",
        json={"resourceType": "Task", "status": "sideways", "intent": "order"},
    )
    assert response.status_code == 400
    error = classify_response(response, adapter="fhir", operation="x")
    assert isinstance(error, PermanentAdapterError)


def _referral() -> Referral:
    return Referral(
        status=ReferralStatus.RECEIVED,
        referral_number="R-9",
        patient=Patient(
            given_name="Ana",
            family_name="Ruiz",
            birth_date=date(1980, 2, 3),
            mrn="MRN-9",
            phones=(PhoneContact(number="+13125550123"),),
        ),
        referring_practice=Practice(name="Lakeside Family Medicine", npi="1234567893"),
        receiving_provider=Provider(name="Dr Heart", npi="1245319599"),
        specialty="cardiology",
        reason=ReasonForReferral(icd10_codes=("I10",)),
        coverage=Coverage(payer_name="Acme Health", member_id="M-1"),
        appointments=(Appointment(start=T0, status=AppointmentStatus.BOOKED),),
        created_at=T0,
    )


# -- SMART backend services ------------------------------------------------------------------


class FakeSigner:
    """Stands in for the host's JWT library: returns the claims as text, records them."""

    def __init__(self) -> None:
        self.claims: list[dict] = []

    def __call__(self, claims) -> str:
        self.claims.append(dict(claims))
        return f"signed.{claims['jti']}"


def test_smart_backend_services_posts_a_signed_assertion_and_caches_the_token():
    signer = FakeSigner()
    clock = ManualClock(T0)
    with token_server(lifetime=300) as tokens:
        source = SmartBackendServices(tokens.url, "referralkit-client", signer, clock=clock)
        assert source() == "token-1"
        assert source() == "token-1"  # cached: one request
        [form] = tokens.forms
        assert form["grant_type"] == ["client_credentials"]
        assert form["client_assertion_type"] == [
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ]
        assert form["client_assertion"] == [f"signed.{signer.claims[0]['jti']}"]
        assert signer.claims[0]["aud"] == tokens.url
        assert signer.claims[0]["iss"] == signer.claims[0]["sub"] == "referralkit-client"
        clock.advance(timedelta(seconds=241))  # within a minute of expiry: renewed
        assert source() == "token-2"
        assert source(refresh=True) == "token-3"
        assert len({c["jti"] for c in signer.claims}) == 3  # a fresh assertion each time


@pytest.mark.parametrize(("status", "error"), [(503, TransientAdapterError),
                                               (401, PermanentAdapterError)])  # fmt: skip
def test_smart_token_endpoint_faults_are_classified(status, error):
    with token_server() as tokens:
        tokens.fail_with.append(status)
        source = SmartBackendServices(tokens.url, "client", FakeSigner(), clock=ManualClock(T0))
        with pytest.raises(error, match=str(status)):
            source()


def test_fhir_ehr_authorizes_with_smart_backend_services(server):
    with token_server() as tokens:
        source = SmartBackendServices(tokens.url, "client", FakeSigner(), clock=ManualClock(T0))
        server.tokens = {"token-1"}
        with FhirEhr(server.url, token_source=source, clock=ManualClock(T0)) as adapter:
            adapter.push_status(_push(ReferralStatus.ACCEPTED, 1, uuid4()))
        assert server.requests[0][2]["Authorization"] == "Bearer token-1"
        assert len(server.all("Task")) == 1


def test_the_consult_report_is_pushed_as_one_communication(server, ehr):
    referral_id = UUID(int=11)

    def push(n: int) -> DocumentPushRequest:
        return DocumentPushRequest(
            idempotency_key=_key("consult_report@report-9", n),
            referral_id=referral_id,
            recipient="org-maple",
            recipient_name="Maple Street Family Medicine",
            recipient_npi="1234567893",
            documents=(DocumentRef(document_id="report-9", kind="consult_report"),),
        )

    first = ehr.push_document(push(1))
    assert not first.duplicate
    [sent] = server.all("Communication")
    assert sent["status"] == "completed"
    assert sent["recipient"][0]["identifier"] == {
        "system": "http://hl7.org/fhir/sid/us-npi",
        "value": "1234567893",
    }
    reference = sent["payload"][0]["contentReference"]
    assert (reference["type"], reference["identifier"]["value"]) == (
        "DocumentReference",
        "report-9",
    )
    assert sent["basedOn"][0]["identifier"]["value"] == str(referral_id)
    # A second attempt (a new key, after a crash) finds the first: one Communication.
    again = ehr.push_document(push(2))
    assert again.duplicate
    assert again.provider_ref.split("/")[:2] == first.provider_ref.split("/")[:2]
    assert len(server.all("Communication")) == 1
