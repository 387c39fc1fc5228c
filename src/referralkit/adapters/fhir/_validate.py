"""Validation of FHIR JSON with fhir.resources' R4B models, translated into typed errors."""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from referralkit.errors import FhirResourceError

__all__ = ["MAX_JSON_BYTES", "load_json", "model_class", "validate_resource"]

MAX_JSON_BYTES: Final = 5_000_000
"""The largest resource text read (a referral bundle is a few kilobytes)."""

# fhir.resources 8 (on fhir-core) raises these beyond ValidationError for malformed input,
# e.g. a resourceType it does not know, or a primitive of the wrong shape.
_MODEL_FAULTS: Final = (
    ValidationError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    LookupError,
)


@cache
def model_class(resource_type: str) -> type[BaseModel]:
    """Return fhir.resources' R4B model class for *resource_type*.

    R4B is imported explicitly: fhir.resources' default package is R5, and R4B matches R4 for
    every resource referralkit reads or writes.

    :raises FhirResourceError: ``unexpected_type`` for a name that is not an R4B resource.
    """
    if not resource_type.isalpha() or not resource_type[:1].isupper():
        raise FhirResourceError("unexpected_type", "Not a FHIR resource type.")
    try:
        module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
        cls = getattr(module, resource_type)
    except (ImportError, AttributeError) as exc:
        raise FhirResourceError(
            "unexpected_type", "Not a FHIR R4 resource type.", resource_type=None
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        raise FhirResourceError("unexpected_type", "Not a FHIR R4 resource type.")
    return cls


def load_json(data: object) -> Any:
    """Return *data* as parsed JSON: a mapping is returned as is, text or bytes are parsed.

    :raises FhirResourceError: ``not_json`` when the text is not JSON or is too large.
    """
    if isinstance(data, Mapping):
        return data
    if isinstance(data, str | bytes | bytearray):
        if len(data) > MAX_JSON_BYTES:
            raise FhirResourceError("not_json", "The resource text is too large.")
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise FhirResourceError("not_json", "The resource is not JSON.") from exc
    raise FhirResourceError("not_json", "The resource is neither JSON text nor a mapping.")


def validate_resource(data: object, *expected: str) -> tuple[BaseModel, dict[str, Any]]:
    """Validate *data* as FHIR R4 and return the model and the (validated) JSON dict.

    :param expected: the resource types accepted (any when empty).
    :raises FhirResourceError: ``not_json``, ``unexpected_type`` or ``invalid_resource``
        (with the element paths and error types, never the values).
    """
    raw = load_json(data)
    if not isinstance(raw, Mapping):
        raise FhirResourceError("unexpected_type", "A FHIR resource is a JSON object.")
    resource_type = raw.get("resourceType")
    if not isinstance(resource_type, str):
        raise FhirResourceError("unexpected_type", "The JSON object has no resourceType.")
    if expected and resource_type not in expected:
        raise FhirResourceError(
            "unexpected_type",
            f"Expected {' or '.join(expected)}, got another resource type.",
            resource_type=resource_type if resource_type.isalpha() else None,
        )
    cls = model_class(resource_type)
    try:
        model = cls.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"loc": tuple(str(p) for p in e["loc"]), "type": e["type"]}
            for e in exc.errors(include_input=False, include_url=False)
        ]
        paths = ", ".join(sorted({".".join(e["loc"]) or resource_type for e in errors})[:10])
        raise FhirResourceError(
            "invalid_resource",
            f"The {resource_type} is not valid FHIR R4: {paths}.",
            resource_type=resource_type,
            errors=errors,
        ) from None
    except (*_MODEL_FAULTS, RecursionError) as exc:
        # from None: the original message may quote the input, which can be PHI.
        raise FhirResourceError(
            "invalid_resource",
            f"The {resource_type} is not valid FHIR R4 ({type(exc).__name__}).",
            resource_type=resource_type,
        ) from None
    # The validated input itself, not model_dump(): dumping costs several times the
    # validation, and the readers take every element defensively anyway.
    return model, dict(raw)
