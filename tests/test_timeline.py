"""The public timeline: readable lines, free text masked unless asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from referralkit.adapters.memory import MemoryStore
from referralkit.clock import ManualClock
from referralkit.desk import ReferralDesk
from referralkit.model import Actor, ActorKind, Appointment, Role
from referralkit.timeline import WITHHELD, format_timeline, referral_timeline, timeline
from tests.support.builders import complete_referral

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="referralkit", role=Role.SYSTEM)
PRIVATE_NOTE = "patient says her daughter Jane drives her"


def build(desk: ReferralDesk, clock: ManualClock):
    referral = desk.create(complete_referral(), actor=CLINICIAN)
    desk.fire(referral.id, "accept", actor=CLINICIAN)
    desk.fire(referral.id, "clear", actor=CLINICIAN)
    queued = {"key": "k1", "operation": "send_sms", "request": {"to": "+15555550123"}}
    desk.amend(referral.id, "action_queued", actor=SYSTEM, update={}, data=queued)
    desk.amend(referral.id, "action_sent", actor=SYSTEM, update={}, data={"key": "k1"})
    clock.advance(hours=2)
    visit = Appointment(start=T0 + timedelta(days=3))
    desk.fire(referral.id, "schedule", actor=SCHEDULER, data={"appointment": visit})
    desk.fire(referral.id, "no_show", actor=SCHEDULER, data={"reason": "transportation",
                                                              "note": PRIVATE_NOTE})  # fmt: skip
    desk.amend(referral.id, "routing_task_opened", actor=SYSTEM, update={},
               data={"queue": "scheduling", "task_id": "t", "clock": "booking",
                     "due_at": (T0 + timedelta(days=1)).isoformat()})  # fmt: skip
    return referral.id


def test_lines_say_what_happened_in_plain_words() -> None:
    clock = ManualClock(T0)
    with ReferralDesk(store=MemoryStore(), clock=clock) as desk:
        referral_id = build(desk, clock)
        entries = referral_timeline(desk.store, referral_id)
    texts = [e.text for e in entries]
    assert texts == [
        "Referral received (starts in received)",
        "Accepted",
        "Cleared to schedule",
        "Queued a text message to the patient",
        "Sent a text message to the patient",
        "Appointment booked for 2026-03-05 14:00 UTC",
        f"Patient did not attend (transportation) (note: {WITHHELD})",
        "Task opened in queue scheduling (booking SLA), due 2026-03-03 14:00",
    ]
    assert [e.seq for e in entries] == list(range(1, 9))
    assert entries[6].from_state == "scheduled"
    assert entries[6].to_state == "ready_to_schedule"


def test_free_text_and_message_contents_are_masked_unless_asked() -> None:
    clock = ManualClock(T0)
    with ReferralDesk(store=MemoryStore(), clock=clock) as desk:
        referral_id = build(desk, clock)
        events = desk.history(referral_id)
    masked = format_timeline(timeline(events))
    assert PRIVATE_NOTE not in masked
    assert "+1555" not in masked
    shown = format_timeline(timeline(events, show_phi=True))
    assert PRIVATE_NOTE in shown
    assert shown.count("\n") == len(events)


def test_unknown_kinds_still_read() -> None:
    clock = ManualClock(T0)
    with ReferralDesk(store=MemoryStore(), clock=clock) as desk:
        referral = desk.create(complete_referral(), actor=CLINICIAN)
        desk.amend(referral.id, "vendor_flag_set", actor=SYSTEM, update={}, data={})
        entries = referral_timeline(desk.store, referral.id)
    assert entries[-1].text == "Vendor flag set"
    assert entries[-1].as_json()["kind"] == "vendor_flag_set"
