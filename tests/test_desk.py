"""The ReferralDesk facade: opening stores, creating, firing, amending, reading."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from referralkit import (
    ConflictError,
    DuplicateReferralError,
    HumanTask,
    Interaction,
    InvalidTransitionError,
    ManualClock,
    MemoryStore,
    ReferralDesk,
    ReferralNotFoundError,
    ReferralStatus,
    SQLiteStore,
    StoreError,
    TransitionBlockedError,
    open_store,
)
from referralkit.errors import AmendmentError
from referralkit.lifecycle import created
from referralkit.model import Actor, ActorKind, Channel, Direction, Referral, Role

SYSTEM_ACTOR = Actor(kind=ActorKind.SYSTEM, id="test", role=Role.SYSTEM)

# -- Opening ------------------------------------------------------------------------------------


def test_open_relative_sqlite_url_creates_file_in_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with ReferralDesk.open("sqlite:///data/referrals.db") as desk:
        assert isinstance(desk.store, SQLiteStore)
    assert (tmp_path / "data" / "referrals.db").is_file()


def test_open_absolute_sqlite_url_creates_file_there(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "referrals.db"
    with ReferralDesk.open(f"sqlite:///{target}") as desk:
        assert isinstance(desk.store, SQLiteStore)
    assert target.is_file()


def test_open_sqlite_memory_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with ReferralDesk.open("sqlite://:memory:") as desk:
        assert isinstance(desk.store, SQLiteStore)
    assert list(tmp_path.iterdir()) == []


def test_open_memory_url() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)


@pytest.mark.parametrize(
    "url", ["mysql://db/referrals", "mongodb://localhost", "referrals.db", "http://x"]
)
def test_open_unsupported_scheme_raises_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported store URL scheme"):
        open_store(url)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://relative.db"])
def test_open_malformed_sqlite_url_raises_value_error(url: str) -> None:
    with pytest.raises(ValueError, match=r"sqlite:///relative\.db"):
        open_store(url)


def test_open_uses_the_given_clock(clock: ManualClock, actors: Any, make_referral: Any) -> None:
    with ReferralDesk.open("memory://", clock=clock) as desk:
        stored = desk.create(make_referral(), actor=actors.referrer)
    assert stored.created_at == clock.now()


# -- Create -------------------------------------------------------------------------------------


def test_create_returns_version_one_stamped_by_the_clock(
    desk: ReferralDesk, clock: ManualClock, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    assert stored.version == 1
    assert stored.created_at == stored.updated_at == clock.now()
    assert desk.get(stored.id) == stored


def test_create_records_a_created_event(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    [event] = desk.history(stored.id)
    assert (event.kind, event.from_state, event.to_state) == (
        "created",
        None,
        ReferralStatus.RECEIVED,
    )
    assert event.actor == actors.referrer


def test_create_in_received_requires_complete_intake(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    incomplete = make_referral(specialty=None)
    with pytest.raises(TransitionBlockedError, match="missing specialty"):
        desk.create(incomplete, actor=actors.referrer)


def test_refused_create_stores_nothing(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    incomplete = make_referral(specialty=None)
    with pytest.raises(TransitionBlockedError):
        desk.create(incomplete, actor=actors.referrer)
    with pytest.raises(ReferralNotFoundError):
        desk.get(incomplete.id)


def test_create_incomplete_referral_in_intake(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    draft = make_referral(status=ReferralStatus.INTAKE, patient=None, specialty=None)
    stored = desk.create(draft, actor=actors.intake_ai)
    assert stored.status is ReferralStatus.INTAKE
    assert stored.missing_fields() == ("patient", "specialty")


def test_create_in_a_later_state_is_refused(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    with pytest.raises(InvalidTransitionError, match="starts in intake or received"):
        desk.create(make_referral(status=ReferralStatus.SCHEDULED), actor=actors.referrer)


def test_create_twice_with_one_id_is_refused(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    referral = make_referral()
    desk.create(referral, actor=actors.referrer)
    with pytest.raises(DuplicateReferralError, match=str(referral.id)):
        desk.create(referral, actor=actors.referrer)


# -- Fire ---------------------------------------------------------------------------------------


def test_fire_commits_the_change_and_its_event(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    accepted = desk.fire(stored.id, "accept", actor=actors.clinician)
    assert accepted.status is ReferralStatus.ACCEPTED
    assert desk.get(stored.id) == accepted
    assert [e.kind for e in desk.history(stored.id)] == ["created", "accept"]


def test_fire_with_current_expected_version_succeeds(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    accepted = desk.fire(stored.id, "accept", actor=actors.clinician, expected_version=1)
    assert accepted.version == 2


def test_fire_with_stale_expected_version_raises_conflict(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    desk.fire(stored.id, "accept", actor=actors.clinician)
    with pytest.raises(ConflictError, match="expected version 1, store has 2"):
        desk.fire(
            stored.id,
            "decline",
            actor=actors.clinician,
            data={"reason": "no_capacity"},
            expected_version=1,
        )


def test_fire_with_stale_expected_version_writes_nothing(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    accepted = desk.fire(stored.id, "accept", actor=actors.clinician)
    with pytest.raises(ConflictError):
        desk.fire(
            stored.id, "hold", actor=actors.clinician, data={"reason": "x"}, expected_version=1
        )
    assert desk.get(stored.id) == accepted
    assert len(desk.history(stored.id)) == 2


def test_refused_trigger_writes_nothing(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    with pytest.raises(InvalidTransitionError):
        desk.fire(stored.id, "close_loop", actor=actors.clinician, data={"report_reference": "x"})
    assert desk.get(stored.id) == stored
    assert len(desk.history(stored.id)) == 1


def test_fire_stamps_event_and_referral_with_clock_time(
    desk: ReferralDesk, clock: ManualClock, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    later = clock.advance(hours=3)
    accepted = desk.fire(stored.id, "accept", actor=actors.clinician)
    assert accepted.updated_at == later
    assert accepted.created_at == stored.created_at
    assert desk.history(stored.id)[-1].at == later


def test_allowed_triggers_through_the_desk(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    assert set(desk.allowed_triggers(stored.id, actors.referrer)) == {
        "hold",
        "cancel",
        "mark_error",
    }


# -- Amend --------------------------------------------------------------------------------------


def interaction(clock: ManualClock) -> Interaction:
    return Interaction(
        at=clock.now(), channel=Channel.VOICE, direction=Direction.OUTBOUND, outcome="no_answer"
    )


def test_amend_records_a_change_that_is_not_a_transition(
    desk: ReferralDesk, clock: ManualClock, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    call = interaction(clock)
    amended = desk.amend(
        stored.id,
        "interaction_logged",
        actor=actors.intake_ai,
        update={"interactions": (call,)},
        data={"channel": "voice"},
    )
    assert amended.interactions == (call,)
    assert (amended.status, amended.version) == (stored.status, 2)
    event = desk.history(stored.id)[-1]
    assert (event.kind, event.from_state, event.to_state) == (
        "interaction_logged",
        ReferralStatus.RECEIVED,
        ReferralStatus.RECEIVED,
    )
    assert event.data == {"channel": "voice"}
    desk.verify(stored.id)


def test_amend_with_a_function_sees_the_current_referral(
    desk: ReferralDesk, clock: ManualClock, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    task = HumanTask(
        queue="auth",
        title="Call payer",
        reason="authorization pended",
        created_at=clock.now(),
        due_at=clock.now() + timedelta(hours=4),
    )
    desk.amend(stored.id, "flagged", actor=actors.system, update={"flags": ("vip",)})
    amended = desk.amend(
        stored.id,
        "task_opened",
        actor=actors.system,
        update=lambda current: {"tasks": (*current.tasks, task), "flags": (*current.flags, "t")},
    )
    assert amended.flags == ("vip", "t")
    assert amended.tasks == (task,)


@pytest.mark.parametrize(
    "field", ["id", "status", "version", "history_hash", "created_at", "updated_at", "hold_from"]
)
def test_amend_refuses_protected_fields(
    desk: ReferralDesk, actors: Any, make_referral: Any, field: str
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    value = getattr(stored, field)
    with pytest.raises(ValueError, match="change only through lifecycle triggers"):
        desk.amend(stored.id, "sneaky", actor=actors.system, update={field: value})
    assert desk.get(stored.id) == stored


@pytest.mark.parametrize("kind", ["accept", "created", ""])
def test_amend_refuses_trigger_names_as_kind(
    desk: ReferralDesk, actors: Any, make_referral: Any, kind: str
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    with pytest.raises(ValueError, match="must not be empty or a lifecycle trigger"):
        desk.amend(stored.id, kind, actor=actors.system, update={"flags": ("x",)})


def test_amend_with_invalid_value_writes_nothing(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    with pytest.raises(AmendmentError, match="specialty: string_type") as info:
        desk.amend(stored.id, "respecialised", actor=actors.system, update={"specialty": 42})
    assert info.value.errors() == [
        {"loc": ("specialty",), "type": "string_type", "msg": "Input should be a valid string"}
    ]
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert desk.get(stored.id) == stored
    assert len(desk.history(stored.id)) == 1


def test_amend_with_stale_expected_version_raises_conflict(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(), actor=actors.referrer)
    desk.amend(stored.id, "flagged", actor=actors.system, update={"flags": ("a",)})
    with pytest.raises(ConflictError):
        desk.amend(
            stored.id, "flagged", actor=actors.system, update={"flags": ("b",)}, expected_version=1
        )
    assert desk.get(stored.id).flags == ("a",)


def test_amend_of_unknown_referral_is_not_found(desk: ReferralDesk, actors: Any) -> None:
    with pytest.raises(ReferralNotFoundError):
        desk.amend(uuid.uuid4(), "flagged", actor=actors.system, update={"flags": ("a",)})


# -- History, verify, list ----------------------------------------------------------------------


def test_history_of_unknown_id_is_not_found(desk: ReferralDesk) -> None:
    missing = uuid.uuid4()
    with pytest.raises(ReferralNotFoundError, match=str(missing)):
        desk.history(missing)


def test_verify_of_unknown_id_is_not_found(desk: ReferralDesk) -> None:
    with pytest.raises(ReferralNotFoundError):
        desk.verify(uuid.uuid4())


def test_list_without_statuses_lists_everything(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    received = desk.create(make_referral(), actor=actors.referrer)
    draft = desk.create(make_referral(status=ReferralStatus.INTAKE), actor=actors.referrer)
    assert {r.id for r in desk.list()} == {received.id, draft.id}


def test_list_filters_by_status(desk: ReferralDesk, actors: Any, make_referral: Any) -> None:
    desk.create(make_referral(), actor=actors.referrer)
    draft = desk.create(make_referral(status=ReferralStatus.INTAKE), actor=actors.referrer)
    assert [r.id for r in desk.list(ReferralStatus.INTAKE)] == [draft.id]


def test_list_pages_with_limit_and_after(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    ids = sorted(
        (desk.create(make_referral(), actor=actors.referrer).id for _ in range(5)), key=str
    )
    first = desk.list(limit=2)
    second = desk.list(limit=2, after=first[-1].id)
    rest = desk.list(limit=2, after=second[-1].id)
    assert [r.id for r in (*first, *second, *rest)] == ids


def test_desk_closes_its_store_on_exit(tmp_path: Path) -> None:
    with ReferralDesk.open(f"sqlite:///{tmp_path / 'x.db'}") as desk:
        store = desk.store
    with pytest.raises(StoreError, match="the store is closed"):
        store.count_by_status()
    change = created(Referral(), SYSTEM_ACTOR, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(StoreError, match="the store is closed"):
        store.create(change.referral, change.event)


@pytest.mark.parametrize("field", ["hooks", "retrying", "backends"])
def test_backend_wiring_is_read_only_after_construction(field: str) -> None:
    import attrs

    desk = ReferralDesk(store=MemoryStore())
    with pytest.raises(attrs.exceptions.FrozenAttributeError):
        setattr(desk, field, getattr(desk, field))
