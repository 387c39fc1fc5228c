"""Tamper evidence: 26 ways to rewrite a stored referral, counted with and without a host key.

Every method edits a SQLite FILE directly (as someone with write access to the database, but
not to the host's key, would) and then asks ``verify``. The expected outcome of each method is
written next to it; ``docs/integrity.md`` lists the same table.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from referralkit.adapters.memory import MemoryStore
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.desk import ReferralDesk
from referralkit.errors import CorruptRecordError, HistoryTamperedError
from referralkit.events import Event, make_event
from referralkit.integrity import Keyring, TamperReport, verify_all, verify_referral
from referralkit.lifecycle import amended, created, shared_lifecycle
from referralkit.lifecycle.replay import replay
from referralkit.model import Channel, Patient, PhoneContact, Referral, ReferralStatus, Role
from tests.support.pg import DSN, server_or_skip, throwaway_schema

KEYRING = Keyring({"2026-a": b"k" * 32}, current="2026-a")


@attrs.frozen
class Lab:
    """Two referrals with real histories in one SQLite file, and raw access to its rows."""

    db: Path
    a: uuid.UUID  # ready to schedule, SMS opted out, an interaction logged
    b: uuid.UUID  # another patient, accepted

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        conn = sqlite3.connect(self.db)
        try:
            with conn:
                return conn.execute(statement, params).fetchall()
        finally:
            conn.close()

    def body(self, rid: uuid.UUID) -> dict[str, Any]:
        [(body,)] = self.sql("SELECT body FROM referrals WHERE id = ?", (str(rid),))
        return dict(json.loads(body))

    def referral(self, rid: uuid.UUID) -> Referral:
        return Referral.model_validate_json(json.dumps(self.body(rid)))

    def put_row(self, referral: Referral) -> None:
        """Rewrite the row's body and columns consistently (the seal is left as it was)."""
        next_at = referral.next_action_at
        self.sql(
            "UPDATE referrals SET body = ?, status = ?, version = ?, next_action_at = ? "
            "WHERE id = ?",
            (
                referral.model_dump_json(),
                referral.status.value,
                referral.version,
                None if next_at is None else int(next_at.timestamp() * 1_000_000),
                str(referral.id),
            ),
        )

    def events(self, rid: uuid.UUID) -> list[str]:
        return [
            body
            for (body,) in self.sql(
                "SELECT body FROM events WHERE referral_id = ? ORDER BY seq", (str(rid),)
            )
        ]

    def put_events(self, rid: uuid.UUID, bodies: list[str]) -> None:
        self.sql("DELETE FROM events WHERE referral_id = ?", (str(rid),))
        for seq, body in enumerate(bodies, start=1):
            self.sql(
                "INSERT INTO events (referral_id, seq, body) VALUES (?, ?, ?)",
                (str(rid), seq, body),
            )

    def edit_event(self, rid: uuid.UUID, seq: int, edit: Callable[[dict[str, Any]], None]) -> None:
        bodies = self.events(rid)
        raw = json.loads(bodies[seq - 1])
        edit(raw)
        bodies[seq - 1] = json.dumps(raw)
        self.put_events(rid, bodies)


def _rebuild(events: list[Event]) -> tuple[list[Event], Referral]:
    """Re-derive a whole chain from edited events, as an attacker with the library would."""
    first = events[0]
    assert first.changes is not None
    change = created(
        Referral.model_validate_json(json.dumps(first.changes)), first.actor, first.at
    )
    out = [change.event]
    for event in events[1:]:
        referral = change.referral
        if event.changes is not None:
            merged = {**referral.model_dump(mode="json"), **event.changes}
            typed = Referral.model_validate_json(json.dumps(merged))
            update = {k: getattr(typed, k) for k in event.changes}
            change = amended(
                referral,
                event.kind,
                actor=event.actor,
                now=event.at,
                update=update,
                data=event.data,
            )
        else:
            change = shared_lifecycle().fire(
                referral,
                event.kind,  # type: ignore[arg-type]
                actor=event.actor,
                now=event.at,
                data=event.data or None,
            )
        out.append(change.event)
    return out, change.referral


