"""The one event encoder: its bytes, and so every stored hash, never change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from referralkit.events import GENESIS_HASH, Event, encode_event, make_event, verify_history
from referralkit.model import Actor, ActorKind, ReferralStatus, Role

ACTOR = Actor(kind=ActorKind.HUMAN, id="u-7", role=Role.CLINICIAN, display_name='Dr. Zoë "Q" Ng')
# Hashes computed by the encoder as first released: a stored history must keep verifying.
GOLDEN_CREATED = "f66d7c70b5ad70c3d3ce6284bc7cf401ec368231d84efcdd5c36db33ae86100d"
GOLDEN_DECLINED = "851ea4f4de4e25891eea08ee9d8cee20b4481ff8b971d99401986081a3857f97"


def _golden_chain() -> list[Event]:
    first = make_event(
        referral_id=UUID(int=42),
        seq=1,
        at=datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
        actor=ACTOR,
        kind="created",
        from_state=None,
        to_state=ReferralStatus.RECEIVED,
        data={},
        prev_hash=GENESIS_HASH,
    )
    second = make_event(
        referral_id=UUID(int=42),
        seq=2,
        at=datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5))),
        actor=ACTOR,
        kind="decline",
        from_state=ReferralStatus.RECEIVED,
        to_state=ReferralStatus.DECLINED,
        data={
            "reason": "out_of_scope",
            "note": 'naïve \u2028 ✓ "quoted"\n',
            "n": [1, 2.5, None, True],
            "z": {"b": 1, "a": "x"},
        },
        prev_hash=first.hash,
    )
    return [first, second]


def test_event_hashes_match_the_golden_values() -> None:
    first, second = _golden_chain()
    assert (first.hash, second.hash) == (GOLDEN_CREATED, GOLDEN_DECLINED)


def test_a_stored_golden_history_still_verifies() -> None:
    stored = [Event.from_json(e.to_json()) for e in _golden_chain()]
    verify_history(stored, expected_count=2, expected_head=GOLDEN_DECLINED)
    assert [e.compute_hash() for e in stored] == [GOLDEN_CREATED, GOLDEN_DECLINED]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    referral_id=st.uuids(),
    seq=st.integers(min_value=1, max_value=10**9),
    at=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])),
    # A display name is model text: no NUL, no lone surrogates (the model refuses them).
    display_name=st.none()
    | st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",))),
    kind=st.text(min_size=1),
    states=st.tuples(st.none() | st.sampled_from(ReferralStatus), st.sampled_from(ReferralStatus)),
    data=st.dictionaries(st.text(), _json, max_size=4),
    prev=st.text(alphabet="0123456789abcdef", max_size=64),
)
def test_encoder_is_sorted_compact_json_of_the_payload(
    referral_id: UUID,
    seq: int,
    at: datetime,
    display_name: str | None,
    kind: str,
    states: tuple[ReferralStatus | None, ReferralStatus],
    data: dict[str, Any],
    prev: str,
) -> None:
    actor = Actor(kind=ActorKind.AI, id="x", role=Role.INTAKE, display_name=display_name)
    args = (referral_id, seq, at, actor, kind, states[0], states[1], data, prev)
    event = make_event(
        referral_id=referral_id,
        seq=seq,
        at=at,
        actor=actor,
        kind=kind,
        from_state=states[0],
        to_state=states[1],
        data=data,
        prev_hash=prev,
    )
    reference = json.dumps(
        event.payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert encode_event(*args) == reference
    assert event.compute_hash() == event.hash
    assert Event.from_json(event.to_json()).compute_hash() == event.hash
