"""Embed referralkit in a clinic application: a work list, decisions, and an audit trail.

Run: ``python examples/embed_in_app.py``. It uses a SQLite file in a temporary directory and
prints only ids, states and triggers: never patient data.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from referralkit import (
    Actor,
    ActorKind,
    ConflictError,
    InvalidTransitionError,
    ManualClock,
    Patient,
    PhoneContact,
    Practice,
    Priority,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
    allowed_triggers,
)

REFERRER = Actor(kind=ActorKind.INTEGRATION, id="ehr-inbound", role=Role.REFERRER)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)


def inbound_referral(number: str, priority: Priority) -> Referral:
    return Referral(
        referral_number=number,
        status=ReferralStatus.RECEIVED,
        priority=priority,
        patient=Patient(
            given_name="Test",
            family_name=f"Patient {number}",
            birth_date=date(1970, 1, 1),
            phones=(PhoneContact(number="+12175550199"),),
        ),
        referring_practice=Practice(name="Maple Street Family Medicine"),
        specialty="dermatology",
        reason=ReasonForReferral(icd10_codes=("L40.0",)),
    )


def main() -> None:
    clock = ManualClock(datetime(2026, 5, 4, 13, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as tmp:
        desk = ReferralDesk.open(f"sqlite:///{Path(tmp) / 'clinic.db'}", clock=clock)
        for number, priority in [("D-1", Priority.ROUTINE), ("D-2", Priority.URGENT)]:
            desk.create(inbound_referral(number, priority), actor=REFERRER)

        # The clinician's work list: referrals awaiting acceptance, with what they may do.
        work_list = desk.list(ReferralStatus.RECEIVED)
        for referral in work_list:
            options = ", ".join(allowed_triggers(referral, CLINICIAN))
            print(f"{referral.referral_number} {referral.priority.value:<7} may: {options}")

        urgent, routine = sorted(work_list, key=lambda r: r.priority is not Priority.URGENT)
        clock.advance(timedelta(minutes=20))
        desk.fire(urgent.id, "accept", actor=CLINICIAN, expected_version=urgent.version)

        # A second screen still showing the old version cannot overwrite the decision.
        try:
            desk.fire(
                urgent.id,
                "decline",
                actor=CLINICIAN,
                data={"reason": "no_capacity"},
                expected_version=urgent.version,
            )
        except ConflictError as exc:
            print(f"stale decision refused: {exc}")

        # A scheduler may not make the clinical decision.
        try:
            desk.fire(routine.id, "accept", actor=SCHEDULER)
        except InvalidTransitionError as exc:
            print(f"refused: {exc}")

        for referral in (urgent, routine):
            desk.verify(referral.id)
            trail = " -> ".join(e.kind for e in desk.history(referral.id))
            print(f"{referral.referral_number} audit trail verified: {trail}")
        desk.close()


if __name__ == "__main__":
    main()
