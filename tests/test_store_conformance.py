"""One conformance suite for every :class:`~referralkit.store.Store` implementation.

To add a backend (PostgreSQL, a vendor's), add an entry to ``STORE_FACTORIES``: a function of
``tmp_path`` returning a fresh, empty store. Every test here then runs against it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from referralkit import (
    Actor,
    ActorKind,
    Address,
    Appointment,
    ConflictError,
    Coverage,
    DuplicateReferralError,
    HumanTask,
    Interaction,
    Patient,
    PhoneContact,
    ReasonForReferral,
    Referral,
    ReferralNotFoundError,
    ReferralStatus,
    Role,
    Store,
    created,
    shared_lifecycle,
    verify_history,
)
from referralkit.lifecycle import Change
from referralkit.model import Channel, Direction
from tests.support.pg import STORE_FACTORIES, open_store_for

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
REFERRER = Actor(kind=ActorKind.HUMAN, id="pcp-desk", role=Role.REFERRER)


@pytest.fixture(params=list(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from open_store_for(request.param, tmp_path)


@pytest.fixture
def new(make_referral: Any) -> Callable[..., Change]:
    """Build the ``created`` change of a new complete referral (fields overridable)."""

    def build(**overrides: Any) -> Change:
        return created(make_referral(**overrides), REFERRER, NOW)

    return build


def advance(referral: Referral, trigger: str = "hold", **data: Any) -> Change:
    """Compute the next change of *referral* (a hold by default; legal from any open state)."""
    payload = data or ({"reason": "waiting"} if trigger == "hold" else None)
    return shared_lifecycle().fire(
        referral,
        trigger,  # type: ignore[arg-type]
        actor=CLINICIAN,
        now=NOW,
        data=payload,
    )


def test_store_satisfies_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


# -- create / get / events ----------------------------------------------------------------------


def test_created_referral_reads_back_equal(store: Store, new: Callable[..., Change]) -> None:
    change = new()
    store.create(change.referral, change.event)
    assert store.get(change.referral.id) == change.referral


def test_created_referral_has_its_created_event(store: Store, new: Callable[..., Change]) -> None:
    change = new()
    store.create(change.referral, change.event)
    assert store.events(change.referral.id) == [change.event]


def test_rich_referral_reads_back_equal(store: Store, new: Callable[..., Change]) -> None:
    patient = Patient(
        given_name="Ada",
        family_name="Lovelace",
        birth_date=date(1961, 12, 10),
        phones=(PhoneContact(number="+12175550101", time_zones=("America/Chicago",)),),
        email="ada@example.org",
        address=Address(line1="1 Demo Way", city="Springfield", state="IL", postal_code="62701"),
        time_zone="America/Chicago",
    )
    change = new(
        patient=patient,
        coverage=Coverage(payer_name="Prairie", member_id="PHP-1"),
        reason=ReasonForReferral(icd10_codes=("I48.91", "U09.9"), text="palpitations"),
        appointments=(Appointment(start=NOW + timedelta(days=3)),),
        interactions=(
            Interaction(at=NOW, channel=Channel.VOICE, direction=Direction.OUTBOUND, summary="ok"),
        ),
        tasks=(HumanTask(queue="q", title="t", reason="r", created_at=NOW, due_at=NOW),),
        next_action_at=NOW + timedelta(hours=1, microseconds=7),
        flags=("urgent-review",),
    )
    store.create(change.referral, change.event)
    assert store.get(change.referral.id) == change.referral


def test_get_unknown_id_raises_not_found(store: Store) -> None:
    missing = uuid.uuid4()
    with pytest.raises(ReferralNotFoundError, match=str(missing)) as info:
        store.get(missing)
    assert info.value.referral_id == missing


def test_not_found_is_also_a_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.get(uuid.uuid4())


def test_events_of_unknown_id_is_empty(store: Store) -> None:
    assert store.events(uuid.uuid4()) == []


def test_duplicate_id_is_refused(store: Store, new: Callable[..., Change]) -> None:
    first = new()
    store.create(first.referral, first.event)
    again = new(id=first.referral.id, specialty="dermatology")
    with pytest.raises(DuplicateReferralError, match=str(first.referral.id)):
        store.create(again.referral, again.event)


def test_duplicate_id_leaves_the_original_untouched(
    store: Store, new: Callable[..., Change]
) -> None:
    first = new()
    store.create(first.referral, first.event)
    again = new(id=first.referral.id, specialty="dermatology")
    with pytest.raises(DuplicateReferralError):
        store.create(again.referral, again.event)
    assert store.get(first.referral.id) == first.referral
    assert store.events(first.referral.id) == [first.event]


def test_create_refuses_an_event_of_another_referral(
    store: Store, new: Callable[..., Change]
) -> None:
    one, other = new(), new()
    with pytest.raises(ValueError, match="another referral"):
        store.create(one.referral, other.event)


# -- save ---------------------------------------------------------------------------------------


def test_save_replaces_referral_and_appends_event(
    store: Store, new: Callable[..., Change]
) -> None:
    first = new()
    store.create(first.referral, first.event)
    second = advance(first.referral, "accept")
    store.save(second.referral, second.event, expected_version=1)
    assert store.get(first.referral.id) == second.referral
    assert store.events(first.referral.id) == [first.event, second.event]


def test_saved_history_verifies(store: Store, new: Callable[..., Change]) -> None:
    change = new()
    store.create(change.referral, change.event)
    for trigger in ("accept", "clear", "hold"):
        before = change.referral.version
        change = advance(change.referral, trigger)
        store.save(change.referral, change.event, expected_version=before)
    verify_history(
        store.events(change.referral.id),
        expected_count=4,
        expected_head=store.get(change.referral.id).history_hash,
    )


def test_stale_save_raises_conflict(store: Store, new: Callable[..., Change]) -> None:
    first = new()
    store.create(first.referral, first.event)
    winner = advance(first.referral, "accept")
    loser = advance(first.referral, "decline", reason="no_capacity")
    store.save(winner.referral, winner.event, expected_version=1)
    with pytest.raises(ConflictError, match="expected version 1, store has 2") as info:
        store.save(loser.referral, loser.event, expected_version=1)
    assert (info.value.expected, info.value.actual) == (1, 2)


def test_conflict_writes_nothing(store: Store, new: Callable[..., Change]) -> None:
    first = new()
    store.create(first.referral, first.event)
    winner = advance(first.referral, "accept")
    loser = advance(first.referral, "decline", reason="no_capacity")
    store.save(winner.referral, winner.event, expected_version=1)
    with pytest.raises(ConflictError):
        store.save(loser.referral, loser.event, expected_version=1)
    assert store.get(first.referral.id) == winner.referral
    assert store.events(first.referral.id) == [first.event, winner.event]


def test_save_of_unknown_referral_raises_not_found(
    store: Store, new: Callable[..., Change]
) -> None:
    never_created = new()
    change = advance(never_created.referral, "accept")
    with pytest.raises(ReferralNotFoundError):
        store.save(change.referral, change.event, expected_version=1)


def test_save_must_raise_the_version_by_its_events(
    store: Store, new: Callable[..., Change]
) -> None:
    first = new()
    store.create(first.referral, first.event)
    change = advance(first.referral, "accept")
    with pytest.raises(ValueError, match="number of its events"):
        store.save(change.referral, change.event, expected_version=0)


def test_save_commits_several_events_together(store: Store, new: Callable[..., Change]) -> None:
    first = new()
    store.create(first.referral, first.event)
    accepted = advance(first.referral, "accept")
    held = advance(accepted.referral, "hold")
    store.save(held.referral, [accepted.event, held.event], expected_version=1)
    assert store.get(first.referral.id).version == 3
    assert [e.seq for e in store.events(first.referral.id)] == [1, 2, 3]


def test_save_refuses_events_that_do_not_chain(store: Store, new: Callable[..., Change]) -> None:
    first = new()
    store.create(first.referral, first.event)
    accepted = advance(first.referral, "accept")
    held = advance(accepted.referral, "hold")
    with pytest.raises(ValueError, match="number of its events"):
        store.save(held.referral, [held.event], expected_version=1)
    with pytest.raises(ValueError, match=r"consecutive|chained"):
        store.save(held.referral, [held.event, accepted.event], expected_version=1)
    assert store.get(first.referral.id).version == 1
    assert len(store.events(first.referral.id)) == 1


def test_create_takes_the_events_of_one_unit_of_work(
    store: Store, new: Callable[..., Change]
) -> None:
    first = new()
    accepted = advance(first.referral, "accept")
    store.create(accepted.referral, [first.event, accepted.event])
    assert store.get(first.referral.id).version == 2
    assert [e.kind for e in store.events(first.referral.id)] == ["created", "accept"]


def test_save_refuses_a_mismatched_event(store: Store, new: Callable[..., Change]) -> None:
    first = new()
    store.create(first.referral, first.event)
    accepted = advance(first.referral, "accept")
    held = advance(first.referral, "hold")
    with pytest.raises(ValueError, match="not the latest change"):
        store.save(accepted.referral, held.event, expected_version=1)


# -- create_many --------------------------------------------------------------------------------


def test_create_many_inserts_all_and_counts(store: Store, new: Callable[..., Change]) -> None:
    changes = [new() for _ in range(7)]
    count = store.create_many(((c.referral, c.event) for c in changes), batch_size=3)
    assert count == 7
    for change in changes:
        assert store.get(change.referral.id) == change.referral
        assert store.events(change.referral.id) == [change.event]


def test_create_many_of_nothing_inserts_nothing(store: Store) -> None:
    assert store.create_many([]) == 0
    assert store.count_by_status() == {}


def test_create_many_with_existing_id_writes_none_of_that_batch(
    store: Store, new: Callable[..., Change]
) -> None:
    existing = new()
    store.create(existing.referral, existing.event)
    batch = [new(), new(id=existing.referral.id), new()]
    with pytest.raises(DuplicateReferralError, match=str(existing.referral.id)):
        store.create_many([(c.referral, c.event) for c in batch])
    for change in (batch[0], batch[2]):
        with pytest.raises(ReferralNotFoundError):
            store.get(change.referral.id)
    assert store.get(existing.referral.id) == existing.referral


def test_create_many_with_duplicate_inside_the_batch_is_refused(
    store: Store, new: Callable[..., Change]
) -> None:
    first = new()
    twin = new(id=first.referral.id)
    with pytest.raises(DuplicateReferralError):
        store.create_many([(first.referral, first.event), (twin.referral, twin.event)])
    assert store.count_by_status() == {}


def test_create_many_keeps_batches_written_before_a_duplicate(
    store: Store, new: Callable[..., Change]
) -> None:
    good = [new(), new()]
    dup = new(id=good[0].referral.id)
    items = [(c.referral, c.event) for c in (*good, dup)]
    with pytest.raises(DuplicateReferralError):
        store.create_many(items, batch_size=2)
    assert [store.get(c.referral.id) for c in good] == [c.referral for c in good]


# -- list_by_status ------------------------------------------------------------------------------


def seed_statuses(
    store: Store, new: Callable[..., Change]
) -> dict[ReferralStatus, list[uuid.UUID]]:
    ids: dict[ReferralStatus, list[uuid.UUID]] = {
        ReferralStatus.INTAKE: [],
        ReferralStatus.RECEIVED: [],
    }
    for index in range(11):
        status = ReferralStatus.INTAKE if index % 3 == 0 else ReferralStatus.RECEIVED
        change = new(status=status)
        store.create(change.referral, change.event)
        ids[status].append(change.referral.id)
    return ids


def test_list_by_status_filters_and_orders_by_id(store: Store, new: Callable[..., Change]) -> None:
    ids = seed_statuses(store, new)
    listed = store.list_by_status([ReferralStatus.RECEIVED])
    assert [r.id for r in listed] == sorted(ids[ReferralStatus.RECEIVED], key=str)
    assert {r.status for r in listed} == {ReferralStatus.RECEIVED}


def test_list_by_status_accepts_several_statuses(store: Store, new: Callable[..., Change]) -> None:
    ids = seed_statuses(store, new)
    listed = store.list_by_status([ReferralStatus.RECEIVED, ReferralStatus.INTAKE])
    assert len(listed) == 11
    everything = [*ids[ReferralStatus.INTAKE], *ids[ReferralStatus.RECEIVED]]
    assert [r.id for r in listed] == sorted(everything, key=str)


def test_list_by_status_pages_by_keyset(store: Store, new: Callable[..., Change]) -> None:
    ids = seed_statuses(store, new)
    seen: list[uuid.UUID] = []
    after = None
    while True:
        page = store.list_by_status([ReferralStatus.RECEIVED], limit=3, after=after)
        if not page:
            break
        assert len(page) <= 3
        seen.extend(r.id for r in page)
        after = page[-1].id
    assert seen == sorted(ids[ReferralStatus.RECEIVED], key=str)


def test_list_by_no_status_is_empty(store: Store, new: Callable[..., Change]) -> None:
    seed_statuses(store, new)
    assert store.list_by_status([]) == []


def test_list_by_status_sees_saved_status(store: Store, new: Callable[..., Change]) -> None:
    first = new()
    store.create(first.referral, first.event)
    accepted = advance(first.referral, "accept")
    store.save(accepted.referral, accepted.event, expected_version=1)
    assert store.list_by_status([ReferralStatus.RECEIVED]) == []
    assert store.list_by_status([ReferralStatus.ACCEPTED]) == [accepted.referral]


# -- due -----------------------------------------------------------------------------------------


def seed_due(store: Store, new: Callable[..., Change]) -> list[Referral]:
    """Referrals due at various times (with ties), one not yet due, one with no next action."""
    offsets = [timedelta(hours=-5), timedelta(0), timedelta(hours=-1), timedelta(hours=-5),
               timedelta(minutes=-30), timedelta(hours=-1), timedelta(hours=-1)]  # fmt: skip
    due = []
    for offset in offsets:
        change = new(next_action_at=NOW + offset)
        store.create(change.referral, change.event)
        due.append(change.referral)
    for later in (new(next_action_at=NOW + timedelta(microseconds=1)), new()):
        store.create(later.referral, later.event)
    return sorted(due, key=lambda r: (r.next_action_at, str(r.id)))


def test_due_returns_only_referrals_due_by_now(store: Store, new: Callable[..., Change]) -> None:
    expected = seed_due(store, new)
    assert {r.id for r in store.due(NOW)} == {r.id for r in expected}


def test_due_orders_by_next_action_then_id(store: Store, new: Callable[..., Change]) -> None:
    expected = seed_due(store, new)
    assert [r.id for r in store.due(NOW)] == [r.id for r in expected]


def test_due_pages_by_keyset(store: Store, new: Callable[..., Change]) -> None:
    expected = seed_due(store, new)
    seen: list[uuid.UUID] = []
    after = None
    while True:
        page = store.due(NOW, limit=2, after=after)
        if not page:
            break
        assert len(page) <= 2
        seen.extend(r.id for r in page)
        last = page[-1]
        assert last.next_action_at is not None
        after = (last.next_action_at, last.id)
    assert seen == [r.id for r in expected]


def test_due_respects_limit(store: Store, new: Callable[..., Change]) -> None:
    expected = seed_due(store, new)
    assert [r.id for r in store.due(NOW, limit=3)] == [r.id for r in expected[:3]]


def test_due_compares_instants_not_wall_clock(store: Store, new: Callable[..., Change]) -> None:
    change = new(next_action_at=NOW)
    store.create(change.referral, change.event)
    chicago = NOW.astimezone(ZoneInfo("America/Chicago"))
    assert [r.id for r in store.due(chicago)] == [change.referral.id]


# -- count_by_status -----------------------------------------------------------------------------


def test_count_by_status_counts_and_omits_empty(store: Store, new: Callable[..., Change]) -> None:
    seed_statuses(store, new)
    assert store.count_by_status() == {ReferralStatus.INTAKE: 4, ReferralStatus.RECEIVED: 7}


def test_count_of_empty_store_is_empty(store: Store) -> None:
    assert store.count_by_status() == {}


# -- iter_events: the streaming read metrics and verify use --------------------------------------


def _history_at(store: Store, new: Callable[..., Change], start: datetime, hours: int) -> Referral:
    """Store a referral created at *start* with one hold/resume pair per following hour."""
    change = created(new().referral, REFERRER, start)
    store.create(change.referral, change.event)
    referral = change.referral
    for hour in range(1, hours + 1):
        trigger = "hold" if hour % 2 else "resume"
        nxt = shared_lifecycle().fire(
            referral,
            trigger,  # type: ignore[arg-type]
            actor=CLINICIAN,
            now=start + timedelta(hours=hour),
            data={"reason": "waiting"} if trigger == "hold" else None,
        )
        store.save(nxt.referral, nxt.event, expected_version=referral.version)
        referral = nxt.referral
    return referral


def test_iter_events_streams_every_event_grouped_by_referral_in_order(
    store: Store, new: Callable[..., Change]
) -> None:
    ids = [_history_at(store, new, NOW, 3).id for _ in range(4)]
    streamed = list(store.iter_events(batch_size=3))  # pages split referrals
    assert [(e.referral_id, e.seq) for e in streamed] == [
        (rid, seq) for rid in sorted(ids, key=str) for seq in range(1, 5)
    ]
    for rid in ids:
        assert [e for e in streamed if e.referral_id == rid] == store.events(rid)


def test_iter_events_keeps_only_the_half_open_window(
    store: Store, new: Callable[..., Change]
) -> None:
    referral = _history_at(store, new, NOW, 5)
    since, until = NOW + timedelta(hours=1), NOW + timedelta(hours=4)
    window = list(store.iter_events(since=since, until=until))
    assert [e.seq for e in window] == [2, 3, 4]  # at +1h, +2h, +3h; +4h is excluded
    assert all(e.referral_id == referral.id for e in window)


def test_iter_events_compares_instants_not_offsets(
    store: Store, new: Callable[..., Change]
) -> None:
    _history_at(store, new, NOW, 1)
    eastern = ZoneInfo("America/New_York")
    since = NOW.astimezone(eastern)  # the same instant written with another offset
    assert [e.seq for e in store.iter_events(since=since)] == [1, 2]
    assert list(store.iter_events(until=since)) == []


def test_iter_events_on_an_empty_store_yields_nothing(store: Store) -> None:
    assert list(store.iter_events()) == []
