"""Questions worded for who is calling, and read-backs that are safe over the phone."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit.calls import group_phone, phrase, read_back, spell_date, spell_reference
from referralkit.intake import IntakeConfig, IntakeSession, Question
from referralkit.intake.phrasing import AUDIENCE_PROMPTS, audience_of
from referralkit.intake.prompts import PROMPTS


def _ask(language: str, role: str | None, payload: dict | None = None, call="new_referral"):
    session = IntakeSession(call, language=language)
    question = session.update(payload or {"specialty": "Cardiology"}).next_question
    return phrase(question, role).text


@pytest.mark.parametrize(
    ("language", "role", "expected"),
    [
        ("en", "patient", "What is your first name?"),
        ("en", "caregiver", "What is the patient's first name?"),
        ("en", None, "What is the patient's first name?"),
        ("es", "patient", "¿Cuál es su nombre?"),
        ("es", "caregiver", "¿Cuál es el nombre del paciente?"),
        ("es-MX", "patient", "¿Cuál es su nombre?"),
    ],
)
def test_the_first_name_question_speaks_to_the_caller(language, role, expected):
    assert _ask(language, role) == expected


@pytest.mark.parametrize(
    ("language", "role", "expected"),
    [
        ("en", "patient", "What is your date of birth?"),
        ("en", "caregiver", "What is the patient's date of birth?"),
        ("es", "patient", "¿Cuál es su fecha de nacimiento?"),
        ("es", "caregiver", "¿Cuál es la fecha de nacimiento del paciente?"),
    ],
)
def test_the_birth_date_question_speaks_to_the_caller(language, role, expected):
    payload = {"patient.given_name": "Ana", "patient.family_name": "Rivera"}
    assert _ask(language, role, payload) == expected


def test_a_practice_hears_clinical_and_administrative_wording():
    payload = {
        "patient": {
            "given_name": "Ana",
            "family_name": "Rivera",
            "birth_date": "1961-07-04",
            "phones": "312 555 0147",
        },
        "referring_practice.name": "Lakeside Family Medicine",
        "specialty": "Cardiology",
    }
    assert _ask("en", "referring_practice", payload) == (
        "What is the reason for referral, with ICD-10 codes if you have them?"
    )
    assert _ask("es", "receiving_practice", payload) == (
        "¿Cuál es el motivo de la referencia, con códigos CIE-10 si los tiene?"
    )


def test_every_audience_prompt_rewords_a_question_intake_asks():
    for audience, languages in AUDIENCE_PROMPTS.items():
        for language, texts in languages.items():
            assert set(texts) <= set(PROMPTS[language]) | {"caller.npi"}, (audience, language)
            assert all("?" in t for t in texts.values())


def test_the_practices_own_wording_is_kept():
    config = IntakeConfig.from_toml(
        '[prompts.en]\n"patient.given_name" = "And the first name on the chart?"\n'
    )
    session = IntakeSession("new_referral", config=config)
    question = session.update({"specialty": "Cardiology"}).next_question
    assert phrase(question, "patient", config).text == "And the first name on the chart?"
    # Questions the practice did not reword are still worded for the caller.
    other = Question("patient.birth_date", PROMPTS["en"]["patient.birth_date"], "en")
    assert phrase(other, "patient", config).text == "What is your date of birth?"


def test_roles_map_to_audiences():
    assert [audience_of(r) for r in ("patient", "caregiver", "payer", "other", None)] == [
        "patient",
        "caregiver",
        "practice",
        "caregiver",
        "caregiver",
    ]


# -- read-backs --


@pytest.mark.parametrize(
    ("day", "en", "es"),
    [
        (date(1961, 7, 4), "July fourth, nineteen sixty-one",
         "cuatro de julio de mil novecientos sesenta y uno"),
        (date(2001, 3, 1), "March first, two thousand one", "primero de marzo de dos mil uno"),
        (date(1905, 12, 22), "December twenty-second, nineteen oh five",
         "veintidós de diciembre de mil novecientos cinco"),
        (date(1990, 11, 30), "November thirtieth, nineteen ninety",
         "treinta de noviembre de mil novecientos noventa"),
    ],
)  # fmt: skip
def test_dates_are_spelled_out(day, en, es):
    assert spell_date(day) == en
    assert spell_date(day, "es") == es


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
def test_a_spelled_date_has_no_digits_and_names_its_month(day):
    for language in ("en", "es"):
        spoken = spell_date(day, language)
        assert not re.search(r"\d", spoken)
    assert spell_date(day).split()[0] == day.strftime("%B")


@given(st.from_regex(r"\+1[2-9]\d{2}[2-9]\d{6}", fullmatch=True))
def test_a_grouped_phone_number_keeps_every_digit_in_order(number):
    spoken = group_phone(number)
    assert spoken.replace(" ", "").replace(",", "") == number[2:]
    assert [len(g.replace(" ", "")) for g in spoken.split(", ")] == [3, 3, 4]


def test_references_are_read_by_character_in_their_groups():
    assert spell_reference("REF-2026-0042") == "R E F, 2 0 2 6, 0 0 4 2"
    assert spell_reference("ab12cd34x") == "A B 1 2, C D 3 4, X"


def test_read_back_speaks_to_the_caller():
    values = [
        ("patient.birth_date", date(1961, 7, 4)),
        ("patient.phones", (("+13125550147", "mobile", ()),)),
    ]
    assert read_back(values, "patient") == (
        "I have your date of birth as July fourth, nineteen sixty-one; and your phone number "
        "as 3 1 2, 5 5 5, 0 1 4 7. Is that right?"
    )
    assert read_back(values[:1], "caregiver", "es") == (
        "Tengo la fecha de nacimiento del paciente como cuatro de julio de mil novecientos "
        "sesenta y uno. ¿Es correcto?"
    )
    assert read_back([("specialty", "Cardiology")], "patient") is None


def test_a_session_words_its_next_question_for_the_caller_it_has_captured() -> None:
    from referralkit.intake import IntakeSession

    session = IntakeSession("status_inquiry", language="es")
    first = session.update({"caller": {"role": "patient"}})
    assert first.next_question is not None
    assert "paciente" not in first.next_question.text.casefold()
    caregiver = IntakeSession("status_inquiry", language="es")
    other = caregiver.update({"caller": {"role": "caregiver"}})
    assert other.next_question is not None
    assert other.next_question.field == first.next_question.field
