r"""Export a referral as a FHIR R4 transaction Bundle.

The bundle holds the referrer's order (``ServiceRequest``), the receiver's fulfilment
``Task`` (status and BSeR business status from :func:`~referralkit.lifecycle.crosswalk_referral`),
the ``Patient``, ``Coverage``, practices and providers (``Organization``, ``Practitioner``,
``PractitionerRole``, with NPIs), the ``Appointment``\\ s, the consult report
(``DocumentReference``, LOINC 11488-4, with the ``Communication`` that sent it) and, when
actors are given, a ``Provenance``.

Every resource carries a stable identifier and is written with a conditional create
(``ifNoneExist``), so posting the same referral twice never duplicates anything.

.. versionadded:: 0.2
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
from pydantic import BaseModel, ValidationError

from referralkit.adapters.fhir._validate import model_class
from referralkit.adapters.fhir.systems import (
    APPOINTMENT_CANCEL_REASON,
    CONSULT_NOTE_LOINC,
    COVERAGE_CLASS,
    ICD10CM,
    LOINC,
    NPI,
    SNOMED,
    SNOMED_PATIENT_REFERRAL,
    STATUS_REASON,
    TASK_CODE,
    V2_0203,
    FhirSystems,
    business_status_concept,
    report_communication_id,
)
from referralkit.errors import FhirResourceError
from referralkit.lifecycle.crosswalk import StatusCodes, crosswalk_referral
from referralkit.model import (
    Actor,
    ActorKind,
    Address,
    Appointment,
    AppointmentStatus,
    AuthorizationStatus,
    PhoneKind,
    Practice,
    Provider,
    Referral,
    Role,
)

__all__ = [
    "APPOINTMENT_STATUS",
    "ConsultReport",
    "FhirExport",
    "build_bundle",
    "export_referral",
]

JsonDict = dict[str, Any]

APPOINTMENT_STATUS: Final = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.COMPLETED: "fulfilled",
    AppointmentStatus.NO_SHOW: "noshow",
    AppointmentStatus.CANCELLED: "cancelled",
}
"""referralkit appointment status to FHIR ``Appointment.status``."""

# FHIR ContactPoint.use has no "other": such a phone goes without a use.
_PHONE_USE: Final = {PhoneKind.MOBILE: "mobile", PhoneKind.HOME: "home", PhoneKind.WORK: "work"}
_PARTICIPANT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
# Who did what, by the role they acted in: the AI receptionist captures intake (enterer)
# exactly as a human intake clerk does; its kind is kept on the agent's reference type.
_AGENT_TYPE: Final = {
    Role.REFERRER: "author",
    Role.INTAKE: "enterer",
    Role.CLINICIAN: "verifier",
    Role.SCHEDULER: "performer",
    Role.SYSTEM: "assembler",
}


@attrs.frozen
class ConsultReport:
    """The consult report sent back to the referrer, exported as a ``DocumentReference``.

    :ivar document_id: the host's id of the document (its identifier in FHIR).
    :ivar url: where the content can be fetched, if anywhere (defaults to a URN of the id).

    .. versionadded:: 0.2
    """

    document_id: str
    created: datetime | None = None
    url: str | None = None
    content_type: str = "application/pdf"
    title: str = "Consult note"


@attrs.frozen
class FhirExport:
    """A referral as a FHIR transaction Bundle, and what of it FHIR did not carry.

    :ivar bundle: the Bundle, validated by fhir.resources (an R4B ``Bundle`` model).
    :ivar unmapped: paths of the referral's fields with no place in the bundle (``patient.
        time_zone``, ``interactions``...); the export never drops anything silently.

    .. versionadded:: 0.2
    """

    bundle: BaseModel = attrs.field(repr=False)
    unmapped: tuple[str, ...]
    data: JsonDict = attrs.field(repr=False, factory=dict)
    """The bundle as built, JSON-compatible; it is what :attr:`bundle` validated."""

    def as_dict(self) -> JsonDict:
        """Return (a copy of) the bundle as JSON-compatible data."""
        return copy.deepcopy(self.data)

    def json(self) -> str:
        """Return the bundle as JSON text."""
        return json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)

    def resources(self, resource_type: str) -> list[JsonDict]:
        """Return the bundle's resources of *resource_type*, as JSON-compatible data."""
        return [
            copy.deepcopy(entry["resource"])
            for entry in self.data.get("entry", [])
            if entry["resource"]["resourceType"] == resource_type
        ]


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _identifier(system: str, value: str, code: str | None = None) -> JsonDict:
    identifier: JsonDict = {"system": system, "value": value}
    if code is not None:
        identifier["type"] = {"coding": [{"system": V2_0203, "code": code}]}
    return identifier


