"""Patient identity: the one definition of "the same person", used everywhere it is needed.

Duplicate detection, status-call verification and consent propagation all ask whether two
records, or a caller and a record, are one person; they ask this module, so they cannot
disagree. Names compare by :func:`name_key` (accents, case, spaces and punctuation ignored,
letters of every script kept). Two patients are the same person when their names match and
either their birth dates match or they share a phone number. A shared phone alone is not
enough: relatives share landlines, and treating one patient as another (linking a call to the
wrong referral, or taking a relative's opt-out as theirs) is worse than a duplicate a person
merges.

.. versionadded:: 0.2
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from referralkit.model.records import Patient

__all__ = ["IdentityMatch", "caller_matches", "family_key", "name_key", "same_person"]

IdentityMatch = Literal["name_and_birth_date", "name_and_phone"]
"""Why two patient records were taken for one person."""

_NOT_LETTERS: Final = re.compile(r"[\W\d_]")


def _letters_key(name: str) -> str:
    return _NOT_LETTERS.sub("", unicodedata.normalize("NFKD", name.casefold()))


def name_key(given: str, family: str) -> str:
    """Return a comparison key for a person's name: accents, case and punctuation removed.

    ``"José  O'Neil"`` and ``"jose oneil"`` give the same key; never shown to anyone. Letters
    of every script are kept: keeping only ``a-z`` made every Cyrillic, Greek or CJK name the
    same empty key.
    """
    return _letters_key(given) + "|" + _letters_key(family)


def family_key(name: str) -> str:
    """Return the comparison key of a family name alone (see :func:`name_key`)."""
    return name_key("", name)


def same_person(a: Patient, b: Patient) -> IdentityMatch | None:
    """Return why *a* and *b* are one person, or ``None`` if they are not.

    The same name and the same birth date, or the same name and a phone number in common.
    """
    if name_key(a.given_name, a.family_name) != name_key(b.given_name, b.family_name):
        return None
    if a.birth_date is not None and a.birth_date == b.birth_date:
        return "name_and_birth_date"
    if {p.number for p in a.phones} & {p.number for p in b.phones}:
        return "name_and_phone"
    return None


def caller_matches(
    patient: Patient,
    *,
    family_name: str,
    birth_date: date,
    given_name: str | None = None,
) -> bool:
    """Return whether what a caller said (family name, birth date, given name) is *patient*.

    A caller proves who the patient is by what the record holds: the birth date and the family
    name, and the given name too when the caller gave it.
    """
    if patient.birth_date != birth_date or family_key(patient.family_name) != family_key(
        family_name
    ):
        return False
    return given_name is None or name_key(given_name, "") == name_key(patient.given_name, "")
