"""Business calendars and SLA clocks: weekends, US holidays, DST changes, holds and the ladder."""

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from referralkit import Actor, ActorKind, Priority, Referral, ReferralStatus, Role
from referralkit.events import Event
from referralkit.lifecycle import created, shared_lifecycle
from referralkit.routing import (
    BusinessCalendar,
    Duration,
    UsBusinessCalendar,
    add_business_days,
    business_days_between,
    clock_state,
)
from referralkit.routing.sla import DEFAULT_SLA, ladder_level

NY = ZoneInfo("America/New_York")
CAL = UsBusinessCalendar()
STAFF = Actor(kind=ActorKind.HUMAN, id="staff-1", role=Role.CLINICIAN)


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Friday afternoon + 1: the weekend does not count (and DST starts on the Sunday).
        (ny(2026, 3, 6, 15), 1, ny(2026, 3, 9, 15)),
        # Independence Day 2026 falls on a Saturday: observed Friday 3 July.
        (ny(2026, 7, 2, 10), 1, ny(2026, 7, 6, 10)),
        # Thanksgiving (Thursday 26 November) is skipped; the Friday after is a business day.
        (ny(2026, 11, 25, 12), 2, ny(2026, 11, 30, 12)),
        # DST ends on Sunday 1 November: the wall-clock time is kept, the UTC offset changes.
        (ny(2026, 10, 30, 9), 1, ny(2026, 11, 2, 9)),
        # From a closed day, counting starts at the next business day's midnight.
        (ny(2026, 3, 7, 11), 1, ny(2026, 3, 10, 0)),
        # Christmas and New Year's Day.
        (ny(2026, 12, 24, 16), 2, ny(2026, 12, 29, 16)),
        (ny(2026, 12, 31, 9), 1, ny(2027, 1, 4, 9)),
        # Half a business day.
        (ny(2026, 3, 2, 9), 0.5, ny(2026, 3, 2, 21)),
    ],
)
def test_add_business_days(start, days, expected):
    assert add_business_days(CAL, start, days) == expected.astimezone(UTC)


def test_dst_keeps_wall_clock_but_moves_utc():
    before = add_business_days(CAL, ny(2026, 3, 6, 15), 1)
    assert before.hour == 19  # 15:00 EDT; it would be 20:00 UTC in EST
    after = add_business_days(CAL, ny(2026, 10, 30, 9), 1)
    assert after.hour == 14  # 09:00 EST; it was 13:00 UTC on the Friday (EDT)


def test_business_days_between_skips_weekends_and_holidays():
    assert business_days_between(CAL, ny(2026, 3, 6, 15), ny(2026, 3, 9, 15)) == pytest.approx(1)
    assert business_days_between(CAL, ny(2026, 7, 2, 10), ny(2026, 7, 6, 10)) == pytest.approx(1)
    assert business_days_between(CAL, ny(2026, 3, 9, 15), ny(2026, 3, 6, 15)) == 0


def test_state_holidays_and_closed_days_are_not_business_days():
    texas = UsBusinessCalendar(zone_name="America/Chicago", subdivision="TX")
    assert not texas.is_business_day(date(2026, 3, 2))  # Texas Independence Day
    assert CAL.is_business_day(date(2026, 3, 2))
    closed = UsBusinessCalendar(extra_closed=frozenset({date(2026, 3, 3)}))
    assert add_business_days(closed, ny(2026, 3, 2, 9), 1) == ny(2026, 3, 4, 9).astimezone(UTC)
    assert CAL.holiday_name(date(2026, 11, 26)) == "Thanksgiving Day"


class SevenDayClinic:
    """A clinic open every day in UTC: a replacement calendar."""

    @property
    def zone(self) -> tzinfo:
        return UTC

    def is_business_day(self, day: date) -> bool:
        return True


def test_a_clinic_can_replace_the_calendar():
    clinic = SevenDayClinic()
    assert isinstance(clinic, BusinessCalendar)
    start = datetime(2026, 3, 7, 10, tzinfo=UTC)
    assert add_business_days(clinic, start, 2) == datetime(2026, 3, 9, 10, tzinfo=UTC)


def test_hours_are_exact_elapsed_time_across_dst():
    start = ny(2026, 3, 8, 0)  # the night the clocks go forward
    assert Duration.parse("4h").add_to(start, CAL) == start.astimezone(UTC) + timedelta(hours=4)


@pytest.mark.parametrize("text", ["", "4", "h", "4 hours", "-1h", "1w", "1.5.2h"])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ValueError, match="bad duration"):
        Duration.parse(text)


# -- clocks from the event log ----------------------------------------------------------------


def _events(
    priority: Priority, *steps: tuple[str, datetime, dict[str, str] | None]
) -> tuple[Referral, list[Event]]:
    referral = Referral(status=ReferralStatus.INTAKE, priority=priority, specialty="cardiology")
    start = steps[0][1] if steps else datetime(2026, 3, 2, 14, tzinfo=UTC)
    change = created(referral, STAFF, start)
    current, events = change.referral, [change.event]
    for trigger, at, data in steps:
        if trigger == "receive":  # intake -> received without the intake guard
            current = current.model_copy(update={"status": ReferralStatus.RECEIVED})
            events.append(
                Event(
                    current.id, len(events) + 1, at, STAFF, "complete_intake",
                    ReferralStatus.INTAKE, ReferralStatus.RECEIVED, {}, events[-1].hash, "h",
                )
            )  # fmt: skip
            continue
        change = shared_lifecycle().fire(current, trigger, actor=STAFF, now=at, data=data)  # type: ignore[arg-type]
        current = change.referral
        events.append(change.event)
    return current, events


