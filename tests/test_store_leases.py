"""Leases: claim, release and reschedule on every :class:`~referralkit.store.LeasingStore`.

Parametrised like ``test_store_conformance.py``: add a backend to ``STORE_FACTORIES``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from referralkit import (
    Actor,
    ActorKind,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralStatus,
    Role,
    SQLiteStore,
    created,
    shared_lifecycle,
)
from referralkit.adapters.sqlite import SCHEMA_VERSION
from referralkit.store import LeasingStore
from tests.support.pg import STORE_FACTORIES, open_store_for
from tests.support.schema import undo_sqlite_tenants

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
REFERRER = Actor(kind=ActorKind.HUMAN, id="pcp-desk", role=Role.REFERRER)


@pytest.fixture(params=list(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LeasingStore]:
    yield from open_store_for(request.param, tmp_path)


def _referral(next_action_at: datetime | None) -> Referral:
    return Referral(
        status=ReferralStatus.RECEIVED,
        patient=Patient(
            given_name="Ada",
            family_name="Lovelace",
            birth_date=date(1980, 1, 2),
            phones=(PhoneContact(number="+15555550123"),),
        ),
        referring_practice=Practice(name="Maple Street Family Medicine"),
        specialty="cardiology",
        reason=ReasonForReferral(text="chest pain"),
        next_action_at=next_action_at,
    )


def _add(store: LeasingStore, next_action_at: datetime | None) -> Referral:
    change = created(_referral(next_action_at), REFERRER, NOW)
    store.create(change.referral, change.event)
    return change.referral


def test_both_stores_satisfy_the_leasing_protocol(store: LeasingStore) -> None:
    assert isinstance(store, LeasingStore)


def test_claim_returns_only_due_referrals_in_due_order(store: LeasingStore) -> None:
    late = _add(store, NOW - timedelta(minutes=1))
    early = _add(store, NOW - timedelta(hours=1))
    _add(store, NOW + timedelta(minutes=1))
    _add(store, None)
    claimed = store.claim_due(NOW, worker="w1", lease=LEASE)
    assert [r.id for r in claimed] == [early.id, late.id]


def test_claim_respects_the_limit(store: LeasingStore) -> None:
    for minutes in range(5):
        _add(store, NOW - timedelta(minutes=minutes))
    assert len(store.claim_due(NOW, worker="w1", lease=LEASE, limit=2)) == 2
    assert len(store.claim_due(NOW, worker="w1", lease=LEASE, limit=10)) == 3


def test_a_live_lease_hides_the_referral_from_other_workers(store: LeasingStore) -> None:
    _add(store, NOW)
    assert len(store.claim_due(NOW, worker="w1", lease=LEASE)) == 1
    assert store.claim_due(NOW + timedelta(minutes=4), worker="w2", lease=LEASE) == []


def test_an_expired_lease_lets_another_worker_claim(store: LeasingStore) -> None:
    referral = _add(store, NOW)
    store.claim_due(NOW, worker="w1", lease=LEASE)
    claimed = store.claim_due(NOW + LEASE, worker="w2", lease=LEASE)
    assert [r.id for r in claimed] == [referral.id]


def test_release_frees_the_referral_at_once(store: LeasingStore) -> None:
    referral = _add(store, NOW)
    store.claim_due(NOW, worker="w1", lease=LEASE)
    assert store.release(referral.id, worker="w1") is True
    assert [r.id for r in store.claim_due(NOW, worker="w2", lease=LEASE)] == [referral.id]


def test_release_by_a_worker_whose_lease_was_taken_over_changes_nothing(
    store: LeasingStore,
) -> None:
    referral = _add(store, NOW)
    store.claim_due(NOW, worker="w1", lease=LEASE)
    store.claim_due(NOW + LEASE, worker="w2", lease=LEASE)
    assert store.release(referral.id, worker="w1") is False
    assert store.claim_due(NOW + LEASE, worker="w3", lease=LEASE) == []


def test_release_without_a_lease_returns_false(store: LeasingStore) -> None:
    referral = _add(store, NOW)
    assert store.release(referral.id, worker="w1") is False


def test_claiming_changes_neither_version_nor_events(store: LeasingStore) -> None:
    referral = _add(store, NOW)
    store.claim_due(NOW, worker="w1", lease=LEASE)
    assert store.get(referral.id) == referral
    assert len(store.events(referral.id)) == 1


def test_reschedule_moves_next_action_at_without_an_event(store: LeasingStore) -> None:
    referral = _add(store, NOW)
    later = NOW + timedelta(days=1)
    assert store.reschedule(referral, later) is True
    stored = store.get(referral.id)
    assert stored.next_action_at == later
    assert stored.version == referral.version
    assert len(store.events(referral.id)) == 1
    assert store.claim_due(NOW, worker="w1", lease=LEASE) == []
    assert [r.id for r in store.due(later)] == [referral.id]


def test_reschedule_to_none_takes_the_referral_off_the_due_list(store: LeasingStore) -> None:
    referral = _add(store, NOW)
    assert store.reschedule(referral, None) is True
    assert store.due(NOW + timedelta(days=999)) == []


def test_reschedule_of_a_stale_version_writes_nothing(store: LeasingStore) -> None:
    referral = _add(store, NOW)
    change = shared_lifecycle().fire(
        referral,
        "hold",
        actor=REFERRER,
        now=NOW,
        data={"reason": "waiting"},
    )
    store.save(change.referral, change.event, expected_version=referral.version)
    assert store.reschedule(referral, NOW + timedelta(days=3)) is False
    assert store.get(referral.id).next_action_at == NOW


def test_reschedule_of_a_missing_referral_returns_false(store: LeasingStore) -> None:
    assert store.reschedule(_referral(NOW), NOW) is False


def test_two_sqlite_connections_never_claim_the_same_referral(tmp_path: Path) -> None:
    first = SQLiteStore(tmp_path / "shared.db")
    second = SQLiteStore(tmp_path / "shared.db")
    try:
        for minutes in range(10):
            _add(first, NOW - timedelta(minutes=minutes))
        a = {r.id for r in first.claim_due(NOW, worker="a", lease=LEASE, limit=6)}
        b = {r.id for r in second.claim_due(NOW, worker="b", lease=LEASE, limit=6)}
        assert len(a) == 6
        assert len(b) == 4
        assert not a & b
    finally:
        first.close()
        second.close()


def test_sqlite_migration_adds_the_leases_table_to_a_version_1_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:  # roll the file back to schema 1, as 0.1 shipped it
        undo_sqlite_tenants(conn)
        conn.execute("DROP TABLE leases")
        conn.execute("DROP TABLE tasks")  # added by a later migration too
        conn.execute("ALTER TABLE referrals DROP COLUMN seal_key")
        conn.execute("ALTER TABLE referrals DROP COLUMN seal")
        conn.execute("DROP INDEX referrals_next_routing")
        conn.execute("ALTER TABLE referrals DROP COLUMN next_routing_at")
        conn.execute("UPDATE referralkit_schema SET version = 1")
    conn.close()
    reopened = SQLiteStore(path)
    try:
        assert reopened.schema_version == SCHEMA_VERSION
        _add(reopened, NOW)
        assert len(reopened.claim_due(NOW, worker="w", lease=LEASE)) == 1
    finally:
        reopened.close()
