"""Intake validation of a complete new_referral vs the floor of what its dependencies cost.

Ours: ``validate_intake`` of a ~25-field nested payload with two phone numbers, producing a
valid :class:`~referralkit.Referral` (phones to E.164 with validation and time zones, NPI
check digits, ICD-10-CM format, birth date, state, ZIP, email, names NFC, priority, flags).

Floor, measured in the same run: the same payload validated by pydantic into the same
:class:`~referralkit.Referral` model (lax mode, so its ISO dates and enum values are read as
pydantic reads JSON), after ``phonenumbers`` has parsed its two numbers and formatted them to
E.164 (the model takes E.164). Goal: ratio <= 1.5x.

Re-stated goal: until this release the floor validated into a plain, unconstrained model of
the same shape (goal 1.5x and >= 10,000 payloads/s); the floor now does what a hand-written
pipeline would have to do to produce the same, valid :class:`Referral`. Both sides run with
the garbage collector paused, interleaved, the order alternating per round.

Both sides validate the same pre-generated list of distinct payloads (different names, birth
dates, phone numbers in several written forms, NPIs, member ids), so no cache keyed on input
values can help either side. A breakdown (``timeit`` min of repeats) shows what each part of
the work costs, and what the spec requires that the floor does not do.

Run: ``python benchmarks/bench_intake.py [--quick]``.
"""

from __future__ import annotations

import random
import statistics
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import phonenumbers
from common import interleaved, note, report
from phonenumbers import timezone as phone_timezone
from pydantic import BaseModel

from referralkit.clock import ManualClock
from referralkit.intake import CallType, IntakeConfig, phones, validate_intake
from referralkit.intake.build import build_referral
from referralkit.intake.normalise import normalise_npi
from referralkit.intake.progress import evaluate
from referralkit.intake.validators import read_turn, validators_for
from referralkit.model import Referral, is_valid_npi

PAYLOAD: dict[str, Any] = {
    "referral_number": "REF-2026-0042",
    "priority": "routine",
    "specialty": "Cardiology",
    "patient": {
        "given_name": "Ana",
        "middle_name": "Lucía",
        "family_name": "Rivera",
        "birth_date": "1961-07-04",
        "mrn": "MRN-88231",
        "email": "ana.rivera@example.org",
        "preferred_language": "es",
        "phones": [{"number": "(312) 555-0147", "kind": "mobile"}],
        "address": {
            "line1": "1200 W Lake St",
            "city": "Chicago",
            "state": "IL",
            "postal_code": "60607",
        },
    },
    "referring_practice": {
        "name": "Lakeside Family Medicine",
        "npi": "1234567893",
        "phone": "312-555-0100",
    },
    "referring_provider": {"name": "Dr Maya Chen", "npi": "1245319599"},
    "reason": {"icd10_codes": ["I10", "E11.9"], "text": "Hypertension, poorly controlled"},
    "coverage": {
        "payer_name": "Acme Health",
        "payer_id": "ACME",
        "member_id": "W123456789",
        "group_number": "G-100",
    },
}
"""One representative payload; the benchmark validates :func:`payloads`, all different."""

_GIVEN = ("Ana", "José", "Mary Ellen", "Wei", "Olúwaseun", "Fatima", "Liam", "Chloé", "Raj")
_FAMILY = ("Rivera", "O'Neil", "Nguyen", "Smith-Jones", "García", "Kowalski", "Okafor", "Lee")
_AREAS = ("312", "773", "212", "415", "617", "713", "206", "303", "404", "305", "612", "801")
_FORMS = ("({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}", "1 {a} {e} {l}")
_ICD = (["I10"], ["E11.9", "I10"], ["J45.909"], ["M54.5"], ["I48.91", "E78.5"], ["K21.9"])
_STATES = ("IL", "NY", "CA", "MA", "TX", "WA", "CO", "GA", "FL", "MN", "UT")


def _npi(rng: random.Random) -> str:
    nine = str(rng.randint(100_000_000, 299_999_999))
    return next(nine + d for d in "0123456789" if is_valid_npi(nine + d))


def _phone(rng: random.Random) -> str:
    while True:
        area, exchange, line = rng.choice(_AREAS), rng.randint(200, 999), rng.randint(0, 9999)
        text = rng.choice(_FORMS).format(a=area, e=exchange, l=f"{line:04d}")
        if phonenumbers.is_valid_number(phonenumbers.parse(text, "US")):
            return text


