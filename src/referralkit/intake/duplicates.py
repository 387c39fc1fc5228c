"""Detect duplicates: a new referral that matches one already open is linked, not created.

A new referral matches an open one when both are for the same specialty, the open one was
created within the configured window, and it is the same patient: the same normalised name
(accents, case and punctuation ignored) and either the same birth date or a phone number in
common. A shared phone alone is not enough: twins and siblings share a parent's phone, and
linking one patient's call to another's referral is worse than a duplicate a person merges.
The desk then links the call to the open referral instead of creating a second one, and says so.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from referralkit.lifecycle import ACTIVE_STATES
from referralkit.model import Referral
from referralkit.model.identity import IdentityMatch, same_person

__all__ = ["DuplicateMatch", "find_duplicate"]


@attrs.frozen
class DuplicateMatch:
    """An open referral the new one duplicates, and why (no PHI in it)."""

    referral_id: UUID
    referral_number: str | None
    matched_on: IdentityMatch

    @property
    def message(self) -> str:
        """Say what happened, for the caller or the staff member (no PHI)."""
        number = f" ({self.referral_number})" if self.referral_number else ""
        return (
            f"This matches an open referral{number} for the same patient and specialty, "
            "so the call was linked to it instead of creating a second referral."
        )


def _specialty_key(specialty: str | None) -> str:
    return " ".join((specialty or "").casefold().split())


def find_duplicate(
    candidate: Referral,
    open_referrals: Iterable[Referral],
    *,
    now: datetime,
    window: timedelta,
) -> DuplicateMatch | None:
    """Return the open referral *candidate* duplicates, or ``None``.

    :param open_referrals: referrals to compare with; any not in an active state, created
        before ``now - window``, or the candidate itself are skipped.
    :returns: the newest match; a name-and-birth-date match wins over a name-and-phone match.
    """
    patient = candidate.patient
    if patient is None:
        return None
    specialty = _specialty_key(candidate.specialty)
    since = now - window
    best: tuple[int, datetime, DuplicateMatch] | None = None
    for other in open_referrals:
        if other.id == candidate.id or other.status not in ACTIVE_STATES:
            continue
        if other.patient is None or _specialty_key(other.specialty) != specialty:
            continue
        created = other.created_at
        if created is None or created < since:
            continue
        how = same_person(patient, other.patient)
        if how is None:
            continue
        rank = 2 if how == "name_and_birth_date" else 1
        match = DuplicateMatch(other.id, other.referral_number, how)
        if best is None or (rank, created) > (best[0], best[1]):
            best = (rank, created, match)
    return None if best is None else best[2]
