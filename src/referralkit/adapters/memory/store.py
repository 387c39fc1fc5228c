""":class:`MemoryStore`: a thread-safe, non-durable :class:`~referralkit.store.Store`."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

import attrs

from referralkit.errors import ConflictError, DuplicateReferralError, ReferralNotFoundError
from referralkit.events import Event
from referralkit.integrity.records import StoredEvent, StoredRecord
from referralkit.integrity.seal import Keyring, Seal
from referralkit.model import OutboundStatus, ReferralStatus
from referralkit.patient_index import IndexHasher, IndexKey, new_index_secret, referral_keys
from referralkit.store import Backlog, Events, check_change, checked_batches
from referralkit.tasks.index import (
    QueueCounts,
    TaskQuery,
    TaskRow,
    count_rows,
    query_rows,
    task_rows,
)
from referralkit.tenancy import DEFAULT_TENANT, check_tenant

if TYPE_CHECKING:
    from referralkit.model import Patient, Referral

__all__ = ["MemoryStore"]


def _due_key(referral: Referral) -> tuple[datetime, str]:
    assert referral.next_action_at is not None  # noqa: S101 - filtered by the caller
    return referral.next_action_at, str(referral.id)


@attrs.define
class _Partition:
    # One tenant's rows: a store bound to the tenant reads and writes only these.
    referrals: dict[UUID, Referral] = attrs.field(factory=dict)
    events: dict[UUID, list[Event]] = attrs.field(factory=dict)
    leases: dict[UUID, tuple[str, datetime]] = attrs.field(factory=dict)
    task_index: dict[UUID, list[TaskRow]] = attrs.field(factory=dict)
    seals: dict[UUID, Seal] = attrs.field(factory=dict)
    numbers: Counter[str] = attrs.field(factory=Counter)
    # The patient and number index: hashed key -> referral ids, and each referral's keys.
    index: dict[str, set[UUID]] = attrs.field(factory=dict)
    filed: dict[UUID, list[str]] = attrs.field(factory=dict)
    # The patient record, number and keys last filed: a save of a copy sharing them skips.
    filed_keys: dict[UUID, tuple[Patient | None, str | None, frozenset[IndexKey]]] = attrs.field(
        factory=dict
    )


@attrs.define
class _Database:
    # What every tenant's store on one in-memory "database" shares.
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    owners: dict[UUID, str] = attrs.field(factory=dict)  # ids are unique across tenants
    partitions: dict[str, _Partition] = attrs.field(factory=dict)
    secret: bytes = attrs.field(factory=new_index_secret)


@attrs.define
class MemoryStore:
    """A :class:`~referralkit.store.Store` held in process memory; thread-safe, not durable.

    Referrals are frozen, so the store keeps the objects themselves: nothing a caller holds can
    change what is stored.

    :param keyring: the host's sealing keys: every write seals the referral with the current key
        (:mod:`referralkit.integrity`). Without one nothing is sealed.
    :param tenant: the tenant this store reads and writes (:mod:`referralkit.tenancy`);
        :meth:`for_tenant` gives a store for another tenant on the same data.
    :raises InvalidTenantError: *tenant* is not a usable tenant id.

    .. versionchanged:: 0.4 bound to a tenant; keeps the patient and number index.
    """

    keyring: Keyring | None = attrs.field(default=None, kw_only=True)
    tenant: str = attrs.field(default=DEFAULT_TENANT, kw_only=True, converter=check_tenant)

    _database: _Database = attrs.field(factory=_Database, init=False)
    _referrals: dict[UUID, Referral] = attrs.field(init=False)
    _events: dict[UUID, list[Event]] = attrs.field(init=False)
    _lock: threading.Lock = attrs.field(init=False)
    _leases: dict[UUID, tuple[str, datetime]] = attrs.field(init=False)
    # The task index: referral id -> its rows, replaced with the referral under the lock.
    _task_index: dict[UUID, list[TaskRow]] = attrs.field(init=False)
    _seals: dict[UUID, Seal] = attrs.field(init=False)
    # referral number -> how many stored referrals carry it (an index, as the SQL stores have)
    _numbers: Counter[str] = attrs.field(init=False)
    _partition: _Partition = attrs.field(init=False)
    _hasher: IndexHasher = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._attach(self._database)

    def _attach(self, database: _Database) -> None:
        self._database = database
        self._lock = database.lock
        with database.lock:
            part = database.partitions.setdefault(self.tenant, _Partition())
        self._partition = part
        self._referrals = part.referrals
        self._events = part.events
        self._leases = part.leases
        self._task_index = part.task_index
        self._seals = part.seals
        self._numbers = part.numbers
        self._hasher = IndexHasher(database.secret, self.tenant)

    def for_tenant(self, tenant: str) -> MemoryStore:
        """Return a store on the same data bound to *tenant* (see ``TenantStore``)."""
        other = MemoryStore(keyring=self.keyring, tenant=tenant)
        other._attach(self._database)
        return other

    def admin_list_tenants(self) -> list[str]:
        """Return every tenant with a stored referral (an admin read across tenants)."""
        with self._lock:
            return sorted(set(self._database.owners.values()))

    def _put(self, referral: Referral) -> None:
        # Called with the lock held: the referral, its seal and its index keys change together.
        self._referrals[referral.id] = referral
        if self.keyring is not None:
            self._seals[referral.id] = self.keyring.seal(referral.model_dump_json())
        part = self._partition
        previous = part.filed_keys.get(referral.id)
        if (
            previous is not None
            and previous[0] is referral.patient
            and previous[1] == referral.referral_number
        ):
            return  # a copy with other fields changed: the same patient record, same keys
        keys = referral_keys(referral)
        part.filed_keys[referral.id] = (referral.patient, referral.referral_number, keys)
        if previous is not None and previous[2] == keys:
            return  # most saves leave the patient, phones and number as they were
        for digest in part.filed.pop(referral.id, ()):
            ids = part.index[digest]
            ids.discard(referral.id)
            if not ids:
                del part.index[digest]
        digests = self._hasher.for_keys(keys)
        if digests:
            part.filed[referral.id] = digests
            for digest in digests:
                part.index.setdefault(digest, set()).add(referral.id)

    def _index(self, old: Referral | None, new: Referral) -> None:
        if old is not None and old.referral_number == new.referral_number:
            return  # most saves keep the number: nothing to recount
        if old is not None and old.referral_number is not None:
            self._numbers[old.referral_number] -= 1
            if self._numbers[old.referral_number] <= 0:
                del self._numbers[old.referral_number]
        if new.referral_number is not None:
            self._numbers[new.referral_number] += 1

    def find_indexed(
        self, keys: Collection[IndexKey], *, limit: int = 500, after: UUID | None = None
    ) -> list[Referral]:
        """Return referrals filed under any of *keys*, by id after *after* (``IndexedStore``)."""
        digests = self._hasher.digests(keys)
        with self._lock:
            ids = {i for d in digests for i in self._partition.index.get(d, ())}
            rows = [self._referrals[i] for i in ids if after is None or str(i) > str(after)]
        rows.sort(key=lambda r: str(r.id))
        return rows[:limit]

    def create(self, referral: Referral, events: Events) -> None:
        """Insert a new referral and its events (``created`` first)."""
        chain = check_change(referral, events, expected_version=0)
        with self._lock:
            if referral.id in self._database.owners:
                raise DuplicateReferralError(referral.id)
            self._database.owners[referral.id] = self.tenant
            self._put(referral)
            self._index(None, referral)
            self._events[referral.id] = list(chain)
            self._index_tasks(referral)

    def create_many(
        self, items: Iterable[tuple[Referral, Event]], *, batch_size: int = 1000
    ) -> int:
        """Insert many new referrals; a batch with a duplicate id is not written."""
        return sum(self._insert_batch(batch) for batch in checked_batches(items, batch_size))

    def _insert_batch(self, batch: list[tuple[Referral, Event]]) -> int:
        with self._lock:
            seen: set[UUID] = set()
            for referral, _ in batch:
                if referral.id in self._database.owners or referral.id in seen:
                    raise DuplicateReferralError(referral.id)
                seen.add(referral.id)
            for referral, event in batch:
                self._database.owners[referral.id] = self.tenant
                self._put(referral)
                self._index(None, referral)
                self._events[referral.id] = [event]
                self._index_tasks(referral)
        return len(batch)

    def save(self, referral: Referral, events: Events, *, expected_version: int) -> None:
        """Replace the referral and append its events if the stored version matches."""
        chain = check_change(referral, events, expected_version=expected_version)
        with self._lock:
            current = self._referrals.get(referral.id)
            if current is None:
                raise ReferralNotFoundError(referral.id)
            if current.version != expected_version:
                raise ConflictError(referral.id, expected_version, current.version)
            self._put(referral)
            self._index(current, referral)
            self._events[referral.id].extend(chain)
            self._index_tasks(referral)

    def referral_number_taken(self, number: str) -> bool:
        """Return whether a stored referral has *number*."""
        with self._lock:
            return number in self._numbers

    def get(self, referral_id: UUID) -> Referral:
        """Return the referral or raise :class:`~referralkit.errors.ReferralNotFoundError`."""
        with self._lock:
            found = self._referrals.get(referral_id)
        if found is None:
            raise ReferralNotFoundError(referral_id)
        return found

    def events(self, referral_id: UUID) -> list[Event]:
        """Return the referral's events in order."""
        with self._lock:
            return list(self._events.get(referral_id, ()))

    def list_by_status(
        self, statuses: Sequence[ReferralStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        """Return referrals in *statuses* ordered by id, after *after*."""
        wanted = set(statuses)
        with self._lock:
            rows = [
                r
                for r in self._referrals.values()
                if r.status in wanted and (after is None or str(r.id) > str(after))
            ]
        rows.sort(key=lambda r: str(r.id))
        return rows[:limit]

    def list_outbound(
        self, statuses: Sequence[OutboundStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        """Return referrals we sent in sending *statuses* ordered by id, after *after*."""
        wanted = set(statuses)
        with self._lock:
            rows = [
                r
                for r in self._referrals.values()
                if r.outbound is not None
                and r.status is ReferralStatus.INTAKE
                and r.outbound.status in wanted
                and (after is None or str(r.id) > str(after))
            ]
        rows.sort(key=lambda r: str(r.id))
        return rows[:limit]

    def due(
        self, now: datetime, *, limit: int = 100, after: tuple[datetime, UUID] | None = None
    ) -> list[Referral]:
        """Return referrals with ``next_action_at <= now``, by ``(next_action_at, id)``."""
        with self._lock:
            rows = [
                r
                for r in self._referrals.values()
                if r.next_action_at is not None and r.next_action_at <= now
            ]
        keyed = sorted((_due_key(r), r) for r in rows)
        if after is not None:
            cursor = (after[0], str(after[1]))
            keyed = [item for item in keyed if item[0] > cursor]
        return [r for _, r in keyed[:limit]]

    def due_for_routing(
        self, now: datetime, *, limit: int = 100, after: tuple[datetime, UUID] | None = None
    ) -> list[Referral]:
        """Return referrals with ``next_routing_at <= now``, by ``(next_routing_at, id)``."""
        with self._lock:
            keyed = sorted(
                ((r.next_routing_at, str(r.id)), r)
                for r in self._referrals.values()
                if r.next_routing_at is not None and r.next_routing_at <= now
            )
        if after is not None:
            cursor = (after[0], str(after[1]))
            keyed = [item for item in keyed if item[0] > cursor]
        return [r for _, r in keyed[:limit]]

    def reschedule_routing(self, referral: Referral, next_routing_at: datetime | None) -> bool:
        """Set ``next_routing_at`` if the stored version is *referral*'s; no event is added."""
        with self._lock:
            current = self._referrals.get(referral.id)
            if current is None or current.version != referral.version:
                return False
            self._put(current.model_copy(update={"next_routing_at": next_routing_at}))
            return True

    def count_by_status(self) -> dict[ReferralStatus, int]:
        """Return the number of referrals per status."""
        with self._lock:
            return dict(Counter(r.status for r in self._referrals.values()))

    def iter_events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        batch_size: int = 1000,
    ) -> Iterator[Event]:
        """Stream events with ``since <= at < until`` by (referral id as text, seq)."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        with self._lock:
            keys = sorted(self._events, key=str)
        for key in keys:
            with self._lock:
                history = list(self._events.get(key, ()))
            for event in history:
                if (since is None or event.at >= since) and (until is None or event.at < until):
                    yield event

    def claim_due(
        self, now: datetime, *, worker: str, lease: timedelta, limit: int = 100
    ) -> list[Referral]:
        """Lease up to *limit* due referrals no live lease holds to *worker* (see LeasingStore)."""
        with self._lock:
            rows = [
                r
                for r in self._referrals.values()
                if r.next_action_at is not None
                and r.next_action_at <= now
                and not (r.id in self._leases and self._leases[r.id][1] > now)
            ]
            claimed = [r for _, r in sorted((_due_key(r), r) for r in rows)[:limit]]
            for referral in claimed:
                self._leases[referral.id] = (worker, now + lease)
        return claimed

    def claim(
        self, referral_id: UUID, now: datetime, *, worker: str, lease: timedelta
    ) -> Referral | None:
        """Lease the referral to *worker* if it is due and unleased (see ``WorkerStore``)."""
        with self._lock:
            referral = self._referrals.get(referral_id)
            held = self._leases.get(referral_id)
            if (
                referral is None
                or referral.next_action_at is None
                or referral.next_action_at > now
                or (held is not None and held[1] > now)
            ):
                return None
            self._leases[referral_id] = (worker, now + lease)
            return referral

    def backlog(self, now: datetime) -> Backlog:
        """Return the due-work and lease figures at *now* (see ``WorkerStore``)."""
        with self._lock:
            due = [
                r.next_action_at
                for r in self._referrals.values()
                if r.next_action_at is not None and r.next_action_at <= now
            ]
            live = sum(1 for _, until in self._leases.values() if until > now)
            return Backlog(
                due=len(due),
                oldest_due=min(due, default=None),
                leases_live=live,
                leases_expired=len(self._leases) - live,
            )

    def abandoned(self, now: datetime, *, limit: int = 100) -> list[UUID]:
        """Return referrals whose lease expired unreleased, oldest expiry first."""
        with self._lock:
            expired = sorted(
                (until, key) for key, (_, until) in self._leases.items() if until <= now
            )
        return [key for _, key in expired[:limit]]

    def release(self, referral_id: UUID, *, worker: str) -> bool:
        """End *worker*'s lease on the referral; ``False`` if it held none."""
        with self._lock:
            held = self._leases.get(referral_id)
            if held is None or held[0] != worker:
                return False
            del self._leases[referral_id]
            return True

    def reschedule(self, referral: Referral, next_action_at: datetime | None) -> bool:
        """Set ``next_action_at`` if the stored version is *referral*'s; no event is added."""
        with self._lock:
            current = self._referrals.get(referral.id)
            if current is None or current.version != referral.version:
                return False
            self._put(current.model_copy(update={"next_action_at": next_action_at}))
            return True

    # -- task index (referralkit.tasks.index.TaskIndex) ------------------------------------

    def _index_tasks(self, referral: Referral) -> None:
        # Called with the lock held, in the same step as the referral write.
        if not referral.tasks and referral.id not in self._task_index:
            return  # the common case: no tasks before or after
        rows = task_rows(referral)
        if rows:
            self._task_index[referral.id] = rows
        else:
            self._task_index.pop(referral.id, None)

    def tasks(self, query: TaskQuery) -> list[TaskRow]:
        """Return indexed tasks matching *query*, most urgent first (see ``TaskIndex``)."""
        with self._lock:
            rows = [row for rows in self._task_index.values() for row in rows]
        return query_rows(rows, query)

    def queue_counts(self, now: datetime, day_end: datetime) -> dict[str, QueueCounts]:
        """Return per-queue counts of open and claimed tasks (see ``TaskIndex``)."""
        with self._lock:
            rows = [row for rows in self._task_index.values() for row in rows]
        return count_rows(rows, now, day_end)

    def stored_record(self, referral_id: UUID) -> StoredRecord:
        """Return the referral and its events as the verifier reads them."""
        with self._lock:
            referral = self._referrals.get(referral_id)
            events = [
                StoredEvent(str(e.referral_id), e.seq, e.to_json())
                for e in self._events.get(referral_id, ())
            ]
            seal = self._seals.get(referral_id)
        if referral is None:
            return StoredRecord(referral_id, None, None, None, None, None, events)
        return StoredRecord(
            referral_id=referral_id,
            body=referral.model_dump_json(),
            status=referral.status.value,
            version=referral.version,
            next_action_at=referral.next_action_at,
            seal=seal,
            events=events,
        )

    def referral_ids(self, *, after: UUID | None = None, limit: int = 500) -> list[UUID]:
        """Return ids with a referral or events, in id order, after *after*."""
        with self._lock:
            ids = set(self._referrals) | set(self._events)
        return sorted((i for i in ids if after is None or str(i) > str(after)), key=str)[:limit]

    def close(self) -> None:
        """Nothing to release; present to satisfy the protocol."""
