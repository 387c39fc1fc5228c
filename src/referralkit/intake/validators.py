"""Per-field validators, and the one walk over a turn's payload that applies them.

:func:`validators_for` compiles, once per call type and configuration, a table from each field
path to the function that normalises its value (a closure over the field's label, choices and
the configuration's region and checks). :func:`read_turn` walks a payload once, nested or with
dotted keys, and applies the table to each leaf. Both :class:`~referralkit.intake.IntakeSession`
turns and :func:`~referralkit.intake.validate_intake` use exactly this.

The walk stays in Python rather than in a pydantic model per call type: every leaf needs a
Python normaliser anyway (NFC names, phones, Luhn, dates), so a pydantic-core walk saves only
the loop (~0.1 us per field) while dotted keys, ``None`` to clear, unknown fields reported but
not blocking, and keeping the valid values of a turn that has invalid ones would each need a
second, Python pass (measured: see ``benchmarks/bench_intake.py``).

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Final

import attrs

from referralkit.errors import IntakeError
from referralkit.intake import normalise as n
from referralkit.intake.config import IntakeConfig
from referralkit.intake.fields import FIELDS, CallType, FieldDef
from referralkit.intake.results import FieldIssue
from referralkit.model import PhoneKind

__all__ = ["Validator", "decode", "label", "read_turn", "validators_for"]

Validator = Callable[[object, date], Any]
"""Normalise one field's raw value, given today's date; raise ``IntakeError`` if invalid."""

_MAX_FIELDS: Final = 200
_MAX_DEPTH: Final = 6
_MAX_PAYLOAD_BYTES: Final = 256 * 1024
_MAX_PHONES: Final = 5
_SAFE_PATH: Final = re.compile(r"[a-z0-9_.]{1,80}")
_LANGUAGE_RE: Final = re.compile(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*")
_LABELS: Final[Mapping[str, str]] = {
    "given_name": "first name",
    "family_name": "last name",
    "middle_name": "middle name",
    "birth_date": "date of birth",
    "postal_code": "ZIP code",
    "line1": "street address",
    "line2": "address line",
    "practice_name": "practice name",
    "from_practice": "practice name",
    "mrn": "medical record number",
    "payer_name": "insurance name",
    "payer_id": "payer ID",
    "group_number": "group number",
    "plan_name": "plan name",
    "preferred_times": "preferred times",
    "preferred_date": "preferred date",
    "needed_by": "date needed",
    "topic": "topic",
    "role": "caller type",
}


@functools.lru_cache(maxsize=512)
def label(path: str) -> str:
    """Return the plain-language name of the field at *path* (``"date of birth"``)."""
    last = path.rsplit(".", 1)[-1]
    return _LABELS.get(last, last.replace("_", " "))


def decode(payload: object) -> Mapping[Any, Any]:
    """Return the mapping a turn's payload is, or decodes to (JSON text or bytes).

    :raises IntakeError: ``payload_too_large``, ``not_json`` or ``not_a_mapping``.
    """
    if isinstance(payload, Mapping):
        return payload
    if isinstance(payload, bytes | bytearray | memoryview):
        if len(payload) > _MAX_PAYLOAD_BYTES:
            raise IntakeError("payload_too_large", "The intake payload is too large.")
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            payload = None
        if payload is None:
            # Raised outside the handler: a UnicodeDecodeError holds the payload in .object.
            raise IntakeError("not_json", "The intake payload is not UTF-8 JSON.")
    if isinstance(payload, str):
        if len(payload) > _MAX_PAYLOAD_BYTES:
            raise IntakeError("payload_too_large", "The intake payload is too large.")
        decoded: object = _NOT_JSON
        with contextlib.suppress(ValueError, RecursionError):
            decoded = json.loads(payload)
        if decoded is _NOT_JSON:
            # Raised outside the handler: a JSONDecodeError holds the payload in .doc.
            raise IntakeError("not_json", "The intake payload is not valid JSON.")
        if not isinstance(decoded, dict):
            raise IntakeError("not_a_mapping", "The intake payload must be a JSON object.")
        return decoded
    raise IntakeError("not_a_mapping", "The intake payload must be a mapping of fields.")


# -- Validators by field kind -----------------------------------------------------------------


_NOT_JSON: Final = object()


@attrs.frozen
class PhoneWithExtension:
    """A practice phone as its validator returns it: kept as ``<path>`` and ``<path>_extension``.

    .. versionadded:: 0.2
    """

    e164: str
    extension: str | None


def _merge_extension(phone: n.NormalisedPhone, given: str) -> n.NormalisedPhone:
    if phone.extension is not None and phone.extension != given:
        raise IntakeError("invalid_extension", "Two different extensions were given.")
    return attrs.evolve(phone, extension=given)


def _with_extension(phone: n.NormalisedPhone) -> PhoneWithExtension:
    return PhoneWithExtension(phone.e164, phone.extension)


_Phone = tuple[str, PhoneKind, tuple[str, ...], str | None]  # E.164, kind, zones, extension


def _bad_phone_entry() -> IntakeError:
    return IntakeError(
        "invalid_phone_entry", "A phone entry has a number, a kind and an extension only."
    )


_PHONE_ENTRY_KEYS: Final = frozenset({"number", "kind", "extension"})


def _phones(raw: object, region: str) -> tuple[_Phone, ...]:
    items = raw if isinstance(raw, list | tuple) else [raw]
    if not items:
        raise IntakeError("empty", "No phone number was given.")
    if len(items) > _MAX_PHONES:
        raise IntakeError("too_many", f"Give at most {_MAX_PHONES} phone numbers.")
    phones: list[_Phone] = []
    numbers: list[str] = []
    for index, item in enumerate(items):
        kind = PhoneKind.MOBILE
        number: object = item
        entry = type(item) is dict or isinstance(item, Mapping)
        failed: IntakeError | None = None
        try:
            if entry:
                if "number" not in item or not item.keys() <= _PHONE_ENTRY_KEYS:
                    raise _bad_phone_entry()
                number = item["number"]
                if item.get("kind") is not None:
                    kind = n.phone_kind(item["kind"])
            phone = n.normalise_phone(number, region=region)
            if entry and item.get("extension") is not None:
                phone = _merge_extension(phone, n.normalise_extension(item["extension"]))
        except IntakeError as exc:
            failed = exc
        if failed is not None:
            raise IntakeError(
                failed.code,
                str(failed),
                [{"loc": (index,), "type": failed.code, "msg": str(failed)}],
            )
        if phone.e164 not in numbers:
            numbers.append(phone.e164)
            phones.append((phone.e164, kind, phone.time_zones, phone.extension))
    return tuple(phones)


def _future_date(raw: object, today: date, what: str) -> date:
    day = n.normalise_date(raw, what)
    if day < today:
        raise IntakeError("date_in_past", f"The {what} is in the past.")
    return day


def _specialty(raw: object, accepted: frozenset[str] | None) -> str:
    specialty = n.normalise_name(raw, "specialty")
    if accepted is not None and specialty.casefold() not in accepted:
        raise IntakeError("unknown_specialty", "This practice does not take that specialty.")
    return specialty


def _language(raw: object) -> str:
    text = n.normalise_text(raw, "language", max_length=20)
    if not _LANGUAGE_RE.fullmatch(text):
        raise IntakeError("invalid_language", "The language must be a code such as en or es.")
    return text


def _text_list(raw: object, what: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list | tuple) else [raw]
    if len(items) > 20:
        raise IntakeError("too_many", "Give at most 20 items.")
    return tuple(n.normalise_text(item, what, max_length=200) for item in items)


def _validator(definition: FieldDef, config: IntakeConfig) -> Validator:
    kind = definition.kind
    what = label(definition.path)
    region = config.default_region
    if kind == "name":
        return lambda raw, _: n.normalise_name(raw, what)
    if kind == "text":
        return lambda raw, _: n.normalise_text(raw, what)
    if kind == "identifier":
        return lambda raw, _: n.normalise_text(raw, what, max_length=64)
    if kind == "practice_phone" and definition.path.endswith("_practice.phone"):
        # A practice's line keeps its extension: the value splits into two paths (collect).
        # Its time zones are not kept, so not looked up.
        return lambda raw, _: _with_extension(
            n.normalise_phone(raw, region=region, with_time_zones=False)
        )
    if kind in ("practice_phone", "phone"):
        return lambda raw, _: n.normalise_practice_phone(raw, region=region)
    if kind == "extension":
        return lambda raw, _: n.normalise_extension(raw)
    if kind == "phones":
        return lambda raw, _: _phones(raw, region)
    if kind == "birth_date":
        return lambda raw, today: n.normalise_birth_date(raw, today=today)
    if kind == "future_date":
        return lambda raw, today: _future_date(raw, today, what)
    if kind == "icd10":
        lookup = config.icd10_lookup
        return lambda raw, _: n.normalise_icd10_list(raw, lookup=lookup)
    if kind == "choice":
        choices = definition.choices
        return lambda raw, _: n.normalise_choice(raw, choices, what)
    if kind == "specialty":
        accepted = config.specialties
        return lambda raw, _: _specialty(raw, accepted)
    if kind == "text_list":
        return lambda raw, _: _text_list(raw, what)
    plain: dict[str, Callable[[object], Any]] = {
        "npi": n.normalise_npi,
        "state": n.normalise_state,
        "zip": n.normalise_zip,
        "email": n.normalise_email,
        "member_id": n.normalise_member_id,
        "priority": n.normalise_priority,
        "referral_number": n.normalise_referral_number,
        "language": _language,
    }
    function = plain[kind]  # FIELDS only names the kinds above
    return lambda raw, _: function(raw)


_TABLES: dict[tuple[CallType, int], tuple[IntakeConfig, Mapping[str, Validator]]] = {}


def validators_for(call_type: CallType, config: IntakeConfig) -> Mapping[str, Validator]:
    """Return the validator of every field *call_type* captures, compiled for *config*.

    Compiled once per call type and configuration (configurations are immutable); a few
    dozen entries at most, so the cache is simply cleared when it grows.
    """
    key = (call_type, id(config))
    cached = _TABLES.get(key)
    if cached is not None and cached[0] is config:
        return cached[1]
    table = {
        path: _validator(definition, config) for path, definition in FIELDS[call_type].items()
    }
    if len(_TABLES) >= 64:
        _TABLES.clear()
    _TABLES[key] = (config, table)
    return table


# -- The walk ---------------------------------------------------------------------------------


def read_turn(
    payload: Mapping[Any, Any], table: Mapping[str, Validator], today: date
) -> tuple[dict[str, Any], list[str], dict[str, FieldIssue]]:
    """Walk one turn's payload once and validate every leaf with *table*.

    :returns: the normalised values by path, the paths cleared with ``None``, and the issues
        by path (unknown fields and rejected values).
    :raises IntakeError: ``payload_too_deep`` or ``payload_too_large`` (too many fields).
    """
    values: dict[str, Any] = {}
    cleared: list[str] = []
    issues: dict[str, FieldIssue] = {}
    count = 0
    # A stack, not recursion: the order of paths (and so of ``captured``) is part of results.
    stack: list[tuple[str, Mapping[Any, Any], int]] = [("", payload, 0)]
    while stack:
        prefix, mapping, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise IntakeError("payload_too_deep", "The intake payload is nested too deeply.")
        for key, raw in mapping.items():
            validator = None
            if type(key) is not str and not isinstance(key, str):
                path = "<unknown>"
            else:
                path = prefix + key
                validator = table.get(path)
                if validator is None and (type(raw) is dict or isinstance(raw, Mapping)):
                    stack.append((path + ".", raw, depth + 1))
                    continue
            count += 1  # a leaf: a group of fields is not one
            if count > _MAX_FIELDS:
                raise IntakeError("payload_too_large", "The intake payload has too many fields.")
            if validator is None:
                safe = path if _SAFE_PATH.fullmatch(path) else "<unknown>"
                issues[safe] = FieldIssue(
                    safe, "unknown_field", "This field is not used for this kind of call."
                )
            elif raw is None:
                cleared.append(path)
            else:
                try:
                    value = validator(raw, today)
                    if isinstance(value, PhoneWithExtension):
                        values[path] = value.e164
                        if value.extension is not None:
                            values[path + "_extension"] = value.extension
                    else:
                        values[path] = value
                except IntakeError as exc:
                    loc = exc.errors()[0]["loc"]
                    where = f"{path}.{loc[0]}" if loc else path
                    issues[path] = FieldIssue(where, exc.code, str(exc))
    return values, cleared, issues
