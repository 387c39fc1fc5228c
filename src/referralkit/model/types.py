"""Constrained scalar types, PHI masking, and the base class of every model."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "MASK",
    "Email",
    "Icd10Code",
    "LanguageTag",
    "NonEmpty",
    "Npi",
    "PhoneE164",
    "PhoneExtension",
    "TimeZoneName",
    "UsState",
    "UtcDatetime",
    "copy_with",
    "is_valid_npi",
    "mask",
    "refuse_unstorable_text",
    "unstorable_text",
]

MASK = "***"


def mask(value: object) -> str:
    """Return the placeholder shown instead of a PHI value (never a fragment of it)."""
    return MASK if value not in (None, "", ()) else repr(value)


# -- Constrained scalars ------------------------------------------------------------------------


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn: the digit sum of 2 * d


def _luhn_ok(digits: str) -> bool:
    values = [ord(char) - 48 for char in reversed(digits)]
    return (sum(values[0::2]) + sum(_DOUBLED[d] for d in values[1::2])) % 10 == 0


_NPI_RE = re.compile(r"\d{10}")


# NPIs identify providers, not patients: caching them keeps no PHI, and a practice's few NPIs
# recur in every referral it sends or receives.
@lru_cache(maxsize=4096)
def is_valid_npi(value: str) -> bool:
    """Return whether *value* is a 10-digit NPI whose check digit is right (Luhn over 80840).

    An NPI starts with 1 or 2 (CMS reserves the others), so a number that passes the check
    digit but starts with another digit is not one.

    .. versionchanged:: 0.2
       The first digit must be 1 or 2.
    """
    return bool(_NPI_RE.fullmatch(value)) and value[0] in "12" and _luhn_ok("80840" + value)


def _check_npi(value: str) -> str:
    if not is_valid_npi(value):
        raise ValueError("not a valid NPI (10 digits starting with 1 or 2, Luhn check digit)")
    return value


@lru_cache(maxsize=1024)
def _zone_exists(key: str) -> bool:
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _check_zone(value: str) -> str:
    if not _zone_exists(value):
        raise ValueError("not an IANA time zone name")
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC."""
PhoneE164 = Annotated[str, Field(pattern=r"^\+[1-9]\d{6,14}$")]
"""A phone number in E.164 form (``+15551234567``); intake normalises raw input to this."""
Npi = Annotated[str, AfterValidator(_check_npi)]
"""A US National Provider Identifier."""
# Any letter: ICD-10-CM uses U codes too (U07.1 COVID-19, U09.9 post-COVID condition).
Icd10Code = Annotated[str, Field(pattern=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")]
"""An ICD-10-CM code in dotted form (format check only; intake can look codes up)."""
TimeZoneName = Annotated[str, AfterValidator(_check_zone)]
"""An IANA time zone name such as ``America/Chicago``."""
# A cheap syntax check: full email validation is too slow for a hot path (PERFORMANCE.md).
PhoneExtension = Annotated[str, Field(pattern=r"^[0-9]{1,10}$")]
"""A phone extension: 1 to 10 digits, dialled after the E.164 number answers."""
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
"""An email address (syntax check only)."""
UsState = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
"""A two-letter US state or territory code."""
LanguageTag = Annotated[str, Field(pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")]
"""A BCP 47 language tag such as ``en`` or ``es-MX``."""
NonEmpty = Annotated[str, Field(min_length=1, max_length=500)]


def unstorable_text(value: object) -> bool:
    """Tell whether *value* (a str, or a tuple or list of them) holds text no store keeps.

    A NUL character (PostgreSQL refuses it where SQLite keeps it) or a lone surrogate (not
    encodable as UTF-8 at all) would make the same referral storable on one backend and not on
    another, so the models refuse both.

    .. versionadded:: 0.2
    """
    if isinstance(value, str):
        if value.isascii():  # the common case: ASCII has no surrogates, only NUL to look for
            return "\x00" in value
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, tuple | list):
        return any(unstorable_text(item) for item in value)
    return False


def refuse_unstorable_text(value: Any) -> Any:
    """Refuse :func:`unstorable_text` with a field error (a pydantic ``after`` validator).

    .. versionadded:: 0.2
    """
    if unstorable_text(value):
        raise PydanticCustomError(
            "invalid_text", "text must not contain NUL characters or lone surrogates"
        )
    return value


class Record(BaseModel):
    """Base of every model: frozen, strict, no unknown fields, PHI masked in repr.

    No field holds text a store could not keep (:func:`unstorable_text`).
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, hide_input_in_errors=True, defer_build=True
    )
    _phi: ClassVar[frozenset[str]] = frozenset()

    # Every field of every model: a wildcard validator is inherited by subclasses.
    _text_is_storable = field_validator("*", mode="after")(refuse_unstorable_text)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in self._phi and value not in (None, "", ()):
                yield name, MASK
            else:
                yield name, value


_R = TypeVar("_R", bound=Record)
_new_object = object.__new__
_set = object.__setattr__


def copy_with(record: _R, update: Mapping[str, Any]) -> _R:
    """Return ``record.model_copy(update=update)``, built without pydantic's generic copying.

    The lifecycle's hot path copies a referral on every transition; ``model_copy`` copies the
    instance dict, the extra fields and the set of given fields through :func:`copy.copy`
    and checks for private attributes. A :class:`Record` has neither extra fields
    (``extra="forbid"``) nor private attributes, so this sets the same four slots directly.
    Like ``model_copy`` it does not validate: *update* must hold values of the fields' types.

    .. versionadded:: 0.4
    """
    copied = _new_object(type(record))
    values = record.__dict__.copy()
    values.update(update)
    _set(copied, "__dict__", values)
    _set(copied, "__pydantic_fields_set__", record.__pydantic_fields_set__.union(update))
    _set(copied, "__pydantic_extra__", None)
    _set(copied, "__pydantic_private__", None)
    return copied
