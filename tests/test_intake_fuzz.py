"""Bad input: arbitrary JSON, text or bytes into every intake entry point never crashes.

Each entry point either returns a result with field issues or raises ``IntakeError``; nothing
else escapes, and a referral is only ever produced whole and valid. Example counts come from
the active hypothesis profile (``HYPOTHESIS_PROFILE``); the ``soak`` tests run 10,000 examples
per entry point and only under ``HYPOTHESIS_PROFILE=soak``.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referralkit import Actor, ActorKind, MemoryStore, Referral, ReferralDesk, Role
from referralkit.clock import ManualClock
from referralkit.errors import IntakeError
from referralkit.intake import (
    FIELDS,
    CallRecord,
    CallType,
    IntakeConfig,
    IntakeResult,
    IntakeSession,
    validate_intake,
)
from referralkit.intake import normalise as n

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SOAK = pytest.mark.skipif(
    os.environ.get("HYPOTHESIS_PROFILE") != "soak", reason="soak: HYPOTHESIS_PROFILE=soak"
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(),
    st.text(alphabet="0123456789 -()+./", max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
ALL_PATHS = sorted({path for fields in FIELDS.values() for path in fields})
field_payloads = st.dictionaries(st.sampled_from(ALL_PATHS), json_values, max_size=12)
anything = st.one_of(
    json_values,
    field_payloads,
    st.text(),
    st.binary(),
    st.builds(lambda d: str(d).replace("'", '"'), field_payloads),
)
call_types = st.one_of(
    st.sampled_from(list(CallType)), st.sampled_from([c.value for c in CallType]), scalars
)


def _check_update(call_type: CallType, turns: list[Any]) -> None:
    session = IntakeSession(call_type, clock=ManualClock(NOW))
    for payload in turns:
        try:
            result = session.update(payload)
        except IntakeError:
            continue
        assert isinstance(result, IntakeResult)
        for issue in result.issues:
            assert issue.code
            assert issue.message
    result = session.result()
    if result.complete and call_type is CallType.NEW_REFERRAL:
        referral = session.to_referral()
        assert Referral.model_validate_json(referral.model_dump_json()) == referral
    elif result.complete:
        session.to_call_record("captured").model_dump_json()


def _check_validate(call_type: object, payload: object) -> None:
    try:
        result, produced = validate_intake(call_type, payload, clock=ManualClock(NOW))  # type: ignore[arg-type]
    except IntakeError:
        return
    assert isinstance(result, IntakeResult)
    assert produced is None or isinstance(produced, Referral | CallRecord)
    assert (produced is not None) == result.complete


def _check_config(source: object) -> None:
    try:
        if isinstance(source, str | bytes):
            config = IntakeConfig.from_toml(source)
        else:
            config = IntakeConfig.from_mapping(source)
    except IntakeError as exc:
        errors = exc.errors()
    else:
        assert isinstance(config, IntakeConfig)
        return
    assert errors


def _check_normalisers(value: object) -> None:
    for function in (
        n.normalise_phone,
        n.normalise_npi,
        n.normalise_icd10,
        n.normalise_icd10_list,
        n.normalise_member_id,
        n.normalise_referral_number,
        n.normalise_date,
        n.normalise_state,
        n.normalise_zip,
        n.normalise_email,
        n.normalise_name,
        n.normalise_text,
        n.normalise_priority,
        n.phone_kind,
    ):
        with contextlib.suppress(IntakeError):
            function(value)
    with contextlib.suppress(IntakeError):
        n.normalise_birth_date(value, today=NOW.date())


def _check_desk(call_type: CallType, turns: list[Any]) -> None:
    desk = ReferralDesk(store=MemoryStore(), clock=ManualClock(NOW))
    actor = Actor(kind=ActorKind.AI, id="ai", role=Role.INTAKE)
    session = desk.start_intake(call_type)
    for payload in turns:
        with contextlib.suppress(IntakeError):
            session.update(payload)
    try:
        outcome = desk.submit_intake(session, actor=actor)
    except IntakeError:
        assert list(desk.list()) == []  # never a partially written referral
        return
    if outcome.created:
        stored = desk.get(outcome.referral.id)
        assert stored.missing_fields() == ()
        desk.verify(stored.id)


@given(st.sampled_from(list(CallType)), st.lists(anything, min_size=1, max_size=4))
def test_session_update_never_crashes(call_type: CallType, turns: list[Any]) -> None:
    _check_update(call_type, turns)


@given(call_types, anything)
def test_validate_intake_never_crashes(call_type: object, payload: object) -> None:
    _check_validate(call_type, payload)


@given(st.one_of(st.text(), st.binary(), json_values))
def test_config_loading_never_crashes(source: object) -> None:
    _check_config(source)


@given(json_values)
def test_normalisers_never_crash(value: object) -> None:
    _check_normalisers(value)


@given(st.sampled_from(list(CallType)), st.lists(field_payloads, min_size=1, max_size=3))
def test_desk_submit_never_writes_a_partial_referral(
    call_type: CallType, turns: list[Any]
) -> None:
    _check_desk(call_type, turns)


@given(call_types, scalars)
def test_session_construction_never_crashes(call_type: object, language: object) -> None:
    with contextlib.suppress(IntakeError):
        IntakeSession(call_type, clock=ManualClock(NOW), language=language)  # type: ignore[arg-type]


# -- Soak: 10,000 examples per entry point ---------------------------------------------------

soak = settings(max_examples=10_000)


@pytest.mark.soak
@SOAK
@soak
@given(st.sampled_from(list(CallType)), st.lists(anything, min_size=1, max_size=4))
def test_soak_session_update(call_type: CallType, turns: list[Any]) -> None:
    _check_update(call_type, turns)


@pytest.mark.soak
@SOAK
@soak
@given(call_types, anything)
def test_soak_validate_intake(call_type: object, payload: object) -> None:
    _check_validate(call_type, payload)


@pytest.mark.soak
@SOAK
@soak
@given(st.one_of(st.text(), st.binary(), json_values))
def test_soak_config_loading(source: object) -> None:
    _check_config(source)


@pytest.mark.soak
@SOAK
@soak
@given(json_values)
def test_soak_normalisers(value: object) -> None:
    _check_normalisers(value)


@pytest.mark.soak
@SOAK
@soak
@given(st.sampled_from(list(CallType)), st.lists(field_payloads, min_size=1, max_size=3))
def test_soak_desk_submit(call_type: CallType, turns: list[Any]) -> None:
    _check_desk(call_type, turns)
