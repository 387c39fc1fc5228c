"""FHIR R4 mapping: export validates, round trips keep mapped fields, published examples read."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit.adapters.fhir import (
    ConsultReport,
    FhirSystems,
    coverage_from_fhir,
    export_referral,
    patient_from_fhir,
    read_appointment_update,
    read_service_request,
    read_task_update,
)
from referralkit.adapters.fhir._validate import model_class
from referralkit.clock import ManualClock
from referralkit.errors import FhirResourceError, ReferralKitError
from referralkit.lifecycle import TRIGGER_DATA, crosswalk_referral
from referralkit.model import (
    Actor,
    ActorKind,
    Address,
    Appointment,
    AppointmentStatus,
    Coverage,
    Patient,
    PhoneContact,
    PhoneKind,
    Practice,
    Priority,
    Provider,
    ReasonForReferral,
    Referral,
    ReferralStatus,
    Role,
    StatusReason,
)

DATA = Path(__file__).parent / "data" / "fhir"
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
CLOCK = ManualClock(T0)
REFERRAL_ID = UUID("6a1f5b0e-1c2d-4e3f-8a9b-0c1d2e3f4a5b")
S = ReferralStatus


def full_referral(**overrides: Any) -> Referral:
    fields: dict[str, Any] = {
        "id": REFERRAL_ID,
        "status": S.RECEIVED,
        "referral_number": "R-2041",
        "priority": Priority.URGENT,
        "patient": Patient(
            given_name="Ana",
            middle_name="Maria",
            family_name="Ruiz",
            birth_date=date(1980, 2, 3),
            mrn="MRN-4411",
            phones=(
                PhoneContact(number="+13125550123", kind=PhoneKind.MOBILE),
                PhoneContact(number="+16175550199", kind=PhoneKind.HOME),
            ),
            email="ana.ruiz@example.org",
            address=Address(
                line1="1 Main St",
                line2="Apt 4",
                city="Springfield",
                state="IL",
                postal_code="62701",
            ),
            preferred_language="es",
        ),
        "referring_practice": Practice(
            name="Lakeside Family Medicine",
            npi="1234567893",
            phone="+13125550100",
            fax="+13125550101",
        ),
        "referring_provider": Provider(name="Dr Lee Park", npi="1245319599"),
        "receiving_practice": Practice(name="Heart Clinic", npi="1679576722"),
        "receiving_provider": Provider(name="Dr Okafor", npi="1003000126"),
        "specialty": "cardiology",
        "reason": ReasonForReferral(icd10_codes=("I10", "R07.9"), text="chest pain on exertion"),
        "coverage": Coverage(
            payer_name="Acme Health",
            payer_id="ACME-1",
            member_id="M88",
            group_number="G-7",
            plan_name="Gold PPO",
        ),
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(overrides)
    return Referral(**fields)


def _example(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _export(referral: Referral, **kwargs: Any):
    return export_referral(referral, recorded_at=T0, **kwargs)


# -- export ----------------------------------------------------------------------------------


def _each_state() -> list[Referral]:
    booked = Appointment(
        start=T0 + timedelta(days=2),
        location="Suite 2",
        provider=Provider(name="Dr Okafor", npi="1003000126"),
    )
    reasons = {
        S.DECLINED: StatusReason(kind="decline", code="no_capacity", text="full until June"),
        S.CANCELLED: StatusReason(kind="cancel", code="duplicate"),
        S.LOST: StatusReason(kind="lost", code="unreachable"),
        S.ON_HOLD: StatusReason(kind="hold", text="awaiting records"),
    }
    return [
        full_referral(
            status=state,
            status_reason=reasons.get(state),
            appointments=(booked,) if state is S.SCHEDULED else (),
        )
        for state in ReferralStatus
    ]


@pytest.mark.parametrize("referral", _each_state(), ids=lambda r: r.status.value)
def test_every_exported_resource_validates_on_its_own(referral):
    exported = _export(
        referral,
        consult_report=ConsultReport("consult-1", created=T0),
        actors=[Actor(kind=ActorKind.AI, id="ai-receptionist", role=Role.INTAKE)],
    )
    bundle = exported.as_dict()
    assert bundle["type"] == "transaction"
    kinds = set()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        kinds.add(resource["resourceType"])
        model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"].startswith("urn:uuid:")
        if resource["resourceType"] != "Provenance":
            system, _, value = (
                entry["request"]["ifNoneExist"].removeprefix("identifier=").partition("|")
            )
            assert {"system": system, "value": value}.items() <= resource["identifier"][0].items()
    assert kinds >= {
        "ServiceRequest",
        "Task",
        "Patient",
        "Coverage",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "DocumentReference",
        "Communication",
        "Provenance",
    }


def test_export_is_stable():
    referral = full_referral()
    assert _export(referral).json() == _export(referral).json()


def test_export_carries_npis_and_the_crosswalk_codes():
    referral = full_referral(status=S.SCHEDULED, appointments=(Appointment(start=T0),))
    exported = _export(referral, due_at=T0 + timedelta(days=5))
    [task] = exported.resources("Task")
    [order] = exported.resources("ServiceRequest")
    assert (task["status"], order["status"]) == ("in-progress", "active")
    assert task["businessStatus"]["coding"][0] == {
        "system": "http://hl7.org/fhir/us/bser/CodeSystem/TaskBusinessStatusCS",
        "code": "5.1.1",
        "display": "Service Request Event Scheduled",
    }
    assert task["restriction"]["period"]["end"] == "2026-03-07T14:00:00+00:00"
    assert order["priority"] == "urgent"
    assert {c["code"] for r in order["reasonCode"] for c in r.get("coding", [])} == {
        "I10",
        "R07.9",
    }
    npis = {
        i["value"]
        for kind in ("Organization", "Practitioner")
        for r in exported.resources(kind)
        for i in r["identifier"]
        if i["system"] == "http://hl7.org/fhir/sid/us-npi"
    }
    assert npis == {"1234567893", "1245319599", "1679576722", "1003000126"}


def test_consult_report_is_a_loinc_consult_note_related_to_the_order():
    exported = _export(full_referral(status=S.CLOSED), consult_report=ConsultReport("c-9"))
    [document] = exported.resources("DocumentReference")
    assert document["type"]["coding"][0]["code"] == "11488-4"
    order_url = next(
        e["fullUrl"]
        for e in exported.as_dict()["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
    )
    assert document["context"]["related"] == [{"reference": order_url}]
    [task] = exported.resources("Task")
    report_url = next(
        e["fullUrl"]
        for e in exported.as_dict()["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    )
    assert task["output"][0]["valueReference"]["reference"] == report_url
    # The message that carried it back references the document actually sent.
    [message] = exported.resources("Communication")
    assert message["payload"] == [{"contentReference": {"reference": report_url}}]
    assert message["basedOn"] == [{"reference": order_url}]


def test_provenance_names_the_ai_receptionist_as_a_device():
    ai = Actor(kind=ActorKind.AI, id="ai-receptionist", role=Role.INTAKE)
    [provenance] = _export(full_referral(), actors=[ai]).resources("Provenance")
    [agent] = provenance["agent"]
    assert agent["who"]["type"] == "Device"
    assert agent["who"]["identifier"]["value"] == "ai-receptionist"
    assert agent["type"]["coding"][0]["code"] == "enterer"


def test_what_fhir_does_not_carry_is_reported():
    referral = full_referral(flags=("stated_urgent_priority",))
    patient = referral.patient.model_copy(update={"time_zone": "America/Chicago"})
    exported = _export(referral.model_copy(update={"patient": patient}))
    assert {"patient.time_zone", "flags"} <= set(exported.unmapped)
    assert _export(full_referral()).unmapped == ()


# -- round trips -------------------------------------------------------------------------------


def _mapped(referral: Referral) -> dict[str, Any]:
    """The fields a FHIR round trip promises to keep."""
    patient = referral.patient
    return {
        "id": referral.id,
        "referral_number": referral.referral_number,
        "priority": referral.priority,
        "patient": patient.model_dump(
            include={
                "given_name",
                "middle_name",
                "family_name",
                "birth_date",
                "mrn",
                "email",
                "address",
                "preferred_language",
            }
        ),
        "phones": [(p.number, p.kind) for p in patient.phones],
        "referring_practice": referral.referring_practice.model_dump(
            include={"name", "npi", "phone", "fax"}
        ),
        "referring_provider": referral.referring_provider,
        "receiving_practice": referral.receiving_practice.model_dump(include={"name", "npi"}),
        "receiving_provider": referral.receiving_provider,
        "specialty": referral.specialty,
        "reason": referral.reason,
        "coverage": referral.coverage,
    }


def test_round_trip_keeps_every_mapped_field():
    referral = full_referral()
    back = read_service_request(_export(referral).json(), clock=CLOCK)
    assert back.complete, (back.missing, back.result.issues)
    assert back.issues == ()
    assert _mapped(back.referral) == _mapped(referral)
    assert back.referral.status is S.INTAKE  # intake decides the rest, as for a phone call


NAMES = st.sampled_from(["Ana", "Li", "Omar", "Grace", "Mary-Jane", "Noor", "Tomas"])
PHONES = st.sampled_from(["+13125550123", "+16175550199", "+12025550143", "+14155550187"])
# Disjoint pools: one NPI is one clinician or practice, so the export rightly merges two
# parties that share an NPI; the two sides never share one here.
NPIS = st.sampled_from(["1234567893", "1245319599"])
RECEIVING_NPIS = st.sampled_from(["1679576722", "1003000126"])
ICD = st.sampled_from(["I10", "R07.9", "E11.9", "M54.5", "U07.1"])


@st.composite
def referrals(draw: st.DrawFn) -> Referral:
    provider = draw(
        st.none() | st.builds(Provider, name=NAMES.map(lambda n: f"Dr {n}"), npi=st.none() | NPIS)
    )
    practice = draw(
        st.builds(
            Practice,
            name=NAMES.map(lambda n: f"{n} Clinic"),
            npi=st.none() | NPIS,
            fax=st.none() | PHONES,
        )
    )
    return full_referral(
        id=draw(st.uuids(version=4)),
        priority=draw(st.sampled_from(Priority)),
        referral_number=draw(st.none() | st.from_regex(r"R-[0-9]{3,6}", fullmatch=True)),
        patient=Patient(
            given_name=draw(NAMES),
            family_name=draw(NAMES),
            middle_name=draw(st.none() | NAMES),
            birth_date=draw(st.dates(date(1920, 1, 1), date(2025, 12, 31))),
            mrn=draw(st.none() | st.from_regex(r"[A-Z]{2}[0-9]{4,8}", fullmatch=True)),
            phones=tuple(
                PhoneContact(
                    number=n,
                    kind=draw(st.sampled_from(PhoneKind)),
                )
                for n in draw(st.lists(PHONES, min_size=1, max_size=3, unique=True))
            ),
        ),
        referring_practice=practice,
        referring_provider=provider,
        receiving_provider=draw(st.none() | st.builds(Provider, name=NAMES, npi=RECEIVING_NPIS)),
        reason=ReasonForReferral(
            icd10_codes=tuple(draw(st.lists(ICD, max_size=3, unique=True))),
            text=draw(st.sampled_from([None, "follow-up", "chest pain"])),
        ).model_copy(),
        coverage=draw(
            st.none()
            | st.builds(
                Coverage,
                payer_name=NAMES,
                member_id=st.just("M1"),
                group_number=st.none() | st.just("G-2"),
            )
        ),
    )


@given(referrals())
def test_round_trip_property(referral):
    if not (referral.reason.text or referral.reason.icd10_codes):
        referral = referral.model_copy(update={"reason": ReasonForReferral(text="review")})
    back = read_service_request(_export(referral).as_dict(), clock=CLOCK)
    assert back.complete, back.missing
    assert _mapped(back.referral) == _mapped(referral)


def _appointment(status: AppointmentStatus) -> Appointment:
    return Appointment(start=T0, status=status)


TASK_ROUND_TRIPS = [
    (full_referral(status=S.ACCEPTED), "accept", {}),
    (
        full_referral(
            status=S.DECLINED,
            status_reason=StatusReason(kind="decline", code="no_capacity", text="full"),
        ),
        "decline",
        {"reason": "no_capacity", "note": "full"},
    ),
    (
        full_referral(
            status=S.CANCELLED, status_reason=StatusReason(kind="cancel", code="duplicate")
        ),
        "cancel",
        {"reason": "duplicate"},
    ),
    (
        full_referral(status=S.LOST, status_reason=StatusReason(kind="lost", code="unreachable")),
        "mark_lost",
        {"reason": "unreachable"},
    ),
    (
        full_referral(
            status=S.ON_HOLD, status_reason=StatusReason(kind="hold", text="awaiting records")
        ),
        "hold",
        {"reason": "awaiting records"},
    ),
    (full_referral(status=S.VISIT_COMPLETED), "complete_visit", {}),
    (
        full_referral(
            status=S.READY_TO_SCHEDULE, appointments=(_appointment(AppointmentStatus.NO_SHOW),)
        ),
        "no_show",
        {},
    ),
    (
        full_referral(
            status=S.READY_TO_SCHEDULE, appointments=(_appointment(AppointmentStatus.CANCELLED),)
        ),
        "cancel_appointment",
        {"reason": "other"},
    ),
    (
        full_referral(
            status=S.ENTERED_IN_ERROR,
            status_reason=StatusReason(kind="error", text="wrong patient"),
        ),
        "mark_error",
        {"reason": "wrong patient"},
    ),
]


@pytest.mark.parametrize(
    ("referral", "trigger", "data"), TASK_ROUND_TRIPS, ids=[t for _, t, _ in TASK_ROUND_TRIPS]
)
def test_exported_task_reads_back_as_the_trigger_that_made_it(referral, trigger, data):
    [task] = _export(referral).resources("Task")
    update = read_task_update(task)
    assert update.trigger == trigger, update.issues
    enums = TRIGGER_DATA[trigger].model_validate(data).model_dump(exclude_none=True)
    assert update.data == enums
    assert update.referral_id == referral.id


def test_close_loop_reads_the_consult_report_reference():
    exported = _export(full_referral(status=S.CLOSED), consult_report=ConsultReport("c-1"))
    update = read_task_update(exported.resources("Task")[0])
    assert update.trigger == "close_loop"
    [document] = [
        e
        for e in exported.as_dict()["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]
    assert update.data == {"report_reference": document["fullUrl"]}


@pytest.mark.parametrize("state", [S.INTAKE, S.RECEIVED, S.READY_TO_SCHEDULE, S.SCHEDULED])
def test_tasks_that_move_nothing_say_so(state):
    update = read_task_update(_export(full_referral(status=state)).resources("Task")[0])
    assert update.trigger is None
    assert update.issues


def test_no_show_keeps_the_task_in_progress_in_the_crosswalk():
    codes = crosswalk_referral(
        full_referral(
            status=S.READY_TO_SCHEDULE, appointments=(_appointment(AppointmentStatus.NO_SHOW),)
        )
    )
    assert (codes.task_status, codes.business_status.bser) == ("in-progress", "5.1.2")
    plain = crosswalk_referral(full_referral(status=S.READY_TO_SCHEDULE))
    assert plain.task_status == "ready"


def test_exported_appointment_reads_back_as_schedule():
    booked = Appointment(
        start=T0 + timedelta(days=1),
        duration_minutes=45,
        location="Suite 2",
        provider=Provider(name="Dr Okafor", npi="1003000126"),
    )
    referral = full_referral(status=S.SCHEDULED, appointments=(booked,))
    [appointment] = _export(referral).resources("Appointment")
    update = read_appointment_update(appointment)
    assert update.trigger == "schedule"
    assert update.data["appointment"] == booked.model_dump(exclude_none=True)
    assert update.occurred_at == booked.start


@pytest.mark.parametrize(
    ("status", "trigger"),
    [
        ("noshow", "no_show"),
        ("cancelled", "cancel_appointment"),
        ("fulfilled", "complete_visit"),
        ("proposed", None),
    ],
)
def test_appointment_statuses_map_to_triggers(status, trigger):
    appointment = _example("fhir-r4-appointment-example.json") | {"status": status}
    assert read_appointment_update(appointment).trigger == trigger


# -- published examples ---------------------------------------------------------------------


PUBLISHED = sorted(p.name for p in DATA.glob("*.json"))


@pytest.mark.parametrize("name", PUBLISHED)
def test_every_published_example_reads_or_is_refused_with_a_reason(name):
    resource = _example(name)
    readers = {
        "ServiceRequest": read_service_request,
        "Task": read_task_update,
        "Appointment": read_appointment_update,
        "Patient": patient_from_fhir,
        "Coverage": coverage_from_fhir,
    }
    reader = readers.get(resource["resourceType"])
    if reader is None:  # Organization, Practitioner: read as part of an order, validated here
        model_class(resource["resourceType"]).model_validate(resource)
        return
    result = reader(resource)
    if resource["resourceType"] == "ServiceRequest":
        # None of these orders holds its patient: intake lists what is missing, and the
        # unresolved references are reported, never a half-built referral.
        assert not result.complete
        assert "patient.given_name" in result.missing
        assert any(i.code == "unresolved_reference" for i in result.issues)


def test_bser_task_with_a_requested_status_moves_nothing():
    update = read_task_update(_example("bser-task-referral-task.json"))
    assert update.trigger is None
    assert update.focus == "ServiceRequest/servicerequest-bser-referral-servicerequest-arthritis"


def test_sdoh_fulfilment_task_accepted_reads_as_accept():
    update = read_task_update(_example("sdohcc-task-orderfulfillment-example-1.json"))
    assert update.trigger == "accept"
    assert update.recorded_at == datetime(2020, 11, 5, 22, 41, 13, 982000, tzinfo=UTC)


def test_published_appointment_reads_as_schedule_with_time_place_and_clinician():
    update = read_appointment_update(_example("fhir-r4-appointment-example.json"))
    assert update.trigger == "schedule"
    appointment = update.data["appointment"]
    assert appointment["start"] == datetime(2013, 12, 10, 9, 0, tzinfo=UTC)
    assert appointment["duration_minutes"] == 120
    assert appointment["location"] == "South Wing, second floor"
    assert appointment["provider"] == {"name": "Dr Adam Careful"}
    assert appointment["external_id"] == "example"
    assert update.focus == "ServiceRequest/myringotomy"


def test_us_core_order_bundled_with_its_patient_goes_through_intake():
    order = _example("uscore-servicerequest-rehab.json")
    patient = _example("uscore-patient-example.json")
    practitioner = _example("uscore-practitioner-1.json")
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"http://example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r}
            for r in (order, patient, practitioner)
        ],
    }
    result = read_service_request(bundle, clock=CLOCK)
    captured = set(result.result.captured)
    assert {
        "patient.given_name",
        "patient.family_name",
        "patient.birth_date",
        "referring_provider.name",
    } <= captured
    # The example's phone (555-555-5555) is fictional, and its NPI (994...) starts with
    # neither 1 nor 2 as every issued NPI does: intake refuses both as it would on a call, so
    # the referral is not built and the reasons are named.
    assert not result.complete
    assert sorted(i.path for i in result.result.issues) == [
        "patient.phones.0",
        "referring_provider.npi",
    ]
    assert "Patient.extension" in {i.path for i in result.issues}


# -- refusals -------------------------------------------------------------------------------


def test_unmappable_order_content_is_reported():
    order = _export(full_referral()).resources("ServiceRequest")[0]
    order["note"] = [{"text": "bring previous ECGs"}]
    order["bodySite"] = [{"text": "heart"}]
    bundle = _export(full_referral()).as_dict()
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "ServiceRequest":
            entry["resource"] = order
    result = read_service_request(bundle, clock=CLOCK)
    assert result.complete
    assert {"ServiceRequest.note", "ServiceRequest.bodySite"} <= {i.path for i in result.issues}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("not json", "not_json"),
        (b"[1, 2]", "unexpected_type"),
        ({"resourceType": "Patient"}, "unexpected_type"),
        ({"resourceType": "NoSuchThing"}, "unexpected_type"),
        ({"resourceType": "ServiceRequest", "status": "active"}, "invalid_resource"),
        ({"resourceType": "Bundle", "type": "collection"}, "no_service_request"),
        (
            {
                "resourceType": "ServiceRequest",
                "status": "revoked",
                "intent": "order",
                "subject": {"reference": "Patient/1"},
            },
            "not_an_open_order",
        ),
    ],
)
def test_refusals_are_typed(data, code):
    with pytest.raises(FhirResourceError) as caught:
        read_service_request(data)
    assert caught.value.code == code


def test_refusal_messages_hold_no_values():
    order = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/1", "display": ["Canarygiven"]},
    }
    with pytest.raises(FhirResourceError) as caught:
        read_service_request(order)
    text = str(caught.value) + repr(caught.value.errors())
    assert "Canarygiven" not in text
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_systems_can_name_the_ehr_mrn_system():
    systems = FhirSystems(mrn="http://ehr.example.org/mrn")
    [patient] = _export(full_referral(), systems=systems).resources("Patient")
    assert patient["identifier"][0]["system"] == "http://ehr.example.org/mrn"
    back = read_service_request(
        _export(full_referral(), systems=systems).json(), systems=systems, clock=CLOCK
    )
    assert back.referral.patient.mrn == "MRN-4411"


# -- hypothesis: mutated resources raise only typed errors -----------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, original: dict[str, Any]) -> Any:
    data = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return data


EXPORTED = _export(
    full_referral(status=S.SCHEDULED, appointments=(Appointment(start=T0, location="Suite 2"),)),
    consult_report=ConsultReport("c-1"),
)


@given(mutated(EXPORTED.as_dict()))
def test_mutated_bundles_raise_only_typed_errors(data):
    with contextlib.suppress(ReferralKitError):
        read_service_request(data, clock=CLOCK)


@given(mutated(EXPORTED.resources("Task")[0]))
def test_mutated_tasks_raise_only_typed_errors(data):
    with contextlib.suppress(ReferralKitError):
        read_task_update(data)


@given(
    mutated(EXPORTED.resources("Appointment")[0])
    | mutated(_example("fhir-r4-appointment-example.json"))
)
def test_mutated_appointments_raise_only_typed_errors(data):
    with contextlib.suppress(ReferralKitError):
        read_appointment_update(data)


@given(mutated(_example("uscore-patient-example.json")))
def test_mutated_patients_raise_only_typed_errors(data):
    with contextlib.suppress(ReferralKitError):
        patient_from_fhir(data, clock=CLOCK)


@given(JSON_VALUES | st.binary(max_size=40) | st.text(max_size=40))
def test_arbitrary_input_raises_only_typed_errors(data):
    for reader in (read_service_request, read_task_update, read_appointment_update):
        with contextlib.suppress(ReferralKitError):
            reader(data)


def test_party_details_intake_does_not_capture_are_reported_on_the_way_back():
    clinic = Practice(
        name="Heart Clinic",
        npi="1679576722",
        address=Address(line1="9 Lake Rd", city="Springfield", state="IL", postal_code="62704"),
    )
    referral = full_referral(
        receiving_practice=clinic,
        receiving_provider=Provider(name="Dr Okafor", npi="1003000126", specialty="cardiology"),
    )
    back = read_service_request(_export(referral).as_dict(), clock=CLOCK)
    assert back.complete
    assert {"Organization.address", "PractitionerRole.specialty"} <= {i.path for i in back.issues}


def test_an_order_with_contained_resources_is_complete():
    order = {
        "resourceType": "ServiceRequest",
        "contained": [
            {
                "resourceType": "Patient",
                "id": "p",
                "name": [{"family": "Ruiz", "given": ["Ana"]}],
                "birthDate": "1980-02-03",
                "telecom": [{"system": "phone", "value": "(312) 555-0123", "use": "mobile"}],
            },
            {
                "resourceType": "Organization",
                "id": "o",
                "name": "Lakeside Family Medicine",
                "identifier": [
                    {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}
                ],
            },
        ],
        "status": "active",
        "intent": "order",
        "priority": "asap",
        "subject": {"reference": "#p"},
        "requester": {"reference": "#o"},
        "performerType": {
            "coding": [{"system": "http://snomed.info/sct", "display": "Cardiology"}]
        },
        "reasonCode": [
            {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I10"}]}
        ],
    }
    result = read_service_request(order, clock=CLOCK)
    assert result.complete, result.missing
    referral = result.referral
    assert referral.patient.phones[0].number == "+13125550123"  # normalised as intake does
    assert referral.referring_practice == Practice(
        name="Lakeside Family Medicine", npi="1234567893"
    )
    assert (referral.specialty, referral.priority) == ("Cardiology", Priority.ASAP)
    assert referral.reason.icd10_codes == ("I10",)


def test_a_phone_of_unknown_use_is_never_taken_for_a_mobile():
    order = _export(full_referral()).as_dict()
    for entry in order["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            for contact in entry["resource"]["telecom"]:
                contact.pop("use", None)
    referral = read_service_request(order, clock=CLOCK).referral
    assert {p.kind for p in referral.patient.phones} == {PhoneKind.OTHER}


def test_every_update_of_one_ehr_appointment_names_the_same_appointment():
    appointment = _example("fhir-r4-appointment-example.json")
    first = read_appointment_update(appointment).data["appointment"]["id"]
    moved = appointment | {"start": "2013-12-11T09:00:00Z", "end": "2013-12-11T10:00:00Z"}
    again = read_appointment_update(moved).data["appointment"]
    assert again["id"] == first
    assert again["duration_minutes"] == 60
