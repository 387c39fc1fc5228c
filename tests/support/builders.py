"""Builders every test shares: the test clock's start, actors per role, complete referrals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from referralkit import (
    Actor,
    ActorKind,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralStatus,
    Role,
)

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
"""The instant every test clock starts at (a Monday, 14:00 UTC)."""


class Actors:
    """One actor per role and kind the tests need."""

    def __init__(self) -> None:
        self.referrer = Actor(kind=ActorKind.HUMAN, id="pcp-desk", role=Role.REFERRER)
        self.intake_staff = Actor(kind=ActorKind.HUMAN, id="intake-1", role=Role.INTAKE)
        self.intake_ai = Actor(kind=ActorKind.AI, id="ai-receptionist", role=Role.INTAKE)
        self.clinician = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
        self.scheduler = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)
        self.system = Actor(kind=ActorKind.SYSTEM, id="referralkit", role=Role.SYSTEM)

    def human(self, role: Role) -> Actor:
        """Return a human actor acting in *role*."""
        return Actor(kind=ActorKind.HUMAN, id=f"human-{role.value}", role=role)


def complete_referral(**overrides: Any) -> Referral:
    """Return a referral with every field intake requires (status ``received`` by default)."""
    fields: dict[str, Any] = {
        "status": ReferralStatus.RECEIVED,
        "referral_number": "REF-TEST",
        "patient": Patient(
            given_name="Test",
            family_name="Patient",
            birth_date=date(1970, 1, 1),
            phones=(PhoneContact(number="+15555550123"),),
            time_zone="America/Chicago",
        ),
        "referring_practice": Practice(name="Referring Practice", npi="1234567893"),
        "receiving_practice": Practice(name="Receiving Practice", npi="1245319599"),
        "specialty": "cardiology",
        "reason": ReasonForReferral(icd10_codes=("I48.91",), text="palpitations"),
    }
    fields.update(overrides)
    return Referral(**fields)