def payloads(count: int, seed: int = 2026) -> list[dict[str, Any]]:
    """Return *count* distinct complete new_referral payloads shaped like :data:`PAYLOAD`."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(count):
        given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
        born = date(1930, 1, 1) + timedelta(days=rng.randint(0, 33_000))
        area = rng.choice(_AREAS)
        out.append(
            {
                "referral_number": f"REF-2026-{i:05d}",
                "priority": rng.choice(("routine", "routine", "urgent")),
                "specialty": rng.choice(("Cardiology", "Dermatology", "Neurology")),
                "patient": {
                    "given_name": given,
                    "middle_name": rng.choice(("Lucía", "J", "Marie", "Ann")),
                    "family_name": f"{family}{i}" if i % 2 else family,
                    "birth_date": born.isoformat(),  # the floor reads ISO dates only
                    "mrn": f"MRN-{rng.randint(10_000, 99_999)}",
                    "email": f"{given.split()[0].lower()}.{i}@example.org",
                    "preferred_language": rng.choice(("en", "es", "en-US")),
                    "phones": [{"number": _phone(rng), "kind": "mobile"}],
                    "address": {
                        "line1": f"{rng.randint(1, 9999)} W Lake St",
                        "city": rng.choice(("Chicago", "Springfield", "Boston", "Austin")),
                        "state": rng.choice(_STATES),
                        "postal_code": f"{rng.randint(10_000, 99_999)}",
                    },
                },
                "referring_practice": {
                    "name": f"Lakeside Family Medicine {area}",
                    "npi": _npi(rng),
                    "phone": _phone(rng),
                },
                "referring_provider": {"name": f"Dr Maya Chen {i % 97}", "npi": _npi(rng)},
                "reason": {
                    "icd10_codes": rng.choice(_ICD),
                    "text": rng.choice(("Hypertension, poorly controlled", "Chest pain")),
                },
                "coverage": {
                    "payer_name": rng.choice(("Acme Health", "Prairie Health Plan")),
                    "payer_id": "ACME",
                    "member_id": f"W{rng.randint(100_000_000, 999_999_999)}",
                    "group_number": f"G-{rng.randint(100, 999)}",
                },
            }
        )
    return out


def _numbers(payload: dict[str, Any]) -> tuple[str, str]:
    return payload["patient"]["phones"][0]["number"], payload["referring_practice"]["phone"]


# -- The floor: a plain model, no constraints ----------------------------------------------


class _Phone(BaseModel):
    number: str
    kind: str


class _Address(BaseModel):
    line1: str
    city: str
    state: str
    postal_code: str


class _Patient(BaseModel):
    given_name: str
    middle_name: str
    family_name: str
    birth_date: date
    mrn: str
    email: str
    preferred_language: str
    phones: list[_Phone]
    address: _Address


class _Practice(BaseModel):
    name: str
    npi: str
    phone: str


class _Provider(BaseModel):
    name: str
    npi: str


class _Reason(BaseModel):
    icd10_codes: list[str]
    text: str


class _Coverage(BaseModel):
    payer_name: str
    payer_id: str
    member_id: str
    group_number: str


class _PlainReferral(BaseModel):
    referral_number: str
    priority: str
    specialty: str
    patient: _Patient
    referring_practice: _Practice
    referring_provider: _Provider
    reason: _Reason
    coverage: _Coverage


def _e164(raw: str) -> str:
    return phonenumbers.format_number(
        phonenumbers.parse(raw, "US"), phonenumbers.PhoneNumberFormat.E164
    )


def _floor_once(payload: dict[str, Any]) -> None:
    patient = payload["patient"]
    practice = payload["referring_practice"]
    phones = [{**p, "number": _e164(p["number"])} for p in patient["phones"]]
    Referral.model_validate(
        {
            **payload,
            "patient": {**patient, "phones": phones},
            "referring_practice": {**practice, "phone": _e164(practice["phone"])},
        },
        strict=False,
    )


CONFIG = IntakeConfig()
CLOCK = ManualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
KIND = CallType.NEW_REFERRAL


def _ours_once(payload: dict[str, Any]) -> None:
    result, referral = validate_intake(KIND, payload, config=CONFIG, clock=CLOCK)
    if referral is None:  # pragma: no cover - every payload is complete
        raise AssertionError(result)


def _loop(fn: Callable[[dict[str, Any]], None], items: list[dict[str, Any]]) -> Callable[[], None]:
    def run() -> None:
        for item in items:
            fn(item)

    return run


def _interleaved(
    ours: Callable[[], None], floor: Callable[[], None], n: int, rounds: int
) -> tuple[list[float], list[float]]:
    return interleaved(ours, floor, n, rounds)


def _cost(fn: Callable[[Any], object], items: list[Any], repeats: int = 5) -> float:
    """Min over repeats of the mean seconds per item (timeit style: GC off while timing)."""

    def run() -> None:
        for item in items:
            fn(item)

    return min(timeit.repeat(run, number=1, repeat=repeats)) / len(items)


def breakdown(items: list[dict[str, Any]]) -> dict[str, float]:
    """Return microseconds per payload of each part of the work, ours and the floor's."""
    table = validators_for(KIND, CONFIG)
    today = CLOCK.now().date()
    now = CLOCK.now()
    numbers = [n for p in items for n in _numbers(p)]
    parsed = [phonenumbers.parse(raw, "US") for raw in numbers]
    # As intake reads them: the patient's with its time zones, the practice's without.
    pairs = [(raw, i % 2 == 0) for i, raw in enumerate(numbers)]
    turns = [read_turn(p, table, today) for p in items]
    results = [evaluate(KIND, CONFIG, v, i.values(), language=None, turn=1) for v, _, i in turns]
    flat = [(path, raw) for p in items[:200] for path, raw in _leaves(p)]
    npis = [raw for path, raw in flat if path.endswith(".npi")]
    plain_fields = [(path, raw) for path, raw in flat if "phone" not in path and "npi" not in path]
    data = []
    for (values, _, _), result in zip(turns, results, strict=True):
        data.append((values, tuple(f.code for f in result.flags)))
    two = len(numbers) / len(items)  # phone numbers per payload: 2
    figures = {
        "floor: plain model_validate": _cost(_PlainReferral.model_validate, items),
        "floor: Referral.model_validate (lax), numbers in E.164": _cost(
            lambda p: Referral.model_validate(p, strict=False), [_e164_payload(p) for p in items]
        ),
        "floor: phonenumbers.parse x2": _cost(lambda r: phonenumbers.parse(r, "US"), numbers)
        * two
        / 2,
        "floor: format E.164 x2": _cost(
            lambda n: phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164), parsed
        )
        * two
        / 2,
        "ours: phones x2, parse to E.164 and zones (x1)": _cost(
            lambda pair: phones.normalise_phone(pair[0], with_time_zones=pair[1]), pairs
        )
        * two
        / 2,
        "spec: validity x2 (compiled metadata)": _cost(
            lambda n: phones._valid_in_region(n, "US"), parsed
        )
        * two
        / 2,
        "  (library is_valid_number_for_region x2)": _cost(
            lambda n: phonenumbers.is_valid_number_for_region(n, "US"), parsed
        )
        * two
        / 2,
        "spec: possible time zones x1": _cost(
            phone_timezone.time_zones_for_geographical_number, parsed[::2]
        ),
        "spec: NPI format + Luhn x2": _cost(normalise_npi, npis) * 2,
        "spec: 22 other fields (names NFC, dates, ICD, ...)": _cost(
            lambda pr: table[pr[0]](pr[1], today), plain_fields
        )
        * len(plain_fields)
        / 200,
        "ours: walk + all validators (read_turn)": _cost(
            lambda p: read_turn(p, table, today), items
        ),
        "ours: completeness, flags, result (evaluate)": _cost(
            lambda t: evaluate(KIND, CONFIG, t[0], t[2].values(), language=None, turn=1),
            turns,
        ),
        "ours: build Referral (assembled, not validated again)": _cost(
            lambda d: build_referral(d[0], d[1], now), data
        ),
        "  (validating it again would cost: strict, 8 records)": _cost(
            Referral.model_validate, [_referral_data(d[0], d[1], now) for d in data]
        ),
    }
    return {name: seconds * 1e6 for name, seconds in figures.items()}


