"""Store test support: every store by name, and for PostgreSQL a throwaway schema per test or a
clear skip when no server answers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from referralkit import MemoryStore, SQLiteStore
from referralkit.store import LeasingStore

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


def postgres_store(_tmp: Path) -> LeasingStore:
    """Open a PostgresStore in a fresh schema (skipping without a server)."""
    server_or_skip()
    from referralkit.adapters.postgres import PostgresStore

    return PostgresStore(DSN, schema=f"rk_test_{uuid.uuid4().hex[:12]}")


def pooled_postgres_store(_tmp: Path) -> LeasingStore:
    """Open a PostgresStore with a connection pool in a fresh schema (skipping without one)."""
    server_or_skip()
    pytest.importorskip("psycopg_pool", reason="psycopg_pool missing: referralkit[worker]")
    from referralkit.adapters.postgres import PostgresStore

    return PostgresStore(DSN, schema=f"rk_test_{uuid.uuid4().hex[:12]}", pool_size=4)


STORE_FACTORIES: dict[str, Callable[[Path], LeasingStore]] = {
    "memory": lambda _tmp: MemoryStore(),
    "sqlite": lambda tmp: SQLiteStore(tmp / "store.db"),
    "postgres": postgres_store,
    "postgres-pooled": pooled_postgres_store,
}
"""Every store implementation, by name: a function of ``tmp_path`` returning a fresh store.

Adding a backend here runs the conformance and lease suites against it.
"""


def open_store_for(name: str, tmp: Path) -> Iterator[LeasingStore]:
    """Yield the named store, then close it (and drop its PostgreSQL schema)."""
    opened = STORE_FACTORIES[name](tmp)
    yield opened
    opened.close()
    schema = getattr(opened, "schema", None)
    if name.startswith("postgres") and schema:
        drop_schema(schema)
