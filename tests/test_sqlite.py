"""The SQLite store: racing writers (threads and processes), bad input, schema and migration."""

from __future__ import annotations

import importlib
import multiprocessing
import sqlite3
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from referralkit import (
    ConflictError,
    CorruptRecordError,
    InvalidTriggerError,
    ManualClock,
    NotAReferralkitDatabaseError,
    Referral,
    ReferralDesk,
    ReferralNotFoundError,
    SQLiteStore,
    created,
    shared_lifecycle,
)
from referralkit.adapters.sqlite import SCHEMA_VERSION

ROUNDS = 8


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "referrals.db"


@pytest.fixture
def seeded(db: Path, clock: ManualClock, actors: Any, make_referral: Any) -> Iterator[Referral]:
    """A referral stored (version 1) in the SQLite file ``db``."""
    with ReferralDesk(store=SQLiteStore(db), clock=clock) as desk:
        yield desk.create(make_referral(), actor=actors.referrer)


def sql(db: Path, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run one statement on the file directly, as another program would."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            return conn.execute(statement, params).fetchall()
    finally:
        conn.close()


# -- Racing writers ------------------------------------------------------------------------------


def test_two_stores_racing_in_threads_exactly_one_wins_each_round(
    db: Path, seeded: Referral, actors: Any, t0: Any
) -> None:
    stores = [SQLiteStore(db), SQLiteStore(db)]
    barrier = threading.Barrier(2, timeout=30)
    results: list[list[str]] = [[] for _ in range(ROUNDS)]

    def writer(store: SQLiteStore, round_no: int) -> None:
        current = store.get(seeded.id)
        # Alternate hold and resume, so that every round is a legal move.
        trigger, data = ("resume", None) if round_no % 2 else ("hold", {"reason": "r"})
        change = shared_lifecycle().fire(
            current, trigger, actor=actors.clinician, now=t0, data=data
        )
        barrier.wait()  # both computed their change from the same version
        try:
            store.save(change.referral, change.event, expected_version=current.version)
            results[round_no].append("won")
        except ConflictError:
            results[round_no].append("conflict")

    try:
        for round_no in range(ROUNDS):
            threads = [threading.Thread(target=writer, args=(s, round_no)) for s in stores]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert sorted(results[round_no]) == ["conflict", "won"], round_no
        final = stores[0].get(seeded.id)
        assert final.version == 1 + ROUNDS
        events = stores[1].events(seeded.id)
        assert [e.seq for e in events] == list(range(1, ROUNDS + 2))
    finally:
        for store in stores:
            store.close()
    with ReferralDesk(store=SQLiteStore(db)) as desk:
        desk.verify(seeded.id)


def test_two_desks_racing_in_threads_exactly_one_wins_each_round(
    db: Path, seeded: Referral, actors: Any, clock: ManualClock
) -> None:
    desks = [ReferralDesk(store=SQLiteStore(db), clock=clock) for _ in range(2)]
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[list[str]] = [[] for _ in range(ROUNDS)]

    def writer(desk: ReferralDesk, round_no: int, seen: int) -> None:
        barrier.wait()
        try:
            desk.amend(
                seeded.id,
                "note_added",
                actor=actors.intake_staff,
                update={"flags": (f"round-{round_no}",)},
                expected_version=seen,
            )
            outcomes[round_no].append("won")
        except ConflictError:
            outcomes[round_no].append("conflict")

    try:
        for round_no in range(ROUNDS):
            seen = desks[0].get(seeded.id).version
            threads = [threading.Thread(target=writer, args=(d, round_no, seen)) for d in desks]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert sorted(outcomes[round_no]) == ["conflict", "won"], round_no
        final = desks[1].get(seeded.id)
        assert final.version == 1 + ROUNDS
        assert final.flags == (f"round-{ROUNDS - 1}",)
        assert len(desks[0].history(seeded.id)) == 1 + ROUNDS
        desks[1].verify(seeded.id)
    finally:
        for desk in desks:
            desk.close()


# A module the spawned processes can import: the test module itself is not importable by name
# under --import-mode=importlib, and "spawn" (the only start method everywhere) needs that.
WORKER_SOURCE = """
from datetime import UTC, datetime

from referralkit import Actor, ActorKind, ConflictError, ManualClock, ReferralDesk, Role
from referralkit import SQLiteStore


def race(db, referral_id, rounds, barrier, results):
    actor = Actor(kind=ActorKind.HUMAN, id="worker", role=Role.INTAKE)
    clock = ManualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    with ReferralDesk(store=SQLiteStore(db), clock=clock) as desk:
        for round_no in range(rounds):
            barrier.wait()
            seen = desk.get(referral_id).version
            barrier.wait()  # both read the same version before either writes
            try:
                desk.amend(
                    referral_id,
                    "note_added",
                    actor=actor,
                    update={"flags": ("round-%d" % round_no,)},
                    expected_version=seen,
                )
                results.put((round_no, "won"))
            except ConflictError:
                results.put((round_no, "conflict"))
"""


@pytest.fixture
def worker_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    name = f"referralkit_race_worker_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(WORKER_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)


def test_two_processes_racing_exactly_one_wins_each_round(
    db: Path, seeded: Referral, worker_module: Any
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2, timeout=60)
    results = context.Queue()
    processes = [
        context.Process(
            target=worker_module.race, args=(str(db), seeded.id, ROUNDS, barrier, results)
        )
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * ROUNDS)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    for round_no in range(ROUNDS):
        assert sorted(o for r, o in outcomes if r == round_no) == ["conflict", "won"]
    with ReferralDesk(store=SQLiteStore(db)) as desk:
        final = desk.get(seeded.id)
        assert final.version == 1 + ROUNDS
        assert len(desk.history(seeded.id)) == 1 + ROUNDS
        desk.verify(seeded.id)


# -- Bad input -----------------------------------------------------------------------------------


def test_unknown_trigger_is_refused(db: Path, seeded: Referral, actors: Any) -> None:
    with (
        ReferralDesk(store=SQLiteStore(db)) as desk,
        pytest.raises(InvalidTriggerError, match="unknown trigger"),
    ):
        desk.fire(seeded.id, "beam_up", actor=actors.clinician)  # type: ignore[arg-type]


def test_unknown_trigger_writes_nothing(db: Path, seeded: Referral, actors: Any) -> None:
    with ReferralDesk(store=SQLiteStore(db)) as desk:
        with pytest.raises(InvalidTriggerError):
            desk.fire(seeded.id, "beam_up", actor=actors.clinician)  # type: ignore[arg-type]
        assert desk.get(seeded.id) == seeded
        assert len(desk.history(seeded.id)) == 1


def test_unknown_referral_id_is_not_found(db: Path, actors: Any) -> None:
    missing = uuid.uuid4()
    with (
        ReferralDesk(store=SQLiteStore(db)) as desk,
        pytest.raises(ReferralNotFoundError, match=str(missing)),
    ):
        desk.fire(missing, "accept", actor=actors.clinician)


def test_corrupt_referral_json_raises_corrupt_record(db: Path, seeded: Referral) -> None:
    sql(db, "UPDATE referrals SET body = ? WHERE id = ?", ('{"status": ', str(seeded.id)))
    with (
        closing(SQLiteStore(db)) as store,
        pytest.raises(CorruptRecordError, match=f"stored referral of referral {seeded.id}"),
    ):
        store.get(seeded.id)


def test_referral_json_of_wrong_shape_raises_corrupt_record(db: Path, seeded: Referral) -> None:
    sql(db, "UPDATE referrals SET body = ? WHERE id = ?", ('{"status": 7}', str(seeded.id)))
    with (
        closing(SQLiteStore(db)) as store,
        pytest.raises(CorruptRecordError, match="cannot be decoded"),
    ):
        store.get(seeded.id)


def test_corrupt_referral_row_fails_listing_too(db: Path, seeded: Referral) -> None:
    sql(db, "UPDATE referrals SET body = ? WHERE id = ?", ("not json", str(seeded.id)))
    with closing(SQLiteStore(db)) as store, pytest.raises(CorruptRecordError):
        store.list_by_status([seeded.status])


@pytest.mark.parametrize(
    "body",
    ["{not json", '{"seq": 1}', '{"referral_id": "nope"}', "[]", '"a string"'],
    ids=["syntax", "missing-fields", "bad-uuid", "array", "string"],
)
def test_corrupt_event_json_raises_corrupt_record(db: Path, seeded: Referral, body: str) -> None:
    sql(db, "UPDATE events SET body = ? WHERE referral_id = ?", (body, str(seeded.id)))
    with (
        closing(SQLiteStore(db)) as store,
        pytest.raises(CorruptRecordError, match=f"stored event of referral {seeded.id}"),
    ):
        store.events(seeded.id)


def test_corrupt_event_fails_verify_loudly(db: Path, seeded: Referral) -> None:
    sql(db, "UPDATE events SET body = ? WHERE referral_id = ?", ("{", str(seeded.id)))
    with ReferralDesk(store=SQLiteStore(db)) as desk, pytest.raises(CorruptRecordError):
        desk.verify(seeded.id)


# -- Files that are not referralkit databases ---------------------------------------------------


def test_file_that_is_not_sqlite_is_refused(db: Path) -> None:
    db.write_bytes(b"referral export, not a database\n" * 200)
    with pytest.raises(NotAReferralkitDatabaseError, match="not a usable SQLite database"):
        SQLiteStore(db)


def test_file_that_is_not_sqlite_is_left_untouched(db: Path) -> None:
    content = b"referral export, not a database\n" * 200
    db.write_bytes(content)
    with pytest.raises(NotAReferralkitDatabaseError):
        SQLiteStore(db)
    assert db.read_bytes() == content


def test_sqlite_database_of_another_application_is_refused(db: Path) -> None:
    sql(db, "CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(NotAReferralkitDatabaseError, match="tables that are not referralkit's"):
        SQLiteStore(db)


def test_other_application_tables_are_left_untouched(db: Path) -> None:
    sql(db, "CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(NotAReferralkitDatabaseError):
        SQLiteStore(db)
    tables = sql(db, "SELECT name FROM sqlite_master WHERE type = 'table'")
    assert tables == [("patients",)]


def test_newer_schema_version_is_refused(db: Path) -> None:
    SQLiteStore(db).close()
    sql(db, "UPDATE referralkit_schema SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(NotAReferralkitDatabaseError, match="newer than this release"):
        SQLiteStore(db)


# -- Schema creation and reopening ---------------------------------------------------------------


def test_empty_file_is_migrated_to_the_current_schema(db: Path) -> None:
    db.touch()
    with closing(SQLiteStore(db)) as store:
        assert store.schema_version == SCHEMA_VERSION
    assert sql(db, "SELECT version FROM referralkit_schema") == [(SCHEMA_VERSION,)]


def test_missing_file_is_created_with_the_current_schema(db: Path) -> None:
    with closing(SQLiteStore(db)) as store:
        assert store.schema_version == SCHEMA_VERSION
    names = {n for (n,) in sql(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"referralkit_schema", "referrals", "events"} <= names


def test_reopening_an_existing_database_keeps_its_referrals(
    db: Path, seeded: Referral, actors: Any
) -> None:
    with ReferralDesk(store=SQLiteStore(db)) as desk:
        desk.fire(seeded.id, "accept", actor=actors.clinician)
    with ReferralDesk(store=SQLiteStore(db)) as desk:
        assert desk.get(seeded.id).version == 2
        assert [e.kind for e in desk.history(seeded.id)] == ["created", "accept"]
        desk.verify(seeded.id)


def test_reopening_does_not_migrate_again(db: Path, seeded: Referral) -> None:
    SQLiteStore(db).close()
    assert sql(db, "SELECT version FROM referralkit_schema") == [(SCHEMA_VERSION,)]
    assert sql(db, "SELECT COUNT(*) FROM referrals") == [(1,)]


def test_in_memory_database_works(actors: Any, make_referral: Any, t0: Any) -> None:
    with closing(SQLiteStore(":memory:")) as store:
        change = created(make_referral(), actors.referrer, t0)
        store.create(change.referral, change.event)
        assert store.get(change.referral.id) == change.referral
