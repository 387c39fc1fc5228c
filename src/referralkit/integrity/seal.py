"""Keyed seals: an HMAC over a stored referral, made with a key the host holds.

Without a key, someone who can write the database can rewrite a history end to end and
recompute every hash. A seal is an HMAC-SHA256 over the referral as stored (its id, version,
chain head and every field), made with a key that lives with the host application, not in the
database; a row or chain rewritten without the key no longer matches its seal.

Keys rotate: a :class:`Keyring` holds every key still in use by id, seals with its ``current``
one, and checks a seal with the key its id names. Old seals keep verifying while their key is in
the ring; a referral is sealed again with the current key the next time it is written.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

import attrs

__all__ = ["Keyring", "Seal"]

_DOMAIN: Final = b"referralkit-seal-v1\n"  # so a seal cannot double as any other HMAC
_MIN_KEY_BYTES: Final = 16


@attrs.frozen
class Seal:
    """A stored seal: which key made it, and the hex HMAC.

    .. versionadded:: 0.2
    """

    key_id: str
    mac: str


def _copy_keys(keys: Mapping[str, bytes]) -> dict[str, bytes]:
    return dict(keys)


def _check_keys(instance: Keyring, attribute: object, keys: Mapping[str, bytes]) -> None:
    if not keys:
        raise ValueError("a keyring needs at least one key")
    for key_id, key in keys.items():
        if not key_id or len(key) < _MIN_KEY_BYTES:
            raise ValueError(f"key {key_id!r} must be named and at least 16 bytes long")


@attrs.frozen(repr=False)
class Keyring:
    """The host's sealing keys, by id; seals with ``current``, checks with any.

    :param keys: key id to secret key (at least 16 random bytes; 32 recommended).
    :param current: the id of the key new seals use.
    :raises ValueError: no keys, a short key, or *current* not among them.

    .. versionadded:: 0.2
    """

    keys: Mapping[str, bytes] = attrs.field(converter=_copy_keys, validator=_check_keys)
    current: str = attrs.field()

    @current.validator
    def _check_current(self, attribute: object, value: str) -> None:
        if value not in self.keys:
            raise ValueError("the current key id is not in the keyring")

    def seal(self, body: str) -> Seal:
        """Seal a referral's stored body (``Referral.model_dump_json()``) with the current key."""
        return Seal(self.current, self._mac(self.keys[self.current], body))

    def check(self, body: str, seal: Seal) -> bool:
        """Tell whether *seal* was made over *body* by a key in this ring."""
        key = self.keys.get(seal.key_id)
        return key is not None and hmac.compare_digest(self._mac(key, body), seal.mac)

    @staticmethod
    def _mac(key: bytes, body: str) -> str:
        return hmac.new(key, _DOMAIN + body.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        # Never show a key.
        return f"Keyring(keys={sorted(self.keys)}, current={self.current!r})"
