"""Intake through the desk: create, link duplicates, answer status calls to who may hear."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from referralkit import (
    Actor,
    ActorKind,
    AuthorizationStatus,
    MemoryStore,
    ReferralDesk,
    ReferralStatus,
    Role,
)
from referralkit.clock import ManualClock
from referralkit.errors import IntakeError, PermissionDeniedError
from referralkit.intake import CallType, IntakeConfig, find_duplicate

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
AI = Actor(kind=ActorKind.AI, id="ai-receptionist", role=Role.INTAKE)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-1", role=Role.SCHEDULER)
PAYLOAD: dict[str, Any] = {
    "referral_number": "REF-7",
    "patient": {
        "given_name": "Ana",
        "family_name": "Rivera",
        "birth_date": "1961-07-04",
        "phones": ["(312) 555-0147"],
    },
    "referring_practice": {"name": "Lakeside Family Medicine", "npi": "1234567893"},
    "specialty": "Cardiology",
    "reason": {"text": "Hypertension"},
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def desk(clock: ManualClock) -> ReferralDesk:
    return ReferralDesk(store=MemoryStore(), clock=clock)


def _submit(desk: ReferralDesk, payload: dict[str, Any], call_type: str = "new_referral") -> Any:
    session = desk.start_intake(call_type)
    result = session.update(payload)
    assert result.complete, (result.missing, result.issues)
    return desk.submit_intake(session, actor=AI)


def test_new_referral_is_created_and_completes_intake(desk: ReferralDesk) -> None:
    outcome = _submit(desk, PAYLOAD)
    assert outcome.created
    assert outcome.referral.status is ReferralStatus.RECEIVED
    assert [e.kind for e in desk.history(outcome.referral.id)] == ["created", "complete_intake"]
    assert outcome.call.outcome == "referral_created"
    assert outcome.call.referral_id == outcome.referral.id
    desk.verify(outcome.referral.id)


def test_incomplete_intake_writes_nothing(desk: ReferralDesk) -> None:
    session = desk.start_intake("new_referral")
    session.update({"patient.given_name": "Ana"})
    with pytest.raises(IntakeError, match="not complete"):
        desk.submit_intake(session, actor=AI)
    assert list(desk.list()) == []


def test_actor_without_permission_writes_nothing(desk: ReferralDesk) -> None:
    session = desk.start_intake("new_referral")
    session.update(PAYLOAD)
    with pytest.raises(PermissionDeniedError):
        desk.submit_intake(session, actor=SCHEDULER)
    assert list(desk.list()) == []


def test_a_shared_phone_alone_never_links_another_patient(
    desk: ReferralDesk, clock: ManualClock
) -> None:
    first = _submit(desk, PAYLOAD)
    clock.advance(days=3)
    sibling = {**PAYLOAD["patient"], "given_name": "Anita", "birth_date": "1961-07-05"}
    second = _submit(desk, {**PAYLOAD, "patient": sibling, "referral_number": "REF-8"})
    assert second.created
    assert second.referral.id != first.referral.id
    assert second.duplicate is None


@pytest.mark.parametrize(
    ("change", "matched_on"),
    [
        ({"patient": {**PAYLOAD["patient"], "given_name": "ANA", "phones": ["773 555 0199"]}},
         "name_and_birth_date"),
        ({"patient": {**PAYLOAD["patient"], "birth_date": "1961-07-05"}}, "name_and_phone"),
    ],
)  # fmt: skip
def test_duplicate_is_linked_not_created(
    desk: ReferralDesk, clock: ManualClock, change: dict[str, Any], matched_on: str
) -> None:
    first = _submit(desk, PAYLOAD)
    clock.advance(days=3)
    second = _submit(desk, {**PAYLOAD, **change, "specialty": " cardiology "})
    assert not second.created
    assert second.duplicate.matched_on == matched_on
    assert second.referral.id == first.referral.id
    assert "linked to it instead of creating" in second.message
    assert "REF-7" in second.message
    assert second.call.outcome == "linked_to_open_referral"
    assert "duplicate_referral" in second.call.flags
    assert len(list(desk.list())) == 1
    assert [e.kind for e in desk.history(first.referral.id)][-1] == "intake_linked"


def test_other_specialty_or_old_referral_is_not_a_duplicate(
    desk: ReferralDesk, clock: ManualClock
) -> None:
    _submit(desk, PAYLOAD)
    assert _submit(desk, {**PAYLOAD, "specialty": "Dermatology"}).created
    clock.advance(days=91)
    assert _submit(desk, PAYLOAD).created


def test_other_patient_with_a_non_latin_name_is_not_a_duplicate(desk: ReferralDesk) -> None:
    # Both names once reduced to the same empty key, so the second patient was linked to the
    # first patient's referral (same birth date and specialty).
    first = {"given_name": "Иван", "family_name": "Петров", "phones": ["(312) 555-0147"]}
    second = {"given_name": "Ольга", "family_name": "Сидорова", "phones": ["(773) 555-0199"]}
    for patient in (first, second):
        outcome = _submit(desk, {**PAYLOAD, "patient": {**PAYLOAD["patient"], **patient}})
        assert outcome.created
        assert outcome.duplicate is None
    same = {**first, "given_name": "ИВАН", "phones": ["(773) 555-0111"]}
    assert not _submit(desk, {**PAYLOAD, "patient": {**PAYLOAD["patient"], **same}}).created


def test_non_latin_family_name_does_not_verify_another_patient(desk: ReferralDesk) -> None:
    patient = {**PAYLOAD["patient"], "given_name": "Иван", "family_name": "Петров"}
    _submit(desk, {**PAYLOAD, "patient": patient})
    caller = {"caller": {"role": "patient"}, "referral_number": "REF-7"}
    wrong = {**caller, "patient": {"family_name": "Сидорова", "birth_date": "1961-07-04"}}
    right = {**caller, "patient": {"family_name": "петров", "birth_date": "1961-07-04"}}
    assert not _submit(desk, wrong, "status_inquiry").answer.verified
    assert _submit(desk, right, "status_inquiry").answer.verified


def test_find_duplicate_skips_closed_referrals(desk: ReferralDesk) -> None:
    first = _submit(desk, PAYLOAD).referral
    cancelled = desk.fire(first.id, "cancel", actor=AI, data={"reason": "duplicate"})
    session = desk.start_intake("new_referral")
    session.update(PAYLOAD)
    candidate = session.to_referral()
    assert cancelled.status is ReferralStatus.CANCELLED
    assert find_duplicate(candidate, [cancelled], now=NOW, window=timedelta(days=90)) is None


# -- Status and authorization calls ---------------------------------------------------------


@pytest.fixture
def referral_id(desk: ReferralDesk) -> Any:
    created = _submit(desk, PAYLOAD).referral
    clinician = Actor(kind=ActorKind.HUMAN, id="dr-1", role=Role.CLINICIAN)
    desk.fire(created.id, "accept", actor=clinician)
    desk.fire(created.id, "require_auth", actor=clinician)
    return created.id


def test_patient_hears_state_next_step_and_owner(desk: ReferralDesk, referral_id: Any) -> None:
    outcome = _submit(
        desk,
        {
            "caller": {"role": "patient"},
            "patient": {"family_name": "rivera", "birth_date": "1961-07-04"},
        },
        "status_inquiry",
    )
    answer = outcome.answer
    assert answer.audience == "patient"
    assert answer.status is ReferralStatus.PENDING_AUTH
    # Authorization is required but not yet requested: the office owns the next step, and
    # the answer never also says it is waiting for the insurer's answer.
    assert answer.authorization is AuthorizationStatus.REQUIRED
    assert answer.owner == "specialist_office"
    assert "waiting for insurance approval" in answer.text
    assert "has not been requested yet" in answer.text
    assert "insurance company's answer" not in answer.text
    assert "referral_number" not in answer.details
    assert outcome.call.outcome == "status_answered"
    assert outcome.call.resolution_seconds == 0
    assert desk.history(referral_id)[-1].kind == "call_logged"


def test_unverified_caller_hears_nothing(desk: ReferralDesk, referral_id: Any) -> None:
    wrong = _submit(
        desk,
        {"caller": {"role": "patient"}, "referral_number": "REF-7"},
        "status_inquiry",
    ).answer
    missing = _submit(
        desk,
        {"caller": {"role": "patient"}, "referral_number": "REF-404"},
        "status_inquiry",
    ).answer
    assert not wrong.verified
    assert wrong.text == missing.text
    assert wrong.status is None
    assert wrong.details == {}
    assert wrong.flags == ("caller_not_verified",)
    assert missing.flags == ("referral_not_found",)


def test_referring_practice_hears_authorization_details(
    desk: ReferralDesk, referral_id: Any
) -> None:
    scheduler = Actor(kind=ActorKind.HUMAN, id="auth-1", role=Role.SCHEDULER)
    desk.fire(
        referral_id,
        "authorize",
        actor=scheduler,
        data={"number": "PA-991", "valid_from": "2026-03-01", "valid_to": "2026-06-01"},
    )
    session = desk.start_intake(CallType.AUTHORIZATION_QUESTION, language="es")
    session.update(
        {
            "caller": {"role": "referring_practice", "npi": "1234567893"},
            "referral_number": "ref-7",
            "question": {"topic": "status"},
        }
    )
    answer = desk.answer_status(session)
    assert answer.audience == "referring_practice"
    assert answer.authorization is AuthorizationStatus.APPROVED
    assert answer.text.startswith("El seguro aprobó la visita.")
    assert answer.details["authorization_number"] == "PA-991"
    assert answer.details["authorization_valid_to"] == date(2026, 6, 1).isoformat()


def test_practice_with_another_npi_is_not_verified(desk: ReferralDesk, referral_id: Any) -> None:
    session = desk.start_intake("status_inquiry")
    session.update(
        {"caller": {"role": "referring_practice", "npi": "1245319599"}, "referral_number": "REF-7"}
    )
    assert not desk.answer_status(session).verified


def test_records_transfer_is_logged_on_the_referral(desk: ReferralDesk, referral_id: Any) -> None:
    outcome = _submit(
        desk,
        {
            "caller": {"role": "receiving_practice"},
            "referral_number": "REF-7",
            "records": {"from_practice": "Lakeside Family Medicine"},
        },
        "records_transfer",
    )
    assert outcome.referral.id == referral_id
    assert outcome.call.handoff_queues == ("records",)
    assert outcome.referral.interactions[-1].call_type == "records_transfer"


def test_config_is_carried_by_the_session(desk: ReferralDesk) -> None:
    config = IntakeConfig.from_mapping({"intake": {"default_region": "GB"}})
    session = desk.start_intake("practice_coordination", config=config)
    session.update({"caller.phone": "020 7031 3000"})
    assert session.value("caller.phone") == "+442070313000"


def test_a_status_answer_keeps_its_text_and_details_out_of_repr() -> None:
    from referralkit.intake import StatusAnswer

    answer = StatusAnswer(
        audience="patient",
        text="Your visit is on 3 March at 9:30 at Lakeside Cardiology.",
        language="en",
        details={"authorization_number": "AUTH-5531"},
    )
    shown = repr(answer)
    assert "Lakeside" not in shown
    assert "AUTH-5531" not in shown
    assert "audience='patient'" in shown
