"""Visit-preparation answers: practice content merged with the referral's own facts."""

from __future__ import annotations

import pytest

from referralkit.calls import TOPICS, answer_visit_preparation
from referralkit.intake import CallerIdentity
from referralkit.model import Authorization, AuthorizationStatus
from tests.support.calls_world import RECEIVING_NPI, REFERRING_NPI, content, world

PATIENT = CallerIdentity("patient", family_name="Rivera", birth_date=None)


@pytest.fixture
def referral():
    return world()[2]


def patient_of(referral, role="patient"):
    return CallerIdentity(role, family_name="rivera", birth_date=referral.patient.birth_date)


def test_arrival_time_gives_the_appointment_in_the_patients_local_time(referral):
    answer = answer_visit_preparation(
        referral, patient_of(referral), content(), topic="arrival_time"
    )
    assert answer.answered
    assert answer.audience == "patient"
    assert answer.text.startswith(
        "Your appointment is on Tuesday, March tenth, twenty twenty-six, at ten thirty AM. "
        "Please arrive 20 minutes early."
    )
    assert answer.details["appointment_start"] == "2026-03-10T10:30:00-05:00"


def test_spanish_answer_merges_records_still_missing(referral):
    answer = answer_visit_preparation(
        referral,
        patient_of(referral, "caregiver"),
        content(),
        topic="what_to_bring",
        language="es-MX",
    )
    assert answer.language == "es"
    assert answer.text == (
        "Por favor traiga su tarjeta del seguro, una identificación con foto y una lista de "
        "sus medicinas. La cita del paciente es el martes diez de marzo de dos mil veintiséis "
        "a las diez y media de la mañana. El consultorio del especialista aún espera "
        "expedientes de Lakeside Family Medicine."
    )
    assert answer.details["records_missing"] == "1"


def test_the_appointment_location_wins_over_the_content_location(referral):
    answer = answer_visit_preparation(referral, patient_of(referral), content(), topic="location")
    assert answer.text.startswith(
        "The visit is at Lakeside Medical Tower. Parking is free in the garage on Lake Street."
    )


def test_an_unsettled_authorization_is_part_of_the_answer(referral):
    pended = referral.model_copy(
        update={"authorization": Authorization(status=AuthorizationStatus.PENDED)}
    )
    answer = answer_visit_preparation(pended, patient_of(pended), content(), topic="duration")
    assert "The insurance company asked for more information." in answer.text
    assert answer.details["authorization"] == "pended"


def test_a_referring_practice_verified_by_npi_is_answered(referral):
    caller = CallerIdentity("referring_practice", npi=REFERRING_NPI)
    answer = answer_visit_preparation(referral, caller, content(), topic="what_to_bring")
    assert answer.audience == "referring_practice"
    assert answer.text.startswith("The patient should bring their insurance card, a photo ID")


@pytest.mark.parametrize("topic", ["other", None])
def test_a_question_outside_the_content_goes_to_counselling_with_the_question(referral, topic):
    answer = answer_visit_preparation(
        referral,
        patient_of(referral),
        content(),
        topic=topic,
        question="Can I keep taking my blood thinner?",
    )
    assert not answer.answered
    assert answer.handoff.queue == "patient_counselling"
    assert answer.handoff.reason == "question_outside_content"
    assert answer.handoff.question == "Can I keep taking my blood thinner?"
    assert "blood thinner" not in repr(answer) + repr(answer.handoff)
    assert "counselling team" in answer.text


def test_a_topic_the_content_leaves_out_is_never_guessed(referral):
    # The general guide has no preparation text; the stress-test guide has.
    general = answer_visit_preparation(
        referral, patient_of(referral), content(), topic="preparation"
    )
    assert (general.answered, general.handoff.reason) == (False, "not_in_content")
    stress = answer_visit_preparation(
        referral, patient_of(referral), content(), topic="preparation", visit_type="stress_test"
    )
    assert stress.answered
    assert stress.text.startswith("Do not eat or drink anything except water")


def test_a_practice_without_content_hands_off(referral):
    elsewhere = referral.model_copy(
        update={
            "receiving_practice": referral.receiving_practice.model_copy(
                update={"npi": REFERRING_NPI}
            )
        }
    )
    answer = answer_visit_preparation(elsewhere, patient_of(elsewhere), content(), topic="cost")
    assert answer.handoff.reason == "no_content"
    assert RECEIVING_NPI not in answer.text


def test_every_topic_is_answered_or_handed_off(referral):
    for topic in TOPICS:
        for language in ("en", "es"):
            answer = answer_visit_preparation(
                referral, patient_of(referral), content(), topic=topic, language=language
            )
            assert answer.answered != (answer.handoff is not None), topic
            assert answer.text


def test_an_unverified_caller_hears_the_same_whether_or_not_the_referral_exists(referral):
    wrong = CallerIdentity("patient", family_name="Rivera", birth_date=None)
    not_verified = answer_visit_preparation(referral, wrong, content(), topic="what_to_bring")
    missing = answer_visit_preparation(None, wrong, content(), topic="what_to_bring")
    assert not not_verified.verified
    assert not missing.verified
    assert not_verified.text == missing.text
    assert not_verified.details == missing.details == {}
    assert not_verified.handoff.queue == missing.handoff.queue == "scheduling"
    assert not_verified.flags == ("caller_not_verified",)
