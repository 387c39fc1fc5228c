"""Read-backs that are safe over the phone: dates spelled out, numbers grouped, digit by digit.

A caller confirms what was captured by hearing it back. Over a phone line "07/04" is heard as
July 4 or April 7, and "fifteen" as "fifty": so dates are spelled out in words with the month
named, and phone and reference numbers are read digit by digit in short groups.

Referral numbers are read character by character in the groups they are written in. The
library issues no referral numbers, so no check character exists to read out yet: a host that
issues numbers with one gets it read as the last group.

Read-backs hold what the caller said (PHI): they are for the caller's ears and are never
logged.

.. versionadded:: 0.1
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time
from typing import Final

__all__ = ["group_phone", "spell_date", "spell_reference", "spell_time"]

_EN_ONES: Final = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_EN_TENS: Final = [
    "_",
    "_",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
]
_EN_ORDINAL: Final = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_EN_MONTHS: Final = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_ES_ONES: Final = [
    "cero",
    "uno",
    "dos",
    "tres",
    "cuatro",
    "cinco",
    "seis",
    "siete",
    "ocho",
    "nueve",
    "diez",
    "once",
    "doce",
    "trece",
    "catorce",
    "quince",
    "dieciséis",
    "diecisiete",
    "dieciocho",
    "diecinueve",
    "veinte",
    "veintiuno",
    "veintidós",
    "veintitrés",
    "veinticuatro",
    "veinticinco",
    "veintiséis",
    "veintisiete",
    "veintiocho",
    "veintinueve",
]
_ES_TENS: Final = [
    "_",
    "_",
    "_",
    "treinta",
    "cuarenta",
    "cincuenta",
    "sesenta",
    "setenta",
    "ochenta",
    "noventa",
]
_ES_HUNDREDS: Final = [
    "_",
    "ciento",
    "doscientos",
    "trescientos",
    "cuatrocientos",
    "quinientos",
    "seiscientos",
    "setecientos",
    "ochocientos",
    "novecientos",
]
_ES_MONTHS: Final = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


@functools.lru_cache(maxsize=512)
def _en_words(n: int) -> str:  # cached: a number alone (a day, a year) identifies no one
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_EN_ONES[hundreds]} hundred" + (f" {_en_words(rest)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    return f"{_en_words(thousands)} thousand" + (f" {_en_words(rest)}" if rest else "")


@functools.lru_cache(maxsize=512)
def _en_ordinal(n: int) -> str:
    words = _en_words(n)
    head, sep, last = words.rpartition("-")
    if last in _EN_ORDINAL:
        last = _EN_ORDINAL[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head}{sep}{last}"


@functools.lru_cache(maxsize=512)
def _en_year(year: int) -> str:
    # As people say years: 1961 "nineteen sixty-one", 1905 "nineteen oh five", 2005 "two
    # thousand five", 2026 "twenty twenty-six".
    if 2000 <= year < 2010 or year % 1000 == 0 or year < 1000:
        return _en_words(year)
    high, low = divmod(year, 100)
    if low == 0:
        return f"{_en_words(high)} hundred"
    if low < 10:
        return f"{_en_words(high)} oh {_en_words(low)}"
    return f"{_en_words(high)} {_en_words(low)}"


@functools.lru_cache(maxsize=512)
def _es_words(n: int) -> str:
    if n < 30:
        return _ES_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _ES_TENS[tens] + (f" y {_ES_ONES[ones]}" if ones else "")
    if n == 100:
        return "cien"
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ES_HUNDREDS[hundreds] + (f" {_es_words(rest)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    head = "mil" if thousands == 1 else f"{_es_words(thousands)} mil"
    return head + (f" {_es_words(rest)}" if rest else "")


def _lang(language: str | None) -> str:
    return "es" if (language or "en").split("-")[0].lower() == "es" else "en"


def spell_date(day: date, language: str | None = "en") -> str:
    """Return *day* in words: ``"July fourth, nineteen sixty-one"``.

    In Spanish: ``"cuatro de julio de mil novecientos sesenta y uno"`` (the first of the
    month is ``"primero"``).
    """
    if _lang(language) == "es":
        number = "primero" if day.day == 1 else _es_words(day.day)
        return f"{number} de {_ES_MONTHS[day.month - 1]} de {_es_words(day.year)}"
    return f"{_EN_MONTHS[day.month - 1]} {_en_ordinal(day.day)}, {_en_year(day.year)}"


def spell_time(moment: time | datetime, language: str | None = "en") -> str:
    """Return a clock time as said aloud: ``"two thirty PM"``.

    In Spanish: ``"las dos y media de la tarde"``.
    """
    hour, minute = moment.hour, moment.minute
    if _lang(language) == "es":
        twelve = hour % 12 or 12
        part = "de la mañana" if hour < 12 else ("de la tarde" if hour < 19 else "de la noche")
        article = "la" if twelve == 1 else "las"
        hour_word = "una" if twelve == 1 else _es_words(twelve)
        if minute == 0:
            clock = hour_word
        elif minute == 30:
            clock = f"{hour_word} y media"
        elif minute == 15:
            clock = f"{hour_word} y cuarto"
        else:
            clock = f"{hour_word} y {_es_words(minute)}"
        return f"{article} {clock} {part}"
    twelve = hour % 12 or 12
    suffix = "AM" if hour < 12 else "PM"
    if minute == 0:
        return f"{_en_words(twelve)} o'clock {suffix}"
    if minute < 10:
        return f"{_en_words(twelve)} oh {_en_words(minute)} {suffix}"
    return f"{_en_words(twelve)} {_en_words(minute)} {suffix}"


def _digits(group: str) -> str:
    return " ".join(group)


def group_phone(number: str) -> str:
    """Return a phone number read digit by digit in groups: ``"3 1 2, 5 5 5, 0 1 4 7"``.

    North American numbers (``+1``, or ten digits) are grouped 3-3-4 without the country
    code; others are read as ``"plus"`` and then groups of three, the last of up to four.
    """
    if len(number) == 12 and number[:2] == "+1" and number[2:].isdigit():
        # The common case, an E.164 North American number as intake stores it.
        return _NANP.format(*number[2:])
    text = number.strip()
    international = text.startswith("+")
    digits = text[1:] if international else text
    if not digits.isdigit():
        digits = _NON_DIGIT.sub("", digits)
    if international and len(digits) == 11 and digits[0] == "1":
        digits, international = digits[1:], False
    if not international and len(digits) == 10:
        spaced = " ".join(digits)  # digit i sits at 2 * i
        return f"{spaced[:5]}, {spaced[6:11]}, {spaced[12:]}"
    groups: list[str] = []
    while len(digits) > 4:
        groups.append(digits[:3])
        digits = digits[3:]
    groups.append(digits)
    read = ", ".join(_digits(g) for g in groups if g)
    return f"plus {read}" if international else read


_NON_DIGIT: Final = re.compile(r"\D")
_NANP: Final = "{} {} {}, {} {} {}, {} {} {} {}"


def spell_reference(reference: str) -> str:
    """Return a reference read character by character in its groups: ``"R E F, 2 0 2 6, 4 2"``.

    Groups are the parts between hyphens, spaces or dots; a reference written without
    separators is read in groups of four.
    """
    parts = [p for p in re.split(r"[-\s.]+", reference.upper()) if p]
    if len(parts) == 1:
        text = parts[0]
        parts = [text[i : i + 4] for i in range(0, len(text), 4)]
    return ", ".join(_digits(p) for p in parts)
