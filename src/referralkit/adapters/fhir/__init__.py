"""FHIR R4 interoperability: export and import referrals, and an EHR adapter over FHIR REST.

Needs the ``fhir`` extra (``pip install 'referralkit[fhir]'``): fhir.resources (its R4B
models, which match R4 for every resource used here) and httpx.

- :mod:`~referralkit.adapters.fhir.export`: :func:`export_referral`, a referral as a
  transaction Bundle;
- :mod:`~referralkit.adapters.fhir.inbound`: :func:`read_service_request` (an order becomes
  an intake) and :func:`read_task_update` / :func:`read_appointment_update` (updates become
  lifecycle triggers);
- :mod:`~referralkit.adapters.fhir.ehr`: :class:`FhirEhr`, the EHR port over FHIR REST;
- :mod:`~referralkit.adapters.fhir.plugin`: :class:`FhirPlugin`, which provides it;
- :mod:`~referralkit.adapters.fhir.systems`: code and identifier systems.

.. versionadded:: 0.2
"""

from __future__ import annotations

from referralkit.adapters.fhir.auth import (
    AssertionSigner,
    SmartBackendServices,
    StaticToken,
    TokenSource,
)
from referralkit.adapters.fhir.ehr import FhirEhr, classify_response
from referralkit.adapters.fhir.export import ConsultReport, FhirExport, export_referral
from referralkit.adapters.fhir.inbound import (
    FhirIntake,
    MappingIssue,
    TriggerUpdate,
    coverage_from_fhir,
    patient_from_fhir,
    read_appointment_update,
    read_service_request,
    read_task_update,
)
from referralkit.adapters.fhir.plugin import FhirPlugin
from referralkit.adapters.fhir.systems import FhirSystems

__all__ = [
    "AssertionSigner",
    "ConsultReport",
    "FhirEhr",
    "FhirExport",
    "FhirIntake",
    "FhirPlugin",
    "FhirSystems",
    "MappingIssue",
    "SmartBackendServices",
    "StaticToken",
    "TokenSource",
    "TriggerUpdate",
    "classify_response",
    "coverage_from_fhir",
    "export_referral",
    "patient_from_fhir",
    "read_appointment_update",
    "read_service_request",
    "read_task_update",
]
