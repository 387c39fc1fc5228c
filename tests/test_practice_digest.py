"""Golden scenarios: one weekly digest per referring practice, across its referrals."""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import pytest
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
    SQLiteStore,
)
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.errors import InvalidTransitionError
from referralkit.outbox import RetryPolicy
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.outreach.policy import PracticeUpdates, ReferrerUpdates, default_policy
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import PracticeUpdateRequest
from referralkit.store import Store

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday
DIGEST_DAY = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # the next Monday, when digests go
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)
MAPLE = Practice(name="Maple Street FM", fax="+15555550100", npi="1234567893")
BIRCH = Practice(name="Birch Family Care", fax="+15555550177", npi="1245319599")
MILESTONE_CODES = {
    "schedule": "scheduled",
    "reschedule": "rescheduled",
    "no_show": "no_show",
    "complete_visit": "visit_completed",
    "close_loop": "report_sent",
    "decline": "declined",
}


class Crash(BaseException):
    """The worker dies (not an adapter error: nothing catches it)."""


def _settings(*practices: Practice) -> OutreachSettings:
    prefs = ReferrerUpdates(
        practices={p.npi: PracticeUpdates(digest=True) for p in practices if p.npi}
    )
    return OutreachSettings(policy=attrs.evolve(default_policy(), referrer_updates=prefs))


class World:
    def __init__(
        self, store: Store | None = None, outreach: OutreachSettings | None = None
    ) -> None:
        self.clock = ManualClock(T0)
        self.plugin = InMemoryPlugin.with_clock(self.clock, sleep=lambda _s: None)
        self.desk = ReferralDesk(
            store=store or MemoryStore(),
            clock=self.clock,
            hooks=Hooks(make_plugin_manager([self.plugin], load_entrypoints=False)),
            retrying=RetryPolicy.no_wait(3),
            outreach=outreach or _settings(MAPLE, BIRCH),
        )

    def referral(self, practice: Practice, number: str) -> Referral:
        return self.desk.create(
            Referral(
                status=ReferralStatus.RECEIVED,
                referral_number=number,
                patient=Patient(
                    given_name="Ada",
                    family_name="Lovelace",
                    birth_date=date(1980, 1, 2),
                    phones=(PhoneContact(number="+15555550123"),),
                    time_zone="America/Chicago",
                ),
                referring_practice=practice,
                receiving_practice=Practice(name="Lakeside Cardiology"),
                specialty="cardiology",
                reason=ReasonForReferral(text="palpitations"),
            ),
            actor=SYSTEM,
        )

    def schedule(self, referral: Referral) -> Referral:
        self.desk.fire(referral.id, "accept", actor=CLINICIAN)
        self.desk.fire(referral.id, "clear", actor=SYSTEM)
        return self.desk.record_booking(
            referral.id, Appointment(start=self.clock.now() + timedelta(days=3)), actor=SCHEDULER
        )

    def updates(self) -> list[PracticeUpdateRequest]:
        return [r for r in self.plugin.notification.sent if isinstance(r, PracticeUpdateRequest)]

    def sweep_until(self, until: datetime) -> None:
        while self.clock.now() < until:
            self.desk.sweep(routing=False)
            self.clock.advance(hours=1)
        self.desk.sweep(routing=False)


def _listed(update: PracticeUpdateRequest) -> dict[UUID, tuple[str, ...]]:
    return {entry.referral_id: entry.milestones for entry in update.referrals}


