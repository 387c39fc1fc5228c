"""``copy_with``: the lifecycle's cheaper ``model_copy(update=...)`` gives the same referral."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from referralkit.model import Referral
from referralkit.model.types import copy_with
from tests.support.routing_strategies import referrals

FIELDS = sorted(Referral.model_fields)


@st.composite
def updates(draw: st.DrawFn) -> tuple[Referral, dict[str, Any]]:
    # Values of the fields' own types, taken from another referral (as the lifecycle's are).
    referral, donor = draw(referrals()), draw(referrals())
    names = draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=8))
    return referral, {name: getattr(donor, name) for name in names}


def _state(model: Referral) -> tuple[object, ...]:
    return (
        model.__dict__,
        list(model.__dict__),  # the same order, so dumps list fields alike
        model.model_fields_set,
        model.__pydantic_extra__,
        model.__pydantic_private__,
        model.model_dump_json(),
    )


@given(updates())
def test_copy_with_equals_model_copy(case: tuple[Referral, dict[str, Any]]) -> None:
    referral, update = case
    ours, theirs = copy_with(referral, update), referral.model_copy(update=update)
    assert type(ours) is Referral
    assert ours == theirs
    assert _state(ours) == _state(theirs)


@given(updates())
def test_copy_with_leaves_the_original_alone(case: tuple[Referral, dict[str, Any]]) -> None:
    referral, update = case
    before = _state(referral)
    copied = copy_with(referral, update)
    assert _state(referral) == before
    assert copied.__dict__ is not referral.__dict__
    assert copied.model_fields_set is not referral.model_fields_set
