"""Metrics against hand-computed event logs (docs/metrics.md defines each figure)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit.metrics import (
    Cms50Period,
    ReferralFacts,
    cases_from,
    nearest_rank,
    summarise_durations,
)
from referralkit.model import (
    AuthorizationStatus,
    Coverage,
    Patient,
    PhoneContact,
    Practice,
    ReferralStatus,
)
from tests.support.metrics_world import (
    APRIL,
    DAY,
    HOUR,
    MARCH,
    SCHEDULER,
    Log,
    funnel,
)


@pytest.fixture
def log() -> Iterator[Log]:
    made = Log()
    yield made
    made.desk.close()


def test_funnel_counts_and_rates(log: Log) -> None:
    funnel(log)
    m = log.report().overall
    assert (m.received, m.booked, m.seen, m.closed, m.leaked) == (3, 2, 2, 1, 1)
    assert m.booking_rate == pytest.approx(2 / 3)
    assert m.completion_rate == pytest.approx(2 / 3)
    assert m.leak_reasons == {"declined:no_capacity": 1}
    assert m.loop_closure_rate == pytest.approx(1 / 2)
    assert m.outcomes == {"closed": 1, "declined": 1, "visit_completed": 1}


def test_times_are_exact_medians_and_nearest_rank_p90(log: Log) -> None:
    funnel(log)
    m = log.report().overall
    # received -> first booking: a 4 days, b 2 days (its second booking does not count)
    assert m.time_to_booked.count == 2
    assert m.time_to_booked.median_seconds == (3 * DAY).total_seconds()
    assert m.time_to_booked.p90_seconds == (4 * DAY).total_seconds()
    assert m.booked_within == {
        "0-2 days": 1,  # b: exactly 2 days is in the first bucket
        "3-7 days": 1,
        "8-14 days": 0,
        "15-30 days": 0,
        "over 30 days": 0,
    }
    # received -> first completed visit: a 9 days 1 hour, b 13 days
    assert m.time_to_seen.median_seconds == (11 * DAY + HOUR / 2).total_seconds()
    assert m.loop_closure_time.median_seconds == (2 * DAY).total_seconds()
    assert m.time_to_first_outreach.count == 1
    # sent 1 day 5 s after receipt: durations are kept to the whole minute, rounded down
    assert m.time_to_first_outreach.median_seconds == DAY.total_seconds()


def test_several_appointments_no_shows_and_outreach(log: Log) -> None:
    funnel(log)
    m = log.report().overall
    assert (m.appointments_booked, m.visits_completed, m.no_shows) == (3, 2, 1)
    assert m.no_show_rate == pytest.approx(1 / 3)
    assert m.attempts_before_booking == 2  # a's call and text; the reminder came after booking
    assert m.attempts_per_booking == pytest.approx(1.0)
    assert m.sends_by_channel == {"sms": 2, "voice": 1}


def test_reopened_referral_counts_by_where_it_ended(log: Log) -> None:
    c = MARCH + 2 * DAY
    log.create("c", c)
    log.ready("c", c + HOUR)
    log.fire("c", "mark_lost", c + 7 * DAY, SCHEDULER, reason="unreachable")
    log.fire("c", "reopen", c + 8 * DAY, SCHEDULER, reason="patient called back")
    log.book("c", c + 9 * DAY, visit=c + 20 * DAY)
    lost = MARCH + 4 * DAY
    log.create("lost", lost)
    log.ready("lost", lost + HOUR)
    log.fire("lost", "mark_lost", lost + 7 * DAY, SCHEDULER, reason="unreachable")
    m = log.report().overall
    assert (m.received, m.booked, m.leaked, m.reopened) == (2, 1, 1, 1)
    assert m.leak_reasons == {"lost:unreachable": 1}
    assert m.time_to_booked.median_seconds == (9 * DAY).total_seconds()


def test_holds_pause_the_booking_sla_across_the_window_end(log: Log) -> None:
    start = MARCH
    log.create("never_booked", start)  # 31 days unbooked by April 1st: past a 30-day SLA
    log.fire("never_booked", "accept", start + HOUR)
    log.create("held_19_days", start)  # held 19 of its 31 days: 12 days count
    log.fire("held_19_days", "hold", start + 12 * HOUR, reason="patient travelling")
    log.fire("held_19_days", "resume", start + 19 * DAY + 12 * HOUR)
    log.create("held_at_end", start)  # on hold when the window ends: not leaked
    log.fire("held_at_end", "hold", start + 24 * DAY, reason="awaiting records")
    m = log.report().overall
    assert m.received == 3
    assert m.leak_reasons == {"unbooked_past_sla": 1}
    longer = log.report(config={"unbooked_sla": timedelta(days=31)}).overall
    assert longer.leaked == 0
    shorter = log.report(config={"unbooked_sla": timedelta(days=11)}).overall
    assert shorter.leaked == 2  # the held one's 12 counted days now exceed it


def test_redirect_counts_once_under_the_new_specialty(log: Log) -> None:
    log.create("h", MARCH + DAY, specialty="cardiology")
    log.fire("h", "redirect", MARCH + DAY + HOUR, specialty="neurology", reason="wrong clinic")
    report = log.report(by=("specialty",))
    assert report.overall.received == 1
    assert report.overall.redirected == 1
    assert list(report.groups["specialty"]) == ["neurology"]


def test_entered_in_error_is_excluded_everywhere(log: Log) -> None:
    funnel(log)
    log.create("x", MARCH + 6 * DAY)
    log.fire("x", "mark_error", MARCH + 7 * DAY, reason="duplicate entry")
    report = log.report()
    assert report.overall.received == 3
    assert report.excluded_entered_in_error == 1
    assert "entered_in_error" not in report.overall.outcomes


def test_only_referrals_received_in_the_window_and_events_before_its_end(log: Log) -> None:
    log.create("before", MARCH - DAY)
    log.ready("before", MARCH + HOUR)
    log.book("before", MARCH + 2 * HOUR, visit=MARCH + DAY)
    log.create("late", APRIL - HOUR)
    log.ready("late", APRIL + HOUR)  # after the window: not read
    log.book("late", APRIL + 2 * HOUR, visit=APRIL + DAY)
    m = log.report().overall
    assert (m.received, m.booked) == (1, 0)
    assert m.outcomes == {"received": 1}


def test_authorization_turnaround_and_denials(log: Log) -> None:
    k = MARCH + 8 * DAY
    log.create("k", k)
    log.fire("k", "accept", k + HOUR)
    log.fire("k", "require_auth", k + 2 * HOUR)
    log.fire("k", "authorize", k + 2 * HOUR + 2 * DAY, SCHEDULER, number="A1",
             valid_from=date(2026, 3, 1), valid_to=date(2026, 6, 1))  # fmt: skip
    log.create("denied", k)
    log.fire("denied", "accept", k + HOUR)
    referral = log.fire("denied", "require_auth", k + 2 * HOUR)
    denied = referral.authorization.model_copy(update={"status": AuthorizationStatus.DENIED})
    log.amend(
        "denied", "authorization_updated", k + DAY, {"status": "denied"}, authorization=denied
    )
    m = log.report().overall
    assert (m.auth_required, m.auth_denied) == (2, 1)
    assert m.auth_denial_rate == pytest.approx(0.5)
    assert m.auth_turnaround.count == 1
    assert m.auth_turnaround.median_seconds == (2 * DAY).total_seconds()


def test_queue_health_counts_tasks_opened_in_the_window(log: Log) -> None:
    log.create("old", MARCH - 10 * DAY)  # received before the window; its task still counts
    due = (MARCH + 5 * DAY).isoformat()
    task = {"queue": "scheduling", "task_id": "t1", "due_at": due, "clock": "booking"}
    log.amend("old", "routing_task_opened", MARCH + 4 * DAY, task)
    log.amend("old", "routing_task_escalated", MARCH + 6 * DAY, {"escalated_task_id": "t1"})
    log.amend("old", "task_opened", MARCH + 30 * DAY, {"queue": "outreach", "task_id": "t2"})
    report = log.report()
    assert report.overall.received == 0
    scheduling = report.queues["scheduling"]
    assert (scheduling.opened, scheduling.overdue, scheduling.sla_breaches) == (1, 1, 1)
    assert scheduling.escalations == 1
    assert scheduling.age.median_seconds == (27 * DAY).total_seconds()
    assert report.queues["outreach"].overdue == 0  # no due time recorded


def test_grouped_by_practice_and_payer(log: Log) -> None:
    north = Practice(name="North Clinic", id="north")
    log.create("n1", MARCH + DAY, referring_practice=north)
    log.create("n2", MARCH + DAY, referring_practice=north,
               coverage=Coverage(payer_name="Acme Health", member_id="M1"))  # fmt: skip
    log.create("s1", MARCH + DAY, referring_practice=Practice(name="South Clinic"))
    report = log.report(by=("practice", "payer"))
    assert {k: v.received for k, v in report.groups["practice"].items()} == {
        "South Clinic": 1,
        "north": 2,
    }
    assert {k: v.received for k, v in report.groups["payer"].items()} == {
        "Acme Health": 1,
        "unknown": 2,
    }


def test_revenue_counts_completed_visits(log: Log) -> None:
    funnel(log)
    report = log.report(config={"value_per_visit": Decimal("180.00")})
    assert report.overall.revenue == Decimal("360.00")
    assert report.as_json()["overall"]["revenue"] == "360.00"


def test_json_is_serialisable_and_holds_no_phi(log: Log) -> None:
    funnel(log)
    text = json.dumps(log.report(by=("specialty",), cms50=Cms50Period(MARCH, APRIL)).as_json())
    for phi in ("Patient", "1970-01-01", "+1555"):
        assert phi not in text
    assert json.loads(text)["schema_version"] == 1


def test_progress_reports_the_events_read(log: Log) -> None:
    funnel(log)
    calls: list[tuple[int, int | None]] = []
    report = log.report(progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (report.events_read, report.events_read)
    assert report.events_read == sum(len(log.store.events(i)) for i in log.ids.values())


# -- CMS50 -------------------------------------------------------------------------------------

YEAR = Cms50Period.calendar_year(2026)


def facts(referred: datetime | None, report: datetime | None = None, *, error: bool = False):
    return ReferralFacts(
        referral_id=uuid4(),
        received_at=referred,
        status=ReferralStatus.CLOSED if report else ReferralStatus.RECEIVED,
        closed_at=report,
        entered_in_error=error,
    )


def test_cms50_period_cutoff_is_two_months_before_the_end() -> None:
    assert YEAR.cutoff == datetime(2026, 11, 1, tzinfo=YEAR.start.tzinfo)
    quarter = Cms50Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    assert quarter.cutoff == datetime(2026, 1, 31, tzinfo=UTC)


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def test_cms50_counts_each_patients_first_referral_only() -> None:
    first, second = facts(at(2, 1)), facts(at(3, 1), report=at(3, 20))
    result = cases_from([(second, "p1", "north"), (first, "p1", "north")], YEAR)
    assert (result.numerator, result.denominator) == (0, 1)
    assert result.cases[0].referral_id == first.referral_id  # the later report does not count


def test_cms50_referral_on_or_after_the_cutoff_is_outside_the_denominator() -> None:
    on_cutoff = facts(datetime(2026, 11, 1, tzinfo=UTC), report=at(11, 20))
    last_moment = facts(datetime(2026, 11, 1, tzinfo=UTC) - timedelta(microseconds=1), at(12, 30))
    result = cases_from([(on_cutoff, "p1", "n"), (last_moment, "p2", "n")], YEAR)
    assert [c.referral_id for c in result.cases] == [last_moment.referral_id]
    assert result.rate == 1.0


def test_cms50_patient_referred_only_after_the_cutoff_is_not_in_the_denominator() -> None:
    result = cases_from([(facts(at(12, 1), at(12, 5)), "p9", "n")], YEAR)
    assert result.denominator == 0
    assert result.rate is None


def test_cms50_report_must_come_after_the_referral_and_within_the_period() -> None:
    late = facts(at(10, 30), report=at(1, 2, year=2027))
    in_time = facts(at(10, 30), report=at(12, 31))
    result = cases_from([(late, "p1", "n"), (in_time, "p2", "n")], YEAR)
    assert (result.numerator, result.denominator) == (1, 2)
    assert result.as_json()["numerator_referrals"] == [str(in_time.referral_id)]
    assert set(result.as_json()["denominator_referrals"]) == {
        str(late.referral_id),
        str(in_time.referral_id),
    }


def test_cms50_ignores_referrals_entered_in_error_and_before_the_period() -> None:
    void = facts(at(1, 5), report=at(1, 20), error=True)
    real = facts(at(2, 5))
    earlier = facts(at(12, 20, year=2025), report=at(12, 28, year=2025))
    result = cases_from([(void, "p1", "n"), (real, "p1", "n"), (earlier, "p2", "n")], YEAR)
    assert [c.referral_id for c in result.cases] == [real.referral_id]


def test_cms50_by_practice() -> None:
    items = [(facts(at(1, 2), at(1, 9)), "p1", "north"), (facts(at(1, 3)), "p2", "north"),
             (facts(at(1, 4), at(2, 1)), "p3", "south")]  # fmt: skip
    assert cases_from(items, YEAR).by_practice() == {"north": (1, 2), "south": (1, 1)}


def test_cms50_end_to_end_matches_patients_by_identity(log: Log) -> None:
    same = Patient(
        given_name="Ada",
        family_name="Quinn",
        birth_date=date(1960, 5, 5),
        phones=(PhoneContact(number="+15555550188"),),
    )
    log.create("first", MARCH + DAY, patient=same)
    log.create("second", MARCH + 2 * DAY, patient=same.model_copy(update={"given_name": "ADA"}))
    log.ready("second", MARCH + 2 * DAY + HOUR)
    log.book("second", MARCH + 3 * DAY, visit=MARCH + 4 * DAY)
    log.fire("second", "complete_visit", MARCH + 4 * DAY, SCHEDULER)
    log.fire("second", "close_loop", MARCH + 5 * DAY, report_reference="doc-2")
    period = Cms50Period(MARCH, APRIL, cutoff=MARCH + 20 * DAY)
    result = log.report(cms50=period).cms50
    assert result is not None
    assert [c.referral_id for c in result.cases] == [log.ids["first"]]
    assert result.numerator == 0


# -- order statistics --------------------------------------------------------------------------


@given(st.lists(st.floats(min_value=0, max_value=1e9), min_size=1))
def test_p90_is_a_value_with_at_least_90_percent_at_or_below(values: list[float]) -> None:
    stats = summarise_durations(values)
    assert stats.p90_seconds in values
    at_or_below = sum(1 for v in values if v <= stats.p90_seconds)
    assert at_or_below >= 0.9 * len(values)
    assert stats.median_seconds is not None
    assert min(values) <= stats.median_seconds <= max(values)


def test_nearest_rank_on_ten_values() -> None:
    assert nearest_rank(list(range(1, 11)), 0.9) == 9
    assert summarise_durations([]).median_seconds is None