def _week_of_three(world: World) -> tuple[Referral, Referral, Referral]:
    first = world.schedule(world.referral(MAPLE, "RF-1001"))
    second = world.schedule(world.referral(MAPLE, "RF-1002"))
    third = world.schedule(world.referral(BIRCH, "RF-2001"))
    world.clock.advance(days=3, hours=1)  # Thursday: the first patient is seen
    world.desk.fire(first.id, "complete_visit", actor=CLINICIAN)
    return first, second, third


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_one_digest_per_practice_lists_each_referral_and_its_milestones(
    backend: str, tmp_path: Path
) -> None:
    # On SQLite too: the intents and outcomes are read back from stored events.
    world = World(SQLiteStore(tmp_path / "digest.db") if backend == "sqlite" else None)
    first, second, third = _week_of_three(world)
    world.sweep_until(DIGEST_DAY - timedelta(hours=1))
    assert world.updates() == []  # nothing before the week is over
    world.sweep_until(DIGEST_DAY)
    by_practice = {u.destination: u for u in world.updates()}
    assert len(world.updates()) == 2
    maple, birch = by_practice[MAPLE.fax], by_practice[BIRCH.fax]  # type: ignore[index]
    assert maple.milestone == birch.milestone == "weekly_digest"
    assert _listed(maple) == {
        first.id: ("scheduled", "visit_completed"),
        second.id: ("scheduled",),
    }
    numbers = {first.id: "RF-1001", second.id: "RF-1002"}
    assert [e.referral_number for e in maple.referrals] == [
        numbers[i] for i in sorted(numbers, key=str)
    ]
    assert maple.milestones == tuple(code for e in maple.referrals for code in e.milestones)
    assert _listed(birch) == {third.id: ("scheduled",)}
    assert birch.referral_id == third.id
    assert birch.referral_number == "RF-2001"
    # Repeated sweeps, for weeks: nothing is sent again.
    world.sweep_until(DIGEST_DAY + timedelta(days=8))
    assert len(world.updates()) == 2


def test_a_crash_between_commit_and_send_resends_once_with_the_same_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World()
    first, second, third = _week_of_three(world)
    world.sweep_until(DIGEST_DAY - timedelta(hours=1))
    notification = world.plugin.notification
    original = type(notification).update_practice
    keys: list[str] = []

    def send_then_die(self: Any, request: PracticeUpdateRequest) -> Any:
        receipt = original(self, request)  # the vendor has it...
        keys.append(request.idempotency_key)
        if len(keys) == 1:
            raise Crash  # ...but the worker dies before recording the outcome
        return receipt

    monkeypatch.setattr(type(notification), "update_practice", send_then_die)
    world.clock.set(DIGEST_DAY)
    with pytest.raises(Crash):
        world.desk.sweep(routing=False)
    (crashed,) = world.updates()
    members = {entry.referral_id for entry in crashed.referrals}
    for member in members:
        kinds = [e.kind for e in world.desk.history(member)]
        assert "digest_intent" in kinds
        assert "digest_outcome" not in kinds
    world.clock.advance(minutes=30)  # past the in-flight timeout: the digest is resumed
    world.sweep_until(DIGEST_DAY + timedelta(days=2))
    assert Counter(keys)[crashed.idempotency_key] == 2  # re-sent once, with the same key
    assert len(world.updates()) == 2  # the vendor dropped the repeat: one digest each
    for member in members:
        (outcome,) = [e for e in world.desk.history(member) if e.kind == "digest_outcome"]
        assert outcome.data["key"] == crashed.idempotency_key
        assert (outcome.data["outcome"], outcome.data["duplicate"]) == ("sent", True)
    assert members == ({first.id, second.id} if crashed.destination == MAPLE.fax else {third.id})


def test_an_interrupted_digest_is_not_resent_through_an_adapter_that_cannot_dedupe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outreach = attrs.evolve(_settings(MAPLE), non_deduping=frozenset({"notification"}))
    world = World(outreach=outreach)
    only = world.schedule(world.referral(MAPLE, "RF-1001"))
    world.sweep_until(DIGEST_DAY - timedelta(hours=1))
    notification = world.plugin.notification
    original = type(notification).update_practice
    calls: list[str] = []

    def send_then_die(self: Any, request: PracticeUpdateRequest) -> Any:
        original(self, request)
        calls.append(request.idempotency_key)
        raise Crash

    monkeypatch.setattr(type(notification), "update_practice", send_then_die)
    world.clock.set(DIGEST_DAY)
    with pytest.raises(Crash):
        world.desk.sweep(routing=False)
    world.clock.advance(minutes=30)
    world.sweep_until(DIGEST_DAY + timedelta(days=2))
    assert len(calls) == 1  # never sent twice: a person checks instead
    (outcome,) = [e for e in world.desk.history(only.id) if e.kind == "digest_outcome"]
    assert outcome.data["outcome"] == "unknown"
    (task,) = world.desk.get(only.id).tasks
    assert "unknown" in task.reason


