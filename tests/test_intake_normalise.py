"""Normalisers: phones (libphonenumber's own cases), NPI, ICD-10-CM, dates, addresses, names."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit import Priority
from referralkit.errors import IntakeError
from referralkit.intake import normalise as n
from referralkit.model import is_valid_npi

# Parsing cases from libphonenumber's PhoneNumberUtilTest.java
# (github.com/google/libphonenumber, java/libphonenumber/test/com/google/i18n/phonenumbers/
# PhoneNumberUtilTest.java: testParseNationalNumber, testParseWithInternationalPrefixes,
# testParseNonAscii, testParseWithLeadingZero, testParseNumbersMexico,
# testParseNationalNumberArgentina, testParseNumbersWithPlusWithNoRegion). Those tests run on
# test metadata; the cases below are the ones whose numbers are also valid in the real
# metadata the phonenumbers package ships (US_NUMBER 650 253 0000, NZ_NUMBER 3 331 6005,
# IT_NUMBER 02 3661 8300, DE_NUMBER 30 123456, the Mexican and Argentine fixed lines).
US_NUMBER = "+16502530000"
NZ_NUMBER = "+6433316005"
PARSES = [
    ("+1 (650) 253-0000", "NZ", US_NUMBER),
    ("1-650-253-0000", "US", US_NUMBER),
    ("0011-650-253-0000", "SG", US_NUMBER),
    ("0081-650-253-0000", "SG", US_NUMBER),
    ("0191-650-253-0000", "SG", US_NUMBER),
    ("0~01-650-253-0000", "PL", US_NUMBER),
    ("++1 (650) 253-0000", "PL", US_NUMBER),
    ("\uff0b1 (650) 253-0000", "SG", US_NUMBER),
    ("1 (650) 253\u00ad-0000", "US", US_NUMBER),
    (
        "\uff0b\uff11\u3000\uff08\uff16\uff15\uff10\uff09\u3000\uff12\uff15\uff13\uff0d"
        "\uff10\uff10\uff10\uff10",
        "SG",
        US_NUMBER,
    ),
    ("\u1811 \u1816\u1815\u1810 \u1812\u1815\u1813 \u1810\u1810\u1810\u1810", "US", US_NUMBER),
    ("033316005", "NZ", NZ_NUMBER),
    ("03-331 6005", "NZ", NZ_NUMBER),
    ("tel:03-331-6005;phone-context=+64", "NZ", NZ_NUMBER),
    ("tel:331-6005;phone-context=+64-3", "US", NZ_NUMBER),
    ("01164 3 331 6005", "US", NZ_NUMBER),
    ("+64 3 331 6005", "US", NZ_NUMBER),
    ("+01164 3 331 6005", "US", NZ_NUMBER),
    ("Tel: +64 3 331 6005", "US", NZ_NUMBER),
    ("+39 02-36618 300", "NZ", "+390236618300"),
    ("02-36618 300", "IT", "+390236618300"),
    ("301/23456", "DE", "+4930123456"),
    ("+52 (449)978-0001", "MX", "+524499780001"),
    ("(449)978-0001", "MX", "+524499780001"),
    ("+54 11 8765 4321", "AR", "+541187654321"),
    ("011 8765 4321", "AR", "+541187654321"),
]
# testFailedParseOnInvalidNumbers: inputs libphonenumber refuses to parse at all.
UNPARSEABLE = [
    ("This is not a phone number", "NZ"),
    ("1 Still not a number", "NZ"),
    ("1 MICROSOFT", "NZ"),
    ("12 MICROSOFT", "NZ"),
    ("01495 72553301873 810104", "GB"),
    ("+---", "DE"),
    ("+***", "DE"),
    ("+*******91", "DE"),
    ("+49 0", "DE"),
    ("+210 3456 56789", "NZ"),
    ("+ 00 210 3 331 6005", "NZ"),
    ("0044------", "GB"),
    ("0044", "GB"),
    ("011", "US"),
    ("0119", "US"),
    ("", "US"),
    ("tel:555-1234;phone-context=1-331", "US"),
    (";phone-context=", "US"),
]


@pytest.mark.parametrize(("raw", "region", "e164"), PARSES)
def test_libphonenumber_parse_cases(raw: str, region: str, e164: str) -> None:
    assert n.normalise_phone(raw, region=region).e164 == e164


@pytest.mark.parametrize(("raw", "region"), UNPARSEABLE)
def test_libphonenumber_unparseable_cases(raw: str, region: str) -> None:
    with pytest.raises(IntakeError, match="could not be read") as info:
        n.normalise_phone(raw, region=region)
    assert info.value.code == "invalid_phone"


def test_possible_but_invalid_number_is_refused() -> None:
    # "123-456-7890" parses (testParseNationalNumber) but no such US range exists.
    with pytest.raises(IntakeError) as info:
        n.normalise_phone("123-456-7890", region="US")
    assert info.value.code == "phone_not_valid"


def test_phone_time_zones() -> None:
    assert n.normalise_phone("(650) 253-0000").time_zones == ("America/Los_Angeles",)
    assert n.normalise_phone("+44 20 7031 3000").time_zones == ("Europe/London",)
    # A toll-free number says nothing about where its owner lives.
    assert n.normalise_phone("1-800-253-0000").time_zones == ()


def test_phone_input_is_bounded() -> None:
    with pytest.raises(IntakeError) as info:
        n.normalise_phone("+" * 6000 + "12222-33-244 extensioB 343+")
    assert info.value.code == "too_long"


# -- NPI --------------------------------------------------------------------------------------


def _with_check_digit(nine: str) -> str:
    for digit in "0123456789":
        if is_valid_npi(nine + digit):
            return nine + digit
    raise AssertionError  # pragma: no cover - exactly one check digit always fits


@given(st.from_regex(r"[12][0-9]{8}", fullmatch=True), st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_change_of_a_valid_npi_fails(
    nine: str, position: int, delta: int
) -> None:
    npi = _with_check_digit(nine)
    assert n.normalise_npi(npi) == npi
    changed = npi[:position] + str((int(npi[position]) + delta) % 10) + npi[position + 1 :]
    with pytest.raises(IntakeError) as info:
        n.normalise_npi(changed)
    wrong_start = changed[0] not in "12"
    assert info.value.code == ("invalid_npi_format" if wrong_start else "invalid_npi_check_digit")


@given(st.from_regex(r"[03-9][0-9]{8}", fullmatch=True))
def test_an_npi_not_starting_with_1_or_2_is_refused_whatever_its_check_digit(nine: str) -> None:
    npi = next(nine + d for d in "0123456789" if _luhn_passes(nine + d))
    with pytest.raises(IntakeError, match="start with 1 or 2") as info:
        n.normalise_npi(npi)
    assert info.value.code == "invalid_npi_format"


def _luhn_passes(ten: str) -> bool:
    digits = [int(c) for c in "80840" + ten]
    total = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    return total % 10 == 0


def test_npi_format() -> None:
    assert n.normalise_npi(" 123-456-7893 ") == "1234567893"
    assert n.normalise_npi(1234567893) == "1234567893"
    for bad in ("123456789", "12345678901", "12345abcde", True):
        with pytest.raises(IntakeError):
            n.normalise_npi(bad)


@pytest.mark.parametrize(
    "bad", [-1234567893, 10**5000, 10**10 + 1234567893], ids=["negative", "huge", "eleven"]
)
def test_npi_integer_out_of_range_is_refused(bad: int) -> None:
    # -1234567893 lost its sign as a hyphen; 10**5000 raised ValueError (int to str limit).
    with pytest.raises(IntakeError) as info:
        n.normalise_npi(bad)
    assert info.value.code == "invalid_npi_format"


@pytest.mark.parametrize("bad", [-7, 10**5000], ids=["negative", "huge"])
def test_referral_number_integer_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(IntakeError) as info:
        n.normalise_referral_number(bad)
    assert info.value.code == "invalid_referral_number"
    assert n.normalise_referral_number(2026) == "2026"


# -- ICD-10-CM --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"), [("e119", "E11.9"), ("I10", "I10"), (" s72.001a ", "S72.001A")]
)
def test_icd10_format(raw: str, code: str) -> None:
    assert n.normalise_icd10(raw) == code


@pytest.mark.parametrize(
    "raw", ["E1.19", "E119.", "E1", "11.9", "E11.99999", "E11-9", "I48.", "i48. "]
)
def test_icd10_bad_format(raw: str) -> None:
    with pytest.raises(IntakeError) as info:
        n.normalise_icd10(raw)
    assert info.value.code == "invalid_icd10_format"


def test_icd10_u_codes_are_icd10_cm_codes() -> None:
    # ICD-10-CM has used U codes since 2020 (U07.1 COVID-19); the model accepts them too.
    assert n.normalise_icd10("u07.1") == "U07.1"
    assert n.normalise_icd10("U099") == "U09.9"


def test_icd10_list_text_too_long_is_refused_not_cut() -> None:
    # Cut at 400 characters, the last code "E11.65" became "E11", another code.
    text = "E11.9, " * 56 + "I10, E11.65"
    assert len(text) > 400
    assert text[:400].endswith("E11")
    with pytest.raises(IntakeError) as info:
        n.normalise_icd10_list(text)
    assert info.value.code == "too_long"


def test_icd10_list_from_text() -> None:
    assert n.normalise_icd10_list("i10, e119;I10") == ("I10", "E11.9")


def test_icd10_lookup_with_the_cdc_code_set() -> None:
    if not n.icd10_lookup_available():
        pytest.skip("the icd10 extra (simple-icd-10-cm) is not installed")
    assert n.describe_icd10("E11.9") == "Type 2 diabetes mellitus without complications"
    assert n.normalise_icd10("e119", lookup=True) == "E11.9"
    with pytest.raises(IntakeError) as info:
        n.normalise_icd10("Z99.99", lookup=True)
    assert info.value.code == "unknown_icd10_code"


# -- Dates, addresses, contact ----------------------------------------------------------------

TODAY = date(2026, 3, 2)


def test_birth_date_forms() -> None:
    assert n.normalise_birth_date("1961-07-04", today=TODAY) == date(1961, 7, 4)
    assert n.normalise_birth_date("7/4/1961", today=TODAY) == date(1961, 7, 4)
    assert n.normalise_birth_date(date(1961, 7, 4), today=TODAY) == date(1961, 7, 4)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("2026-03-03", "birth_date_in_future"),
        ("1890-01-01", "birth_date_implausible"),
        ("1961-02-30", "invalid_date"),
        ("July 4th", "invalid_date"),
        (19610704, "invalid_type"),
    ],
)
def test_birth_date_refusals(raw: object, code: str) -> None:
    with pytest.raises(IntakeError) as info:
        n.normalise_birth_date(raw, today=TODAY)
    assert info.value.code == code


def test_state_and_zip() -> None:
    assert n.normalise_state("tx") == "TX"
    assert n.normalise_state("New  York") == "NY"
    assert n.normalise_zip("606011234") == "60601-1234"
    assert n.normalise_zip("02134") == "02134"
    with pytest.raises(IntakeError):
        n.normalise_state("Ontario")
    with pytest.raises(IntakeError):
        n.normalise_zip(2134)


def test_email_and_names() -> None:
    assert n.normalise_email(" Ana.Rivera@Example.COM ") == "Ana.Rivera@example.com"
    with pytest.raises(IntakeError):
        n.normalise_email("ana@@example")
    with pytest.raises(IntakeError):
        n.normalise_email("ana\x00rivera@example.com")
    # NFC: "e" + combining acute becomes one code point.
    assert n.normalise_name("  Jose\u0301   Garcia ") == "Jos\u00e9 Garcia"
    assert n.name_key("José", "O'Neil-Smith") == n.name_key("jose", "oneil smith")
    # Names in other scripts keep their letters: they used to share the empty key "|".
    assert n.name_key("Иван", "Петров") != n.name_key("Ольга", "Сидорова")
    assert n.name_key("李", "王") != n.name_key("张", "陈")
    assert n.name_key("ИВАН", "Петров") == n.name_key("иван", " петров")
    assert n.name_key("Zoë", "Ελένη") == n.name_key("zoe", "ελενη")
    with pytest.raises(IntakeError):
        n.normalise_name("1234")


def test_member_id_per_payer_format() -> None:
    pattern = re.compile(r"W\d{9}")
    assert n.normalise_member_id("w123-456-789", pattern) == "W123456789"
    with pytest.raises(IntakeError) as info:
        n.normalise_member_id("X123456789", pattern)
    assert info.value.code == "member_id_format"


def test_priority_is_only_what_was_stated() -> None:
    assert n.normalise_priority("URGENT") is Priority.URGENT
    assert n.normalise_priority("urgente") is Priority.URGENT
    with pytest.raises(IntakeError):
        n.normalise_priority("very urgent please")
    assert n.urgency_terms_in("needs to be seen urgently")
    assert n.urgency_terms_in("lo antes posible")
    assert not n.urgency_terms_in("routine follow-up of statins")
