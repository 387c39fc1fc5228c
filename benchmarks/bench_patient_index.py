"""Duplicate lookups, opt-outs and status lookups cost what the patient has, not the database.

``python benchmarks/bench_patient_index.py [--quick]``

Two stores per backend (SQLite, and PostgreSQL when a server answers at
``REFERRALKIT_PG_DSN``), each holding the same probe patients (three open referrals apiece,
in three specialties) among other patients' open referrals:

* small: 1,000 open referrals;
* large: 1,000,000 open referrals (20,000 with ``--quick``, which CI runs).

Timed, interleaved large/small, goal large/small <= 1.5:

* duplicate lookup: the intake's check of a new referral against the patient's open ones
  (``find_duplicate`` over ``referralkit.desk.lookup.PatientLookup``);
* opt-out propagation, finding: the patient's other open referrals an opt-out must reach (what
  ``ReferralDesk.withdraw_consent`` reads before it commits);
* opt-out propagation, committed: ``ReferralDesk.withdraw_consent`` on one referral, committed
  there and on the patient's two other open referrals (a fresh patient each time, so both
  sides commit the same three changes). Three commits dominate this figure; on PostgreSQL
  they cost more on the large table (the finding above stays flat, so this is not a scan);
* status lookup: ``ReferralDesk.find_referrals`` by a referral number read back over the phone.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from common import (
    MIN_SAMPLES,
    compare,
    report,
    small_vs_large_postgres,
    small_vs_large_sqlite,
)

from referralkit import (
    Actor,
    ActorKind,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
    created,
)
from referralkit.clock import ManualClock
from referralkit.desk.lookup import PatientLookup
from referralkit.events import Event
from referralkit.intake import LookupQuery, find_duplicate
from referralkit.lifecycle import ACTIVE_STATES
from referralkit.model import Patient, PhoneContact, same_person
from referralkit.store import Store

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SMALL = 1_000
ROUNDS = 7
PER_ROUND = 10
PROBES = ROUNDS * PER_ROUND  # one fresh patient per timed opt-out
SPECIALTIES = ("cardiology", "dermatology", "neurology")
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="bench", role=Role.SYSTEM)


def _letters(number: int) -> str:
    # Names compare by their letters only (digits are dropped), so each patient's name spells
    # its number in letters: every synthetic patient is a different person.
    out = ""
    while True:
        number, digit = divmod(number, 26)
        out += chr(ord("a") + digit)
        if number == 0:
            return out.capitalize()


def _patient(number: int) -> Patient:
    return Patient(
        given_name=f"Pat{_letters(number)}",
        family_name=f"Fam{_letters(number)}",
        birth_date=date(1940, 1, 1) + timedelta(days=number % 20_000),
        phones=(PhoneContact(number=f"+1217{number:07d}"),),
    )


def _template() -> Referral:
    return Referral(
        status=ReferralStatus.RECEIVED,
        patient=_patient(0),
        referring_practice=Practice(name="Maple Street FM"),
        receiving_practice=Practice(name="Lakeside Cardiology"),
        specialty="cardiology",
        reason=ReasonForReferral(text="palpitations"),
    )


def _number(patient: int, specialty: int) -> str:
    return f"P-{patient:07d}-{specialty}"


def _referrals(total: int) -> Iterator[tuple[Referral, Event]]:
    template = _template()
    # The probe patients (numbers 0..PROBES-1) come first, three referrals each; everyone
    # else has one. Ids are random, so the probes' rows are spread through the tables.
    for number in range(PROBES):
        patient = _patient(number)
        for index, specialty in enumerate(SPECIALTIES):
            referral = template.model_copy(
                update={
                    "id": uuid.uuid4(),
                    "patient": patient,
                    "specialty": specialty,
                    "referral_number": _number(number, index),
                }
            )
            change = created(referral, SYSTEM, T0 - timedelta(days=1))
            yield change.referral, change.event
    for number in range(PROBES, PROBES + total - 3 * PROBES):
        referral = template.model_copy(
            update={
                "id": uuid.uuid4(),
                "patient": _patient(number),
                "referral_number": _number(number, 0),
            }
        )
        change = created(referral, SYSTEM, T0 - timedelta(days=1))
        yield change.referral, change.event


def _fill(store: Store, total: int) -> None:
    began = time.perf_counter()
    store.create_many(_referrals(total), batch_size=5_000)
    print(f"  built {total:,} open referrals in {time.perf_counter() - began:.1f} s")


def _measure(backend: str, small: Store, large: Store, total: int) -> None:
    clock = ManualClock(T0)
    desks = {s: ReferralDesk(store=s, clock=clock) for s in (small, large)}
    candidate = _template().model_copy(update={"patient": _patient(1)})
    window = timedelta(days=90)

    def duplicates(store: Store) -> None:
        lookup = PatientLookup(store)
        for number in range(20):
            patient = _patient(number)
            new = candidate.model_copy(update={"patient": patient})
            match = find_duplicate(
                new, lookup.same_person(patient, ACTIVE_STATES), now=T0, window=window
            )
            assert match is not None

    def targets(store: Store) -> None:
        lookup = PatientLookup(store)
        for number in range(20):
            patient = _patient(number)
            reached = [
                r
                for r in lookup.same_person(patient, ACTIVE_STATES)
                if r.patient is not None and same_person(patient, r.patient) is not None
            ]
            assert len(reached) == len(SPECIALTIES)

    def status(desk: ReferralDesk) -> None:
        for number in range(20):
            spoken = _number(number, 1).replace("-", " ").lower()
            (found,) = desk.find_referrals(LookupQuery(referral_number=spoken))
            assert found.specialty == SPECIALTIES[1]

    for store in (small, large):
        duplicates(store)
        targets(store)
        status(desks[store])
    ours, base = compare(lambda: duplicates(large), lambda: duplicates(small), ops=20)
    report(f"{backend} duplicate lookup ({total:,} vs {SMALL:,})", ours, base, goal=1.5)
    ours, base = compare(lambda: targets(large), lambda: targets(small), ops=20)
    report(
        f"{backend} opt-out, finding the targets ({total:,} vs {SMALL:,})",
        ours,
        base,
        goal=1.5,
    )
    ours, base = compare(lambda: status(desks[large]), lambda: status(desks[small]), ops=20)
    report(f"{backend} status lookup by number ({total:,} vs {SMALL:,})", ours, base, goal=1.5)

    # Opt-outs write, so each round takes fresh patients (the same ones on both sides).
    firsts = {
        store: [
            desks[store].find_referrals(LookupQuery(referral_number=_number(n, 0)))[0].id
            for n in range(PROBES)
        ]
        for store in (small, large)
    }
    taken = {small: 0, large: 0}

    def opt_out(store: Store) -> None:
        desk = desks[store]
        for _ in range(PER_ROUND):
            desk.withdraw_consent(firsts[store][taken[store]], actor=SYSTEM)
            taken[store] += 1

    ours, base = compare(
        lambda: opt_out(large), lambda: opt_out(small), ops=PER_ROUND, rounds=ROUNDS
    )
    assert len(ours) >= MIN_SAMPLES
    for store in (small, large):
        assert taken[store] <= PROBES
        number = taken[store] - 1
        (last,) = desks[store].find_referrals(LookupQuery(referral_number=_number(number, 2)))
        assert last.patient is not None
        assert not last.patient.consent.contact_allowed
    report(
        f"{backend} opt-out, committed on 3 referrals ({total:,} vs {SMALL:,})",
        ours,
        base,
        goal=1.5,
    )


def main(quick: bool = False) -> None:
    """Run the benchmark; *quick* builds 20,000 open referrals, not 1,000,000."""
    total = 20_000 if quick else 1_000_000
    print(f"patient index: {PROBES} probe patients, {total:,} open referrals vs {SMALL:,}")
    small_vs_large_sqlite("bench-patient-index-", _fill, _measure, SMALL, total)
    small_vs_large_postgres(
        _fill,
        _measure,
        SMALL,
        total,
        analyze=("referralkit_referrals", "referralkit_patient_index"),
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(quick="--quick" in sys.argv)
