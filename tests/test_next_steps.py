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
    # 13 states x 8 authorization x 4 records x 5 appointment x 3 report states.
    assert len(PRACTICE) == 30
    assert len(COMBINATIONS) == 13 * 8 * 4 * 5 * 3


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
    # The team that owns the next step is the same for both callers, and said in words.
    assert patient.owner_queue == practice.owner_queue == step.queue
    assert patient.owner_team == practice.owner_team == step.team
    if step.team is not None:
        assert patient.text.endswith(
            "handles the next step." if language == "en" else "se encarga del siguiente paso."
        )
        assert step.team.lower() in patient.text.lower()


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


def test_every_next_step_names_a_built_in_queue_in_words_in_both_languages():
    from referralkit.routing import DEFAULT_QUEUES

    for state, sub in COMBINATIONS:
        english = next_step_for(state, sub, "en")
        spanish = next_step_for(state, sub, "es")
        assert english.queue == spanish.queue
        assert (english.queue is None) == (english.owner is None), (state, sub)
        if english.queue is None:
            assert english.team is spanish.team is None
            continue
        assert english.queue in DEFAULT_QUEUES
        assert english.team is not None
        assert english.team.startswith("our ")
        assert english.team.endswith(" team")
        assert "_" not in english.team  # never the code
        assert spanish.team is not None
        assert spanish.team.startswith("nuestro equipo de ")
        assert "_" not in spanish.team


@pytest.mark.parametrize(
    ("queue", "english", "spanish"),
    [
        ("scheduling", "our scheduling team", "nuestro equipo de citas"),
        ("authorization", "our authorization team", "nuestro equipo de autorizaciones del seguro"),
        ("records", "our records team", "nuestro equipo de expedientes médicos"),
        ("billing", "our billing team", "nuestro equipo de billing"),  # a host's own queue
    ],
)
def test_a_queue_is_told_to_a_caller_as_a_team(queue, english, spanish):
    from referralkit.lifecycle import team_name

    assert team_name(queue, "en") == english
    assert team_name(queue, "es-MX") == spanish


def test_partly_received_records_are_still_outstanding():
    referral = new_referral().model_copy(
        update={
            "status": ReferralStatus.ACCEPTED,
            "records_requests": (
                RecordsRequest(requested_at=NOW, status=RecordsRequestStatus.PARTIALLY_RECEIVED),
            ),
        }
    )
    step = next_step(referral)
    assert SubStatus.of(referral).records == "outstanding"
    assert (step.owner, step.queue) == ("referring_practice", "records")


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_failed_consult_report_is_described_to_the_patient_and_the_practice(language):
    from referralkit.model import Channel, ConsultReport, ReportDeliveryStatus

    referral = new_referral().model_copy(
        update={
            "status": ReferralStatus.VISIT_COMPLETED,
            "consult_report": ConsultReport(
                document_id="report-1",
                channel=Channel.FAX,
                status=ReportDeliveryStatus.FAILED,
                recorded_at=NOW,
            ),
        }
    )
    assert SubStatus.of(referral).report == "failed"
    patient = answer_status(
        referral,
        CallerIdentity("patient", family_name="Rivera", birth_date=referral.patient.birth_date),
        language=language,
    )
    practice = answer_status(
        referral, CallerIdentity("referring_practice", npi=REFERRING_NPI), language=language
    )
    if language == "en":
        assert "resending the visit report" in patient.text
        assert "could not be delivered to you" in practice.text
        assert practice.text.endswith("Our records team handles the next step.")
    else:
        assert "volviendo a enviar el informe" in patient.text
        assert "No se pudo entregarle el informe" in practice.text
        assert practice.text.endswith(
            "Nuestro equipo de expedientes médicos se encarga del siguiente paso."
        )
    assert patient.owner == practice.owner == "specialist_office"
    assert patient.owner_queue == practice.owner_queue == "records"
    # Delivered: the report counts as sent even before the loop is recorded as closed.
    delivered = referral.model_copy(
        update={
            "consult_report": referral.consult_report.model_copy(
                update={"status": ReportDeliveryStatus.DELIVERED, "delivered_at": NOW}
            )
        }
    )
    assert SubStatus.of(delivered).report == "sent"
