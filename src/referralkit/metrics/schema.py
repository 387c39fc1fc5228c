"""The JSON Schema of ``referralkit report --json`` (:meth:`MetricsReport.as_json`).

.. versionadded:: 0.2
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["REPORT_JSON_SCHEMA"]

_COUNT: Final = {"type": "integer", "minimum": 0}
_RATE: Final = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_SECONDS: Final = {"type": ["number", "null"], "minimum": 0}
_COUNTS: Final = {"type": "object", "additionalProperties": _COUNT}
_DURATION: Final = {
    "type": "object",
    "required": ["count", "median_seconds", "p90_seconds"],
    "additionalProperties": False,
    "properties": {"count": _COUNT, "median_seconds": _SECONDS, "p90_seconds": _SECONDS},
}
_METRIC_COUNTS: Final = (
    "received", "booked", "seen", "closed", "leaked", "reopened", "redirected",
    "attempts_before_booking", "auth_required", "auth_denied", "appointments_booked",
    "visits_completed", "no_shows",
)  # fmt: skip
_METRIC_RATES: Final = (
    "booking_rate", "completion_rate", "leakage_rate", "loop_closure_rate", "no_show_rate",
    "auth_denial_rate",
)  # fmt: skip
_METRIC_DURATIONS: Final = (
    "time_to_booked", "time_to_seen", "time_to_first_outreach", "loop_closure_time",
    "auth_turnaround",
)  # fmt: skip
_METRICS: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **dict.fromkeys(_METRIC_COUNTS, _COUNT),
        **dict.fromkeys(_METRIC_RATES, _RATE),
        **dict.fromkeys(_METRIC_DURATIONS, _DURATION),
        "attempts_per_booking": {"type": ["number", "null"], "minimum": 0},
        "leak_reasons": _COUNTS,
        "outcomes": _COUNTS,
        "booked_within": _COUNTS,
        "sends_by_channel": _COUNTS,
        "calls_by_type": _COUNTS,
        "revenue": {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d+)?$"},
    },
}
_METRICS["required"] = sorted(_METRICS["properties"])
_TOP_LEVEL: Final = (
    "schema_version", "since", "until", "unbooked_sla_seconds", "events_read",
    "excluded_entered_in_error", "overall", "groups", "queues", "call_resolution", "cms50",
)  # fmt: skip
_CMS50_KEYS: Final = (
    "measure", "mips_quality_id", "period_start", "period_end", "referral_cutoff", "numerator",
    "denominator", "rate", "numerator_referrals", "denominator_referrals",
)  # fmt: skip
_IDS: Final = {"type": "array", "items": {"type": "string", "format": "uuid"}}

REPORT_JSON_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "referralkit metrics report",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema_version",
        "since",
        "until",
        "unbooked_sla_seconds",
        "events_read",
        "excluded_entered_in_error",
        "overall",
        "groups",
        "queues",
        "call_resolution",
        "cms50",
    ],
    "properties": {
        "schema_version": {"const": 1},
        "since": {"type": "string", "format": "date-time"},
        "until": {"type": "string", "format": "date-time"},
        "unbooked_sla_seconds": {"type": "number", "exclusiveMinimum": 0},
        "events_read": _COUNT,
        "excluded_entered_in_error": _COUNT,
        "overall": _METRICS,
        "groups": {
            "type": "object",
            "propertyNames": {
                "enum": ["practice", "specialty", "priority", "payer", "channel", "call_type"]
            },
            "additionalProperties": {"type": "object", "additionalProperties": _METRICS},
        },
        "queues": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "opened",
                    "open",
                    "closed",
                    "overdue",
                    "sla_breaches",
                    "escalations",
                    "age",
                    "time_to_close",
                ],
                "properties": {
                    "opened": _COUNT,
                    "open": _COUNT,
                    "closed": _COUNT,
                    "time_to_close": _DURATION,
                    "overdue": _COUNT,
                    "sla_breaches": _COUNT,
                    "escalations": _COUNT,
                    "age": _DURATION,
                },
            },
        },
        "call_resolution": {"type": "object", "additionalProperties": _DURATION},
        "cms50": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": [
                        "measure",
                        "mips_quality_id",
                        "period_start",
                        "period_end",
                        "referral_cutoff",
                        "numerator",
                        "denominator",
                        "rate",
                        "numerator_referrals",
                        "denominator_referrals",
                    ],
                    "properties": {
                        "measure": {"const": "CMS50"},
                        "mips_quality_id": {"const": 374},
                        "period_start": {"type": "string", "format": "date-time"},
                        "period_end": {"type": "string", "format": "date-time"},
                        "referral_cutoff": {"type": "string", "format": "date-time"},
                        "numerator": _COUNT,
                        "denominator": _COUNT,
                        "rate": _RATE,
                        "numerator_referrals": _IDS,
                        "denominator_referrals": _IDS,
                    },
                },
            ]
        },
    },
}
"""JSON Schema (draft 2020-12) of the report's JSON form; ``schema_version`` is 1."""