def _decoded(lab: Lab, rid: uuid.UUID) -> list[Event]:
    return [Event.from_json(body) for body in lab.events(rid)]


# -- The methods ---------------------------------------------------------------------------------


def row_status(lab: Lab) -> None:
    lab.put_row(lab.referral(lab.a).model_copy(update={"status": ReferralStatus.SCHEDULED}))


def row_status_column_only(lab: Lab) -> None:
    lab.sql("UPDATE referrals SET status = 'closed' WHERE id = ?", (str(lab.a),))


def row_patient_name(lab: Lab) -> None:
    referral = lab.referral(lab.a)
    assert referral.patient is not None
    patient = referral.patient.model_copy(update={"family_name": "Someone-Else"})
    lab.put_row(referral.model_copy(update={"patient": patient}))


def row_birth_date(lab: Lab) -> None:
    referral = lab.referral(lab.a)
    assert referral.patient is not None
    born = referral.patient.birth_date
    assert born is not None
    patient = referral.patient.model_copy(update={"birth_date": born + timedelta(days=1)})
    lab.put_row(referral.model_copy(update={"patient": patient}))


def row_remove_opt_out(lab: Lab) -> None:
    referral = lab.referral(lab.a)
    assert referral.patient is not None
    assert referral.patient.consent.opted_out_channels == (Channel.SMS,)
    consent = referral.patient.consent.model_copy(update={"opted_out_channels": ()})
    patient = referral.patient.model_copy(update={"consent": consent})
    lab.put_row(referral.model_copy(update={"patient": patient}))


def row_next_action_at(lab: Lab) -> None:
    referral = lab.referral(lab.a)
    lab.put_row(referral.model_copy(update={"next_action_at": referral.updated_at}))


def row_version_bumped(lab: Lab) -> None:
    referral = lab.referral(lab.a)
    lab.put_row(referral.model_copy(update={"version": referral.version + 1}))


def delete_last_event_version_and_head_adjusted(lab: Lab) -> None:
    bodies = lab.events(lab.a)
    previous = Event.from_json(bodies[-2])
    lab.put_events(lab.a, bodies[:-1])
    referral = lab.referral(lab.a)
    lab.put_row(
        referral.model_copy(update={"version": previous.seq, "history_hash": previous.hash})
    )


def truncate_history_and_rebuild_the_row(lab: Lab) -> None:
    # Drop the opt-out and everything after it, and write the row the shorter history gives.
    events = _decoded(lab, lab.a)
    keep = next(i for i, e in enumerate(events) if e.kind == "consent_opted_out")
    kept = events[:keep]
    rebuilt = replay(kept)
    assert rebuilt is not None
    lab.put_events(lab.a, [e.to_json() for e in kept])
    lab.put_row(rebuilt)


def forged_event_head_updated(lab: Lab) -> None:
    referral = lab.referral(lab.a)
    forged = make_event(
        referral_id=lab.a,
        seq=referral.version + 1,
        at=referral.updated_at or referral.created_at,  # type: ignore[arg-type]
        actor=Event.from_json(lab.events(lab.a)[0]).actor,
        kind="cancel",
        from_state=referral.status,
        to_state=ReferralStatus.CANCELLED,
        data={"reason": "patient_request"},
        prev_hash=referral.history_hash,
    )
    lab.put_events(lab.a, [*lab.events(lab.a), forged.to_json()])
    lab.put_row(
        referral.model_copy(
            update={
                "version": forged.seq,
                "history_hash": forged.hash,
                "status": ReferralStatus.CANCELLED,
            }
        )
    )


