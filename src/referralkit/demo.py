"""The demo: four realistic referrals run through the lifecycle on a SQLite file.

Patients are synthetic. The timeline printed shows referral numbers, states, triggers and
actors only: no PHI, as in any referralkit output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from referralkit.clock import ManualClock
from referralkit.desk import ReferralDesk
from referralkit.events import Event
from referralkit.lifecycle import Trigger
from referralkit.model import (
    Actor,
    ActorKind,
    Address,
    Appointment,
    Coverage,
    Patient,
    PhoneContact,
    Practice,
    Priority,
    Provider,
    ReasonForReferral,
    Referral,
    ReferralStatus,
    Role,
)
from referralkit.timeline import timeline

__all__ = ["DemoResult", "run_demo"]

_START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)

AI_RECEPTIONIST = Actor(kind=ActorKind.AI, id="ai-receptionist", role=Role.INTAKE)
CARDIOLOGIST = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="referralkit", role=Role.SYSTEM)
REFERRER = Actor(kind=ActorKind.HUMAN, id="pcp-front-desk", role=Role.REFERRER)

_REFERRING = Practice(name="Maple Street Family Medicine", npi="1234567893", fax="+15555550100")
_RECEIVING = Practice(name="Lakeside Cardiology", npi="1245319599")


def patient_of(given: str, family: str, born: date, phone: str) -> Patient:
    return Patient(
        given_name=given,
        family_name=family,
        birth_date=born,
        phones=(PhoneContact(number=phone, time_zones=("America/Chicago",)),),
        address=Address(line1="1 Demo Way", city="Springfield", state="IL", postal_code="62701"),
        time_zone="America/Chicago",
    )


def _referral(number: str, patient: Patient, specialty: str, **extra: Any) -> Referral:
    return Referral(
        referral_number=number,
        patient=patient,
        referring_practice=_REFERRING,
        referring_provider=Provider(name="Dr. Avery Quinn", npi="1497758544"),
        receiving_practice=_RECEIVING,
        specialty=specialty,
        reason=ReasonForReferral(icd10_codes=("I48.91",), text="Irregular heartbeat on ECG"),
        **extra,
    )


Step = tuple[timedelta, Trigger, Actor, Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None]
"""(time after the previous step, trigger, actor, data or a function building it then)."""

_H = timedelta(hours=1)
_D = timedelta(days=1)


class DemoResult:
    """What the demo did: each referral's final state and its events."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.timelines: dict[str, tuple[Referral, list[Event]]] = {}


def _booking(clock: ManualClock, days: int) -> Callable[[], Mapping[str, Any]]:
    def build() -> Mapping[str, Any]:
        start = (clock.now() + timedelta(days=days)).replace(hour=15, minute=30)
        return {"appointment": Appointment(start=start, location="Lakeside Cardiology, Suite 200")}

    return build


