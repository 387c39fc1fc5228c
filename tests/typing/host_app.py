"""A host application's use of the public API, as mypy --strict must accept it (never run)."""

from __future__ import annotations

from datetime import UTC, datetime

from referralkit import (
    Actor,
    ActorKind,
    ConflictError,
    DispatchOutcome,
    ManualClock,
    MemoryStore,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
    SweepReport,
    Trigger,
)
from referralkit.outreach.dispatch import OutreachSettings


def nightly(desk: ReferralDesk) -> int:
    report: SweepReport = desk.sweep()
    return len(report.dispatched)


def accept(desk: ReferralDesk, referral: Referral) -> ReferralStatus:
    clinician = Actor(kind=ActorKind.HUMAN, id="dr-1", role=Role.CLINICIAN)
    trigger: Trigger = "accept"
    try:
        moved = desk.fire(referral.id, trigger, actor=clinician, expected_version=referral.version)
    except ConflictError:
        return desk.get(referral.id).status
    return moved.status


def outcomes(desk: ReferralDesk, referral: Referral) -> list[DispatchOutcome]:
    return list(desk.recover(referral.id))


def build() -> ReferralDesk:
    return ReferralDesk(
        store=MemoryStore(),
        clock=ManualClock(datetime(2026, 1, 5, 15, tzinfo=UTC)),
        outreach=OutreachSettings(),
        auto_route=True,
    )
