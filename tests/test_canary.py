"""PHI never leaks: canary tokens in every PHI field stay out of logs, errors and reprs.

A referral whose protected fields hold unique tokens is driven through the desk (successes,
refusals, bad data, a conflict); every log record at DEBUG from every logger, every exception
raised (str and repr, with its causes), and the repr/str of the referral, its sub-records and
its events are searched for the tokens.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from referralkit import (
    Address,
    Appointment,
    Channel,
    ConflictError,
    ContactConsent,
    CorruptRecordError,
    Coverage,
    Direction,
    HumanTask,
    Interaction,
    InvalidTransitionError,
    InvalidTriggerError,
    ManualClock,
    Patient,
    PermissionDeniedError,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    TransitionBlockedError,
    TriggerDataError,
)
from referralkit.errors import AmendmentError
from tests.support.canary import exception_texts, model_texts

CANARIES = {
    "given_name": "Zqgiven7731",
    "family_name": "Zqfamily7732",
    "middle_name": "Zqmiddle7733",
    "birth_date": "1937-04-19",
    "mrn": "ZQMRN-7734",
    "phone": "+19998887734",
    "phone2": "+19998887735",
    "email": "zq.canary.7736@example.org",
    "line1": "7737 Zqcanary Lane",
    "line2": "Apt Zq7738",
    "city": "Zqcity7739",
    "postal_code": "97739-7740",
    "member_id": "ZQMEMBER-7741",
    "group_number": "ZQGROUP-7742",
    "reason_text": "Zqreason7743 chest pain at night",
    "icd10": "Q87.40",
    "summary": "Zqsummary7744 patient said",
    "task_detail": "Zqdetail7745 daughter to call",
    "note": "Zqnote7746",
    "hold_reason": "Zqhold7747",
}
BIRTH_DATE = date(1937, 4, 19)


def canary_referral() -> Referral:
    return Referral(
        referral_number="REF-CANARY",
        status=ReferralStatus.RECEIVED,
        patient=Patient(
            given_name=CANARIES["given_name"],
            family_name=CANARIES["family_name"],
            middle_name=CANARIES["middle_name"],
            birth_date=BIRTH_DATE,
            mrn=CANARIES["mrn"],
            phones=(
                PhoneContact(number=CANARIES["phone"], time_zones=("America/Chicago",)),
                PhoneContact(number=CANARIES["phone2"]),
            ),
            email=CANARIES["email"],
            address=Address(
                line1=CANARIES["line1"],
                line2=CANARIES["line2"],
                city=CANARIES["city"],
                state="IL",
                postal_code=CANARIES["postal_code"],
            ),
            time_zone="America/Chicago",
            consent=ContactConsent(opted_out_channels=(Channel.SMS,)),
        ),
        referring_practice=Practice(name="Referring Practice", npi="1234567893"),
        specialty="cardiology",
        reason=ReasonForReferral(icd10_codes=(CANARIES["icd10"],), text=CANARIES["reason_text"]),
        coverage=Coverage(
            payer_name="Prairie Health Plan",
            member_id=CANARIES["member_id"],
            group_number=CANARIES["group_number"],
        ),
    )


@pytest.fixture(params=["memory", "sqlite"])
def canary_desk(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> Iterator[ReferralDesk]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'canary.db'}"
    with ReferralDesk.open(url, clock=clock) as desk:
        yield desk


def leaks(text: str) -> list[str]:
    return [name for name, token in CANARIES.items() if token in text]


def drive(desk: ReferralDesk, clock: ManualClock, actors: Any) -> list[BaseException]:
    """Take the canary referral through successes and failures; return what was raised."""
    raised: list[BaseException] = []

    def expect(error: type[BaseException], call: Callable[[], object]) -> None:
        with pytest.raises(error) as info:
            call()
        raised.append(info.value)

    referral = desk.create(canary_referral(), actor=actors.referrer)
    rid = referral.id
    note = CANARIES["note"]

    # Refusals, bad data and a conflict, each carrying PHI where a careless message might echo it.
    expect(
        InvalidTransitionError,
        lambda: desk.fire(
            rid, "close_loop", actor=actors.clinician, data={"report_reference": note}
        ),
    )
    expect(PermissionDeniedError, lambda: desk.fire(rid, "accept", actor=actors.intake_ai))
    expect(
        TriggerDataError,
        lambda: desk.fire(rid, "decline", actor=actors.clinician, data={"reason": note}),
    )
    expect(
        TriggerDataError,
        lambda: desk.fire(
            rid, "request_info", actor=actors.clinician, data={"missing": CANARIES["given_name"]}
        ),
    )
    expect(
        TriggerDataError,
        lambda: desk.fire(rid, "hold", actor=actors.clinician, data={"reason": 7, "note": note}),
    )
    expect(
        ValueError,
        lambda: desk.amend(
            rid,
            "patient_updated",
            actor=actors.intake_staff,
            update={"patient": {"given_name": CANARIES["given_name"], "family_name": 12}},
        ),
    )
    expect(
        ValueError,
        lambda: desk.amend(
            rid, "phone_changed", actor=actors.intake_staff, update={"flags": CANARIES["phone"]}
        ),
    )
    # Caller-chosen names: an unknown trigger, an unknown amendment key, a trigger data key
    # and an amendment kind, each a canary; none may be echoed.
    expect(
        InvalidTriggerError,
        lambda: desk.fire(rid, CANARIES["family_name"], actor=actors.clinician),  # type: ignore[arg-type]
    )
    expect(
        AmendmentError,
        lambda: desk.amend(
            rid, "typo", actor=actors.intake_staff, update={CANARIES["given_name"]: "x"}
        ),
    )
    expect(
        TriggerDataError,
        lambda: desk.fire(
            rid, "accept", actor=actors.clinician, data={CANARIES["middle_name"]: note}
        ),
    )
    expect(
        ValueError,
        lambda: desk.amend(rid, "accept", actor=actors.intake_staff, update={}),
    )
    expect(
        AmendmentError,
        lambda: desk.amend(
            rid,
            "birth_date_changed",
            actor=actors.intake_staff,
            update={"patient": {"birth_date": CANARIES["birth_date"], "mrn": CANARIES["mrn"]}},
        ),
    )

    # Successes, with PHI in trigger data and sub-records.
    clock.advance(hours=1)
    desk.fire(rid, "accept", actor=actors.clinician, data={"note": note})
    expect(
        ConflictError,
        lambda: desk.fire(
            rid, "hold", actor=actors.clinician, data={"reason": note}, expected_version=1
        ),
    )
    desk.fire(rid, "require_auth", actor=actors.scheduler, data={"note": note})
    desk.fire(
        rid,
        "authorize",
        actor=actors.scheduler,
        data={"number": "AUTH-1", "valid_from": "2026-03-01", "valid_to": "2026-03-10"},
    )
    late = Appointment(start=clock.now() + timedelta(days=30), location="Suite 200")
    expect(
        TransitionBlockedError,
        lambda: desk.fire(rid, "schedule", actor=actors.intake_ai, data={"appointment": late}),
    )
    soon = Appointment(start=clock.now() + timedelta(days=3), location="Suite 200")
    desk.fire(rid, "schedule", actor=actors.intake_ai, data={"appointment": soon})
    desk.amend(
        rid,
        "interaction_logged",
        actor=actors.intake_ai,
        update=lambda current: {
            "interactions": (
                Interaction(
                    at=clock.now(),
                    channel=Channel.VOICE,
                    direction=Direction.OUTBOUND,
                    summary=CANARIES["summary"],
                ),
            ),
            "tasks": (
                HumanTask(
                    queue="scheduling",
                    title="Call back",
                    reason="patient asked for a call",
                    detail=CANARIES["task_detail"],
                    created_at=clock.now(),
                    due_at=clock.now() + timedelta(hours=2),
                ),
            ),
        },
        data={"summary": CANARIES["summary"]},
    )
    desk.fire(rid, "hold", actor=actors.clinician, data={"reason": CANARIES["hold_reason"]})
    expect(
        InvalidTransitionError,
        lambda: desk.fire(rid, "complete_visit", actor=actors.clinician),
    )
    desk.fire(rid, "resume", actor=actors.clinician)
    desk.fire(rid, "no_show", actor=actors.scheduler, data={"reason": "forgot", "note": note})
    desk.fire(
        rid, "mark_lost", actor=actors.scheduler, data={"reason": "unreachable", "note": note}
    )
    desk.verify(rid)
    return raised


def test_canary_tokens_never_leak(
    canary_desk: ReferralDesk,
    clock: ManualClock,
    actors: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records, transitions' too
    for name in ("referralkit", "transitions"):
        caplog.set_level(logging.DEBUG, logger=name)
    raised = drive(canary_desk, clock, actors)

    referral = canary_desk.list()[0]
    events = canary_desk.history(referral.id)
    assert len(raised) == 15
    assert len(events) == 11  # the last closes the lost referral's scheduling task as moot
    assert events[-1].kind == "task_mooted"
    assert caplog.records, "the desk logs its changes; nothing captured means a broken setup"

    found: dict[str, list[str]] = {}
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        found.update({f"log:{record.name}:{n}": [text] for n in leaks(text)})
    for exc in raised:
        for text in exception_texts(exc):
            found.update({f"{type(exc).__name__}:{n}": [text] for n in leaks(text)})
    for text in model_texts(referral):
        found.update({f"repr:{n}": [text] for n in leaks(text)})
    for event in events:
        for text in (repr(event), str(event)):
            found.update({f"event:{n}": [text] for n in leaks(text)})

    assert found == {}


def test_canary_referral_keeps_its_phi(canary_desk: ReferralDesk, actors: Any) -> None:
    # The masking is only in text renderings: the data itself is intact.
    stored = canary_desk.create(canary_referral(), actor=actors.referrer)
    loaded = canary_desk.get(stored.id)
    assert loaded.patient is not None
    assert loaded.patient.given_name == CANARIES["given_name"]
    assert loaded.patient.birth_date == BIRTH_DATE
    assert CANARIES["member_id"] in loaded.model_dump_json()


def test_a_corrupt_stored_row_raises_without_its_values(
    tmp_path: Path, clock: ManualClock, actors: Any
) -> None:
    db = tmp_path / "corrupt.db"
    with ReferralDesk.open(f"sqlite:///{db}", clock=clock) as desk:
        rid = desk.create(canary_referral(), actor=actors.referrer).id
    conn = sqlite3.connect(db)
    with conn:  # a birth date no calendar has, next to every canary value
        conn.execute(
            "UPDATE referrals SET body = replace(body, ?, ?)",
            (CANARIES["birth_date"], "1937-02-30"),
        )
        conn.execute(
            'UPDATE events SET body = replace(body, \'"kind":\', \'"kind":7,"x":\') ',
        )
    conn.close()
    raised: list[BaseException] = []
    with ReferralDesk.open(f"sqlite:///{db}", clock=clock) as desk:
        for call in (lambda: desk.get(rid), lambda: desk.verify(rid)):
            with pytest.raises(CorruptRecordError) as info:
                call()
            raised.append(info.value)
        with pytest.raises(CorruptRecordError) as events_info:
            desk.history(rid)
        raised.append(events_info.value)
    leaked = {n for exc in raised for text in exception_texts(exc) for n in leaks(text)}
    assert leaked == set()
    assert uuid.UUID(str(rid))  # the id, which is not PHI, is what the messages name


def test_canaries_cannot_appear_in_hex_ids() -> None:
    # Every canary has a character outside 0-9a-f: a random id or key can never contain it.
    assert all(set(token.lower()) - set("0123456789abcdef") for token in CANARIES.values())


def test_a_corrupt_recorded_request_raises_without_its_values() -> None:
    from referralkit.outreach.ledger import OutboxEntry

    entry = OutboxEntry(
        key="k",
        referral_id=uuid.uuid4(),
        operation="place_call",
        adapter=None,
        status="queued",
        request={"to": CANARIES["phone"], "script_id": CANARIES["note"]},
    )
    with pytest.raises(CorruptRecordError) as info:
        entry.rebuild()
    assert not [n for text in exception_texts(info.value) for n in leaks(text)]
