"""Bounded-memory metrics: quantised durations, denials and task ages from events, CMS50 spill."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit.metrics import (
    RESOLUTION_SECONDS,
    Cms50Builder,
    Cms50Period,
    DurationCounts,
    ReferralFacts,
    quantise,
    summarise_durations,
)
from referralkit.model import ReferralStatus
from tests.support.metrics_world import DAY, HOUR, MARCH, Log

durations = st.lists(
    st.floats(min_value=0, max_value=400 * 86400, allow_nan=False, allow_infinity=False),
    max_size=300,
)


@pytest.fixture
def log() -> Iterator[Log]:
    made = Log()
    yield made
    made.desk.close()


@given(durations)
def test_counts_give_the_exact_order_statistics_of_the_quantised_durations(
    values: list[float],
) -> None:
    counts = DurationCounts()
    counts.extend(values)
    assert counts.summary() == summarise_durations([quantise(v) for v in values])


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=200))
def test_durations_on_the_resolution_are_kept_exactly(minutes: list[int]) -> None:
    values = [m * RESOLUTION_SECONDS for m in minutes]
    counts = DurationCounts()
    counts.extend(values)
    assert counts.summary() == summarise_durations(values)


def test_counts_hold_one_entry_per_distinct_minute_not_per_duration() -> None:
    counts = DurationCounts()
    counts.extend(float(s) for s in range(0, 600, 1) for _ in range(50))  # 30,000 durations
    assert counts.count == 30_000
    assert counts.distinct == 10  # 0..599 s is ten whole minutes


def test_a_denial_counts_from_its_event_even_once_appealed(log: Log) -> None:
    k = MARCH + 2 * DAY
    log.create("appealed", k)
    log.fire("appealed", "accept", k + HOUR)
    log.fire("appealed", "require_auth", k + 2 * HOUR)
    log.amend("appealed", "authorization_denied", k + DAY, {"reason": "not_covered"})
    log.amend("appealed", "authorization_appealed", k + 2 * DAY, {"payer_reference": "P2"})
    log.create("waiting", k)
    log.fire("waiting", "accept", k + HOUR)
    log.fire("waiting", "require_auth", k + 2 * HOUR)
    m = log.report().overall
    # the current records say neither is denied now; the events say one was
    assert (m.auth_required, m.auth_denied) == (2, 1)


def test_a_denial_after_the_window_is_not_counted(log: Log) -> None:
    k = MARCH + 2 * DAY
    log.create("late", k)
    log.fire("late", "accept", k + HOUR)
    log.fire("late", "require_auth", k + 2 * HOUR)
    log.amend("late", "authorization_denied", k + 40 * DAY, {"reason": "not_covered"})
    m = log.report().overall
    assert (m.auth_required, m.auth_denied) == (1, 0)


def test_task_ages_follow_completion_reassignment_and_moot(log: Log) -> None:
    log.create("r", MARCH + DAY)
    opened = MARCH + 2 * DAY
    for task_id in ("done", "moved", "mooted", "held", "open"):
        log.amend("r", "task_opened", opened, {"queue": "scheduling", "task_id": task_id})
    log.amend("r", "task_completed", opened + 3 * HOUR, {"task_id": "done", "queue": "scheduling"})
    log.amend("r", "task_reassigned", opened + DAY, {"task_id": "moved", "queue": "records"})
    closed = [
        {"task_id": "mooted", "queue": "scheduling", "reason": "booked", "held": None},
        {"task_id": "held", "queue": "scheduling", "reason": "booked", "held": "sched-lee"},
    ]
    log.amend("r", "task_mooted", opened + 2 * DAY, {"closed": closed, "cause_seq": 3})
    queues = log.report().queues
    scheduling, records = queues["scheduling"], queues["records"]
    assert (scheduling.opened, scheduling.open, scheduling.closed) == (4, 2, 2)
    assert scheduling.time_to_close.count == 2
    assert scheduling.time_to_close.median_seconds == (DAY + 1.5 * HOUR).total_seconds()
    until_minus_opened = (datetime(2026, 4, 1, tzinfo=UTC) - opened).total_seconds()
    assert scheduling.age.count == 2
    assert scheduling.age.median_seconds == until_minus_opened  # held and open: still open
    assert (records.opened, records.open, records.closed) == (1, 1, 0)


def _facts(referral_id: UUID, received: datetime, closed: datetime | None) -> ReferralFacts:
    return ReferralFacts(
        referral_id=referral_id,
        received_at=received,
        status=ReferralStatus.CLOSED if closed else ReferralStatus.RECEIVED,
        closed_at=closed,
    )


def test_cms50_spilled_over_many_batches_matches_a_first_referral_per_patient_by_hand() -> None:
    period = Cms50Period.calendar_year(2026)
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    expected: dict[str, tuple[datetime, str, bool, str]] = {}
    builder = Cms50Builder(period)
    for _ in range(3500):  # several spill batches, about two referrals per patient
        patient = f"p{rng.randrange(1700)}"
        practice = rng.choice(["north", "south"])
        received = start + timedelta(minutes=rng.randrange(60 * 24 * 360))
        closed = received + timedelta(days=rng.randrange(1, 60)) if rng.random() < 0.6 else None
        referral_id = uuid4()
        builder.add(_facts(referral_id, received, closed), patient, practice)
        if received >= period.cutoff:
            continue
        counts = closed is not None and closed < period.end
        candidate = (received, str(referral_id), counts, practice)
        if patient not in expected or candidate[:2] < expected[patient][:2]:
            expected[patient] = candidate
    result = builder.result()
    assert result.denominator == len(expected)
    assert result.numerator == sum(1 for c in expected.values() if c[2])
    by_hand: dict[str, tuple[int, int]] = {}
    for _, _, counts, practice in expected.values():
        n, d = by_hand.get(practice, (0, 0))
        by_hand[practice] = (n + counts, d + 1)
    assert result.by_practice() == dict(sorted(by_hand.items()))
    listed = [(c.referred_at, str(c.referral_id), c.closed) for c in result.iter_cases()]
    assert listed == sorted((r, i, c) for r, i, c, _ in expected.values())
    ids = result.as_json()
    assert ids["denominator_referrals"] == [i for _, i, _ in listed]
    assert ids["numerator_referrals"] == [i for _, i, c in listed if c]


def test_a_cms50_builder_gives_its_result_once() -> None:
    builder = Cms50Builder(Cms50Period.calendar_year(2026))
    builder.result()
    with pytest.raises(ValueError, match="already produced"):
        builder.result()
    with pytest.raises(ValueError, match="already produced"):
        builder.add(_facts(uuid4(), MARCH, None), "p1", "north")
