"""The embedded default store: SQLite through the standard library, in WAL mode.

Each write is one ``BEGIN IMMEDIATE`` transaction holding the referral update and its event, so
several processes can share a file: writers queue on the busy timeout, and a writer whose
version is stale gets :class:`~referralkit.errors.ConflictError` with nothing written.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
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
from referralkit.tasks.index import (
    URGENCY,
    QueueCounts,
    TaskQuery,
    TaskRow,
    task_rows,
)
from referralkit.tenancy import DEFAULT_TENANT, check_tenant

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)

_URGENCY_SQL: Final = (
    "CASE {0} WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END"
)
_MICROS_SQL: Final = "CAST(ROUND((julianday({0}) - 2440587.5) * 86400000000) AS INTEGER)"
# The task index (referralkit.tasks.index): one row per task, rewritten with its referral in
# the same transaction; work lists read only this table. The backfill indexes referrals
# written before it existed.
_TASK_INDEX_MIGRATION: Final[tuple[str, ...]] = (
    """CREATE TABLE tasks (
        task_id TEXT PRIMARY KEY,
        referral_id TEXT NOT NULL,
        queue TEXT NOT NULL,
        status TEXT NOT NULL,
        priority TEXT NOT NULL,
        urgency INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        assignee TEXT,
        title TEXT NOT NULL,
        moot INTEGER NOT NULL,
        escalation_level INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX tasks_queue ON tasks (queue, status, urgency, due_at, task_id)",
    "CREATE INDEX tasks_assignee ON tasks (assignee, status, urgency, due_at, task_id)",
    "CREATE INDEX tasks_referral ON tasks (referral_id)",
    "INSERT INTO tasks SELECT json_extract(t.value, '$.id'), r.id,"  # noqa: S608 - constant SQL
    " json_extract(t.value, '$.queue'), json_extract(t.value, '$.status'),"
    " json_extract(t.value, '$.priority'), "
    + _URGENCY_SQL.format("json_extract(t.value, '$.priority')")
    + ", "
    + _MICROS_SQL.format("json_extract(t.value, '$.due_at')")
    + ", "
    + _MICROS_SQL.format("json_extract(t.value, '$.created_at')")
    + ", json_extract(t.value, '$.assignee'), json_extract(t.value, '$.title'),"
    " json_extract(t.value, '$.moot') IS NOT NULL,"
    " COALESCE(json_extract(t.value, '$.escalation_level'), 0)"
    " FROM referrals r, json_each(r.body, '$.tasks') t WHERE r.status != 'entered_in_error'",
)

