"""The phone fast paths give exactly phonenumbers' answers (parse and region validity)."""

from __future__ import annotations

import phonenumbers
import phonenumbers.timezone
import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit.errors import IntakeError
from referralkit.intake import phones

REGIONS = ["US", "CA", "PR", "AG", "GB", "DE", "NZ", "IT", "MX", "AR", "FR", "JP", "IN", "BR"]
SEP = st.sampled_from(["", " ", "-", "."])
nanp_text = st.builds(
    lambda plus, open_, area, close, s1, exchange, s2, line: (
        f"{plus}{open_}{area}{close}{s1}{exchange}{s2}{line}"
    ),
    st.sampled_from(["", "+1", "+1 ", "+1-", "1", "1 ", "1-", "1.", "+1."]),
    st.sampled_from(["", "("]),
    st.from_regex(r"[0-9]{3}", fullmatch=True),
    st.sampled_from(["", ")"]),
    SEP,
    st.from_regex(r"[0-9]{3}", fullmatch=True),
    SEP,
    st.from_regex(r"[0-9]{4}", fullmatch=True),
)
digits = st.from_regex(r"\+?[0-9]{2,15}", fullmatch=True)


def _library(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None


@given(nanp_text, st.sampled_from(REGIONS))
def test_fast_parse_equals_library_parse(raw: str, region: str) -> None:
    expected = _library(raw, region)
    try:
        got: phonenumbers.PhoneNumber | None = phones._parse(raw, region)
    except phonenumbers.NumberParseException:
        got = None
    assert got == expected


@given(st.one_of(nanp_text, digits), st.sampled_from(REGIONS))
def test_region_validity_equals_library(raw: str, region: str) -> None:
    number = _library(raw, region)
    if number is None:
        return
    assert phones._valid_in_region(number, region) == phonenumbers.is_valid_number_for_region(
        number, region
    )


@pytest.mark.parametrize(
    "raw",
    [
        "(312) 555-0147",
        "312-555-0147",
        "312.555.0147",
        "+1 312 555 0147",
        "1 312 555 0147",
        "1(312)555-0147",
        "3125550147",
    ],
)
def test_common_us_forms_take_the_fast_path(raw: str) -> None:
    assert phones._NANP_RE.fullmatch(raw)
    assert phones.normalise_phone(raw).e164 == "+13125550147"


def test_unknown_default_region_is_an_intake_error_not_a_crash() -> None:
    # country_code_for_valid_region("ZZ") raises; intake must not.
    assert phones.normalise_phone("+1 312 555 0147", region="ZZ").e164 == "+13125550147"
    with pytest.raises(IntakeError):
        phones.normalise_phone("312 555 0147", region="ZZ")


def _reference(raw: str, region: str, with_time_zones: bool) -> phones.NormalisedPhone | None:
    # What the library alone makes of a number valid in the region.
    number = _library(raw, region)
    if number is None or not phonenumbers.is_valid_number_for_region(number, region):
        return None
    zones: tuple[str, ...] = ()
    if with_time_zones:
        found = phonenumbers.timezone.time_zones_for_geographical_number(number)
        if len(found) <= 5 and phonenumbers.timezone.UNKNOWN_TIMEZONE not in found:
            zones = tuple(found)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phones.NormalisedPhone(e164, region, zones, number.extension or None)


@given(nanp_text, st.sampled_from(REGIONS), st.booleans())
def test_fast_nanp_path_equals_the_library(raw: str, region: str, with_zones: bool) -> None:
    fast = phones._fast_nanp(raw, region, with_zones)
    if fast is not None:
        assert fast == _reference(raw, region, with_zones)
    elif region == "US" and _reference(raw, region, with_zones) is not None:
        assert not phones._NANP_RE.fullmatch(raw)  # a usual US form valid in US is fast


@given(st.one_of(nanp_text, digits), st.sampled_from(REGIONS), st.booleans())
def test_normalised_phone_of_a_number_valid_in_its_region_equals_the_library(
    raw: str, region: str, with_zones: bool
) -> None:
    expected = _reference(raw, region, with_zones)
    if expected is None:
        return
    assert phones.normalise_phone(raw, region=region, with_time_zones=with_zones) == expected
