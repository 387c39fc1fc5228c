"""The hash-chained event log: tamper detection on a real SQLite history, and unit tests."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from referralkit import (
    Actor,
    ActorKind,
    Appointment,
    Event,
    HistoryTamperedError,
    ManualClock,
    ReferralDesk,
    ReferralStatus,
    Role,
    SQLiteStore,
    verify_history,
)
from referralkit.events import GENESIS_HASH, make_event

STATES = [s.value for s in ReferralStatus]


@attrs.frozen
class History:
    """A referral with a real history in a SQLite file, and a way to edit the rows."""

    desk: ReferralDesk
    referral_id: uuid.UUID
    db: Path

    def rows(self) -> list[tuple[int, str]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(
                "SELECT seq, body FROM events WHERE referral_id = ? ORDER BY seq",
                (str(self.referral_id),),
            ).fetchall()

    def write(self, seq: int, body: str) -> None:
        conn = sqlite3.connect(self.db)
        try:
            with conn:
                conn.execute(
                    "UPDATE events SET body = ? WHERE referral_id = ? AND seq = ?",
                    (body, str(self.referral_id), seq),
                )
        finally:
            conn.close()

    def delete(self, seq: int) -> None:
        self._execute(
            "DELETE FROM events WHERE referral_id = ? AND seq = ?", (str(self.referral_id), seq)
        )

    def insert(self, seq: int, body: str) -> None:
        self._execute(
            "INSERT INTO events (referral_id, seq, body) VALUES (?, ?, ?)",
            (str(self.referral_id), seq, body),
        )

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        conn = sqlite3.connect(self.db)
        try:
            with conn:
                conn.execute(sql, params)
        finally:
            conn.close()

    def is_detected(self) -> bool:
        try:
            self.desk.verify(self.referral_id)
        except HistoryTamperedError:
            return True
        return False


@pytest.fixture
def history(
    tmp_path: Path, clock: ManualClock, actors: Any, make_referral: Any
) -> Iterator[History]:
    """A referral taken through a long, varied history on SQLite (12 events)."""
    db = tmp_path / "events.db"
    with ReferralDesk(store=SQLiteStore(db), clock=clock) as desk:
        referral = desk.create(make_referral(), actor=actors.referrer)
        rid = referral.id

        def book(days: int) -> dict[str, Any]:
            start = clock.now() + timedelta(days=days)
            return {"appointment": Appointment(start=start, location="Suite 200")}

        steps: list[tuple[str, Actor, Any]] = [
            ("accept", actors.clinician, {"note": "fits"}),
            ("require_auth", actors.scheduler, None),
            (
                "authorize",
                actors.scheduler,
                {
                    "number": "A-1",
                    "valid_from": "2026-03-01",
                    "valid_to": "2026-06-01",
                    "authorized_visits": 2,
                },
            ),
            ("schedule", actors.intake_ai, book(7)),
            ("no_show", actors.system, {"reason": "transportation"}),
            ("schedule", actors.intake_ai, book(5)),
            ("hold", actors.referrer, {"reason": "travelling"}),
            ("resume", actors.referrer, None),
            ("complete_visit", actors.system, None),
        ]
        for trigger, actor, data in steps:
            clock.advance(hours=5)
            desk.fire(rid, trigger, actor=actor, data=data)  # type: ignore[arg-type]
        clock.advance(hours=1)
        desk.amend(
            rid,
            "interaction_logged",
            actor=actors.intake_staff,
            update={"flags": ("called",)},
            data={"channel": "voice", "attempt": 1, "answered": True, "tags": ["a", None]},
        )
        clock.advance(days=1)
        desk.fire(rid, "close_loop", actor=actors.clinician, data={"report_reference": "Doc/1"})
        desk.verify(rid)
        yield History(desk, rid, db)


# -- Mutations: each changes the event's meaning while keeping the row decodable ----------------


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        if path and not node:
            yield path, node
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        if not node:
            yield path, node
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def _other_state(value: str | None) -> str:
    return next(s for s in STATES if s != value)


def _flip_hex(value: str) -> str:
    if not value:
        return "0" * 64
    return ("1" if value[0] != "1" else "2") + value[1:]


def _changed(path: tuple[Any, ...], value: Any) -> Any:
    """Return a different but well-formed value for the field at *path*."""
    match path:
        case ("from",) | ("to",):
            return _other_state(value)
        case ("actor", "kind"):
            return "integration" if value != "integration" else "human"
        case ("actor", "role"):
            return "scheduler" if value != "scheduler" else "system"
        case ("referral_id",):
            return str(uuid.uuid4())
        case ("at",):
            return (datetime.fromisoformat(value) + timedelta(seconds=1)).isoformat()
        case ("prev",) | ("hash",):
            return _flip_hex(value)
        case ("kind",):
            return "cancel" if value != "cancel" else "hold"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return "x"
    if isinstance(value, dict):
        return {"added": 1}
    if isinstance(value, list):
        return ["added"]
    raise AssertionError(f"no mutation for {path}")  # pragma: no cover - all JSON types above


def _set(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = body
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def test_history_is_long_enough_to_be_interesting(history: History) -> None:
    kinds = [json.loads(body)["kind"] for _, body in history.rows()]
    assert len(kinds) == 12
    assert kinds[0] == "created"
    assert "interaction_logged" in kinds


def test_any_single_field_edit_is_detected(history: History) -> None:
    missed = []
    edits = 0
    for seq, body in history.rows():
        for path, value in _leaves(json.loads(body)):
            tampered = json.loads(body)
            _set(tampered, path, _changed(path, value))
            history.write(seq, json.dumps(tampered))
            edits += 1
            if not history.is_detected():
                missed.append((seq, path))
            history.write(seq, body)
    assert edits > 12 * 12  # every field of every event was edited
    assert missed == []
    history.desk.verify(history.referral_id)  # restored: verifies again


def test_removing_or_adding_a_data_key_is_detected(history: History) -> None:
    missed = []
    for seq, body in history.rows():
        original = json.loads(body)
        variants = [{**original, "data": {**original["data"], "extra": "x"}}]
        for key in original["data"]:
            data = {k: v for k, v in original["data"].items() if k != key}
            variants.append({**original, "data": data})
        for variant in variants:
            history.write(seq, json.dumps(variant))
            if not history.is_detected():
                missed.append((seq, sorted(variant["data"])))
            history.write(seq, body)
    assert missed == []


def test_deleting_any_event_is_detected(history: History) -> None:
    missed = []
    for seq, body in history.rows():
        history.delete(seq)
        if not history.is_detected():
            missed.append(seq)
        history.insert(seq, body)
    assert missed == []


def test_deleting_the_last_event_is_detected(history: History) -> None:
    last_seq, _ = history.rows()[-1]
    history.delete(last_seq)
    with pytest.raises(HistoryTamperedError, match="11 events for version 12"):
        history.desk.verify(history.referral_id)


def test_swapping_any_two_events_is_detected(history: History) -> None:
    rows = history.rows()
    missed = []
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            (seq_i, body_i), (seq_j, body_j) = rows[i], rows[j]
            history.write(seq_i, body_j)
            history.write(seq_j, body_i)
            if not history.is_detected():
                missed.append((seq_i, seq_j))
            history.write(seq_i, body_i)
            history.write(seq_j, body_j)
    assert missed == []


def test_rewriting_an_event_with_a_recomputed_hash_is_detected(history: History) -> None:
    # An attacker who recomputes the edited event's own hash still breaks the next link.
    seq, body = history.rows()[3]
    edited = Event.from_json(body)
    forged = attrs.evolve(edited, data={"note": "forged"})
    forged = attrs.evolve(forged, hash=forged.compute_hash())
    history.write(seq, forged.to_json())
    with pytest.raises(HistoryTamperedError, match="chain link broken"):
        history.desk.verify(history.referral_id)


def test_untouched_history_verifies(history: History) -> None:
    history.desk.verify(history.referral_id)


# -- verify_history ----------------------------------------------------------------------------

ACTOR = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
AT = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def chain(length: int, referral_id: uuid.UUID | None = None) -> list[Event]:
    rid = referral_id or uuid.uuid4()
    events: list[Event] = []
    prev = GENESIS_HASH
    for seq in range(1, length + 1):
        event = make_event(
            referral_id=rid,
            seq=seq,
            at=AT + timedelta(minutes=seq),
            actor=ACTOR,
            kind="created" if seq == 1 else "hold",
            from_state=None if seq == 1 else ReferralStatus.RECEIVED,
            to_state=ReferralStatus.RECEIVED,
            data={"seq": seq, "nested": {"list": [1, "two", None]}},
            prev_hash=prev,
        )
        events.append(event)
        prev = event.hash
    return events


def test_intact_chain_verifies() -> None:
    events = chain(4)
    verify_history(events, expected_count=4, expected_head=events[-1].hash)


def test_empty_history_verifies_when_nothing_is_expected() -> None:
    verify_history([], expected_count=0)


def test_missing_trailing_event_fails_expected_count() -> None:
    events = chain(4)
    with pytest.raises(HistoryTamperedError, match="3 events for version 4") as info:
        verify_history(events[:3], expected_count=4)
    assert info.value.seq == 3


def test_replaced_head_fails_expected_head() -> None:
    events = chain(3)
    with pytest.raises(HistoryTamperedError, match="last event is not the recorded head"):
        verify_history(events, expected_head=chain(3)[-1].hash)


def test_edited_event_is_named_by_sequence_number() -> None:
    events = chain(4)
    events[2] = attrs.evolve(events[2], kind="cancel")
    with pytest.raises(HistoryTamperedError, match="event 3: content does not match") as info:
        verify_history(events)
    assert (info.value.seq, info.value.referral_id) == (3, events[0].referral_id)


def test_event_of_another_referral_is_refused() -> None:
    events = chain(3)
    events[1] = chain(2)[1]
    with pytest.raises(HistoryTamperedError, match="belongs to another referral"):
        verify_history(events)


def test_reordered_events_are_refused() -> None:
    events = chain(3)
    events[1], events[2] = events[2], events[1]
    with pytest.raises(HistoryTamperedError, match="out of order"):
        verify_history(events)


def test_first_event_must_start_the_chain() -> None:
    events = chain(2)
    events[0] = attrs.evolve(events[0], prev_hash="0" * 64)
    with pytest.raises(HistoryTamperedError, match="chain link broken"):
        verify_history(events)


def test_made_event_hash_matches_its_content() -> None:
    for event in chain(3):
        assert event.compute_hash() == event.hash


# -- JSON round trip --------------------------------------------------------------------------


def test_event_json_round_trip_is_exact() -> None:
    for event in chain(3):
        text = event.to_json()
        loaded = Event.from_json(text)
        assert loaded == event
        assert loaded.to_json() == text
        assert loaded.compute_hash() == event.hash


def test_event_json_round_trip_keeps_non_ascii_text() -> None:
    event = make_event(
        referral_id=uuid.uuid4(),
        seq=1,
        at=AT,
        actor=Actor(kind=ActorKind.HUMAN, id="enfermera-núñez", role=Role.INTAKE),
        kind="created",
        from_state=None,
        to_state=ReferralStatus.INTAKE,
        data={"note": "llamó — sin respuesta"},
        prev_hash=GENESIS_HASH,
    )
    loaded = Event.from_json(event.to_json().encode())
    assert loaded == event
    verify_history([loaded])


def test_event_repr_leaves_out_data() -> None:
    event = chain(1)[0]
    event = attrs.evolve(event, data={"note": "secret-note-text"})
    assert "secret-note-text" not in repr(event)
    assert "secret-note-text" not in str(event)
