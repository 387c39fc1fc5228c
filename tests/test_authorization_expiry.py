"""Authorization expiry is time-driven: the routing sweep after the last valid day expires it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from referralkit import (
    Actor,
    ActorKind,
    Appointment,
    ManualClock,
    MemoryStore,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
)
from referralkit.model import AuthorizationStatus, TaskStatus

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday
LAST_DAY = date(2026, 3, 20)
LAPSE = datetime(2026, 3, 21, 0, 0, tzinfo=UTC)  # the end of the last valid day, UTC
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)


def _approved(desk: ReferralDesk) -> Referral:
    referral = desk.create(
        Referral(
            status=ReferralStatus.RECEIVED,
            patient=Patient(
                given_name="Ada",
                family_name="Lovelace",
                birth_date=date(1980, 1, 2),
                phones=(PhoneContact(number="+15555550123"),),
            ),
            referring_practice=Practice(name="Maple Street FM", fax="+15555550100"),
            specialty="cardiology",
            reason=ReasonForReferral(text="palpitations"),
        ),
        actor=SYSTEM,
    )
    desk.fire(referral.id, "accept", actor=CLINICIAN)
    desk.fire(referral.id, "require_auth", actor=CLINICIAN)
    desk.submit_authorization(referral.id, payer_reference="PAY-1", actor=SCHEDULER)
    return desk.approve_authorization(
        referral.id,
        number="AUTH-1",
        valid_from=date(2026, 3, 1),
        valid_to=LAST_DAY,
        authorized_visits=1,
        actor=SCHEDULER,
    )


def _renewal_tasks(referral: Referral) -> list[str]:
    return [
        t.queue
        for t in referral.tasks
        if t.reason == "authorization_expired" and t.status is TaskStatus.OPEN
    ]


def test_an_approval_past_its_last_day_expires_at_the_next_routing_sweep() -> None:
    clock = ManualClock(T0)
    desk = ReferralDesk(store=MemoryStore(), clock=clock)
    referral = _approved(desk)
    assert referral.status is ReferralStatus.READY_TO_SCHEDULE
    # The store knows when routing must look again: never later than the lapse.
    assert referral.next_routing_at is not None
    assert referral.next_routing_at <= LAPSE

    clock.advance(timedelta(days=16))  # Wednesday the 18th: still valid, expiring soon
    desk.sweep_routing()
    soon = desk.get(referral.id)
    assert soon.authorization.status is AuthorizationStatus.APPROVED
    alerts = [e.data.get("rule_id") for e in desk.history(referral.id)]
    assert "authorization_expiring_unused" in alerts  # staff were told, with no manual call
    assert soon.next_routing_at == LAPSE

    clock.set(LAPSE - timedelta(microseconds=1))
    desk.sweep_routing()
    assert desk.get(referral.id).authorization.status is AuthorizationStatus.APPROVED

    clock.set(LAPSE + timedelta(hours=7))  # whenever the next sweep runs
    desk.sweep_routing()
    expired = desk.get(referral.id)
    assert expired.authorization.status is AuthorizationStatus.EXPIRED
    assert expired.status is ReferralStatus.PENDING_AUTH  # it must be renewed before booking
    assert _renewal_tasks(expired) == ["authorization"]
    [event] = [e for e in desk.history(referral.id) if e.kind == "authorization_expired"]
    assert (event.actor.id, event.data["automatic"], event.data["valid_to"]) == (
        "referralkit.authorization",
        True,
        "2026-03-20",
    )
    desk.verify(referral.id)

    # Later sweeps change nothing; a renewal is the usual submit, approve.
    version = expired.version
    clock.advance(timedelta(days=3))
    desk.sweep_routing()
    assert desk.get(referral.id).version == version
    desk.submit_authorization(referral.id, payer_reference="PAY-2", actor=SCHEDULER)
    renewed = desk.approve_authorization(
        referral.id,
        number="AUTH-2",
        valid_from=date(2026, 3, 24),
        valid_to=date(2026, 4, 30),
        actor=SCHEDULER,
    )
    assert renewed.status is ReferralStatus.READY_TO_SCHEDULE


def test_a_lapse_after_the_visit_expires_without_a_task() -> None:
    clock = ManualClock(T0)
    desk = ReferralDesk(store=MemoryStore(), clock=clock)
    referral = _approved(desk)
    desk.record_booking(
        referral.id, Appointment(start=datetime(2026, 3, 10, 15, tzinfo=UTC)), actor=SCHEDULER
    )
    clock.set(datetime(2026, 3, 10, 17, tzinfo=UTC))
    desk.fire(referral.id, "complete_visit", actor=CLINICIAN)
    clock.set(LAPSE + timedelta(days=1))
    desk.sweep_routing()
    done = desk.get(referral.id)
    assert done.authorization.status is AuthorizationStatus.EXPIRED
    assert done.authorization.used_visits == 1
    assert _renewal_tasks(done) == []  # the visit it was for took place


def _swept_at(offsets: list[int]) -> tuple[object, ...]:
    """Sweep at T0 + each offset (minutes, in order); return what the expiry left behind."""
    clock = ManualClock(T0)
    desk = ReferralDesk(store=MemoryStore(), clock=clock)
    referral = _approved(desk)
    seen_expired_early = False
    for minutes in offsets:
        clock.set(T0 + timedelta(minutes=minutes))
        desk.sweep_routing()
        current = desk.get(referral.id)
        if clock.now() < LAPSE and current.authorization.status is AuthorizationStatus.EXPIRED:
            seen_expired_early = True
    final = desk.get(referral.id)
    expiries = sum(e.kind == "authorization_expired" for e in desk.history(referral.id))
    return (
        seen_expired_early,
        final.status,
        final.authorization.status,
        expiries,
        tuple(_renewal_tasks(final)),
    )


_END = int((LAPSE - T0).total_seconds() // 60) + 3 * 24 * 60  # three days after the lapse


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=_END - 1), max_size=12).map(sorted))
def test_sweeping_at_any_instants_expires_it_exactly_once(offsets: list[int]) -> None:
    # However often (and whenever) the sweeps run before it, the last sweep after the lapse
    # leaves the same result as one sweep then: expired once, one renewal task, never early.
    assert _swept_at([*offsets, _END]) == _swept_at([_END])
    assert _swept_at([_END]) == (
        False,
        ReferralStatus.PENDING_AUTH,
        AuthorizationStatus.EXPIRED,
        1,
        ("authorization",),
    )
