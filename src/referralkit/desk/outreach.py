"""Outreach on the desk: sweeps, planning next actions, bookings and consent."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from referralkit.desk import consent as _consent
from referralkit.errors import RuleLoadError
from referralkit.lifecycle import (
    Change,
    Trigger,
)
from referralkit.model import (
    Actor,
    Appointment,
    Channel,
    Referral,
    ReferralStatus,
)
from referralkit.outreach.dispatch import Dispatcher, SweepReport, next_action_at
from referralkit.routing import ROUTED_STATES, next_routing_at

if TYPE_CHECKING:
    from referralkit.desk.core import ReferralDesk


def _outreach_planned(desk: ReferralDesk, change: Change) -> Change:
    # next_action_at follows the outreach plan and next_routing_at the routing rules; both are
    # written with the change itself, so a sweep touches exactly the referrals with due work
    # and a crash cannot lose one.
    settings = desk.outreach
    referral = change.referral
    events = [*desk.store.events(referral.id), change.event]
    now = desk.clock.now()
    update = {}
    try:
        routing_at = next_routing_at(referral, events, desk.routing_rules.active, now)
    except RuleLoadError:
        # The rules cannot be loaded now: a commit never fails for routing's sake. Due at once,
        # so a sweep routes it as soon as the rules load again.
        routing_at = now if referral.status in ROUTED_STATES else None
    if routing_at != referral.next_routing_at:
        update["next_routing_at"] = routing_at
    if settings is not None:
        wanted = next_action_at(referral, events, settings, now)
        if wanted != referral.next_action_at:
            update["next_action_at"] = wanted
    if not update:
        return change
    return Change(referral.model_copy(update=update), change.event)


def sweep(desk: ReferralDesk, now: datetime | None = None, *, routing: bool = True) -> SweepReport:
    """Implement :meth:`ReferralDesk.sweep` (documented there)."""
    at = now or desk.clock.now()
    sweep_routing = getattr(desk, "sweep_routing", None) if routing else None
    routing_report = sweep_routing(at) if callable(sweep_routing) else None
    report = (
        Dispatcher(desk, desk.outreach).sweep(at) if desk.outreach is not None else SweepReport()
    )
    report.routing = routing_report
    return report


def record_booking(
    desk: ReferralDesk, referral_id: UUID, appointment: Appointment, *, actor: Actor
) -> Referral:
    """Implement :meth:`ReferralDesk.record_booking` (documented there)."""
    current = desk.store.get(referral_id)
    trigger: Trigger = "reschedule" if current.status is ReferralStatus.SCHEDULED else "schedule"
    return desk.fire(
        referral_id,
        trigger,
        actor=actor,
        data={"appointment": appointment},
        expected_version=current.version,
    )


def record_patient_declined(
    desk: ReferralDesk, referral_id: UUID, *, actor: Actor, note: str | None = None
) -> Referral:
    """Implement :meth:`ReferralDesk.record_patient_declined` (documented there)."""
    return desk.fire(
        referral_id,
        "mark_lost",
        actor=actor,
        data={"reason": "patient_declined", "note": note},
    )


def withdraw_consent(
    desk: ReferralDesk, referral_id: UUID, channel: Channel | None = None, *, actor: Actor
) -> Referral:
    """Implement :meth:`ReferralDesk.withdraw_consent` (documented there)."""
    referral = desk.amend(
        referral_id,
        "consent_opted_out",
        actor=actor,
        update=_consent.withdrawal(channel, desk.clock.now()),
        data={"channel": channel.value if channel is not None else "all"},
    )
    _consent.propagate_opt_out(desk, referral, channel, actor=actor)
    return referral
