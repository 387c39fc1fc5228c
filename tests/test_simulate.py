"""The what-if simulator: scenarios, determinism, conservation, the engine's behaviour in it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit.cli import main
from referralkit.errors import ScenarioError
from referralkit.model import ReferralStatus
from referralkit.simulate import (
    BUILTIN_SCENARIOS,
    PARAMETERS,
    SOURCES,
    Estimate,
    Trace,
    builtin_scenario,
    load_scenario,
    replay,
    run_replication,
    scenario_from_mapping,
    sensitivity,
    simulate,
)
from referralkit.simulate.world import fake_family_name, fake_phone

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"run": {"days": 45, "arrival_days": 15}, "arrivals": {"per_day": 3}}
"""A few dozen referrals: enough to exercise every path, quick enough for the suite."""


def small(name: str = "default-cadence", **tables: dict[str, float]) -> object:
    scenario = builtin_scenario(name)
    scenario = scenario.with_value("run.days", 45).with_value("run.arrival_days", 15)
    scenario = scenario.with_value("arrivals.per_day", 3)
    for table, values in tables.items():
        for key, value in values.items():
            scenario = scenario.with_value(f"{table}.{key}", value)
    return scenario


# -- scenarios as data ---------------------------------------------------------------------------


def test_every_builtin_scenario_loads():
    for name in BUILTIN_SCENARIOS:
        assert load_scenario(name).name == name


def test_left_out_parameters_take_their_documented_defaults():
    scenario = scenario_from_mapping({})
    for p in PARAMETERS:
        if "*" not in p.path:
            assert scenario[p.path] == p.default, p.path


def test_every_parameter_names_a_known_source_and_a_default_in_range():
    for p in PARAMETERS:
        assert p.source in SOURCES, p.path
        assert p.low <= p.default <= p.high, p.path


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"patients": {"sms_reply": 1.5}}, "patients.sms_reply"),
        ({"patients": {"answer_night": 0.2}}, "patients.answer_night"),
        ({"patients": {"self_book": "high"}}, "patients.self_book"),
        ({"capacity": {"specialty": {"cardiology": -1}}}, "capacity.specialty.cardiology"),
        ({"staff": {"scheduling": {"hours_per_day": -2}}}, "staff.scheduling.hours_per_day"),
        ({"run": {"days": 10, "arrival_days": 20}}, "run.arrival_days"),
        (
            {"outreach": {"cadences": [{"purpose": "schedule", "steps": []}]}},
            "outreach.cadences[0].steps",
        ),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_an_invalid_scenario_is_refused_naming_the_key(data, key):
    with pytest.raises(ScenarioError) as caught:
        scenario_from_mapping(data, source="mine.toml")
    assert caught.value.key == key
    assert caught.value.source == "mine.toml"


def test_a_scenario_file_loads_and_a_broken_one_is_refused(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('name = "mine"\n[patients]\nsms_reply = 0.4\n', encoding="utf-8")
    assert load_scenario(good)["patients.sms_reply"] == 0.4
    bad = tmp_path / "bad.toml"
    bad.write_text("[patients\n", encoding="utf-8")
    with pytest.raises(ScenarioError):
        load_scenario(bad)


@given(st.sampled_from([p for p in PARAMETERS if "*" not in p.path]), st.floats(-10, 1e4))
def test_a_value_is_accepted_exactly_when_it_is_in_its_documented_range(spec, value):
    table, key = spec.path.split(".")
    data = {table: {key: value}}
    if table == "run":  # arrivals may not outlast the run
        data = {"run": {"days": 730, key: value}} if key != "days" else data
        data["run"].setdefault("arrival_days", min(value, 730) if key == "days" else 1)
    inside = spec.low <= value <= spec.high
    if not inside:
        with pytest.raises(ScenarioError):
            scenario_from_mapping(data)
        return
    if table == "authorization" and key.startswith("turnaround"):
        return  # min <= mode <= max is checked on its own below
    assert scenario_from_mapping(data)[spec.path] == value


def test_authorization_turnaround_needs_min_mode_max_in_order():
    with pytest.raises(ScenarioError) as caught:
        scenario_from_mapping({"authorization": {"turnaround_min": 4, "turnaround_mode": 2}})
    assert caught.value.key == "authorization.turnaround"


def test_with_value_changes_one_staff_queue_and_keeps_the_others():
    scenario = builtin_scenario("default-cadence").with_value("staff.scheduling.hours_per_day", 12)
    assert scenario.staff_queue("scheduling").hours_per_day == 12
    assert scenario.staff_queue("scheduling").minutes_per_task == 10
    assert scenario.staff_queue("clinical_review").hours_per_day == 8


def test_with_value_refuses_an_out_of_range_value():
    with pytest.raises(ScenarioError, match="between 0 and 1"):
        builtin_scenario("baseline").with_value("patients.self_book", 2)


# -- the run ------------------------------------------------------------------------------


def test_same_seed_same_output():
    scenario = small()
    first = run_replication(scenario, 7).report.as_json()
    second = run_replication(scenario, 7).report.as_json()
    assert first == second
    assert run_replication(scenario, 8).report.as_json() != first


@pytest.mark.parametrize("name", ["default-cadence", "baseline"])
def test_every_referral_ends_in_exactly_one_outcome_or_is_counted_open(name):
    replication = run_replication(small(name), 3)
    overall = replication.report.overall
    assert replication.created > 0
    assert overall.received == replication.created
    assert sum(overall.outcomes.values()) == replication.created
    assert set(overall.outcomes) <= {s.value for s in ReferralStatus}


def test_when_everyone_answers_and_books_nothing_leaks_and_one_call_each_is_enough():
    replication = run_replication(small("all-book-at-once"), 1)
    overall = replication.report.overall
    assert overall.received > 0
    assert overall.leaked == 0
    assert overall.booked == overall.received
    assert overall.attempts_before_booking == overall.booked
    assert overall.sends_by_channel.get("voice", 0) == overall.booked


def test_no_outreach_means_no_contact():
    replication = run_replication(small("baseline"), 2)
    assert replication.contacts == 0
    assert replication.report.overall.attempts_before_booking == 0


def test_replaying_the_engine_calls_reproduces_the_outcomes():
    scenario = small()
    trace = Trace()
    replication = run_replication(scenario, 5, trace=trace)
    desk = replay(scenario, trace)
    replayed = {r.id: r.status for r in desk.list(limit=10_000)}
    assert len(replayed) == replication.created
    expected = dict(replication.report.overall.outcomes)
    counted: dict[str, int] = {}
    for status in replayed.values():
        counted[status.value] = counted.get(status.value, 0) + 1
    assert counted == expected


# -- PHI: synthetic patients are obviously fake --------------------------------------------------


@given(st.integers(min_value=0, max_value=10**7))
def test_simulated_phone_numbers_are_in_the_fictional_555_01xx_range(index):
    assert re.fullmatch(r"\+1\d{3}55501\d{2}", fake_phone(index))


@given(st.integers(min_value=0, max_value=10**7))
def test_simulated_family_names_are_obviously_fake(index):
    assert re.fullmatch(r"Patient-[A-Z]{4}", fake_family_name(index))


def test_every_simulated_patient_is_fake():
    scenario = small()
    trace = Trace()
    run_replication(scenario, 4, trace=trace)
    desk = replay(scenario, trace)
    referrals = desk.list(limit=10_000)
    assert referrals
    for referral in referrals:
        patient = referral.patient
        assert patient is not None
        assert patient.given_name == "Sim"
        assert patient.family_name.startswith("Patient-")
        assert all(re.fullmatch(r"\+1\d{3}55501\d{2}", p.number) for p in patient.phones)


# -- replications, comparison, sensitivity -------------------------------------------------------


def test_an_estimate_has_a_t_interval_around_the_mean():
    estimate = Estimate.of([0.2, 0.4, None])
    assert estimate.mean == pytest.approx(0.3)
    assert estimate.n == 2
    assert estimate.low == pytest.approx(0.3 - 12.706 * 0.1414213562 / 1.414213562)
    assert Estimate.of([0.5]).low is None
    assert Estimate.of([None]).mean is None


def test_scenarios_are_compared_with_the_same_seeds():
    comparison = simulate([small("all-book-at-once"), small("baseline")], runs=2, seed=11)
    first, second = comparison.results
    assert first.seeds == second.seeds == (11, 12)
    assert first.estimate("leakage_rate").mean == 0
    data = comparison.as_json()
    assert [s["name"] for s in data["scenarios"]] == ["all-book-at-once", "baseline"]
    assert "leakage_rate" in data["scenarios"][0]["figures"]


def test_a_sensitivity_sweep_varies_one_parameter():
    sweep = sensitivity(
        small("all-book-at-once"), "patients.book_after_contact", [0.0, 1.0], runs=1, seed=2
    )
    never, always = sweep.results
    assert never.estimate("booking_rate").mean == 0
    assert always.estimate("booking_rate").mean == 1
    assert "patients.book_after_contact" in sweep.text()


def test_progress_is_reported_after_each_replication():
    seen: list[tuple[int, int]] = []
    simulate(
        [small("all-book-at-once")], runs=2, seed=1, progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(1, 2), (2, 2)]


# -- the command line ----------------------------------------------------------------------------


def test_the_command_prints_json_and_writes_an_html_comparison(tmp_path, capsys):
    scenario = tmp_path / "quick.toml"
    scenario.write_text(
        'name = "quick"\n[run]\ndays = 30\narrival_days = 10\n[arrivals]\nper_day = 2\n',
        encoding="utf-8",
    )
    page = tmp_path / "compare.html"
    argv = ["simulate", str(scenario), "all-book-at-once", "--runs", "2", "--seed", "3"]
    status = main([*argv, "--json", "--html", str(page)])
    out, err = capsys.readouterr()
    assert status == 0
    data = json.loads(out)
    assert [s["name"] for s in data["scenarios"]] == ["quick", "all-book-at-once"]
    assert data["runs"] == 2
    assert "simulate: 4/4 replications" in err
    html = page.read_text(encoding="utf-8")
    assert "<svg" in html
    assert "quick" in html
    assert "all-book-at-once" in html
    assert "Patient-" not in html


def test_the_command_refuses_an_invalid_scenario(tmp_path, capsys):
    scenario = tmp_path / "bad.toml"
    scenario.write_text("[patients]\nsms_reply = 3\n", encoding="utf-8")
    assert main(["simulate", str(scenario), "--runs", "1"]) == 3
    assert "patients.sms_reply" in capsys.readouterr().err


# -- docs ---------------------------------------------------------------------------------------


def test_the_docs_list_every_parameter_and_source():
    page = (ROOT / "docs" / "simulate.md").read_text(encoding="utf-8")
    for p in PARAMETERS:
        assert f"`{p.path}`" in page, p.path
    for key in SOURCES:
        assert f"`{key}`" in page, key
