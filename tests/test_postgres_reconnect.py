"""PostgresStore after a server restart: it reconnects, and nothing is half-written.

A restart looks to a client like the server ending its session, so the tests end the store's
sessions with ``pg_terminate_backend`` (found by a per-test ``application_name``) rather than
restarting the shared server.
"""

from __future__ import annotations

import uuid

import pytest

from referralkit import ReferralDesk, StoreError
from tests.support.outreach_world import CLINICIAN, SYSTEM, plain_referral
from tests.support.pg import DSN, drop_schema, server_or_skip

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema():
    server_or_skip()
    name = f"rk_test_{uuid.uuid4().hex[:12]}"
    yield name
    drop_schema(name)


def _open(schema: str, pool_size: int | None):
    from psycopg.conninfo import make_conninfo

    from referralkit.adapters.postgres import PostgresStore

    if pool_size is not None:
        pytest.importorskip("psycopg_pool", reason="psycopg_pool missing: referralkit[worker]")
    tag = f"restart_{schema}"
    store = PostgresStore(make_conninfo(DSN, application_name=tag), schema=schema,
                          pool_size=pool_size)  # fmt: skip
    return store, tag


def _restart(tag: str) -> int:
    import psycopg

    with psycopg.connect(DSN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s",
            (tag,),
        ).fetchone()
    return int(row[0])


@pytest.mark.parametrize("pool_size", [None, 2], ids=["one-connection", "pooled"])
def test_reads_carry_on_after_the_server_ends_the_session(schema, pool_size):
    store, tag = _open(schema, pool_size)
    with ReferralDesk(store=store) as desk:
        referral = desk.create(plain_referral(), actor=SYSTEM)
        assert _restart(tag) >= 1
        assert desk.get(referral.id).version == referral.version
        assert desk.history(referral.id)[0].kind == "created"


@pytest.mark.parametrize("pool_size", [None, 2], ids=["one-connection", "pooled"])
def test_a_write_cut_off_by_a_restart_writes_nothing_and_the_retry_commits(schema, pool_size):
    store, tag = _open(schema, pool_size)
    with ReferralDesk(store=store) as desk:
        referral = desk.create(plain_referral(), actor=SYSTEM)
        desk.get(referral.id)  # every pooled connection is now idle, and about to be ended
        assert _restart(tag) >= 1
        try:
            desk.fire(referral.id, "accept", actor=CLINICIAN)
        except StoreError:
            # The write met the dead connection: its transaction died with it.
            assert desk.get(referral.id).version == referral.version
            desk.fire(referral.id, "accept", actor=CLINICIAN)
        accepted = desk.get(referral.id)
        assert accepted.version == referral.version + 1
        assert [e.kind for e in desk.history(referral.id)][-1] == "accept"
        desk.verify(referral.id)
