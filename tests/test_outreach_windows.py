"""Contact windows in patient-local time: zones, state rules, business days, DST.

The property test draws instants across 2020-2035 (every US DST change in between), zones and
state rules, and checks that a window never admits a local time outside its hours in any of the
patient's possible zones, and that the planner never makes a call or SMS due outside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from referralkit.model import (
    Address,
    Patient,
    PhoneContact,
    PhoneKind,
    Practice,
    Priority,
    ReasonForReferral,
    Referral,
    ReferralStatus,
)
from referralkit.outreach import (
    STATE_ZONES,
    ContactWindow,
    WeekdayCalendar,
    default_policy,
    patient_zones,
    plan,
)
from referralkit.outreach.policy import DEFAULT_STATE_HOURS, Hours, WeeklyHours, WindowRules

US_ZONES = sorted({zone for zones in STATE_ZONES.values() for zone in zones})
STATES = sorted(STATE_ZONES)
RULES = WindowRules()


def patient_of(state: str | None = "IL", zone: str | None = None, phone_zones=()) -> Patient:
    return Patient(
        given_name="Ada",
        family_name="Lovelace",
        birth_date=date(1980, 1, 2),
        phones=(PhoneContact(number="+15555550123", time_zones=tuple(phone_zones)),),
        address=(
            Address(line1="1 Main St", city="Springfield", state=state, postal_code="62701")
            if state
            else None
        ),
        time_zone=zone,
    )


def _open_everywhere(window: ContactWindow, instant: datetime) -> bool:
    """An independent check: local time inside the hours in every zone, on allowed days."""
    for key in window.zones:
        local = instant.astimezone(ZoneInfo(key))
        if window.calendar is not None and not window.calendar.is_business_day(local.date()):
            return False
        hours = window.hours.on(local.weekday())
        if hours is None or not (hours.start <= local.time() < hours.end):
            return False
    return True


def test_zones_come_from_the_address_state() -> None:
    assert patient_zones(patient_of("FL")) == ("America/Chicago", "America/New_York")


def test_an_explicit_zone_inside_the_state_narrows_it() -> None:
    assert patient_zones(patient_of("FL", zone="America/New_York")) == ("America/New_York",)


def test_an_explicit_zone_outside_the_state_keeps_both() -> None:
    zones = patient_zones(patient_of("IL", zone="America/Los_Angeles"))
    assert zones == ("America/Chicago", "America/Los_Angeles")


def test_the_phones_zones_are_added() -> None:
    zones = patient_zones(
        patient_of("IL"), PhoneContact(number="+15555550123", time_zones=("America/Denver",))
    )
    assert zones == ("America/Chicago", "America/Denver")


def test_no_address_no_zone_means_no_window() -> None:
    assert ContactWindow.for_patient(RULES, patient_of(None)) is None


def test_window_opens_at_8_local() -> None:
    window = ContactWindow.for_patient(RULES, patient_of("IL"))
    assert window is not None
    # 2026-03-02 06:00 UTC is 00:00 in Chicago (CST, UTC-6).
    opens = window.next_open(datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    assert opens == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert window.closes_at(opens) == datetime(2026, 3, 3, 3, 0, tzinfo=UTC)


def test_intersection_of_two_zones_is_the_narrower_window() -> None:
    window = ContactWindow(
        ("America/New_York", "America/Los_Angeles"), WeeklyHours(Hours(time(8), time(21)))
    )
    start = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
    opens = window.next_open(start)
    # 08:00 in Los Angeles (PDT) = 15:00 UTC; 21:00 in New York (EDT) = 01:00 UTC next day.
    assert opens == datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
    assert window.closes_at(opens) == datetime(2026, 6, 2, 1, 0, tzinfo=UTC)


def test_zones_too_far_apart_never_open() -> None:
    window = ContactWindow(
        ("Pacific/Guam", "America/New_York"), WeeklyHours(Hours(time(8), time(9)))
    )
    assert window.next_open(datetime(2026, 6, 1, tzinfo=UTC)) is None


def test_texas_sunday_starts_at_noon() -> None:
    window = ContactWindow.for_patient(RULES, patient_of("TX", zone="America/Chicago"))
    assert window is not None
    sunday_morning = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)  # 09:00 CST on a Sunday
    assert not window.is_open(sunday_morning)
    assert window.next_open(sunday_morning) == datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


def test_business_days_skip_weekends_and_holidays() -> None:
    calendar = WeekdayCalendar(holidays=frozenset({date(2026, 3, 2)}))
    window = ContactWindow.for_patient(RULES, patient_of("IL"), calendar=calendar)
    assert window is not None
    saturday = datetime(2026, 2, 28, 15, 0, tzinfo=UTC)
    assert window.next_open(saturday) == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


def test_spring_forward_morning_opens_at_8_daylight_time() -> None:
    window = ContactWindow.for_patient(RULES, patient_of("NY"))
    assert window is not None
    # 2026-03-08: clocks go 02:00 EST -> 03:00 EDT; 08:00 EDT is 12:00 UTC.
    assert window.next_open(datetime(2026, 3, 8, 5, 0, tzinfo=UTC)) == datetime(
        2026, 3, 8, 12, 0, tzinfo=UTC
    )


def test_a_window_edge_inside_the_dst_gap_stays_on_the_safe_side() -> None:
    hours = WeeklyHours(Hours(time(2, 30), time(4)))
    window = ContactWindow(("America/New_York",), hours)
    opens = window.next_open(datetime(2026, 3, 8, 5, 0, tzinfo=UTC))
    assert opens is not None
    assert _open_everywhere(window, opens)


def test_a_window_edge_inside_the_dst_fold_stays_on_the_safe_side() -> None:
    hours = WeeklyHours(Hours(time(0, 30), time(1, 30)))
    window = ContactWindow(("America/Chicago",), hours)
    opens = window.next_open(datetime(2026, 11, 1, 4, 0, tzinfo=UTC))
    assert opens is not None
    assert _open_everywhere(window, opens)
    assert _open_everywhere(window, window.closes_at(opens) - timedelta(microseconds=1))


_instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
_hours = st.builds(
    lambda start, length: Hours(time(start), time(min(start + length, 23), 59)),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=0, max_value=14),
)
_weekly = st.one_of(
    st.just(WeeklyHours(Hours(time(8), time(21)))),
    st.sampled_from(sorted(DEFAULT_STATE_HOURS.values(), key=repr)),
    st.builds(
        WeeklyHours,
        _hours,
        st.dictionaries(st.integers(0, 6), st.one_of(st.none(), _hours), max_size=3),
    ),
)


@given(
    instant=_instants,
    zones=st.lists(st.sampled_from(US_ZONES), min_size=1, max_size=3, unique=True),
    hours=_weekly,
    business=st.booleans(),
)
def test_next_open_is_always_inside_the_window_in_every_zone(
    instant: datetime, zones: list[str], hours: WeeklyHours, business: bool
) -> None:
    window = ContactWindow(tuple(sorted(zones)), hours, WeekdayCalendar() if business else None)
    opens = window.next_open(instant, until=instant + timedelta(days=20))
    if window.is_open(instant):
        assert opens == instant
    if opens is None:
        return
    assert opens >= instant
    assert _open_everywhere(window, opens)
    closes = window.closes_at(opens)
    assert closes > opens
    assert _open_everywhere(window, closes - timedelta(seconds=1))


@given(
    instant=_instants,
    state=st.sampled_from(STATES),
    phone_zones=st.lists(st.sampled_from(US_ZONES), max_size=2, unique=True),
    kind=st.sampled_from([PhoneKind.MOBILE, PhoneKind.HOME]),
    age=st.integers(min_value=0, max_value=20 * 24),
)
def test_the_planner_never_makes_a_call_or_sms_due_outside_the_window(
    instant: datetime, state: str, phone_zones: list[str], kind: PhoneKind, age: int
) -> None:
    from referralkit.events import make_event
    from referralkit.model import Actor, ActorKind, Role

    actor = Actor(kind=ActorKind.SYSTEM, id="t", role=Role.SYSTEM)
    patient = patient_of(state, phone_zones=phone_zones)
    patient = patient.model_copy(
        update={"phones": (patient.phones[0].model_copy(update={"kind": kind}),)}
    )
    referral = Referral(
        status=ReferralStatus.READY_TO_SCHEDULE,
        priority=Priority.ROUTINE,
        patient=patient,
        referring_practice=Practice(name="PCP"),
        specialty="cardiology",
        reason=ReasonForReferral(text="x"),
        version=1,
    )
    entered = make_event(
        referral_id=referral.id,
        seq=1,
        at=instant - timedelta(hours=age),
        actor=actor,
        kind="clear",
        from_state=ReferralStatus.ACCEPTED,
        to_state=ReferralStatus.READY_TO_SCHEDULE,
        data={},
        prev_hash="",
    )
    policy = default_policy()
    result = plan(referral, [entered], policy, WeekdayCalendar(), instant)
    for action in result.due(instant):
        if action.action == "contact" and action.channel in policy.windowed_channels:
            zones = patient_zones(referral.patient, referral.patient.phones[0])
            window = ContactWindow(zones, policy.window.for_state(state))
            assert _open_everywhere(window, instant)


# -- Window edges inside a DST gap ---------------------------------------------------------------

CENTRAL = ("America/Chicago",)
SPRING_FORWARD = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 00:00 CST; 02:00-03:00 never happens
CLOCKS_JUMP = datetime(2026, 3, 8, 8, 0, tzinfo=UTC)  # 02:00 CST is 03:00 CDT


def test_a_window_starting_inside_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    window = ContactWindow(CENTRAL, WeeklyHours(Hours(time(2, 30), time(21))))
    # 03:00 CDT is already past 02:30: open from the jump, not from 03:30 as before.
    assert window.next_open(SPRING_FORWARD) == CLOCKS_JUMP
    assert window.is_open(CLOCKS_JUMP)
    assert not window.is_open(CLOCKS_JUMP - timedelta(microseconds=1))


def test_a_window_ending_inside_the_skipped_hour_closes_when_the_clocks_jump() -> None:
    window = ContactWindow(CENTRAL, WeeklyHours(Hours(time(0), time(2, 30))))
    # Open through 01:59 CST; closed from 03:00 CDT: it closes at the jump, not at 01:30.
    assert window.closes_at(SPRING_FORWARD + timedelta(hours=1)) == CLOCKS_JUMP
    assert window.is_open(CLOCKS_JUMP - timedelta(microseconds=1))
    assert not window.is_open(CLOCKS_JUMP)


def _dst_days(year: int) -> tuple[date, date]:
    march = date(year, 3, 8) + timedelta(days=(6 - date(year, 3, 8).weekday()) % 7)
    november = date(year, 11, 1) + timedelta(days=(6 - date(year, 11, 1).weekday()) % 7)
    return march, november


# Any minute, often one inside 01:00-03:00, where US clocks jump or repeat an hour.
minutes_of_day = st.integers(min_value=0, max_value=24 * 60 - 1) | st.integers(60, 179)


@st.composite
def dst_windows(draw: st.DrawFn, *, spring_only: bool = False) -> tuple[ContactWindow, datetime]:
    zone = draw(st.sampled_from(US_ZONES))
    start, end = sorted(draw(st.lists(minutes_of_day, min_size=2, max_size=2, unique=True)))
    hours = Hours(time(start // 60, start % 60), time(end // 60, end % 60))
    march, november = _dst_days(draw(st.integers(2020, 2035)))
    day = march if spring_only else draw(st.sampled_from((march, november)))
    offset = timedelta(minutes=draw(st.integers(-30 * 60, 6 * 60)))
    after = datetime.combine(day, time(6), tzinfo=UTC) + offset
    return ContactWindow((zone,), WeeklyHours(hours)), after


TICK = timedelta(microseconds=1)


@given(dst_windows(spring_only=True))
def test_next_open_is_the_first_open_instant_when_clocks_go_forward(
    case: tuple[ContactWindow, datetime],
) -> None:
    window, after = case
    opened = window.next_open(after, until=after + timedelta(days=3))
    assert opened is not None
    assert opened >= after
    assert window.is_open(opened)
    # The first open instant: either *after* itself or a moment the window was closed just before.
    assert opened == after or not window.is_open(opened - TICK)


@given(dst_windows())
def test_next_open_is_inside_the_window_across_dst(case: tuple[ContactWindow, datetime]) -> None:
    # When clocks go back, a start inside the repeated hour is taken at its second occurrence
    # (docs/outreach.md): possibly later than the first open instant, never outside the window.
    window, after = case
    opened = window.next_open(after, until=after + timedelta(days=3))
    assert opened is not None
    assert opened >= after
    assert window.is_open(opened)


@given(dst_windows())
def test_closes_at_is_the_first_closed_instant_across_dst(
    case: tuple[ContactWindow, datetime],
) -> None:
    window, after = case
    opened = window.next_open(after, until=after + timedelta(days=3))
    assert opened is not None
    closes = window.closes_at(opened)
    assert closes > opened
    assert window.is_open(closes - TICK)
    assert not window.is_open(closes)