def _address(address: Address) -> JsonDict:
    lines = [address.line1] + ([address.line2] if address.line2 else [])
    return {
        "line": lines,
        "city": address.city,
        "state": address.state,
        "postalCode": address.postal_code,
        "country": address.country,
    }


@attrs.define
class _Builder:
    """Collects the bundle's entries; one per conditional-create key."""

    referral: Referral
    systems: FhirSystems
    entries: list[JsonDict] = attrs.field(factory=list)
    by_key: dict[str, str] = attrs.field(factory=dict)

    def add(self, role: str, resource: JsonDict, identifier: JsonDict | None) -> str:
        key = (
            f"{resource['resourceType']}|{identifier['system']}|{identifier['value']}"
            if identifier
            else f"{resource['resourceType']}|{role}"
        )
        known = self.by_key.get(key)
        if known is not None:  # the same practice or clinician on both sides: one resource
            return known
        url = FhirSystems.full_url(self.referral.id, role)
        request: JsonDict = {"method": "POST", "url": resource["resourceType"]}
        if identifier is not None:
            request["ifNoneExist"] = f"identifier={identifier['system']}|{identifier['value']}"
        self.entries.append({"fullUrl": url, "resource": resource, "request": request})
        self.by_key[key] = url
        return url

    # -- parties --

    def organization(self, role: str, practice: Practice) -> str:
        identifiers = []
        if practice.npi:
            identifiers.append(_identifier(NPI, practice.npi))
        if practice.id:
            identifiers.append(_identifier(self.systems.of("practice"), practice.id))
        if not identifiers:
            identifiers.append(
                _identifier(self.systems.of("practice"), f"{self.referral.id}:{role}")
            )
        resource: JsonDict = {
            "resourceType": "Organization",
            "identifier": identifiers,
            "active": True,
            "name": practice.name,
        }
        telecom = [{"system": "phone", "value": practice.phone}] if practice.phone else []
        if practice.fax:
            telecom.append({"system": "fax", "value": practice.fax})
        if telecom:
            resource["telecom"] = telecom
        if practice.address is not None:
            resource["address"] = [_address(practice.address)]
        return self.add(role, resource, identifiers[0])

    def practitioner(self, role: str, provider: Provider, org_url: str | None) -> str:
        identifier = (
            _identifier(NPI, provider.npi)
            if provider.npi
            else _identifier(self.systems.of("practice"), f"{self.referral.id}:{role}")
        )
        practitioner_url = self.add(
            role,
            {
                "resourceType": "Practitioner",
                "identifier": [identifier],
                "active": True,
                "name": [{"text": provider.name}],
            },
            identifier,
        )
        role_identifier = _identifier(
            self.systems.of("practice"), f"{identifier['value']}:{role}-role"
        )
        practitioner_role: JsonDict = {
            "resourceType": "PractitionerRole",
            "identifier": [role_identifier],
            "active": True,
            "practitioner": {"reference": practitioner_url},
        }
        if org_url is not None:
            practitioner_role["organization"] = {"reference": org_url}
        if provider.specialty:
            practitioner_role["specialty"] = [{"text": provider.specialty}]
        return self.add(f"{role}-role", practitioner_role, role_identifier)

    def party(self, side: str, practice: Practice | None, provider: Provider | None) -> str | None:
        org_url = None if practice is None else self.organization(f"{side}-practice", practice)
        if provider is not None:
            return self.practitioner(f"{side}-provider", provider, org_url)
        return org_url

    # -- the patient and coverage --

    def patient(self) -> str | None:
        patient = self.referral.patient
        if patient is None:
            return None
        identifier = (
            _identifier(self.systems.of("mrn"), patient.mrn, "MR")
            if patient.mrn
            # No MRN: an identifier of this referral's patient, in a system of its own so
            # that no reader takes it for an MRN.
            else _identifier(self.systems.of("patient"), str(self.referral.id))
        )
        given = [patient.given_name] + ([patient.middle_name] if patient.middle_name else [])
        resource: JsonDict = {
            "resourceType": "Patient",
            "identifier": [identifier],
            "name": [{"use": "official", "family": patient.family_name, "given": given}],
        }
        telecom: list[JsonDict] = []
        for rank, phone in enumerate(patient.phones, start=1):
            contact: JsonDict = {"system": "phone", "value": phone.number, "rank": rank}
            if phone.kind in _PHONE_USE:
                contact["use"] = _PHONE_USE[phone.kind]
            telecom.append(contact)
        if patient.email:
            telecom.append({"system": "email", "value": patient.email})
        if telecom:
            resource["telecom"] = telecom
        if patient.birth_date is not None:
            resource["birthDate"] = patient.birth_date.isoformat()
        if patient.address is not None:
            resource["address"] = [_address(patient.address)]
        resource["communication"] = [
            {
                "language": {
                    "coding": [{"system": "urn:ietf:bcp:47", "code": patient.preferred_language}]
                },
                "preferred": True,
            }
        ]
        if not patient.mrn:
            # A made-up MRN is not a conditional key: it would match nothing the EHR has.
            self.entries.append(
                {
                    "fullUrl": FhirSystems.full_url(self.referral.id, "patient"),
                    "resource": resource,
                    "request": {"method": "POST", "url": "Patient"},
                }
            )
            return str(self.entries[-1]["fullUrl"])
        return self.add("patient", resource, identifier)

    def coverage(self, patient_url: str | None) -> str | None:
        coverage = self.referral.coverage
        if coverage is None or patient_url is None:
            return None
        payer_identifier = (
            _identifier(self.systems.of("payer"), coverage.payer_id)
            if coverage.payer_id
            else _identifier(f"{self.systems.of('payer')}-local", f"{self.referral.id}")
        )
        payer_url = self.add(
            "payer",
            {
                "resourceType": "Organization",
                "identifier": [payer_identifier],
                "active": True,
                "name": coverage.payer_name,
            },
            payer_identifier,
        )
        identifier = _identifier(self.systems.of("member"), coverage.member_id, "MB")
        resource: JsonDict = {
            "resourceType": "Coverage",
            "identifier": [identifier],
            "status": "active",
            "subscriberId": coverage.member_id,
            "beneficiary": {"reference": patient_url},
            "payor": [{"reference": payer_url}],
        }
        classes = []
        if coverage.group_number:
            classes.append(
                {
                    "type": {"coding": [{"system": COVERAGE_CLASS, "code": "group"}]},
                    "value": coverage.group_number,
                }
            )
        if coverage.plan_name:
            classes.append(
                {
                    "type": {"coding": [{"system": COVERAGE_CLASS, "code": "plan"}]},
                    "value": coverage.plan_name,
                    "name": coverage.plan_name,
                }
            )
        if classes:
            resource["class"] = classes
        return self.add("coverage", resource, identifier)

    # -- the order, the work, the visits --

    def service_request(
        self,
        codes: StatusCodes,
        patient_url: str | None,
        requester: str | None,
        performer: str | None,
        coverage_url: str | None,
    ) -> str:
        referral = self.referral
        identifiers = [_identifier(self.systems.of("service_request"), str(referral.id))]
        if referral.referral_number:
            identifiers.append(
                _identifier(self.systems.of("referral_number"), referral.referral_number)
            )
        resource: JsonDict = {
            "resourceType": "ServiceRequest",
            "identifier": identifiers,
            "status": codes.service_request_status,
            "intent": "order",
            "priority": referral.priority.value,
            "category": [
                {
                    "coding": [
                        {
                            "system": SNOMED,
                            "code": SNOMED_PATIENT_REFERRAL,
                            "display": "Patient referral",
                        }
                    ]
                }
            ],
        }
        if referral.specialty:
            resource["code"] = {"text": f"Referral to {referral.specialty}"}
            resource["performerType"] = {"text": referral.specialty}
        if referral.reason is not None:
            reasons: list[JsonDict] = [
                {"coding": [{"system": ICD10CM, "code": code}]}
                for code in referral.reason.icd10_codes
            ]
            if referral.reason.text:
                reasons.append({"text": referral.reason.text})
            if reasons:
                resource["reasonCode"] = reasons
        if patient_url is not None:
            resource["subject"] = {"reference": patient_url}
        if requester is not None:
            resource["requester"] = {"reference": requester}
        if performer is not None:
            resource["performer"] = [{"reference": performer}]
        if coverage_url is not None:
            resource["insurance"] = [{"reference": coverage_url}]
        documents = self.documents()
        if documents:
            resource["supportingInfo"] = documents
        booked = referral.current_appointment
        if booked is not None:
            resource["occurrencePeriod"] = _period(booked)
        if referral.created_at is not None:
            resource["authoredOn"] = referral.created_at.isoformat()
        return self.add("service-request", resource, identifiers[0])

    def documents(self) -> list[JsonDict]:
        system = self.systems.of("document")
        return [
            {"identifier": {"system": system, "value": doc}, "type": "DocumentReference"}
            for request in self.referral.records_requests
            for doc in request.documents
        ]

    def task(
        self,
        codes: StatusCodes,
        sr_url: str,
        patient_url: str | None,
        requester: str | None,
        owner: str | None,
        report_url: str | None,
        due_at: datetime | None,
    ) -> str:
        referral = self.referral
        identifier = _identifier(self.systems.of("task"), str(referral.id))
        resource: JsonDict = {
            "resourceType": "Task",
            "identifier": [identifier],
            "basedOn": [{"reference": sr_url}],
            "status": codes.task_status,
            "intent": "order",
            "priority": referral.priority.value,
            "code": {"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
            "focus": {"reference": sr_url},
        }
        business = codes.business_status
        if business is not None:
            resource["businessStatus"] = business_status_concept(business)
        reason = referral.status_reason
        if reason is not None:
            status_reason: JsonDict = {
                "coding": [{"system": STATUS_REASON, "code": f"{reason.kind}:{reason.code or ''}"}]
            }
            if reason.text:
                status_reason["text"] = reason.text
            resource["statusReason"] = status_reason
        if patient_url is not None:
            resource["for"] = {"reference": patient_url}
        if referral.created_at is not None:
            resource["authoredOn"] = referral.created_at.isoformat()
        if referral.updated_at is not None:
            resource["lastModified"] = referral.updated_at.isoformat()
        if requester is not None:
            resource["requester"] = {"reference": requester}
        if owner is not None:
            resource["owner"] = {"reference": owner}
        if due_at is not None:
            resource["restriction"] = {"period": {"end": due_at.isoformat()}}
        seen = [a for a in referral.appointments if a.status is AppointmentStatus.COMPLETED]
        if seen:
            resource["executionPeriod"] = _period(seen[-1])
        documents = self.documents()
        if documents:
            resource["input"] = [
                {"type": {"text": "records"}, "valueReference": doc} for doc in documents
            ]
        if report_url is not None:
            resource["output"] = [
                {
                    "type": {"coding": [{"system": LOINC, "code": CONSULT_NOTE_LOINC}]},
                    "valueReference": {"reference": report_url},
                }
            ]
        return self.add("task", resource, identifier)

    def appointment(self, appointment: Appointment, sr_url: str, patient_url: str | None) -> str:
        identifiers = [_identifier(self.systems.of("appointment"), str(appointment.id))]
        if appointment.external_id:
            identifiers.append(
                _identifier(f"{self.systems.of('appointment')}-external", appointment.external_id)
            )
        participants: list[JsonDict] = []
        if patient_url is not None:
            participants.append(
                {"actor": {"reference": patient_url}, "required": "required", "status": "accepted"}
            )
        if appointment.provider is not None:
            actor: JsonDict = {"type": "Practitioner", "display": appointment.provider.name}
            if appointment.provider.npi:
                actor["identifier"] = _identifier(NPI, appointment.provider.npi)
            participants.append({"actor": actor, "required": "required", "status": "accepted"})
        if appointment.location:
            participants.append(
                {
                    "actor": {"type": "Location", "display": appointment.location},
                    "required": "required",
                    "status": "accepted",
                }
            )
        if not participants:  # app-1: at least one participant; the order stands in
            participants.append({"type": [{"text": "referral"}], "status": "needs-action"})
        period = _period(appointment)
        resource: JsonDict = {
            "resourceType": "Appointment",
            "identifier": identifiers,
            "status": APPOINTMENT_STATUS[appointment.status],
            "start": period["start"],
            "end": period["end"],
            "minutesDuration": appointment.duration_minutes,
            "basedOn": [{"reference": sr_url}],
            "participant": participants,
        }
        if appointment.cancel_reason is not None:
            resource["cancelationReason"] = {
                "coding": [
                    {"system": APPOINTMENT_CANCEL_REASON, "code": appointment.cancel_reason.value}
                ]
            }
        return self.add(f"appointment-{appointment.id}", resource, identifiers[0])

    def consult_report(self, report: ConsultReport, sr_url: str, patient_url: str | None) -> str:
        identifier = _identifier(self.systems.of("document"), report.document_id)
        resource: JsonDict = {
            "resourceType": "DocumentReference",
            "identifier": [identifier],
            "status": "current",
            "type": {
                "coding": [
                    {"system": LOINC, "code": CONSULT_NOTE_LOINC, "display": "Consult note"}
                ]
            },
            "content": [
                {
                    "attachment": {
                        "contentType": report.content_type,
                        "url": report.url or f"urn:referralkit:document:{report.document_id}",
                        "title": report.title,
                    }
                }
            ],
            "context": {"related": [{"reference": sr_url}]},
        }
        if patient_url is not None:
            resource["subject"] = {"reference": patient_url}
        if report.created is not None:
            resource["date"] = report.created.isoformat()
        return self.add("consult-report", resource, identifier)

    def communication(
        self,
        report: ConsultReport,
        report_url: str,
        sr_url: str,
        patient_url: str | None,
        sender: str | None,
        recipient: str | None,
    ) -> str:
        # The message that carried the report back: its payload references the
        # DocumentReference actually sent, so what was sent is on record, not re-derived.
        identifier = _identifier(
            self.systems.of("communication"),
            report_communication_id(self.referral.id, report.document_id),
        )
        resource: JsonDict = {
            "resourceType": "Communication",
            "identifier": [identifier],
            "basedOn": [{"reference": sr_url}],
            "status": "completed",
            "payload": [{"contentReference": {"reference": report_url}}],
        }
        if patient_url is not None:
            resource["subject"] = {"reference": patient_url}
        if report.created is not None:
            resource["sent"] = report.created.isoformat()
        if recipient is not None:
            resource["recipient"] = [{"reference": recipient}]
        if sender is not None:
            resource["sender"] = {"reference": sender}
        return self.add("consult-report-sent", resource, identifier)

    def provenance(self, targets: Sequence[str], actors: Sequence[Actor], at: datetime) -> None:
        agents = []
        for actor in actors:
            who: JsonDict = {
                "identifier": {"system": self.systems.of("actor"), "value": actor.id},
                # The kind (human, AI, system, integration) is said by the reference type:
                # an AI receptionist or the system is a Device, a person a Practitioner.
                "type": "Practitioner" if actor.kind is ActorKind.HUMAN else "Device",
                "display": actor.display_name or f"{actor.kind.value} ({actor.role.value})",
            }
            agents.append(
                {
                    "type": {
                        "coding": [{"system": _PARTICIPANT_TYPE, "code": _AGENT_TYPE[actor.role]}]
                    },
                    "role": [{"text": actor.role.value}],
                    "who": who,
                }
            )
        resource: JsonDict = {
            "resourceType": "Provenance",
            "target": [{"reference": url} for url in targets],
            "recorded": at.isoformat(),
            "agent": agents,
        }
        # No conditional create: Provenance has no identifier. Its fullUrl is still stable.
        self.entries.append(
            {
                "fullUrl": FhirSystems.full_url(self.referral.id, f"provenance-{at.isoformat()}"),
                "resource": resource,
                "request": {"method": "POST", "url": "Provenance"},
            }
        )


def _period(appointment: Appointment) -> dict[str, str]:
    end = appointment.start + timedelta(minutes=appointment.duration_minutes)
    return {"start": appointment.start.isoformat(), "end": end.isoformat()}


def _unmapped(referral: Referral) -> tuple[str, ...]:
    missing: list[str] = []
    patient = referral.patient
    if patient is not None:
        if patient.time_zone:
            missing.append("patient.time_zone")
        if patient.preferred_channel is not None:
            missing.append("patient.preferred_channel")
        if not patient.consent.contact_allowed or patient.consent.opted_out_channels:
            missing.append("patient.consent")
        if any(p.time_zones for p in patient.phones):
            missing.append("patient.phones.time_zones")
    if referral.authorization.status is not AuthorizationStatus.NOT_REQUIRED:
        missing.append("authorization")
    for name in ("interactions", "tasks", "flags"):
        if getattr(referral, name):
            missing.append(name)
    if any(a.no_show_reason is not None for a in referral.appointments):
        missing.append("appointments.no_show_reason")
    if any(r.status.value != "requested" or r.due_at for r in referral.records_requests):
        missing.append("records_requests.status")
    for name in ("hold_from", "lost_from"):
        if getattr(referral, name) is not None:
            missing.append(name)
    return tuple(missing)


def build_bundle(
    referral: Referral,
    *,
    recorded_at: datetime,
    systems: FhirSystems | None = None,
    consult_report: ConsultReport | None = None,
    actors: Iterable[Actor] = (),
    due_at: datetime | None = None,
) -> dict[str, Any]:
    """Return the transaction Bundle for *referral* as plain JSON data, not yet validated.

    :func:`export_referral` validates it; this is the construction alone (the benchmark's
    subject, and a way to post the JSON without paying for validation twice).
    """
    builder = _Builder(referral, systems or FhirSystems())
    codes = crosswalk_referral(referral)
    patient_url = builder.patient()
    requester = builder.party(
        "referring", referral.referring_practice, referral.referring_provider
    )
    performer = builder.party(
        "receiving", referral.receiving_practice, referral.receiving_provider
    )
    coverage_url = builder.coverage(patient_url)
    sr_url = builder.service_request(codes, patient_url, requester, performer, coverage_url)
    report_url = None
    if consult_report is not None:
        report_url = builder.consult_report(consult_report, sr_url, patient_url)
        builder.communication(
            consult_report, report_url, sr_url, patient_url, performer, requester
        )
    task_url = builder.task(
        codes,
        sr_url,
        patient_url,
        requester,
        performer,
        report_url,
        due_at if due_at is not None else referral.next_action_at,
    )
    for appointment in referral.appointments:
        builder.appointment(appointment, sr_url, patient_url)
    actor_list = list(actors)
    if actor_list:
        builder.provenance([sr_url, task_url], actor_list, recorded_at)
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "timestamp": recorded_at.isoformat(),
        "entry": builder.entries,
    }