def _e164_payload(payload: dict[str, Any]) -> dict[str, Any]:
    patient, practice = payload["patient"], payload["referring_practice"]
    phones = [{**p, "number": _e164(p["number"])} for p in patient["phones"]]
    return {
        **payload,
        "patient": {**patient, "phones": phones},
        "referring_practice": {**practice, "phone": _e164(practice["phone"])},
    }


def _referral_data(values: dict[str, Any], flags: tuple[str, ...], now: datetime) -> Any:
    # What build_referral hands to Referral.model_validate: its dump, minus derived fields.
    referral = build_referral(values, flags, now)
    return referral.model_dump(exclude_defaults=True)


def _leaves(payload: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in payload.items():
        if isinstance(value, dict):
            out += _leaves(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def main(quick: bool = False) -> dict[str, float]:
    """Run the benchmark, print its figures and return them."""
    n, rounds = (500, 5) if quick else (4000, 9)
    items = payloads(n)
    for payload in items:  # every payload is valid on both sides, outside the timing
        result, referral = validate_intake(KIND, payload, config=CONFIG, clock=CLOCK)
        assert result.complete, (result.missing, result.issues)
        assert referral is not None
        _floor_once(payload)
    mine, base = _interleaved(_loop(_ours_once, items), _loop(_floor_once, items), n, rounds)
    print(f"intake: full new_referral validation, {n} distinct payloads")
    print("  (27 leaf fields, nested, 2 phone numbers in 5 written forms)")
    ratio = report(
        "intake vs floor (Referral.model_validate + phonenumbers)", mine, base, goal=1.5
    )
    ours, floor = statistics.median(mine), statistics.median(base)
    per_second = note("  throughput on one core", 1 / ours, "payloads/s")
    print("  breakdown, us per payload (timeit min of repeats, GC off):")
    parts = breakdown(items[: min(n, 1000)])
    for name, micro in parts.items():
        print(f"    {name:<52} {micro:6.2f}")
    return {"ours_us": ours * 1e6, "floor_us": floor * 1e6, "ratio": ratio, "per_s": per_second}


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
