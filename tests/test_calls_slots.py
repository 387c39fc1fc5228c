"""Slots through the AI tool layer: offered from the EHR, booked only if offered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from referralkit import Actor, ActorKind, ManualClock, MemoryStore, ReferralDesk, Role
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.calls import CallTools, tool_definitions
from referralkit.errors import ToolError
from referralkit.model import ReferralStatus
from referralkit.outbox import RetryPolicy
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import Slot
from tests.support.calls_world import AI, CLINICIAN, NOW, new_referral

PATIENT_CALLER = {
    "referral_number": "REF-2026-0042",
    "patient.family_name": "Rivera",
    "patient.birth_date": "1961-07-04",
    "patient.phones": ["(312) 555-0147"],
    "appointment.preferred_times": "Weekday mornings",
}


def _world() -> tuple[ReferralDesk, InMemoryPlugin, CallTools]:
    clock = ManualClock(NOW)
    plugin = InMemoryPlugin.with_clock(clock, sleep=lambda _s: None)
    plugin.ehr.slots["Cardiology"] = [
        Slot(slot_id=f"slot-{n}", start=NOW + timedelta(days=n, hours=2), location="Room 2")
        for n in (2, 5, 40)
    ]
    desk = ReferralDesk(
        store=MemoryStore(),
        clock=clock,
        hooks=Hooks(make_plugin_manager([plugin], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(2),
    )
    referral = desk.create(
        new_referral(mrn="MRN-42").model_copy(update={"status": ReferralStatus.RECEIVED}),
        actor=AI,
    )
    desk.fire(referral.id, "accept", actor=CLINICIAN)
    desk.fire(referral.id, "clear", actor=CLINICIAN)
    return desk, plugin, CallTools(desk, AI)


def _call(tools: CallTools, values: dict[str, object]) -> str:
    started = tools.invoke(
        "start_call", {"call_type": "schedule_appointment", "caller_role": "patient"}
    )
    call_id = str(started["call_id"])
    tools.invoke("record_turn", {"call_id": call_id, "values": values})
    return call_id


def test_a_verified_caller_is_offered_ehr_slots_and_books_one() -> None:
    desk, _, tools = _world()
    call_id = _call(tools, PATIENT_CALLER)
    found = tools.invoke("find_slots", {"call_id": call_id, "days_ahead": 14})
    assert found["verified"] is True
    assert [s["slot_id"] for s in found["slots"]] == ["slot-2", "slot-5"]  # 40 days is too far
    assert found["slots"][0]["read_back"]
    booked = tools.invoke("book_slot", {"call_id": call_id, "slot_id": "slot-5"})
    assert booked["booked"] is True
    assert booked["referral_status"] == "scheduled"
    referral = desk.list(ReferralStatus.SCHEDULED)[0]
    assert referral.current_appointment is not None
    assert referral.current_appointment.start == NOW + timedelta(days=5, hours=2)


def test_a_slot_that_was_not_offered_is_refused() -> None:
    _, _, tools = _world()
    call_id = _call(tools, PATIENT_CALLER)
    with pytest.raises(ToolError, match="not offered"):
        tools.invoke("book_slot", {"call_id": call_id, "slot_id": "slot-2"})


def test_an_unverified_caller_is_offered_nothing() -> None:
    _, _, tools = _world()
    wrong = {**PATIENT_CALLER, "patient.birth_date": "1970-01-01"}
    call_id = _call(tools, wrong)
    found = tools.invoke("find_slots", {"call_id": call_id})
    assert found["slots"] == []
    assert found["handoff"]["queue"] == "scheduling"


def test_only_roles_that_may_schedule_get_the_booking_tool() -> None:
    assert "book_slot" in tool_definitions(Role.INTAKE, "schedule_appointment").names
    assert "book_slot" not in tool_definitions(Role.INTAKE, "status_inquiry").names
    assert tool_definitions(Role.CLINICIAN, "schedule_appointment").names == ()
    assert datetime(2026, 1, 1, tzinfo=UTC) < NOW  # the world's clock is a fixed instant
    assert Actor(kind=ActorKind.AI, id="x", role=Role.INTAKE).role is Role.INTAKE


def test_an_agent_can_ask_for_slots_at_one_location() -> None:
    _, plugin, tools = _world()
    plugin.ehr.slots["Cardiology"].append(
        Slot(slot_id="slot-north", start=NOW + timedelta(days=3, hours=2), location="North Clinic")
    )
    call_id = _call(tools, PATIENT_CALLER)
    everywhere = tools.invoke("find_slots", {"call_id": call_id})
    assert [s["slot_id"] for s in everywhere["slots"]] == ["slot-2", "slot-north", "slot-5"]
    north = tools.invoke("find_slots", {"call_id": call_id, "location": "north clinic"})
    assert [(s["slot_id"], s["location"]) for s in north["slots"]] == [
        ("slot-north", "North Clinic")
    ]
    # Only what this search offered can be booked.
    with pytest.raises(ToolError, match="not offered"):
        tools.invoke("book_slot", {"call_id": call_id, "slot_id": "slot-2"})
