"""The patient and number index: it never misses a match the identity rules would make, it
follows every change, and it keeps no PHI in clear."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit import (
    IndexedStore,
    ManualClock,
    MemoryStore,
    Patient,
    PhoneContact,
    ReferralDesk,
    SQLiteStore,
    Store,
)
from referralkit.desk.lookup import PatientLookup
from referralkit.model import caller_matches, same_person
from referralkit.patient_index import (
    IndexHasher,
    IndexKey,
    caller_key,
    number_key,
    person_keys,
    phone_key,
    referral_keys,
)
from referralkit.testing.conformance import CANARY, canary_referral
from tests.support.builders import Actors, complete_referral
from tests.support.pg import STORE_FACTORIES, open_store_for

# Small pools, so that generated patients often share a name, a birth date or a phone.
_GIVEN = st.sampled_from(["José", "jose", "JOSE ", "Ana", "An\u0430", "Li", "O'Neil"])
_FAMILY = st.sampled_from(["Núñez", "nunez", "NUNEZ-", "Smith", "Ng", "van Dijk", "Ван"])
_DOB = st.one_of(st.none(), st.sampled_from([date(1970, 1, 1), date(1980, 2, 29)]))
_PHONE = st.sampled_from(["+15555550100", "+15555550101", "+442079460000"])
_PATIENTS = st.builds(
    Patient,
    given_name=_GIVEN,
    family_name=_FAMILY,
    birth_date=_DOB,
    phones=st.lists(_PHONE, max_size=2, unique=True).map(
        lambda ns: tuple(PhoneContact(number=n) for n in ns)
    ),
)


@given(_PATIENTS, _PATIENTS)
def test_two_records_of_one_person_always_share_an_index_key(a: Patient, b: Patient) -> None:
    if same_person(a, b) is not None:
        assert person_keys(a) & person_keys(b)


@given(_PATIENTS, _FAMILY, st.sampled_from([date(1970, 1, 1), date(1980, 2, 29)]), st.data())
def test_a_caller_who_matches_a_record_finds_its_key(
    patient: Patient, family: str, born: date, data: st.DataObject
) -> None:
    given_name = data.draw(st.one_of(st.none(), _GIVEN))
    referral = complete_referral(patient=patient)
    if caller_matches(patient, family_name=family, birth_date=born, given_name=given_name):
        assert caller_key(family, born) in referral_keys(referral)


@given(_PATIENTS)
def test_every_listed_phone_is_a_key(patient: Patient) -> None:
    keys = referral_keys(complete_referral(patient=patient))
    assert {phone_key(p.number) for p in patient.phones} <= keys


def test_a_referral_number_read_back_finds_the_printed_one() -> None:
    assert number_key("r 7kq4-m2x9") == number_key("R-7KQ4-M2X9")


def test_index_keys_hide_their_value_in_repr() -> None:
    key = caller_key(CANARY["family_name"], date(1961, 3, 14))
    hasher = IndexHasher(b"s" * 32, "a")
    for text in (repr(key), repr(hasher), hasher.digest(key)):
        assert CANARY["family_name"].casefold() not in text.casefold()
        assert "1961" not in text


def test_digests_are_keyed_per_tenant_and_per_secret() -> None:
    key = phone_key(CANARY["phone"])
    a = IndexHasher(b"s" * 32, "a").digest(key)
    assert len(a) == 32
    assert int(a, 16) >= 0
    assert a != IndexHasher(b"s" * 32, "b").digest(key)
    assert a != IndexHasher(b"t" * 32, "a").digest(key)
    assert a == IndexHasher(b"s" * 32, "a").digest(IndexKey("ph", CANARY["phone"]))


# -- every store ------------------------------------------------------------------------------


@pytest.fixture(params=list(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from open_store_for(request.param, tmp_path)


def _patient(phone: str = "+15555550123", **fields: Any) -> Patient:
    values: dict[str, Any] = {
        "given_name": "Test",
        "family_name": "Patient",
        "birth_date": date(1970, 1, 1),
        "phones": (PhoneContact(number=phone),),
    } | fields
    return Patient(**values)


def test_every_store_keeps_the_index(store: Store) -> None:
    assert isinstance(store, IndexedStore)


def test_the_index_follows_a_changed_phone(store: Store, clock: ManualClock) -> None:
    desk = ReferralDesk(store=store, clock=clock)
    actor = Actors().intake_staff
    made = desk.create(complete_referral(id=uuid.uuid4(), patient=_patient()), actor=actor)
    lookup = PatientLookup(store)
    assert [r.id for r in lookup.listing_phone("+15555550123")] == [made.id]
    desk.amend(
        made.id, "patient_updated", actor=actor, update={"patient": _patient("+15555550199")}
    )
    assert list(lookup.listing_phone("+15555550123")) == []
    assert [r.id for r in lookup.listing_phone("+15555550199")] == [made.id]


def test_a_store_refiles_a_version_another_process_wrote(
    tmp_path: Path, clock: ManualClock
) -> None:
    # Two processes on one file: saves skip refiling only for the version this store filed.
    path = tmp_path / "two.db"
    first, second = SQLiteStore(path), SQLiteStore(path)
    desk_a = ReferralDesk(store=first, clock=clock)
    desk_b = ReferralDesk(store=second, clock=clock)
    actor = Actors().intake_staff
    made = desk_a.create(complete_referral(id=uuid.uuid4(), patient=_patient()), actor=actor)
    desk_a.fire(made.id, "hold", actor=Actors().clinician, data={"reason": "travelling"})
    desk_b.amend(
        made.id, "patient_updated", actor=actor, update={"patient": _patient("+15555550199")}
    )
    desk_a.fire(made.id, "resume", actor=Actors().clinician)
    for store in (first, second):
        lookup = PatientLookup(store)
        assert list(lookup.listing_phone("+15555550123")) == []
        assert [r.id for r in lookup.listing_phone("+15555550199")] == [made.id]
    first.close()
    second.close()


def test_a_lookup_pages_through_many_referrals_of_one_patient(
    store: Store, clock: ManualClock
) -> None:
    desk = ReferralDesk(store=store, clock=clock)
    actor = Actors().intake_staff
    made = {
        desk.create(
            complete_referral(id=uuid.uuid4(), patient=_patient(), referral_number=None),
            actor=actor,
        ).id
        for _ in range(3)
    }
    desk.create(
        complete_referral(id=uuid.uuid4(), patient=_patient("+15555550777", family_name="Other")),
        actor=actor,
    )
    assert isinstance(store, IndexedStore)
    keys = person_keys(_patient())
    first = store.find_indexed(keys, limit=2)
    rest = store.find_indexed(keys, limit=2, after=first[-1].id)
    assert {r.id for r in first + rest} == made
    assert len(first) == 2


def test_sqlite_index_rows_hold_no_phi(tmp_path: Path, clock: ManualClock) -> None:
    store = SQLiteStore(tmp_path / "phi.db")
    referral = canary_referral().model_copy(
        update={"id": uuid.uuid4(), "status": complete_referral().status}
    )
    ReferralDesk(store=store, clock=clock).create(referral, actor=Actors().intake_staff)
    store.close()
    with sqlite3.connect(tmp_path / "phi.db") as conn:
        rows = conn.execute("SELECT tenant, digest FROM patient_index").fetchall()
    conn.close()
    assert len(rows) >= 5
    text = repr(rows).casefold()
    for value in (*CANARY.values(), "1961-03-14", "canary", "5557310042"):
        assert value.casefold() not in text


# -- a store without the index ------------------------------------------------------------------


class _Unindexed:
    """A store with everything but ``find_indexed``: lookups fall back to a scan."""

    def __init__(self) -> None:
        self._inner = MemoryStore()

    def __getattr__(self, name: str) -> Any:
        if name == "find_indexed":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_lookups_scan_a_store_without_the_index(clock: ManualClock) -> None:
    store: Any = _Unindexed()
    assert not isinstance(store, IndexedStore)
    desk = ReferralDesk(store=store, clock=clock)
    actor = Actors().intake_staff
    first = desk.create(complete_referral(id=uuid.uuid4(), patient=_patient()), actor=actor)
    second = desk.create(
        complete_referral(id=uuid.uuid4(), patient=_patient(), specialty="dermatology"),
        actor=actor,
    )
    desk.withdraw_consent(first.id, actor=actor)
    assert desk.get(second.id).patient.consent.contact_allowed is False  # type: ignore[union-attr]
