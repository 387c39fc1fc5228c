"""Referrals we sent are listed by sending state on every store, and chasing the patient goes
through the outbox's consent and contact-window checks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from referralkit import (
    Actor,
    ActorKind,
    ManualClock,
    MemoryStore,
    Patient,
    PhoneContact,
    Practice,
    Referral,
    ReferralDesk,
    Role,
    SQLiteStore,
)
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.desk.referring import ReceiverAnswer, SentCopy
from referralkit.model import Channel, OutboundStatus, ReferralPackage
from referralkit.outbox import RetryPolicy
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.referring import OUTBOUND_QUEUE
from referralkit.store import OutboundStore, Store
from tests.support.pg import open_store_for

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday, 10:00 in Chicago
STAFF = Actor(kind=ActorKind.HUMAN, id="coord-1", role=Role.REFERRER)
DOCTOR = Actor(kind=ActorKind.HUMAN, id="dr-1", role=Role.CLINICIAN)
CHANNEL = Actor(kind=ActorKind.INTEGRATION, id="direct", role=Role.SYSTEM)
CARDIO = Practice(name="Lakeside Cardiology", id="lakeside", fax="+15555550199")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from open_store_for(request.param, tmp_path)


def _desk(store: Store) -> tuple[ReferralDesk, ManualClock, InMemoryPlugin]:
    clock = ManualClock(T0)
    plugin = InMemoryPlugin.with_clock(clock, sleep=lambda _s: None)
    desk = ReferralDesk(
        store=store,
        clock=clock,
        hooks=Hooks(make_plugin_manager([plugin], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(3),
    )
    return desk, clock, plugin


def _sent(desk: ReferralDesk, *, patient_books: bool = False) -> Referral:
    draft = desk.referring.draft(
        Referral(
            patient=Patient(
                given_name="Ada",
                family_name="Byron",
                birth_date=date(1980, 1, 2),
                phones=(PhoneContact(number="+15555550123"),),
                time_zone="America/Chicago",
            ),
            referring_practice=Practice(name="Elm Street Primary Care"),
            receiving_practice=CARDIO,
            specialty="cardiology",
        ),
        actor=STAFF,
        patient_books=patient_books,
    )
    desk.referring.prepare_package(draft.id, ReferralPackage(reason="murmur"), actor=STAFF)
    desk.referring.release_package(draft.id, actor=DOCTOR)
    referral, _ = desk.referring.send(draft.id, SentCopy(b"pdf", "pkg"), actor=STAFF)
    return referral


def test_referrals_we_sent_are_listed_by_sending_state(store: Store) -> None:
    assert isinstance(store, OutboundStore)
    desk, _clock, _plugin = _desk(store)
    received = desk.create(Referral(specialty="cardiology"), actor=STAFF)
    draft = desk.referring.draft(Referral(specialty="cardiology"), actor=STAFF)
    sent = [_sent(desk) for _ in range(3)]
    delivered = store.list_outbound([OutboundStatus.DELIVERED], limit=2)
    rest = store.list_outbound([OutboundStatus.DELIVERED], after=delivered[-1].id)
    assert [r.id for r in [*delivered, *rest]] == sorted((r.id for r in sent), key=str)
    assert [r.id for r in store.list_outbound([OutboundStatus.DRAFT])] == [draft.id]
    everything = {r.id for r in store.list_outbound(list(OutboundStatus))}
    assert received.id not in everything
    assert store.list_outbound([]) == []


def test_sqlite_lists_sent_referrals_through_their_index(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "s.db").close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT id, body FROM referrals WHERE tenant = ?"
            " AND status = 'intake' AND json_extract(body, '$.outbound.status') IN (?)"
            " ORDER BY id LIMIT ?",
            ("default", "sent", 5),
        ).fetchall()
    assert any("referrals_outbound" in str(row) for row in plan)


def test_a_patient_who_books_is_asked_only_inside_the_contact_window() -> None:
    desk, clock, plugin = _desk(MemoryStore())
    referral = _sent(desk, patient_books=True)
    desk.referring.record_answer(referral.id, ReceiverAnswer("accepted", "a-1"), actor=CHANNEL)
    # Ten business days later, at 23:00 in Chicago: the receiver task opens, the text waits.
    clock.advance(days=14, hours=13)
    report = desk.referring.chase()
    assert (report.done, report.refused) == ((("ask_appointment", 1),), 1)
    assert plugin.telephony.sms == []
    clock.advance(hours=11)  # 10:00 in Chicago
    report = desk.referring.chase()
    assert report.done == (("ask_patient", 1),)
    assert [s.template_id for s in plugin.telephony.sms] == ["referral.did_you_book"]
    assert "did you book" in plugin.telephony.sms[0].body
    assert desk.referring.chase().done == ()  # asked once
    tasks = [t.reason for t in desk.get(referral.id).tasks if t.queue == OUTBOUND_QUEUE]
    assert tasks == ["no_appointment"]


def test_a_patient_who_opted_out_is_never_asked() -> None:
    desk, clock, plugin = _desk(MemoryStore())
    referral = _sent(desk, patient_books=True)
    desk.referring.record_answer(referral.id, ReceiverAnswer("accepted", "a-1"), actor=CHANNEL)
    desk.withdraw_consent(referral.id, Channel.SMS, actor=STAFF)
    clock.advance(days=15)
    report = desk.referring.chase()
    assert report.refused == 1
    assert plugin.telephony.sms == []


def test_sent_referrals_get_no_receiving_side_routing_or_outreach(store: Store) -> None:
    desk, clock, _plugin = _desk(store)
    referral = _sent(desk)
    stored = desk.get(referral.id)
    assert (stored.next_action_at, stored.next_routing_at) == (None, None)
    clock.advance(days=30)
    desk.sweep_routing()
    assert [t.queue for t in desk.get(referral.id).tasks] == []
    desk.verify(referral.id)  # the sending events replay through the sending lifecycle
    assert desk.get(referral.id).outbound.status is OutboundStatus.DELIVERED  # type: ignore[union-attr]
