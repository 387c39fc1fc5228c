"""Golden conversations: every call type, in English and Spanish, from a patient, a caregiver
and a practice, driven end to end through the tool layer by a scripted caller.

Regenerate after an intended change with ``REFERRALKIT_REGEN_GOLDEN=1 pytest
tests/test_calls_golden.py`` and review the diff of ``tests/golden/calls.txt``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from referralkit.calls import ScriptedCaller
from referralkit.intake import CallType
from tests.support.calls_world import REFERRING_NPI, world

GOLDEN = Path(__file__).parent / "golden" / "calls.txt"
LANGUAGES = ("en", "es")
CALLERS = ("patient", "caregiver", "practice")
PATIENT = {
    "patient.given_name": "Ana",
    "patient.family_name": "Rivera",
    "patient.birth_date": "1961-07-04",
    "patient.phones": ["(312) 555-0147"],
}
TOPIC = {
    CallType.AUTHORIZATION_QUESTION: "status",
    CallType.VISIT_PREPARATION: "what_to_bring",
    CallType.PRACTICE_COORDINATION: "consult_report",
}
PRACTICE_TOPIC = {CallType.VISIT_PREPARATION: "arrival_time"}


def _script(kind: CallType, language: str, caller: str) -> ScriptedCaller:
    knows: dict[str, Any] = {
        **PATIENT,
        "referring_practice.name": "Lakeside Family Medicine",
        "specialty": "Cardiology",
        "reason.text": "Palpitations",
        "appointment.preferred_times": "Weekday mornings",
        "records.from_practice": "Lakeside Family Medicine",
    }
    if kind in TOPIC:
        knows["question.topic"] = TOPIC[kind]
    mistakes: dict[str, Any] = {}
    role = caller
    if caller == "practice":
        role = "referring_practice"
        knows |= {
            "caller.npi": REFERRING_NPI,
            "caller.practice_name": "Lakeside Family Medicine",
            "caller.phone": "(312) 555-0100",
            "referral_number": "REF-2026-0042",
        }
        if kind in PRACTICE_TOPIC:
            knows["question.topic"] = PRACTICE_TOPIC[kind]
    else:
        # A patient or caregiver first gives a birth date in the future, then corrects it.
        mistakes["patient.birth_date"] = "07/04/2061"
    # The agent learnt who is calling in its greeting, and says so when it starts the call.
    return ScriptedCaller(kind, knows, language=language, caller_role=role, mistakes=mistakes)


def _render(key: str, conversation: Any) -> str:
    final = json.dumps(conversation.final, sort_keys=True, ensure_ascii=False)
    tools = " ".join(name for name, _, _ in conversation.tool_calls)
    return f"=== {key} ===\n{conversation.transcript()}tools: {tools}\nresult: {final}\n"


def _conversations() -> dict[str, str]:
    out: dict[str, str] = {}
    for kind in CallType:
        for language in LANGUAGES:
            for caller in CALLERS:
                _, tools, _ = world()
                key = f"{kind.value} {language} {caller}"
                out[key] = _render(key, _script(kind, language, caller).run(tools))
    return out


def _golden() -> dict[str, str]:
    text = GOLDEN.read_text(encoding="utf-8")
    parts = re.split(r"(?m)^(?==== )", text)
    return {re.match(r"=== (.*) ===", p).group(1): p for p in parts if p.strip()}


@pytest.fixture(scope="module")
def conversations() -> dict[str, str]:
    found = _conversations()
    if os.environ.get("REFERRALKIT_REGEN_GOLDEN"):
        GOLDEN.write_text("\n".join(found.values()), encoding="utf-8")
    return found


def test_every_call_type_language_and_caller_has_a_golden(conversations):
    assert len(conversations) == len(CallType) * len(LANGUAGES) * len(CALLERS)
    assert set(_golden()) == set(conversations)


@pytest.mark.parametrize(
    "key", [f"{k.value} {lang} {c}" for k in CallType for lang in LANGUAGES for c in CALLERS]
)
def test_conversation_matches_golden(conversations, key):
    assert conversations[key].strip() == _golden()[key].strip()


def test_a_patient_hears_your_and_a_caregiver_hears_the_patients(conversations):
    patient = conversations["new_referral en patient"]
    caregiver = conversations["new_referral en caregiver"]
    assert "agent: What is your date of birth?" in patient
    assert "agent: What is the patient's date of birth?" in caregiver
    assert "agent: ¿Cuál es su fecha de nacimiento?" in conversations["new_referral es patient"]


def test_a_rejected_birth_date_is_asked_again_and_read_back_spelled_out(conversations):
    lines = conversations["new_referral en patient"].splitlines()
    first = lines.index("caller: patient.birth_date = 07/04/2061")
    assert lines[first + 1] == "agent: What is your date of birth?"
    assert "agent: I have your date of birth as July fourth, nineteen sixty-one." in (
        " ".join(lines)
    )


def test_a_question_the_caller_cannot_answer_goes_to_a_person(conversations):
    # A patient on a practice-coordination call cannot name a practice they call from.
    text = conversations["practice_coordination en patient"]
    assert "caller: I don't know." in text
    assert '"handoff_queues": ["practice_relations"]' in text


def test_a_scripted_call_times_every_tool_call():
    _, tools, _ = world()
    conversation = _script(CallType.STATUS_INQUIRY, "en", "patient").run(tools)
    assert len(conversation.latencies) == len(conversation.tool_calls)
    assert all(seconds >= 0 for seconds in conversation.latencies)
