"""Visit-preparation content: loaded from TOML or Python, validated with typed errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from referralkit.calls import VisitContent, VisitGuide
from referralkit.errors import ContentError, IntakeError
from tests.support.calls_world import CONTENT_TOML, RECEIVING_NPI, new_referral

GUIDE = {
    "practice": RECEIVING_NPI,
    "specialty": "Cardiology",
    "approved_by": "Dr. Maya Lee",
    "approved_on": date(2026, 1, 15),
    "en": {"bring": ["your insurance card"]},
}


def _problems(exc: pytest.ExceptionInfo[ContentError]) -> dict[tuple[object, ...], str]:
    return {tuple(e["loc"]): e["type"] for e in exc.value.errors()}


def test_toml_content_loads_every_guide(tmp_path: Path):
    path = tmp_path / "visits.toml"
    path.write_text(CONTENT_TOML, encoding="utf-8")
    content = VisitContent.from_toml(path)
    assert [g.visit_type for g in content.guides] == [None, "stress_test"]
    assert content.guides[0].text("es").bring[0] == "su tarjeta del seguro"


def test_python_content_is_validated_like_toml():
    content = VisitContent.from_guides([GUIDE, VisitGuide(**{**GUIDE, "visit_type": "echo"})])
    assert len(content.guides) == 2


def test_content_error_is_an_intake_error_naming_each_problem_by_path():
    bad = {
        "visit": [
            {**GUIDE, "approved_by": "", "arrive_minutes_early": -5},
            {k: v for k, v in GUIDE.items() if k != "approved_on"} | {"time_zone": "Mars/Base"},
            {**GUIDE, "en": {"bring": ["x"], "fasting": "Zqsecret instructions"}},
        ]
    }
    with pytest.raises(ContentError) as exc:
        VisitContent.from_mapping(bad)
    assert isinstance(exc.value, IntakeError)
    assert exc.value.code == "invalid_content"
    problems = _problems(exc)
    assert problems[("visit", 0, "approved_by")] == "string_too_short"
    assert problems[("visit", 0, "arrive_minutes_early")] == "greater_than_equal"
    assert problems[("visit", 1, "approved_on")] == "missing"
    assert problems[("visit", 1, "time_zone")] == "value_error"
    # An unknown key is never echoed (it could be PHI typed into the wrong place).
    assert problems[("visit", 2, "en", "<extra>")] == "extra_forbidden"
    # The content itself never appears in the error or its chain.
    assert "Zqsecret" not in str(exc.value)
    assert exc.value.__cause__ is None


def test_a_guide_needs_text_in_some_language():
    with pytest.raises(ContentError) as exc:
        VisitContent.from_guides([{k: v for k, v in GUIDE.items() if k != "en"}])
    assert _problems(exc) == {("visit", 0): "value_error"}


def test_two_guides_for_the_same_practice_specialty_and_visit_type_are_refused():
    with pytest.raises(ContentError, match=r"visit\.1: Repeats") as exc:
        VisitContent.from_guides([GUIDE, {**GUIDE, "specialty": " cardiology "}])
    assert _problems(exc) == {("visit", 1): "duplicate_guide"}


@pytest.mark.parametrize("source", ["[[visit]\nbroken", b"\xff\xfe", "visit = 3"])
def test_unreadable_or_mistyped_content_raises_content_error(source):
    with pytest.raises(ContentError):
        VisitContent.from_toml(source)


def test_the_visit_type_guide_wins_over_the_general_one():
    content = VisitContent.from_toml(CONTENT_TOML)
    referral = new_referral()
    assert content.find(referral).visit_type is None
    assert content.find(referral, "STRESS_TEST").visit_type == "stress_test"
    assert content.find(referral, "echo").visit_type is None
    other = referral.model_copy(update={"specialty": "Dermatology"})
    assert content.find(other) is None
