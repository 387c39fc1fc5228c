"""Unit and property tests for the coordination building blocks."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit.intake.status import CallerIdentity, answer_status
from referralkit.model import (
    Authorization,
    AuthorizationStatus,
    Practice,
    ReceivedDocument,
    RecordsRequest,
    RecordsRequestStatus,
    Referral,
    ReferralStatus,
)
from referralkit.outreach.policy import PolicyError, policy_from_mapping
from referralkit.outreach.windows import (
    WeekdayCalendar,
    business_days_after,
    business_days_before,
)

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
KINDS = ["consult_note", "imaging", "labs", "med_list"]


def _doc(n: int, kind: str | None) -> ReceivedDocument:
    return ReceivedDocument(document_id=f"doc-{n}", kind=kind, received_at=T0)


@given(
    st.lists(st.sampled_from(KINDS), unique=True, max_size=4),
    st.lists(st.tuples(st.integers(0, 6), st.sampled_from([*KINDS, None])), max_size=8),
)
def test_received_exactly_when_every_kind_is_in(
    kinds: list[str], arrivals: list[tuple[int, str | None]]
) -> None:
    request = RecordsRequest(requested_at=T0, kinds=tuple(kinds))
    seen: dict[str, str | None] = {}
    for n, kind in arrivals:
        before = request
        request = request.with_documents((_doc(n, kind),))
        if f"doc-{n}" in seen:
            assert request == before  # a document already attached changes nothing
            continue
        seen[f"doc-{n}"] = kind
        have = set(seen.values())
        complete = all(k in have for k in kinds)
        if before.is_open:
            expected = (
                RecordsRequestStatus.RECEIVED
                if complete
                else RecordsRequestStatus.PARTIALLY_RECEIVED
            )
            assert request.status is expected
        assert request.documents == tuple(seen)
    if request.is_open:
        assert set(request.missing_kinds) == {k for k in kinds if k not in set(seen.values())}


def test_a_closed_request_keeps_its_status_but_gains_documents() -> None:
    waived = RecordsRequest(requested_at=T0, kinds=("labs",), status=RecordsRequestStatus.WAIVED)
    later = waived.with_documents((_doc(1, "labs"),))
    assert later.status is RecordsRequestStatus.WAIVED
    assert later.documents == ("doc-1",)
    assert later.missing_kinds == ()


@given(st.dates(date(2026, 1, 1), date(2027, 12, 31)), st.integers(0, 15))
def test_business_day_steps_land_on_business_days(day: date, n: int) -> None:
    calendar = WeekdayCalendar(frozenset({date(2026, 12, 25)}))
    before = business_days_before(day, n, calendar)
    after = business_days_after(day, n, calendar)
    assert before <= day <= after
    if n:
        assert calendar.is_business_day(before)
        assert calendar.is_business_day(after)
        assert business_days_after(before, n, calendar) >= day


def test_records_rules_and_practice_milestones_load_from_toml() -> None:
    data = tomllib.loads(
        """
        [records]
        queue = "medical-records"
        missing_before_visit = 5

        [referrer_updates]
        schedule = "referrer.scheduled"
        complete_visit = "referrer.seen"

        [referrer_updates.practices."1234567893"]
        milestones = ["scheduled"]

        [referrer_updates.practices.maple]
        digest = true
        """
    )
    policy = policy_from_mapping(data)
    assert (policy.records.queue, policy.records.missing_before_visit) == ("medical-records", 5)
    updates = policy.referrer_updates
    assert updates.wants("1234567893", "schedule")
    assert not updates.wants("1234567893", "complete_visit")
    assert updates.wants("another-practice", "complete_visit")
    assert not updates.wants("another-practice", "mark_lost")  # not in this policy's `on`
    assert updates.digest_for(Practice(name="Maple", id="maple"))
    assert not updates.digest_for(Practice(name="Other", npi="1234567893"))


@pytest.mark.parametrize(
    "toml",
    [
        "[records]\nmissing_before_visit = -1",
        "[records]\nwhen = 3",
        '[referrer_updates.practices.p1]\nmilestones = ["teleported"]',
        "[referrer_updates.practices.p1]\nmilestones = [3]",
    ],
)
def test_invalid_coordination_policy_is_refused(toml: str) -> None:
    with pytest.raises(PolicyError):
        policy_from_mapping(tomllib.loads(toml))


WAITING = "insurance company's answer"
NOT_REQUESTED = "has not been requested"


@given(st.sampled_from(list(ReferralStatus)), st.sampled_from(list(AuthorizationStatus)))
def test_status_answers_never_contradict_the_authorization(
    status: ReferralStatus, auth: AuthorizationStatus
) -> None:
    referral = Referral(
        status=status,
        referring_practice=Practice(name="Maple", npi="1234567893"),
        specialty="cardiology",
        authorization=Authorization(status=auth),
    )
    answer = answer_status(referral, CallerIdentity(role="referring_practice", npi="1234567893"))
    assert not (WAITING in answer.text and NOT_REQUESTED in answer.text)
    if WAITING in answer.text:
        assert answer.authorization is AuthorizationStatus.SUBMITTED
        assert answer.owner == "insurance"
