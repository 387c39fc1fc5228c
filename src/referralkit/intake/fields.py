"""The field catalogue: every call type, and every field each call type can capture.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, get_args

import attrs

from referralkit.errors import IntakeError

__all__ = [
    "CALLER_ROLES",
    "FIELDS",
    "VISIT_TOPICS",
    "CallType",
    "CallerRole",
    "FieldDef",
    "VisitTopic",
]


class CallType(enum.Enum):
    """The kinds of specialist-referral call (see the domain brief)."""

    NEW_REFERRAL = "new_referral"
    SCHEDULE_APPOINTMENT = "schedule_appointment"
    STATUS_INQUIRY = "status_inquiry"
    AUTHORIZATION_QUESTION = "authorization_question"
    RECORDS_TRANSFER = "records_transfer"
    VISIT_PREPARATION = "visit_preparation"
    PRACTICE_COORDINATION = "practice_coordination"

    @classmethod
    def coerce(cls, value: object) -> CallType:
        """Return the call type *value* names (a member or its string value).

        :raises IntakeError: ``unknown_call_type``.
        """
        if isinstance(value, CallType):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        known = ", ".join(m.value for m in cls)
        raise IntakeError("unknown_call_type", f"Unknown call type; known call types: {known}.")


# -- The field catalogue ----------------------------------------------------------------------


@attrs.frozen
class FieldDef:
    """One field an intake can capture.

    :ivar kind: how its value is normalised (``"name"``, ``"phone"``, ``"npi"``, ...).
    :ivar phi: whether it holds protected health information (never logged or echoed).
    :ivar choices: the allowed values of a ``"choice"`` field.
    """

    path: str
    kind: str
    phi: bool = False
    choices: tuple[str, ...] = ()


CallerRole = Literal[
    "patient", "caregiver", "referring_practice", "receiving_practice", "payer", "other"
]
"""Who is calling: the choices of the ``caller.role`` field."""
CALLER_ROLES: Final[tuple[str, ...]] = get_args(CallerRole)
"""The :data:`CallerRole` values, in order."""

VisitTopic = Literal[
    "what_to_bring",
    "location",
    "arrival_time",
    "preparation",
    "duration",
    "cost",
    "reschedule",
    "other",
]
"""What a visit-preparation question is about: the choices of its ``question.topic``."""
VISIT_TOPICS: Final[tuple[str, ...]] = get_args(VisitTopic)
"""The :data:`VisitTopic` values, in order."""


def _defs(
    *items: tuple[str, str, bool] | tuple[str, str, bool, tuple[str, ...]],
) -> dict[str, FieldDef]:
    return {item[0]: FieldDef(*item) for item in items}


_COMMON: Final = _defs(
    ("caller.role", "choice", False, CALLER_ROLES),
    ("caller.name", "name", True),
    ("caller.phone", "phone", True),
    ("caller.npi", "npi", False),
    ("caller.practice_name", "name", False),
    ("referral_number", "referral_number", False),
    ("patient.given_name", "name", True),
    ("patient.family_name", "name", True),
    ("patient.birth_date", "birth_date", True),
    ("patient.phones", "phones", True),
    ("notes", "text", True),
)
_PRACTICES: Final = _defs(
    *(
        item
        for side in ("referring", "receiving")
        for item in (
            (f"{side}_practice.name", "name", False),
            (f"{side}_practice.npi", "npi", False),
            (f"{side}_practice.phone", "practice_phone", False),
            (f"{side}_practice.phone_extension", "extension", False),
            (f"{side}_practice.fax", "practice_phone", False),
            (f"{side}_provider.name", "name", False),
            (f"{side}_provider.npi", "npi", False),
        )
    )
)
_NEW_REFERRAL: Final = _defs(
    ("patient.middle_name", "name", True),
    ("patient.mrn", "identifier", True),
    ("patient.email", "email", True),
    ("patient.address.line1", "text", True),
    ("patient.address.line2", "text", True),
    ("patient.address.city", "name", True),
    ("patient.address.state", "state", True),
    ("patient.address.postal_code", "zip", True),
    ("patient.preferred_language", "language", False),
    ("patient.preferred_channel", "choice", False, ("voice", "sms", "email", "letter", "portal")),
    ("specialty", "specialty", False),
    ("reason.icd10_codes", "icd10", True),
    ("reason.text", "text", True),
    ("priority", "priority", False),
    ("coverage.payer_name", "name", False),
    ("coverage.payer_id", "identifier", False),
    ("coverage.member_id", "member_id", True),
    ("coverage.group_number", "identifier", True),
    ("coverage.plan_name", "text", False),
)


def _topic(*choices: str) -> dict[str, FieldDef]:
    return _defs(("question.topic", "choice", False, choices), ("question.text", "text", True))


FIELDS: Final[Mapping[CallType, Mapping[str, FieldDef]]] = MappingProxyType(
    {
        CallType.NEW_REFERRAL: {**_COMMON, **_PRACTICES, **_NEW_REFERRAL},
        CallType.SCHEDULE_APPOINTMENT: {
            **_COMMON,
            **_defs(
                ("appointment.preferred_times", "text", False),
                ("appointment.preferred_date", "future_date", False),
                ("appointment.location", "text", False),
            ),
        },
        CallType.STATUS_INQUIRY: {**_COMMON, **_defs(("question.text", "text", True))},
        CallType.AUTHORIZATION_QUESTION: {
            **_COMMON,
            **_topic("status", "requirement", "denial", "expiry", "visits_left", "other"),
            **_defs(("coverage.payer_name", "name", False)),
        },
        CallType.RECORDS_TRANSFER: {
            **_COMMON,
            **_defs(
                ("records.from_practice", "name", False),
                ("records.fax", "practice_phone", False),
                ("records.documents", "text_list", True),
                ("records.needed_by", "future_date", False),
            ),
        },
        CallType.VISIT_PREPARATION: {
            **_COMMON,
            **_topic(*VISIT_TOPICS),
        },
        CallType.PRACTICE_COORDINATION: {
            **_COMMON,
            **_topic("referral_update", "records", "scheduling", "consult_report", "other"),
            **_defs(("specialty", "specialty", False)),
        },
    }
)
"""Every field each call type can capture, by dotted path."""


def is_known_path(call_type: CallType, path: str) -> bool:
    fields = FIELDS[call_type]
    return path in fields or any(known.startswith(path + ".") for known in fields)