def test_a_group_a_member_never_joined_is_formed_again_and_sent_once() -> None:
    world = World()
    first, second, _ = _week_of_three(world)
    world.sweep_until(DIGEST_DAY - timedelta(hours=1))
    world.clock.set(DIGEST_DAY)
    # A worker recorded the first member's intent and died before the second's.
    members = sorted([first.id, second.id], key=str)
    world.desk.amend(
        members[0],
        "digest_intent",
        actor=SYSTEM,
        update={},
        data={
            "key": "0" * 64,
            "practice": MAPLE.npi,
            "period": "2026-03-02",
            "members": [str(m) for m in members],
            "attempt": 1,
            "items": [],
            "status": "scheduled",
            "number": None,
        },
    )
    world.clock.advance(minutes=30)
    world.sweep_until(DIGEST_DAY + timedelta(days=2))
    maple = [u for u in world.updates() if u.destination == MAPLE.fax]
    assert len(maple) == 1
    assert maple[0].idempotency_key != "0" * 64
    assert _listed(maple[0]) == {
        first.id: ("scheduled", "visit_completed"),
        second.id: ("scheduled",),
    }


def test_a_referral_another_sweeper_holds_goes_in_a_later_digest_never_in_two() -> None:
    world = World()
    first, second, _ = _week_of_three(world)
    world.sweep_until(DIGEST_DAY - timedelta(hours=1))
    world.clock.set(DIGEST_DAY)
    store = world.desk.store
    assert isinstance(store, MemoryStore)
    # Another worker holds one of Maple's referrals while this one sweeps.
    claimed = store.claim_due(DIGEST_DAY, worker="other", lease=timedelta(minutes=10))
    held = next(r for r in claimed if r.id in (first.id, second.id))
    for other in claimed:
        if other.id != held.id:
            store.release(other.id, worker="other")
    world.desk.sweep(routing=False)
    store.release(held.id, worker="other")
    world.sweep_until(DIGEST_DAY + timedelta(days=2))
    maple = [u for u in world.updates() if u.destination == MAPLE.fax]
    assert [set(_listed(u)) for u in maple] == [{first.id, second.id} - {held.id}, {held.id}]
    listed = {k: v for u in maple for k, v in _listed(u).items()}
    assert listed == {first.id: ("scheduled", "visit_completed"), second.id: ("scheduled",)}


def test_a_digest_groups_only_the_referrals_of_the_desk_tenant() -> None:
    shared = MemoryStore(tenant="clinic-a")
    world = World(shared)
    mine = world.schedule(world.referral(MAPLE, "RF-A1"))
    other = World(shared.for_tenant("clinic-b"))
    theirs = other.schedule(other.referral(MAPLE, "RF-B1"))
    world.sweep_until(DIGEST_DAY)
    other.clock.set(DIGEST_DAY)
    other.desk.sweep(routing=False)
    (a,) = world.updates()
    (b,) = other.updates()
    assert _listed(a) == {mine.id: ("scheduled",)}
    assert _listed(b) == {theirs.id: ("scheduled",)}


def test_a_failed_digest_is_retried_as_a_new_attempt_with_a_task() -> None:
    world = World()
    world.schedule(world.referral(MAPLE, "RF-1001"))
    world.sweep_until(DIGEST_DAY - timedelta(hours=1))
    world.plugin.notification.fail_next(1, "permanent")
    world.sweep_until(DIGEST_DAY)
    assert world.updates() == []
    world.sweep_until(DIGEST_DAY + timedelta(days=1))
    (sent,) = world.updates()
    assert sent.milestones == ("scheduled",)


