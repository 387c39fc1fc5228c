"""What happens next: every state and sub-status has both sentences in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from referralkit.intake import CallerIdentity, answer_status
from referralkit.lifecycle import SubStatus, next_step, next_step_for
from referralkit.lifecycle.next_steps import SMS_TEXT_LIMIT, to_gsm7
from referralkit.model import (
    Appointment,
    AppointmentStatus,
    Authorization,
    AuthorizationStatus,
    RecordsRequest,
    RecordsRequestStatus,
    ReferralStatus,
)
from referralkit.outreach.sms import GSM7_LIMIT, is_gsm7, render_sms, sms_length
from tests.support.calls_world import REFERRING_NPI, new_referral

NOW = datetime(2026, 3, 2, 14, tzinfo=UTC)
PRACTICE = "Lakeside Cardiology Associates"  # 30 characters: the longest name the limit allows
COMBINATIONS = [(state, sub) for state in ReferralStatus for sub in SubStatus.every()]


def test_every_combination_is_counted():
    # 13 states x 8 authorization x 4 records x 5 appointment x 2 report states.
    assert len(PRACTICE) == 30
    assert len(COMBINATIONS) == 13 * 8 * 4 * 5 * 2


def test_every_state_and_sub_status_has_both_sentences_in_both_languages():
    for state, sub in COMBINATIONS:
        english = next_step_for(state, sub, "en")
        spanish = next_step_for(state, sub, "es")
        for step in (english, spanish):
            assert step.patient.strip(), (state, sub)
            assert step.practice.strip(), (state, sub)
            assert step.patient != step.practice, (state, sub)
            assert step.patient.endswith(".")
            assert step.practice.endswith(".")
        assert english.patient != spanish.patient
        assert english.practice != spanish.practice
        assert (english.owner, english.language, spanish.language) == (
            spanish.owner,
            "en",
            "es",
        )


def test_every_text_message_fits_one_gsm7_segment_with_the_practice_and_opt_out():
    for state, sub in COMBINATIONS:
        for language in ("en", "es", "es-MX"):
            step = next_step_for(state, sub, language)
            assert is_gsm7(step.patient_sms), step.patient_sms
            assert sms_length(step.patient_sms)[0] <= SMS_TEXT_LIMIT
            units, limit = sms_length(render_sms(step.patient_sms, practice=PRACTICE))
            assert limit == GSM7_LIMIT
            assert units <= limit


def test_gsm7_keeps_the_accents_gsm7_has_and_drops_the_others():
    assert (
        to_gsm7("¿Cuándo es mi cita? Mañana, él llegó.") == "¿Cuando es mi cita? Mañana, él llego."
    )


@pytest.mark.parametrize(
    ("state", "sub", "owner", "fragment"),
    [
        (ReferralStatus.PENDING_AUTH, SubStatus(AuthorizationStatus.DENIED), "referring_practice",
         "did not approve"),
        (ReferralStatus.PENDING_AUTH, SubStatus(AuthorizationStatus.SUBMITTED), "insurance",
         "waiting for your insurance"),
        (ReferralStatus.RECEIVED, SubStatus(records="outstanding"), "referring_practice",
         "medical records"),
        (ReferralStatus.READY_TO_SCHEDULE, SubStatus(appointment="missed"), "patient",
         "missed your appointment"),
        (ReferralStatus.SCHEDULED, SubStatus(records="failed"), "referring_practice",
         "still waiting for your records"),
        (ReferralStatus.VISIT_COMPLETED, SubStatus(report="sent"), "referring_practice",
         "report was sent"),
        (ReferralStatus.CANCELLED, SubStatus(), None, "cancelled"),
    ],
)  # fmt: skip
def test_the_sub_status_changes_the_next_step_and_its_owner(state, sub, owner, fragment):
    step = next_step_for(state, sub)
    assert step.owner == owner
    assert fragment in step.patient


def test_sub_status_is_read_from_the_referral():
    referral = new_referral().model_copy(
        update={
            "status": ReferralStatus.READY_TO_SCHEDULE,
            "authorization": Authorization(status=AuthorizationStatus.PENDED),
            "records_requests": (
                RecordsRequest(requested_at=NOW, status=RecordsRequestStatus.RECEIVED),
                RecordsRequest(requested_at=NOW, status=RecordsRequestStatus.SENT),
            ),
            "appointments": (Appointment(start=NOW, status=AppointmentStatus.NO_SHOW),),
        }
    )
    assert SubStatus.of(referral) == SubStatus(
        AuthorizationStatus.PENDED, "outstanding", "missed", "pending"
    )
    # An authorization problem comes before the missed visit: nothing can be booked yet.
    assert next_step(referral).owner == "referring_practice"
    assert "more information" in next_step(referral).patient


@pytest.mark.parametrize("state", list(ReferralStatus))
@pytest.mark.parametrize("language", ["en", "es"])
def test_status_answers_say_the_same_next_step(state, language):
    referral = new_referral().model_copy(update={"status": state})
    step = next_step(referral, language)
    patient = answer_status(
        referral,
        CallerIdentity("caregiver", family_name="RIVERA", birth_date=referral.patient.birth_date),
        language=language,
    )
    practice = answer_status(
        referral, CallerIdentity("referring_practice", npi=REFERRING_NPI), language=language
    )
    assert patient.next_step == step.patient
    assert step.patient in patient.text
    assert practice.next_step == step.practice
    assert step.practice in practice.text
    assert patient.owner == practice.owner == step.owner


def test_the_next_step_text_message_speaks_the_patients_language():
    from referralkit.outreach.sms import next_step_sms

    referral = new_referral(preferred_language="es-MX").model_copy(
        update={"status": ReferralStatus.READY_TO_SCHEDULE}
    )
    text = next_step_sms(referral, practice=PRACTICE)
    assert text == (
        f"{PRACTICE}: Su referencia esta lista: llame al consultorio del especialista para "
        "hacer su cita. Reply STOP to opt out."
    )
    assert next_step_sms(referral, practice="Lakeside", language="en").startswith(
        "Lakeside: Your referral is ready"
    )


def test_the_scheduling_text_says_the_same_next_step_as_a_status_call() -> None:
    referral = new_referral().model_copy(update={"status": ReferralStatus.READY_TO_SCHEDULE})
    step = next_step(referral, "en").patient_sms
    body = render_sms("schedule.sms_d2", practice="A" * 30, phone="(312) 555-0100", next_step=step)
    assert step in body
    assert body.endswith("Reply STOP to opt out.")
