"""Shared fixtures and hypothesis profiles for the referralkit test suite.

Tests run with ``--import-mode=importlib`` and cannot import each other, so everything shared
lives here as fixtures. Pick a hypothesis profile with ``HYPOTHESIS_PROFILE`` (``ci`` by default,
``soak`` for long runs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from hypothesis import HealthCheck, settings

from referralkit import (
    ManualClock,
    MemoryStore,
    Referral,
    ReferralDesk,
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

from tests.support.builders import T0, Actors, complete_referral  # noqa: E402

__all__ = ["T0", "Actors", "complete_referral"]


@pytest.fixture
def actors() -> Actors:
    """Actors for every role (the AI acts only in the intake role)."""
    return Actors()


@pytest.fixture
def referralkit_start() -> datetime:
    """The project's tests start every clock at :data:`T0` (overrides the plugin's start)."""
    return T0


@pytest.fixture
def clock(referralkit_clock: ManualClock) -> ManualClock:
    """The plugin's manual clock, at :data:`T0`."""
    return referralkit_clock


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
