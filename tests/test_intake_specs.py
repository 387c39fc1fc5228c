"""Call-type specs: defaults, Python and TOML overrides, and the errors a bad override gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from referralkit.clock import ManualClock
from referralkit.errors import IntakeError
from referralkit.intake import DEFAULT_SPECS, FIELDS, CallType, IntakeConfig, IntakeSession

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_every_call_type_has_a_spec_whose_fields_exist() -> None:
    assert set(DEFAULT_SPECS) == set(CallType)
    for call_type, spec in DEFAULT_SPECS.items():
        assert spec.required
        assert set(spec.escalations.values()) == set(spec.handoffs)
        assert spec.log_to in ("referral", "call_log")
        for requirement in spec.required:
            for path in requirement.paths:
                assert any(f == path or f.startswith(path + ".") for f in FIELDS[call_type])


def test_python_override_adds_a_required_field() -> None:
    config = IntakeConfig().override(
        "new_referral",
        required=[
            *(r.key for r in DEFAULT_SPECS[CallType.NEW_REFERRAL].required),
            "coverage.member_id",
        ],
    )
    session = IntakeSession(CallType.NEW_REFERRAL, config, ManualClock(NOW))
    assert "coverage.member_id" in session.update({}).missing


def test_override_cannot_drop_what_the_lifecycle_needs() -> None:
    with pytest.raises(IntakeError, match=r"patient\.birth_date") as info:
        IntakeConfig().override("new_referral", required=["patient.family_name", "specialty"])
    codes = {e["type"] for e in info.value.errors()}
    assert codes == {"required_by_lifecycle"}


TOML = """
[intake]
default_region = "US"
default_language = "es"
duplicate_window_days = 30
specialties = ["Cardiology", "Dermatology"]

[intake.member_id_formats]
"ACME HEALTH" = 'W\\d{9}'

[call_types.status_inquiry]
required = ["caller.role", "referral_number"]
escalations = { caller_not_verified = "front_desk" }

[prompts.en]
referral_number = "What's the referral number on your letter?"
"""


def test_toml_configuration(tmp_path: Path) -> None:
    path = tmp_path / "intake.toml"
    path.write_text(TOML, encoding="utf-8")
    config = IntakeConfig.from_toml(path)
    assert config.duplicate_window == timedelta(days=30)
    assert config.default_language == "es"
    spec = config.spec(CallType.STATUS_INQUIRY)
    assert [r.key for r in spec.required] == ["caller.role", "referral_number"]
    assert spec.handoffs == ("front_desk",)
    session = IntakeSession(CallType.STATUS_INQUIRY, config, ManualClock(NOW), language="en")
    question = session.update({"caller.role": "patient"}).next_question
    assert question is not None
    assert question.text == "What's the referral number on your letter?"
    referral = IntakeSession(CallType.NEW_REFERRAL, config, ManualClock(NOW))
    result = referral.update(
        {
            "specialty": "Podiatry",
            "coverage": {"payer_name": "Acme Health", "member_id": "X1"},
        }
    )
    assert {(i.path, i.code) for i in result.issues} == {
        ("specialty", "unknown_specialty"),
        ("coverage.member_id", "member_id_format"),
    }


def test_toml_errors_name_every_problem_by_path() -> None:
    bad = """
[intake]
duplicate_window_days = -1
colour = "blue"
[intake.member_id_formats]
ACME = "([unclosed"
[call_types.new_referral]
required = ["patient.shoe_size"]
log_to = "printer"
[call_types.teleportation]
required = ["x"]
"""
    with pytest.raises(IntakeError) as info:
        IntakeConfig.from_toml(bad)
    locs = {".".join(map(str, e["loc"])) for e in info.value.errors()}
    assert {
        "intake.duplicate_window_days",
        "intake.colour",
        "intake.member_id_formats.ACME",
        "call_types.new_referral.required.0",
        "call_types.new_referral.log_to",
        "call_types.teleportation",
    } <= locs
    assert info.value.code == "invalid_config"


@pytest.mark.parametrize("source", ["not = [toml", b"\xff\xfe", 42])
def test_unreadable_configuration(source: object) -> None:
    with pytest.raises(IntakeError) as info:
        IntakeConfig.from_toml(source)  # type: ignore[arg-type]
    assert info.value.code == "invalid_config"


def test_unknown_call_type() -> None:
    with pytest.raises(IntakeError, match="known call types") as info:
        IntakeSession("teleportation")
    assert info.value.code == "unknown_call_type"
