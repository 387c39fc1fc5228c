"""Consent on the desk: opt-outs committed where they belong.

A spoken withdrawal of consent belongs to the patient: it is committed on the referral and on
every other open referral of the same person (:func:`~referralkit.model.same_person`), never on
a relative's who happens to share a landline. A STOP texted from a number belongs to the
number: texts to that number stop on every open referral that lists it, whoever the patient.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import attrs

from referralkit.clock import Clock
from referralkit.desk.lookup import PatientLookup
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.errors import ConflictError
from referralkit.lifecycle import ACTIVE_STATES
from referralkit.model import Actor, Channel, Patient, Referral, ReferralStatus, same_person
from referralkit.outreach.consent import withdraw
from referralkit.store import Store

__all__ = ["CONSENT_OPTED_OUT", "ConsentService", "opted_out", "withdrawal"]

CONSENT_OPTED_OUT: Final = "consent_opted_out"
"""Event kind of every committed opt-out."""

_OPEN: Final[tuple[ReferralStatus, ...]] = (*ACTIVE_STATES, ReferralStatus.ON_HOLD)
_ATTEMPTS: Final = 3


def opted_out(patient: Patient, channel: Channel | None) -> bool:
    """Return whether *patient* has already opted out of *channel* (or of everything)."""
    consent = patient.consent
    if not consent.contact_allowed:
        return True
    return channel is not None and channel in consent.opted_out_channels


def withdrawal(channel: Channel | None, at: datetime) -> Callable[[Referral], dict[str, Any]]:
    """Build the amendment that records an opt-out of *channel* on the current referral."""

    def update(referral: Referral) -> dict[str, Any]:
        patient = referral.patient
        if patient is None or opted_out(patient, channel):
            return {}
        return {
            "patient": patient.model_copy(
                update={"consent": withdraw(patient.consent, channel, at)}
            )
        }

    return update


def number_stop(number: str, at: datetime) -> Callable[[Referral], dict[str, Any]]:
    """Build the amendment that stops texts to *number* on the current referral."""

    def update(referral: Referral) -> dict[str, Any]:
        patient = referral.patient
        if patient is None or number in patient.consent.opted_out_numbers:
            return {}
        consent = patient.consent.model_copy(
            update={
                "opted_out_numbers": (*patient.consent.opted_out_numbers, number),
                "updated_at": at,
            }
        )
        return {"patient": patient.model_copy(update={"consent": consent})}

    return update


@attrs.define
class ConsentService:
    """Commits opt-outs on a referral and carries them to where they belong."""

    uow: UnitOfWork
    store: Store
    clock: Clock

    def withdraw(self, referral_id: UUID, channel: Channel | None, *, actor: Actor) -> Referral:
        """Commit the patient's opt-out of *channel* (or all) here and on their open referrals."""
        at = self.clock.now()
        data = {"channel": channel.value if channel is not None else "all"}
        referral = self._commit(
            referral_id,
            lambda batch: batch.amend(
                CONSENT_OPTED_OUT, actor=actor, update=withdrawal(channel, at), data=data
            ),
        )
        patient = referral.patient
        if patient is None:
            return referral
        self._propagate(
            (
                other.id
                for other in self._lookup.same_person(patient, _OPEN)
                if other.id != referral.id
                and other.patient is not None
                and same_person(patient, other.patient) is not None
                and not opted_out(other.patient, channel)
            ),
            actor=actor,
            update=withdrawal(channel, at),
            data={**data, "source_referral": str(referral.id)},
        )
        return referral

    def stop_number(
        self, number: str, *, actor: Actor, source: UUID, decide: Callable[[Batch], object]
    ) -> Referral:
        """Commit a STOP texted from *number*, here and wherever the number is listed.

        *decide* records the reply on *source*, which takes the number's opt-out in the same
        transaction; every other open referral listing the number takes it too.
        """
        at = self.clock.now()

        def on_source(batch: Batch) -> None:
            decide(batch)
            batch.amend(
                CONSENT_OPTED_OUT,
                actor=actor,
                update=number_stop(number, at),
                data={"channel": Channel.SMS.value, "scope": "number"},
            )

        referral = self._commit(source, on_source)
        self._propagate(
            (
                other.id
                for other in self._lookup.listing_phone(number, _OPEN)
                if other.id != source
                and other.patient is not None
                and number not in other.patient.consent.opted_out_numbers
                and any(p.number == number for p in other.patient.phones)
            ),
            actor=actor,
            update=number_stop(number, at),
            data={"channel": Channel.SMS.value, "scope": "number", "source_referral": str(source)},
        )
        return referral

    def _commit(self, referral_id: UUID, decide: Callable[[Batch], object]) -> Referral:
        # An opt-out must not be lost to a race with a sweep or a worker: the amendment reads
        # the referral afresh on each attempt, so retrying it is safe.
        for attempt in range(_ATTEMPTS):
            try:
                return self.uow.commit(referral_id, decide)
            except ConflictError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _propagate(
        self,
        referral_ids: Iterable[UUID],
        *,
        actor: Actor,
        update: Callable[[Referral], dict[str, Any]],
        data: dict[str, Any],
    ) -> None:
        # Each is its own commit, retried on a race: the update reads the referral afresh.
        for referral_id in referral_ids:
            for attempt in range(_ATTEMPTS):
                try:
                    self.uow.amend(
                        referral_id, CONSENT_OPTED_OUT, actor=actor, update=update, data=data
                    )
                except ConflictError:
                    if attempt == _ATTEMPTS - 1:
                        raise
                else:
                    break

    @property
    def _lookup(self) -> PatientLookup:
        # Through the patient and number index: the cost follows what the patient has.
        return PatientLookup(self.store)
