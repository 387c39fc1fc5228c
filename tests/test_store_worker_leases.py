"""One-referral leases and backlog figures on every :class:`~referralkit.store.WorkerStore`.

What a job engine relies on: a job leases exactly the referral it names, a duplicate job gets
nothing, a dead worker's lease shows up as abandoned once it expires.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from referralkit import (
    Actor,
    ActorKind,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralStatus,
    Role,
    created,
)
from referralkit.store import Backlog, WorkerStore
from tests.support.pg import STORE_FACTORIES, open_store_for

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
REFERRER = Actor(kind=ActorKind.HUMAN, id="pcp-desk", role=Role.REFERRER)


@pytest.fixture(params=list(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WorkerStore]:
    for opened in open_store_for(request.param, tmp_path):
        assert isinstance(opened, WorkerStore)
        yield opened


def _add(store: WorkerStore, next_action_at: datetime | None) -> Referral:
    referral = Referral(
        status=ReferralStatus.RECEIVED,
        patient=Patient(
            given_name="Ada",
            family_name="Lovelace",
            birth_date=date(1980, 1, 2),
            phones=(PhoneContact(number="+15555550123"),),
        ),
        referring_practice=Practice(name="Maple Street Family Medicine"),
        specialty="cardiology",
        reason=ReasonForReferral(text="chest pain"),
        next_action_at=next_action_at,
    )
    change = created(referral, REFERRER, NOW)
    store.create(change.referral, change.event)
    return change.referral


def test_claim_leases_the_named_referral_only(store: WorkerStore) -> None:
    first = _add(store, NOW - timedelta(hours=1))
    second = _add(store, NOW - timedelta(hours=2))
    claimed = store.claim(first.id, NOW, worker="a", lease=LEASE)
    assert claimed is not None
    assert claimed.id == first.id
    # The other due referral is still free for anyone.
    assert [r.id for r in store.claim_due(NOW, worker="b", lease=LEASE)] == [second.id]


def test_a_second_claim_on_a_leased_referral_gets_nothing(store: WorkerStore) -> None:
    referral = _add(store, NOW)
    assert store.claim(referral.id, NOW, worker="a", lease=LEASE) is not None
    assert store.claim(referral.id, NOW, worker="b", lease=LEASE) is None
    assert store.claim(referral.id, NOW, worker="a", lease=LEASE) is None


def test_claim_refuses_a_referral_not_yet_due_or_unknown(store: WorkerStore) -> None:
    later = _add(store, NOW + timedelta(minutes=1))
    never = _add(store, None)
    assert store.claim(later.id, NOW, worker="a", lease=LEASE) is None
    assert store.claim(never.id, NOW, worker="a", lease=LEASE) is None
    assert store.claim(UUID(int=1), NOW, worker="a", lease=LEASE) is None


def test_an_expired_lease_is_abandoned_until_someone_claims_it(store: WorkerStore) -> None:
    referral = _add(store, NOW)
    assert store.claim(referral.id, NOW, worker="dead", lease=LEASE) is not None
    assert store.abandoned(NOW + LEASE / 2) == []
    after = NOW + LEASE
    assert store.abandoned(after) == [referral.id]
    assert store.claim(referral.id, after, worker="b", lease=LEASE) is not None
    assert store.abandoned(after) == []


def test_a_released_lease_is_not_abandoned(store: WorkerStore) -> None:
    referral = _add(store, NOW)
    store.claim(referral.id, NOW, worker="a", lease=LEASE)
    assert store.release(referral.id, worker="a")
    assert store.abandoned(NOW + 2 * LEASE) == []


def test_backlog_counts_due_work_and_leases(store: WorkerStore) -> None:
    assert store.backlog(NOW) == Backlog(due=0, oldest_due=None, leases_live=0, leases_expired=0)
    oldest = _add(store, NOW - timedelta(hours=3))
    working = _add(store, NOW - timedelta(hours=1))
    _add(store, NOW + timedelta(hours=1))
    _add(store, None)
    store.claim(oldest.id, NOW - timedelta(hours=1), worker="dead", lease=LEASE)
    assert store.claim(working.id, NOW, worker="a", lease=LEASE) is not None
    backlog = store.backlog(NOW)
    assert backlog == Backlog(
        due=2, oldest_due=NOW - timedelta(hours=3), leases_live=1, leases_expired=1
    )
