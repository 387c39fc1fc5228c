"""Referral numbers: short, safe to read aloud over the phone, with a check character.

A number is a prefix, a random body and one check character, grouped for reading aloud:
``R-7KQ4-M2X9``. The alphabet leaves out characters that are misheard or misread (``0``/``O``,
``1``/``I``/``L``, and ``U``, which turns words into profanity), and the check character
(Luhn mod N over the alphabet) catches every single wrong character and every swap of two
neighbours but one (``2Z`` for ``Z2``, the first and last characters of the alphabet), so a
number misheard on the phone is refused instead of finding another patient's
referral.

The body is derived from a seed (the unit of work uses the referral's random id), so a
number is reproducible for a given referral and attempt; uniqueness per store is checked when
the number is assigned (:meth:`referralkit.desk.unit_of_work.UnitOfWork.create`).

.. versionadded:: 0.3
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

import attrs

from referralkit.errors import InvalidReferralNumberError

__all__ = ["SAFE_ALPHABET", "ReferralNumberFormat", "compact_referral_number"]

SAFE_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Digits and capitals without ``0 O 1 I L U``: nothing two characters sound or look alike."""


def compact_referral_number(number: str) -> str:
    """Return *number* without its separators, in capitals: how numbers compare.

    Separators are how a number is printed, not part of it: ``"r7kq4m2x9"`` read back over
    the phone is ``"R-7KQ4-M2X9"``.

    .. versionadded:: 0.4
    """
    return number.upper().replace("-", "").replace(" ", "")


_PREFIX: Final = re.compile(r"[A-Z0-9]{0,8}")


def _prefix_ok(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _PREFIX.fullmatch(value):
        raise ValueError("prefix must be 0-8 capitals or digits")


def _alphabet_ok(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if len(value) < 10 or len(set(value)) != len(value) or not value.isalnum():
        raise ValueError("alphabet must be at least 10 distinct letters or digits")
    if value != value.upper():
        raise ValueError("alphabet must be upper case")


@attrs.frozen
class ReferralNumberFormat:
    """How referral numbers look: ``{prefix}-{body + check, in groups}``.

    :ivar prefix: printed first (``""``: none); 0-8 capitals or digits.
    :ivar length: random characters in the body (the check character comes on top); 7 gives
        about 2 x 10^10 numbers with the default alphabet.
    :ivar group: characters per group when printed (``0``: one group).
    :ivar separator: printed between prefix and groups; ignored when reading a number back.
    :ivar alphabet: the characters of the body and check character.

    .. versionadded:: 0.3
    """

    prefix: str = attrs.field(default="R", validator=_prefix_ok)
    length: int = attrs.field(
        default=7, validator=[attrs.validators.ge(4), attrs.validators.le(20)]
    )
    group: int = attrs.field(default=4, validator=attrs.validators.ge(0))
    separator: str = attrs.field(default="-", validator=attrs.validators.in_(("-", " ", "")))
    alphabet: str = attrs.field(default=SAFE_ALPHABET, validator=_alphabet_ok)

    def check_character(self, body: str) -> str:
        """Return the check character of *body* (Luhn mod N over :attr:`alphabet`).

        :raises InvalidReferralNumberError: *body* has a character outside the alphabet.
        """
        n = len(self.alphabet)
        total = 0
        factor = 2
        for char in reversed(body):
            index = self.alphabet.find(char)
            if index < 0:
                raise InvalidReferralNumberError("character")
            product = index * factor
            total += product // n + product % n
            factor = 1 if factor == 2 else 2
        return self.alphabet[(n - total % n) % n]

    def generate(self, seed: bytes) -> str:
        """Return the number derived from *seed* (the same seed, the same number)."""
        value = int.from_bytes(hashlib.blake2b(seed, digest_size=16).digest(), "big")
        n = len(self.alphabet)
        chars: list[str] = []
        for _ in range(self.length):
            value, index = divmod(value, n)
            chars.append(self.alphabet[index])
        body = "".join(chars)
        return self.render(body + self.check_character(body))

    def render(self, code: str) -> str:
        """Print *code* (body and check character) with the prefix, grouped for reading aloud."""
        size = self.group or len(code)
        groups = [code[i : i + size] for i in range(0, len(code), size)]
        return self.separator.join([self.prefix, *groups] if self.prefix else groups)

    def validate(self, text: str) -> str:
        """Read back a number as a caller gives it and return it as printed.

        Case, spaces and dashes are ignored (``r 7kq4 m2x9`` reads as ``R-7KQ4-M2X9``).

        :raises InvalidReferralNumberError: the prefix, length, a character or the check
            character is wrong (``.reason`` says which).
        """
        compact = re.sub(r"[\s\-.]", "", text).upper()
        if not compact.isascii() or not compact.isalnum():
            raise InvalidReferralNumberError("format")
        if not compact.startswith(self.prefix):
            raise InvalidReferralNumberError("prefix")
        code = compact[len(self.prefix) :]
        if len(code) != self.length + 1:
            raise InvalidReferralNumberError("length")
        if any(char not in self.alphabet for char in code):
            raise InvalidReferralNumberError("character")
        if self.check_character(code[:-1]) != code[-1]:
            raise InvalidReferralNumberError("check")
        return self.render(code)

    def is_valid(self, text: str) -> bool:
        """Return whether *text* reads back as a valid number of this format."""
        try:
            self.validate(text)
        except InvalidReferralNumberError:
            return False
        return True
