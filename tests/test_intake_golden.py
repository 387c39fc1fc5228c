"""Golden tests: every call type completed in one turn, over several, and after a correction."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from referralkit import Priority, ReferralStatus
from referralkit.clock import ManualClock
from referralkit.intake import CallRecord, CallType, IntakeSession, validate_intake

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
LOOKUP = {"patient": {"family_name": "Rivera", "birth_date": "1961-07-04"}}

# One complete payload per call type, and the order its fields are asked for.
GOLDEN: dict[CallType, dict[str, Any]] = {
    CallType.NEW_REFERRAL: {
        "patient": {
            "given_name": "Ana",
            "family_name": "Rivera",
            "birth_date": "07/04/1961",
            "phones": ["(312) 555-0147"],
        },
        "referring_practice": {"name": "Lakeside Family Medicine", "npi": "1234567893"},
        "specialty": "Cardiology",
        "reason": {"icd10_codes": ["i10"], "text": "Uncontrolled hypertension"},
        "priority": "routine",
    },
    CallType.SCHEDULE_APPOINTMENT: {
        "referral_number": "ref-2026-0042",
        "patient": {"phones": "312-555-0147"},
        "appointment": {"preferred_times": "Weekday mornings"},
    },
    CallType.STATUS_INQUIRY: {"caller": {"role": "patient"}, **LOOKUP},
    CallType.AUTHORIZATION_QUESTION: {
        "caller": {"role": "referring_practice", "npi": "1234567893"},
        "referral_number": "REF-2026-0042",
        "question": {"topic": "status"},
    },
    CallType.RECORDS_TRANSFER: {
        "caller": {"role": "receiving_practice"},
        "referral_number": "REF-2026-0042",
        "records": {"from_practice": "Lakeside Family Medicine", "fax": "312 555 0199"},
    },
    CallType.VISIT_PREPARATION: {**LOOKUP, "question": {"topic": "what_to_bring"}},
    CallType.PRACTICE_COORDINATION: {
        "caller": {
            "role": "referring_practice",
            "practice_name": "Lakeside Family Medicine",
            "phone": "(312) 555-0100",
        },
        "question": {"topic": "consult_report"},
    },
}

# A field of each golden payload replaced by an invalid value, with the issue expected.
INVALID: dict[CallType, tuple[str, object, str]] = {
    CallType.NEW_REFERRAL: ("patient.birth_date", "2099-01-01", "birth_date_in_future"),
    CallType.SCHEDULE_APPOINTMENT: ("patient.phones", "555-0147", "phone_not_valid"),
    CallType.STATUS_INQUIRY: ("caller.role", "neighbour", "invalid_choice"),
    CallType.AUTHORIZATION_QUESTION: ("caller.npi", "1234567890", "invalid_npi_check_digit"),
    CallType.RECORDS_TRANSFER: ("records.fax", "not a fax", "invalid_phone"),
    CallType.VISIT_PREPARATION: ("patient.birth_date", "31/31/1961", "invalid_date"),
    CallType.PRACTICE_COORDINATION: ("question.topic", "gossip", "invalid_choice"),
}


def _session(call_type: CallType, **kwargs: Any) -> IntakeSession:
    return IntakeSession(call_type, clock=ManualClock(NOW), **kwargs)


def _flat(payload: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.parametrize("call_type", list(CallType), ids=lambda c: c.value)
def test_complete_in_one_turn(call_type: CallType) -> None:
    result, produced = validate_intake(call_type, GOLDEN[call_type], clock=ManualClock(NOW))
    assert result.complete, (result.missing, result.issues)
    assert result.missing == ()
    assert result.next_question is None
    if call_type is CallType.NEW_REFERRAL:
        assert produced is not None
        assert not isinstance(produced, CallRecord)
        assert produced.status is ReferralStatus.INTAKE
        assert produced.missing_fields() == ()
    else:
        assert isinstance(produced, CallRecord)
        assert produced.call_type == call_type.value


@pytest.mark.parametrize("call_type", list(CallType), ids=lambda c: c.value)
def test_complete_over_several_turns(call_type: CallType) -> None:
    session = _session(call_type)
    fields = list(_flat(GOLDEN[call_type]).items())
    for index, (path, value) in enumerate(fields):
        result = session.update({path: value})
        assert not result.issues
        if index == 0:
            assert not result.complete
    final = session.result()
    assert final.complete
    assert final.turn == len(fields)


@pytest.mark.parametrize("call_type", list(CallType), ids=lambda c: c.value)
def test_invalid_value_is_reported_then_corrected(call_type: CallType) -> None:
    path, bad, code = INVALID[call_type]
    good = _flat(GOLDEN[call_type])
    session = _session(call_type)
    first = session.update({**good, path: bad})
    assert not first.complete
    assert [(i.path.split(".0")[0], i.code) for i in first.issues] == [(path, code)]
    assert first.next_question is not None
    assert first.next_question.field.startswith(path)
    second = session.update({path: good[path]})
    assert second.complete
    assert second.issues == ()


def test_new_referral_questions_follow_the_spec_order() -> None:
    session = _session(CallType.NEW_REFERRAL)
    asked = []
    payload = _flat(GOLDEN[CallType.NEW_REFERRAL])
    answers = {
        "patient.given_name": {"patient.given_name": payload["patient.given_name"]},
        "patient.family_name": {"patient.family_name": payload["patient.family_name"]},
        "patient.birth_date": {"patient.birth_date": payload["patient.birth_date"]},
        "patient.phones": {"patient.phones": payload["patient.phones"]},
        "referring_practice.name | referring_provider.name": {"referring_provider.name": "Dr Li"},
        "specialty": {"specialty": "cardiology"},
        "reason.text | reason.icd10_codes": {"reason.text": "chest pain on exertion"},
    }
    result = session.update({})
    while not result.complete:
        assert result.next_question is not None
        asked.append(result.next_question.field)
        result = session.update(answers[result.next_question.field])
    assert asked == list(answers)


def test_new_referral_normalises_values() -> None:
    _, referral = validate_intake(
        CallType.NEW_REFERRAL,
        {**GOLDEN[CallType.NEW_REFERRAL], "priority": "URGENT"},
        clock=ManualClock(NOW),
    )
    assert referral is not None
    assert not isinstance(referral, CallRecord)
    assert referral.patient is not None
    assert referral.patient.birth_date == date(1961, 7, 4)
    assert referral.patient.phones[0].number == "+13125550147"
    assert referral.patient.phones[0].time_zones == ("America/Chicago",)
    assert referral.reason is not None
    assert referral.reason.icd10_codes == ("I10",)
    assert referral.priority is Priority.URGENT
    assert "stated_urgent_priority" in referral.flags


def test_urgent_wording_flags_for_a_human_and_never_sets_priority() -> None:
    payload = {**GOLDEN[CallType.NEW_REFERRAL], "priority": None}
    payload["reason"] = {"text": "Doctor says she must be seen as soon as possible"}
    result, referral = validate_intake(CallType.NEW_REFERRAL, payload, clock=ManualClock(NOW))
    assert referral is not None
    assert not isinstance(referral, CallRecord)
    assert referral.priority is Priority.ROUTINE
    assert [(f.code, f.queue) for f in result.flags] == [("urgency_language", "urgent_clinical")]


def test_lookup_alternative_asks_for_the_missing_half() -> None:
    session = _session(CallType.STATUS_INQUIRY)
    result = session.update({"caller.role": "patient", "patient.family_name": "Rivera"})
    assert result.missing == ("referral_number | patient.family_name + patient.birth_date",)
    assert result.next_question is not None
    assert result.next_question.field == "patient.birth_date"


def test_spanish_questions() -> None:
    session = _session(CallType.NEW_REFERRAL, language="es-MX")
    question = session.update({}).next_question
    assert question is not None
    assert question.language == "es"
    assert question.text == "¿Cuál es el nombre del paciente?"


def test_null_clears_a_field() -> None:
    session = _session(CallType.NEW_REFERRAL)
    session.update(GOLDEN[CallType.NEW_REFERRAL])
    result = session.update({"specialty": None})
    assert result.missing == ("specialty",)


def test_partial_address_requires_the_rest() -> None:
    session = _session(CallType.NEW_REFERRAL)
    result = session.update({**GOLDEN[CallType.NEW_REFERRAL], "patient.address.state": "Texas"})
    assert "patient.address.line1" in result.missing
    assert session.value("patient.address.state") == "TX"


def test_unknown_field_is_reported_but_does_not_block() -> None:
    result, _ = validate_intake(
        CallType.STATUS_INQUIRY,
        {**GOLDEN[CallType.STATUS_INQUIRY], "favourite_colour": "blue"},
        clock=ManualClock(NOW),
    )
    assert result.complete
    assert [(i.path, i.code) for i in result.issues] == [("favourite_colour", "unknown_field")]


def test_json_text_and_bytes_are_accepted() -> None:
    text = '{"caller": {"role": "patient"}, "referral_number": "REF-1"}'
    for payload in (text, text.encode()):
        result, _ = validate_intake(CallType.STATUS_INQUIRY, payload, clock=ManualClock(NOW))
        assert result.complete


def test_call_record_measures_resolution_time() -> None:
    session = _session(CallType.STATUS_INQUIRY)
    session.update(GOLDEN[CallType.STATUS_INQUIRY])
    record = session.to_call_record(
        "status_answered", resolved_at=datetime(2026, 3, 2, 14, 3, tzinfo=UTC)
    )
    assert record.resolution_seconds == 180
    assert "data" not in repr(record)