def export_referral(
    referral: Referral,
    *,
    recorded_at: datetime,
    systems: FhirSystems | None = None,
    consult_report: ConsultReport | None = None,
    actors: Iterable[Actor] = (),
    due_at: datetime | None = None,
) -> FhirExport:
    """Export *referral* as a FHIR R4 transaction Bundle, validated by fhir.resources.

    :param recorded_at: when the export is made (the bundle's timestamp and the Provenance's
        ``recorded``); pass the desk clock's ``now()``.
    :param systems: the identifier systems to write (defaults to ``urn:referralkit:*``).
    :param consult_report: the consult report sent to the referrer, if there is one.
    :param actors: who acted on the referral; given, a ``Provenance`` names them.
    :param due_at: the SLA deadline (``Task.restriction.period.end``); defaults to the
        referral's ``next_action_at``.
    :raises FhirResourceError: ``invalid_export`` if the bundle does not validate (a bug:
        please report it).

    .. versionadded:: 0.2
    """
    data = build_bundle(
        referral,
        recorded_at=recorded_at,
        systems=systems,
        consult_report=consult_report,
        actors=actors,
        due_at=due_at,
    )
    try:
        bundle = model_class("Bundle").model_validate(data)
    except ValidationError as exc:
        # from None: pydantic's message quotes the input, which is PHI.
        raise FhirResourceError(
            "invalid_export",
            "The exported Bundle is not valid FHIR R4.",
            resource_type="Bundle",
            errors=[
                {"loc": tuple(str(p) for p in e["loc"]), "type": e["type"]}
                for e in exc.errors(include_input=False, include_url=False)
            ],
        ) from None
    return FhirExport(bundle=bundle, unmapped=_unmapped(referral), data=data)