# Tenants (referralkit.tenancy) and the patient and number index (referralkit.patient_index).
# Every row gets a tenant; rows written before tenants existed belong to the default tenant.
# Indexes a scoped query reads lead with the tenant. The index keys of existing referrals are
# written by _file_existing, which runs right after these statements in the same transaction.
_TENANT_MIGRATION: Final[tuple[str, ...]] = (
    f"ALTER TABLE referrals ADD COLUMN tenant TEXT NOT NULL DEFAULT '{DEFAULT_TENANT}'",
    f"ALTER TABLE events ADD COLUMN tenant TEXT NOT NULL DEFAULT '{DEFAULT_TENANT}'",
    f"ALTER TABLE leases ADD COLUMN tenant TEXT NOT NULL DEFAULT '{DEFAULT_TENANT}'",
    f"ALTER TABLE tasks ADD COLUMN tenant TEXT NOT NULL DEFAULT '{DEFAULT_TENANT}'",
    "DROP INDEX referrals_status",
    "CREATE INDEX referrals_status ON referrals (tenant, status, id)",
    "DROP INDEX referrals_next_action",
    """CREATE INDEX referrals_next_action ON referrals (tenant, next_action_at, id)
       WHERE next_action_at IS NOT NULL""",
    "DROP INDEX referrals_number",
    "CREATE INDEX referrals_number ON referrals (tenant, referral_number)",
    "DROP INDEX referrals_next_routing",
    """CREATE INDEX referrals_next_routing ON referrals (tenant, next_routing_at, id)
       WHERE next_routing_at IS NOT NULL""",
    "CREATE INDEX events_tenant ON events (tenant, referral_id, seq)",
    "DROP INDEX tasks_queue",
    "CREATE INDEX tasks_queue ON tasks (tenant, queue, status, urgency, due_at, task_id)",
    "DROP INDEX tasks_assignee",
    "CREATE INDEX tasks_assignee ON tasks (tenant, assignee, status, urgency, due_at, task_id)",
    """CREATE TABLE tenants (tenant TEXT PRIMARY KEY) WITHOUT ROWID""",
    "INSERT INTO tenants SELECT DISTINCT tenant FROM referrals",
    # Store-wide settings; holds the patient index's database secret.
    """CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE patient_index (
        tenant TEXT NOT NULL,
        digest TEXT NOT NULL,
        referral_id TEXT NOT NULL,
        PRIMARY KEY (tenant, digest, referral_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX patient_index_referral ON patient_index (referral_id)",
)

# Forward migrations: entry i takes the schema from version i to i + 1. Never edit a shipped
# entry; append a new one.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE referrals (
            id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            status TEXT NOT NULL,
            next_action_at INTEGER,
            referral_number TEXT,
            updated_at INTEGER NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX referrals_status ON referrals (status, id)",
        # Partial index: a due query touches only referrals that have a next action.
        """CREATE INDEX referrals_next_action ON referrals (next_action_at, id)
           WHERE next_action_at IS NOT NULL""",
        "CREATE INDEX referrals_number ON referrals (referral_number)",
        """CREATE TABLE events (
            referral_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (referral_id, seq)
        ) WITHOUT ROWID""",
    ),
    (
        # Outreach leases: who may work a due referral, until when. Kept out of the referrals
        # row so claiming never bumps a version or rewrites a body.
        """CREATE TABLE leases (
            referral_id TEXT PRIMARY KEY,
            worker TEXT NOT NULL,
            expires_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
    _TASK_INDEX_MIGRATION,
    (
        # Keyed seals (referralkit.integrity): which host key sealed the row, and the HMAC.
        "ALTER TABLE referrals ADD COLUMN seal_key TEXT",
        "ALTER TABLE referrals ADD COLUMN seal TEXT",
    ),
    (
        # When routing next has something to decide: a routing sweep reads only due rows.
        "ALTER TABLE referrals ADD COLUMN next_routing_at INTEGER",
        """CREATE INDEX referrals_next_routing ON referrals (next_routing_at, id)
           WHERE next_routing_at IS NOT NULL""",
        # Referrals stored before this column existed have never been given a time: make the
        # open ones due at once (column and body alike), so the first sweep routes them and
        # sets their real time.
        """UPDATE referrals SET next_routing_at = 0,
           body = json_set(body, '$.next_routing_at', '1970-01-01T00:00:00Z')
           WHERE status IN ('intake', 'received', 'accepted', 'pending_auth',
           'ready_to_schedule', 'scheduled', 'visit_completed', 'on_hold')""",
    ),
    _TENANT_MIGRATION,
    (
        # Referrals we sent, by tenant and sending state (referralkit.store.OutboundStore).
        # They keep status 'intake', so only those rows are indexed: other rows pay nothing.
        """CREATE INDEX IF NOT EXISTS referrals_outbound
           ON referrals (tenant, json_extract(body, '$.outbound.status'), id)
           WHERE status = 'intake'""",
    ),
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The schema version this release writes."""

_T = TypeVar("_T")


def _micros(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICRO


_Row = tuple[str, int, str, int | None, str | None, int | None, str, int | None]
_INSERT: Final = (
    "INSERT INTO referrals (id, version, status, next_action_at, referral_number, updated_at,"
    " body, next_routing_at, tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT: Final = "INSERT INTO events (referral_id, seq, body, tenant) VALUES (?, ?, ?, ?)"
_UPDATE: Final = (
    "UPDATE referrals SET version = ?, status = ?, next_action_at = ?, referral_number = ?,"
    " updated_at = ?, body = ?, next_routing_at = ? WHERE id = ? AND version = ? AND tenant = ?"
)


def _row(referral: Referral) -> _Row:
    return (
        str(referral.id),
        referral.version,
        referral.status.value,
        _micros(referral.next_action_at),
        referral.referral_number,
        _micros(referral.updated_at),
        referral.model_dump_json(),
        _micros(referral.next_routing_at),
    )


class _Transaction:
    """A write transaction on the store's connection: ``with store._transaction as conn:``.

    Holds the store's lock from ``BEGIN IMMEDIATE`` to ``COMMIT`` (``ROLLBACK`` if the block
    raises). Stateless, so a store keeps one and enters it for every write: a class costs less
    to enter and leave than a generator context manager, which every write would pay.
    """

    __slots__ = ("_conn", "_lock")

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.ProgrammingError as exc:
            self._lock.release()
            raise StoreError("the store is closed") from exc
        except sqlite3.OperationalError as exc:
            self._lock.release()
            raise StoreError(f"could not start a write transaction: {exc}") from exc
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()


class SQLiteStore:
    """A :class:`~referralkit.store.Store` in one SQLite file (WAL, ``BEGIN IMMEDIATE``).

    :param path: the database file (created if missing), or ``":memory:"``.
    :param timeout: seconds a writer waits for another writer's lock before failing.
    :param synchronous: ``"NORMAL"`` (durable at checkpoints; the WAL default) or ``"FULL"``
        (every commit fsynced).
    :param keyring: the host's sealing keys: every write seals the row with the current key
        (:mod:`referralkit.integrity`). Without one rows are written unsealed.
    :param tenant: the tenant every read and write is scoped to (:mod:`referralkit.tenancy`);
        :meth:`for_tenant` gives another tenant's store on the same connection.
    :raises NotAReferralkitDatabaseError: the file is not SQLite, holds other tables, or has a
        newer schema than this release knows.
    :raises InvalidTenantError: *tenant* is not a usable tenant id.

    .. versionchanged:: 0.4 bound to a tenant; keeps the patient and number index.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 10.0,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        keyring: Keyring | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> None:
        self.keyring = keyring
        self._tenant = check_tenant(tenant)
        self._path = os.fspath(path)
        self._lock = threading.RLock()
        try:
            # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
            self._conn = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise NotAReferralkitDatabaseError(f"cannot open SQLite database: {exc}") from exc
        self._transaction = _Transaction(self._conn, self._lock)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL").fetchone()
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            self._migrate()
            self._hasher = IndexHasher(self._index_secret(), self._tenant)
            self._filed = FiledIndexes()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise NotAReferralkitDatabaseError(
                f"{os.path.basename(self._path)} is not a usable SQLite database: {exc}"
            ) from exc
        except NotAReferralkitDatabaseError:
            self._conn.close()
            raise

    # -- schema ----------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._transaction as conn:
            tables = {
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            }
            if "referralkit_schema" in tables:
                row = conn.execute("SELECT version FROM referralkit_schema").fetchone()
                current = int(row[0]) if row else 0
            elif tables:
                raise NotAReferralkitDatabaseError(
                    f"{os.path.basename(self._path)} holds tables that are not referralkit's"
                )
            else:
                conn.execute("CREATE TABLE referralkit_schema (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO referralkit_schema (version) VALUES (0)")
                current = 0
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
            conn.execute("UPDATE referralkit_schema SET version = ?", (SCHEMA_VERSION,))

    def _index_secret(self) -> bytes:
        row = self._conn.execute("SELECT value FROM meta WHERE name = 'index_secret'").fetchone()
        return bytes(row[0])

    # -- tenants (TenantStore) --------------------------------------------------------------

    @property
    def tenant(self) -> str:
        """The tenant this store reads and writes."""
        return self._tenant

    def for_tenant(self, tenant: str) -> SQLiteStore:
        """Return a store on the same connection bound to *tenant* (see ``TenantStore``)."""
        other = object.__new__(SQLiteStore)
        other.__dict__.update(self.__dict__)
        other._tenant = check_tenant(tenant)
        other._hasher = IndexHasher(self._index_secret(), other._tenant)
        return other

    def admin_list_tenants(self) -> list[str]:
        """Return every tenant with a stored referral (an admin read across tenants)."""
        rows = self._read(
            lambda c: c.execute("SELECT tenant FROM tenants ORDER BY tenant").fetchall()
        )
        return [str(tenant) for (tenant,) in rows]

    def _file(
        self,
        conn: sqlite3.Connection,
        referrals: Sequence[Referral],
        *,
        replace: bool,
        keys: frozenset[IndexKey] | None = None,
    ) -> None:
        # *keys*: the one referral's keys, when the caller computed them already.
        # The patient and number index, in the caller's write transaction.
        if replace:
            conn.executemany(
                "DELETE FROM patient_index WHERE referral_id = ?",
                [(str(r.id),) for r in referrals],
            )
        conn.executemany(
            "INSERT OR IGNORE INTO patient_index (tenant, digest, referral_id) VALUES (?, ?, ?)",
            [
                (self._tenant, digest, str(r.id))
                for r in referrals
                for digest in (
                    self._hasher.for_keys(keys)
                    if keys is not None
                    else self._hasher.for_referral(r)
                )
            ],
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
        marks = ", ".join("?" for _ in digests)
        # The ids first, from the index; only then their rows (CROSS JOIN fixes that order).
        sql = (
            "SELECT r.id, r.body FROM (SELECT DISTINCT referral_id FROM patient_index"  # noqa: S608 - only "?" marks
            f" WHERE tenant = ? AND digest IN ({marks}) AND referral_id > ?"
            " ORDER BY referral_id LIMIT ?) ids CROSS JOIN referrals r ON r.id = ids.referral_id"
            " WHERE r.tenant = ? ORDER BY r.id"
        )
        params = (
            self._tenant,
            *digests,
            "" if after is None else str(after),
            limit,
            self._tenant,
        )
        rows = self._read(lambda c: c.execute(sql, params).fetchall())
        return [decode_referral(key, body) for key, body in rows]

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        row = self._conn.execute("SELECT version FROM referralkit_schema").fetchone()
        return int(row[0])

    # -- writes ---------------------------------------------------------------------------

    def create(self, referral: Referral, events: Events) -> None:
        """Insert a new referral and its events (``created`` first) in one transaction."""
        chain = check_change(referral, events, expected_version=0)
        row = _row(referral)
        try:
            with self._transaction as conn:
                conn.execute(_INSERT, (*row, self._tenant))
                conn.executemany(
                    _INSERT_EVENT,
                    [(str(referral.id), e.seq, e.to_json(), self._tenant) for e in chain],
                )
                _index_tasks(conn, [referral], replace=False, tenant=self._tenant)
                self._file(conn, [referral], replace=False)
                self._register_tenant(conn)
                self._seal(conn, [row])
        except sqlite3.IntegrityError as exc:
            raise DuplicateReferralError(referral.id) from exc

    def create_many(
        self, items: Iterable[tuple[Referral, Event]], *, batch_size: int = 1000
    ) -> int:
        """Insert many new referrals with ``executemany``, one transaction per batch."""
        return sum(self._insert_batch(batch) for batch in checked_batches(items, batch_size))

    def _insert_batch(self, batch: list[tuple[Referral, Event]]) -> int:
        rows = [_row(referral) for referral, _ in batch]
        event_rows = [(str(r.id), e.seq, e.to_json(), self._tenant) for r, e in batch]
        try:
            with self._transaction as conn:
                conn.executemany(_INSERT, [(*row, self._tenant) for row in rows])
                conn.executemany(_INSERT_EVENT, event_rows)
                referrals = [r for r, _ in batch]
                _index_tasks(conn, referrals, replace=False, tenant=self._tenant)
                self._file(conn, referrals, replace=False)
                self._register_tenant(conn)
                self._seal(conn, rows)
        except sqlite3.IntegrityError as exc:
            raise DuplicateReferralError(UUID(self._first_existing(rows))) from exc
        return len(rows)

    def _first_existing(self, rows: list[_Row]) -> str:
        seen: set[str] = set()
        for row in rows:
            exists = self._conn.execute(
                "SELECT 1 FROM referrals WHERE id = ?", (row[0],)
            ).fetchone()
            if exists or row[0] in seen:
                return row[0]
            seen.add(row[0])
        return rows[0][0]  # pragma: no cover - an IntegrityError always has a culprit

    def save(self, referral: Referral, events: Events, *, expected_version: int) -> None:
        """Update the referral if its stored version matches, and append its events."""
        chain = check_change(referral, events, expected_version=expected_version)
        row = _row(referral)
        key = row[0]
        tenant = self._tenant
        event_rows = [(key, event.seq, event.to_json(), tenant) for event in chain]
        # Unchanged keys and tasks since the version this store filed: those index rows stand.
        keys, tasks = self._filed.changes(referral, expected_version)
        try:
            with self._transaction as conn:
                # The version check is the UPDATE's own WHERE: a stale writer changes no row.
                updated = conn.execute(_UPDATE, (*row[1:], key, expected_version, tenant)).rowcount
                if updated != 1:
                    found = conn.execute(
                        "SELECT version FROM referrals WHERE id = ? AND tenant = ?",
                        (key, tenant),
                    ).fetchone()
                    if found is None:
                        raise ReferralNotFoundError(referral.id)
                    raise ConflictError(referral.id, expected_version, int(found[0]))
                if len(event_rows) == 1:
                    conn.execute(_INSERT_EVENT, event_rows[0])
                else:
                    conn.executemany(_INSERT_EVENT, event_rows)
                if tasks is not None:
                    _index_tasks(conn, [referral], replace=True, tenant=tenant, rows=tasks)
                if keys is not None:
                    self._file(conn, [referral], replace=True, keys=keys)
                if self.keyring is not None:
                    self._seal(conn, [row])
        except sqlite3.IntegrityError as exc:
            raise ConflictError(referral.id, expected_version, None) from exc
        self._filed.remember(referral, keys, tasks)

    def _seal(
        self,
        conn: sqlite3.Connection,
        rows: list[_Row],
    ) -> None:
        if self.keyring is None:
            return
        keyring = self.keyring
        sealed = [(s.key_id, s.mac, row[0]) for row in rows for s in [keyring.seal(row[6])]]
        conn.executemany("UPDATE referrals SET seal_key = ?, seal = ? WHERE id = ?", sealed)

    def _register_tenant(self, conn: sqlite3.Connection) -> None:
        conn.execute("INSERT OR IGNORE INTO tenants (tenant) VALUES (?)", (self._tenant,))

    # -- reads ----------------------------------------------------------------------------

    def _read(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            try:
                return fn(self._conn)
            except sqlite3.ProgrammingError as exc:
                raise StoreError("the store is closed") from exc
            except sqlite3.OperationalError as exc:
                raise StoreError(f"read failed: {exc}") from exc

    def referral_number_taken(self, number: str) -> bool:
        """Return whether a stored referral has *number* (uses the number index)."""
        row = self._read(
            lambda c: c.execute(
                "SELECT 1 FROM referrals WHERE tenant = ? AND referral_number = ? LIMIT 1",
                (self._tenant, number),
            ).fetchone()
        )
        return row is not None

    def get(self, referral_id: UUID) -> Referral:
        """Return the referral, decoded from its stored JSON."""
        row = self._read(
            lambda c: c.execute(
                "SELECT body FROM referrals WHERE id = ? AND tenant = ?",
                (str(referral_id), self._tenant),
            ).fetchone()
        )
        if row is None:
            raise ReferralNotFoundError(referral_id)
        return decode_referral(referral_id, row[0])

    def events(self, referral_id: UUID) -> list[Event]:
        """Return the referral's events in sequence order."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT body FROM events WHERE referral_id = ? AND tenant = ? ORDER BY seq",
                (str(referral_id), self._tenant),
            ).fetchall()
        )
        return decode_events(referral_id, (body for (body,) in rows))

    def stored_record(self, referral_id: UUID) -> StoredRecord:
        """Return the referral's row and event rows exactly as stored (for verification)."""
        key = str(referral_id)

        def read(c: sqlite3.Connection) -> tuple[Any, list[tuple[str, int, str]]]:
            row = c.execute(
                "SELECT body, status, version, next_action_at, seal_key, seal FROM referrals"
                " WHERE id = ? AND tenant = ?",
                (key, self._tenant),
            ).fetchone()
            events = c.execute(
                "SELECT referral_id, seq, body FROM events WHERE referral_id = ? AND tenant = ?"
                " ORDER BY seq",
                (key, self._tenant),
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
            next_action_at=None if next_at is None else _EPOCH + int(next_at) * _MICRO,
            seal=None if seal_key is None or seal is None else Seal(str(seal_key), str(seal)),
            events=stored_events,
        )

    def referral_ids(self, *, after: UUID | None = None, limit: int = 500) -> list[UUID]:
        """Return ids with a referral row or events, in id order, after *after*."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT id FROM (SELECT id FROM referrals WHERE tenant = ?1 UNION"
                " SELECT referral_id FROM events WHERE tenant = ?1)"
                " WHERE id > ?2 ORDER BY id LIMIT ?3",
                (self._tenant, "" if after is None else str(after), limit),
            ).fetchall()
        )
        return [UUID(key) for (key,) in rows]

    def list_by_status(
        self, statuses: Sequence[ReferralStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        """Return referrals in *statuses*, ordered by id (keyset paging with *after*)."""
        if not statuses:
            return []
        marks = ", ".join("?" for _ in statuses)
        params: list[object] = [self._tenant, *(s.value for s in statuses)]
        sql = f"SELECT id, body FROM referrals WHERE tenant = ? AND status IN ({marks})"  # noqa: S608 - only "?" marks
        if after is not None:
            sql += " AND id > ?"
            params.append(str(after))
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        rows = self._read(lambda c: c.execute(sql, params).fetchall())
        return [decode_referral(key, body) for key, body in rows]

    def list_outbound(
        self, statuses: Sequence[OutboundStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        """Return referrals we sent in sending *statuses*, ordered by id (keyset paging)."""
        if not statuses:
            return []
        marks = ", ".join("?" for _ in statuses)
        params: list[object] = [self._tenant, *(s.value for s in statuses)]
        # The expressions match the partial index referrals_outbound exactly.
        sql = (
            "SELECT id, body FROM referrals WHERE tenant = ? AND status = 'intake'"  # noqa: S608 - only "?" marks
            f" AND json_extract(body, '$.outbound.status') IN ({marks})"
        )
        if after is not None:
            sql += " AND id > ?"
            params.append(str(after))
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
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
        keyset = "" if after is None else f" AND ({column}, id) > (?, ?)"
        sql = (
            f"SELECT id, body FROM referrals"  # noqa: S608 - fixed names
            f" WHERE tenant = ? AND {column} IS NOT NULL AND {column} <= ?{keyset}"
            f" ORDER BY {column}, id LIMIT ?"
        )
        params: tuple[object, ...] = (
            (self._tenant, _micros(now), limit)
            if after is None
            else (self._tenant, _micros(now), _micros(after[0]), str(after[1]), limit)
        )
        rows = self._read(lambda c: c.execute(sql, params).fetchall())
        return [decode_referral(key, body) for key, body in rows]

    def reschedule_routing(self, referral: Referral, next_routing_at: datetime | None) -> bool:
        """Set ``next_routing_at`` if the stored version is *referral*'s; no event is added."""
        row = _row(referral.model_copy(update={"next_routing_at": next_routing_at}))
        with self._transaction as conn:
            updated = conn.execute(
                "UPDATE referrals SET next_routing_at = ?, body = ?"
                " WHERE id = ? AND version = ? AND tenant = ?",
                (row[7], row[6], row[0], referral.version, self._tenant),
            ).rowcount
            if updated == 1:
                self._seal(conn, [row])  # the body changed: so does its seal
        return updated == 1

    def count_by_status(self) -> dict[ReferralStatus, int]:
        """Return the number of referrals per status."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT status, COUNT(*) FROM referrals WHERE tenant = ? GROUP BY status",
                (self._tenant,),
            ).fetchall()
        )
        return {ReferralStatus(status): int(n) for status, n in rows}

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
        where = ["tenant = ?", "(referral_id, seq) > (?, ?)"]
        bounds: list[object] = []
        if low is not None:
            where.append("json_extract(body, '$.at') >= ?")
            bounds.append(low)
        if high is not None:
            where.append("json_extract(body, '$.at') < ?")
            bounds.append(high)
        sql = (
            "SELECT referral_id, seq, body FROM events WHERE "  # noqa: S608 - fixed clauses
            + " AND ".join(where)
            + " ORDER BY referral_id, seq LIMIT ?"
        )
        cursor: tuple[str, int] = ("", 0)
        while True:
            params = (self._tenant, *cursor, *bounds, batch_size)
            # One short read per page: the lock is not held while the caller works.
            rows = self._read(lambda c, p=params: c.execute(sql, p).fetchall())  # type: ignore[misc]
            for key, _, body in rows:
                event = decode_event(key, body)
                if in_window(event.at, since, until):
                    yield event
            if len(rows) < batch_size:
                return
            cursor = (rows[-1][0], int(rows[-1][1]))

    # -- leases (LeasingStore) --------------------------------------------------------------

    def claim_due(
        self, now: datetime, *, worker: str, lease: timedelta, limit: int = 100
    ) -> list[Referral]:
        """Lease up to *limit* due referrals no live lease holds to *worker*, in one transaction.

        The due rows come from the partial ``(next_action_at, id)`` index, so the cost follows
        the number of due referrals, not the number stored.
        """
        at = _micros(now)
        with self._transaction as conn:
            rows = conn.execute(
                "SELECT r.id, r.body FROM referrals r WHERE r.tenant = ?"
                " AND r.next_action_at IS NOT NULL"
                " AND r.next_action_at <= ? AND NOT EXISTS (SELECT 1 FROM leases l"
                " WHERE l.referral_id = r.id AND l.expires_at > ?)"
                " ORDER BY r.next_action_at, r.id LIMIT ?",
                (self._tenant, at, at, limit),
            ).fetchall()
            until = _micros(now + lease)
            conn.executemany(
                "INSERT OR REPLACE INTO leases (referral_id, worker, expires_at, tenant)"
                " VALUES (?, ?, ?, ?)",
                [(key, worker, until, self._tenant) for key, _ in rows],
            )
        return [decode_referral(key, body) for key, body in rows]

    def claim(
        self, referral_id: UUID, now: datetime, *, worker: str, lease: timedelta
    ) -> Referral | None:
        """Lease the referral to *worker* if it is due and unleased, in one transaction."""
        at = _micros(now)
        with self._transaction as conn:
            row = conn.execute(
                "SELECT r.id, r.body FROM referrals r WHERE r.id = ? AND r.tenant = ?"
                " AND r.next_action_at IS NOT NULL AND r.next_action_at <= ?"
                " AND NOT EXISTS (SELECT 1 FROM leases l"
                " WHERE l.referral_id = r.id AND l.expires_at > ?)",
                (str(referral_id), self._tenant, at, at),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "INSERT OR REPLACE INTO leases (referral_id, worker, expires_at, tenant)"
                " VALUES (?, ?, ?, ?)",
                (row[0], worker, _micros(now + lease), self._tenant),
            )
        return decode_referral(row[0], row[1])

    def backlog(self, now: datetime) -> Backlog:
        """Return the due-work and lease figures at *now* (from the due index)."""
        at = _micros(now)

        def read(conn: sqlite3.Connection) -> tuple[Any, Any]:
            due = conn.execute(
                "SELECT COUNT(*), MIN(next_action_at) FROM referrals"
                " WHERE tenant = ? AND next_action_at IS NOT NULL AND next_action_at <= ?",
                (self._tenant, at),
            ).fetchone()
            leases = conn.execute(
                "SELECT COUNT(*) FILTER (WHERE expires_at > ?),"
                " COUNT(*) FILTER (WHERE expires_at <= ?) FROM leases WHERE tenant = ?",
                (at, at, self._tenant),
            ).fetchone()
            return due, leases

        (due, oldest), (live, expired) = self._read(read)
        return Backlog(
            due=int(due),
            oldest_due=None if oldest is None else _from_micros(int(oldest)),
            leases_live=int(live or 0),
            leases_expired=int(expired or 0),
        )

    def abandoned(self, now: datetime, *, limit: int = 100) -> list[UUID]:
        """Return referrals whose lease expired unreleased, oldest expiry first."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT referral_id FROM leases WHERE tenant = ? AND expires_at <= ?"
                " ORDER BY expires_at, referral_id LIMIT ?",
                (self._tenant, _micros(now), limit),
            ).fetchall()
        )
        return [UUID(key) for (key,) in rows]

    def release(self, referral_id: UUID, *, worker: str) -> bool:
        """End *worker*'s lease on the referral; ``False`` if it held none."""
        with self._transaction as conn:
            deleted = conn.execute(
                "DELETE FROM leases WHERE referral_id = ? AND worker = ? AND tenant = ?",
                (str(referral_id), worker, self._tenant),
            ).rowcount
        return deleted == 1

    def reschedule(self, referral: Referral, next_action_at: datetime | None) -> bool:
        """Set ``next_action_at`` if the stored version is *referral*'s; no event is added."""
        row = _row(referral.model_copy(update={"next_action_at": next_action_at}))
        with self._transaction as conn:
            updated = conn.execute(
                "UPDATE referrals SET next_action_at = ?, body = ?"
                " WHERE id = ? AND version = ? AND tenant = ?",
                (row[3], row[6], row[0], referral.version, self._tenant),
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
        where: list[str] = ["tenant = ?"]
        params: list[object] = [self._tenant]
        if query.queue is not None:
            where.append("queue = ?")
            params.append(query.queue)
        where.append(f"status IN ({', '.join('?' for _ in query.statuses)})")
        params.extend(s.value for s in query.statuses)
        if query.assignee is not None:
            where.append("assignee = ?")
            params.append(query.assignee)
        if query.due_before is not None:
            where.append("due_at < ?")
            params.append(_micros(query.due_before))
        if query.priority is not None:
            where.append("priority = ?")
            params.append(query.priority.value)
        if query.after is not None:
            where.append("(urgency, due_at, task_id) > (?, ?, ?)")
            params.extend(
                (query.after.urgency, _micros(query.after.due_at), str(query.after.task_id))
            )
        sql = (
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE {' AND '.join(where)}"  # noqa: S608 - only "?" marks
            " ORDER BY urgency, due_at, task_id LIMIT ?"
        )
        params.append(query.limit)
        rows = self._read(lambda c: c.execute(sql, params).fetchall())
        return [_task_row(row) for row in rows]

    def queue_counts(self, now: datetime, day_end: datetime) -> dict[str, QueueCounts]:
        """Return per-queue counts of open and claimed tasks (see ``TaskIndex``)."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT queue, COUNT(*), SUM(due_at < ?), SUM(due_at >= ? AND due_at < ?),"
                " MIN(created_at) FROM tasks WHERE tenant = ? AND status IN ('open', 'claimed')"
                " GROUP BY queue ORDER BY queue",
                (_micros(now), _micros(now), _micros(day_end), self._tenant),
            ).fetchall()
        )
        return {
            queue: QueueCounts(queue, int(n), int(late), int(today), _from_micros(oldest))
            for queue, n, late, today, oldest in rows
        }

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({os.path.basename(self._path)!r})"


_TASK_COLUMNS: Final = (
    "task_id, referral_id, queue, status, priority, due_at, created_at, assignee, title, moot,"
    " escalation_level"
)


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _task_row(row: tuple[object, ...]) -> TaskRow:
    task_id, referral_id, queue, status, priority, due, created, assignee, title, moot, level = row
    return TaskRow(
        task_id=UUID(str(task_id)),
        referral_id=UUID(str(referral_id)),
        queue=str(queue),
        status=TaskStatus(status),
        priority=TaskPriority(priority),
        due_at=_from_micros(int(str(due))),
        created_at=_from_micros(int(str(created))),
        title=str(title),
        assignee=None if assignee is None else str(assignee),
        moot=bool(moot),
        escalation_level=int(str(level)),
    )


def _index_tasks(
    conn: sqlite3.Connection,
    referrals: Sequence[Referral],
    *,
    replace: bool,
    tenant: str,
    rows: list[TaskRow] | None = None,
) -> None:
    # Inside the caller's write transaction: the index changes with the referral or not at all.
    # *rows*: the one referral's rows, when the caller derived them already.
    if replace:
        conn.executemany(
            "DELETE FROM tasks WHERE referral_id = ?", [(str(r.id),) for r in referrals]
        )
    values = [
        (
            str(row.task_id),
            str(row.referral_id),
            row.queue,
            row.status.value,
            row.priority.value,
            URGENCY[row.priority],
            _micros(row.due_at),
            _micros(row.created_at),
            row.assignee,
            row.title,
            int(row.moot),
            row.escalation_level,
            tenant,
        )
        for row in (rows if rows is not None else [r for ref in referrals for r in task_rows(ref)])
    ]
    if values:
        conn.executemany(
            "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )


def _file_existing(conn: sqlite3.Connection) -> None:
    # Part of the tenant migration: make the index secret and file every existing referral
    # (all in the default tenant), a page at a time, in the migration's transaction.
    secret = new_index_secret()
    conn.execute("INSERT INTO meta (name, value) VALUES ('index_secret', ?)", (secret,))
    hashers: dict[str, IndexHasher] = {}
    after = ""
    while rows := conn.execute(
        "SELECT id, tenant, body FROM referrals WHERE id > ? ORDER BY id LIMIT 500", (after,)
    ).fetchall():
        filed: list[tuple[str, str, str]] = []
        for key, tenant, body in rows:
            hasher = hashers.setdefault(tenant, IndexHasher(secret, tenant))
            referral = decode_referral(key, body)
            filed.extend((tenant, digest, key) for digest in hasher.for_referral(referral))
        conn.executemany(
            "INSERT OR IGNORE INTO patient_index (tenant, digest, referral_id) VALUES (?, ?, ?)",
            filed,
        )
        after = rows[-1][0]
