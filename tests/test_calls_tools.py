"""Tool definitions: JSON Schema 2020-12, round-trips with their models, and the role guard."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referralkit import __version__
from referralkit.calls import OPERATIONS, TOOLS_VERSION, CallTools, permitted, tool_definitions
from referralkit.calls.tools import check_values, record_turn_model, startable_call_types
from referralkit.errors import (
    ToolArgumentsError,
    ToolError,
    ToolNotPermittedError,
    UnknownCallError,
)
from referralkit.intake import FIELDS, CallType
from referralkit.lifecycle import ROLE_TRIGGERS
from referralkit.model import Actor, ActorKind, Role
from tests.support.calls_world import world

ROLES = list(Role)
CALL_TYPES: list[CallType | None] = [None, *CallType]
UUID_TEXT = "00000000-0000-4000-8000-000000000001"


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
@pytest.mark.parametrize("call_type", CALL_TYPES, ids=lambda c: c.value if c else "any")
def test_every_tool_schema_is_valid_json_schema_2020_12(role, call_type):
    tools = tool_definitions(role, call_type)
    for tool in tools.tools:
        jsonschema.Draft202012Validator.check_schema(tool.parameters)
        document = tool.json_schema()
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert TOOLS_VERSION in document["$id"]
        assert "$ref" not in json.dumps(tool.parameters)  # inlined for LLM tool calling


def test_tools_are_versioned_with_the_library():
    assert TOOLS_VERSION == __version__ == tool_definitions(Role.INTAKE).version


def test_openai_and_anthropic_shapes_carry_the_same_schema():
    tools = tool_definitions(Role.INTAKE, "status_inquiry")
    for openai, anthropic, tool in zip(
        tools.openai(), tools.anthropic(), tools.tools, strict=True
    ):
        assert openai == {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        assert anthropic == {
            "name": tool.name,
            "description": tool.description,
            "input_schema": tool.parameters,
        }


def test_record_turn_lists_exactly_the_call_types_fields():
    for kind in CallType:
        schema = tool_definitions(Role.INTAKE, kind).tools[1].parameters
        values = schema["properties"]["values"]
        assert set(values["properties"]) == set(FIELDS[kind])
        assert values["additionalProperties"] is False
    topic = tool_definitions(Role.INTAKE, "visit_preparation").tools[1].parameters
    choices = topic["properties"]["values"]["properties"]["question.topic"]["anyOf"][0]["enum"]
    assert choices == list(FIELDS[CallType.VISIT_PREPARATION]["question.topic"].choices)


def _value(kind: str, choices: tuple[str, ...]) -> st.SearchStrategy[Any]:
    if kind == "choice":
        return st.sampled_from(choices)
    text = st.text(min_size=1, max_size=20)
    if kind in ("phones", "icd10", "text_list"):
        return st.lists(text, max_size=3)
    return text


@st.composite
def _turns(draw: st.DrawFn, kind: CallType) -> dict[str, Any]:
    paths = draw(st.lists(st.sampled_from(sorted(FIELDS[kind])), unique=True, max_size=8))
    values: dict[str, Any] = {}
    for path in paths:
        definition = FIELDS[kind][path]
        values[path] = draw(st.none() | _value(definition.kind, definition.choices))
    return {"call_id": UUID_TEXT, "values": values}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(CallType)).flatmap(lambda k: st.tuples(st.just(k), _turns(k))))
def test_record_turn_arguments_round_trip_through_schema_and_model(case):
    kind, arguments = case
    schema = tool_definitions(Role.INTAKE, kind).tools[1].parameters
    _validator(schema).validate(arguments)
    model = record_turn_model(kind)
    parsed = model.model_validate(arguments)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == arguments
    assert (
        model.model_json_schema(by_alias=True)["properties"].keys() == schema["properties"].keys()
    )


def _any_value() -> st.SearchStrategy[Any]:
    scalar = st.none() | st.booleans() | st.integers() | st.text(max_size=3)
    return scalar | st.lists(scalar, max_size=2) | st.text(min_size=999, max_size=1001)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(list(CallType)).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.dictionaries(
                st.sampled_from([*sorted(FIELDS[k]), "patient", "unknown.field"]),
                _any_value() | _value(*_shape(k)),
                max_size=4,
            ),
        )
    )
)
def test_the_runtime_check_agrees_with_the_schema_model(case):
    kind, values = case
    arguments = {"call_id": UUID_TEXT, "values": values}
    try:
        record_turn_model(kind).model_validate(arguments)
    except ValueError:
        model_ok = False
    else:
        model_ok = True
    assert (check_values(kind, values) == []) == model_ok


def _shape(kind: CallType) -> tuple[str, tuple[str, ...]]:
    choice = next((d for d in FIELDS[kind].values() if d.kind == "choice"), None)
    return ("choice", choice.choices) if choice else ("text", ())


@pytest.mark.parametrize(
    "arguments",
    [
        {"call_id": UUID_TEXT, "values": {"question.topic": "gossip"}},
        {"call_id": UUID_TEXT, "values": {"patient": {"family_name": "Rivera"}}},
        {"call_id": "not-a-uuid", "values": {}},
        {"values": {}},
    ],
)
def test_schema_and_model_refuse_the_same_arguments(arguments):
    schema = tool_definitions(Role.INTAKE, "visit_preparation").tools[1].parameters
    assert list(_validator(schema).iter_errors(arguments))
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic's ValidationError
        record_turn_model("visit_preparation").model_validate(arguments)


def test_every_argument_model_round_trips():
    examples = {
        "start_call": {"call_type": "status_inquiry", "language": "es", "caller_role": "patient"},
        "answer_status": {"call_id": UUID_TEXT},
        "visit_preparation": {"call_id": UUID_TEXT, "topic": "cost", "question": "How much?"},
        "hand_off": {"call_id": UUID_TEXT, "queue": "scheduling", "reason": "urgent"},
        "log_interaction": {"call_id": UUID_TEXT},
    }
    tools = {t.name: t for t in tool_definitions(Role.INTAKE, "status_inquiry").tools}
    tools |= {t.name: t for t in tool_definitions(Role.INTAKE, "visit_preparation").tools}
    tools["start_call"] = tool_definitions(Role.INTAKE).tools[0]
    for name, arguments in examples.items():
        tool = tools[name]
        _validator(dict(tool.parameters)).validate(arguments)
        dumped = tool.model.model_validate(arguments).model_dump(mode="json", exclude_unset=True)
        assert dumped == arguments


# -- the role guard --


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_an_agent_is_given_exactly_the_tools_its_role_may_use(role):
    for kind in CALL_TYPES:
        names = set(tool_definitions(role, kind).names)
        assert names == {op for op in OPERATIONS if permitted(role, op, kind)}


def test_the_guard_follows_the_lifecycle_role_table():
    for role in ROLES:
        for kind in CallType:
            for name, op in OPERATIONS.items():
                if permitted(role, name, kind):
                    assert all(t in ROLE_TRIGGERS[role] for t in op.triggers.get(kind, ()))
    # A scheduler may not complete intake, so it may not take a new referral at all.
    assert CallType.NEW_REFERRAL not in startable_call_types(Role.SCHEDULER)
    assert tool_definitions(Role.SCHEDULER, "new_referral").tools == ()
    assert startable_call_types(Role.REFERRER) == (CallType.NEW_REFERRAL,)
    assert startable_call_types(Role.CLINICIAN) == startable_call_types(Role.SYSTEM) == ()
    assert tool_definitions(Role.CLINICIAN).tools == ()


def test_a_call_outside_the_actors_role_is_refused():
    desk, _, _ = world()
    scheduler = CallTools(desk, Actor(kind=ActorKind.AI, id="ai-sched", role=Role.SCHEDULER))
    with pytest.raises(ToolNotPermittedError) as exc:
        scheduler.invoke("start_call", {"call_type": "new_referral"})
    assert (exc.value.tool, exc.value.role, exc.value.call_type) == (
        "start_call",
        "scheduler",
        "new_referral",
    )
    referrer = CallTools(desk, Actor(kind=ActorKind.AI, id="ai-ref", role=Role.REFERRER))
    call = referrer.invoke("start_call", {"call_type": "new_referral"})
    with pytest.raises(ToolNotPermittedError, match="may not use tool 'answer_status'"):
        referrer.invoke("answer_status", {"call_id": call["call_id"]})
    with pytest.raises(ToolNotPermittedError):
        referrer.invoke("start_call", {"call_type": "status_inquiry"})
    system = CallTools(desk, Actor(kind=ActorKind.SYSTEM, id="cron", role=Role.SYSTEM))
    # Refused before the arguments are read: even garbage gets the permission error.
    with pytest.raises(ToolNotPermittedError):
        system.invoke("record_turn", "not json")


def test_a_tool_that_does_not_fit_the_call_type_is_refused():
    _, tools, _ = world()
    call = tools.invoke("start_call", {"call_type": "new_referral"})
    with pytest.raises(ToolNotPermittedError, match="on a new_referral call"):
        tools.invoke("visit_preparation", {"call_id": call["call_id"]})


def test_bad_arguments_raise_typed_errors_without_the_values():
    _, tools, _ = world()
    call = tools.invoke("start_call", {"call_type": "visit_preparation"})
    with pytest.raises(ToolArgumentsError) as exc:
        tools.invoke(
            "record_turn",
            {"call_id": call["call_id"], "values": {"patient.family_name": 7, "Zqcanary": "x"}},
        )
    assert {e["loc"] for e in exc.value.errors()} == {
        ("values", "patient.family_name"),
        ("values", "Zqcanary"),
    }
    assert "Zqcanary" in str(exc.value)  # the unknown key is named, like a field path
    assert exc.value.__cause__ is None
    with pytest.raises(UnknownCallError):
        tools.invoke("record_turn", {"call_id": UUID_TEXT, "values": {}})
    with pytest.raises(ToolError, match="unknown tool"):
        tools.invoke("cancel_everything", {})
    with pytest.raises(ToolError, match="still needs"):
        tools.invoke("visit_preparation", {"call_id": call["call_id"]})
    with pytest.raises(ToolArgumentsError, match="Not an approved hand-off"):
        tools.invoke(
            "hand_off",
            {"call_id": call["call_id"], "queue": "authorization", "reason": "other"},
        )


def test_invoke_json_returns_errors_as_results():
    _, tools, _ = world()
    result = json.loads(tools.invoke_json("record_turn", '{"call_id": "x", "values": {}}'))
    assert result["error"]["code"] == "invalid_arguments"
    started = json.loads(tools.invoke_json("start_call", '{"call_type": "status_inquiry"}'))
    assert started["next_question"]["field"] == "caller.role"


@pytest.mark.parametrize("call_id", [[], {}, 7, None])
def test_a_call_id_of_the_wrong_type_is_an_argument_error(call_id):
    _, tools, _ = world()
    tools.invoke("start_call", {"call_type": "status_inquiry"})
    with pytest.raises(ToolArgumentsError):
        tools.invoke("record_turn", {"call_id": call_id, "values": {}})


def test_a_dropped_call_is_forgotten_and_returns_its_record():
    _, tools, _ = world()
    call = tools.invoke("start_call", {"call_type": "status_inquiry", "caller_role": "patient"})
    tools.invoke("record_turn", {"call_id": call["call_id"], "values": {"referral_number": "X-1"}})
    record = tools.drop(call["call_id"])
    assert (record.outcome, record.call_type, record.caller_role) == (
        "abandoned",
        "status_inquiry",
        "patient",
    )
    with pytest.raises(UnknownCallError):
        tools.invoke("log_interaction", {"call_id": call["call_id"]})
