"""Opt-outs belong to the patient: one committed on a referral reaches the patient's others."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from referralkit.errors import ConflictError
from referralkit.lifecycle import ACTIVE_STATES
from referralkit.model import Actor, Channel, Patient, Referral, ReferralStatus
from referralkit.outreach.consent import withdraw

if TYPE_CHECKING:
    from referralkit.desk.core import ReferralDesk

_OPEN: tuple[ReferralStatus, ...] = (*ACTIVE_STATES, ReferralStatus.ON_HOLD)
_PAGE = 500
_ATTEMPTS = 3


def same_patient(a: Patient, b: Patient) -> bool:
    """Return whether two referrals' patients are one person.

    One person: a shared phone number, or the same names and birth date (ignoring case).
    """
    if {p.number for p in a.phones} & {p.number for p in b.phones}:
        return True
    return (
        a.birth_date is not None
        and a.birth_date == b.birth_date
        and a.family_name.casefold() == b.family_name.casefold()
        and a.given_name.casefold() == b.given_name.casefold()
    )


def opted_out(patient: Patient, channel: Channel | None) -> bool:
    """Return whether *patient* has already opted out of *channel* (or of everything)."""
    consent = patient.consent
    if not consent.contact_allowed:
        return True
    return channel is not None and channel in consent.opted_out_channels


def withdrawal(channel: Channel | None, at: datetime) -> Callable[[Referral], dict[str, Any]]:
    """Build the amendment that records the opt-out on a freshly loaded referral."""

    def update(referral: Referral) -> dict[str, Any]:
        patient = referral.patient
        if patient is None or opted_out(patient, channel):
            return {}
        consent = withdraw(patient.consent, channel, at)
        return {"patient": patient.model_copy(update={"consent": consent})}

    return update


def propagate_opt_out(
    desk: ReferralDesk, source: Referral, channel: Channel | None, *, actor: Actor
) -> tuple[UUID, ...]:
    """Commit *source*'s opt-out on every other open referral of the same patient.

    Scans open referrals page by page (the store has no patient index), so its cost follows
    the number of open referrals; it runs only when a patient opts out.

    :returns: the ids of the referrals that took the opt-out.
    """
    patient = source.patient
    if patient is None:
        return ()
    at = desk.clock.now()
    reached: list[UUID] = []
    after: UUID | None = None
    while page := desk.store.list_by_status(_OPEN, limit=_PAGE, after=after):
        for other in page:
            if (
                other.id == source.id
                or other.patient is None
                or not same_patient(patient, other.patient)
                or opted_out(other.patient, channel)
            ):
                continue
            for attempt in range(_ATTEMPTS):
                try:
                    desk.amend(
                        other.id,
                        "consent_opted_out",
                        actor=actor,
                        update=withdrawal(channel, at),
                        data={
                            "channel": channel.value if channel is not None else "all",
                            "source_referral": str(source.id),
                        },
                    )
                    break
                except ConflictError:
                    if attempt == _ATTEMPTS - 1:
                        raise
            reached.append(other.id)
        after = page[-1].id
    return tuple(reached)
