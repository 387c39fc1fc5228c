"""PostgreSQL test support: a throwaway schema per test, or a clear skip with no server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

DSN = os.environ.get("REFERRALKIT_PG_DSN", "host=127.0.0.1 port=5432 dbname=test")


def server_or_skip() -> None:
    """Skip the calling test, saying why, when no PostgreSQL server answers at DSN."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg missing: referralkit[postgres]")
    try:
        psycopg.connect(DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {DSN!r} (set REFERRALKIT_PG_DSN): {exc}")


def drop_schema(name: str) -> None:
    """Drop a test schema and everything in it."""
    import psycopg

    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def throwaway_schema() -> Iterator[str]:
    """Yield a fresh schema name and drop the schema afterwards."""
    name = f"rk_test_{uuid.uuid4().hex[:12]}"
    yield name
    drop_schema(name)
