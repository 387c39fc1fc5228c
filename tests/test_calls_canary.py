"""PHI canary: a caller who is not entitled hears nothing about the referral.

A referral whose protected fields (and the facts a visit answer merges: appointment place,
records source, authorization number) hold canary tokens is asked about through the tool layer
by callers who are not entitled: a patient with the wrong birth date, a caregiver who never
gives one, a practice whose NPI is not on the referral, a payer. Every tool result, error and
log record (DEBUG, every logger) is searched for the tokens. Each token holds letters outside
a-f, so none can turn up inside a hexadecimal id by chance.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from referralkit import ReferralDesk
from referralkit.calls import CallTools, ScriptedCaller, answer_visit_preparation
from referralkit.clock import ManualClock
from referralkit.errors import ReferralKitError
from referralkit.intake import CallerIdentity
from referralkit.model import (
    Address,
    Appointment,
    Coverage,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    RecordsRequest,
    Referral,
    ReferralStatus,
)
from tests.support.calls_world import (
    AI,
    CLINICIAN,
    NOW,
    RECEIVING_NPI,
    REFERRING_NPI,
    SCHEDULER,
    content,
)

CANARIES = {
    "given_name": "Zqgivenkw",
    "family_name": "Zqfamilykw",
    "phone": "9998887734",
    "email": "zq.canary.kw@example.org",
    "line1": "7737 Zqcanary Lane",
    "city": "Zqcitykw",
    "member_id": "ZQMEMBERKW",
    "reason": "Zqreasonkw",
    "location": "Zqlocation Tower",
    "records_from": "Zqrecords Clinic",
    "authorization": "PA-ZQAUTHKW",
    "referral_number": "ZQREFKW",
    "birth_year": "1937",
    "birth_spoken": "April nineteenth",
    "birth_spoken_es": "diecinueve de abril",
    "appointment_spoken": "March tenth",
    "appointment_spoken_es": "diez de marzo",
}
BIRTH_DATE = date(1937, 4, 19)
WRONG_BIRTH_DATE = "1950-01-01"
OTHER_NPI = "1497758544"  # a valid NPI that is on neither side of the referral


def _canary_referral() -> Referral:
    return Referral(
        referral_number=CANARIES["referral_number"],
        status=ReferralStatus.RECEIVED,
        patient=Patient(
            given_name=CANARIES["given_name"],
            family_name=CANARIES["family_name"],
            birth_date=BIRTH_DATE,
            phones=(PhoneContact(number="+1" + CANARIES["phone"]),),
            email=CANARIES["email"],
            address=Address(
                line1=CANARIES["line1"], city=CANARIES["city"], state="IL", postal_code="60601"
            ),
            time_zone="America/Chicago",
        ),
        referring_practice=Practice(name="Lakeside Family Medicine", npi=REFERRING_NPI),
        receiving_practice=Practice(name="Lakeside Cardiology", npi=RECEIVING_NPI),
        specialty="Cardiology",
        reason=ReasonForReferral(text=CANARIES["reason"]),
        coverage=Coverage(payer_name="Prairie Health Plan", member_id=CANARIES["member_id"]),
    )


@pytest.fixture
def tools() -> CallTools:
    desk = ReferralDesk.open("memory://", clock=ManualClock(NOW))
    stored = desk.create(_canary_referral(), actor=AI)
    desk.fire(stored.id, "accept", actor=CLINICIAN)
    desk.fire(stored.id, "require_auth", actor=CLINICIAN)
    desk.fire(
        stored.id,
        "authorize",
        actor=SCHEDULER,
        data={
            "number": CANARIES["authorization"],
            "valid_from": "2026-03-01",
            "valid_to": "2026-06-01",
        },
    )
    desk.amend(
        stored.id,
        "records_requested",
        actor=SCHEDULER,
        update={
            "records_requests": (
                RecordsRequest(from_practice=CANARIES["records_from"], requested_at=NOW),
            )
        },
    )
    desk.fire(
        stored.id,
        "schedule",
        actor=SCHEDULER,
        data={
            "appointment": Appointment(
                start=datetime(2026, 3, 10, 15, 30, tzinfo=UTC), location=CANARIES["location"]
            )
        },
    )
    return CallTools(desk, AI, content=content())


def _found(token: str, text: str) -> bool:
    # A token of digits alone (the birth year, the phone number) could turn up inside a hex id
    # (a UUID, a call id) by chance: it counts only where no hex character touches it.
    if token.isdigit():
        return re.search(rf"(?<![0-9a-f]){token}(?![0-9a-f])", text, re.IGNORECASE) is not None
    return token.casefold() in text.casefold()


def leaks(text: str) -> list[str]:
    return [name for name, token in CANARIES.items() if _found(token, text)]


# (role, what they know, how they start): none of them is entitled to hear about the referral.
UNENTITLED: dict[str, tuple[str, dict[str, Any]]] = {
    "patient_wrong_birth_date": (
        "patient",
        {"patient.family_name": CANARIES["family_name"], "patient.birth_date": WRONG_BIRTH_DATE},
    ),
    "caregiver_by_number_wrong_birth_date": (
        "caregiver",
        {
            "referral_number": CANARIES["referral_number"],
            "patient.family_name": CANARIES["family_name"],
            "patient.birth_date": WRONG_BIRTH_DATE,
        },
    ),
    "practice_other_npi": (
        "referring_practice",
        {"referral_number": CANARIES["referral_number"], "caller.npi": OTHER_NPI},
    ),
    "payer": ("payer", {"referral_number": CANARIES["referral_number"]}),
}
TOPICS = {
    "status_inquiry": [None],
    "authorization_question": ["status", "visits_left"],
    "visit_preparation": ["what_to_bring", "arrival_time", "location", "cost", "other"],
}


def _texts(conversation: Any) -> list[str]:
    # What the desk said and returned; the caller's own lines hold what the caller said.
    said = [line.text for line in conversation.lines if line.speaker == "agent"]
    results = [json.dumps(result, ensure_ascii=False) for _, _, result in conversation.tool_calls]
    return said + results


@pytest.mark.parametrize("caller", list(UNENTITLED))
@pytest.mark.parametrize("language", ["en", "es"])
def test_an_unentitled_caller_hears_nothing_about_the_referral(
    tools: CallTools, caplog: pytest.LogCaptureFixture, caller: str, language: str
) -> None:
    role, knows = UNENTITLED[caller]
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for call_type, topics in TOPICS.items():
            for topic in topics:
                script = dict(knows)
                if topic is not None:
                    script["question.topic"] = topic
                    script["question.text"] = "What should I do?"
                conversation = ScriptedCaller(
                    call_type, script, language=language, caller_role=role
                ).run(tools)
                answers = [r for name, _, r in conversation.tool_calls if "text" in r]
                assert answers, (call_type, topic)
                assert all(r["verified"] is False for r in answers)
                assert all(r["details"] == {} for r in answers)
                seen += _texts(conversation)
    seen += [record.getMessage() for record in caplog.records]
    seen += [repr(record.args) for record in caplog.records]
    assert not leaks("\n".join(seen))


def test_the_not_entitled_answer_is_the_answer_for_no_referral(tools: CallTools) -> None:
    referral = tools.desk.list()[0]
    wrong = CallerIdentity("patient", family_name=CANARIES["family_name"], birth_date=None)
    for topic in ("what_to_bring", "other"):
        refused = answer_visit_preparation(referral, wrong, content(), topic=topic)
        absent = answer_visit_preparation(None, wrong, content(), topic=topic)
        assert (refused.text, dict(refused.details)) == (absent.text, dict(absent.details))
        assert not leaks(refused.text + repr(refused) + repr(refused.handoff))


def test_tool_errors_never_carry_the_arguments(tools: CallTools) -> None:
    call = tools.invoke("start_call", {"call_type": "visit_preparation", "caller_role": "patient"})
    bad = [
        {"call_id": call["call_id"], "values": {"patient.family_name": [CANARIES["family_name"]]}},
        {"call_id": call["call_id"], "values": {"patient.birth_date": {"y": CANARIES["city"]}}},
        {"call_id": CANARIES["reason"], "values": {}},
    ]
    for arguments in bad:
        with pytest.raises(ReferralKitError) as exc:
            tools.invoke("record_turn", arguments)
        chain: list[BaseException] = [exc.value]
        while chain[-1].__cause__ or chain[-1].__context__:
            chain.append(chain[-1].__cause__ or chain[-1].__context__)  # type: ignore[arg-type]
        assert not leaks(" ".join(str(e) + repr(e) for e in chain))
        assert not leaks(tools.invoke_json("record_turn", json.dumps(arguments)))


def test_a_digit_canary_inside_a_hex_id_is_not_a_leak() -> None:
    assert leaks("call 3f1937ab-0000") == []
    assert leaks("born 1937, so") == ["birth_year"]
