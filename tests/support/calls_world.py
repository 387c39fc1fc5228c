"""A small world for the call tests: a desk with one scheduled referral and visit content."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from referralkit import Actor, ActorKind, ManualClock, ReferralDesk, Role
from referralkit.calls import CallTools, VisitContent
from referralkit.model import (
    Appointment,
    Patient,
    PhoneContact,
    Practice,
    Provider,
    ReasonForReferral,
    RecordsRequest,
    Referral,
    ReferralStatus,
)

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
REFERRING_NPI = "1234567893"
RECEIVING_NPI = "1245319599"
AI = Actor(kind=ActorKind.AI, id="ai-receptionist", role=Role.INTAKE)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-lee", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-1", role=Role.SCHEDULER)
# 15:30 UTC on 10 March 2026 is 10:30 in Chicago (CDT starts 8 March).
APPOINTMENT_START = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)

CONTENT_TOML = """
[[visit]]
practice = "1245319599"
specialty = "Cardiology"
arrive_minutes_early = 20
duration_minutes = 60
time_zone = "America/Chicago"
approved_by = "Dr. Maya Lee, medical director"
approved_on = 2026-01-15

[visit.en]
bring = ["your insurance card", "a photo ID", "a list of your medicines"]
location = "Lakeside Medical Tower, 120 Lake Street, third floor"
parking = "Parking is free in the garage on Lake Street."
cost = "Your usual specialist copay applies; the front desk can tell you the amount."
reschedule = "Call the office at least one day before to move your visit."

[visit.es]
bring = ["su tarjeta del seguro", "una identificación con foto", "una lista de sus medicinas"]
location = "Torre Médica Lakeside, 120 Lake Street, tercer piso"
parking = "El estacionamiento del garaje de Lake Street es gratis."
cost = "Se aplica su copago habitual de especialista; recepción le dirá el monto."
reschedule = "Llame al consultorio al menos un día antes para cambiar su visita."

[[visit]]
practice = "1245319599"
specialty = "Cardiology"
visit_type = "stress_test"
arrive_minutes_early = 30
duration_minutes = 120
approved_by = "Dr. Maya Lee, medical director"
approved_on = 2026-01-15

[visit.en]
bring = ["comfortable shoes"]
preparation = "Do not eat or drink anything except water for four hours before the test."

[visit.es]
bring = ["zapatos cómodos"]
preparation = "No coma ni beba nada excepto agua durante cuatro horas antes de la prueba."
"""


def content() -> VisitContent:
    return VisitContent.from_toml(CONTENT_TOML)


def new_referral(**patient: Any) -> Referral:
    person = {
        "given_name": "Ana",
        "family_name": "Rivera",
        "birth_date": date(1961, 7, 4),
        "phones": (PhoneContact(number="+13125550147"),),
        "time_zone": "America/Chicago",
        **patient,
    }
    return Referral(
        referral_number="REF-2026-0042",
        status=ReferralStatus.RECEIVED,
        patient=Patient(**person),
        referring_practice=Practice(name="Lakeside Family Medicine", npi=REFERRING_NPI),
        referring_provider=Provider(name="Dr. Avery Quinn"),
        receiving_practice=Practice(name="Lakeside Cardiology", npi=RECEIVING_NPI),
        specialty="Cardiology",
        reason=ReasonForReferral(text="Palpitations"),
    )


def scheduled(desk: ReferralDesk, referral: Referral | None = None) -> Referral:
    """Store *referral* and take it to scheduled, authorized, with records still awaited."""
    stored = desk.create(referral or new_referral(), actor=AI)
    desk.fire(stored.id, "accept", actor=CLINICIAN)
    desk.fire(stored.id, "require_auth", actor=CLINICIAN)
    desk.fire(
        stored.id,
        "authorize",
        actor=SCHEDULER,
        data={"number": "PA-991", "valid_from": "2026-03-01", "valid_to": "2026-06-01"},
    )
    desk.amend(
        stored.id,
        "records_requested",
        actor=SCHEDULER,
        update={
            "records_requests": (
                RecordsRequest(from_practice="Lakeside Family Medicine", requested_at=NOW),
            )
        },
    )
    return desk.fire(
        stored.id,
        "schedule",
        actor=SCHEDULER,
        data={
            "appointment": Appointment(
                start=APPOINTMENT_START, duration_minutes=60, location="Lakeside Medical Tower"
            )
        },
    )


def world(actor: Actor = AI) -> tuple[ReferralDesk, CallTools, Referral]:
    desk = ReferralDesk.open("memory://", clock=ManualClock(NOW))
    referral = scheduled(desk)
    return desk, CallTools(desk, actor, content=content()), referral
