"""Outreach on the desk: sweeps, bookings, declines, and the planner behind ``next_action_at``.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from referralkit.clock import Clock
from referralkit.desk.outbox import Outbox
from referralkit.desk.routing import RoutingService
from referralkit.desk.unit_of_work import UnitOfWork
from referralkit.events import Event
from referralkit.lifecycle import Trigger
from referralkit.model import Actor, Appointment, Referral, ReferralStatus
from referralkit.outbox import DispatchOutcome
from referralkit.outreach.dispatch import Dispatcher, OutreachSettings, SweepReport, next_action_at
from referralkit.outreach.policy import Policy, default_policy
from referralkit.ports import OutboundRequest, OutreachTemplate, Receipt
from referralkit.store import Store

__all__ = ["DispatcherDesk", "OutreachService"]


@attrs.frozen
class DispatcherDesk:
    """What the outreach dispatcher drives (its :class:`OutreachDesk` protocol), and no more."""

    store: Store
    dispatch: Callable[..., DispatchOutcome]
    recover: Callable[..., Sequence[DispatchOutcome]]
    amend: Callable[..., Referral]
    fire: Callable[..., Referral]
    call: Callable[[OutboundRequest], Receipt]


@attrs.define
class OutreachService:
    """Runs sweeps and records what patients do.

    :ivar settings: outreach policy and sweep settings; ``None`` turns outreach off.
    :ivar templates: outreach templates contributed by plugins
        (``referralkit_add_outreach_templates``), used when a step names one.
    """

    uow: UnitOfWork
    store: Store
    clock: Clock
    outbox: Outbox
    routing: RoutingService
    settings: OutreachSettings | None = None
    templates: Callable[[], Sequence[OutreachTemplate]] = tuple

    def policy(self) -> Policy:
        """Return the policy contact checks use (the default one when outreach is off)."""
        return self.settings.policy if self.settings is not None else _DEFAULT_POLICY

    def planned(
        self, referral: Referral, events: Sequence[Event], now: datetime
    ) -> Mapping[str, Any]:
        """Return ``next_action_at`` for *referral* after *events* (a unit-of-work planner)."""
        if self.settings is None or referral.outbound is not None:
            return {}  # a referral we sent gets no receiving-side patient outreach
        return {"next_action_at": next_action_at(referral, events, self.settings, now)}

    # -- operations -----------------------------------------------------------------------

    def sweep(
        self,
        now: datetime | None = None,
        *,
        routing: bool = True,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> SweepReport:
        """Run due routing, then due outreach (documented on the desk)."""
        at = now or self.clock.now()
        routing_report = self.routing.sweep(at) if routing else None
        if self.settings is None:
            report = SweepReport()
        else:
            desk = DispatcherDesk(
                self.store,
                self.outbox.dispatch,
                self.outbox.recover,
                self.uow.amend,
                self.uow.fire,
                self.outbox.call,
            )
            report = Dispatcher(desk, self.settings, templates=tuple(self.templates())).sweep(
                at, progress=progress
            )
        report.routing = routing_report
        return report

    def dispatch_referral(self, referral_id: UUID, now: datetime | None = None) -> SweepReport:
        """Run one referral's due outreach under a lease (documented on the desk)."""
        if self.settings is None:
            return SweepReport()
        desk = DispatcherDesk(
            self.store,
            self.outbox.dispatch,
            self.outbox.recover,
            self.uow.amend,
            self.uow.fire,
            self.outbox.call,
        )
        dispatcher = Dispatcher(desk, self.settings, templates=tuple(self.templates()))
        return dispatcher.dispatch_referral(referral_id, now or self.clock.now())

    def record_booking(
        self, referral_id: UUID, appointment: Appointment, *, actor: Actor
    ) -> Referral:
        """Record that the patient booked: ``schedule``, or ``reschedule`` if already booked."""
        current = self.store.get(referral_id)
        trigger: Trigger = (
            "reschedule" if current.status is ReferralStatus.SCHEDULED else "schedule"
        )
        return self.uow.fire(
            referral_id,
            trigger,
            actor=actor,
            data={"appointment": appointment},
            expected_version=current.version,
        )

    def record_patient_declined(
        self, referral_id: UUID, *, actor: Actor, note: str | None = None
    ) -> Referral:
        """Record that the patient declined the referred care: ``mark_lost``."""
        return self.uow.fire(
            referral_id,
            "mark_lost",
            actor=actor,
            data={"reason": "patient_declined", "note": note},
        )


_DEFAULT_POLICY = default_policy()