def forged_consistent_amendment(lab: Lab) -> None:
    # A well-formed amendment that lifts the opt-out, row rewritten to match: the kind of change
    # the host itself could have made. Only a key tells it from a real one.
    referral = lab.referral(lab.a)
    assert referral.patient is not None
    consent = referral.patient.consent.model_copy(update={"opted_out_channels": ()})
    actor = Event.from_json(lab.events(lab.a)[-1]).actor
    change = amended(
        referral,
        "consent_restored",
        actor=actor,
        now=referral.updated_at,  # type: ignore[arg-type]
        update={"patient": referral.patient.model_copy(update={"consent": consent})},
    )
    lab.put_events(lab.a, [*lab.events(lab.a), change.event.to_json()])
    lab.put_row(change.referral)


def forged_forbidden_transition_rehashed(lab: Lab) -> None:
    # The last event re-signed as a close_loop by a scheduler: a chain and row that agree,
    # but the lifecycle never lets a scheduler close, nor closes from ready_to_schedule.
    events = _decoded(lab, lab.a)
    last = events[-1]
    forged = make_event(
        referral_id=lab.a,
        seq=last.seq,
        at=last.at,
        actor=last.actor.model_copy(update={"role": Role.SCHEDULER}),
        kind="close_loop",
        from_state=last.from_state,
        to_state=ReferralStatus.CLOSED,
        data={"report_reference": "Doc/1"},
        prev_hash=last.prev_hash,
    )
    lab.put_events(lab.a, [*[e.to_json() for e in events[:-1]], forged.to_json()])
    referral = lab.referral(lab.a)
    lab.put_row(
        referral.model_copy(update={"status": ReferralStatus.CLOSED, "history_hash": forged.hash})
    )


def chain_rehashed_end_to_end(lab: Lab) -> None:
    # Change the patient's name in the creation, re-derive every event and the row.
    events = _decoded(lab, lab.a)
    assert events[0].changes is not None
    snapshot = json.loads(json.dumps(events[0].changes))
    snapshot["patient"]["family_name"] = "Someone-Else"
    events[0] = attrs.evolve(events[0], changes=snapshot)
    chain, referral = _rebuild(events)
    lab.put_events(lab.a, [e.to_json() for e in chain])
    lab.put_row(referral.model_copy(update={"next_action_at": lab.referral(lab.a).next_action_at}))


def events_transplanted_from_another_referral(lab: Lab) -> None:
    lab.put_events(lab.a, lab.events(lab.b))
    b = lab.referral(lab.b)
    lab.put_row(b.model_copy(update={"id": lab.a}))


def all_events_deleted_version_zero(lab: Lab) -> None:
    lab.put_events(lab.a, [])
    referral = lab.referral(lab.a)
    lab.put_row(referral.model_copy(update={"version": 0, "history_hash": ""}))


def all_events_deleted_row_kept(lab: Lab) -> None:
    lab.put_events(lab.a, [])


def referral_row_deleted_events_kept(lab: Lab) -> None:
    lab.sql("DELETE FROM referrals WHERE id = ?", (str(lab.a),))


def duplicate_json_key_same_fields(lab: Lab) -> None:
    # The parsed fields are unchanged (the last "kind" wins) but the stored bytes are not.
    bodies = lab.events(lab.a)
    kind = json.loads(bodies[1])["kind"]
    bodies[1] = bodies[1].replace('"kind":', '"kind":"hold","kind":', 1)
    assert json.loads(bodies[1])["kind"] == kind
    lab.put_events(lab.a, bodies)


def duplicate_json_key_other_value(lab: Lab) -> None:
    bodies = lab.events(lab.a)
    bodies[1] = bodies[1][:-1] + ',"kind":"cancel"}'
    lab.put_events(lab.a, bodies)


def recanonicalised_event(lab: Lab) -> None:
    bodies = lab.events(lab.a)
    bodies[2] = json.dumps(json.loads(bodies[2]), indent=1)
    lab.put_events(lab.a, bodies)


