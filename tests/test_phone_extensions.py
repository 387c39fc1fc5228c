"""Phone extensions are kept beside the dialable E.164 number, from intake to the call request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from referralkit.desk import ReferralDesk
from referralkit.errors import IntakeError
from referralkit.intake.normalise import (
    normalise_extension,
    normalise_phone,
    normalise_practice_phone,
)
from referralkit.model import Actor, ActorKind, PhoneContact, Practice, Role
from referralkit.ports.telephony import CallRequest

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "said",
    [
        "(312) 555-0147 ext. 123",
        "312-555-0147 x123",
        "312.555.0147 extension 123",
        "+1 312 555 0147;ext=123",
    ],
)
def test_an_extension_is_kept_apart_from_the_dialable_number(said: str) -> None:
    phone = normalise_phone(said)
    assert phone.e164 == "+13125550147"
    assert phone.extension == "123"


def test_a_number_without_an_extension_has_none() -> None:
    assert normalise_phone("312-555-0147").extension is None


def test_an_overlong_extension_is_refused() -> None:
    with pytest.raises(IntakeError) as info:
        normalise_phone("312-555-0147 ext 12345678901")
    assert info.value.code == "invalid_extension"


@pytest.mark.parametrize(("given", "digits"), [("ext. 42", "42"), ("x7", "7"), (123, "123")])
def test_an_extension_given_on_its_own(given: object, digits: str) -> None:
    assert normalise_extension(given) == digits


def test_a_fax_number_with_an_extension_is_refused_not_cut() -> None:
    with pytest.raises(IntakeError) as info:
        normalise_practice_phone("312-555-0147 x12")
    assert info.value.code == "extension_not_allowed"


def test_models_keep_extensions_and_mask_them() -> None:
    phone = PhoneContact(number="+13125550147", extension="123")
    practice = Practice(name="Lakeside", phone="+13125550147", phone_extension="9")
    assert phone.extension == "123"
    assert practice.phone_extension == "9"
    assert "123" not in repr(phone)
    with pytest.raises(ValueError, match="extension"):
        PhoneContact(number="+13125550147", extension="12a")


def test_intake_keeps_patient_and_practice_extensions(actors: Any, clock: Any) -> None:
    desk = ReferralDesk.open("memory://", clock=clock)
    session = desk.start_intake("new_referral")
    result = session.update(
        {
            "patient": {
                "given_name": "Ada",
                "family_name": "Byron",
                "birth_date": "1980-01-02",
                "phones": [{"number": "(312) 555-0147 ext. 123", "kind": "work"}],
            },
            "referring_practice": {"name": "Lakeside", "phone": "312-555-0199 x45"},
            "specialty": "cardiology",
            "reason": {"text": "palpitations"},
        }
    )
    assert not result.issues, result.issues
    actor = Actor(kind=ActorKind.HUMAN, id="intake-1", role=Role.INTAKE)
    referral = desk.submit_intake(session, actor=actor).referral
    assert referral.patient is not None
    [phone] = referral.patient.phones
    assert (phone.number, phone.extension) == ("+13125550147", "123")
    assert referral.referring_practice is not None
    practice = referral.referring_practice
    assert (practice.phone, practice.phone_extension) == ("+13125550199", "45")
    request = CallRequest.for_referral(
        referral,
        action="call",
        attempt=1,
        script_id="s",
        window_start=NOW,
        window_end=NOW + timedelta(hours=1),
    )
    assert (request.to, request.extension) == ("+13125550147", "123")
    assert "123" not in repr(request)
    desk.close()
