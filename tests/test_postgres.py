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
from tests.support.pg import DSN, server_or_skip, throwaway_schema

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
    from referralkit.adapters.postgres import SCHEMA_VERSION

    again = _store(schema)
    try:
        assert again.get(referral.id) == referral
        assert again.schema_version == SCHEMA_VERSION
    finally:
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


def test_workers_claiming_at_once_never_share_a_referral(schema):
    from datetime import timedelta

    from referralkit.lifecycle import created

    stores = [_store(schema) for _ in range(4)]
    due_at = START - timedelta(minutes=1)
    stores[0].create_many(
        (
            (c.referral.model_copy(update={"next_action_at": due_at}), c.event)
            for c in (created(Referral(), CLINICIAN, START) for _ in range(200))
        ),
        batch_size=50,
    )
    claimed: dict[str, list] = {}
    barrier = threading.Barrier(len(stores))

    def claim(index: int) -> None:
        barrier.wait()
        got = []
        while batch := stores[index].claim_due(
            START, worker=f"w{index}", lease=timedelta(minutes=5), limit=7
        ):
            got.extend(r.id for r in batch)
        claimed[f"w{index}"] = got

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [rid for ids in claimed.values() for rid in ids]
    assert len(everything) == len(set(everything)) == 200
    for store in stores:
        store.close()
