"""Tamper evidence for stored referrals: replay, stored-text hashing and keyed seals.

:func:`verify_referral` checks one referral end to end (its row, its events and, with a
:class:`Keyring`, the seal over its row); :func:`verify_all` streams every bad referral of a
store. ``docs/integrity.md`` lists what is and is not detected, with and without a key.
"""

from typing import TYPE_CHECKING

from referralkit._lazy import exports

if TYPE_CHECKING:  # the names as type checkers see them; at run time, __getattr__
    from referralkit.integrity.records import StoredEvent, StoredRecord, VerifiableStore
    from referralkit.integrity.seal import Keyring, Seal
    from referralkit.integrity.verify import TamperReport, verify_all, verify_referral

# Each name is imported when first used, so importing one module of the package (as a
# store or the desk does) does not import all of it.
__getattr__ = exports(
    __name__,
    {
        "Keyring": "referralkit.integrity.seal",
        "Seal": "referralkit.integrity.seal",
        "StoredEvent": "referralkit.integrity.records",
        "StoredRecord": "referralkit.integrity.records",
        "TamperReport": "referralkit.integrity.verify",
        "VerifiableStore": "referralkit.integrity.records",
        "verify_all": "referralkit.integrity.verify",
        "verify_referral": "referralkit.integrity.verify",
    },
)

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
