"""The phone fast paths give exactly phonenumbers' answers (parse and region validity)."""

from __future__ import annotations

import phonenumbers
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
