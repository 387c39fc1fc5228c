"""Typed errors at every boundary: loaders, store URLs, text no store keeps, configured regexes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from referralkit.desk import ReferralDesk
from referralkit.desk.stores import open_store
from referralkit.errors import (
    AmendmentError,
    IntakeError,
    RuleLoadError,
    StoreURLError,
    TriggerDataError,
)
from referralkit.intake.config import IntakeConfig
from referralkit.intake.normalise import normalise_member_id
from referralkit.intake.patterns import BoundedPattern
from referralkit.outreach.policy_toml import load_policy, parse_duration
from referralkit.outreach.policy_types import PolicyError
from referralkit.routing.loader import load_path, load_toml
from tests.support.pg import STORE_FACTORIES, open_store_for

DEEP = "a = " + "[" * 5000 + "]" * 5000


# -- Policy and routing-rule loaders --------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {
        "not_utf8": tmp_path / "latin1.toml",
        "deep": tmp_path / "deep.toml",
        "huge": tmp_path / "huge.toml",
        "missing": tmp_path / "missing.toml",
    }
    out["not_utf8"].write_bytes(b'name = "caf\xe9"\n')
    out["deep"].write_text(DEEP)
    out["huge"].write_text('in_flight_timeout = "99999999999999d"\n')
    return out


@pytest.mark.parametrize("name", ["not_utf8", "deep", "huge", "missing"])
def test_policy_loader_raises_policy_error_for_any_bad_file(
    files: dict[str, Path], name: str
) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(files[name])
    chained = (info.value.__cause__, info.value.__context__)
    assert not any(
        isinstance(e, OSError | UnicodeError | RecursionError | OverflowError) for e in chained
    )


def test_a_duration_past_ten_years_is_refused_not_overflowed() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration("99999999999999d")
    with pytest.raises(ValueError, match="too long"):
        parse_duration("3661d")
    assert parse_duration("3660d").days == 3660


@pytest.mark.parametrize("name", ["not_utf8", "deep", "missing"])
def test_rule_loader_raises_rule_load_error_for_any_bad_file(
    files: dict[str, Path], name: str
) -> None:
    with pytest.raises(RuleLoadError):
        load_path(files[name])


def test_rule_loader_refuses_deep_nesting_and_huge_durations() -> None:
    with pytest.raises(RuleLoadError, match="nested too deeply"):
        load_toml(DEEP)
    with pytest.raises(RuleLoadError, match="too long"):
        load_toml('[sla.routine]\nacceptance = "99999999999bd"\n')


# -- Store URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://%zz",
        "postgresql://user:s3cret@host/db?sslmode=nonsense&x=y z",
        "sqlite:////proc/referralkit-cannot-be-here/x.db",
        "sqlite://relative-without-slash.db",
        "ftp://example.org/x",
    ],
)
def test_a_bad_store_url_raises_store_url_error_without_repeating_it(url: str) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreURLError) as info:
        open_store(url)
    assert "s3cret" not in str(info.value)
    assert info.value.__context__ is None
    assert isinstance(info.value, ValueError)  # as before it was typed


def test_desk_open_raises_the_same(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreURLError, match="directory"):
        ReferralDesk.open(f"sqlite:///{blocker}/inside/x.db")


# -- NUL and lone surrogates: refused before any store sees them --------------------------------


@pytest.mark.parametrize("store_name", list(STORE_FACTORIES))
@pytest.mark.parametrize("bad", ["nul\x00", "lone\udc80"], ids=["nul", "surrogate"])
def test_text_no_store_keeps_is_refused_the_same_on_every_store(
    store_name: str, bad: str, tmp_path: Path, clock: Any, actors: Any, make_referral: Any
) -> None:
    # open_store_for drops a PostgreSQL store's schema afterwards (no schema left behind).
    opened = open_store_for(store_name, tmp_path)
    store = next(opened)
    try:
        with ReferralDesk(store=store, clock=clock) as desk:
            rid = desk.create(make_referral(), actor=actors.referrer).id
            with pytest.raises(AmendmentError) as amend:
                desk.amend(rid, "renamed", actor=actors.intake_staff, update={"specialty": bad})
            assert amend.value.errors()[0]["loc"] == ("specialty",)
            with pytest.raises(AmendmentError) as data:
                desk.amend(rid, "noted", actor=actors.intake_staff, update={}, data={"x": bad})
            assert data.value.errors()[0]["loc"] == ("data",)
            with pytest.raises(TriggerDataError) as fired:
                desk.fire(rid, "accept", actor=actors.clinician, data={"note": bad})
            assert fired.value.errors()[0]["loc"] == ("note",)
            assert len(desk.history(rid)) == 1
            desk.verify(rid)
    finally:
        next(opened, None)


# -- Practice-configured regular expressions ----------------------------------------------------


def test_a_catastrophic_member_id_pattern_is_refused_when_the_config_loads() -> None:
    with pytest.raises(IntakeError) as info:
        IntakeConfig.from_toml('[intake.member_id_formats]\nacme = "(A|A)+B"\n')
    [problem] = info.value.errors()
    assert problem["loc"] == ("intake", "member_id_formats", "acme")
    assert problem["type"] == "invalid_pattern"
    assert "backtracks" in problem["msg"]


def test_a_pattern_that_blows_up_only_on_real_input_is_abandoned_not_waited_for() -> None:
    # Passes the load-time probes (runs of one character), but backtracks exponentially on
    # ABAB...: the match is cut off by the timeout and the id reported as unchecked.
    pattern = BoundedPattern("(AB|AB)+C")
    with pytest.raises(IntakeError) as info:
        normalise_member_id("AB" * 20, pattern)
    assert info.value.code == "member_id_format_unchecked"
    assert normalise_member_id("ABABC", pattern) == "ABABC"


def test_member_id_formats_given_as_re_patterns_are_bounded_too() -> None:
    import re

    config = IntakeConfig(member_id_formats={"acme": re.compile("[A-Z]{3}[0-9]{6}")})
    pattern = config.member_id_pattern("ACME", None)
    assert isinstance(pattern, BoundedPattern)
    assert normalise_member_id("abc-123456", pattern) == "ABC123456"
    with pytest.raises(IntakeError, match="format"):
        normalise_member_id("abc12345", pattern)
