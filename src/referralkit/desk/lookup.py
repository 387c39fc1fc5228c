"""Finding a patient's referrals: through the store's patient and number index when it has one.

Duplicate detection, opt-out propagation, status calls, inbound documents and EHR bookings ask
which referrals belong to one person or number. On an :class:`~referralkit.store.IndexedStore`
(every built-in store) that reads the few referrals filed under the person's index keys, so the
cost follows what the patient has, not what the database holds. On any other store it falls
back to streaming every referral in the wanted statuses, page by page. Either way the caller
confirms each candidate with the identity rules (:mod:`referralkit.model.identity`): the index
narrows the search, it never decides a match.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import date
from typing import Final
from uuid import UUID

import attrs

from referralkit.model import Patient, Referral, ReferralStatus
from referralkit.patient_index import (
    IndexKey,
    caller_key,
    mrn_key,
    number_key,
    person_keys,
    phone_key,
)
from referralkit.store import IndexedStore, Store

__all__ = ["ALL_STATUSES", "PatientLookup"]

ALL_STATUSES: Final[tuple[ReferralStatus, ...]] = tuple(ReferralStatus)
"""Every status: a lookup that does not filter by status."""

_PAGE: Final = 500


@attrs.frozen
class PatientLookup:
    """Streams the referrals that may belong to a person or a number, for one store (tenant)."""

    store: Store

    def same_person(
        self, patient: Patient, statuses: Sequence[ReferralStatus] = ALL_STATUSES
    ) -> Iterator[Referral]:
        """Yield referrals in *statuses* that may be *patient*'s (confirm with ``same_person``)."""
        return self._find(person_keys(patient), statuses)

    def listing_phone(
        self, number: str, statuses: Sequence[ReferralStatus] = ALL_STATUSES
    ) -> Iterator[Referral]:
        """Yield referrals in *statuses* that may list phone *number* (E.164)."""
        return self._find({phone_key(number)}, statuses)

    def caller(
        self,
        family_name: str,
        birth_date: date,
        statuses: Sequence[ReferralStatus] = ALL_STATUSES,
    ) -> Iterator[Referral]:
        """Yield referrals in *statuses* whose patient may have this family name and birth date."""
        return self._find({caller_key(family_name, birth_date)}, statuses)

    def numbered(
        self, number: str, statuses: Sequence[ReferralStatus] = ALL_STATUSES
    ) -> Iterator[Referral]:
        """Yield referrals in *statuses* that may carry referral *number* (separators ignored)."""
        return self._find({number_key(number)}, statuses)

    def with_mrn(
        self, mrn: str, statuses: Sequence[ReferralStatus] = ALL_STATUSES
    ) -> Iterator[Referral]:
        """Yield referrals in *statuses* whose patient may have medical record number *mrn*."""
        return self._find({mrn_key(mrn)}, statuses)

    def _find(
        self, keys: Collection[IndexKey], statuses: Sequence[ReferralStatus]
    ) -> Iterator[Referral]:
        wanted = frozenset(statuses)
        if not wanted or not keys:
            return
        store = self.store
        after: UUID | None = None
        if isinstance(store, IndexedStore):
            while page := store.find_indexed(keys, limit=_PAGE, after=after):
                yield from (r for r in page if r.status in wanted)
                if len(page) < _PAGE:
                    return
                after = page[-1].id
            return
        # A store without the index: every referral in the wanted statuses, page by page.
        while page := store.list_by_status(tuple(wanted), limit=_PAGE, after=after):
            yield from page
            if len(page) < _PAGE:
                return
            after = page[-1].id