def _acceptance(referral: Referral, events: list[Event]):
    budget = DEFAULT_SLA.for_priority(referral.priority).acceptance
    return clock_state("acceptance", referral.status, events, budget, CAL)


def test_acceptance_clock_runs_from_receipt():
    referral, events = _events(Priority.ROUTINE, ("receive", ny(2026, 3, 6, 15), None))
    state = _acceptance(referral, events)
    assert state.running
    assert state.deadline == ny(2026, 3, 10, 15).astimezone(UTC)  # Fri + 2 bd, past DST
    assert not state.breached(ny(2026, 3, 10, 14, 59).astimezone(UTC))
    assert state.breached(ny(2026, 3, 10, 15).astimezone(UTC))


def test_hold_pauses_the_clock_and_pushes_the_deadline():
    referral, events = _events(
        Priority.ROUTINE,
        ("receive", ny(2026, 3, 2, 9), None),
        ("hold", ny(2026, 3, 3, 9), {"reason": "awaiting callback"}),
    )
    held = _acceptance(referral, events)
    assert held.running
    assert held.paused
    assert held.deadline is None
    assert not held.breached(ny(2026, 3, 20, 9).astimezone(UTC))
    resume_at = ny(2026, 3, 5, 9)
    change = shared_lifecycle().fire(referral, "resume", actor=STAFF, now=resume_at)
    resumed = _acceptance(change.referral, [*events, change.event])
    # Two business days on hold (Tue 09:00 -> Thu 09:00): due Friday 09:00 instead of Wednesday.
    assert resumed.deadline == ny(2026, 3, 6, 9).astimezone(UTC)
    assert resumed.paused_for == timedelta(days=2)


def test_hold_over_a_weekend_costs_only_business_time():
    referral, events = _events(
        Priority.ROUTINE,
        ("receive", ny(2026, 3, 2, 9), None),
        ("hold", ny(2026, 3, 6, 17), {"reason": "x"}),  # after the deadline: no effect
    )
    change = shared_lifecycle().fire(referral, "resume", actor=STAFF, now=ny(2026, 3, 9, 9))
    state = _acceptance(change.referral, [*events, change.event])
    assert state.deadline == ny(2026, 3, 4, 9).astimezone(UTC)


def test_urgent_clock_is_in_hours_and_ignores_weekends():
    saturday = ny(2026, 3, 7, 22)
    referral, events = _events(Priority.URGENT, ("receive", saturday, None))
    assert _acceptance(referral, events).deadline == saturday.astimezone(UTC) + timedelta(hours=4)


def test_booking_clock_restarts_after_a_no_show():
    accepted_at = ny(2026, 3, 2, 9)
    referral, events = _events(
        Priority.ROUTINE,
        ("receive", accepted_at, None),
        ("accept", accepted_at, None),
    )
    budget = DEFAULT_SLA.for_priority(Priority.ROUTINE).booking
    first = clock_state("booking", referral.status, events, budget, CAL)
    assert first.start_seq == events[-1].seq  # the accept event
    assert first.deadline == ny(2026, 3, 16, 9).astimezone(UTC)
    # Leaving the running states (scheduled) stops the clock; coming back restarts it.
    scheduled = referral.model_copy(update={"status": ReferralStatus.SCHEDULED})
    later = ny(2026, 4, 1, 9)
    moves = [
        Event(referral.id, 4, ny(2026, 3, 3, 9), STAFF, "schedule", ReferralStatus.ACCEPTED,
              ReferralStatus.SCHEDULED, {}, "", "h"),
        Event(referral.id, 5, later, STAFF, "no_show", ReferralStatus.SCHEDULED,
              ReferralStatus.READY_TO_SCHEDULE, {}, "", "h"),
    ]  # fmt: skip
    stopped = clock_state("booking", scheduled.status, [*events, moves[0]], budget, CAL)
    assert not stopped.running
    again = clock_state(
        "booking", ReferralStatus.READY_TO_SCHEDULE, [*events, *moves], budget, CAL
    )
    assert again.start_seq == 5
    assert again.deadline == ny(2026, 4, 15, 9).astimezone(UTC)


def test_ladder_steps_come_one_interval_apart():
    deadline = ny(2026, 3, 6, 9).astimezone(UTC)  # a Friday
    every = Duration.parse("1bd")
    assert ladder_level(deadline, every, deadline - timedelta(seconds=1), CAL) == 0
    assert ladder_level(deadline, every, deadline, CAL) == 1
    # The next business day is Monday, after the weekend and the DST change.
    assert ladder_level(deadline, every, ny(2026, 3, 9, 8, 59).astimezone(UTC), CAL) == 1
    assert ladder_level(deadline, every, ny(2026, 3, 9, 9).astimezone(UTC), CAL) == 2
    assert ladder_level(deadline, every, ny(2026, 3, 30, 9).astimezone(UTC), CAL) == 3
