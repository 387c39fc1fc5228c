"""The unit of work: the one commit path for every change to a referral.

Every operation that changes a referral runs here, in these steps::

    load  ->  decide (pure domain code, on a Batch)  ->  reactions (what follows, same batch)
          ->  plan outreach (next_action_at)
          ->  save the referral and ALL its events in one store transaction
          ->  after-commit steps, once (observers, auto-routing)

A :class:`Batch` chains the events of one unit of work on the freshly loaded referral, so a
trigger and the record of why it fired, or a created referral and the completion of its
intake, commit together or not at all. No other module calls ``store.create`` or
``store.save``.

.. versionadded:: 0.2
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs
from pydantic import BaseModel

from referralkit.clock import Clock
from referralkit.errors import ConflictError
from referralkit.events import Event
from referralkit.lifecycle import (
    Lifecycle,
    OutboundLifecycle,
    OutboundTrigger,
    Trigger,
    amended,
    created,
    shared_outbound_lifecycle,
)
from referralkit.model import Actor, Referral, ReferralNumberFormat
from referralkit.model.types import copy_with
from referralkit.store import Store

__all__ = ["AfterCommit", "Batch", "Planner", "Reaction", "UnitOfWork", "Update"]

_log = logging.getLogger("referralkit.desk")

Update = Mapping[str, Any] | Callable[[Referral], Mapping[str, Any]]
"""New field values, or a function of the current referral (in the batch) returning them."""

Planner = Callable[[Referral, Sequence[Event], datetime], Mapping[str, Any]]
"""Return the derived fields a referral should have after its events (``next_action_at``
from the outreach plan, ``next_routing_at`` from the routing rules)."""

Reaction = Callable[["Batch", Referral], None]
"""Add to a batch what follows from its changes, in the same transaction; called with the
batch and the referral as it was loaded (a records request's ``needed_by`` follows a moved
visit). A reaction adds events only when something changed, and is run once per commit.

.. versionadded:: 0.3"""

AfterCommit = Callable[[Referral, Sequence[Event]], bool]
"""A step run once after a commit, with the committed referral and the new events; it
returns whether it changed the referral itself (auto-routing may), so it is read again."""


@attrs.define
class Batch:
    """The changes of one unit of work, chained on the freshly loaded referral.

    :ivar referral: the referral as the changes so far leave it.
    :ivar events: the new events, oldest first.
    :ivar base_version: the stored version the changes build on (0 for a new referral).
    """

    referral: Referral
    now: datetime
    lifecycle: Lifecycle
    base_version: int
    events: list[Event] = attrs.field(factory=list)
    outbound: OutboundLifecycle = attrs.field(factory=shared_outbound_lifecycle)

    def fire(
        self,
        trigger: Trigger,
        *,
        actor: Actor,
        data: Mapping[str, Any] | BaseModel | None = None,
    ) -> Referral:
        """Fire *trigger* on the batch's referral; see :meth:`Lifecycle.fire`."""
        change = self.lifecycle.fire(self.referral, trigger, actor=actor, now=self.now, data=data)
        self.referral = change.referral
        self.events.append(change.event)
        return self.referral

    def fire_outbound(
        self,
        trigger: OutboundTrigger,
        *,
        actor: Actor,
        data: Mapping[str, Any] | BaseModel | None = None,
    ) -> Referral:
        """Fire sending-side *trigger*; see :meth:`~referralkit.lifecycle.OutboundLifecycle.fire`.

        .. versionadded:: 0.4
        """
        change = self.outbound.fire(self.referral, trigger, actor=actor, now=self.now, data=data)
        self.referral = change.referral
        self.events.append(change.event)
        return self.referral

    def amend(
        self,
        kind: str,
        *,
        actor: Actor,
        update: Update,
        data: Mapping[str, Any] | None = None,
    ) -> Referral:
        """Record a non-transition change of *kind*; see :func:`~referralkit.lifecycle.amended`."""
        values = update(self.referral) if callable(update) else update
        change = amended(self.referral, kind, actor=actor, now=self.now, update=values, data=data)
        self.referral = change.referral
        self.events.append(change.event)
        return self.referral


