"""Referral numbers: generated at create, unique per store, checked when read back."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit import ManualClock, MemoryStore, ReferralDesk
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.errors import InvalidReferralNumberError
from referralkit.intake.status import LookupQuery, match_referrals
from referralkit.model import SAFE_ALPHABET, ReferralNumberFormat
from referralkit.store import NumberedStore

FORMAT = ReferralNumberFormat()
seeds = st.binary(min_size=1, max_size=32)


def test_the_default_format_reads_aloud_in_two_groups() -> None:
    number = FORMAT.generate(b"seed")
    assert number.startswith("R-")
    prefix, first, second = number.split("-")
    assert (prefix, len(first), len(second)) == ("R", 4, 4)


def test_the_safe_alphabet_has_no_lookalikes() -> None:
    assert not set("0O1ILU") & set(SAFE_ALPHABET)


@given(seeds)
def test_a_generated_number_validates_as_itself(seed: bytes) -> None:
    number = FORMAT.generate(seed)
    assert FORMAT.validate(number) == number
    assert FORMAT.validate(number.lower().replace("-", " ")) == number
    assert set(number.replace("-", "")[1:]) <= set(SAFE_ALPHABET)


@given(seeds, st.data())
def test_every_single_wrong_character_is_refused(seed: bytes, data: st.DataObject) -> None:
    code = FORMAT.generate(seed).replace("-", "")[1:]
    at = data.draw(st.integers(0, len(code) - 1))
    wrong = data.draw(st.sampled_from([c for c in SAFE_ALPHABET if c != code[at]]))
    misheard = "R" + code[:at] + wrong + code[at + 1 :]
    with pytest.raises(InvalidReferralNumberError) as caught:
        FORMAT.validate(misheard)
    assert caught.value.reason == "check"
    assert misheard not in str(caught.value)  # the message names the problem, not the number


@given(seeds, st.data())
def test_swapped_neighbours_are_refused(seed: bytes, data: st.DataObject) -> None:
    code = FORMAT.generate(seed).replace("-", "")[1:]
    at = data.draw(st.integers(0, len(code) - 2))
    pair = {code[at], code[at + 1]}
    swapped = code[:at] + code[at + 1] + code[at] + code[at + 2 :]
    if swapped == code or pair == {SAFE_ALPHABET[0], SAFE_ALPHABET[-1]}:
        return  # no change, or the one pair Luhn mod N cannot tell apart (documented)
    assert not FORMAT.is_valid("R" + swapped)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("X-2345-6789", "prefix"), ("R-2345-678", "length"), ("R-2345-67O9", "character")],
)
def test_malformed_numbers_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(InvalidReferralNumberError) as caught:
        FORMAT.validate(text)
    assert caught.value.reason == reason


def test_a_format_without_prefix_or_groups() -> None:
    plain = ReferralNumberFormat(prefix="", group=0, length=10)
    number = plain.generate(b"x")
    assert len(number) == 11
    assert "-" not in number
    assert plain.validate(number) == number


@pytest.mark.parametrize(
    "bad", [{"prefix": "r-"}, {"length": 3}, {"alphabet": "ABC"}, {"alphabet": "abcdefghjk"}]
)
def test_invalid_formats_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        ReferralNumberFormat(**bad)


def test_create_assigns_a_number_when_the_host_gives_none(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(referral_number=None), actor=actors.intake_staff)
    assert stored.referral_number is not None
    assert FORMAT.is_valid(stored.referral_number)
    assert desk.get(stored.id).referral_number == stored.referral_number


def test_a_host_number_is_kept(desk: ReferralDesk, actors: Any, make_referral: Any) -> None:
    stored = desk.create(make_referral(referral_number="HOST-1"), actor=actors.intake_staff)
    assert stored.referral_number == "HOST-1"


def test_numbering_off_leaves_the_number_empty(
    clock: ManualClock, actors: Any, make_referral: Any
) -> None:
    desk = ReferralDesk(store=MemoryStore(), clock=clock, numbering=None)
    assert (
        desk.create(make_referral(referral_number=None), actor=actors.intake_staff).referral_number
        is None
    )


def test_a_taken_number_is_passed_over(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    wanted = uuid.UUID(int=7)
    first_choice = FORMAT.generate(wanted.bytes + (0).to_bytes(4, "big"))
    desk.create(make_referral(referral_number=first_choice), actor=actors.intake_staff)
    assert isinstance(desk.store, NumberedStore)
    assert desk.store.referral_number_taken(first_choice)
    stored = desk.create(make_referral(id=wanted, referral_number=None), actor=actors.intake_staff)
    assert stored.referral_number == FORMAT.generate(wanted.bytes + (1).to_bytes(4, "big"))
    assert stored.referral_number != first_choice


def test_sqlite_knows_which_numbers_are_taken(
    tmp_path: Path, clock: ManualClock, actors: Any, make_referral: Any
) -> None:
    desk = ReferralDesk(store=SQLiteStore(str(tmp_path / "n.db")), clock=clock)
    with desk:
        stored = desk.create(make_referral(referral_number=None), actor=actors.intake_staff)
        assert isinstance(desk.store, NumberedStore)
        assert desk.store.referral_number_taken(stored.referral_number or "")
        assert not desk.store.referral_number_taken("R-2222-2222")


def test_a_number_read_back_without_dashes_finds_the_referral(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    stored = desk.create(make_referral(referral_number=None), actor=actors.intake_staff)
    spoken = (stored.referral_number or "").replace("-", "").lower()
    found = match_referrals([stored], LookupQuery(referral_number=spoken))
    assert [r.id for r in found] == [stored.id]
