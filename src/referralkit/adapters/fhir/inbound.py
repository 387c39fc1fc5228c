"""Read FHIR resources from others: an order becomes an intake, updates become triggers.

- :func:`read_service_request`: a ``ServiceRequest`` (with contained resources, or in a
  Bundle with the resources it references) becomes an intake payload, validated by the very
  intake a phone call goes through (:class:`~referralkit.intake.IntakeSession`): missing
  fields are listed, and no referral is built until nothing is missing.
- :func:`read_task_update` and :func:`read_appointment_update`: a changed ``Task`` or
  ``Appointment`` becomes a lifecycle trigger and its validated data, for the host (or the
  desk) to fire. Nothing here changes a referral.

What cannot be mapped is reported in ``issues`` (element paths and why), never dropped
silently. Every resource is validated with fhir.resources (R4B models) first; anything
malformed raises :class:`~referralkit.errors.FhirResourceError`, never another exception.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast
from uuid import UUID, uuid5

import attrs
from pydantic import ValidationError

from referralkit.adapters.fhir._validate import validate_resource
from referralkit.adapters.fhir.export import APPOINTMENT_STATUS
from referralkit.adapters.fhir.systems import (
    APPOINTMENT_CANCEL_REASON,
    BSER_BUSINESS_STATUS_SYSTEM,
    ICD10CM,
    NPI,
    STATUS_REASON,
    V2_0203,
    FhirSystems,
)
from referralkit.clock import Clock, SystemClock
from referralkit.errors import FhirResourceError, IntakeError
from referralkit.intake import CallType, IntakeConfig, IntakeResult, IntakeSession
from referralkit.lifecycle import TRIGGER_DATA, Trigger
from referralkit.lifecycle.crosswalk import TASK_STATUS_TRIGGERS
from referralkit.model import (
    AppointmentStatus,
    CancelReason,
    Coverage,
    DeclineReason,
    LostReason,
    Patient,
    Referral,
)

__all__ = [
    "FhirIntake",
    "MappingIssue",
    "TriggerUpdate",
    "coverage_from_fhir",
    "patient_from_fhir",
    "read_appointment_update",
    "read_service_request",
    "read_task_update",
]

JsonDict = dict[str, Any]

_OPEN_ORDER: Final = frozenset({"draft", "active", "on-hold"})
_SR_MAPPED: Final = frozenset(
    {
        "resourceType", "id", "meta", "text", "contained", "identifier", "status", "intent",
        "priority", "category", "code", "performerType", "reasonCode", "reasonReference",
        "subject", "requester", "performer", "insurance", "supportingInfo", "authoredOn",
        "occurrenceDateTime", "occurrencePeriod",
    }
)  # fmt: skip
_PATIENT_MAPPED: Final = frozenset(
    {
        "resourceType", "id", "meta", "text", "identifier", "name", "telecom", "birthDate",
        "address", "communication", "active",
    }
)  # fmt: skip
_COVERAGE_MAPPED: Final = frozenset(
    {
        "resourceType", "id", "meta", "text", "identifier", "status", "subscriberId",
        "beneficiary", "payor", "class", "subscriber", "relationship", "period", "type",
    }
)  # fmt: skip
_PARTY_MAPPED: Final = {
    "Organization": frozenset(
        {"resourceType", "id", "meta", "text", "identifier", "active", "name", "telecom"}
    ),
    "Practitioner": frozenset(
        {"resourceType", "id", "meta", "text", "identifier", "active", "name"}
    ),
    "PractitionerRole": frozenset(
        {
            "resourceType",
            "id",
            "meta",
            "text",
            "identifier",
            "active",
            "practitioner",
            "organization",
        }
    ),
}
_PHONE_KIND: Final = {"mobile": "mobile", "home": "home", "work": "work"}
# The id of an appointment the EHR booked: a uuid5 of its EHR id, so every update of the same
# Appointment names the same referralkit appointment.
_APPOINTMENT_IDS: Final = UUID("0b6c3f0e-6f7c-4d0a-9f43-5d8e2a1c7b90")
_FHIR_APPOINTMENT: Final = {value: key for key, value in APPOINTMENT_STATUS.items()}


# -- Results --------------------------------------------------------------------------------


@attrs.frozen
class MappingIssue:
    """Something in a resource that referralkit did not map, or mapped with a caveat.

    :ivar path: where, as a FHIR element path (``ServiceRequest.orderDetail``).
    :ivar code: why: ``not_mapped``, ``unresolved_reference``, ``not_a_new_order``,
        ``ignored_extra``, ``needs_resource`` or ``invalid_data``.
    :ivar message: plain words; never a value from the resource.

    .. versionadded:: 0.2
    """

    path: str
    code: str
    message: str


@attrs.frozen
class FhirIntake:
    """A ServiceRequest read as an intake: the result, the referral if complete, the issues.

    :ivar result: the intake result, exactly as a phone intake reports it (``missing``,
        ``issues``, ``flags``); safe to log.
    :ivar referral: the new referral (status ``intake``) when nothing is missing, else
        ``None``: never a half-built referral.
    :ivar issues: what the resources held that was not mapped.
    :ivar source_identifiers: the order's identifiers as (system, value) pairs, for the
        closed-loop reply (the placer's number).
    :ivar payload: the intake payload built from the resources (PHI: kept out of repr).

    .. versionadded:: 0.2
    """

    result: IntakeResult
    referral: Referral | None = attrs.field(repr=False)
    issues: tuple[MappingIssue, ...]
    source_identifiers: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    payload: Mapping[str, Any] = attrs.field(repr=False)

    @property
    def complete(self) -> bool:
        """Whether the intake is complete (``referral`` is set)."""
        return self.referral is not None

    @property
    def missing(self) -> tuple[str, ...]:
        """The intake requirements not met, as intake names them."""
        return self.result.missing


@attrs.frozen
class TriggerUpdate:
    """A lifecycle trigger read from a FHIR update, for the host or the desk to fire.

    :ivar trigger: the trigger, or ``None`` when the update moves nothing (see ``issues``).
    :ivar data: the trigger's data, already validated by its model (``TRIGGER_DATA``).
    :ivar referral_id: the referral, when the resource names it by a referralkit identifier.
    :ivar focus: the reference to the order the update is about, as the resource gives it.
    :ivar occurred_at: when it happened, as the resource says (interop delivers late news).
    :ivar recorded_at: when the sending system recorded it (``meta.lastUpdated``).

    .. versionadded:: 0.2
    """

    trigger: Trigger | None
    data: Mapping[str, Any] = attrs.field(repr=False)
    referral_id: UUID | None
    focus: str | None
    occurred_at: datetime | None
    recorded_at: datetime | None
    issues: tuple[MappingIssue, ...] = ()


# -- JSON helpers (the data is fhir.resources' normalised dump: shapes are already checked) --


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _codings(concept: Any) -> list[JsonDict]:
    return [_dict(c) for c in _list(_dict(concept).get("coding"))]


def _code_in(concept: Any, system: str) -> str | None:
    for coding in _codings(concept):
        if coding.get("system") == system and _str(coding.get("code")):
            return cast("str", coding["code"])
    return None


def _concept_text(concept: Any) -> str | None:
    text = _str(_dict(concept).get("text"))
    if text:
        return text
    for coding in _codings(concept):
        display = _str(coding.get("display"))
        if display:
            return display
    return None


def _identifier(resource: JsonDict, system: str) -> str | None:
    for identifier in _list(resource.get("identifier")):
        if _dict(identifier).get("system") == system and _str(identifier.get("value")):
            return cast("str", identifier["value"])
    return None


def _datetime(value: Any) -> datetime | None:
    text = _str(value)
    if text is None or "T" not in text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _uuid(value: str | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


@attrs.define
class _Resolver:
    """Finds the resource a reference points at: contained (``#id``) or in the bundle."""

    contained: dict[str, JsonDict]
    bundled: dict[str, JsonDict]
    issues: list[MappingIssue]

    def resolve(self, reference: Any, path: str, *types: str) -> JsonDict | None:
        ref = _str(_dict(reference).get("reference"))
        if ref is None:
            if _dict(reference):
                self.issues.append(
                    MappingIssue(path, "unresolved_reference", "Only a display or identifier.")
                )
            return None
        found = self.contained.get(ref[1:]) if ref.startswith("#") else self.bundled.get(ref)
        if found is None and not ref.startswith("#"):
            # "Patient/123" in a bundle whose entry has a full URL ending in it.
            found = next((r for url, r in self.bundled.items() if url.endswith("/" + ref)), None)
        if found is None:
            self.issues.append(
                MappingIssue(path, "unresolved_reference", "Not contained and not in the bundle.")
            )
            return None
        if types and found.get("resourceType") not in types:
            self.issues.append(MappingIssue(path, "not_mapped", f"Expected {' or '.join(types)}."))
            return None
        return found


def _extra_keys(resource: JsonDict, mapped: frozenset[str], issues: list[MappingIssue]) -> None:
    kind = str(resource.get("resourceType"))
    for key in sorted(resource.keys() - mapped):
        issues.append(
            MappingIssue(f"{kind}.{key}", "not_mapped", "referralkit has no field for it.")
        )


# -- ServiceRequest to intake -----------------------------------------------------------------


def patient_of(patient: JsonDict, systems: FhirSystems, payload: JsonDict) -> list[MappingIssue]:
    issues: list[MappingIssue] = []
    _extra_keys(patient, _PATIENT_MAPPED, issues)
    names = [_dict(n) for n in _list(patient.get("name"))]
    name = next(
        (n for n in names if n.get("use") in ("official", "usual")), names[0] if names else {}
    )
    given = [g for g in _list(name.get("given")) if _str(g)]
    if given:
        payload["patient.given_name"] = given[0]
        if len(given) > 1:
            payload["patient.middle_name"] = " ".join(given[1:])
    if _str(name.get("family")):
        payload["patient.family_name"] = name["family"]
    if _str(patient.get("birthDate")):
        payload["patient.birth_date"] = patient["birthDate"]
    mrn = _identifier(patient, systems.of("mrn"))
    if mrn is None:
        for identifier in _list(patient.get("identifier")):
            if _code_in(_dict(identifier).get("type"), V2_0203) == "MR" and _str(
                identifier.get("value")
            ):
                mrn = identifier["value"]
                break
    if mrn is not None:
        payload["patient.mrn"] = mrn
    phones: list[JsonDict] = []
    for contact in (_dict(t) for t in _list(patient.get("telecom"))):
        value = _str(contact.get("value"))
        if value is None:
            continue
        if contact.get("system") == "phone":
            # A phone of unknown use is "other", never assumed mobile: outreach texts only
            # mobiles, and a landline must not get an SMS on a guess.
            kind = _PHONE_KIND.get(str(contact.get("use")), "other")
            phones.append({"number": value, "kind": kind})
        elif contact.get("system") == "email" and "patient.email" not in payload:
            payload["patient.email"] = value
        else:
            issues.append(
                MappingIssue("Patient.telecom", "not_mapped", "Only phones and one email map.")
            )
    if phones:
        payload["patient.phones"] = phones[:5]
    addresses = [_dict(a) for a in _list(patient.get("address"))]
    if addresses:
        # The current address: not marked old and not ended; else the first there is.
        current = [
            a for a in addresses if a.get("use") != "old" and not _dict(a.get("period")).get("end")
        ]
        address = (current or addresses)[0]
        lines = [line for line in _list(address.get("line")) if _str(line)]
        for key, value in (
            ("line1", lines[0] if lines else None),
            ("line2", " ".join(lines[1:]) or None),
            ("city", address.get("city")),
            ("state", address.get("state")),
            ("postal_code", address.get("postalCode")),
        ):
            if _str(value):
                payload[f"patient.address.{key}"] = value
        if len(addresses) > 1:
            issues.append(MappingIssue("Patient.address", "ignored_extra", "Only one address."))
    for communication in (_dict(c) for c in _list(patient.get("communication"))):
        language = next(
            (
                c.get("code")
                for c in _codings(communication.get("language"))
                if _str(c.get("code"))
            ),
            None,
        )
        if language is not None:
            payload["patient.preferred_language"] = language
            break
    return issues


def _party(resolver: _Resolver, reference: Any, path: str, side: str, payload: JsonDict) -> None:
    resource = resolver.resolve(
        reference, path, "PractitionerRole", "Practitioner", "Organization"
    )
    if resource is None:
        display = _str(_dict(reference).get("display"))
        if display is not None:
            # A display alone still names the practice or clinician for the intake.
            payload[f"{side}_practice.name"] = display
        return
    kind = resource["resourceType"]
    parties = [resource]
    if kind == "PractitionerRole":
        practitioner = resolver.resolve(resource.get("practitioner"), f"{path}.practitioner")
        organization = resolver.resolve(resource.get("organization"), f"{path}.organization")
        if practitioner is not None:
            _provider(practitioner, side, payload)
            parties.append(practitioner)
        if organization is not None:
            _practice(organization, side, payload)
            parties.append(organization)
    elif kind == "Practitioner":
        _provider(resource, side, payload)
    else:
        _practice(resource, side, payload)
    # Intake captures a party's name, NPI, phone and fax: the rest (addresses, a clinician's
    # specialty, a practice's own id) is reported, not dropped silently.
    for party in parties:
        mapped = _PARTY_MAPPED.get(str(party.get("resourceType")))
        if mapped is not None:
            _extra_keys(party, mapped, resolver.issues)


def _provider(practitioner: JsonDict, side: str, payload: JsonDict) -> None:
    names = [_dict(n) for n in _list(practitioner.get("name"))]
    if names:
        name = names[0]
        text = _str(name.get("text")) or " ".join(
            [
                *[g for g in _list(name.get("given")) if _str(g)],
                *([name["family"]] if _str(name.get("family")) else []),
            ]
        )
        if _str(text):
            payload[f"{side}_provider.name"] = text
    npi = _identifier(practitioner, NPI)
    if npi is not None:
        payload[f"{side}_provider.npi"] = npi


def _practice(organization: JsonDict, side: str, payload: JsonDict) -> None:
    if _str(organization.get("name")):
        payload[f"{side}_practice.name"] = organization["name"]
    npi = _identifier(organization, NPI)
    if npi is not None:
        payload[f"{side}_practice.npi"] = npi
    for contact in (_dict(t) for t in _list(organization.get("telecom"))):
        if contact.get("system") in ("phone", "fax") and _str(contact.get("value")):
            payload.setdefault(f"{side}_practice.{contact['system']}", contact["value"])


def _coverage(
    resolver: _Resolver,
    coverage: JsonDict,
    payload: JsonDict,
    issues: list[MappingIssue],
    systems: FhirSystems,
) -> None:
    _extra_keys(coverage, _COVERAGE_MAPPED, issues)
    payors = _list(coverage.get("payor"))
    if payors:
        payer = resolver.resolve(payors[0], "Coverage.payor", "Organization")
        name = _str(payer.get("name")) if payer else _str(_dict(payors[0]).get("display"))
        if name is not None:
            payload["coverage.payer_name"] = name
        if payer is not None:
            # The payer's id: referralkit's own, else the first the sender gave; never a
            # placeholder referralkit made up for a payer without one.
            own = systems.of("payer")
            ids = [
                (str(i.get("system", "")), i["value"])
                for i in (_dict(x) for x in _list(payer.get("identifier")))
                if _str(i.get("value"))
            ]
            payer_id = next((v for sys, v in ids if sys == own), None) or next(
                (v for sys, v in ids if not sys.startswith(f"{systems.base}:")), None
            )
            if payer_id is not None:
                payload["coverage.payer_id"] = payer_id
    # The member number (identifier typed MB) is the patient's own; subscriberId is the
    # policy holder's, the same when the patient holds the policy.
    member = None
    for identifier in (_dict(i) for i in _list(coverage.get("identifier"))):
        if _code_in(identifier.get("type"), V2_0203) == "MB" and _str(identifier.get("value")):
            member = identifier["value"]
            break
    member = member or _str(coverage.get("subscriberId"))
    if member is not None:
        payload["coverage.member_id"] = member
    for klass in (_dict(c) for c in _list(coverage.get("class"))):
        kind = next((c.get("code") for c in _codings(klass.get("type"))), None)
        if kind == "group" and "coverage.group_number" not in payload:
            payload["coverage.group_number"] = klass.get("value")
        elif kind == "plan" and "coverage.plan_name" not in payload:
            payload["coverage.plan_name"] = _str(klass.get("name")) or klass.get("value")
        else:
            issues.append(
                MappingIssue("Coverage.class", "not_mapped", "Only one group and one plan map.")
            )


def _reasons(
    resolver: _Resolver, request: JsonDict, payload: JsonDict, issues: list[MappingIssue]
) -> None:
    codes: list[str] = []
    texts: list[str] = []
    concepts = [_dict(c) for c in _list(request.get("reasonCode"))]
    for index, reference in enumerate(_list(request.get("reasonReference"))):
        condition = resolver.resolve(reference, f"ServiceRequest.reasonReference[{index}]")
        if condition is not None and condition.get("resourceType") == "Condition":
            concepts.append(_dict(condition.get("code")))
    for concept in concepts:
        found = [
            c["code"]
            for c in _codings(concept)
            if c.get("system") == ICD10CM and _str(c.get("code"))
        ]
        codes.extend(found)
        if not found or _str(concept.get("text")):
            text = _concept_text(concept)
            if text is not None:
                texts.append(text)
            if not found and _codings(concept):
                issues.append(
                    MappingIssue(
                        "ServiceRequest.reasonCode.coding",
                        "not_mapped",
                        "Only ICD-10-CM codes map; the concept's text is kept as the reason.",
                    )
                )
    if codes:
        payload["reason.icd10_codes"] = list(dict.fromkeys(codes))
    if texts:
        payload["reason.text"] = "; ".join(dict.fromkeys(texts))


def _index_bundle(bundle: JsonDict) -> tuple[list[JsonDict], dict[str, JsonDict]]:
    resources: list[JsonDict] = []
    by_url: dict[str, JsonDict] = {}
    for entry in (_dict(e) for e in _list(bundle.get("entry"))):
        resource = _dict(entry.get("resource"))
        if not resource:
            continue
        resources.append(resource)
        url = _str(entry.get("fullUrl"))
        if url is not None:
            by_url[url] = resource
        if _str(resource.get("id")):
            by_url.setdefault(f"{resource['resourceType']}/{resource['id']}", resource)
    return resources, by_url


def read_service_request(
    data: object,
    *,
    systems: FhirSystems | None = None,
    config: IntakeConfig | None = None,
    clock: Clock | None = None,
) -> FhirIntake:
    """Read a referral order (a ServiceRequest, or a Bundle holding one) as an intake.

    The referenced Patient, Coverage, practices and clinicians are found among the
    ServiceRequest's contained resources or the Bundle's entries. The values go through the
    same validation as a phone intake (``new_referral``), so the result lists what is missing
    or invalid in intake's own terms; the referral is built only when nothing is.

    :param data: the resource, as a mapping, JSON text or JSON bytes.
    :param config: the intake configuration (accepted specialties, required fields...).
    :param clock: the clock intake dates the call by (birth dates are checked against it).
    :returns: the intake; its referral keeps the ServiceRequest's referralkit id when it has
        one (a round trip keeps the id).
    :raises FhirResourceError: the data is not JSON, not valid FHIR R4, not a ServiceRequest
        or Bundle (``unexpected_type``), a Bundle without one (``no_service_request``), or an
        order that is no longer open (``not_an_open_order``: completed, revoked...).

    .. versionadded:: 0.2
    """
    systems = systems or FhirSystems()
    _model, resource = validate_resource(data, "ServiceRequest", "Bundle")
    issues: list[MappingIssue] = []
    bundled: dict[str, JsonDict] = {}
    if resource["resourceType"] == "Bundle":
        resources, bundled = _index_bundle(resource)
        requests = [r for r in resources if r.get("resourceType") == "ServiceRequest"]
        if not requests:
            raise FhirResourceError(
                "no_service_request", "The Bundle holds no ServiceRequest.", resource_type="Bundle"
            )
        if len(requests) > 1:
            issues.append(
                MappingIssue("Bundle.entry", "ignored_extra", "Only the first order is read.")
            )
        request = requests[0]
    else:
        request = resource
    status = str(request.get("status"))
    if status not in _OPEN_ORDER:
        raise FhirResourceError(
            "not_an_open_order",
            f"The ServiceRequest is {status}, not an open order.",
            resource_type="ServiceRequest",
        )
    if request.get("intent") not in ("order", "original-order", "proposal", "plan"):
        issues.append(
            MappingIssue("ServiceRequest.intent", "not_mapped", "Read as an order all the same.")
        )
    contained = {
        str(r.get("id")): _dict(r) for r in _list(request.get("contained")) if _dict(r).get("id")
    }
    resolver = _Resolver(contained, bundled, issues)
    _extra_keys(request, _SR_MAPPED, issues)
    payload: JsonDict = {}
    patient = resolver.resolve(request.get("subject"), "ServiceRequest.subject", "Patient")
    if patient is not None:
        issues.extend(patient_of(patient, systems, payload))
    _party(resolver, request.get("requester"), "ServiceRequest.requester", "referring", payload)
    performers = _list(request.get("performer"))
    if performers:
        _party(resolver, performers[0], "ServiceRequest.performer", "receiving", payload)
        if len(performers) > 1:
            issues.append(
                MappingIssue("ServiceRequest.performer", "ignored_extra", "Only the first.")
            )
    specialty = _concept_text(request.get("performerType")) or _str(
        _dict(request.get("code")).get("text")
    )
    if specialty is not None:
        payload["specialty"] = specialty.removeprefix("Referral to ")
    _reasons(resolver, request, payload, issues)
    if _str(request.get("priority")):
        payload["priority"] = request["priority"]
    insurance = _list(request.get("insurance"))
    if insurance:
        coverage = resolver.resolve(insurance[0], "ServiceRequest.insurance", "Coverage")
        if coverage is not None:
            _coverage(resolver, coverage, payload, issues, systems)
    number = _identifier(request, systems.of("referral_number"))
    if number is not None:
        payload["referral_number"] = number
    identifiers = tuple(
        (str(i.get("system", "")), str(i["value"]))
        for i in (_dict(x) for x in _list(request.get("identifier")))
        if _str(i.get("value"))
    )
    session = IntakeSession(
        CallType.NEW_REFERRAL, config or IntakeConfig(), clock or SystemClock()
    )
    result = session.update(payload)
    referral: Referral | None = None
    if result.complete:
        referral_id = _uuid(_identifier(request, systems.of("service_request")))
        try:
            referral = session.to_referral(referral_id=referral_id)
        except IntakeError as exc:
            # A complete intake the model still refuses: report it like a field issue.
            issues.append(MappingIssue("ServiceRequest", "invalid_data", exc.code))
    return FhirIntake(
        result=result,
        referral=referral,
        issues=tuple(issues),
        source_identifiers=identifiers,
        payload=payload,
    )


# -- Task and Appointment updates to triggers ------------------------------------------------


def _reason_code(concept: Any, kind: str, allowed: Sequence[str]) -> str | None:
    code = _code_in(concept, STATUS_REASON)
    if code is not None and code.startswith(f"{kind}:") and code[len(kind) + 1 :] in allowed:
        return code[len(kind) + 1 :]
    for coding in _codings(concept):
        if coding.get("code") in allowed:
            return cast("str", coding["code"])
    return None


def _task_data(trigger: Trigger, task: JsonDict) -> tuple[JsonDict, list[MappingIssue]]:
    reason = task.get("statusReason")
    note = _concept_text(reason)
    issues: list[MappingIssue] = []
    data: JsonDict = {}
    if trigger == "decline":
        code = _reason_code(reason, "decline", [m.value for m in DeclineReason])
        data = {"reason": code or DeclineReason.OTHER.value, "note": note}
    elif trigger in ("cancel", "cancel_appointment"):
        code = _reason_code(reason, "cancel", [m.value for m in CancelReason])
        data = {"reason": code or CancelReason.OTHER.value, "note": note}
    elif trigger == "mark_lost":
        code = _reason_code(reason, "lost", [m.value for m in LostReason])
        data = {"reason": code, "note": note}
    elif trigger in ("hold", "mark_error"):
        data = {"reason": note or f"{trigger.replace('_', ' ')} reported by the EHR"}
    elif trigger == "close_loop":
        for output in (_dict(o) for o in _list(task.get("output"))):
            reference = _dict(output.get("valueReference"))
            ref = _str(reference.get("reference")) or _str(
                _dict(reference.get("identifier")).get("value")
            )
            if ref is not None:
                data = {"report_reference": ref}
                break
        else:
            issues.append(
                MappingIssue(
                    "Task.output", "needs_resource", "close_loop needs the consult report."
                )
            )
    elif trigger in ("accept", "no_show", "complete_visit"):
        data = {"note": note}
    return {k: v for k, v in data.items() if v is not None}, issues


def _validated(
    trigger: Trigger, data: JsonDict, path: str
) -> tuple[Trigger | None, JsonDict, list[MappingIssue]]:
    try:
        model = TRIGGER_DATA[trigger].model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        return None, {}, [MappingIssue(path, "invalid_data", f"{trigger}: {', '.join(fields)}")]
    return trigger, model.model_dump(exclude_none=True), []


def _referral_of(
    resource: JsonDict, own_system: str, systems: FhirSystems, *links: str
) -> tuple[UUID | None, str | None]:
    referral_id = _uuid(_identifier(resource, own_system))
    focus: str | None = None
    for link in links:
        value = resource.get(link)
        for reference in (_dict(r) for r in (value if isinstance(value, list) else [value])):
            focus = focus or _str(reference.get("reference"))
            identifier = _dict(reference.get("identifier"))
            if referral_id is None and identifier.get("system") == systems.of("service_request"):
                referral_id = _uuid(_str(identifier.get("value")))
    return referral_id, focus


def read_task_update(data: object, *, systems: FhirSystems | None = None) -> TriggerUpdate:
    """Read a changed fulfilment Task as a lifecycle trigger.

    The trigger comes from ``Task.status`` and the BSeR business status
    (:data:`~referralkit.lifecycle.crosswalk.TASK_STATUS_TRIGGERS`); its data from
    ``statusReason`` (referralkit's coded reasons, or the reason enums' codes) and ``output``
    (the consult report for ``close_loop``). A booked visit (BSeR 5.1.1) is read from the
    Appointment instead (:func:`read_appointment_update`), which carries the time.

    :returns: the update; ``trigger`` is ``None`` (with issues saying why) when the Task
        moves nothing or its data cannot make a valid trigger.
    :raises FhirResourceError: the data is not a valid FHIR R4 Task.

    .. versionadded:: 0.2
    """
    systems = systems or FhirSystems()
    _model, task = validate_resource(data, "Task")
    status = str(task.get("status"))
    bser = _code_in(task.get("businessStatus"), BSER_BUSINESS_STATUS_SYSTEM)
    found = TASK_STATUS_TRIGGERS.get((status, bser)) or TASK_STATUS_TRIGGERS.get((status, None))
    referral_id, focus = _referral_of(task, systems.of("task"), systems, "focus", "basedOn")
    occurred = _datetime(_dict(task.get("executionPeriod")).get("end")) or _datetime(
        task.get("lastModified")
    )
    recorded = _datetime(_dict(task.get("meta")).get("lastUpdated"))
    issues: list[MappingIssue] = []
    trigger: Trigger | None = None
    payload: JsonDict = {}
    if found is None:
        issues.append(
            MappingIssue(
                "Task.status", "not_mapped", "This status and business status move nothing."
            )
        )
    elif found == "schedule":
        issues.append(
            MappingIssue("Task.businessStatus", "needs_resource", "Read the Appointment instead.")
        )
    else:
        wanted = cast("Trigger", found)
        raw, more = _task_data(wanted, task)
        issues.extend(more)
        if not more:
            trigger, payload, more = _validated(wanted, raw, "Task.statusReason")
            issues.extend(more)
    return TriggerUpdate(
        trigger=trigger,
        data=payload,
        referral_id=referral_id,
        focus=focus,
        occurred_at=occurred,
        recorded_at=recorded,
        issues=tuple(issues),
    )


def read_appointment_update(data: object, *, systems: FhirSystems | None = None) -> TriggerUpdate:
    """Read a changed Appointment as a lifecycle trigger.

    ``booked`` gives ``schedule`` (fire ``reschedule`` with the same data if the referral is
    already scheduled), ``noshow`` gives ``no_show``, ``cancelled`` gives
    ``cancel_appointment`` and ``fulfilled`` gives ``complete_visit``. The appointment keeps
    its referralkit id when it has one, else gets a stable id from the EHR's; its EHR id
    becomes ``external_id``.

    :returns: the update; ``trigger`` is ``None`` for the other statuses.
    :raises FhirResourceError: the data is not a valid FHIR R4 Appointment.

    .. versionadded:: 0.2
    """
    systems = systems or FhirSystems()
    _model, appointment = validate_resource(data, "Appointment")
    status = _FHIR_APPOINTMENT.get(str(appointment.get("status")))
    own = _uuid(_identifier(appointment, systems.of("appointment")))
    referral_id, focus = _referral_of(appointment, "", systems, "basedOn")
    start = _datetime(appointment.get("start"))
    recorded = _datetime(_dict(appointment.get("meta")).get("lastUpdated"))
    issues: list[MappingIssue] = []
    trigger: Trigger | None = None
    payload: JsonDict = {}
    if status is None:
        issues.append(
            MappingIssue("Appointment.status", "not_mapped", "This status moves nothing.")
        )
    elif status is AppointmentStatus.BOOKED:
        end = _datetime(appointment.get("end"))
        minutes = appointment.get("minutesDuration")
        if not isinstance(minutes, int) and start is not None and end is not None:
            minutes = int((end - start) / timedelta(minutes=1))
        external = _str(appointment.get("id"))
        booked: JsonDict = {
            "id": own or uuid5(_APPOINTMENT_IDS, f"{external or start}"),
            "start": start,
            "external_id": external,
        }
        if isinstance(minutes, int) and 0 < minutes <= 24 * 60:
            booked["duration_minutes"] = minutes
        for participant in (_dict(p) for p in _list(appointment.get("participant"))):
            actor = _dict(participant.get("actor"))
            ref = str(actor.get("reference") or "")
            kind = str(actor.get("type") or ref.partition("/")[0])
            if _str(actor.get("display")) is None:
                continue
            if kind == "Location":
                booked["location"] = actor["display"]
            elif kind == "Practitioner":
                provider: JsonDict = {"name": actor["display"]}
                npi = _dict(actor.get("identifier"))
                if npi.get("system") == NPI and _str(npi.get("value")):
                    provider["npi"] = npi["value"]
                booked["provider"] = provider
        raw: JsonDict = {"appointment": {k: v for k, v in booked.items() if v is not None}}
        trigger, payload, more = _validated("schedule", raw, "Appointment")
        issues.extend(more)
    elif status is AppointmentStatus.NO_SHOW:
        trigger, payload, more = _validated("no_show", {}, "Appointment")
        issues.extend(more)
    elif status is AppointmentStatus.CANCELLED:
        code = _code_in(appointment.get("cancelationReason"), APPOINTMENT_CANCEL_REASON)
        valid = {m.value for m in CancelReason}
        raw = {"reason": code if code in valid else CancelReason.OTHER.value}
        text = _concept_text(appointment.get("cancelationReason"))
        if text is not None and code is None:
            raw["note"] = text
        trigger, payload, more = _validated("cancel_appointment", raw, "Appointment")
        issues.extend(more)
    else:
        trigger, payload, more = _validated("complete_visit", {}, "Appointment")
        issues.extend(more)
    return TriggerUpdate(
        trigger=trigger,
        data=payload,
        referral_id=referral_id,
        focus=focus,
        occurred_at=start,
        recorded_at=recorded,
        issues=tuple(issues),
    )


# -- Records an EHR returns --------------------------------------------------------------------

_PATIENT_PATHS: Final = (
    "given_name",
    "family_name",
    "middle_name",
    "birth_date",
    "mrn",
    "email",
    "preferred_language",
)


def patient_from_fhir(
    data: object, *, systems: FhirSystems | None = None, clock: Clock | None = None
) -> Patient | None:
    """Return the referralkit :class:`~referralkit.model.Patient` a FHIR Patient describes.

    Values are normalised by intake's validators (names, E.164 phones, birth dates); one that
    fails is left out, as intake leaves out a value it cannot accept.

    :returns: the patient, or ``None`` when the resource lacks a usable name.
    :raises FhirResourceError: the data is not a valid FHIR R4 Patient.

    .. versionadded:: 0.2
    """
    _model, resource = validate_resource(data, "Patient")
    payload: JsonDict = {}
    patient_of(resource, systems or FhirSystems(), payload)
    session = IntakeSession(CallType.NEW_REFERRAL, IntakeConfig(), clock or SystemClock())
    session.update(payload)
    fields: JsonDict = {
        name: session.value(f"patient.{name}")
        for name in _PATIENT_PATHS
        if session.value(f"patient.{name}") is not None
    }
    phones = session.value("patient.phones") or ()
    fields["phones"] = tuple(
        {"number": number, "kind": kind, "time_zones": zones} for number, kind, zones in phones
    )
    address = {
        key: session.value(f"patient.address.{key}")
        for key in ("line1", "line2", "city", "state", "postal_code")
        if session.value(f"patient.address.{key}") is not None
    }
    if {"line1", "city", "state", "postal_code"} <= address.keys():
        fields["address"] = address
    try:
        return Patient.model_validate(fields)
    except ValidationError:
        return None


def coverage_from_fhir(
    data: object, *, payer: object | None = None, systems: FhirSystems | None = None
) -> Coverage | None:
    """Return the referralkit :class:`~referralkit.model.Coverage` a FHIR Coverage describes.

    :param payer: the ``Organization`` that ``Coverage.payor`` references, when the caller
        fetched it (its name and first identifier become the payer's).
    :returns: the coverage, or ``None`` when it has no member id or no payer name.
    :raises FhirResourceError: the data (or the payer) is not valid FHIR R4.

    .. versionadded:: 0.2
    """
    _model, resource = validate_resource(data, "Coverage")
    bundled: dict[str, JsonDict] = {}
    if payer is not None:
        _payer_model, organization = validate_resource(payer, "Organization")
        reference = _str(_dict((_list(resource.get("payor")) or [{}])[0]).get("reference"))
        if reference is not None:
            bundled[reference] = organization
    payload: JsonDict = {}
    _coverage(_Resolver({}, bundled, []), resource, payload, [], systems or FhirSystems())
    fields = {
        key.removeprefix("coverage."): value
        for key, value in payload.items()
        if isinstance(value, str) and value
    }
    try:
        return Coverage.model_validate(fields)
    except ValidationError:
        return None
