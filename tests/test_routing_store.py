"""Every store indexes ``next_routing_at``: due queries, keyset paging, rescheduling, migration."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from referralkit import SQLiteStore
from referralkit.lifecycle import created
from referralkit.model import Actor, ActorKind, Referral, Role
from referralkit.store import RoutingStore
from tests.support.builders import complete_referral
from tests.support.pg import DSN, STORE_FACTORIES, open_store_for, server_or_skip, throwaway_schema
from tests.support.schema import undo_postgres_tenants, undo_sqlite_tenants

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ACTOR = Actor(kind=ActorKind.HUMAN, id="intake", role=Role.INTAKE)


@pytest.fixture(params=list(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RoutingStore]:
    for opened in open_store_for(request.param, tmp_path):
        assert isinstance(opened, RoutingStore)
        yield opened


def _add(store: RoutingStore, n: int, due: datetime | None) -> Referral:
    change = created(complete_referral(id=UUID(int=n)), ACTOR, NOW)
    referral = change.referral.model_copy(update={"next_routing_at": due})
    store.create(referral, change.event)
    return referral


def test_due_for_routing_returns_what_is_due_in_time_order(store: RoutingStore) -> None:
    _add(store, 1, NOW + timedelta(hours=1))
    _add(store, 2, NOW - timedelta(hours=1))
    _add(store, 3, None)
    _add(store, 4, NOW)
    _add(store, 5, NOW - timedelta(hours=1))
    due = store.due_for_routing(NOW)
    assert [r.id.int for r in due] == [2, 5, 4]
    assert [r.id.int for r in store.due_for_routing(NOW + timedelta(days=1))] == [2, 5, 4, 1]


def test_due_for_routing_pages_by_keyset(store: RoutingStore) -> None:
    for n in range(1, 8):
        _add(store, n, NOW - timedelta(minutes=n % 3))
    seen: list[int] = []
    after = None
    while page := store.due_for_routing(NOW, limit=3, after=after):
        seen += [r.id.int for r in page]
        last = page[-1]
        assert last.next_routing_at is not None
        after = (last.next_routing_at, last.id)
    assert seen == [2, 5, 1, 4, 7, 3, 6]


def test_saving_a_change_moves_next_routing_at(store: RoutingStore) -> None:
    referral = _add(store, 1, NOW)
    from referralkit.lifecycle import shared_lifecycle

    change = shared_lifecycle().fire(
        referral, "hold", actor=ACTOR, now=NOW, data={"reason": "travel"}
    )
    moved = change.referral.model_copy(update={"next_routing_at": NOW + timedelta(days=2)})
    store.save(moved, change.event, expected_version=1)
    assert store.due_for_routing(NOW + timedelta(days=1)) == []
    assert [r.id for r in store.due_for_routing(NOW + timedelta(days=2))] == [referral.id]


def test_reschedule_routing_keeps_the_version_and_adds_no_event(store: RoutingStore) -> None:
    referral = _add(store, 1, NOW)
    assert store.reschedule_routing(referral, NOW + timedelta(hours=5))
    stored = store.get(referral.id)
    assert (stored.version, stored.next_routing_at) == (1, NOW + timedelta(hours=5))
    assert len(store.events(referral.id)) == 1
    assert store.due_for_routing(NOW) == []


def test_reschedule_routing_of_a_stale_version_writes_nothing(store: RoutingStore) -> None:
    referral = _add(store, 1, NOW)
    stale = referral.model_copy(update={"version": 7})
    assert not store.reschedule_routing(stale, None)
    assert store.get(referral.id).next_routing_at == NOW


def test_sqlite_migration_makes_open_referrals_stored_before_it_due(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = SQLiteStore(path)
    _add(old, 1, None)
    old.close()
    with sqlite3.connect(path) as conn:  # roll the file back to schema 2, before the column
        undo_sqlite_tenants(conn)
        conn.execute("DROP INDEX referrals_next_routing")
        conn.execute("ALTER TABLE referrals DROP COLUMN next_routing_at")
        conn.execute("UPDATE referralkit_schema SET version = 4")
    conn.close()
    reopened = SQLiteStore(path)
    try:
        (due,) = reopened.due_for_routing(NOW)
        assert (due.id.int, due.next_routing_at) == (1, EPOCH)
        with sqlite3.connect(path) as conn:
            plan = conn.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM referrals WHERE tenant = 'default'"
                " AND next_routing_at IS NOT NULL"
                " AND next_routing_at <= 0 ORDER BY next_routing_at, id LIMIT 10"
            ).fetchall()
        conn.close()
        assert "referrals_next_routing" in str(plan)
    finally:
        reopened.close()


def test_postgres_migration_makes_open_referrals_stored_before_it_due() -> None:
    server_or_skip()
    import psycopg

    from referralkit.adapters.postgres import PostgresStore

    for schema in throwaway_schema():
        old = PostgresStore(DSN, schema=schema)
        _add(old, 1, None)
        old.close()
        with psycopg.connect(DSN, autocommit=True) as conn:
            undo_postgres_tenants(conn, schema)
            conn.execute(f"DROP INDEX {schema}.referralkit_referrals_next_routing")
            conn.execute(f"ALTER TABLE {schema}.referralkit_referrals DROP COLUMN next_routing_at")
            conn.execute(f"UPDATE {schema}.referralkit_schema SET version = 4")
        reopened = PostgresStore(DSN, schema=schema)
        try:
            (due,) = reopened.due_for_routing(NOW)
            assert (due.id.int, due.next_routing_at) == (1, EPOCH)
        finally:
            reopened.close()


def test_one_sweep_after_the_sqlite_migration_routes_every_open_referral(tmp_path: Path) -> None:
    from referralkit import ManualClock, ReferralDesk

    path = tmp_path / "old.db"
    old = SQLiteStore(path)
    for n in range(1, 6):
        _add(old, n, None)
    old.close()
    with sqlite3.connect(path) as conn:  # as a release before the column wrote it
        undo_sqlite_tenants(conn)
        conn.execute("DROP INDEX referrals_next_routing")
        conn.execute("ALTER TABLE referrals DROP COLUMN next_routing_at")
        conn.execute("UPDATE referralkit_schema SET version = 4")
    conn.close()
    desk = ReferralDesk(store=SQLiteStore(path), clock=ManualClock(NOW + timedelta(minutes=5)))
    try:
        first = desk.sweep_routing(page_size=2)
        second = desk.sweep_routing(page_size=2)
    finally:
        desk.close()
    assert (first.examined, first.decisions) == (5, 5)
    assert (second.examined, second.decisions) == (0, 0)
