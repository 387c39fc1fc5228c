"""Tamper evidence for stored referrals: replay, stored-text hashing and keyed seals.

:func:`verify_referral` checks one referral end to end (its row, its events and, with a
:class:`Keyring`, the seal over its row); :func:`verify_all` streams every bad referral of a
store. ``docs/integrity.md`` lists what is and is not detected, with and without a key.
"""

from referralkit.integrity.records import StoredEvent, StoredRecord, VerifiableStore
from referralkit.integrity.seal import Keyring, Seal
from referralkit.integrity.verify import TamperReport, verify_all, verify_referral

__all__ = [
    "Keyring",
    "Seal",
    "StoredEvent",
    "StoredRecord",
    "TamperReport",
    "VerifiableStore",
    "verify_all",
    "verify_referral",
]
