""":class:`FhirEhr`: the EHR port over a FHIR R4 REST API, with httpx.

What it does with the server:

- ``fetch_patient``: ``POST Patient/_search`` by MRN identifier, then the patient's
  ``Coverage`` (and each payer ``Organization``). Searches that carry PHI go in a form body,
  never in the URL, so no MRN reaches an access log or httpx's request log.
- ``push_status``: reads the fulfilment ``Task`` (and the ``ServiceRequest``) by referralkit's
  identifier and updates it with ``If-Match`` on the version read; a Task not there yet is
  created with ``If-None-Exist``. A stale version (412) is transient: the retry reads again.
- ``fetch_documents``: ``DocumentReference`` of the patient, filtered by kind and date.
- ``book_appointment`` and ``cancel_appointment``: an ``Appointment`` created with
  ``If-None-Exist`` on referralkit's appointment id, cancelled with ``If-Match``.
- :meth:`FhirEhr.put_referral` (not a port method): the whole referral as a transaction
  Bundle of conditional creates (:func:`~referralkit.adapters.fhir.export_referral`).

Errors are classified from the HTTP status and the ``OperationOutcome``: timeouts, network
faults, 408, 409, 412, 425, 429 and 5xx, or any outcome issue of a transient type, raise
:class:`~referralkit.errors.TransientAdapterError`; other refusals raise
:class:`~referralkit.errors.PermanentAdapterError`. Messages name the operation, the status
and the outcome's issue codes, never a value or the server's diagnostics (which may quote
PHI).

.. versionadded:: 0.2
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final, cast

import attrs
import httpx

from referralkit.adapters.fhir.auth import TokenSource
from referralkit.adapters.fhir.export import ConsultReport, export_referral
from referralkit.adapters.fhir.inbound import coverage_from_fhir, patient_from_fhir
from referralkit.adapters.fhir.systems import (
    APPOINTMENT_CANCEL_REASON,
    NPI,
    STATUS_REASON,
    TASK_CODE,
    FhirSystems,
    business_status_concept,
    report_communication_id,
)
from referralkit.clock import Clock, SystemClock
from referralkit.errors import FhirResourceError, PermanentAdapterError, TransientAdapterError
from referralkit.lifecycle.crosswalk import StatusCodes, after_appointment, crosswalk
from referralkit.model import Actor, AppointmentStatus, Referral, ReferralStatus
from referralkit.ports import (
    AppointmentReceipt,
    BookAppointmentRequest,
    CancelAppointmentRequest,
    DocumentList,
    DocumentPushRequest,
    DocumentRef,
    DocumentsRequest,
    PatientLookupRequest,
    PatientRecord,
    Receipt,
    StatusPushRequest,
)

__all__ = ["TRANSIENT_ISSUE_TYPES", "TRANSIENT_STATUSES", "FhirEhr", "classify_response"]

_log = logging.getLogger(__name__)

JsonDict = dict[str, Any]
FHIR_JSON: Final = "application/fhir+json"

TRANSIENT_STATUSES: Final = frozenset({408, 409, 412, 425, 429, 500, 502, 503, 504})
"""HTTP statuses worth retrying: timeouts, version races, rate limits, server faults."""
TRANSIENT_ISSUE_TYPES: Final = frozenset(
    {"transient", "lock-error", "no-store", "exception", "timeout", "incomplete", "throttled"}
)
"""FHIR ``IssueType`` codes of the *transient* group: worth retrying whatever the status."""


def _issue_codes(response: httpx.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    issues = body.get("issue")
    if not isinstance(issues, list):
        return []
    return [str(i.get("code")) for i in issues if isinstance(i, dict) and i.get("code")]


def classify_response(
    response: httpx.Response, *, adapter: str, operation: str
) -> TransientAdapterError | PermanentAdapterError:
    """Return the error a failed FHIR response stands for (it is not raised here).

    Transient: a status in :data:`TRANSIENT_STATUSES`, or an ``OperationOutcome`` with an
    issue type in :data:`TRANSIENT_ISSUE_TYPES`. Everything else is permanent. The message
    holds the status and issue codes only.

    .. versionadded:: 0.2
    """
    codes = _issue_codes(response)
    detail = f"FHIR server answered {response.status_code} to {operation}"
    if codes:
        detail += f" (OperationOutcome: {', '.join(sorted(set(codes))[:5])})"
    if response.status_code in TRANSIENT_STATUSES or TRANSIENT_ISSUE_TYPES.intersection(codes):
        return TransientAdapterError(detail, adapter=adapter, operation=operation)
    return PermanentAdapterError(detail, adapter=adapter, operation=operation)


def _version(resource: JsonDict, response: httpx.Response) -> str | None:
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    if isinstance(version, str) and version:
        return version
    etag = response.headers.get("ETag", "")
    return etag.removeprefix("W/").strip('"') or None


@attrs.define
class FhirEhr:
    """The EHR port over a FHIR R4 REST API (``Patient``, ``Coverage``, ``Task``...).

    :ivar base_url: the FHIR base, such as ``https://ehr.example.org/fhir``.
    :ivar token_source: gives the bearer token (SMART backend services, or
        :class:`~referralkit.adapters.fhir.StaticToken`); ``None`` sends no Authorization.
    :ivar timeout: seconds for connecting, reading and writing, per request.
    :ivar systems: the identifier systems, including the EHR's MRN system.
    :ivar transport: an httpx transport (a proxy, a mounted test app); the default is the
        network.

    .. versionadded:: 0.2
    """

    base_url: str
    name: str = "fhir"
    token_source: TokenSource | None = attrs.field(default=None, repr=False)
    timeout: float = 10.0
    systems: FhirSystems = attrs.field(factory=FhirSystems)
    clock: Clock = attrs.field(factory=SystemClock)
    transport: httpx.BaseTransport | None = attrs.field(default=None, repr=False)
    _client: httpx.Client | None = attrs.field(default=None, init=False, repr=False)
    _receipts: dict[str, Receipt] = attrs.field(factory=dict, init=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    # -- HTTP --

    @property
    def client(self) -> httpx.Client:
        """The httpx client, made on first use (no I/O before then)."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url.rstrip("/") + "/",
                timeout=httpx.Timeout(self.timeout),
                transport=self.transport,
                headers={"Accept": FHIR_JSON},
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP client (a later call opens a new one)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> FhirEhr:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        json: JsonDict | None = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (200, 201),
    ) -> httpx.Response:
        extra = dict(headers or {})
        if json is not None:
            extra["Content-Type"] = FHIR_JSON
        for attempt in (0, 1):
            if self.token_source is not None:
                extra["Authorization"] = f"Bearer {self.token_source(refresh=attempt == 1)}"
            try:
                response = self.client.request(method, url, json=json, data=form, headers=extra)
            except httpx.TimeoutException as exc:
                raise TransientAdapterError(
                    f"FHIR server timed out on {operation}", adapter=self.name, operation=operation
                ) from exc
            except httpx.TransportError as exc:
                raise TransientAdapterError(
                    f"FHIR server unreachable on {operation} ({type(exc).__name__})",
                    adapter=self.name,
                    operation=operation,
                ) from exc
            if response.status_code == 401 and attempt == 0 and self.token_source is not None:
                continue  # the token expired: ask the source for a fresh one, once
            if response.status_code in ok:
                return response
            raise classify_response(response, adapter=self.name, operation=operation)
        raise PermanentAdapterError(  # pragma: no cover - the loop always returns or raises
            f"FHIR server refused {operation}", adapter=self.name, operation=operation
        )

    def _json(self, response: httpx.Response, operation: str) -> JsonDict:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise PermanentAdapterError(
                f"FHIR server sent no JSON resource for {operation}",
                adapter=self.name,
                operation=operation,
            )
        return body

    def _search(
        self, operation: str, resource_type: str, params: Mapping[str, str]
    ) -> list[JsonDict]:
        # POST _search with a form body: search values stay out of URLs and request logs.
        response = self._send(operation, "POST", f"{resource_type}/_search", form=params)
        bundle = self._json(response, operation)
        found: list[JsonDict] = []
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == resource_type:
                search = entry.get("search")
                if isinstance(search, dict) and search.get("mode") == "include":
                    continue
                found.append(resource)
        return found

    def _ledger(self, key: str) -> Receipt | None:
        with self._lock:
            first = self._receipts.get(key)
        return None if first is None else first.model_copy(update={"duplicate": True})

    def _record(self, receipt: Receipt) -> Receipt:
        with self._lock:
            # Two threads with one key: the first receipt wins, the second is the duplicate.
            first = self._receipts.setdefault(receipt.idempotency_key, receipt)
        return first if first is receipt else first.model_copy(update={"duplicate": True})

    # -- reads --

    def _patient_id(self, mrn: str, operation: str) -> tuple[str, JsonDict] | None:
        found = self._search(
            operation, "Patient", {"identifier": f"{self.systems.of('mrn')}|{mrn}"}
        )
        if not found:
            return None
        if len(found) > 1:
            raise PermanentAdapterError(
                f"the MRN matches several patients ({operation})",
                adapter=self.name,
                operation=operation,
            )
        patient = found[0]
        return str(patient.get("id", "")), patient

    def fetch_patient(self, request: PatientLookupRequest) -> PatientRecord:
        """Return the patient with ``request.mrn`` and, if asked, their coverage.

        :raises TransientAdapterError: the server is unavailable for now.
        :raises PermanentAdapterError: the server refused, or the MRN matches several
            patients.
        """
        operation = "fetch_patient"
        found = self._patient_id(request.mrn, operation)
        if found is None:
            return PatientRecord(idempotency_key=request.idempotency_key)
        patient_id, resource = found
        try:
            patient = patient_from_fhir(resource, systems=self.systems, clock=self.clock)
        except FhirResourceError as exc:
            raise PermanentAdapterError(
                f"the EHR's Patient is not valid FHIR R4 ({exc.code})",
                adapter=self.name,
                operation=operation,
            ) from None
        coverages = []
        if request.include_coverage and patient_id:
            for coverage in self._search(
                operation, "Coverage", {"beneficiary": f"Patient/{patient_id}"}
            ):
                payer = self._payer(coverage, operation)
                try:
                    mapped = coverage_from_fhir(coverage, payer=payer, systems=self.systems)
                except FhirResourceError:
                    mapped = None
                if mapped is None:
                    _log.debug("%s: a Coverage without member id or payer was skipped", self.name)
                else:
                    coverages.append(mapped)
        return PatientRecord(
            idempotency_key=request.idempotency_key, patient=patient, coverage=tuple(coverages)
        )

    def _payer(self, coverage: JsonDict, operation: str) -> JsonDict | None:
        payors = coverage.get("payor") or []
        first = payors[0] if payors and isinstance(payors[0], dict) else {}
        reference = first.get("reference")
        if isinstance(reference, str) and reference.startswith("Organization/"):
            return self._json(self._send(operation, "GET", reference), operation)
        return None

    def fetch_documents(self, request: DocumentsRequest) -> DocumentList:
        """Return the patient's documents of the requested kinds (LOINC type codes).

        :raises TransientAdapterError: the server is unavailable for now.
        :raises PermanentAdapterError: the server refused.
        """
        operation = "fetch_documents"
        found = self._patient_id(request.mrn, operation)
        if found is None:
            return DocumentList(idempotency_key=request.idempotency_key)
        documents = []
        for resource in self._search(
            operation, "DocumentReference", {"subject": f"Patient/{found[0]}"}
        ):
            ref = _document_ref(resource, request.since)
            if ref is not None and (not request.kinds or ref.kind in request.kinds):
                documents.append(ref)
        return DocumentList(idempotency_key=request.idempotency_key, documents=tuple(documents))

    # -- writes --

    def _identifier_query(self, system: str, value: str) -> str:
        return f"identifier={system}|{value}"

    def push_status(self, request: StatusPushRequest) -> Receipt:
        """Set the fulfilment Task's status and business status (and the order's status).

        A referral back in ``ready_to_schedule`` while its Task is ``in-progress`` lost its
        appointment: the Task stays ``in-progress``, with the no-show business status when
        ``reason_code`` is ``no_show``, else the cancelled-appointment one.

        :raises TransientAdapterError: the server is unavailable, or the Task changed under us
            (412): the retry reads it again.
        :raises PermanentAdapterError: the server refused the update.
        """
        first = self._ledger(request.idempotency_key)
        if first is not None:
            return first
        operation = "push_status"
        referral = str(request.referral_id)
        task_system = self.systems.of("task")
        tasks = self._search(operation, "Task", {"identifier": f"{task_system}|{referral}"})
        codes = crosswalk(request.status)
        if tasks:
            task = tasks[0]
            if request.status is ReferralStatus.READY_TO_SCHEDULE and task.get("status") == (
                "in-progress"
            ):
                outcome = (
                    AppointmentStatus.NO_SHOW
                    if request.reason_code == "no_show"
                    else AppointmentStatus.CANCELLED
                )
                codes = after_appointment(outcome) or codes
            ref = self._update_task(task, codes, request, operation)
        else:
            ref = self._create_task(codes, request, operation)
        self._update_order(codes, referral, operation)
        return self._record(
            Receipt(
                idempotency_key=request.idempotency_key,
                provider_ref=ref,
                accepted_at=self.clock.now(),
            )
        )

    def _task_status(self, task: JsonDict, codes: StatusCodes, request: StatusPushRequest) -> None:
        task["status"] = codes.task_status
        business = codes.business_status
        if business is None:
            task.pop("businessStatus", None)
        else:
            task["businessStatus"] = business_status_concept(business)
        if request.reason_code:
            task["statusReason"] = {
                "coding": [{"system": STATUS_REASON, "code": request.reason_code}]
            }
        else:
            task.pop("statusReason", None)
        task["lastModified"] = request.at.isoformat()

    def _update_task(
        self, task: JsonDict, codes: StatusCodes, request: StatusPushRequest, operation: str
    ) -> str:
        task_id = str(task.get("id", ""))
        version = cast("JsonDict", task.get("meta") or {}).get("versionId")
        self._task_status(task, codes, request)
        headers = {"If-Match": f'W/"{version}"'} if version else {}
        response = self._send(operation, "PUT", f"Task/{task_id}", json=task, headers=headers)
        return _location(response, "Task", task_id)

    def _create_task(self, codes: StatusCodes, request: StatusPushRequest, operation: str) -> str:
        referral = str(request.referral_id)
        identifier = {"system": self.systems.of("task"), "value": referral}
        order = {"system": self.systems.of("service_request"), "value": referral}
        task: JsonDict = {
            "resourceType": "Task",
            "identifier": [identifier],
            "intent": "order",
            "code": {"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
            "focus": {"type": "ServiceRequest", "identifier": order},
        }
        self._task_status(task, codes, request)
        response = self._send(
            operation,
            "POST",
            "Task",
            json=task,
            headers={"If-None-Exist": self._identifier_query(identifier["system"], referral)},
        )
        return _location(response, "Task", None)

    def _update_order(self, codes: StatusCodes, referral: str, operation: str) -> None:
        system = self.systems.of("service_request")
        for order in self._search(
            operation, "ServiceRequest", {"identifier": f"{system}|{referral}"}
        ):
            if order.get("status") == codes.service_request_status:
                continue
            order["status"] = codes.service_request_status
            version = cast("JsonDict", order.get("meta") or {}).get("versionId")
            headers = {"If-Match": f'W/"{version}"'} if version else {}
            self._send(
                operation, "PUT", f"ServiceRequest/{order.get('id')}", json=order, headers=headers
            )

    def book_appointment(self, request: BookAppointmentRequest) -> AppointmentReceipt:
        """Create the Appointment; a repeat finds the first (``If-None-Exist``).

        The patient and the clinician are referenced by identifier (MRN, NPI), so nothing
        is searched first.

        :raises TransientAdapterError: nothing was booked; worth retrying.
        :raises PermanentAdapterError: the server refused the appointment.
        """
        first = self._ledger(request.idempotency_key)
        if first is not None:
            return cast("AppointmentReceipt", first)
        operation = "book_appointment"
        system = self.systems.of("appointment")
        end = request.start + timedelta(minutes=request.duration_minutes)
        participants: list[JsonDict] = [
            {
                "actor": {
                    "type": "Patient",
                    "identifier": {"system": self.systems.of("mrn"), "value": request.mrn},
                },
                "required": "required",
                "status": "accepted",
            }
        ]
        if request.provider_npi:
            participants.append(
                {
                    "actor": {
                        "type": "Practitioner",
                        "identifier": {"system": NPI, "value": request.provider_npi},
                    },
                    "status": "accepted",
                }
            )
        if request.location:
            participants.append(
                {"actor": {"type": "Location", "display": request.location}, "status": "accepted"}
            )
        appointment: JsonDict = {
            "resourceType": "Appointment",
            "identifier": [{"system": system, "value": str(request.appointment_id)}],
            "status": "booked",
            "start": request.start.isoformat(),
            "end": end.isoformat(),
            "minutesDuration": request.duration_minutes,
            "basedOn": [
                {
                    "type": "ServiceRequest",
                    "identifier": {
                        "system": self.systems.of("service_request"),
                        "value": str(request.referral_id),
                    },
                }
            ],
            "participant": participants,
        }
        response = self._send(
            operation,
            "POST",
            "Appointment",
            json=appointment,
            headers={
                "If-None-Exist": self._identifier_query(system, str(request.appointment_id)),
                "Prefer": "return=representation",
            },
        )
        ref = _location(response, "Appointment", None)
        external = ref.split("/")[1]
        receipt = AppointmentReceipt(
            idempotency_key=request.idempotency_key,
            provider_ref=ref,
            accepted_at=self.clock.now(),
            external_id=external,
            # 200 to a conditional create: the server already had it (booked before a crash).
            duplicate=response.status_code == 200,
        )
        return cast("AppointmentReceipt", self._record(receipt))

    def cancel_appointment(self, request: CancelAppointmentRequest) -> Receipt:
        """Cancel the Appointment ``request.external_id`` (``If-Match`` on the version read).

        Cancelling an appointment already cancelled succeeds without a write.

        :raises TransientAdapterError: nothing was cancelled; worth retrying.
        :raises PermanentAdapterError: no such appointment, or the server refused.
        """
        first = self._ledger(request.idempotency_key)
        if first is not None:
            return first
        operation = "cancel_appointment"
        url = f"Appointment/{request.external_id}"
        response = self._send(operation, "GET", url)
        appointment = self._json(response, operation)
        ref = _location(response, "Appointment", request.external_id)
        if appointment.get("status") != "cancelled":
            version = _version(appointment, response)
            appointment["status"] = "cancelled"
            appointment["cancelationReason"] = {
                "coding": [{"system": APPOINTMENT_CANCEL_REASON, "code": request.reason.value}]
            }
            headers = {"If-Match": f'W/"{version}"'} if version else {}
            updated = self._send(operation, "PUT", url, json=appointment, headers=headers)
            ref = _location(updated, "Appointment", request.external_id)
        return self._record(
            Receipt(
                idempotency_key=request.idempotency_key,
                provider_ref=ref,
                accepted_at=self.clock.now(),
            )
        )

    def push_document(self, request: DocumentPushRequest) -> Receipt:
        """Send the consult report to the referring practice as a ``Communication``.

        The Communication references the report's ``DocumentReference`` and the referral's
        ``ServiceRequest`` by identifier and names the recipient ``Organization`` by NPI (or
        the practice's id); it is created conditionally (``If-None-Exist`` on the identifier
        the export writes too), so a repeat after a crash delivers it once.

        :raises TransientAdapterError: nothing was delivered; worth retrying.
        :raises PermanentAdapterError: the server refused the Communication.

        .. versionadded:: 0.3
        """
        first = self._ledger(request.idempotency_key)
        if first is not None:
            return first
        operation = "push_document"
        system = self.systems.of("communication")
        value = report_communication_id(request.referral_id, request.documents[0].document_id)
        recipient: JsonDict = {"type": "Organization", "display": request.recipient_name}
        recipient["identifier"] = (
            {"system": NPI, "value": request.recipient_npi}
            if request.recipient_npi
            else {"system": self.systems.of("practice"), "value": request.recipient}
        )
        communication: JsonDict = {
            "resourceType": "Communication",
            "identifier": [{"system": system, "value": value}],
            "status": "completed",
            "basedOn": [
                {
                    "type": "ServiceRequest",
                    "identifier": {
                        "system": self.systems.of("service_request"),
                        "value": str(request.referral_id),
                    },
                }
            ],
            "sent": self.clock.now().isoformat(),
            "recipient": [recipient],
            "payload": [
                {
                    "contentReference": {
                        "type": "DocumentReference",
                        "identifier": {
                            "system": self.systems.of("document"),
                            "value": document.document_id,
                        },
                    }
                }
                for document in request.documents
            ],
        }
        response = self._send(
            operation,
            "POST",
            "Communication",
            json=communication,
            headers={
                "If-None-Exist": self._identifier_query(system, value),
                "Prefer": "return=representation",
            },
        )
        return self._record(
            Receipt(
                idempotency_key=request.idempotency_key,
                provider_ref=_location(response, "Communication", None),
                accepted_at=self.clock.now(),
                duplicate=response.status_code == 200,
            )
        )

    def put_referral(
        self,
        referral: Referral,
        *,
        consult_report: ConsultReport | None = None,
        actors: Iterable[Actor] = (),
        due_at: datetime | None = None,
    ) -> tuple[str, ...]:
        """Write the whole referral as one transaction of conditional creates.

        Resources the server already holds (same identifiers) are left as they are: later
        status changes go through :meth:`push_status`.

        :returns: the location of each entry, in bundle order.
        :raises TransientAdapterError: the server is unavailable for now.
        :raises PermanentAdapterError: the server refused the transaction.
        """
        operation = "put_referral"
        exported = export_referral(
            referral,
            recorded_at=self.clock.now(),
            systems=self.systems,
            consult_report=consult_report,
            actors=actors,
            due_at=due_at,
        )
        response = self._send(operation, "POST", "", json=exported.as_dict())
        bundle = self._json(response, operation)
        locations = []
        for entry in bundle.get("entry") or []:
            answer = entry.get("response") if isinstance(entry, dict) else None
            location = answer.get("location") if isinstance(answer, dict) else None
            locations.append(str(location or ""))
        return tuple(locations)


def _location(response: httpx.Response, resource_type: str, known_id: str | None) -> str:
    """Return ``Type/id/_history/version`` of the resource a write answered with."""
    location = response.headers.get("Location") or response.headers.get("Content-Location")
    if location:
        tail = location.split(f"{resource_type}/", 1)[-1]
        return f"{resource_type}/{tail}"
    try:
        body = response.json()
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get("id"):
        version = (body.get("meta") or {}).get("versionId")
        ref = f"{resource_type}/{body['id']}"
        return f"{ref}/_history/{version}" if version else ref
    return f"{resource_type}/{known_id or 'unknown'}"


def _document_ref(resource: JsonDict, since: date | None) -> DocumentRef | None:
    identifiers = [i for i in resource.get("identifier") or [] if isinstance(i, dict)]
    document_id = next(
        (str(i["value"]) for i in identifiers if i.get("value")), str(resource.get("id") or "")
    )
    if not document_id:
        return None
    created = resource.get("date")
    if since is not None and isinstance(created, str) and created[:10] < since.isoformat():
        return None
    codings = (resource.get("type") or {}).get("coding") or []
    kind = next((str(c["code"]) for c in codings if isinstance(c, dict) and c.get("code")), "")
    contents = resource.get("content") or [{}]
    attachment = contents[0].get("attachment") or {} if isinstance(contents[0], dict) else {}
    return DocumentRef(
        document_id=document_id[:200],
        kind=(kind or "document")[:200],
        content_type=str(attachment.get("contentType") or "application/pdf"),
    )