def reorder_events(lab: Lab) -> None:
    bodies = lab.events(lab.a)
    bodies[1], bodies[2] = bodies[2], bodies[1]
    lab.put_events(lab.a, bodies)


def delete_middle_event(lab: Lab) -> None:
    bodies = lab.events(lab.a)
    lab.put_events(lab.a, bodies[:2] + bodies[3:])


def edit_event_data(lab: Lab) -> None:
    lab.edit_event(lab.a, 2, lambda raw: raw["data"].update(note="forged"))


def edit_event_data_own_hash_recomputed(lab: Lab) -> None:
    events = _decoded(lab, lab.a)
    edited = attrs.evolve(events[1], data={"note": "forged"})
    events[1] = attrs.evolve(edited, hash=edited.compute_hash())
    lab.put_events(lab.a, [e.to_json() for e in events])


def edit_event_actor(lab: Lab) -> None:
    lab.edit_event(lab.a, 2, lambda raw: raw["actor"].update(id="someone-else"))


def edit_event_timestamp(lab: Lab) -> None:
    lab.edit_event(lab.a, 2, lambda raw: raw.update(at="2026-01-01T00:00:00+00:00"))


def edit_recorded_changes(lab: Lab) -> None:
    # The opt-out's recorded values, edited in the event and the row alike (hash not redone).
    events = _decoded(lab, lab.a)
    seq = next(e.seq for e in events if e.kind == "consent_opted_out")

    def lift(raw: dict[str, Any]) -> None:
        raw["set"]["patient"]["consent"]["opted_out_channels"] = []

    lab.edit_event(lab.a, seq, lift)
    row_remove_opt_out(lab)


def seal_copied_from_another_referral(lab: Lab) -> None:
    [(key, mac)] = lab.sql("SELECT seal_key, seal FROM referrals WHERE id = ?", (str(lab.b),))
    lab.sql("UPDATE referrals SET seal_key = ?, seal = ? WHERE id = ?", (key, mac, str(lab.a)))


def seal_removed(lab: Lab) -> None:
    lab.sql("UPDATE referrals SET seal_key = NULL, seal = NULL WHERE id = ?", (str(lab.a),))


# method -> (detected without a key, detected with a key); None: the method needs a seal.
METHODS: dict[Callable[[Lab], None], tuple[bool | None, bool]] = {
    row_status: (True, True),
    row_status_column_only: (True, True),
    row_patient_name: (True, True),
    row_birth_date: (True, True),
    row_remove_opt_out: (True, True),
    row_next_action_at: (False, True),
    row_version_bumped: (True, True),
    delete_last_event_version_and_head_adjusted: (True, True),
    truncate_history_and_rebuild_the_row: (False, True),
    forged_event_head_updated: (True, True),
    forged_consistent_amendment: (False, True),
    forged_forbidden_transition_rehashed: (True, True),
    chain_rehashed_end_to_end: (False, True),
    events_transplanted_from_another_referral: (True, True),
    all_events_deleted_version_zero: (True, True),
    all_events_deleted_row_kept: (True, True),
    referral_row_deleted_events_kept: (True, True),
    duplicate_json_key_same_fields: (True, True),
    duplicate_json_key_other_value: (True, True),
    recanonicalised_event: (True, True),
    reorder_events: (True, True),
    delete_middle_event: (True, True),
    edit_event_data: (True, True),
    edit_event_data_own_hash_recomputed: (True, True),
    edit_event_actor: (True, True),
    edit_event_timestamp: (True, True),
    edit_recorded_changes: (True, True),
    seal_copied_from_another_referral: (None, True),
    seal_removed: (None, True),
}