def run_demo(db_path: Path, *, write: Callable[[str], None] = print) -> DemoResult:
    """Run the four demo referrals on a SQLite file at *db_path* and print their timelines."""
    clock = ManualClock(_START)
    result = DemoResult(db_path)
    with ReferralDesk.open(f"sqlite:///{db_path}", clock=clock) as desk:
        scenarios: list[tuple[str, Referral, Actor, Callable[[], list[Step]]]] = [
            (
                "Closed loop: authorization, visit, consult report back to the PCP",
                _referral(
                    "REF-1001",
                    patient_of("Ada", "Lovelace", date(1961, 12, 10), "+12175550101"),
                    "cardiology",
                    status=ReferralStatus.INTAKE,
                    coverage=Coverage(payer_name="Prairie Health Plan", member_id="PHP-884213"),
                ),
                AI_RECEPTIONIST,
                lambda: [
                    (12 * timedelta(minutes=1), "complete_intake", AI_RECEPTIONIST, None),
                    (_D, "accept", CARDIOLOGIST, None),
                    (2 * _H, "require_auth", SCHEDULER, {"note": "payer requires prior auth"}),
                    (
                        2 * _D,
                        "authorize",
                        SCHEDULER,
                        {
                            "number": "AUTH-5531",
                            "valid_from": "2026-03-05",
                            "valid_to": "2026-06-05",
                            "authorized_visits": 2,
                        },
                    ),
                    (3 * _H, "schedule", AI_RECEPTIONIST, _booking(clock, 9)),
                    (9 * _D, "complete_visit", SYSTEM, None),
                    (
                        2 * _D,
                        "close_loop",
                        CARDIOLOGIST,
                        {"report_reference": "DocumentReference/77"},
                    ),
                ],
            ),
            (
                "Declined: wrong specialty, sent back with a coded reason",
                _referral(
                    "REF-1002",
                    patient_of("Grace", "Hopper", date(1946, 12, 9), "+12175550102"),
                    "cardiology",
                    status=ReferralStatus.RECEIVED,
                    priority=Priority.URGENT,
                ),
                REFERRER,
                lambda: [
                    (
                        5 * _H,
                        "decline",
                        CARDIOLOGIST,
                        {
                            "reason": "wrong_specialty",
                            "note": "electrophysiology referral",
                        },
                    ),
                ],
            ),
            (
                "No-show, recovered: rebooked and seen",
                _referral(
                    "REF-1003",
                    patient_of("Alan", "Turing", date(1952, 6, 23), "+12175550103"),
                    "cardiology",
                    status=ReferralStatus.RECEIVED,
                ),
                REFERRER,
                lambda: [
                    (_H, "accept", SYSTEM, {"policy": "in-network-routine"}),
                    (timedelta(minutes=1), "clear", SYSTEM, None),
                    (_D, "schedule", AI_RECEPTIONIST, _booking(clock, 7)),
                    (7 * _D + 2 * _H, "no_show", SYSTEM, {"reason": "transportation"}),
                    (_D, "schedule", AI_RECEPTIONIST, _booking(clock, 5)),
                    (5 * _D, "complete_visit", SYSTEM, None),
                    (
                        3 * _D,
                        "close_loop",
                        CARDIOLOGIST,
                        {"report_reference": "DocumentReference/91"},
                    ),
                ],
            ),
            (
                "Lost: the patient never answered outreach",
                _referral(
                    "REF-1004",
                    patient_of("Katherine", "Johnson", date(1958, 8, 26), "+12175550104"),
                    "cardiology",
                    status=ReferralStatus.RECEIVED,
                ),
                REFERRER,
                lambda: [
                    (_D, "accept", CARDIOLOGIST, None),
                    (_H, "clear", SCHEDULER, None),
                    (
                        14 * _D,
                        "mark_lost",
                        SYSTEM,
                        {
                            "reason": "unreachable",
                            "note": "5 attempts over 14 days, no answer",
                        },
                    ),
                ],
            ),
        ]
        for title, referral, creator, steps in scenarios:
            # Each referral starts on the demo's first morning; its steps follow its own pace.
            clock.current = _START
            stored = desk.create(referral, actor=creator)
            for delay, trigger, actor, data in steps():
                clock.advance(delay)
                payload = data() if callable(data) else data
                stored = desk.fire(stored.id, trigger, actor=actor, data=payload)
            desk.verify(stored.id)
            events = desk.history(stored.id)
            result.timelines[stored.referral_number or str(stored.id)] = (stored, events)
            _print_timeline(write, title, stored, events)
        counts = desk.store.count_by_status()
    summary = ", ".join(
        f"{status.value}: {n}"
        for status, n in sorted(counts.items(), key=lambda item: item[0].value)
    )
    write(f"\nDatabase: {db_path}\nBy status: {summary}")
    return result


def _print_timeline(
    write: Callable[[str], None], title: str, referral: Referral, events: list[Event]
) -> None:
    write(f"\n{referral.referral_number}  {title}")
    write(
        f"  {referral.specialty}, {referral.priority.value}; history verified "
        f"({len(events)} events, chain intact)"
    )
    # The public timeline: free text (notes, typed reasons) stays masked in printed output.
    for entry in timeline(events):
        write(f"  {entry.line()}")
