"""The patient and number index: what a referral is filed under, and how the keys are kept.

Duplicate detection at intake, opt-out propagation and status-call lookups each ask "which
referrals belong to this person (or number)?". Every store files each referral under a few
*index keys* in the same transaction as the referral, so these questions cost what the patient
has, not what the database holds. A key is derived from the one definition of identity
(:mod:`referralkit.model.identity`) so the index can never disagree with it: the callers still
confirm every candidate with :func:`~referralkit.model.same_person` or
:func:`~referralkit.model.caller_matches`; the index only narrows the search.

Keys (each a *kind* and the normalised value it is built from):

========  ==========================================  ==============================
kind      built from                                   answers
========  ==========================================  ==============================
``nd``    :func:`name_key` and birth date              same person (duplicates, opt-outs)
``np``    :func:`name_key` and one phone number        same person (duplicates, opt-outs)
``fd``    family-name key and birth date               a caller's "who am I" (status calls)
``ph``    one phone number                             a STOP texted from that number
``no``    the referral number, compacted               a caller reading out their number
``mr``    the medical record number                    an EHR booking for that patient
========  ==========================================  ==============================

**No PHI in clear.** Stores keep only ``BLAKE2b(kind | value, key=tenant key)``, a keyed hash
(a MAC, RFC 7693) of 128 bits, never the value; BLAKE2b's keyed mode is a single pass, about
a third of HMAC-SHA256's cost, which every filed referral pays for each of its keys. The tenant
key is ``BLAKE2b(tenant, key=database secret)``, and the
database secret is 32 random bytes made when the store's schema is created and kept in the
database. So an index value cannot be reversed with a table of common names and birth dates
unless the secret is read too, the same person has unrelated index values in two tenants (no
linking practices through the index), and nothing needs configuring or can be lost: a host-held
secret that changed would silently stop duplicates being found. Whoever can read the secret
can read the referral bodies, which hold the PHI in full; the index adds nothing to what they
learn.

.. versionadded:: 0.4
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Final, Literal

import attrs

from referralkit.model.identity import family_key, name_key
from referralkit.model.numbers import compact_referral_number

if TYPE_CHECKING:
    from referralkit.model import Patient, Referral

__all__ = [
    "IndexHasher",
    "IndexKey",
    "IndexKind",
    "caller_key",
    "mrn_key",
    "new_index_secret",
    "number_key",
    "person_keys",
    "phone_key",
    "referral_keys",
]

IndexKind = Literal["nd", "np", "fd", "ph", "no", "mr"]
"""What an index key was built from (see the module's table)."""

_DIGEST_BYTES: Final = 16


@attrs.frozen(repr=False)
class IndexKey:
    """One key a referral is filed under, before hashing (its value is PHI: never logged)."""

    kind: IndexKind
    value: str

    def __repr__(self) -> str:
        return f"IndexKey(kind={self.kind!r})"


def person_keys(patient: Patient) -> frozenset[IndexKey]:
    """Return the keys any record of the same person shares with *patient*.

    :func:`~referralkit.model.same_person` holds only for records with the same name key and
    either the same birth date (``nd``) or a phone number in common (``np``), so two records of
    one person always share at least one of these keys.
    """
    name = name_key(patient.given_name, patient.family_name)
    keys = {IndexKey("np", f"{name}|{phone.number}") for phone in patient.phones}
    if patient.birth_date is not None:
        keys.add(IndexKey("nd", f"{name}|{patient.birth_date.isoformat()}"))
    return frozenset(keys)


def caller_key(family_name: str, birth_date: date) -> IndexKey:
    """Return the key of a caller who gave a family name and birth date (status calls)."""
    return IndexKey("fd", f"{family_key(family_name)}|{birth_date.isoformat()}")


def phone_key(number: str) -> IndexKey:
    """Return the key of every referral that lists phone *number* (E.164, as stored)."""
    return IndexKey("ph", number)


def number_key(number: str) -> IndexKey:
    """Return the key of a referral number, as printed or as read back (separators ignored)."""
    return IndexKey("no", compact_referral_number(number))


def mrn_key(mrn: str) -> IndexKey:
    """Return the key of a patient's medical record number (exactly as stored)."""
    return IndexKey("mr", mrn)


def referral_keys(referral: Referral) -> frozenset[IndexKey]:
    """Return every key *referral* is filed under (what a store writes with it)."""
    keys: set[IndexKey] = set()
    if referral.referral_number:
        keys.add(number_key(referral.referral_number))
    patient = referral.patient
    if patient is not None:
        keys |= person_keys(patient)
        keys.update(phone_key(phone.number) for phone in patient.phones)
        if patient.mrn is not None:
            keys.add(mrn_key(patient.mrn))
        if patient.birth_date is not None:
            keys.add(caller_key(patient.family_name, patient.birth_date))
    return frozenset(keys)


def new_index_secret() -> bytes:
    """Return a fresh database secret for the index (32 random bytes)."""
    return secrets.token_bytes(32)


@attrs.frozen(repr=False)
class IndexHasher:
    """Turns index keys into the values a store keeps for one tenant (keyed BLAKE2b, 128 bits).

    :param secret: the database secret (see :func:`new_index_secret`).
    :param tenant: the tenant the values are for; another tenant's values differ.
    """

    secret: bytes
    tenant: str
    _key: bytes = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        key = hashlib.blake2b(self.tenant.encode(), key=self.secret).digest()
        object.__setattr__(self, "_key", key)

    def __repr__(self) -> str:
        return f"IndexHasher(tenant={self.tenant!r})"

    def digest(self, key: IndexKey) -> str:
        """Return the stored value of *key*: 32 hex characters."""
        message = f"{key.kind}|{key.value}".encode()
        return hashlib.blake2b(message, key=self._key, digest_size=_DIGEST_BYTES).hexdigest()

    def digests(self, keys: Iterable[IndexKey]) -> list[str]:
        """Return the stored values of *keys*, sorted and without repeats."""
        return sorted({self.digest(key) for key in keys})

    def for_keys(self, keys: Iterable[IndexKey]) -> list[str]:
        """Return the stored values of *keys* (as :meth:`digests`)."""
        return self.digests(keys)

    def for_referral(self, referral: Referral) -> list[str]:
        """Return the stored values *referral* is filed under."""
        return self.digests(referral_keys(referral))