def _make_lab(
    db: Path, keyring: Keyring | None, clock: Any, actors: Any, make_referral: Any
) -> Lab:
    with ReferralDesk(store=SQLiteStore(db, keyring=keyring), clock=clock) as desk:
        a = desk.create(make_referral(), actor=actors.referrer).id
        clock.advance(hours=1)
        desk.fire(a, "accept", actor=actors.clinician, data={"note": "fits"})
        clock.advance(hours=1)
        desk.fire(a, "clear", actor=actors.scheduler)
        clock.advance(hours=1)
        desk.withdraw_consent(a, Channel.SMS, actor=actors.intake_staff)
        clock.advance(hours=1)
        desk.amend(
            a,
            "interaction_logged",
            actor=actors.intake_staff,
            update={"flags": ("called",)},
            data={"channel": "voice"},
        )
        other = make_referral(
            patient=Patient(
                given_name="Other",
                family_name="Person",
                birth_date=date(1980, 5, 6),
                phones=(PhoneContact(number="+15555550199"),),
                time_zone="America/Chicago",
            )
        )
        b = desk.create(other, actor=actors.referrer).id
        desk.fire(b, "accept", actor=actors.clinician)
        assert desk.get(a).status is ReferralStatus.READY_TO_SCHEDULE
        desk.verify(a)
        desk.verify(b)
    return Lab(db, a, b)


def _detected(lab: Lab, keyring: Keyring | None) -> bool:
    store = SQLiteStore(lab.db)
    try:
        verify_referral(store, lab.a, keyring=keyring)
    except (HistoryTamperedError, CorruptRecordError):
        return True
    finally:
        store.close()
    return False


@pytest.fixture
def lab_factory(
    tmp_path: Path, clock: Any, actors: Any, make_referral: Any
) -> Callable[[str, Keyring | None], Lab]:
    def make(name: str, keyring: Keyring | None) -> Lab:
        return _make_lab(tmp_path / f"{name}.db", keyring, clock, actors, make_referral)

    return make


@pytest.mark.parametrize("method", list(METHODS), ids=lambda m: m.__name__)
@pytest.mark.parametrize("keyed", [False, True], ids=["no-key", "key"])
def test_tampering_method(
    method: Callable[[Lab], None], keyed: bool, lab_factory: Callable[..., Lab]
) -> None:
    expected = METHODS[method][1 if keyed else 0]
    if expected is None:
        pytest.skip("needs a sealed row")
    keyring = KEYRING if keyed else None
    lab = lab_factory(method.__name__, keyring)
    assert not _detected(lab, keyring)
    method(lab)
    assert _detected(lab, keyring) is expected


def test_counts_with_and_without_a_key(lab_factory: Callable[..., Lab]) -> None:
    unkeyed = [m for m, (plain, _) in METHODS.items() if plain is not None]
    found_plain = sum(
        _detected(_apply(lab_factory(f"p-{m.__name__}", None), m), None) for m in unkeyed
    )
    found_keyed = sum(
        _detected(_apply(lab_factory(f"k-{m.__name__}", KEYRING), m), KEYRING) for m in METHODS
    )
    assert len(METHODS) >= 21
    # The four undetected without a key are whole, self-consistent rewrites (docs/integrity.md).
    assert (found_plain, len(unkeyed)) == (23, 27)
    assert (found_keyed, len(METHODS)) == (29, 29)


def _apply(lab: Lab, method: Callable[[Lab], None]) -> Lab:
    method(lab)
    return lab


# -- verify_all, keys, other stores -------------------------------------------------------------


def test_verify_all_reports_every_bad_referral_and_only_those(
    lab_factory: Callable[..., Lab],
) -> None:
    lab = lab_factory("all", None)
    row_patient_name(lab)
    lab.sql("UPDATE events SET body = body || ' ' WHERE referral_id = ?", (str(lab.b),))
    store = SQLiteStore(lab.db)
    try:
        reports = list(verify_all(store, page=1))
    finally:
        store.close()
    assert {r.referral_id for r in reports} == {lab.a, lab.b}
    assert all(isinstance(r, TamperReport) for r in reports)
    patient_report = next(r for r in reports if r.referral_id == lab.a)
    assert patient_report.reason == "row differs from its history in: patient"
    assert "Someone" not in repr(reports)


