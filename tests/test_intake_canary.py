"""Canary: PHI given to intake never shows up in messages, reprs, errors or logs."""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime
from typing import Any

import pytest

from referralkit import Actor, ActorKind, MemoryStore, ReferralDesk, Role
from referralkit.clock import ManualClock
from referralkit.errors import IntakeError

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
CANARIES = (
    "Zyxwvut",
    "Canarysson",
    "1957-11-23",
    "11/23/1957",
    "+13125550147",
    "(312) 555",
    "555-0147",
    "CANARY123",
    "zyx.canary",
    "Qwerty Lane",
    "Canaryville",
    "sudden canary",
)
GOOD: dict[str, Any] = {
    "patient": {
        "given_name": "Zyxwvut",
        "family_name": "Canarysson",
        "birth_date": "11/23/1957",
        "phones": ["(312) 555-0147"],
        "email": "zyx.canary@example.org",
        "address": {
            "line1": "1 Qwerty Lane",
            "city": "Canaryville",
            "state": "IL",
            "postal_code": "60601",
        },
    },
    "referring_practice": {"name": "Lakeside Family Medicine"},
    "specialty": "Cardiology",
    "reason": {"text": "sudden canary symptoms, urgent"},
    "coverage": {"payer_name": "Acme", "member_id": "CANARY123"},
}
# The same values mangled so that each is rejected: their messages must not echo them.
BAD: dict[str, Any] = {
    "patient.given_name": "Zyxwvut\x00",
    "patient.birth_date": "11/23/19579",
    "patient.phones": ["555-0147 Zyxwvut"],
    "patient.email": "zyx.canary@@example",
    "patient.address.postal_code": "Canaryville",
    "coverage.member_id": "CANARY123!",
    "reason.icd10_codes": "Canarysson",
    "Zyxwvut": "Canarysson",
}


def _chain_texts(exc: BaseException) -> list[str]:
    """The exception as a traceback prints it, and str/repr/.errors() of every exception in
    its chain (causes and contexts both, suppressed or not)."""
    texts = ["".join(traceback.format_exception(exc))]
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        texts += [str(current), repr(current), repr(current.args)]
        errors = getattr(current, "errors", None)
        if callable(errors):
            texts.append(repr(errors()))
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return texts


def _normalise_directly(field: str, value: object) -> object:
    from referralkit.intake import normalise

    if field == "patient.phones":
        return normalise.normalise_phone(value[0], region="US")  # type: ignore[index]
    return normalise.normalise_date(value, what="birth date")


def _assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary.lower() not in text.lower(), canary


def test_no_phi_in_messages_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    desk = ReferralDesk(store=MemoryStore(), clock=ManualClock(NOW))
    actor = Actor(kind=ActorKind.AI, id="ai", role=Role.INTAKE)
    seen: list[str] = []
    session = desk.start_intake("new_referral")
    bad = session.update(BAD)
    assert {i.code for i in bad.issues} >= {"invalid_characters", "invalid_date", "unknown_field"}
    seen += [repr(bad), repr(session)]
    seen += [f"{i.path} {i.message}" for i in bad.issues]
    payloads = (
        "Zyxwvut Canarysson",
        b"\xffCanarysson",  # a UnicodeDecodeError holds the whole payload
        b'{"patient": {"given_name": "Zyxwvut"}',  # a JSONDecodeError too
        ["Zyxwvut"],
        "[1957-11-23]",
    )
    for payload in payloads:
        with pytest.raises(IntakeError) as info:
            session.update(payload)
        seen += list(_chain_texts(info.value))
    for field, value in (
        ("patient.phones", ["(312) 555-0147 Zyxwvut"]),
        ("patient.birth_date", "02/30/1957"),
    ):
        with pytest.raises(IntakeError) as info:
            _normalise_directly(field, value)
        seen += list(_chain_texts(info.value))
    with pytest.raises(IntakeError) as incomplete:
        desk.submit_intake(session, actor=actor)
    seen.append(str(incomplete.value))
    good = session.update({**GOOD, **dict.fromkeys(BAD)})
    assert good.complete, (good.missing, good.issues)
    seen += [repr(good), *(f.message for f in good.flags)]
    outcome = desk.submit_intake(session, actor=actor)
    seen += [repr(outcome), repr(outcome.referral), str(outcome.referral), repr(outcome.call)]
    seen += [repr(e) for e in desk.history(outcome.referral.id)]
    again = desk.start_intake("new_referral")
    again.update(GOOD)
    linked = desk.submit_intake(again, actor=actor)
    seen += [repr(linked), linked.message or ""]
    status = desk.start_intake("status_inquiry")
    status.update({"caller.role": "patient", "patient.family_name": "Canarysson",
                   "patient.birth_date": "1957-11-23"})  # fmt: skip
    answer = desk.answer_status(status)
    assert answer.verified
    seen += [repr(answer), answer.text, repr(status.lookup_query()), repr(status.caller())]
    seen += [record.getMessage() for record in caplog.records]
    assert any("intake" in record.getMessage() for record in caplog.records)
    for text in seen:
        _assert_clean(text)
