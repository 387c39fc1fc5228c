"""The monthly report a practice manager reads: funnel, leakage, times, queues and CMS50.

Run: ``python examples/monthly_report.py [report.html]``. It simulates a quarter of referrals
from three practices on a SQLite file (synthetic patients, seeded so every run is the same),
then computes March's report from the event log, prints the headline figures and writes the
self-contained HTML page. The command line does the same:
``referralkit --store sqlite:///practice.db report --since 2026-03-01 --until 2026-04-01
--html march.html``.
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from referralkit import (
    Actor,
    ActorKind,
    Appointment,
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
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.metrics import MetricsConfig, compute_metrics
from referralkit.metrics.html import format_duration, format_rate, render_html

EHR = Actor(kind=ActorKind.INTEGRATION, id="ehr-inbound", role=Role.REFERRER)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)
PRACTICES = [Practice(name=name, id=key) for key, name in
             [("maple", "Maple Street Family Medicine"), ("lake", "Lakeside Internal Medicine"),
              ("north", "Northside Pediatrics")]]  # fmt: skip
SPECIALTIES = ["cardiology", "dermatology", "orthopedics"]


def simulate(desk: ReferralDesk, clock: ManualClock, rng: random.Random, number: int) -> None:
    practice = rng.choice(PRACTICES)
    created = desk.create(
        Referral(
            referral_number=f"M-{number}",
            status=ReferralStatus.RECEIVED,
            patient=Patient(
                given_name="Test",
                family_name=f"Patient {number % 170}",  # some patients are referred twice
                birth_date=date(1950 + number % 50, 1, 1),
                phones=(PhoneContact(number=f"+1312555{number:04d}"),),
            ),
            referring_practice=practice,
            specialty=rng.choice(SPECIALTIES),
            reason=ReasonForReferral(icd10_codes=("R00.2",)),
        ),
        actor=EHR,
    )
    start = clock.now()
    rid = created.id

    def at(hours: float) -> None:
        clock.current = start + timedelta(hours=hours)

    roll = rng.random()
    if roll < 0.1:
        at(20)
        desk.fire(rid, "decline", actor=CLINICIAN, data={"reason": "wrong_specialty"})
        return
    at(rng.uniform(2, 30))
    desk.fire(rid, "accept", actor=CLINICIAN)
    desk.fire(rid, "clear", actor=CLINICIAN)
    if roll < 0.25:
        at(24 * rng.uniform(10, 20))
        desk.fire(rid, "mark_lost", actor=SCHEDULER, data={"reason": rng.choice(
            ["unreachable", "patient_declined", "booked_elsewhere"])})  # fmt: skip
        return
    if roll < 0.32:
        return  # still waiting to be booked
    booked = rng.uniform(30, 24 * 14)
    at(booked)
    visit = start + timedelta(hours=booked + 24 * rng.uniform(3, 20))
    desk.fire(rid, "schedule", actor=SCHEDULER, data={"appointment": Appointment(start=visit)})
    clock.current = visit
    if rng.random() < 0.12:
        desk.fire(rid, "no_show", actor=SCHEDULER, data={"reason": "transportation"})
        return
    desk.fire(rid, "complete_visit", actor=SCHEDULER)
    if rng.random() < 0.8:
        clock.current = visit + timedelta(days=rng.uniform(1, 10))
        desk.fire(rid, "close_loop", actor=CLINICIAN, data={"report_reference": f"doc-{number}"})


def main() -> None:
    rng = random.Random(2026)  # noqa: S311 - synthetic data, not security
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp) / "march.html"
        clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
        with ReferralDesk(store=SQLiteStore(Path(tmp) / "practice.db"), clock=clock) as desk:
            for number in range(240):  # about 80 referrals a month, January to March
                clock.current = datetime(2026, 1, 1, 8, tzinfo=UTC) + timedelta(hours=number * 9)
                simulate(desk, clock, rng, number)
            march = MetricsConfig(
                since=datetime(2026, 3, 1, tzinfo=UTC),
                until=datetime(2026, 4, 1, tzinfo=UTC),
                value_per_visit=Decimal("185.00"),
            )
            report = compute_metrics(desk.store, march, by=("practice", "specialty"))
        m = report.overall
        print(f"March 2026: {m.received} referrals received")
        print(f"  booked {format_rate(m.booking_rate)}, seen {format_rate(m.completion_rate)}, "
              f"leaked {format_rate(m.leakage_rate)} {dict(m.leak_reasons)}")  # fmt: skip
        print(f"  days to booking: median {format_duration(m.time_to_booked.median_seconds)}, "
              f"90th percentile {format_duration(m.time_to_booked.p90_seconds)}")  # fmt: skip
        print(f"  loop closed for {format_rate(m.loop_closure_rate)} of patients seen; "
              f"no-show rate {format_rate(m.no_show_rate)}; revenue {m.revenue}")  # fmt: skip
        for practice, g in report.groups["practice"].items():
            print(
                f"  {practice:<6} received {g.received:>3}, booked {format_rate(g.booking_rate)}"
            )
        out.write_text(render_html(report, title="Referrals, March 2026"), encoding="utf-8")
        print(f"HTML report: {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
