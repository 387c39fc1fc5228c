"""Normalise and validate single intake values: phones, NPIs, codes, dates, names, addresses.

Each ``normalise_*`` function takes whatever a caller or a transcript produced (any Python
object) and returns the canonical value, or raises :class:`~referralkit.errors.IntakeError`
whose code says what is wrong and whose message is plain language without the value in it.
None of them infers anything clinical: :func:`urgency_terms_in` only *finds* wording that
suggests urgency so a human can look; the referral's priority is what the referrer stated.

.. versionadded:: 0.1
"""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Final

from referralkit.errors import IntakeError
from referralkit.intake.patterns import BoundedPattern, PatternTimeoutError
from referralkit.intake.phones import (
    NormalisedPhone,
    normalise_extension,
    normalise_phone,
    normalise_practice_phone,
    phone_kind,
)
from referralkit.model import Priority, is_valid_npi
from referralkit.model.identity import name_key

__all__ = [
    "US_STATES",
    "NormalisedPhone",
    "describe_icd10",
    "icd10_lookup_available",
    "name_key",
    "normalise_birth_date",
    "normalise_choice",
    "normalise_date",
    "normalise_email",
    "normalise_extension",
    "normalise_icd10",
    "normalise_icd10_list",
    "normalise_member_id",
    "normalise_name",
    "normalise_npi",
    "normalise_phone",
    "normalise_practice_phone",
    "normalise_priority",
    "normalise_referral_number",
    "normalise_state",
    "normalise_text",
    "normalise_zip",
    "phone_kind",
    "urgency_terms_in",
]

_MAX_TEXT: Final = 2000


def _fail(code: str, message: str) -> IntakeError:
    return IntakeError(code, message)


