"""PostgreSQL store for several workers sharing the load (extra ``referralkit[postgres]``).

Tables live in one PostgreSQL schema (``public`` unless told otherwise) and are prefixed
``referralkit_`` so they can share a database with the host's own tables. Each write is one
transaction: the referral update carries its expected version, so a stale write raises
:class:`~referralkit.errors.ConflictError` and writes nothing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypeVar
from uuid import UUID

from referralkit.adapters._codec import (
    decode_event,
    decode_events,
    decode_referral,
    in_window,
    prefilter_bounds,
)
from referralkit.adapters._filed import FiledIndexes
from referralkit.errors import (
    ConflictError,
    DuplicateReferralError,
    NotAReferralkitDatabaseError,
    ReferralNotFoundError,
    StoreError,
    StoreURLError,
)
from referralkit.events import Event
from referralkit.integrity.records import StoredEvent, StoredRecord
from referralkit.integrity.seal import Keyring, Seal
from referralkit.model import OutboundStatus, Referral, ReferralStatus, TaskPriority, TaskStatus
from referralkit.patient_index import (
    IndexHasher,
    IndexKey,
    new_index_secret,
)
from referralkit.store import Backlog, Events, check_change, checked_batches
from referralkit.tasks.index import URGENCY, QueueCounts, TaskQuery, TaskRow, task_rows
from referralkit.tenancy import DEFAULT_TENANT, check_tenant

try:
    import psycopg
    from psycopg import sql
except ImportError as exc:  # pragma: no cover - exercised only without the extra installed
    raise ImportError("PostgresStore needs psycopg: pip install 'referralkit[postgres]'") from exc

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

_log = logging.getLogger("referralkit.store")

_URGENCY_SQL: Final = (
    "CASE {0} WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END"
)
# The task index (referralkit.tasks.index): one row per task, rewritten with its referral in
# the same transaction; work lists read only this table. The backfill indexes referrals
# written before it existed.
_TASK_INDEX_MIGRATION: Final[tuple[str, ...]] = (
    """CREATE TABLE referralkit_tasks (
        task_id uuid PRIMARY KEY,
        referral_id uuid NOT NULL,
        queue text NOT NULL,
        status text NOT NULL,
        priority text NOT NULL,
        urgency smallint NOT NULL,
        due_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        assignee text,
        title text NOT NULL,
        moot boolean NOT NULL,
        escalation_level integer NOT NULL
    )""",
    """CREATE INDEX referralkit_tasks_queue
       ON referralkit_tasks (queue, status, urgency, due_at, task_id)""",
    """CREATE INDEX referralkit_tasks_assignee
       ON referralkit_tasks (assignee, status, urgency, due_at, task_id)""",
    "CREATE INDEX referralkit_tasks_referral ON referralkit_tasks (referral_id)",
    "INSERT INTO referralkit_tasks SELECT (t->>'id')::uuid, r.id, t->>'queue',"  # noqa: S608 - constant SQL
    " t->>'status', t->>'priority', "
    + _URGENCY_SQL.format("t->>'priority'")
    + ", (t->>'due_at')::timestamptz, (t->>'created_at')::timestamptz, t->>'assignee',"
    " t->>'title', (t->>'moot') IS NOT NULL, COALESCE((t->>'escalation_level')::integer, 0)"
    " FROM referralkit_referrals r, jsonb_array_elements(r.body->'tasks') t"
    " WHERE r.status <> 'entered_in_error'",
)

# Tenants (referralkit.tenancy) and the patient and number index (referralkit.patient_index).
# Every row gets a tenant (existing rows: the default tenant); indexes a scoped query reads
# lead with the tenant. _file_existing runs right after these statements, in the same
# transaction: it files existing referrals and then turns on row-level security (_RLS).
_TENANT_MIGRATION: Final[tuple[str, ...]] = (
    *(
        f"ALTER TABLE {table} ADD COLUMN tenant text NOT NULL DEFAULT '{DEFAULT_TENANT}'"
        for table in (
            "referralkit_referrals",
            "referralkit_events",
            "referralkit_leases",
            "referralkit_tasks",
        )
    ),
    "DROP INDEX referralkit_referrals_status",
    "CREATE INDEX referralkit_referrals_status ON referralkit_referrals (tenant, status, id)",
    "DROP INDEX referralkit_referrals_next_action",
    """CREATE INDEX referralkit_referrals_next_action ON referralkit_referrals
       (tenant, next_action_at, id) WHERE next_action_at IS NOT NULL""",
    "DROP INDEX referralkit_referrals_number",
    """CREATE INDEX referralkit_referrals_number
       ON referralkit_referrals (tenant, referral_number)""",
    "DROP INDEX referralkit_referrals_next_routing",
    """CREATE INDEX referralkit_referrals_next_routing ON referralkit_referrals
       (tenant, next_routing_at, id) WHERE next_routing_at IS NOT NULL""",
    """CREATE INDEX referralkit_events_tenant
       ON referralkit_events (tenant, (referral_id::text), seq)""",
    "DROP INDEX referralkit_tasks_queue",
    """CREATE INDEX referralkit_tasks_queue
       ON referralkit_tasks (tenant, queue, status, urgency, due_at, task_id)""",
    "DROP INDEX referralkit_tasks_assignee",
    """CREATE INDEX referralkit_tasks_assignee
       ON referralkit_tasks (tenant, assignee, status, urgency, due_at, task_id)""",
    "CREATE TABLE referralkit_tenants (tenant text PRIMARY KEY)",
    "INSERT INTO referralkit_tenants SELECT DISTINCT tenant FROM referralkit_referrals",
    # Store-wide settings; holds the patient index's database secret.
    "CREATE TABLE referralkit_meta (name text PRIMARY KEY, value bytea NOT NULL)",
    """CREATE TABLE referralkit_patient_index (
        tenant text NOT NULL,
        digest text NOT NULL,
        referral_id uuid NOT NULL,
        PRIMARY KEY (tenant, digest, referral_id)
    )""",
    """CREATE INDEX referralkit_patient_index_referral
       ON referralkit_patient_index (referral_id)""",
)
_TENANT_TABLES: Final = (
    "referralkit_referrals",
    "referralkit_events",
    "referralkit_leases",
    "referralkit_tasks",
    "referralkit_patient_index",
)
# Row-level security, defence in depth under the explicit tenant filter every query has: a
# connection sees and writes only rows of the tenant its transaction set with
# set_config('referralkit.tenant', ..., true); with none set it sees nothing. FORCE makes the
# policies bind the tables' owner too (superusers and BYPASSRLS roles are never bound).
_RLS: Final[tuple[str, ...]] = tuple(
    statement
    for table in _TENANT_TABLES
    for statement in (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY referralkit_tenant ON {table}"
        " USING (tenant = current_setting('referralkit.tenant', true))"
        " WITH CHECK (tenant = current_setting('referralkit.tenant', true))",
    )
)

_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE referralkit_referrals (
            id uuid PRIMARY KEY,
            version integer NOT NULL,
            status text NOT NULL,
            next_action_at timestamptz,
            referral_number text,
            updated_at timestamptz NOT NULL,
            body jsonb NOT NULL
        )""",
        "CREATE INDEX referralkit_referrals_status ON referralkit_referrals (status, id)",
        """CREATE INDEX referralkit_referrals_next_action
           ON referralkit_referrals (next_action_at, id) WHERE next_action_at IS NOT NULL""",
        "CREATE INDEX referralkit_referrals_number ON referralkit_referrals (referral_number)",
        # Events keep their exact stored text: the hash chain is verified over what was written.
        """CREATE TABLE referralkit_events (
            referral_id uuid NOT NULL,
            seq integer NOT NULL,
            body text NOT NULL,
            PRIMARY KEY (referral_id, seq)
        )""",
    ),
    (
        # Outreach leases, kept out of the referral row: claiming bumps no version.
        """CREATE TABLE referralkit_leases (
            referral_id uuid PRIMARY KEY,
            worker text NOT NULL,
            expires_at timestamptz NOT NULL
        )""",
    ),
    _TASK_INDEX_MIGRATION,
    (
        # Keyed seals (referralkit.integrity): which host key sealed the row, and the HMAC.
        "ALTER TABLE referralkit_referrals ADD COLUMN seal_key text, ADD COLUMN seal text",
    ),
    (
        # When routing next has something to decide: a routing sweep reads only due rows.
        "ALTER TABLE referralkit_referrals ADD COLUMN next_routing_at timestamptz",
        """CREATE INDEX referralkit_referrals_next_routing
           ON referralkit_referrals (next_routing_at, id) WHERE next_routing_at IS NOT NULL""",
        # Referrals stored before this column existed: the open ones are due at once, so the
        # first sweep routes them and sets their real time.
        """UPDATE referralkit_referrals SET next_routing_at = '1970-01-01T00:00:00Z',
           body = jsonb_set(body, '{next_routing_at}', '"1970-01-01T00:00:00Z"')
           WHERE status IN ('intake', 'received', 'accepted', 'pending_auth',
           'ready_to_schedule', 'scheduled', 'visit_completed', 'on_hold')""",
    ),
    _TENANT_MIGRATION,
    (
        # Referrals we sent, by tenant and sending state (referralkit.store.OutboundStore).
        # They keep status 'intake', so only those rows are indexed.
        """CREATE INDEX IF NOT EXISTS referralkit_referrals_outbound
           ON referralkit_referrals (tenant, (body->'outbound'->>'status'), id)
           WHERE status = 'intake'""",
    ),
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The schema version this release writes."""

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_T = TypeVar("_T")
_Row = tuple[UUID, int, str, datetime | None, str | None, datetime | None, str, datetime | None]
_INSERT: Final = (
    "INSERT INTO referralkit_referrals (id, version, status, next_action_at, referral_number,"
    " updated_at, body, next_routing_at, tenant) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_INSERT_EVENT: Final = (
    "INSERT INTO referralkit_events (referral_id, seq, body, tenant) VALUES (%s, %s, %s, %s)"
)


def _row(referral: Referral) -> _Row:
    return (
        referral.id,
        referral.version,
        referral.status.value,
        referral.next_action_at,
        referral.referral_number,
        referral.updated_at,
        referral.model_dump_json(),
        referral.next_routing_at,
    )


class PostgresStore:
    """A :class:`~referralkit.store.Store` on PostgreSQL (psycopg 3).

    :param conninfo: a libpq connection string or URL, e.g. ``"host=127.0.0.1 dbname=app"``.
    :param schema: the PostgreSQL schema holding referralkit's tables (created if missing);
        ``None`` uses the connection's ``search_path`` (``public`` unless configured).
    :param connect_timeout: seconds to wait for the server.
    :param keyring: the host's sealing keys: every write seals the row with the current key
        (:mod:`referralkit.integrity`). Without one rows are written unsealed.
    :param tenant: the tenant every read and write is scoped to (:mod:`referralkit.tenancy`).
        Each transaction also sets ``referralkit.tenant`` (``set_config(..., true)``) for the
        row-level security policies; :meth:`for_tenant` gives another tenant's store on the
        same connection (or pool).
    :param pool_size: keep a pool of up to this many connections (``psycopg_pool``, extra
        ``referralkit[worker]``), so threads sharing the store (a worker's jobs) use the
        database side by side; ``None`` (the default) shares one connection under a lock.
        Pooled connections are checked before use and replaced after a server restart.
    :raises StoreError: the server cannot be reached.
    :raises NotAReferralkitDatabaseError: the schema was written by a newer release.
    :raises InvalidTenantError: *tenant* is not a usable tenant id.

    .. versionchanged:: 0.4 bound to a tenant, under row-level security; keeps the patient and
       number index; *pool_size*; reconnects after a lost connection.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        connect_timeout: int = 5,
        keyring: Keyring | None = None,
        tenant: str = DEFAULT_TENANT,
        pool_size: int | None = None,
    ) -> None:
        self.keyring = keyring
        self._tenant = check_tenant(tenant)
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError("schema must be a lower-case SQL identifier")
        self._schema = schema
        self._lock = threading.RLock()
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._conn = self._connect()
        self._pool: Any = None
        try:
            if schema is not None:
                self._conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
                self._conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            self._migrate()
            self._hasher = IndexHasher(self._index_secret(), self._tenant)
            self._filed = FiledIndexes()
            if pool_size is not None:
                self._pool = self._open_pool(pool_size)
        except BaseException:
            self._conn.close()
            raise

    def _open_pool(self, size: int) -> Any:
        try:
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - exercised only without the extra
            raise ImportError(
                "a pooled PostgresStore needs psycopg_pool: pip install 'referralkit[worker]'"
            ) from exc
        schema = self._schema

        def configure(conn: psycopg.Connection[Any]) -> None:
            if schema is not None:
                conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))

        pool = ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=max(size, 1),
            kwargs={"autocommit": True, "connect_timeout": self._connect_timeout},
            configure=configure,
            check=ConnectionPool.check_connection,
            open=False,
            name="referralkit",
        )
        try:
            pool.open(wait=True, timeout=float(self._connect_timeout))
        except psycopg.OperationalError as exc:
            pool.close()
            raise StoreError(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc
        # The pool serves every call from now on; the migration connection is not needed.
        self._conn.close()
        return pool

    def _connect(self) -> psycopg.Connection[Any]:
        malformed = False
        try:
            # Autocommit: every write opens an explicit transaction() block, which would
            # otherwise nest as a savepoint inside an implicit, never-committed transaction.
            return psycopg.connect(
                self._conninfo, connect_timeout=self._connect_timeout, autocommit=True
            )
        except psycopg.OperationalError as exc:
            # libpq messages name host and port, never referral data.
            raise StoreError(f"cannot connect to PostgreSQL: {exc}".strip()) from exc
        except psycopg.ProgrammingError:
            # A malformed connection string; its text may hold a password, so it is not
            # repeated, and the error is raised outside the handler (no chain to it).
            malformed = True
        if malformed:
            raise StoreURLError("malformed PostgreSQL connection string")
        raise AssertionError("unreachable")  # pragma: no cover - every branch returns or raises

    def _reconnect_if_lost(self) -> bool:
        # Called with the lock held after an OperationalError. A server restart (or an
        # administrator's pg_terminate_backend) closes the connection; the transaction that
        # was open died with it, so nothing of it was written. Open a new one for the next call.
        if not (self._conn.closed or self._conn.broken):
            return False
        conn = self._connect()
        if self._schema is not None:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
        self._conn = conn
        _log.warning("PostgreSQL connection lost; reconnected")
        return True

    def _migrate(self) -> None:
        with self._transaction() as conn:
            # One migrator at a time across workers: a transaction-scoped advisory lock.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('referralkit_migrate'))")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS referralkit_schema (version integer NOT NULL)"
            )
            row = conn.execute("SELECT version FROM referralkit_schema").fetchone()
            if row is None:
                exists = conn.execute(
                    "SELECT to_regclass('referralkit_referrals') IS NOT NULL"
                ).fetchone()
                if exists and exists[0]:
                    raise NotAReferralkitDatabaseError(
                        f"schema {self._schema} has referralkit tables but no schema version"
                    )
                conn.execute("INSERT INTO referralkit_schema (version) VALUES (0)")
                current = 0
            else:
                current = int(row[0])
            if current > SCHEMA_VERSION:
                raise NotAReferralkitDatabaseError(
                    f"schema version {current} is newer than this release's {SCHEMA_VERSION}; "
                    "upgrade referralkit"
                )
            for statements in _MIGRATIONS[current:]:
                for statement in statements:
                    conn.execute(statement)
                if statements is _TENANT_MIGRATION:
                    _file_existing(conn)
            conn.execute("UPDATE referralkit_schema SET version = %s", (SCHEMA_VERSION,))

    def _index_secret(self) -> bytes:
        row = self._conn.execute(
            "SELECT value FROM referralkit_meta WHERE name = 'index_secret'"
        ).fetchone()
        if row is None:  # pragma: no cover - the migration writes it
            raise NotAReferralkitDatabaseError("the patient index has no secret")
        return bytes(row[0])

    # -- tenants (TenantStore) --------------------------------------------------------------

    @property
    def tenant(self) -> str:
        """The tenant this store reads and writes."""
        return self._tenant

    def for_tenant(self, tenant: str) -> PostgresStore:
        """Return a store on the same connection bound to *tenant* (see ``TenantStore``).

        The connection (and its lock) is shared: closing either store closes both.
        """
        other = object.__new__(PostgresStore)
        other.__dict__.update(self.__dict__)
        other._tenant = check_tenant(tenant)
        other._hasher = IndexHasher(self._hasher.secret, other._tenant)
        return other

    def admin_list_tenants(self) -> list[str]:
        """Return every tenant with a stored referral (an admin read across tenants)."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT tenant FROM referralkit_tenants ORDER BY tenant"
            ).fetchall()
        )
        return [str(tenant) for (tenant,) in rows]

    def _bind(self, conn: psycopg.Connection[Any]) -> None:
        # Transaction-local: the setting ends with the transaction, so a pooled or shared
        # connection never carries one tenant's binding into another's work.
        conn.execute("SELECT set_config('referralkit.tenant', %s, true)", (self._tenant,))

    def _file(
        self,
        conn: psycopg.Connection[Any],
        referrals: Sequence[Referral],
        *,
        replace: bool,
        keys: frozenset[IndexKey] | None = None,
    ) -> None:
        # *keys*: the one referral's keys, when the caller computed them already.
        # The patient and number index, in the caller's write transaction.
        with conn.cursor() as cur:
            if replace:
                cur.execute(
                    "DELETE FROM referralkit_patient_index WHERE tenant = %s"
                    " AND referral_id = ANY(%s)",
                    (self._tenant, [r.id for r in referrals]),
                )
            rows = [
                (self._tenant, digest, r.id)
                for r in referrals
                for digest in (
                    self._hasher.for_keys(keys)
                    if keys is not None
                    else self._hasher.for_referral(r)
                )
            ]
            if rows:
                cur.executemany(
                    "INSERT INTO referralkit_patient_index (tenant, digest, referral_id)"
                    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    rows,
                )

    def _register_tenant(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            "INSERT INTO referralkit_tenants (tenant) VALUES (%s) ON CONFLICT DO NOTHING",
            (self._tenant,),
        )

    def find_indexed(
        self, keys: Collection[IndexKey], *, limit: int = 500, after: UUID | None = None
    ) -> list[Referral]:
        """Return referrals filed under any of *keys*, by id after *after* (see ``IndexedStore``).

        Served by the ``(tenant, digest)`` primary key: the cost follows what the keys have.
        """
        digests = self._hasher.digests(keys)
        if not digests:
            return []
        # The ids first, from the index; only then their rows, by primary key.
        keyset = "" if after is None else " AND referral_id > %(a)s"
        query = (
            "SELECT r.id, r.body::text FROM (SELECT DISTINCT referral_id"  # noqa: S608 - fixed clauses
            " FROM referralkit_patient_index WHERE tenant = %(t)s AND digest = ANY(%(d)s)"
            f"{keyset} ORDER BY referral_id LIMIT %(n)s) ids"
            " JOIN referralkit_referrals r ON r.id = ids.referral_id"
            " WHERE r.tenant = %(t)s ORDER BY r.id"
        )
        params = {"t": self._tenant, "d": digests, "a": after, "n": limit}
        rows = self._read(lambda c: c.execute(query, params).fetchall())
        return [decode_referral(key, body) for key, body in rows]

    @property
    def schema(self) -> str | None:
        """The PostgreSQL schema holding the tables (``None``: the connection's search_path)."""
        return self._schema

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        return self._read(
            lambda c: int(c.execute("SELECT version FROM referralkit_schema").fetchone()[0])  # type: ignore[index]
        )

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        # Every transaction binds the tenant first (row-level security); the setting ends with
        # it, so a pooled or reconnected connection never carries one tenant into another's.
        if self._pool is not None:
            try:
                with self._pool.connection() as conn, conn.transaction():
                    self._bind(conn)
                    yield conn
            except psycopg.errors.UniqueViolation:
                raise
            except psycopg.OperationalError as exc:
                # A broken connection goes back to the pool, which discards it.
                raise StoreError(f"PostgreSQL write failed: {type(exc).__name__}") from exc
            return
        with self._lock:
            if self._conn.closed or self._conn.broken:
                self._reconnect_if_lost()
            try:
                with self._conn.transaction():
                    self._bind(self._conn)
                    yield self._conn
            except psycopg.errors.UniqueViolation:
                raise
            except psycopg.OperationalError as exc:
                # Not retried here: a write whose commit was cut off may or may not have
                # landed. The caller's retry re-reads, and its version check decides.
                self._reconnect_if_lost()
                raise StoreError(f"PostgreSQL write failed: {type(exc).__name__}") from exc

    def _bound(
        self, conn: psycopg.Connection[Any], fn: Callable[[psycopg.Connection[Any]], _T]
    ) -> _T:
        with conn.transaction():
            self._bind(conn)
            return fn(conn)

    def _read(self, fn: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        if self._pool is not None:
            return self._pooled_read(self._pool, fn)
        with self._lock:
            if self._conn.closed or self._conn.broken:
                self._reconnect_if_lost()
            try:
                return self._bound(self._conn, fn)
            except psycopg.OperationalError as exc:
                if not self._reconnect_if_lost():
                    raise StoreError(f"PostgreSQL read failed: {type(exc).__name__}") from exc
            # A read changes nothing: after a reconnect it is simply asked again, once.
            try:
                return self._bound(self._conn, fn)
            except psycopg.OperationalError as exc:
                raise StoreError(f"PostgreSQL read failed: {type(exc).__name__}") from exc

    def _pooled_read(self, pool: Any, fn: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        failure = ""
        for _ in range(2):  # a read cut off by a lost connection is asked again, once
            try:
                with pool.connection() as conn:
                    return self._bound(conn, fn)
            except psycopg.OperationalError as exc:
                failure = type(exc).__name__
        raise StoreError(f"PostgreSQL read failed: {failure}")

    # -- writes ---------------------------------------------------------------------------

    def create(self, referral: Referral, events: Events) -> None:
        """Insert a new referral and its events (``created`` first) in one transaction."""
        chain = check_change(referral, events, expected_version=0)
        row = _row(referral)
        try:
            with self._transaction() as conn:
                conn.execute(_INSERT, (*row, self._tenant))
                with conn.cursor() as cur:
                    cur.executemany(
                        _INSERT_EVENT,
                        [(referral.id, e.seq, e.to_json(), self._tenant) for e in chain],
                    )
                _index_tasks(conn, [referral], replace=False, tenant=self._tenant)
                self._file(conn, [referral], replace=False)
                self._register_tenant(conn)
                self._seal(conn, [row])
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateReferralError(referral.id) from exc

    def create_many(
        self, items: Iterable[tuple[Referral, Event]], *, batch_size: int = 1000
    ) -> int:
        """Insert many new referrals, one transaction per batch (``executemany``)."""
        return sum(self._insert_batch(batch) for batch in checked_batches(items, batch_size))

    def _insert_batch(self, batch: list[tuple[Referral, Event]]) -> int:
        rows = [_row(referral) for referral, _ in batch]
        event_rows = [(r.id, e.seq, e.to_json(), self._tenant) for r, e in batch]
        try:
            with self._transaction() as conn, conn.cursor() as cur:
                cur.executemany(_INSERT, [(*row, self._tenant) for row in rows])
                cur.executemany(_INSERT_EVENT, event_rows)
                referrals = [r for r, _ in batch]
                _index_tasks(conn, referrals, replace=False, tenant=self._tenant)
                self._file(conn, referrals, replace=False)
                self._register_tenant(conn)
                self._seal(conn, rows)
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateReferralError(self._first_existing(rows)) from exc
        return len(rows)

    def _first_existing(self, rows: list[_Row]) -> UUID:
        ids = [row[0] for row in rows]
        found = self._read(
            lambda c: c.execute(
                "SELECT id FROM referralkit_referrals WHERE id = ANY(%s) AND tenant = %s"
                " ORDER BY id LIMIT 1",
                (ids, self._tenant),
            ).fetchone()
        )
        if found is not None:
            return UUID(str(found[0]))
        seen: set[UUID] = set()
        for key in ids:  # a duplicate inside the batch itself
            if key in seen:
                return key
            seen.add(key)
        return ids[0]  # pragma: no cover - a unique violation always has a culprit

    def save(self, referral: Referral, events: Events, *, expected_version: int) -> None:
        """Update the referral if its stored version matches, and append its events."""
        chain = check_change(referral, events, expected_version=expected_version)
        row = _row(referral)
        # Unchanged keys and tasks since the version this store filed: those index rows stand.
        keys, tasks = self._filed.changes(referral, expected_version)
        try:
            with self._transaction() as conn:
                updated = conn.execute(
                    "UPDATE referralkit_referrals SET version = %s, status = %s,"
                    " next_action_at = %s, referral_number = %s, updated_at = %s, body = %s,"
                    " next_routing_at = %s WHERE id = %s AND version = %s AND tenant = %s",
                    (*row[1:], referral.id, expected_version, self._tenant),
                ).rowcount
                if updated != 1:
                    found = conn.execute(
                        "SELECT version FROM referralkit_referrals WHERE id = %s AND tenant = %s",
                        (referral.id, self._tenant),
                    ).fetchone()
                    if found is None:
                        raise ReferralNotFoundError(referral.id)
                    raise ConflictError(referral.id, expected_version, int(found[0]))
                with conn.cursor() as cur:
                    cur.executemany(
                        _INSERT_EVENT,
                        [(referral.id, e.seq, e.to_json(), self._tenant) for e in chain],
                    )
                if tasks is not None:
                    _index_tasks(conn, [referral], replace=True, tenant=self._tenant, rows=tasks)
                if keys is not None:
                    self._file(conn, [referral], replace=True, keys=keys)
                self._seal(conn, [row])
        except psycopg.errors.UniqueViolation as exc:
            raise ConflictError(referral.id, expected_version, None) from exc
        self._filed.remember(referral, keys, tasks)

    def _seal(self, conn: psycopg.Connection[Any], rows: list[_Row]) -> None:
        if self.keyring is None:
            return
        keyring = self.keyring
        sealed = [(s.key_id, s.mac, row[0]) for row in rows for s in [keyring.seal(row[6])]]
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE referralkit_referrals SET seal_key = %s, seal = %s WHERE id = %s", sealed
            )

    # -- reads ----------------------------------------------------------------------------

    def stored_record(self, referral_id: UUID) -> StoredRecord:
        """Return the referral's row and event rows as stored (for verification).

        The body is ``jsonb``, so it comes back re-encoded; the seal covers the decoded
        referral, which is what every reader sees. Event bodies are ``text``, exactly as written.
        """

        def read(c: psycopg.Connection[Any]) -> tuple[Any, list[Any]]:
            row = c.execute(
                "SELECT body::text, status, version, next_action_at, seal_key, seal"
                " FROM referralkit_referrals WHERE id = %s AND tenant = %s",
                (referral_id, self._tenant),
            ).fetchone()
            events = c.execute(
                "SELECT referral_id, seq, body FROM referralkit_events WHERE referral_id = %s"
                " AND tenant = %s ORDER BY seq",
                (referral_id, self._tenant),
            ).fetchall()
            return row, events

        row, events = self._read(read)
        stored_events = [StoredEvent(str(r), int(s), str(b)) for r, s, b in events]
        if row is None:
            return StoredRecord(referral_id, None, None, None, None, None, stored_events)
        body, status, version, next_at, seal_key, seal = row
        return StoredRecord(
            referral_id=referral_id,
            body=str(body),
            status=str(status),
            version=int(version),
            next_action_at=next_at,
            seal=None if seal_key is None or seal is None else Seal(str(seal_key), str(seal)),
            events=stored_events,
        )

    def referral_ids(self, *, after: UUID | None = None, limit: int = 500) -> list[UUID]:
        """Return ids with a referral row or events, in id order, after *after*."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT id FROM (SELECT id FROM referralkit_referrals WHERE tenant = %(t)s UNION"
                " SELECT referral_id FROM referralkit_events WHERE tenant = %(t)s) ids"
                " WHERE %(a)s::uuid IS NULL OR id > %(a)s::uuid ORDER BY id LIMIT %(n)s",
                {"t": self._tenant, "a": after, "n": limit},
            ).fetchall()
        )
        return [UUID(str(key)) for (key,) in rows]

    def referral_number_taken(self, number: str) -> bool:
        """Return whether a stored referral has *number* (uses the number index)."""
        row = self._read(
            lambda c: c.execute(
                "SELECT 1 FROM referralkit_referrals WHERE tenant = %s AND referral_number = %s"
                " LIMIT 1",
                (self._tenant, number),
            ).fetchone()
        )
        return row is not None

    def get(self, referral_id: UUID) -> Referral:
        """Return the referral, decoded from its stored JSON."""
        row = self._read(
            lambda c: c.execute(
                "SELECT body::text FROM referralkit_referrals WHERE id = %s AND tenant = %s",
                (referral_id, self._tenant),
            ).fetchone()
        )
        if row is None:
            raise ReferralNotFoundError(referral_id)
        return decode_referral(referral_id, row[0])

    def events(self, referral_id: UUID) -> list[Event]:
        """Return the referral's events in sequence order."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT body FROM referralkit_events WHERE referral_id = %s AND tenant = %s"
                " ORDER BY seq",
                (referral_id, self._tenant),
            ).fetchall()
        )
        return decode_events(referral_id, (body for (body,) in rows))

    def iter_events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        batch_size: int = 1000,
    ) -> Iterator[Event]:
        """Stream events with ``since <= at < until`` by (referral id, seq), a page at a time."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        low, high = prefilter_bounds(since, until)
        # Ordered by the id's text, like the other stores (uuid order differs from text order).
        where = ["tenant = %s", "(referral_id::text, seq) > (%s, %s)"]
        bounds: list[object] = []
        if low is not None:
            where.append("(body::jsonb ->> 'at') >= %s")
            bounds.append(low)
        if high is not None:
            where.append("(body::jsonb ->> 'at') < %s")
            bounds.append(high)
        query = (
            "SELECT referral_id::text, seq, body FROM referralkit_events WHERE "  # noqa: S608 - fixed clauses
            + " AND ".join(where)
            + " ORDER BY referral_id::text, seq LIMIT %s"
        )
        cursor: tuple[str, int] = ("", 0)
        while True:
            params = (self._tenant, *cursor, *bounds, batch_size)
            rows = self._read(lambda c, p=params: c.execute(query, p).fetchall())  # type: ignore[misc]
            for key, _, body in rows:
                event = decode_event(key, body)
                if in_window(event.at, since, until):
                    yield event
            if len(rows) < batch_size:
                return
            cursor = (str(rows[-1][0]), int(rows[-1][1]))

    def list_by_status(
        self, statuses: Sequence[ReferralStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        """Return referrals in *statuses*, ordered by id (keyset paging with *after*)."""
        if not statuses:
            return []
        values = [s.value for s in statuses]
        if after is None:
            rows = self._read(
                lambda c: c.execute(
                    "SELECT id, body::text FROM referralkit_referrals WHERE tenant = %s"
                    " AND status = ANY(%s) ORDER BY id LIMIT %s",
                    (self._tenant, values, limit),
                ).fetchall()
            )
        else:
            rows = self._read(
                lambda c: c.execute(
                    "SELECT id, body::text FROM referralkit_referrals WHERE tenant = %s"
                    " AND status = ANY(%s) AND id > %s ORDER BY id LIMIT %s",
                    (self._tenant, values, after, limit),
                ).fetchall()
            )
        return [decode_referral(key, body) for key, body in rows]

    def list_outbound(
        self, statuses: Sequence[OutboundStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        """Return referrals we sent in sending *statuses*, ordered by id (keyset paging)."""
        if not statuses:
            return []
        values = [s.value for s in statuses]
        # The expressions match the partial index referralkit_referrals_outbound.
        sql = (
            "SELECT id, body::text FROM referralkit_referrals WHERE tenant = %s"
            " AND status = 'intake' AND body->'outbound'->>'status' = ANY(%s)"
        )
        params: tuple[object, ...] = (self._tenant, values, limit)
        if after is not None:
            sql += " AND id > %s"
            params = (self._tenant, values, after, limit)
        sql += " ORDER BY id LIMIT %s"
        rows = self._read(lambda c: c.execute(sql, params).fetchall())
        return [decode_referral(key, body) for key, body in rows]

    def due(
        self, now: datetime, *, limit: int = 100, after: tuple[datetime, UUID] | None = None
    ) -> list[Referral]:
        """Return referrals whose next action is due, by ``(next_action_at, id)``."""
        return self._due_by("next_action_at", now, limit, after)

    def due_for_routing(
        self, now: datetime, *, limit: int = 100, after: tuple[datetime, UUID] | None = None
    ) -> list[Referral]:
        """Return referrals due for routing, by ``(next_routing_at, id)``, from its index."""
        return self._due_by("next_routing_at", now, limit, after)

    def _due_by(
        self,
        column: Literal["next_action_at", "next_routing_at"],
        now: datetime,
        limit: int,
        after: tuple[datetime, UUID] | None,
    ) -> list[Referral]:
        # One keyset page over either due index; *column* is one of two fixed names.
        keyset = "" if after is None else f" AND ({column}, id) > (%s, %s)"
        query = (
            f"SELECT id, body::text FROM referralkit_referrals"  # noqa: S608 - fixed names
            f" WHERE tenant = %s AND {column} IS NOT NULL AND {column} <= %s{keyset}"
            f" ORDER BY {column}, id LIMIT %s"
        )
        params: tuple[object, ...] = (
            (self._tenant, now, limit) if after is None else (self._tenant, now, *after, limit)
        )
        rows = self._read(lambda c: c.execute(query, params).fetchall())
        return [decode_referral(key, body) for key, body in rows]

    def reschedule_routing(self, referral: Referral, next_routing_at: datetime | None) -> bool:
        """Set ``next_routing_at`` if the stored version is *referral*'s; no event is added."""
        row = _row(referral.model_copy(update={"next_routing_at": next_routing_at}))
        with self._transaction() as conn:
            updated = conn.execute(
                "UPDATE referralkit_referrals SET next_routing_at = %s, body = %s"
                " WHERE id = %s AND version = %s AND tenant = %s",
                (next_routing_at, row[6], referral.id, referral.version, self._tenant),
            ).rowcount
            if updated == 1:
                self._seal(conn, [row])  # the body changed: so does its seal
        return updated == 1

    def count_by_status(self) -> dict[ReferralStatus, int]:
        """Return the number of referrals per status."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT status, COUNT(*) FROM referralkit_referrals WHERE tenant = %s"
                " GROUP BY status",
                (self._tenant,),
            ).fetchall()
        )
        return {ReferralStatus(status): int(n) for status, n in rows}

    # -- leases ---------------------------------------------------------------------------

    def claim_due(
        self, now: datetime, *, worker: str, lease: timedelta, limit: int = 100
    ) -> list[Referral]:
        """Lease up to *limit* due referrals no live lease holds to *worker*.

        ``FOR UPDATE SKIP LOCKED`` lets workers claim side by side without waiting on each
        other; the upsert takes over only expired leases, so a referral another worker leased
        a moment ago is never claimed twice.
        """
        with self._transaction() as conn:
            claimed = conn.execute(
                "WITH due AS ("
                " SELECT r.id FROM referralkit_referrals r"
                " WHERE r.tenant = %(tenant)s"
                " AND r.next_action_at IS NOT NULL AND r.next_action_at <= %(now)s"
                " AND NOT EXISTS (SELECT 1 FROM referralkit_leases l"
                "  WHERE l.referral_id = r.id AND l.expires_at > %(now)s)"
                " ORDER BY r.next_action_at, r.id LIMIT %(limit)s"
                " FOR UPDATE OF r SKIP LOCKED)"
                " INSERT INTO referralkit_leases (referral_id, worker, expires_at, tenant)"
                " SELECT id, %(worker)s, %(until)s, %(tenant)s FROM due"
                " ON CONFLICT (referral_id) DO UPDATE"
                " SET worker = EXCLUDED.worker, expires_at = EXCLUDED.expires_at"
                " WHERE referralkit_leases.expires_at <= %(now)s"
                " RETURNING referral_id",
                {
                    "now": now,
                    "limit": limit,
                    "worker": worker,
                    "until": now + lease,
                    "tenant": self._tenant,
                },
            ).fetchall()
            ids = [row[0] for row in claimed]
            rows = conn.execute(
                "SELECT id, body::text FROM referralkit_referrals WHERE id = ANY(%s)"
                " AND tenant = %s ORDER BY next_action_at, id",
                (ids, self._tenant),
            ).fetchall()
        return [decode_referral(key, body) for key, body in rows]

    def claim(
        self, referral_id: UUID, now: datetime, *, worker: str, lease: timedelta
    ) -> Referral | None:
        """Lease the referral to *worker* if it is due and no live lease holds it.

        The row lock (``FOR UPDATE SKIP LOCKED``) and the conditional upsert are the same as
        :meth:`claim_due`'s: of two workers claiming one referral, one gets it.
        """
        with self._transaction() as conn:
            row = conn.execute(
                "WITH due AS ("
                " SELECT r.id FROM referralkit_referrals r WHERE r.id = %(id)s"
                " AND r.tenant = %(tenant)s"
                " AND r.next_action_at IS NOT NULL AND r.next_action_at <= %(now)s"
                " FOR UPDATE OF r SKIP LOCKED)"
                " INSERT INTO referralkit_leases (referral_id, worker, expires_at, tenant)"
                " SELECT id, %(worker)s, %(until)s, %(tenant)s FROM due"
                " ON CONFLICT (referral_id) DO UPDATE"
                " SET worker = EXCLUDED.worker, expires_at = EXCLUDED.expires_at"
                " WHERE referralkit_leases.expires_at <= %(now)s"
                " RETURNING referral_id",
                {
                    "id": referral_id,
                    "now": now,
                    "worker": worker,
                    "until": now + lease,
                    "tenant": self._tenant,
                },
            ).fetchone()
            if row is None:
                return None
            body = conn.execute(
                "SELECT body::text FROM referralkit_referrals WHERE id = %s AND tenant = %s",
                (referral_id, self._tenant),
            ).fetchone()
        return None if body is None else decode_referral(referral_id, body[0])

    def backlog(self, now: datetime) -> Backlog:
        """Return the due-work and lease figures at *now* (from the due index)."""

        def read(c: psycopg.Connection[Any]) -> tuple[Any, Any]:
            due = c.execute(
                "SELECT COUNT(*), MIN(next_action_at) FROM referralkit_referrals"
                " WHERE tenant = %s AND next_action_at IS NOT NULL AND next_action_at <= %s",
                (self._tenant, now),
            ).fetchone()
            leases = c.execute(
                "SELECT COUNT(*) FILTER (WHERE expires_at > %(now)s),"
                " COUNT(*) FILTER (WHERE expires_at <= %(now)s) FROM referralkit_leases"
                " WHERE tenant = %(tenant)s",
                {"now": now, "tenant": self._tenant},
            ).fetchone()
            return due, leases

        (due, oldest), (live, expired) = self._read(read)
        return Backlog(
            due=int(due), oldest_due=oldest, leases_live=int(live), leases_expired=int(expired)
        )

    def abandoned(self, now: datetime, *, limit: int = 100) -> list[UUID]:
        """Return referrals whose lease expired unreleased, oldest expiry first."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT referral_id FROM referralkit_leases WHERE tenant = %s"
                " AND expires_at <= %s ORDER BY expires_at, referral_id LIMIT %s",
                (self._tenant, now, limit),
            ).fetchall()
        )
        return [UUID(str(key)) for (key,) in rows]

    def release(self, referral_id: UUID, *, worker: str) -> bool:
        """End *worker*'s lease on the referral; ``False`` if it held none."""
        with self._transaction() as conn:
            deleted = conn.execute(
                "DELETE FROM referralkit_leases WHERE referral_id = %s AND worker = %s"
                " AND tenant = %s",
                (referral_id, worker, self._tenant),
            ).rowcount
        return deleted == 1

    def reschedule(self, referral: Referral, next_action_at: datetime | None) -> bool:
        """Set ``next_action_at`` if the stored version is *referral*'s; no event is added."""
        row = _row(referral.model_copy(update={"next_action_at": next_action_at}))
        with self._transaction() as conn:
            updated = conn.execute(
                "UPDATE referralkit_referrals SET next_action_at = %s, body = %s"
                " WHERE id = %s AND version = %s AND tenant = %s",
                (next_action_at, row[6], referral.id, referral.version, self._tenant),
            ).rowcount
            if updated == 1:
                self._seal(conn, [row])
        return updated == 1

    # -- task index (referralkit.tasks.index.TaskIndex) ------------------------------------

    def tasks(self, query: TaskQuery) -> list[TaskRow]:
        """Return indexed tasks matching *query*, most urgent first (see ``TaskIndex``).

        Served by the ``(queue, status, urgency, due_at, task_id)`` index: the cost follows the
        queue, not the number of referrals stored.
        """
        where: list[sql.Composable] = [
            sql.SQL("tenant = %(tenant)s"),
            sql.SQL("status = ANY(%(statuses)s)"),
        ]
        params: dict[str, Any] = {
            "tenant": self._tenant,
            "statuses": [s.value for s in query.statuses],
            "limit": query.limit,
        }
        if query.queue is not None:
            where.append(sql.SQL("queue = %(queue)s"))
            params["queue"] = query.queue
        if query.assignee is not None:
            where.append(sql.SQL("assignee = %(assignee)s"))
            params["assignee"] = query.assignee
        if query.due_before is not None:
            where.append(sql.SQL("due_at < %(due_before)s"))
            params["due_before"] = query.due_before
        if query.priority is not None:
            where.append(sql.SQL("priority = %(priority)s"))
            params["priority"] = query.priority.value
        if query.after is not None:
            where.append(sql.SQL("(urgency, due_at, task_id) > (%(u)s, %(d)s, %(t)s)"))
            params.update(u=query.after.urgency, d=query.after.due_at, t=query.after.task_id)
        statement = sql.SQL(
            "SELECT task_id, referral_id, queue, status, priority, due_at, created_at, assignee,"
            " title, moot, escalation_level FROM referralkit_tasks WHERE {}"
            " ORDER BY urgency, due_at, task_id LIMIT %(limit)s"
        ).format(sql.SQL(" AND ").join(where))
        rows = self._read(lambda c: c.execute(statement, params).fetchall())
        return [
            TaskRow(
                task_id=task_id,
                referral_id=referral_id,
                queue=queue,
                status=TaskStatus(status),
                priority=TaskPriority(priority),
                due_at=due,
                created_at=created,
                title=title,
                assignee=assignee,
                moot=moot,
                escalation_level=level,
            )
            for task_id, referral_id, queue, status, priority, due, created, assignee, title, moot, level in rows  # noqa: E501
        ]

    def queue_counts(self, now: datetime, day_end: datetime) -> dict[str, QueueCounts]:
        """Return per-queue counts of open and claimed tasks (see ``TaskIndex``)."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT queue, COUNT(*), COUNT(*) FILTER (WHERE due_at < %(now)s),"
                " COUNT(*) FILTER (WHERE due_at >= %(now)s AND due_at < %(end)s),"
                " MIN(created_at) FROM referralkit_tasks WHERE tenant = %(tenant)s"
                " AND status IN ('open', 'claimed') GROUP BY queue ORDER BY queue",
                {"now": now, "end": day_end, "tenant": self._tenant},
            ).fetchall()
        )
        return {
            queue: QueueCounts(queue, int(n), int(late), int(today), oldest)
            for queue, n, late, today, oldest in rows
        }

    def close(self) -> None:
        """Close the connection (or the pool)."""
        if self._pool is not None:
            self._pool.close()
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self._schema!r})"


def _index_tasks(
    conn: psycopg.Connection[Any],
    referrals: Sequence[Referral],
    *,
    replace: bool,
    tenant: str,
    rows: list[TaskRow] | None = None,
) -> None:
    # Inside the caller's write transaction: the index changes with the referral or not at all.
    # *rows*: the one referral's rows, when the caller derived them already.
    with conn.cursor() as cur:
        if replace:
            cur.execute(
                "DELETE FROM referralkit_tasks WHERE tenant = %s AND referral_id = ANY(%s)",
                (tenant, [r.id for r in referrals]),
            )
        values = [
            (
                row.task_id,
                row.referral_id,
                row.queue,
                row.status.value,
                row.priority.value,
                URGENCY[row.priority],
                row.due_at,
                row.created_at,
                row.assignee,
                row.title,
                row.moot,
                row.escalation_level,
                tenant,
            )
            for row in (
                rows if rows is not None else [r for ref in referrals for r in task_rows(ref)]
            )
        ]
        if values:
            cur.executemany(
                "INSERT INTO referralkit_tasks VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                values,
            )


def _file_existing(conn: psycopg.Connection[Any]) -> None:
    # Part of the tenant migration: make the index secret, file every existing referral (all
    # in the default tenant) a page at a time, then turn on row-level security, all in the
    # migration's transaction.
    secret = new_index_secret()
    conn.execute(
        "INSERT INTO referralkit_meta (name, value) VALUES ('index_secret', %s)", (secret,)
    )
    hashers: dict[str, IndexHasher] = {}
    after: UUID | None = None
    while rows := conn.execute(
        "SELECT id, tenant, body::text FROM referralkit_referrals"
        " WHERE %(a)s::uuid IS NULL OR id > %(a)s::uuid ORDER BY id LIMIT 500",
        {"a": after},
    ).fetchall():
        filed: list[tuple[str, str, UUID]] = []
        for key, tenant, body in rows:
            hasher = hashers.setdefault(tenant, IndexHasher(secret, tenant))
            referral = decode_referral(key, body)
            filed.extend((tenant, digest, key) for digest in hasher.for_referral(referral))
        if filed:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO referralkit_patient_index (tenant, digest, referral_id)"
                    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    filed,
                )
        after = rows[-1][0]
    for statement in _RLS:
        conn.execute(statement)
