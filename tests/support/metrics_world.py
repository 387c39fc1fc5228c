"""A hand-timed event log written through a real desk, for the metrics tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from referralkit.adapters.memory import MemoryStore
from referralkit.clock import ManualClock
from referralkit.desk import ReferralDesk
from referralkit.metrics import (
    MetricsConfig,
    compute_metrics,
)
from referralkit.model import (
    Actor,
    ActorKind,
    Appointment,
    Role,
)
from referralkit.store import Store
from tests.support.builders import complete_referral

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)
REFERRER = Actor(kind=ActorKind.HUMAN, id="pcp-desk", role=Role.REFERRER)
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="referralkit", role=Role.SYSTEM)


class Log:
    """Writes a hand-timed event log through a real desk (each step at a stated instant)."""

    def __init__(self, store: Store | None = None) -> None:
        self.clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
        self.store = store if store is not None else MemoryStore()
        self.desk = ReferralDesk(store=self.store, clock=self.clock)
        self.ids: dict[str, UUID] = {}

    def at(self, when: datetime) -> None:
        self.clock.current = when  # tests write steps per referral, not in global order

    def create(self, name: str, when: datetime, **fields: Any) -> UUID:
        self.at(when)
        referral = self.desk.create(complete_referral(**fields), actor=REFERRER)
        self.ids[name] = referral.id
        return referral.id

    def fire(self, name: str, trigger: str, when: datetime, actor: Actor = CLINICIAN, **data: Any):
        self.at(when)
        return self.desk.fire(self.ids[name], trigger, actor=actor, data=data or None)  # type: ignore[arg-type]

    def book(self, name: str, when: datetime, visit: datetime) -> None:
        self.fire(name, "schedule", when, SCHEDULER, appointment=Appointment(start=visit))

    def ready(self, name: str, when: datetime) -> None:
        self.fire(name, "accept", when)
        self.fire(name, "clear", when + timedelta(minutes=1))

    def amend(self, name: str, kind: str, when: datetime, data: dict[str, Any], **update: Any):
        self.at(when)
        return self.desk.amend(self.ids[name], kind, actor=SYSTEM, update=update, data=data)

    def send(self, name: str, operation: str, when: datetime) -> None:
        key = uuid4().hex
        self.amend(
            name, "action_queued", when, {"key": key, "operation": operation, "request": {}}
        )
        self.amend(name, "action_sent", when + timedelta(seconds=5), {"key": key})

    def report(self, **kwargs: Any):
        config = MetricsConfig(since=MARCH, until=APRIL, **kwargs.pop("config", {}))
        return compute_metrics(self.store, config, **kwargs)


def funnel(log: Log) -> None:
    """A booked-seen-closed referral, a twice-booked one with a no-show, a declined one."""
    a = MARCH + 9 * HOUR
    log.create("a", a)
    log.ready("a", a + HOUR)
    log.send("a", "place_call", a + DAY)
    log.send("a", "send_sms", a + 2 * DAY)
    log.book("a", a + 4 * DAY, visit=a + 9 * DAY)
    log.send("a", "send_sms", a + 5 * DAY)  # a reminder after booking: not an attempt
    log.fire("a", "complete_visit", a + 9 * DAY + HOUR, SCHEDULER)
    log.fire("a", "close_loop", a + 11 * DAY + HOUR, report_reference="doc-1")
    b = MARCH + DAY + 9 * HOUR
    log.create("b", b)
    log.ready("b", b + HOUR)
    log.book("b", b + 2 * DAY, visit=b + 4 * DAY)
    log.fire("b", "no_show", b + 4 * DAY + HOUR, SCHEDULER)
    log.book("b", b + 6 * DAY, visit=b + 13 * DAY)
    log.fire("b", "complete_visit", b + 13 * DAY, SCHEDULER)
    d = MARCH + 3 * DAY
    log.create("d", d)
    log.fire("d", "decline", d + DAY, reason="no_capacity")