def test_verify_all_streams_page_by_page(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("stream", None)
    store = SQLiteStore(lab.db)
    try:
        seen: list[int] = []
        real = store.referral_ids

        def counting(*, after: uuid.UUID | None = None, limit: int = 500) -> list[uuid.UUID]:
            seen.append(limit)
            return real(after=after, limit=limit)

        store.referral_ids = counting  # type: ignore[method-assign]
        assert list(verify_all(store, page=1)) == []
    finally:
        store.close()
    assert seen == [1, 1, 1]  # two referrals, one per page, then an empty page


def test_a_rotated_key_still_verifies_old_seals_and_reseals_on_write(
    tmp_path: Path, clock: Any, actors: Any, make_referral: Any
) -> None:
    old = Keyring({"old": b"o" * 32}, current="old")
    lab = _make_lab(tmp_path / "rot.db", old, clock, actors, make_referral)
    rotated = Keyring({"old": b"o" * 32, "new": b"n" * 32}, current="new")
    with ReferralDesk(store=SQLiteStore(lab.db, keyring=rotated), clock=clock) as desk:
        desk.verify(lab.a)  # sealed with "old", which the ring still has
        desk.fire(lab.b, "clear", actor=actors.scheduler)
        desk.verify(lab.b)
    assert lab.sql("SELECT seal_key FROM referrals WHERE id = ?", (str(lab.b),)) == [("new",)]
    retired = Keyring({"new": b"n" * 32}, current="new")
    with pytest.raises(HistoryTamperedError, match="key not in the keyring"):
        verify_referral(SQLiteStore(lab.db), lab.a, keyring=retired)


def test_a_wrong_key_fails_every_seal(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("wrong", KEYRING)
    impostor = Keyring({"2026-a": b"x" * 32}, current="2026-a")
    with pytest.raises(HistoryTamperedError, match="does not match its seal"):
        verify_referral(SQLiteStore(lab.db), lab.a, keyring=impostor)


def test_keyring_refuses_short_keys_and_never_shows_them() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Keyring({"k": b"short"}, current="k")
    with pytest.raises(ValueError, match="current key id"):
        Keyring({"k": b"k" * 32}, current="other")
    assert "kkkk" not in repr(KEYRING)


def test_memory_store_seals_and_detects_a_row_edit(
    clock: Any, actors: Any, make_referral: Any
) -> None:
    store = MemoryStore(keyring=KEYRING)
    with ReferralDesk(store=store, clock=clock) as desk:
        rid = desk.create(make_referral(), actor=actors.referrer).id
        desk.fire(rid, "accept", actor=actors.clinician)
        desk.verify(rid)
        referral = desk.get(rid)
        store._referrals[rid] = referral.model_copy(update={"next_action_at": clock.now()})
        with pytest.raises(HistoryTamperedError, match="does not match its seal"):
            desk.verify(rid)
        assert [r.referral_id for r in desk.verify_all()] == [rid]


def test_desk_verify_all_delegates(lab_factory: Callable[..., Lab], clock: Any) -> None:
    lab = lab_factory("desk", None)
    row_birth_date(lab)
    with ReferralDesk(store=SQLiteStore(lab.db), clock=clock) as desk:
        assert [r.referral_id for r in desk.verify_all()] == [lab.a]


# -- PostgreSQL: the body is jsonb (re-encoded), events are text ----------------------------------


@pytest.fixture
def pg_schema() -> Iterator[str]:
    server_or_skip()
    yield from throwaway_schema()


def test_postgres_detects_row_and_event_tampering_with_and_without_a_key(
    pg_schema: str, clock: Any, actors: Any, make_referral: Any
) -> None:
    import psycopg

    from referralkit.adapters.postgres import PostgresStore

    with ReferralDesk(
        store=PostgresStore(DSN, schema=pg_schema, keyring=KEYRING), clock=clock
    ) as desk:
        rid = desk.create(make_referral(), actor=actors.referrer).id
        desk.fire(rid, "accept", actor=actors.clinician)
        desk.withdraw_consent(rid, Channel.SMS, actor=actors.intake_staff)
        desk.verify(rid)
        assert list(desk.verify_all()) == []

    def run(statement: str) -> None:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {pg_schema}")
            conn.execute(statement, (rid,))  # type: ignore[arg-type]

    def detected(keyring: Keyring | None) -> bool:
        store = PostgresStore(DSN, schema=pg_schema)
        try:
            verify_referral(store, rid, keyring=keyring)
        except HistoryTamperedError:
            return True
        finally:
            store.close()
        return False

    assert not detected(None)
    assert not detected(KEYRING)
    run(  # the opt-out lifted in the row (jsonb edited in place)
        "UPDATE referralkit_referrals SET body = jsonb_set(body,"
        " '{patient,consent,opted_out_channels}', '[]') WHERE id = %s"
    )
    assert detected(None)
    assert detected(KEYRING)
    run(  # put the opt-out back: the same referral again
        "UPDATE referralkit_referrals SET body = jsonb_set(body,"
        " '{patient,consent,opted_out_channels}', '[\"sms\"]') WHERE id = %s"
    )
    assert not detected(None)
    assert not detected(KEYRING)  # the seal covers the decoded row, whatever jsonb's spacing
    run(  # a duplicate key in an event body, parsed fields unchanged
        'UPDATE referralkit_events SET body = \'{"kind":"hold",\' || substr(body, 2)'
        " WHERE referral_id = %s AND seq = 2"
    )
    assert detected(None)


# -- Histories written before events recorded their changes -----------------------------------


def test_a_history_from_before_recorded_changes_still_verifies_its_chain_and_status(
    tmp_path: Path, clock: Any, actors: Any, make_referral: Any
) -> None:
    # As 0.1 wrote it: a created event with no "set", so its hash is what it always was.
    referral = make_referral()
    legacy = make_event(
        referral_id=referral.id,
        seq=1,
        at=clock.now(),
        actor=actors.referrer,
        kind="created",
        from_state=None,
        to_state=referral.status,
        data={},
        prev_hash="",
    )
    assert '"set"' not in legacy.to_json()
    stored = referral.model_copy(
        update={
            "version": 1,
            "created_at": clock.now(),
            "updated_at": clock.now(),
            "history_hash": legacy.hash,
        }
    )
    db = tmp_path / "legacy.db"
    store = SQLiteStore(db)
    store.create(stored, legacy)
    with ReferralDesk(store=store, clock=clock) as desk:
        desk.fire(referral.id, "accept", actor=actors.clinician)
        desk.verify(referral.id)  # chain and status: nothing to replay field by field
    lab = Lab(db, referral.id, referral.id)
    row_patient_name(lab)
    assert not _detected(lab, None)  # documented: not replayable without recorded changes
    row_status(lab)
    assert _detected(lab, None)


class _PlainStore:
    """A store with only the Store protocol's methods (a third-party backend)."""

    def __init__(self) -> None:
        self._inner = MemoryStore()

    def __getattr__(self, name: str) -> Any:
        if name in {"stored_record", "referral_ids", "keyring"}:
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_a_store_without_raw_reads_is_verified_through_its_protocol(
    clock: Any, actors: Any, make_referral: Any
) -> None:
    plain = _PlainStore()
    with ReferralDesk(store=plain, clock=clock) as desk:  # type: ignore[arg-type]
        rid = desk.create(make_referral(), actor=actors.referrer).id
        desk.fire(rid, "accept", actor=actors.clinician)
        assert list(desk.verify_all()) == []
        stored = desk.get(rid)
        plain._inner._referrals[rid] = stored.model_copy(update={"specialty": "dermatology"})
        assert [(r.referral_id, r.reason) for r in desk.verify_all()] == [
            (rid, "row differs from its history in: specialty")
        ]