def _need_str(value: object, what: str, *, max_length: int = _MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise _fail("invalid_type", f"The {what} must be given as text.")
    if len(value) > max_length:
        raise _fail("too_long", f"The {what} is too long.")
    return value


_WS: Final = re.compile(r"\s+")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def normalise_text(value: object, what: str = "text", *, max_length: int = _MAX_TEXT) -> str:
    """Return free text trimmed, NFC-normalised, with runs of whitespace collapsed.

    :raises IntakeError: ``invalid_type``, ``too_long``, ``empty`` or ``invalid_characters``.
    """
    # The common case, already normal: printable ASCII (no control characters, and no
    # whitespace but the space), single-spaced and trimmed, and not too long. The steps below
    # return it as is.
    if (
        isinstance(value, str)
        and len(value) <= max_length
        and value.isascii()
        and value.isprintable()
        and value
        and value[0] != " "
        and value[-1] != " "
        and "  " not in value
    ):
        return value
    text = _need_str(value, what, max_length=max_length)
    if _CONTROL.search(text):
        raise _fail("invalid_characters", f"The {what} contains control characters.")
    if not text.isascii():  # ASCII is already NFC and has no lone surrogates: skip both
        if not _encodes(text):  # a lone surrogate, e.g. from bad JSON escapes
            raise _fail("invalid_characters", f"The {what} is not valid text.")
        text = unicodedata.normalize("NFC", text)
    text = " ".join(text.split())
    if not text:
        raise _fail("empty", f"The {what} is empty.")
    return text


def normalise_name(value: object, what: str = "name") -> str:
    """Return a person's or practice's name: trimmed, NFC, single-spaced, with a letter in it.

    :raises IntakeError: as :func:`normalise_text`, or ``invalid_name`` without any letter.
    """
    name = normalise_text(value, what, max_length=200)
    if not _LETTER.search(name):
        raise _fail("invalid_name", f"The {what} must contain letters.")
    return name


_LETTER: Final = re.compile(r"[^\W\d_]")


# -- Identifiers ----------------------------------------------------------------------------

_NPI_SEPARATORS: Final = re.compile(r"[\s-]")


def normalise_npi(value: object) -> str:
    """Return a 10-digit NPI whose check digit is right (Luhn over the 80840 prefix).

    Spaces and hyphens are dropped; an integer is accepted.

    :raises IntakeError: ``invalid_type``, ``invalid_npi_format`` or ``invalid_npi_check_digit``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        # A negative number would lose its sign as a hyphen; a huge one cannot become text.
        if not 0 <= value < 10**10:
            raise _fail("invalid_npi_format", "The NPI must be 10 digits.")
        value = str(value)
    text = _NPI_SEPARATORS.sub("", _need_str(value, "NPI", max_length=40))
    if len(text) != 10 or not text.isascii() or not text.isdigit():
        raise _fail("invalid_npi_format", "The NPI must be 10 digits.")
    if text[0] not in "12":  # CMS issues NPIs starting with 1 or 2 only
        raise _fail("invalid_npi_format", "The NPI must start with 1 or 2.")
    if not is_valid_npi(text):
        raise _fail("invalid_npi_check_digit", "The NPI is not valid (its check digit is wrong).")
    return text


# Any letter: ICD-10-CM uses U codes too (U07.1 COVID-19, U09.9 post-COVID condition).
_ICD10_RE: Final = re.compile(r"[A-Z][0-9][0-9A-Z](?:[0-9A-Z]{1,4})?")


def normalise_icd10(value: object, *, lookup: bool = False) -> str:
    """Return an ICD-10-CM code in dotted upper-case form (``e119`` becomes ``E11.9``).

    :param lookup: also check the code exists in the CDC code set (needs the ``icd10`` extra).
    :raises IntakeError: ``invalid_type``, ``invalid_icd10_format`` or ``unknown_icd10_code``.
    """
    text = _need_str(value, "diagnosis code", max_length=16).strip().upper()
    head, dot, tail = text.partition(".")
    # The dot only ever follows the category (three characters), and something follows it:
    # "E1.19" is no code, and "I48." is not "I48" (a cut-off code is refused, not guessed).
    if dot:
        text = head + tail if len(head) == 3 and tail else text
    if not _ICD10_RE.fullmatch(text):
        raise _fail("invalid_icd10_format", "The diagnosis code is not in ICD-10-CM format.")
    code = text if len(text) == 3 else f"{text[:3]}.{text[3:]}"
    if lookup and describe_icd10(code) is None:
        raise _fail("unknown_icd10_code", "The diagnosis code is not in the ICD-10-CM code set.")
    return code


def normalise_icd10_list(value: object, *, lookup: bool = False) -> tuple[str, ...]:
    """Return one or more ICD-10-CM codes (a list, or text separated by commas or spaces).

    :raises IntakeError: as :func:`normalise_icd10`; ``too_many`` past 12 codes.
    """
    items: Iterable[object]
    if isinstance(value, str):
        # Refused, not cut: a cut could turn the last code into another ("E11.65" -> "E11").
        if len(value) > 400:
            raise _fail("too_long", "The diagnosis codes are too long.")
        items = [part for part in re.split(r"[,;\s]+", value) if part]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise _fail("invalid_type", "Diagnosis codes must be a list or text.")
    codes: list[str] = []
    for item in items:
        if len(codes) >= 12:
            raise _fail("too_many", "Give at most 12 diagnosis codes.")
        code = normalise_icd10(item, lookup=lookup)
        if code not in codes:
            codes.append(code)
    if not codes:
        raise _fail("empty", "No diagnosis code was given.")
    return tuple(codes)


@functools.cache
def _icd10_module() -> Any:
    try:
        with warnings.catch_warnings():
            # simple_icd_10_cm reads its data with a deprecated importlib.resources call.
            warnings.simplefilter("ignore", DeprecationWarning)
            import simple_icd_10_cm  # type: ignore[import-untyped]
    except ImportError:
        return None
    return simple_icd_10_cm


def icd10_lookup_available() -> bool:
    """Return whether the ICD-10-CM code set is installed (``pip install referralkit[icd10]``).

    The first call loads the code set (about two seconds); later calls are free.
    """
    return _icd10_module() is not None


@functools.lru_cache(maxsize=4096)
def describe_icd10(code: str) -> str | None:
    """Return the CDC description of an ICD-10-CM code, or ``None`` if it is not in the set.

    :raises IntakeError: ``icd10_lookup_unavailable`` when the ``icd10`` extra is missing.
    """
    module = _icd10_module()
    if module is None:
        raise _fail(
            "icd10_lookup_unavailable",
            "ICD-10-CM lookup needs the optional extra: pip install referralkit[icd10].",
        )
    try:
        if not module.is_valid_item(code):
            return None
        description: str = module.get_description(code)
    except (ValueError, KeyError):
        return None
    return description


_MEMBER_SEPARATORS: Final = re.compile(r"[\s-]")
_MEMBER_RE: Final = re.compile(r"[A-Z0-9]{1,40}")


def normalise_member_id(
    value: object, pattern: BoundedPattern | re.Pattern[str] | None = None
) -> str:
    """Return a payer member id: upper case, spaces and hyphens removed.

    :param pattern: the payer's member-id format, where the practice configured one; run with
        a time bound (:mod:`referralkit.intake.patterns`).
    :raises IntakeError: ``invalid_type``, ``invalid_member_id``, ``member_id_format``, or
        ``member_id_format_unchecked`` (the payer's pattern ran out of time on this input).

    .. versionchanged:: 0.2
       The pattern runs with a time bound; ``member_id_format_unchecked``.
    """
    text = _MEMBER_SEPARATORS.sub("", _need_str(value, "member ID", max_length=80)).upper()
    if not text.isascii() or not _MEMBER_RE.fullmatch(text):
        raise _fail("invalid_member_id", "The member ID must be 1 to 40 letters and digits.")
    if pattern is None:
        return text
    matched: bool | None = None
    try:
        matched = BoundedPattern.of(pattern).fullmatch(text)
    except PatternTimeoutError:
        matched = None
    if matched is None:
        raise _fail(
            "member_id_format_unchecked",
            "The member ID could not be checked against this payer's format; a staff member "
            "should check it.",
        )
    if not matched:
        raise _fail("member_id_format", "The member ID does not match this payer's format.")
    return text


_REFERRAL_NUMBER_RE: Final = re.compile(r"[A-Z0-9][A-Z0-9-]{0,39}")


def normalise_referral_number(value: object) -> str:
    """Return a referral number in upper case.

    :raises IntakeError: ``invalid_type`` or ``invalid_referral_number``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < 10**40:  # a huge int cannot even become text (int_max_str_digits)
            raise _fail("invalid_referral_number", "The referral number is not in a valid format.")
        value = str(value)
    text = _need_str(value, "referral number", max_length=80).strip().upper().replace(" ", "")
    if not text.isascii() or not _REFERRAL_NUMBER_RE.fullmatch(text):
        raise _fail("invalid_referral_number", "The referral number is not in a valid format.")
    return text


# -- Dates ----------------------------------------------------------------------------------

_US_DATE: Final = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def normalise_date(value: object, what: str = "date") -> date:
    """Return a calendar date from a :class:`~datetime.date`, ISO text or US ``MM/DD/YYYY``.

    :raises IntakeError: ``invalid_type`` or ``invalid_date``.
    """
    if isinstance(value, datetime):
        raise _fail("invalid_type", f"The {what} must be a date without a time.")
    if isinstance(value, date):
        return value
    text = _need_str(value, what, max_length=40).strip()
    real = True
    try:
        us = _US_DATE.fullmatch(text)
        if us:
            return date(int(us[3]), int(us[1]), int(us[2]))
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            return date.fromisoformat(text)
    except ValueError:
        real = False  # the ValueError names the text (PHI): raise outside the handler
    if not real:
        raise _fail("invalid_date", f"The {what} is not a real calendar date.")
    raise _fail("invalid_date", f"The {what} must look like 1980-04-23 or 04/23/1980.")


_OLDEST_AGE_YEARS: Final = 125


def normalise_birth_date(value: object, *, today: date) -> date:
    """Return a plausible birth date: not after *today*, and at most 125 years before it.

    :raises IntakeError: as :func:`normalise_date`, or ``birth_date_in_future`` or
        ``birth_date_implausible``.
    """
    born = normalise_date(value, "date of birth")
    if born > today:
        raise _fail("birth_date_in_future", "The date of birth is in the future.")
    if today.year - born.year > _OLDEST_AGE_YEARS:
        raise _fail("birth_date_implausible", "The date of birth is too long ago to be right.")
    return born


# -- Addresses and contact ------------------------------------------------------------------

US_STATES: Final[dict[str, str]] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
    "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC",
    "south dakota": "SD", "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT",
    "virginia": "VA", "washington": "WA", "west virginia": "WV", "wisconsin": "WI",
    "wyoming": "WY", "puerto rico": "PR", "guam": "GU", "us virgin islands": "VI",
    "american samoa": "AS", "northern mariana islands": "MP",
}  # fmt: skip
"""US states, DC and inhabited territories by lower-case name, to their USPS codes."""
_STATE_CODES: Final = frozenset(US_STATES.values()) | {"AA", "AE", "AP"}  # + military


def normalise_state(value: object) -> str:
    """Return a USPS state or territory code from a code or a name (``"texas"`` -> ``"TX"``).

    :raises IntakeError: ``invalid_type`` or ``invalid_state``.
    """
    text = _WS.sub(" ", _need_str(value, "state", max_length=40)).strip()
    code = text.upper()
    if code in _STATE_CODES:
        return code
    named = US_STATES.get(text.lower().replace(".", ""))
    if named is None:
        raise _fail("invalid_state", "The state is not a US state or territory.")
    return named


_ZIP_RE: Final = re.compile(r"(\d{5})(?:-?(\d{4}))?")


def normalise_zip(value: object) -> str:
    """Return a US ZIP code as ``12345`` or ``12345-6789``.

    :raises IntakeError: ``invalid_type`` (numbers lose leading zeros, so text is required)
        or ``invalid_zip``.
    """
    text = _need_str(value, "ZIP code", max_length=20).strip()
    match = _ZIP_RE.fullmatch(text)
    if match is None or not text.isascii():
        raise _fail("invalid_zip", "The ZIP code must be 5 digits, or 5+4 digits.")
    return match[1] if match[2] is None else f"{match[1]}-{match[2]}"


_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def normalise_email(value: object) -> str:
    """Return an email address with its domain in lower case (a syntax check only).

    Full deliverability checks are too slow for intake (PERFORMANCE.md, pattern 3).

    :raises IntakeError: ``invalid_type``, ``too_long`` or ``invalid_email``.
    """
    text = _need_str(value, "email address", max_length=254).strip()
    if not _EMAIL_RE.fullmatch(text) or ".." in text or _CONTROL.search(text):
        raise _fail("invalid_email", "The email address is not in a valid format.")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalise_choice(value: object, choices: Iterable[str], what: str) -> str:
    """Return *value* lower-cased if it is one of *choices*.

    :raises IntakeError: ``invalid_type`` or ``invalid_choice`` (naming the choices, which are
        never PHI).
    """
    options = tuple(choices)
    text = _need_str(value, what, max_length=60).strip().lower().replace(" ", "_")
    if text not in options:
        raise _fail("invalid_choice", f"The {what} must be one of: {', '.join(options)}.")
    return text


_PRIORITY_WORDS: Final[dict[str, Priority]] = {
    "routine": Priority.ROUTINE,
    "rutina": Priority.ROUTINE,
    "rutinaria": Priority.ROUTINE,
    "urgent": Priority.URGENT,
    "urgente": Priority.URGENT,
    "asap": Priority.ASAP,
    "stat": Priority.STAT,
}


def normalise_priority(value: object) -> Priority:
    """Return the priority the referrer *stated* (routine, urgent, asap or stat).

    :raises IntakeError: ``invalid_type`` or ``invalid_priority``.
    """
    if isinstance(value, Priority):
        return value
    text = _need_str(value, "priority", max_length=40).strip().lower()
    priority = _PRIORITY_WORDS.get(text)
    if priority is None:
        raise _fail("invalid_priority", "The priority must be routine, urgent, asap or stat.")
    return priority


_URGENCY_RE: Final = re.compile(
    r"\b(?:urgent(?:e|ly)?|emergenc(?:y|ia)|asap|stat|as soon as possible|right away"
    r"|immediately|lo antes posible|de inmediato|cuanto antes)\b",
    re.IGNORECASE,
)


_URGENCY_STEMS: Final = (
    "urgent",
    "emergenc",
    "asap",
    "stat",
    "as soon as possible",
    "right away",
    "immediately",
    "lo antes posible",
    "de inmediato",
    "cuanto antes",
)
_URGENCY_STEMS_RE: Final = re.compile("|".join(map(re.escape, _URGENCY_STEMS)))


def urgency_terms_in(text: str) -> bool:
    """Return whether free text uses wording that suggests urgency.

    This is a prompt for a human to review the priority, never a clinical judgement: the
    referral's priority is only ever what the referrer stated.
    """
    # ASCII text can only match if it contains one of the words, in any case: one search for
    # any of them in the lower-cased text rules most text out before the (slower)
    # case-insensitive search.
    if text.isascii() and _URGENCY_STEMS_RE.search(text.lower()) is None:
        return False
    return _URGENCY_RE.search(text) is not None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
