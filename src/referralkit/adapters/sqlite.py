"""The embedded default store: SQLite through the standard library, in WAL mode.

Each write is one ``BEGIN IMMEDIATE`` transaction holding the referral update and its event, so
several processes can share a file: writers queue on the busy timeout, and a writer whose
version is stale gets :class:`~referralkit.errors.ConflictError` with nothing written.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, TypeVar
from uuid import UUID

from referralkit.adapters._codec import decode_events, decode_referral
from referralkit.errors import (
    ConflictError,
    DuplicateReferralError,
    NotAReferralkitDatabaseError,
    ReferralNotFoundError,
    StoreError,
)
from referralkit.events import Event
from referralkit.model import Referral, ReferralStatus
from referralkit.store import Events, check_change, checked_batches

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)

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
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The schema version this release writes."""

_T = TypeVar("_T")


def _micros(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICRO


def _row(referral: Referral) -> tuple[str, int, str, int | None, str | None, int | None, str]:
    return (
        str(referral.id),
        referral.version,
        referral.status.value,
        _micros(referral.next_action_at),
        referral.referral_number,
        _micros(referral.updated_at),
        referral.model_dump_json(),
    )


class SQLiteStore:
    """A :class:`~referralkit.store.Store` in one SQLite file (WAL, ``BEGIN IMMEDIATE``).

    :param path: the database file (created if missing), or ``":memory:"``.
    :param timeout: seconds a writer waits for another writer's lock before failing.
    :param synchronous: ``"NORMAL"`` (durable at checkpoints; the WAL default) or ``"FULL"``
        (every commit fsynced).
    :raises NotAReferralkitDatabaseError: the file is not SQLite, holds other tables, or has a
        newer schema than this release knows.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 10.0,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        self._path = os.fspath(path)
        self._lock = threading.RLock()
        try:
            # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
            self._conn = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise NotAReferralkitDatabaseError(f"cannot open SQLite database: {exc}") from exc
        try:
            self._conn.execute("PRAGMA journal_mode=WAL").fetchone()
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            self._migrate()
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
        with self._transaction() as conn:
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
            conn.execute("UPDATE referralkit_schema SET version = ?", (SCHEMA_VERSION,))

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        row = self._conn.execute("SELECT version FROM referralkit_schema").fetchone()
        return int(row[0])

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.ProgrammingError as exc:
                raise StoreError("the store is closed") from exc
            except sqlite3.OperationalError as exc:
                raise StoreError(f"could not start a write transaction: {exc}") from exc
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- writes ---------------------------------------------------------------------------

    def create(self, referral: Referral, events: Events) -> None:
        """Insert a new referral and its events (``created`` first) in one transaction."""
        chain = check_change(referral, events, expected_version=0)
        try:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT INTO referrals (id, version, status, next_action_at, referral_number,"
                    " updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    _row(referral),
                )
                conn.executemany(
                    "INSERT INTO events (referral_id, seq, body) VALUES (?, ?, ?)",
                    [(str(referral.id), event.seq, event.to_json()) for event in chain],
                )
        except sqlite3.IntegrityError as exc:
            raise DuplicateReferralError(referral.id) from exc

    def create_many(
        self, items: Iterable[tuple[Referral, Event]], *, batch_size: int = 1000
    ) -> int:
        """Insert many new referrals with ``executemany``, one transaction per batch."""
        return sum(self._insert_batch(batch) for batch in checked_batches(items, batch_size))

    def _insert_batch(self, batch: list[tuple[Referral, Event]]) -> int:
        rows = [_row(referral) for referral, _ in batch]
        event_rows = [(str(r.id), e.seq, e.to_json()) for r, e in batch]
        try:
            with self._transaction() as conn:
                conn.executemany(
                    "INSERT INTO referrals (id, version, status, next_action_at, referral_number,"
                    " updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.executemany(
                    "INSERT INTO events (referral_id, seq, body) VALUES (?, ?, ?)", event_rows
                )
        except sqlite3.IntegrityError as exc:
            raise DuplicateReferralError(UUID(self._first_existing(rows))) from exc
        return len(rows)

    def _first_existing(
        self, rows: list[tuple[str, int, str, int | None, str | None, int | None, str]]
    ) -> str:
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
        key = str(referral.id)
        row = _row(referral)
        try:
            with self._transaction() as conn:
                updated = conn.execute(
                    "UPDATE referrals SET version = ?, status = ?, next_action_at = ?,"
                    " referral_number = ?, updated_at = ?, body = ? WHERE id = ? AND version = ?",
                    (*row[1:], key, expected_version),
                ).rowcount
                if updated != 1:
                    found = conn.execute(
                        "SELECT version FROM referrals WHERE id = ?", (key,)
                    ).fetchone()
                    if found is None:
                        raise ReferralNotFoundError(referral.id)
                    raise ConflictError(referral.id, expected_version, int(found[0]))
                conn.executemany(
                    "INSERT INTO events (referral_id, seq, body) VALUES (?, ?, ?)",
                    [(key, event.seq, event.to_json()) for event in chain],
                )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(referral.id, expected_version, None) from exc

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
                "SELECT 1 FROM referrals WHERE referral_number = ? LIMIT 1", (number,)
            ).fetchone()
        )
        return row is not None

    def get(self, referral_id: UUID) -> Referral:
        """Return the referral, decoded from its stored JSON."""
        row = self._read(
            lambda c: c.execute(
                "SELECT body FROM referrals WHERE id = ?", (str(referral_id),)
            ).fetchone()
        )
        if row is None:
            raise ReferralNotFoundError(referral_id)
        return decode_referral(referral_id, row[0])

    def events(self, referral_id: UUID) -> list[Event]:
        """Return the referral's events in sequence order."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT body FROM events WHERE referral_id = ? ORDER BY seq", (str(referral_id),)
            ).fetchall()
        )
        return decode_events(referral_id, (body for (body,) in rows))

    def list_by_status(
        self, statuses: Sequence[ReferralStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        """Return referrals in *statuses*, ordered by id (keyset paging with *after*)."""
        if not statuses:
            return []
        marks = ", ".join("?" for _ in statuses)
        params: list[object] = [s.value for s in statuses]
        sql = f"SELECT id, body FROM referrals WHERE status IN ({marks})"  # noqa: S608 - only "?" marks
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
        if after is None:
            sql = (
                "SELECT id, body FROM referrals WHERE next_action_at IS NOT NULL"
                " AND next_action_at <= ? ORDER BY next_action_at, id LIMIT ?"
            )
            params: tuple[object, ...] = (_micros(now), limit)
        else:
            sql = (
                "SELECT id, body FROM referrals WHERE next_action_at IS NOT NULL"
                " AND next_action_at <= ? AND (next_action_at, id) > (?, ?)"
                " ORDER BY next_action_at, id LIMIT ?"
            )
            params = (_micros(now), _micros(after[0]), str(after[1]), limit)
        rows = self._read(lambda c: c.execute(sql, params).fetchall())
        return [decode_referral(key, body) for key, body in rows]

    def count_by_status(self) -> dict[ReferralStatus, int]:
        """Return the number of referrals per status."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT status, COUNT(*) FROM referrals GROUP BY status"
            ).fetchall()
        )
        return {ReferralStatus(status): int(n) for status, n in rows}

    # -- leases (LeasingStore) --------------------------------------------------------------

    def claim_due(
        self, now: datetime, *, worker: str, lease: timedelta, limit: int = 100
    ) -> list[Referral]:
        """Lease up to *limit* due referrals no live lease holds to *worker*, in one transaction.

        The due rows come from the partial ``(next_action_at, id)`` index, so the cost follows
        the number of due referrals, not the number stored.
        """
        at = _micros(now)
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT r.id, r.body FROM referrals r WHERE r.next_action_at IS NOT NULL"
                " AND r.next_action_at <= ? AND NOT EXISTS (SELECT 1 FROM leases l"
                " WHERE l.referral_id = r.id AND l.expires_at > ?)"
                " ORDER BY r.next_action_at, r.id LIMIT ?",
                (at, at, limit),
            ).fetchall()
            until = _micros(now + lease)
            conn.executemany(
                "INSERT OR REPLACE INTO leases (referral_id, worker, expires_at) VALUES (?, ?, ?)",
                [(key, worker, until) for key, _ in rows],
            )
        return [decode_referral(key, body) for key, body in rows]

    def release(self, referral_id: UUID, *, worker: str) -> bool:
        """End *worker*'s lease on the referral; ``False`` if it held none."""
        with self._transaction() as conn:
            deleted = conn.execute(
                "DELETE FROM leases WHERE referral_id = ? AND worker = ?",
                (str(referral_id), worker),
            ).rowcount
        return deleted == 1

    def reschedule(self, referral: Referral, next_action_at: datetime | None) -> bool:
        """Set ``next_action_at`` if the stored version is *referral*'s; no event is added."""
        row = _row(referral.model_copy(update={"next_action_at": next_action_at}))
        with self._transaction() as conn:
            updated = conn.execute(
                "UPDATE referrals SET next_action_at = ?, body = ? WHERE id = ? AND version = ?",
                (row[3], row[6], row[0], referral.version),
            ).rowcount
        return updated == 1

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({os.path.basename(self._path)!r})"
