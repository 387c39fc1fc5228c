"""An HL7 v2 feed driving a real desk: what the adapter reads is what the desk takes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from referralkit.adapters.hl7v2 import (
    Endpoint,
    Hl7Inbox,
    LifecycleUpdate,
    ReferralRequest,
    build_ref,
    build_siu,
    parse_message,
)
from referralkit.model import (
    Actor,
    ActorKind,
    Appointment,
    PhoneContact,
    ReferralStatus,
    Role,
)

FEED = Actor(kind=ActorKind.SYSTEM, id="hl7-feed", role=Role.SYSTEM)
EHR, US = Endpoint("EHR", "MAPLE"), Endpoint("REFERRALKIT", "LAKESIDE")


def test_referral_and_appointment_messages_drive_the_lifecycle(desk, clock, make_referral, actors):
    numbers: dict[str, UUID] = {}

    def deliver(message: Any) -> None:
        if isinstance(message, ReferralRequest):
            assert message.referral is not None
            stored = desk.create(message.referral, actor=FEED)
            numbers[stored.referral_number] = stored.id
        else:
            assert isinstance(message, LifecycleUpdate)
            actor = Actor(kind=ActorKind.SYSTEM, id="hl7-feed", role=message.role)
            desk.fire(
                numbers[message.referral_number], message.trigger, actor=actor, data=message.data
            )

    inbox = Hl7Inbox(deliver=deliver, clock=clock, sender=US)
    patient = make_referral().patient.model_copy(
        update={"phones": (PhoneContact(number="+13125550147"),)}
    )
    source = make_referral(referral_number="R-HL7-1", patient=patient)
    ack = inbox.handle(build_ref(source, sender=EHR, receiver=US, now=clock.now(), control_id="1"))
    assert parse_message(ack).value("MSA", 1) == "AA"
    referral_id = numbers["R-HL7-1"]
    assert desk.get(referral_id).status is ReferralStatus.INTAKE

    desk.fire(referral_id, "complete_intake", actor=FEED)
    desk.fire(referral_id, "accept", actor=actors.clinician)  # a human decision
    desk.fire(referral_id, "clear", actor=FEED)
    referral = desk.get(referral_id)
    assert referral.status is ReferralStatus.READY_TO_SCHEDULE

    appointment = Appointment(start=clock.now() + timedelta(days=5), duration_minutes=40)
    booked = build_siu(
        referral, appointment, "S12", sender=US, receiver=EHR, now=clock.now(), control_id="2"
    )
    assert parse_message(inbox.handle(booked)).value("MSA", 1) == "AA"
    scheduled = desk.get(referral_id)
    assert scheduled.status is ReferralStatus.SCHEDULED
    assert scheduled.current_appointment is not None
    assert scheduled.current_appointment.start == appointment.start

    missed = build_siu(
        scheduled, appointment, "S26", sender=US, receiver=EHR, now=clock.now(), control_id="3"
    )
    assert parse_message(inbox.handle(missed)).value("MSA", 1) == "AA"
    assert desk.get(referral_id).status is ReferralStatus.READY_TO_SCHEDULE
