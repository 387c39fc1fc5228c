"""Shared fixtures and hypothesis profiles for the referralkit test suite.

Tests run with ``--import-mode=importlib`` and cannot import each other, so everything shared
lives here as fixtures. Pick a hypothesis profile with ``HYPOTHESIS_PROFILE`` (``ci`` by default,
``soak`` for long runs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from referralkit import (
    Actor,
    ActorKind,
    ManualClock,
    MemoryStore,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
)

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "soak",
    max_examples=2000,
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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


@pytest.fixture
def actors() -> Actors:
    """Actors for every role (the AI acts only in the intake role)."""
    return Actors()


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at :data:`T0`."""
    return ManualClock(T0)


@pytest.fixture
def t0() -> datetime:
    """The instant the test clock starts at."""
    return T0


@pytest.fixture
def make_referral() -> Callable[..., Referral]:
    """Factory for complete referrals; keyword arguments override fields."""
    return complete_referral


@pytest.fixture
def desk(clock: ManualClock) -> Iterator[ReferralDesk]:
    """A desk on a fresh :class:`MemoryStore` with the manual clock."""
    with ReferralDesk(store=MemoryStore(), clock=clock) as opened:
        yield opened
