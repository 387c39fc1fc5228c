"""The :class:`ReferralDesk`: the one facade a host application talks to.

The desk is the composition root: it wires the store, the clock and the shared lifecycle
together, and it is where side effects happen. Domain modules stay pure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import attrs
from pydantic import BaseModel

from referralkit.adapters.memory import MemoryStore
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.clock import Clock, SystemClock
from referralkit.errors import ConflictError
from referralkit.events import Event, verify_history
from referralkit.lifecycle import (
    Lifecycle,
    Trigger,
    allowed_triggers,
    amended,
    created,
    shared_lifecycle,
)
from referralkit.model import Actor, Referral, ReferralStatus
from referralkit.store import Store

__all__ = ["ReferralDesk", "open_store"]

_log = logging.getLogger("referralkit.desk")


def open_store(url: str) -> Store:
    """Open the store a URL names.

    ``sqlite:///relative.db`` and ``sqlite:////absolute/path.db`` open (or create) a SQLite
    file; ``sqlite://:memory:`` an in-process SQLite database; ``memory://`` a
    :class:`~referralkit.adapters.memory.MemoryStore`.

    :raises ValueError: the URL's scheme is not supported.
    """
    if url == "memory://":
        return MemoryStore()
    if url.startswith("sqlite://"):
        rest = url.removeprefix("sqlite://")
        if rest == ":memory:":
            return SQLiteStore(":memory:")
        if not rest.startswith("/") or len(rest) < 2:
            raise ValueError("a SQLite URL looks like sqlite:///relative.db or sqlite:////abs.db")
        path = Path(rest[1:])
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteStore(path)
    scheme = url.split(":", 1)[0]
    raise ValueError(f"unsupported store URL scheme {scheme!r}; use sqlite:/// or memory://")


@attrs.define
class ReferralDesk:
    """Create referrals, move them through the lifecycle, and read their history.

    Every change is committed with its event in one store transaction. Build one with
    :meth:`open` (a URL) or directly with a :class:`~referralkit.store.Store`.

    .. versionadded:: 0.1
    """

    store: Store
    clock: Clock = attrs.field(factory=SystemClock)
    lifecycle: Lifecycle = attrs.field(factory=shared_lifecycle)

    @classmethod
    def open(cls, url: str = "sqlite:///referralkit.db", *, clock: Clock | None = None) -> Self:
        """Open a desk on the store *url* names (see :func:`open_store`)."""
        return cls(store=open_store(url), clock=clock or SystemClock())

    def create(self, referral: Referral, *, actor: Actor) -> Referral:
        """Store a new referral (in ``intake`` or, when complete, ``received``).

        :returns: the stored referral, at version 1.
        :raises InvalidTransitionError: it starts in another state.
        :raises TransitionBlockedError: it starts in ``received`` with fields missing.
        :raises DuplicateReferralError: its id is taken.
        """
        change = created(referral, actor, self.clock.now())
        self.store.create(change.referral, change.event)
        _log.info("referral %s created in %s", referral.id, referral.status.value)
        return change.referral

    def get(self, referral_id: UUID) -> Referral:
        """Return the current referral.

        :raises ReferralNotFoundError: no such referral.
        """
        return self.store.get(referral_id)

    def fire(
        self,
        referral_id: UUID,
        trigger: Trigger,
        *,
        actor: Actor,
        data: Mapping[str, Any] | BaseModel | None = None,
        expected_version: int | None = None,
    ) -> Referral:
        """Fire a lifecycle trigger and commit the change with its event.

        :param expected_version: the version the caller saw; if the referral has moved on since,
            :class:`~referralkit.errors.ConflictError` is raised and nothing changes.
        :returns: the referral after the change.
        :raises InvalidTransitionError: (or a subclass) the trigger is refused.
        :raises TriggerDataError: the data is invalid for the trigger.
        :raises ConflictError: another writer changed the referral first.
        """
        current = self.store.get(referral_id)
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(referral_id, expected_version, current.version)
        change = self.lifecycle.fire(
            current, trigger, actor=actor, now=self.clock.now(), data=data
        )
        self.store.save(change.referral, change.event, expected_version=current.version)
        _log.info(
            "referral %s: %s %s -> %s",
            referral_id,
            trigger,
            current.status.value,
            change.referral.status.value,
        )
        return change.referral

    def amend(
        self,
        referral_id: UUID,
        kind: str,
        *,
        actor: Actor,
        update: Mapping[str, Any] | Callable[[Referral], Mapping[str, Any]],
        data: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> Referral:
        """Commit a change that is not a transition (task, interaction, flag) with its event.

        :param kind: the event kind, e.g. ``"task_opened"`` (never a trigger name).
        :param update: new field values, or a function of the current referral returning them
            (called on the freshly loaded referral, so it never works on stale data).
        :raises ConflictError: another writer changed the referral first; nothing is written.
        :raises ValueError: *kind* or *update* would bypass the lifecycle.
        """
        current = self.store.get(referral_id)
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(referral_id, expected_version, current.version)
        values = update(current) if callable(update) else update
        change = amended(
            current, kind, actor=actor, now=self.clock.now(), update=values, data=data
        )
        self.store.save(change.referral, change.event, expected_version=current.version)
        _log.info("referral %s: %s recorded", referral_id, kind)
        return change.referral

    def allowed_triggers(
        self, referral_id: UUID, actor: Actor | None = None
    ) -> tuple[Trigger, ...]:
        """Return the triggers *actor* may fire on the referral now."""
        return allowed_triggers(self.store.get(referral_id), actor)

    def history(self, referral_id: UUID) -> list[Event]:
        """Return the referral's events, oldest first.

        :raises ReferralNotFoundError: no such referral.
        """
        events = self.store.events(referral_id)
        if not events:
            self.store.get(referral_id)  # raises ReferralNotFoundError
        return events

    def verify(self, referral_id: UUID) -> None:
        """Check the referral's event log is complete and untampered.

        :raises HistoryTamperedError: naming the first bad event.
        """
        referral = self.store.get(referral_id)
        verify_history(
            self.store.events(referral_id),
            expected_count=referral.version,
            expected_head=referral.history_hash,
        )

    def list(
        self,
        *statuses: ReferralStatus,
        limit: int = 100,
        after: UUID | None = None,
    ) -> Sequence[Referral]:
        """Return referrals in the given statuses (all if none given), by id, *limit* at a time."""
        return self.store.list_by_status(
            statuses or tuple(ReferralStatus), limit=limit, after=after
        )

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
