"""Rules as data: loading from TOML, validation errors with rule id and line, compiled matching."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from referralkit import (
    Priority,
    Referral,
    ReferralStatus,
    RuleLoadError,
    TaskPriority,
)
from referralkit.routing import (
    Action,
    Condition,
    EventAge,
    Queue,
    QueueConfig,
    Rule,
    RuleRegistry,
    RuleSet,
    default_rules,
    evaluate,
    explain,
    load_path,
    load_toml,
)

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)

GOOD = """
[[rules]]
id = "two_no_shows"
description = "Two missed visits"
[rules.when]
status = ["ready_to_schedule"]
min_no_shows = 2
[[rules.then]]
action = "open_task"
queue = "scheduling"
title = "Call the patient"
due = "1bd"
"""


def _docs_example() -> str:
    text = (ROOT / "docs" / "routing.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```toml\n(.*?)```", text, re.S)
    return block


def test_the_docs_example_loads_and_extends_the_defaults():
    rules = load_toml(_docs_example(), source="routing.toml")
    ids = [rule.id for rule in rules.rules]
    assert ids[: len(default_rules().rules)] == [r.id for r in default_rules().rules]
    assert {"cardiology_triage", "two_no_shows", "stale_in_intake"} <= set(ids)
    assert "cardiology_triage" in rules.queues.queues
    assert rules.sla.for_priority(Priority.ROUTINE).acceptance.describe() == "3 business days"
    assert rules.auto_accept[0].name == "in-network-dermatology"


def test_the_docs_example_routes_cardiology_to_its_triage_queue():
    rules = load_toml(_docs_example(), source="routing.toml")
    referral = Referral(status=ReferralStatus.RECEIVED, specialty="Cardiology")
    queues = {d.queue for d in evaluate(referral, [], rules, T0).decisions}
    assert queues == {"cardiology_triage", "clinical_review"}


def test_a_rules_file_loads_from_disk(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(GOOD, encoding="utf-8")
    rules = load_path(path)
    assert [rule.id for rule in rules.rules] == ["two_no_shows"]
    assert rules.rules[0].line == 2


def _error(text: str) -> RuleLoadError:
    with pytest.raises(RuleLoadError) as info:
        load_toml(text, source="bad.toml")
    return info.value


def test_toml_syntax_error_names_the_line():
    error = _error(GOOD.replace('due = "1bd"', 'due = "1bd'))
    assert error.rule_id is None
    assert error.line == 12
    assert "TOML syntax error" in error.reason
    assert str(error).startswith("bad.toml:12: ")


def test_unknown_field_names_rule_and_line():
    error = _error(GOOD.replace("min_no_shows = 2", "min_no_shows = 2\nmax_no_shows = 3"))
    assert (error.rule_id, error.line) == ("two_no_shows", 8)
    assert "unknown field 'max_no_shows'" in error.reason
    assert "rule 'two_no_shows'" in str(error)


def test_unknown_rule_field_is_rejected():
    error = _error(GOOD.replace('id = "two_no_shows"', 'id = "two_no_shows"\nowner = "me"'))
    assert (error.rule_id, error.line) == ("two_no_shows", 4)
    assert "unknown field 'owner'" in error.reason


def test_bad_duration_is_rejected():
    error = _error(GOOD.replace('due = "1bd"', 'due = "tomorrow"'))
    assert (error.rule_id, error.line) == ("two_no_shows", 12)
    assert "bad duration" in error.reason


def test_unknown_queue_is_rejected():
    error = _error(GOOD.replace('queue = "scheduling"', 'queue = "billing"'))
    assert error.rule_id == "two_no_shows"
    assert error.line == 2
    assert "unknown queue 'billing'" in error.reason


def test_unknown_trigger_is_rejected():
    text = GOOD.replace(
        'action = "open_task"\nqueue = "scheduling"\ntitle = "Call the patient"\ndue = "1bd"',
        'action = "fire"\ntrigger = "discharge"',
    )
    error = _error(text)
    assert (error.rule_id, error.line) == ("two_no_shows", 10)
    assert "unknown value 'discharge'" in error.reason


def test_trigger_the_lifecycle_refuses_is_rejected():
    text = GOOD.replace(
        'action = "open_task"\nqueue = "scheduling"\ntitle = "Call the patient"\ndue = "1bd"',
        'action = "fire"\ntrigger = "accept"',
    )
    error = _error(text)
    assert error.rule_id == "two_no_shows"
    assert "refuses 'accept'" in error.reason
    assert "ready_to_schedule" in error.reason


def test_trigger_the_system_may_not_fire_is_rejected():
    text = GOOD.replace(
        'action = "open_task"\nqueue = "scheduling"\ntitle = "Call the patient"\ndue = "1bd"',
        'action = "fire"\ntrigger = "cancel"\ndata = { reason = "other" }',
    )
    assert "refuses 'cancel' for the system" in _error(text).reason


def test_invalid_trigger_data_is_rejected():
    text = GOOD.replace(
        'action = "open_task"\nqueue = "scheduling"\ntitle = "Call the patient"\ndue = "1bd"',
        'action = "fire"\ntrigger = "mark_lost"\ndata = { reason = "bored" }',
    )
    assert "invalid data for 'mark_lost' (reason)" in _error(text).reason


def test_circular_escalation_is_rejected():
    text = (
        '[queues.a]\ntitle = "A"\nescalates_to = "b"\n'
        '[queues.b]\ntitle = "B"\nescalates_to = "a"\n' + GOOD
    )
    error = _error(text)
    assert error.rule_id is None
    assert "circular escalation: a -> b -> a" in error.reason


def test_handoff_outside_the_call_type_is_rejected():
    text = GOOD.replace("min_no_shows = 2", 'call_type = ["status_inquiry"]').replace(
        '"scheduling"', '"clinical_review"'
    )
    error = _error(text)
    assert "call type 'status_inquiry' may not hand off to queue 'clinical_review'" in error.reason


def test_every_problem_is_listed():
    text = GOOD.replace('due = "1bd"', 'due = "soon"') + GOOD.replace(
        "two_no_shows", "other"
    ).replace('"scheduling"', '"nowhere"')
    error = _error(text)
    assert [p[0] for p in error.problems] == ["two_no_shows", "other"]


def test_registry_keeps_the_previous_rules_when_a_load_fails(tmp_path):
    registry = RuleRegistry()
    good = registry.load_toml(GOOD, source="good.toml")
    for bad in (
        GOOD.replace('due = "1bd"', 'due = "1bd'),  # syntax
        GOOD.replace("min_no_shows", "most_no_shows"),  # unknown field
        '[queues.a]\nescalates_to = "a"\n' + GOOD,  # circular
        GOOD.replace(
            'action = "open_task"\nqueue = "scheduling"\ntitle = "Call the patient"\ndue = "1bd"',
            'action = "fire"\ntrigger = "close_loop"\ndata = { report_reference = "r" }',
        ),  # refused trigger
    ):
        with pytest.raises(RuleLoadError):
            registry.load_toml(bad, source="bad.toml")
        assert registry.active is good
    missing = tmp_path / "missing.toml"
    with pytest.raises(RuleLoadError, match="cannot read file"):
        registry.load_path(missing)
    assert registry.active is good


def test_rules_written_in_python_are_validated_too():
    rule = Rule(
        id="to_billing",
        description="Nowhere to go",
        when=Condition(status={ReferralStatus.RECEIVED}),
        then=(Action.open_task("billing", "x", due="1h"),),
    )
    with pytest.raises(RuleLoadError, match="unknown queue 'billing'") as info:
        RuleSet([rule])
    assert info.value.line is None
    assert info.value.source == "<python>"


def test_duplicate_rule_ids_are_rejected():
    rule = default_rules().rules[0]
    with pytest.raises(RuleLoadError, match="duplicate rule id"):
        RuleSet([rule, rule])


def test_queue_config_rejects_undeclared_supervisor():
    config = QueueConfig(queues={"a": Queue("a", "A", "ghost")}, handoffs={})
    assert config.problems() == ["queue 'a' escalates to undeclared queue 'ghost'"]


def test_python_rule_with_every_condition_field_compiles_and_explains():
    condition = Condition(
        status={ReferralStatus.READY_TO_SCHEDULE},
        priority={Priority.ROUTINE},
        specialty={"Cardiology"},
        payer={"Acme"},
        call_type={"schedule_appointment"},
        flags_any={"x"},
        flags_none={"y"},
        min_no_shows=1,
        min_attempts=1,
        in_state_for="1d",
        since_event=EventAge("no_show", "1h"),
        auth_expires_before_appointment=False,
        auth_expiring_within="14d",
        records_pending_within="3d",
        auto_accept=False,
        sla_breached="booking",
    )
    rule = Rule(
        id="everything",
        description="Every field",
        when=condition,
        then=(Action.open_task("scheduling", "t", due="1h", priority=TaskPriority.LOW),),
    )
    rules = RuleSet([rule])
    referral = Referral(status=ReferralStatus.READY_TO_SCHEDULE, specialty="cardiology")
    (explanation,) = explain(referral, [], rules, T0)
    assert not explanation.matched
    assert len(explanation.checks) == 16
    assert explanation.reason.startswith("not matched: payer saw none")


def test_disabled_rule_never_matches():
    rule = Rule(
        id="off",
        description="Switched off",
        when=Condition(),
        then=(Action.open_task("scheduling", "t", due="1h"),),
        enabled=False,
    )
    rules = RuleSet([rule])
    assert evaluate(Referral(), [], rules, T0).decisions == ()
    (explanation,) = explain(Referral(), [], rules, T0)
    assert (explanation.matched, explanation.reason) == (False, "rule is disabled")


def test_explain_lists_every_rule_with_a_reason():
    referral = Referral(status=ReferralStatus.RECEIVED, priority=Priority.URGENT)
    explanations = explain(referral, [], default_rules(), T0 + timedelta(hours=5))
    assert [e.rule_id for e in explanations] == [r.id for r in default_rules().rules]
    by_id = {e.rule_id: e for e in explanations}
    assert by_id["urgent_priority"].matched
    assert by_id["urgent_priority"].outcomes[0].startswith("open_task -> urgent_clinical")
    assert by_id["needs_acceptance"].reason == (
        "not matched: priority saw urgent, needs one of routine"
    )
    assert all(e.reason for e in explanations)


def test_python_examples_in_the_routing_docs_run():
    text = (ROOT / "docs" / "routing.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 3
    for block in blocks:
        exec(compile(block, "docs/routing.md", "exec"), {})  # noqa: S102 - our own documentation
