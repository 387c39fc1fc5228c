"""PostgresStore specifics: concurrency between workers, schema handling, bad input.

The behaviour every store shares is in test_store_conformance.py, which runs on PostgreSQL too.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from referralkit import (
    Actor,
    ActorKind,
    ConflictError,
    CorruptRecordError,
    ManualClock,
    NotAReferralkitDatabaseError,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
    StoreError,
)
from tests.pg import DSN, server_or_skip, throwaway_schema

pytestmark = pytest.mark.postgres

START = datetime(2026, 3, 2, 14, tzinfo=UTC)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-a", role=Role.CLINICIAN)


@pytest.fixture
def schema():
    server_or_skip()
    yield from throwaway_schema()


def _store(schema):
    from referralkit.adapters.postgres import PostgresStore

    return PostgresStore(DSN, schema=schema)


def test_two_workers_racing_on_one_referral_exactly_one_wins_each_round(schema):
    first = ReferralDesk(store=_store(schema), clock=ManualClock(START))
    second = ReferralDesk(store=_store(schema), clock=ManualClock(START))
    referral = first.create(Referral(), actor=CLINICIAN)
    committed = 1
    conflicts = 0
    for round_ in range(20):
        trigger = "hold" if round_ % 2 == 0 else "resume"
        data = {"reason": "travel"} if trigger == "hold" else None
        seen = first.get(referral.id).version
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def attempt(
            desk, seen=seen, trigger=trigger, data=data, barrier=barrier, outcomes=outcomes
        ):
            barrier.wait()
            try:
                desk.fire(referral.id, trigger, actor=CLINICIAN, data=data, expected_version=seen)
                outcomes.append("won")
            except ConflictError:
                outcomes.append("conflict")

        threads = [threading.Thread(target=attempt, args=(d,)) for d in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["conflict", "won"]
        committed += 1
        conflicts += 1
    final = first.get(referral.id)
    assert final.version == committed
    assert len(first.history(referral.id)) == committed
    first.verify(referral.id)
    assert conflicts == 20
    first.close()
    second.close()


def test_reopening_a_schema_keeps_its_referrals(schema):
    store = _store(schema)
    desk = ReferralDesk(store=store, clock=ManualClock(START))
    referral = desk.create(Referral(), actor=CLINICIAN)
    store.close()
    again = _store(schema)
    assert again.get(referral.id) == referral
    assert again.schema_version == 1
    again.close()


def test_a_schema_written_by_a_newer_release_is_refused(schema):
    import psycopg

    _store(schema).close()
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"UPDATE {schema}.referralkit_schema SET version = 99")
    with pytest.raises(NotAReferralkitDatabaseError, match="newer"):
        _store(schema)


def test_corrupt_referral_json_is_a_typed_error(schema):
    import psycopg

    store = _store(schema)
    referral = ReferralDesk(store=store, clock=ManualClock(START)).create(
        Referral(), actor=CLINICIAN
    )
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(
            f"UPDATE {schema}.referralkit_referrals SET body = '{{\"status\": 7}}'::jsonb"
        )
    with pytest.raises(CorruptRecordError, match=str(referral.id)):
        store.get(referral.id)
    store.close()


def test_an_unreachable_server_is_a_store_error():
    pytest.importorskip("psycopg")
    from referralkit.adapters.postgres import PostgresStore

    with pytest.raises(StoreError, match="cannot connect"):
        PostgresStore("host=127.0.0.1 port=1 dbname=test", connect_timeout=1)


def test_open_accepts_a_postgresql_url(schema):
    import psycopg

    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    desk = ReferralDesk.open(f"postgresql://127.0.0.1:5432/test?options=-csearch_path%3D{schema}")
    try:
        referral = desk.create(Referral(), actor=CLINICIAN)
        assert desk.list(ReferralStatus.INTAKE)[0].id == referral.id
    finally:
        desk.close()
