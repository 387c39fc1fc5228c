"""A nightly sweep: routing and outreach for every due referral, with progress and a log line.

Run: ``python examples/nightly_sweep.py``. In production this is a cron job or a scheduler task
calling the same code once a night (or every few minutes): it is safe to run again after a
crash, and several workers may sweep at once (due referrals are leased). Here in-memory vendor
adapters stand in for telephony, SMS and fax, and a manual clock plays four nights.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from referralkit import (
    Actor,
    ActorKind,
    ManualClock,
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
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.outbox import RetryPolicy
from referralkit.outreach.dispatch import Dispatcher, OutreachSettings
from referralkit.plugins import Hooks, make_plugin_manager

EHR = Actor(kind=ActorKind.INTEGRATION, id="ehr-inbound", role=Role.REFERRER)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)


class JsonLines(logging.Handler):
    """Print each sweep's structured record (counts and seconds; no PHI) as one JSON line."""

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "referralkit", None)
        if fields is not None:
            print(json.dumps({"logger": record.name, **fields}))


def referral(number: int) -> Referral:
    return Referral(
        referral_number=f"N-{number}",
        status=ReferralStatus.RECEIVED,
        patient=Patient(
            given_name="Test",
            family_name=f"Patient {number}",
            birth_date=date(1970, 1, 1),
            phones=(PhoneContact(number=f"+1312555{number:04d}"),),
            time_zone="America/Chicago",
        ),
        referring_practice=Practice(name="Maple Street Family Medicine", fax="+13125550100"),
        receiving_practice=Practice(name="Lakeside Cardiology"),
        specialty="cardiology",
        reason=ReasonForReferral(icd10_codes=("I48.91",)),
    )


def progress_printer(label: str) -> Callable[[int, int | None], None]:
    def show(done: int, total: int | None) -> None:
        if total is not None:
            print(f"  {label}: {done} referrals", file=sys.stderr)

    return show


def main() -> None:
    logging.getLogger("referralkit").addHandler(JsonLines())
    logging.getLogger("referralkit").setLevel(logging.INFO)
    clock = ManualClock(datetime(2026, 3, 2, 15, tzinfo=UTC))  # a Monday, 09:00 in Chicago
    plugin = InMemoryPlugin.with_clock(clock, sleep=lambda _seconds: None)
    with tempfile.TemporaryDirectory() as tmp:
        desk = ReferralDesk(
            store=SQLiteStore(Path(tmp) / "practice.db"),
            clock=clock,
            hooks=Hooks(make_plugin_manager([plugin], load_entrypoints=False)),
            retrying=RetryPolicy.no_wait(2),
            outreach=OutreachSettings(worker="nightly-1"),
        )
        with desk:
            for number in range(1, 13):
                created = desk.create(referral(number), actor=EHR)
                desk.fire(created.id, "accept", actor=CLINICIAN)
                desk.fire(created.id, "clear", actor=CLINICIAN)
            assert desk.outreach is not None
            for night in range(1, 5):
                now = clock.now()
                print(f"night {night}: {now:%Y-%m-%d %H:%M} UTC")
                routed = desk.sweep_routing(now)
                report = Dispatcher(desk, desk.outreach).sweep(
                    now, progress=progress_printer("outreach")
                )
                print(f"  routing examined {routed.examined}; outreach {report.summary()}")
                clock.advance(days=1)
            print(f"calls placed {len(plugin.telephony.calls)}, texts {len(plugin.telephony.sms)}")


if __name__ == "__main__":
    main()
