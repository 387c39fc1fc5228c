"""Phone numbers: parse what a caller said or typed, check the range exists, store E.164.

Parsing and validity come from ``phonenumbers`` (libphonenumber's metadata). Two fast paths
give exactly the library's answers at a fraction of its cost; both are checked against the
library by property tests (``tests/test_intake_phones.py``):

- **Validity** (:func:`_valid_in_region`): the library's ``is_valid_number_for_region`` walks
  ten number-type descriptions and recompiles each pattern through ``re``'s bounded cache
  (~14 us). A number is valid for a region exactly when its national significant number
  matches the region's general description and at least one type description (the types
  ``_number_type_helper`` tries, mobile only when its pattern differs from fixed line), each
  gated by its possible lengths. Those patterns are compiled once per region (~1 us).
- **Parsing** (:func:`_parse`): a ten-digit NANP number written the usual ways
  (``(312) 555-0147``, ``312-555-0147``, ``312.555.0147``, ``1 312 555 0147``,
  ``+1 312 555 0147``) in a region whose metadata strips only a leading ``1`` and dials out
  with ``011`` parses to country code 1 and those ten digits: no other international or
  national prefix can apply to a number whose area code and exchange start with 2-9.
  Anything else goes to ``phonenumbers.parse``.

Such a number, valid in the region, takes one path end to end (:func:`_fast_nanp`): its E.164
form is ``+1`` and the ten digits (what ``format_number`` makes of it) and its time zones are
the library's longest-prefix lookup of those digits, so no ``PhoneNumber`` is built and the
number is not formatted twice. A property test checks it against the general path.

Nothing here caches numbers: they are PHI, and only per-region metadata is kept.

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import functools
import re
from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

from referralkit.errors import IntakeError
from referralkit.model import PhoneKind

__all__ = [
    "NormalisedPhone",
    "normalise_extension",
    "normalise_phone",
    "normalise_practice_phone",
    "phone_kind",
]

_MAX_PHONE_INPUT: Final = 64  # libphonenumber refuses >250; a spoken number is far shorter
_MAX_ZONES: Final = 5
_MAX_EXTENSION: Final = 10
_NANP_SEP: Final = r"[ .\-]?"
_NANP_RE: Final = re.compile(
    rf"(\+?1{_NANP_SEP})?\(?([2-9][0-9]{{2}})\)?{_NANP_SEP}([2-9][0-9]{{2}}){_NANP_SEP}([0-9]{{4}})"
)


@attrs.frozen
class NormalisedPhone:
    """A phone number in E.164 form, with the time zones its number range is used in.

    ``time_zones`` is empty when the number says nothing useful about where its owner lives
    (non-geographic and toll-free numbers). ``extension`` holds the digits of an extension
    said or typed after the number (``ext. 123``, ``x123``); ``e164`` never includes it.

    .. versionchanged:: 0.2
       ``extension``.
    """

    e164: str = attrs.field(repr=False)  # PHI: never in a repr
    region: str
    time_zones: tuple[str, ...]
    extension: str | None = attrs.field(default=None, repr=False)


def _fail(code: str, message: str) -> IntakeError:
    return IntakeError(code, message)


@functools.lru_cache(maxsize=64)
def _region_country_code(region: str) -> int:
    # 0 for a region libphonenumber does not know (country_code_for_valid_region would raise).
    import phonenumbers

    return phonenumbers.country_code_for_region(region)


@functools.lru_cache(maxsize=64)
def _nanp_fast_parse(region: str) -> bool:
    """Return whether :data:`_NANP_RE` numbers parse in *region* as code 1 + ten digits."""
    from phonenumbers import PhoneMetadata

    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    home = PhoneMetadata.metadata_for_region("US", None)
    return all(
        m is not None
        and m.country_code == 1
        and m.national_prefix_for_parsing == "1"
        and m.national_prefix_transform_rule is None
        and m.international_prefix == "011"
        for m in (metadata, home)
    )


def _parse(raw: str, region: str) -> PhoneNumber:
    # phonenumbers is imported where first needed, here and below: loading its metadata
    # slows every start-up, and most commands never read a phone number.
    import phonenumbers

    match = _NANP_RE.fullmatch(raw)
    # "+1 ..." is read with the metadata of country code 1 whatever the region; "1 ..." and
    # "312 ..." with the region's, which must strip a leading 1 as the national prefix.
    plus = match is not None and match[1] is not None and match[1][0] == "+"
    if match is not None and _nanp_fast_parse("US" if plus else region):
        return phonenumbers.PhoneNumber(
            country_code=1, national_number=int(match[2] + match[3] + match[4])
        )
    return phonenumbers.parse(raw, region)


_Desc = tuple[frozenset[int] | None, re.Pattern[str]]


@functools.lru_cache(maxsize=64)
def _region_checks(region: str) -> tuple[_Desc, tuple[_Desc, ...]] | None:
    """Return the compiled general and per-type descriptions of *region*, as the library does."""
    from phonenumbers import PhoneMetadata

    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None:
        return None

    def desc(number_desc: object) -> _Desc | None:
        pattern = getattr(number_desc, "national_number_pattern", None)
        if number_desc is None or not pattern:
            return None  # _match_national_number: no pattern never matches
        lengths = tuple(getattr(number_desc, "possible_length", ()) or ())
        return (frozenset(lengths) if lengths else None, re.compile(pattern))

    general = desc(metadata.general_desc)
    if general is None:
        return None
    kinds = [
        metadata.premium_rate,
        metadata.toll_free,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
        metadata.fixed_line,
    ]
    if not metadata.same_mobile_and_fixed_line_pattern:
        kinds.append(metadata.mobile)
    types = tuple(d for d in map(desc, kinds) if d is not None)
    return general, types


@functools.lru_cache(maxsize=256)
def _types_for_length(region: str, length: int) -> re.Pattern[str] | None:
    """Return one pattern: the type patterns whose possible lengths allow *length*, or-ed."""
    checks = _region_checks(region)
    types = checks[1] if checks is not None else ()
    patterns = [p.pattern for lengths, p in types if lengths is None or length in lengths]
    if not patterns:
        return None
    # fullmatch of (?:a)|(?:b) succeeds exactly when a or b fullmatches on its own.
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def _valid_in_region(number: PhoneNumber, region: str) -> bool:
    """Return exactly what ``phonenumbers.is_valid_number_for_region`` does, faster."""
    import phonenumbers

    checks = _region_checks(region)
    if checks is None:
        return phonenumbers.is_valid_number_for_region(number, region)
    if number.country_code != _region_country_code(region):
        return False
    return _nsn_valid(phonenumbers.national_significant_number(number), region, checks)


def _nsn_valid(nsn: str, region: str, checks: tuple[_Desc, tuple[_Desc, ...]]) -> bool:
    # The national significant number matches the region's general and one type description.
    lengths, general = checks[0]
    if (lengths is not None and len(nsn) not in lengths) or general.fullmatch(nsn) is None:
        return False
    types = _types_for_length(region, len(nsn))
    return types is not None and types.fullmatch(nsn) is not None


@functools.cache
def _zone_data() -> tuple[dict[str, tuple[str, ...]], int, str]:
    from phonenumbers.timezone import UNKNOWN_TIMEZONE
    from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

    return TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX, UNKNOWN_TIMEZONE


def _useful_zones(found: tuple[str, ...]) -> tuple[str, ...]:
    # A lookup that matched only the country code names every zone of the country: useless
    # for a contact window, so store none rather than pretend.
    if len(found) <= _MAX_ZONES and _zone_data()[2] not in found:
        return tuple(found)
    return ()


def _zones_for_e164(e164: str) -> tuple[str, ...]:
    """Return :func:`_useful_zones` of ``time_zones_for_geographical_number`` of *e164*."""
    data, longest, _ = _zone_data()
    # The library's lookup: the longest prefix of the digits (country code first) it knows.
    for length in range(longest, 0, -1):
        found = data.get(e164[1 : 1 + length])
        if found is not None:
            return _useful_zones(found)
    return ()  # the library's answer is then the unknown zone alone


def _fast_nanp(value: str, region: str, with_time_zones: bool) -> NormalisedPhone | None:
    """Return what :func:`normalise_phone` does for a usual NANP number valid in *region*.

    ``None`` for any other input: the general path then reads it. The same result as that
    path (E.164 is ``+1`` and the ten digits, as ``format_number`` makes it), without building
    a ``PhoneNumber`` or formatting it twice (once more for the time zones).
    """
    match = _NANP_RE.fullmatch(value)
    if match is None:
        return None
    plus = match[1] is not None and match[1][0] == "+"
    if not _nanp_fast_parse("US" if plus else region) or _region_country_code(region) != 1:
        return None
    checks = _region_checks(region)
    nsn = match[2] + match[3] + match[4]
    if checks is None or not _nsn_valid(nsn, region, checks):
        return None
    e164 = "+1" + nsn
    zones = _zones_for_e164(e164) if with_time_zones else ()
    return NormalisedPhone(e164, region, zones, None)


def normalise_phone(
    value: object, *, region: str = "US", with_time_zones: bool = True
) -> NormalisedPhone:
    """Parse a phone number as a caller said or typed it and return it in E.164 form.

    Numbers without a country code are read as numbers of *region*. The number must be valid
    (a real number range), not merely of a possible length.

    :param region: ISO 3166 region for numbers written without ``+`` and country code.
    :param with_time_zones: look up the time zones of the number's range, for contact windows.
    An extension (``ext. 123``, ``x123``, ``extension 45``) is kept apart from the number.

    :raises IntakeError: ``invalid_type``, ``too_long``, ``invalid_phone`` (cannot be read as
        a number), ``phone_not_valid`` (read, but no such number range exists) or
        ``invalid_extension`` (more than 10 digits).

    .. versionchanged:: 0.2
       The extension is kept (it was dropped).
    """
    if not isinstance(value, str):
        raise _fail("invalid_type", "The phone number must be given as text.")
    if len(value) > _MAX_PHONE_INPUT:
        raise _fail("too_long", "The phone number is too long.")
    fast = _fast_nanp(value, region, with_time_zones)
    if fast is not None:
        return fast
    import phonenumbers
    import phonenumbers.timezone  # a plain import: "from ... import" costs more per call

    parsed: PhoneNumber | None = None
    with contextlib.suppress(phonenumbers.NumberParseException):
        parsed = _parse(value, region)
    if parsed is None:
        # Raised outside the handler: the parse error's context would hold the number.
        raise _fail("invalid_phone", "The phone number could not be read.")
    number = parsed
    # Validate against the default region first: for the common case (a US number at a US
    # practice) this is one pattern check instead of a search over every NANPA region.
    if number.country_code == _region_country_code(region) and _valid_in_region(number, region):
        number_region = region
    else:
        found = phonenumbers.region_code_for_number(number)
        if found is None or not phonenumbers.is_valid_number_for_region(number, found):
            raise _fail("phone_not_valid", "The phone number is not a valid number.")
        number_region = found
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    zones: tuple[str, ...] = ()
    if with_time_zones:
        zones = _useful_zones(phonenumbers.timezone.time_zones_for_geographical_number(number))
    extension = number.extension or None
    if extension is not None and not (extension.isascii() and extension.isdigit()):
        raise _fail("invalid_extension", "The extension must be digits only.")
    if extension is not None and len(extension) > _MAX_EXTENSION:
        raise _fail("invalid_extension", "The extension must be at most 10 digits.")
    return NormalisedPhone(e164, number_region, zones, extension)


def normalise_practice_phone(value: object, *, region: str = "US") -> str:
    """Return a practice's fax (or a caller's) number in E.164 form, as :func:`normalise_phone`.

    .. versionchanged:: 0.1
       No longer caches inputs: the cache only paid off when the same text recurred.

    .. versionchanged:: 0.2
       A number with an extension is refused (``extension_not_allowed``), not cut: a fax
       cannot dial one. A practice's phone keeps it (:func:`normalise_phone`).

    :raises IntakeError: as :func:`normalise_phone`; ``extension_not_allowed``.
    """
    phone = normalise_phone(value, region=region, with_time_zones=False)
    if phone.extension is not None:
        raise _fail("extension_not_allowed", "This number cannot have an extension.")
    return phone.e164


_EXTENSION_PREFIX: Final = re.compile(r"^(?:ext\.?|extension|x|#)\s*", re.IGNORECASE)


def normalise_extension(value: object) -> str:
    """Return a phone extension given on its own (``"123"``, ``"ext. 123"``, ``"x123"``, 123).

    :raises IntakeError: ``invalid_type`` or ``invalid_extension`` (not 1 to 10 digits).

    .. versionadded:: 0.2
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**10:
        value = str(value)
    if not isinstance(value, str):
        raise _fail("invalid_type", "The extension must be given as text.")
    if len(value) > _MAX_PHONE_INPUT:
        raise _fail("too_long", "The extension is too long.")
    text = _EXTENSION_PREFIX.sub("", value.strip())
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_EXTENSION):
        raise _fail("invalid_extension", "The extension must be 1 to 10 digits.")
    return text


def phone_kind(value: object) -> PhoneKind:
    """Return the :class:`~referralkit.model.PhoneKind` a caller named (``"mobile"``, ...).

    :raises IntakeError: ``invalid_choice``.
    """
    if isinstance(value, PhoneKind):
        return value
    if isinstance(value, str):
        kind = _PHONE_KINDS.get(value.strip().lower())  # PhoneKind(...) is slower (Enum call)
        if kind is not None:
            return kind
    raise _fail("invalid_choice", "The phone type must be mobile, home, work or other.")


_PHONE_KINDS: Final = {kind.value: kind for kind in PhoneKind}
