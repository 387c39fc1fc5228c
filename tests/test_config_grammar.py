"""One duration grammar and one TOML reader for every configuration file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit.config import parse_duration, parse_timedelta, read_toml
from referralkit.errors import ConfigError, IntakeError, PolicyError, RuleLoadError
from referralkit.intake import IntakeConfig
from referralkit.outreach.policy import load_policy
from referralkit.outreach.policy import parse_duration as outreach_duration
from referralkit.routing.loader import load_toml as load_rules
from referralkit.routing.sla import Duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("4h", 14400), ("3d", 259200), ("1d12h", 129600), ("1.5h", 5400)],
)
def test_outreach_and_routing_read_a_duration_the_same_way(text: str, seconds: int) -> None:
    assert outreach_duration(text) == timedelta(seconds=seconds)
    routing = Duration.parse(text)
    assert routing.amount * {"m": 60, "h": 3600, "d": 86400}[routing.unit] == seconds


def test_business_days_stand_alone_and_only_where_a_calendar_counts_them() -> None:
    assert Duration.parse("2bd") == Duration(2, "bd")
    with pytest.raises(ValueError, match="cannot be combined"):
        parse_duration("1bd4h")
    with pytest.raises(ValueError, match="not allowed here"):
        outreach_duration("2bd")


def test_signs_and_bounds() -> None:
    assert parse_timedelta("-3d") == timedelta(days=-3)
    with pytest.raises(ValueError, match="negative"):
        Duration.parse("-3d")
    with pytest.raises(ValueError, match="too long"):
        parse_duration("99999999999999d")


@given(st.text(max_size=30))
def test_any_text_is_a_duration_or_a_value_error(text: str) -> None:
    try:
        parsed = parse_duration(text)
    except ValueError as exc:
        message = str(exc)
    else:
        message = ""
        assert parsed.terms
    # The message is one of a few fixed sentences: it never carries the text it was given.
    assert message in {
        "",
        "bad duration: write a number and a unit m, h, d or bd, e.g. 30m, 4h, 1d12h or 2bd",
        "bad duration: business days (bd) cannot be combined with other units",
        "duration too long: at most 3660 days",
    }


def test_the_reader_names_the_line_and_never_chains_the_text(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        read_toml('a = 1\nb = "x\n', name="rules.toml")
    assert exc.value.line == 2
    assert exc.value.__cause__ is None
    assert exc.value.__context__ is None
    with pytest.raises(ConfigError, match="cannot read"):
        read_toml(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="nested too deeply"):
        read_toml("a = " + "[" * 5000 + "]" * 5000)


def test_every_loader_reads_through_the_one_reader(tmp_path: Path) -> None:
    broken = "x = [\n"
    with pytest.raises(RuleLoadError, match="TOML syntax error"):
        load_rules(broken, source="rules.toml")
    path = tmp_path / "policy.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(path)
    with pytest.raises(IntakeError, match="not readable TOML"):
        IntakeConfig.from_toml(broken)