# -- Property: each (practice, milestone occurrence) at most once, digests on -----------------

STEPS = st.lists(
    st.tuples(
        st.sampled_from(["sweep", "complete", "no_show", "rebook", "close", "advance", "crash"]),
        st.integers(0, 2),
    ),
    max_size=14,
)


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_each_practice_milestone_occurrence_is_sent_at_most_once_with_digests(
    steps: list[tuple[str, int]],
) -> None:
    world = World()
    desk = world.desk
    referrals = [
        world.schedule(world.referral(MAPLE, "RF-1")),
        world.schedule(world.referral(MAPLE, "RF-2")),
        world.schedule(world.referral(BIRCH, "RF-3")),
    ]
    notification = world.plugin.notification
    original = type(notification).update_practice
    for step, which in steps:
        referral = desk.get(referrals[which].id)
        try:
            if step == "sweep":
                desk.sweep(routing=False)
            elif step == "advance":
                # Hours to a week, so digest days (and crashes on them) come up often.
                world.clock.advance(hours=(5, 30, 7 * 24)[which])
            elif step == "crash":
                # On the next digest day, when a digest may be what the vendor gets.
                world.clock.set(_next_digest_day(world.clock.now()))
                crash_after_send(world, original)
            elif step == "rebook" and referral.status is ReferralStatus.READY_TO_SCHEDULE:
                desk.record_booking(
                    referral.id,
                    Appointment(start=world.clock.now() + timedelta(days=2)),
                    actor=SCHEDULER,
                )
            elif step == "no_show" and referral.status is ReferralStatus.SCHEDULED:
                desk.fire(referral.id, "no_show", actor=SCHEDULER)
            elif step == "complete" and referral.status is ReferralStatus.SCHEDULED:
                desk.fire(referral.id, "complete_visit", actor=CLINICIAN)
            elif step == "close" and referral.status is ReferralStatus.VISIT_COMPLETED:
                desk.fire(
                    referral.id, "close_loop", actor=CLINICIAN, data={"report_reference": "d"}
                )
        except InvalidTransitionError:
            pass
    world.clock.advance(days=8, minutes=30)
    world.sweep_until(world.clock.now() + timedelta(hours=2))
    updates = world.updates()
    assert all(n == 1 for n in Counter(u.idempotency_key for u in updates).values())
    for referral in referrals:
        # Each milestone event is in at most one sent digest (its occurrence is its seq) ...
        history = desk.history(referral.id)
        sent_keys = {
            e.data["key"]
            for e in history
            if e.kind == "digest_outcome" and e.data["outcome"] == "sent"
        }
        seqs = [
            seq
            for e in history
            if e.kind == "digest_intent" and e.data["key"] in sent_keys
            for seq, _ in e.data["items"]
        ]
        assert len(seqs) == len(set(seqs))
        # ... and the practice is told no milestone more often than it happened.
        told = Counter(
            code
            for u in updates
            for entry in u.referrals
            if entry.referral_id == referral.id
            for code in entry.milestones
        )
        happened = Counter(MILESTONE_CODES.get(e.kind, e.kind) for e in history)
        for code, n in told.items():
            assert n <= happened[code]
        # Nothing of a finished week is left unsent (never lost).
        milestones = [e for e in history if e.kind in MILESTONE_CODES]
        assert {e.seq for e in milestones} <= set(seqs)


def _next_digest_day(now: datetime) -> datetime:
    monday = now.date() + timedelta(days=(7 - now.weekday()) % 7)
    at = datetime.combine(monday, time(13), tzinfo=UTC)
    return at if at >= now else at + timedelta(days=7)


def crash_after_send(world: World, original: Any) -> None:
    """Sweep once with a vendor that takes the message and then kills the worker."""
    notification = world.plugin.notification

    def send_then_die(self: Any, request: PracticeUpdateRequest) -> Any:
        original(self, request)
        raise Crash

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(type(notification), "update_practice", send_then_die)
        with contextlib.suppress(Crash):
            world.desk.sweep(routing=False)
