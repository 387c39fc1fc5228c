"""The persistence port: the :class:`Store` protocol every backend implements.

A store keeps referrals and their events and writes both in one transaction: a state change is
never committed without its event, nor an event without its state change. Writes carry the
version they were based on; a stale write raises :class:`~referralkit.errors.ConflictError` and
writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from uuid import UUID

import attrs

from referralkit.errors import ConflictError
from referralkit.events import Event
from referralkit.model import OutboundStatus, ReferralStatus
from referralkit.patient_index import IndexKey

if TYPE_CHECKING:
    from referralkit.model import Referral

__all__ = [
    "Backlog",
    "ConflictError",
    "Events",
    "IndexedStore",
    "LeasingStore",
    "NumberedStore",
    "OutboundStore",
    "RoutingStore",
    "Store",
    "TenantStore",
    "WorkerStore",
    "as_events",
    "check_change",
    "checked_batches",
]

Events = Event | Sequence[Event]
"""What a write takes: one event, or the events of one unit of work, oldest first."""


@runtime_checkable
class Store(Protocol):
    """Keeps referrals and their append-only event log.

    Implementations: :class:`~referralkit.adapters.memory.MemoryStore` and
    :class:`~referralkit.adapters.sqlite.SQLiteStore`; all pass
    ``tests/test_store_conformance.py``.
    """

    def create(self, referral: Referral, events: Events) -> None:
        """Insert a new referral and its events (``created`` first) atomically.

        :param events: the ``created`` event, or it and the events that follow it in the same
            unit of work (intake creates and completes a referral in one transaction).
        :raises DuplicateReferralError: a referral with this id exists; nothing is written.

        .. versionchanged:: 0.2 takes several events.
        """
        ...

    def create_many(
        self, items: Iterable[tuple[Referral, Event]], *, batch_size: int = 1000
    ) -> int:
        """Insert many new referrals with their events, one transaction per batch.

        :returns: how many were inserted.
        :raises DuplicateReferralError: an id already exists; that batch is not written.
        """
        ...

    def save(self, referral: Referral, events: Events, *, expected_version: int) -> None:
        """Replace a referral and append its events atomically, if the stored version matches.

        :param events: the change's events, oldest first; the version moves by their number.
        :param expected_version: the version the change was computed from
            (``referral.version - len(events)``).

        .. versionchanged:: 0.2 takes several events.
        :raises ConflictError: the stored version differs; nothing is written.
        :raises ReferralNotFoundError: no such referral.
        """
        ...

    def get(self, referral_id: UUID) -> Referral:
        """Return the referral.

        :raises ReferralNotFoundError: no such referral.
        :raises CorruptRecordError: the stored record cannot be decoded.
        """
        ...

    def events(self, referral_id: UUID) -> list[Event]:
        """Return the referral's events in sequence order (empty if it does not exist)."""
        ...

    def list_by_status(
        self, statuses: Sequence[ReferralStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        """Return up to *limit* referrals in any of *statuses*, ordered by id, after id *after*."""
        ...

    def due(
        self, now: datetime, *, limit: int = 100, after: tuple[datetime, UUID] | None = None
    ) -> list[Referral]:
        """Return up to *limit* referrals whose ``next_action_at`` is at or before *now*.

        Ordered by ``(next_action_at, id)``; page with *after* set to the last row's pair.
        """
        ...

    def count_by_status(self) -> dict[ReferralStatus, int]:
        """Return how many referrals are in each status (statuses with none are omitted)."""
        ...

    def iter_events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        batch_size: int = 1000,
    ) -> Iterator[Event]:
        """Stream every stored event with ``since <= at < until``, referral by referral.

        Events come ordered by referral id (as text), then sequence number, so one referral's
        events arrive together and in order. Rows are read *batch_size* at a time (keyset
        paging), so memory stays flat however many events match; writes committed while the
        iterator runs may or may not be seen.

        :param since: the first instant included (``None``: from the beginning).
        :param until: the first instant excluded (``None``: to the end).
        :raises CorruptRecordError: a stored event cannot be decoded.

        .. versionadded:: 0.2
        """
        ...

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...


@runtime_checkable
class LeasingStore(Store, Protocol):
    """A :class:`Store` that leases due referrals to one worker at a time (outreach sweeps).

    A lease is a claim with an expiry, kept apart from the referral (no version change, no
    event): while it is live no other worker claims the referral; once it expires (its worker
    crashed) the referral is claimable again. Implementations: memory, SQLite and PostgreSQL
    (``FOR UPDATE SKIP LOCKED``), tested by ``tests/test_store_leases.py``.

    .. versionadded:: 0.1
    """

    def claim_due(
        self, now: datetime, *, worker: str, lease: timedelta, limit: int = 100
    ) -> list[Referral]:
        """Lease up to *limit* due referrals to *worker* until ``now + lease`` and return them.

        Due means ``next_action_at <= now``; referrals under another live lease (one expiring
        after *now*) are passed over. Ordered by ``(next_action_at, id)``; the claim is one
        transaction, so two workers never claim the same referral at once.
        """
        ...

    def release(self, referral_id: UUID, *, worker: str) -> bool:
        """End *worker*'s lease on the referral.

        :returns: whether *worker* held a lease on it (an expired one counts); a lease taken
            over by another worker is left alone.
        """
        ...

    def reschedule(self, referral: Referral, next_action_at: datetime | None) -> bool:
        """Set only ``next_action_at`` of a stored referral, if its version is still current.

        ``next_action_at`` is derived from the referral's events (the outreach plan), so moving
        it adds no event and keeps the version.

        :returns: ``False`` (and writes nothing) when the stored version differs from
            ``referral.version`` or the referral is gone: a newer change re-planned it.
        """
        ...


@attrs.frozen
class Backlog:
    """How far behind outreach is, as a store sees it (PHI-free figures for monitoring).

    :ivar due: referrals whose ``next_action_at`` is at or before the instant asked about.
    :ivar oldest_due: the earliest ``next_action_at`` among them (``None``: nothing due).
    :ivar leases_live: leases held now (referrals a worker is working on).
    :ivar leases_expired: leases past their expiry and not released: a worker died holding
        them; the referral is claimable again.

    .. versionadded:: 0.4
    """

    due: int
    oldest_due: datetime | None
    leases_live: int
    leases_expired: int


@runtime_checkable
class WorkerStore(LeasingStore, Protocol):
    """A :class:`LeasingStore` that leases one named referral, for a job per referral.

    Job engines (:mod:`referralkit.worker`) give each due referral its own job; the job
    leases that referral alone, so two jobs for one referral never work it at once, and a
    worker that dies mid-job leaves a lease that expires. Implementations: memory, SQLite
    and PostgreSQL.

    .. versionadded:: 0.4
    """

    def claim(
        self, referral_id: UUID, now: datetime, *, worker: str, lease: timedelta
    ) -> Referral | None:
        """Lease the referral to *worker* until ``now + lease`` if it is due and unleased.

        :returns: the referral, or ``None`` (and nothing changes) when it is gone, not due at
            *now*, or under another live lease.
        """
        ...

    def backlog(self, now: datetime) -> Backlog:
        """Return the due-work and lease figures at *now* (counted by the due index)."""
        ...

    def abandoned(self, now: datetime, *, limit: int = 100) -> list[UUID]:
        """Return up to *limit* referrals whose lease expired unreleased (its worker died).

        Oldest expiry first. A job engine re-enqueues these ahead of fresh work, so work a
        dead worker held waits one lease period, not behind the whole backlog.
        """
        ...


@runtime_checkable
class RoutingStore(Store, Protocol):
    """A :class:`Store` that indexes ``next_routing_at``, so a routing sweep reads what is due.

    ``next_routing_at`` is derived from the referral, its events and the routing rules
    (:func:`referralkit.routing.next_routing_at`); the desk writes it with every change.
    Implementations: memory, SQLite and PostgreSQL, each with an index on
    ``(next_routing_at, id)``.

    .. versionadded:: 0.1
    """

    def due_for_routing(
        self, now: datetime, *, limit: int = 100, after: tuple[datetime, UUID] | None = None
    ) -> list[Referral]:
        """Return up to *limit* referrals whose ``next_routing_at`` is at or before *now*.

        Ordered by ``(next_routing_at, id)``; page with *after* set to the last row's pair
        (keyset paging: the cost follows the number due, not the number stored).
        """
        ...

    def reschedule_routing(self, referral: Referral, next_routing_at: datetime | None) -> bool:
        """Set only ``next_routing_at`` of a stored referral, if its version is still current.

        Adds no event and keeps the version: the value is derived, not a change.

        :returns: ``False`` (and writes nothing) when the stored version differs from
            ``referral.version`` or the referral is gone.
        """


@runtime_checkable
class NumberedStore(Store, Protocol):
    """A :class:`Store` that can tell whether a referral number is taken (an indexed lookup).

    The unit of work asks it before assigning a generated number; a store without it relies on
    the number's randomness alone. Implementations: memory, SQLite and PostgreSQL.

    .. versionadded:: 0.3
    """

    def referral_number_taken(self, number: str) -> bool:
        """Return whether a stored referral has *number* (exactly, as printed)."""
        ...


@runtime_checkable
class OutboundStore(Store, Protocol):
    """A :class:`Store` that lists the referrals we sent by their sending state (indexed).

    Used by the referring side's chasing sweep and report matching; a store without it is
    scanned instead. Implementations: memory, SQLite and PostgreSQL (schema migration 7).

    .. versionadded:: 0.4
    """

    def list_outbound(
        self, statuses: Sequence[OutboundStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        """Return up to *limit* referrals we sent whose sending state is in *statuses*.

        Ordered by id, after id *after* (keyset paging).
        """
        ...


@runtime_checkable
class IndexedStore(Store, Protocol):
    """A :class:`Store` with the patient and number index (:mod:`referralkit.patient_index`).

    The store files every referral under its index keys in the same transaction as the
    referral, keeping only keyed hashes of them. Duplicate detection, opt-out propagation and
    status-call lookups then read the few referrals a patient or number has. Implementations:
    memory, SQLite and PostgreSQL; a store without it is searched page by page instead.

    .. versionadded:: 0.4
    """

    def find_indexed(
        self, keys: Collection[IndexKey], *, limit: int = 500, after: UUID | None = None
    ) -> list[Referral]:
        """Return up to *limit* referrals filed under any of *keys*, ordered by id, after *after*.

        Only this store's tenant is searched. Every referral, open or not, is filed; callers
        confirm each candidate (an index value may in principle collide).
        """
        ...


@runtime_checkable
class TenantStore(Store, Protocol):
    """A :class:`Store` bound to one tenant (:mod:`referralkit.tenancy`).

    Every read and write is scoped to :attr:`tenant`: another tenant's referral is reported
    missing (:class:`~referralkit.errors.ReferralNotFoundError`, which cannot tell "elsewhere"
    from "nowhere"), and no sweep, list, count or event stream sees its rows. Implementations:
    memory, SQLite and PostgreSQL.

    .. versionadded:: 0.4
    """

    @property
    def tenant(self) -> str:
        """The tenant this store reads and writes."""
        ...

    def for_tenant(self, tenant: str) -> TenantStore:
        """Return a store on the same database (and connection) bound to *tenant*.

        For the composition root of a host serving many practices (one desk per practice);
        the returned store is as strictly scoped as this one.

        :raises InvalidTenantError: *tenant* is not a usable tenant id.
        """
        ...

    def admin_list_tenants(self) -> list[str]:
        """Return every tenant that has stored a referral, sorted (an admin read across tenants).

        Tenant ids only, never a row of theirs: what a worker needs to sweep each practice.
        """
        ...


def checked_batches(
    items: Iterable[tuple[Referral, Event]], batch_size: int
) -> Iterator[list[tuple[Referral, Event]]]:
    """Yield *items* in lists of at most *batch_size*, each pair checked by :func:`check_change`.

    The batching every store's ``create_many`` shares: a bad pair stops the stream before its
    batch is written.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    batch: list[tuple[Referral, Event]] = []
    for referral, event in items:
        check_change(referral, event, expected_version=0)
        batch.append((referral, event))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def as_events(events: Events) -> tuple[Event, ...]:
    """Return *events* as a tuple (a single event becomes a one-item tuple)."""
    return (events,) if isinstance(events, Event) else tuple(events)


def check_change(
    referral: Referral, events: Events, *, expected_version: int | None = None
) -> tuple[Event, ...]:
    """Reject a referral and events that do not belong together (a programming error).

    The events must be this referral's, consecutive, chained to each other, and end at the
    referral's version and history hash; with *expected_version*, the first must follow it.

    :returns: the events as a tuple.
    :raises ValueError: they do not fit together.
    """
    chain = as_events(events)
    if not chain:
        raise ValueError("a change has at least one event")
    base = referral.version - len(chain)
    if expected_version is not None and base != expected_version:
        raise ValueError("a change must raise the version by the number of its events")
    previous: Event | None = None
    referral_id = referral.id
    for offset, event in enumerate(chain, start=1):
        # Usually the very same UUID object: comparing UUIDs runs Python code, "is" does not.
        if event.referral_id is not referral_id and event.referral_id != referral_id:
            raise ValueError("event belongs to another referral")
        if event.seq != base + offset:
            raise ValueError("events are not consecutive changes of this referral")
        if previous is not None and event.prev_hash != previous.hash:
            raise ValueError("events are not chained to each other")
        previous = event
    if chain[-1].hash != referral.history_hash:
        raise ValueError("the last event is not the latest change of this referral version")
    return chain
