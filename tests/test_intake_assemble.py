"""Intake assembles its referral without validating twice; the result is what validation gives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import RFC_4122

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from referralkit.clock import ManualClock
from referralkit.intake import CallType, IntakeConfig, validate_intake
from referralkit.intake._assemble import assemble
from referralkit.model import Address, Patient, Referral

CLOCK = ManualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
CONFIG = IntakeConfig()

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzàéñüçØ' -", min_size=1, max_size=20)
_digits = st.from_regex(r"[2-9][0-9]{6}", fullmatch=True)
_phones = st.builds(
    lambda area, rest, form: form.format(a=area, p=rest[:3], s=rest[3:]),
    st.sampled_from(["312", "773", "212", "415", "617", "206"]),
    _digits,
    st.sampled_from(
        ["({a}) {p}-{s}", "{a}-{p}-{s}", "+1 {a} {p} {s}", "{a}{p}{s}", "1.{a}.{p}.{s}"]
    ),
)
_npis = st.sampled_from(["1234567893", "1245319599", "1497758544", "1234567890", "12345"])
_maybe = st.one_of(st.none(), st.text(max_size=8))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


payloads = st.builds(
    lambda **kw: _drop_none(kw["raw"]),
    raw=st.fixed_dictionaries(
        {
            "referral_number": st.one_of(
                st.none(), st.from_regex(r"REF-[0-9]{4}-[0-9]{4}", fullmatch=True)
            ),
            "priority": st.sampled_from(["routine", "urgent", "asap", "stat", "URGENT", None]),
            "specialty": st.sampled_from(["Cardiology", "dermatology ", "Neurology"]),
            "patient": st.fixed_dictionaries(
                {
                    "given_name": _names,
                    "middle_name": st.none() | _names,
                    "family_name": _names,
                    "birth_date": st.dates(date(1900, 1, 1), date(2026, 3, 1)).map(str)
                    | st.sampled_from(["07/04/1961", "1961-13-01"]),
                    "mrn": st.none() | st.from_regex(r"MRN-[0-9]{3,6}", fullmatch=True) | _maybe,
                    "email": st.none() | st.emails() | st.just("Ana.Rivera@Example.ORG"),
                    "preferred_language": st.sampled_from(["es", "en-US", "zh-Hant", "english"]),
                    "preferred_channel": st.none()
                    | st.sampled_from(["voice", "sms", "letter", "portal", "fax"]),
                    "phones": st.lists(
                        st.fixed_dictionaries(
                            {"number": _phones, "kind": st.sampled_from(["mobile", "home"])},
                            optional={"extension": st.sampled_from(["12", "ext. 4410", "x"])},
                        ),
                        min_size=1,
                        max_size=2,
                    ),
                    "address": st.none()
                    | st.fixed_dictionaries(
                        {
                            "line1": st.from_regex(
                                r"[0-9]{1,5} [A-Z][a-z]{2,9} St", fullmatch=True
                            ),
                            "city": _names,
                            "state": st.sampled_from(["IL", "ny", "ZZ", "Texas"]),
                            "postal_code": st.sampled_from(["60607", "60607-1234", "6060"]),
                        }
                    ),
                }
            ),
            "referring_practice": st.fixed_dictionaries(
                {
                    "name": _names,
                    "npi": _npis,
                    "phone": st.none() | _phones | _phones.map(lambda p: f"{p} ext. 210"),
                }
            ),
            "referring_provider": st.none()
            | st.fixed_dictionaries({"name": _names, "npi": st.none() | _npis}),
            "reason": st.fixed_dictionaries(
                {
                    "icd10_codes": st.lists(
                        st.sampled_from(["I10", "e11.9", "I4891", "U07.1", "R00.2", "XYZ"]),
                        min_size=1,
                        max_size=3,
                    ),
                    "text": st.none() | st.sampled_from(["Chest pain", "naïve ✓ text"]),
                }
            ),
            "coverage": st.none()
            | st.fixed_dictionaries(
                {
                    "payer_name": _names,
                    "member_id": st.from_regex(r"[A-Z]{1,3}[0-9]{5,9}", fullmatch=True),
                    "group_number": _maybe,
                }
            ),
        }
    ),
)


@settings(max_examples=300, deadline=None)
@given(payload=payloads)
def test_assembled_referral_equals_the_validated_one(payload: dict[str, Any]) -> None:
    result, referral = validate_intake(CallType.NEW_REFERRAL, payload, config=CONFIG, clock=CLOCK)
    if referral is None:
        assert not result.complete
        return
    # Validating what was assembled changes nothing and refuses nothing: every value already
    # met the model's constraints in its normal form.
    assert Referral.model_validate(referral.model_dump()) == referral
    assert Referral.model_validate_json(referral.model_dump_json()) == referral
    assert referral.model_dump(exclude_unset=True) == Referral.model_validate(
        referral.model_dump(exclude_unset=True)
    ).model_dump(exclude_unset=True)
    # Each record, nested ones too, says it was given exactly the fields validation would.
    validated = Referral.model_validate(referral.model_dump(exclude_unset=True))
    assert validated == referral
    assert dict(_fields_sets(referral)) == dict(_fields_sets(validated))


def _fields_sets(record: BaseModel, path: str = "") -> Iterator[tuple[str, set[str]]]:
    yield path, record.model_fields_set
    for name in type(record).model_fields:
        value = getattr(record, name)
        items = value if isinstance(value, tuple) else (value,)
        for index, item in enumerate(items):
            if isinstance(item, BaseModel):
                yield from _fields_sets(item, f"{path}.{name}[{index}]")


def test_the_referral_and_its_interaction_have_distinct_random_ids() -> None:
    _, first = validate_intake(CallType.NEW_REFERRAL, _COMPLETE, config=CONFIG, clock=CLOCK)
    _, second = validate_intake(CallType.NEW_REFERRAL, _COMPLETE, config=CONFIG, clock=CLOCK)
    assert isinstance(first, Referral)
    assert isinstance(second, Referral)
    ids = [first.id, first.interactions[0].id, second.id, second.interactions[0].id]
    assert len(set(ids)) == 4
    assert all(i.version == 4 and i.variant == RFC_4122 for i in ids)


_COMPLETE: dict[str, Any] = {
    "specialty": "Cardiology",
    "patient": {
        "given_name": "Ana",
        "family_name": "Rivera",
        "birth_date": "1961-07-04",
        "phones": [{"number": "(312) 555-0147", "kind": "mobile"}],
    },
    "referring_practice": {"name": "Lakeside Family Medicine"},
    "reason": {"text": "Hypertension"},
}


def test_assemble_sets_defaults_like_model_construct() -> None:
    made = assemble(Address, {"line1": "1 Main St", "city": "Springfield", "state": "IL",
                              "postal_code": "62701"})  # fmt: skip
    constructed = Address.model_construct(
        line1="1 Main St", city="Springfield", state="IL", postal_code="62701"
    )
    assert made == constructed
    assert made.model_fields_set == constructed.model_fields_set
    assert made.country == "US"


def test_assemble_refuses_a_missing_required_field() -> None:
    with pytest.raises(TypeError, match="family_name"):
        assemble(Patient, {"given_name": "Ana"})
