"""A desk with outreach on, the in-memory adapters and a manual clock, and a ready referral."""

from __future__ import annotations

from datetime import UTC, date, datetime

from referralkit import (
    Actor,
    ActorKind,
    Address,
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
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.outbox import RetryPolicy
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.plugins import Hooks, make_plugin_manager

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr", role=Role.CLINICIAN)


def outreach_desk(**settings: object) -> tuple[ReferralDesk, InMemoryPlugin, ManualClock]:
    clock = ManualClock(T0)
    plugin = InMemoryPlugin.with_clock(clock, sleep=lambda _s: None)
    desk = ReferralDesk(
        store=MemoryStore(),
        clock=clock,
        hooks=Hooks(make_plugin_manager([plugin], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(2),
        outreach=OutreachSettings(**settings),  # type: ignore[arg-type]
    )
    return desk, plugin, clock


def plain_referral() -> Referral:
    return Referral(
        status=ReferralStatus.RECEIVED,
        patient=Patient(
            given_name="Ada",
            family_name="Lovelace",
            birth_date=date(1980, 1, 2),
            phones=(PhoneContact(number="+15555550123"),),
            address=Address(line1="1 Main", city="Springfield", state="IL", postal_code="62701"),
        ),
        referring_practice=Practice(name="PCP", fax="+15555550100"),
        receiving_practice=Practice(name="Lakeside Cardiology"),
        specialty="cardiology",
        reason=ReasonForReferral(text="x"),
    )


def ready_referral(desk: ReferralDesk) -> Referral:
    referral = desk.create(plain_referral(), actor=SYSTEM)
    desk.fire(referral.id, "accept", actor=CLINICIAN)
    return desk.fire(referral.id, "clear", actor=SYSTEM)
