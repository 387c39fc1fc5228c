"""Code systems and identifier systems the FHIR mapping writes and reads.

.. versionadded:: 0.2
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID, uuid5

import attrs

from referralkit.lifecycle.crosswalk import (
    BSER_BUSINESS_STATUS_SYSTEM,
    BUSINESS_STATUS_SYSTEM,
    BusinessStatus,
)

__all__ = [
    "BSER_BUSINESS_STATUS_SYSTEM",
    "BUSINESS_STATUS_SYSTEM",
    "CONSULT_NOTE_LOINC",
    "ICD10CM",
    "LOINC",
    "NPI",
    "SNOMED",
    "SNOMED_PATIENT_REFERRAL",
    "FhirSystems",
    "business_status_concept",
    "report_communication_id",
]

NPI: Final = "http://hl7.org/fhir/sid/us-npi"
"""The US National Provider Identifier system."""
ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
"""ICD-10-CM."""
SNOMED: Final = "http://snomed.info/sct"
"""SNOMED CT."""
LOINC: Final = "http://loinc.org"
"""LOINC."""
SNOMED_PATIENT_REFERRAL: Final = "3457005"
"""SNOMED CT "Patient referral": the ServiceRequest category of every referral."""
CONSULT_NOTE_LOINC: Final = "11488-4"
"""LOINC "Consult note": the type of the consult report's DocumentReference."""
TASK_CODE: Final = "http://hl7.org/fhir/CodeSystem/task-code"
V2_0203: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
COVERAGE_CLASS: Final = "http://terminology.hl7.org/CodeSystem/coverage-class"
APPOINTMENT_CANCEL_REASON: Final = "urn:referralkit:fhir:cancel-reason"
STATUS_REASON: Final = "urn:referralkit:fhir:status-reason"

# A fixed namespace: the fullUrl of each resource is a uuid5 of the referral id and its role,
# so exporting the same referral twice gives the same bundle (and the same conditional keys).
_NAMESPACE: Final = UUID("6f1c9a52-3b5e-4d0e-9c4c-2f7d3b0c8e11")


@attrs.frozen
class FhirSystems:
    """The identifier systems a host's resources carry; the defaults are URNs under ``base``.

    Every resource referralkit writes carries an identifier in one of these systems, so a
    conditional create (``ifNoneExist``) finds it again and a repeat never duplicates.

    :ivar base: prefix of every system below unless it is given.
    :ivar mrn: the system of the patient's medical record number (set it to the EHR's).

    .. versionadded:: 0.2
    """

    base: str = "urn:referralkit"
    mrn: str = ""
    patient: str = ""
    service_request: str = ""
    task: str = ""
    appointment: str = ""
    referral_number: str = ""
    practice: str = ""
    payer: str = ""
    member: str = ""
    document: str = ""
    communication: str = ""
    actor: str = ""

    def of(self, name: str) -> str:
        """Return the system named *name* (an attribute), defaulting to ``{base}:{name}``."""
        value: str = getattr(self, name)
        return value or f"{self.base}:{name.replace('_', '-')}"

    @staticmethod
    def full_url(referral_id: UUID, role: str) -> str:
        """Return the stable ``urn:uuid`` of the resource playing *role* in a referral."""
        return f"urn:uuid:{uuid5(_NAMESPACE, f'{referral_id}|{role}')}"


def report_communication_id(referral_id: UUID, document_id: str) -> str:
    """Return the identifier value of the ``Communication`` that sends a consult report.

    The export and the EHR adapter's ``push_document`` both write it, so a report pushed once
    and exported later (or pushed again after a crash) is one Communication.

    .. versionadded:: 0.3
    """
    return f"{referral_id}:{document_id}"


def business_status_concept(business: BusinessStatus) -> dict[str, Any]:
    """Return a ``Task.businessStatus`` for *business*: its BSeR code first, then our step."""
    coding: list[dict[str, Any]] = [{"system": BUSINESS_STATUS_SYSTEM, "code": business.step}]
    if business.bser is not None:
        coding.insert(
            0,
            {
                "system": BSER_BUSINESS_STATUS_SYSTEM,
                "code": business.bser,
                "display": business.bser_display,
            },
        )
    return {"coding": coding, "text": business.step}