@attrs.define
class UnitOfWork:
    """Loads, decides, plans, commits in one transaction, then runs after-commit steps once.

    :ivar reactions: add what follows from a batch's changes to the batch itself, before it
        is planned (see :data:`Reaction`).
    :ivar planners: keep derived fields in step with the events (the next outreach action,
        the next routing instant), written with the change itself.
    :ivar after_commit: steps run after every commit, in order (observers, auto-routing);
        a step must not raise: the change is already committed.
    :ivar numbering: the format of referral numbers generated for referrals created without
        one (``None``: the host numbers its referrals).
    """

    store: Store
    clock: Clock
    lifecycle: Lifecycle
    planners: list[Planner] = attrs.field(factory=list)
    reactions: list[Reaction] = attrs.field(factory=list)
    after_commit: list[AfterCommit] = attrs.field(factory=list)
    numbering: ReferralNumberFormat | None = None

    def create(
        self,
        referral: Referral,
        *,
        actor: Actor,
        then: Callable[[Batch], object] | None = None,
    ) -> Referral:
        """Store a new referral, and what *then* adds to it, in one transaction.

        :raises InvalidTransitionError: it starts in a state other than intake or received.
        :raises DuplicateReferralError: its id is taken; nothing is written.
        """
        now = self.clock.now()
        if referral.referral_number is None and self.numbering is not None:
            referral = referral.model_copy(update={"referral_number": self._number(referral)})
        first = created(referral, actor, now)
        batch = Batch(first.referral, now, self.lifecycle, 0, [first.event])
        if then is not None:
            then(batch)
        for react in self.reactions:
            react(batch, first.referral)
        final = self._planned(batch, ())
        self.store.create(final, batch.events)
        _log.info("referral %s created in %s", final.id, final.status.value)
        return self._committed(final, batch.events)

    def commit(
        self,
        referral_id: UUID,
        decide: Callable[[Batch], object],
        *,
        expected_version: int | None = None,
    ) -> Referral:
        """Load the referral, let *decide* add changes to a batch, and commit them together.

        :param decide: adds changes to the batch (``fire``, ``amend``); raising writes nothing.
            A batch left empty commits nothing and returns the loaded referral.
        :param expected_version: the version the caller saw; a referral that has moved on
            raises :class:`~referralkit.errors.ConflictError` before *decide* runs.
        :raises ReferralNotFoundError: no such referral.
        :raises ConflictError: the referral moved on (before, or while deciding).
        """
        current = self.store.get(referral_id)
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(referral_id, expected_version, current.version)
        batch = Batch(current, self.clock.now(), self.lifecycle, current.version)
        decide(batch)
        if not batch.events:
            return current
        for react in self.reactions:
            react(batch, current)
        final = self._planned(batch, None)
        self.store.save(final, batch.events, expected_version=current.version)
        for event in batch.events:
            _log.info("referral %s: %s recorded", referral_id, event.kind)
        return self._committed(final, batch.events)

    def fire(
        self,
        referral_id: UUID,
        trigger: Trigger,
        *,
        actor: Actor,
        data: Mapping[str, Any] | BaseModel | None = None,
        expected_version: int | None = None,
    ) -> Referral:
        """Commit one trigger: :meth:`commit` with a batch that fires *trigger*."""
        return self.commit(
            referral_id,
            lambda batch: batch.fire(trigger, actor=actor, data=data),
            expected_version=expected_version,
        )

    def amend(
        self,
        referral_id: UUID,
        kind: str,
        *,
        actor: Actor,
        update: Update,
        data: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> Referral:
        """Commit one amendment: :meth:`commit` with a batch that records *kind*."""
        return self.commit(
            referral_id,
            lambda batch: batch.amend(kind, actor=actor, update=update, data=data),
            expected_version=expected_version,
        )

    def _number(self, referral: Referral) -> str:
        # Derived from the random id, so reproducible; a number the store already holds is
        # passed over (a collision is about one in 10^10 per pair with the default format).
        assert self.numbering is not None  # noqa: S101 - checked by the caller
        # Duck-typed (see NumberedStore): a runtime Protocol check costs more than the rest.
        taken: Callable[[str], bool] | None = getattr(self.store, "referral_number_taken", None)
        attempt = 0
        while True:
            number = self.numbering.generate(referral.id.bytes + attempt.to_bytes(4, "big"))
            if taken is None or not taken(number):
                return number
            attempt += 1

    def _planned(self, batch: Batch, stored: Sequence[Event] | None) -> Referral:
        # Derived fields (next_action_at, next_routing_at) are written with the change itself,
        # so a sweep touches exactly the referrals with due work and a crash cannot lose one.
        referral = batch.referral
        if not self.planners:
            return referral
        history = self.store.events(referral.id) if stored is None else stored
        events = [*history, *batch.events]  # read once, shared by every planner
        update: dict[str, Any] = {}
        for planner in self.planners:
            update.update(planner(referral, events, batch.now))
        changed = {k: v for k, v in update.items() if getattr(referral, k) != v}
        return copy_with(referral, changed) if changed else referral

    def _committed(self, referral: Referral, events: Sequence[Event]) -> Referral:
        changed = False
        for step in self.after_commit:
            changed = step(referral, events) or changed
        return self.store.get(referral.id) if changed else referral
