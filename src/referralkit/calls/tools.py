"""Tool definitions for AI agents, guarded by the agent's actor role.

JSON Schema generated from the call-type specs and desk operations, in the shapes LLM tool
calling expects.

Each operation a call may use has a pydantic model for its arguments; the tool's ``parameters``
are that model's JSON Schema (draft 2020-12, the dialect OpenAI and Anthropic tool calling
read), with ``$ref`` inlined. ``record_turn``'s ``values`` lists the fields of the call type
being captured, with their choices, from :data:`referralkit.intake.FIELDS` and the spec.

The guard: :func:`permitted` decides from the actor's role (and the lifecycle's
:data:`~referralkit.lifecycle.ROLE_TRIGGERS` for operations that fire a trigger) whether an
agent may use an operation on a call type. :func:`tool_definitions` gives an agent only the
tools it may call, and :class:`~referralkit.calls.CallTools` refuses any other with
:class:`~referralkit.errors.ToolNotPermittedError`.

Slot search and booking (``find_slots``, ``book_slot``) are tools on a
``schedule_appointment`` call when the desk's EHR offers slots: an agent offers only the
slots the EHR returned, and books one of those.

.. versionadded:: 0.1
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal
from uuid import UUID

import attrs
from pydantic import BaseModel, ConfigDict, Field, create_model

from referralkit._version import __version__
from referralkit.intake import FIELDS, CallType, IntakeConfig
from referralkit.intake.fields import CallerRole, VisitTopic
from referralkit.lifecycle import ROLE_TRIGGERS, Trigger
from referralkit.model import Role
from referralkit.routing.queues import DEFAULT_HANDOFFS

__all__ = [
    "OPERATIONS",
    "TOOLS_VERSION",
    "CallIdArgs",
    "HandOffArgs",
    "Operation",
    "StartCallArgs",
    "ToolDefinition",
    "ToolSet",
    "VisitPreparationArgs",
    "check_values",
    "handoff_queues",
    "permitted",
    "record_turn_model",
    "startable_call_types",
    "tool_definitions",
    "values_model",
]

TOOLS_VERSION: Final = __version__
"""The tool definitions' version: the library's; a changed schema comes with a new release."""
SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

_CallTypeName = Literal[
    "new_referral",
    "schedule_appointment",
    "status_inquiry",
    "authorization_question",
    "records_transfer",
    "visit_preparation",
    "practice_coordination",
]
_Reason = Literal[
    "caller_asked_for_person",
    "question_not_answered",
    "clinical_question",
    "urgent",
    "caller_not_verified",
    "other",
]
_Args = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)
_CallId = UUID
_Question = Field(
    default=None,
    max_length=500,
    description="The caller's question in their own words, for the person who calls back.",
)


class StartCallArgs(BaseModel):
    """Arguments of ``start_call``."""

    model_config = _Args

    call_type: _CallTypeName = Field(description="What the call is about.")
    language: Literal["en", "es"] = Field(
        default="en", description="The caller's language: questions and answers use it."
    )
    caller_role: CallerRole | None = Field(
        default=None,
        description="Who is calling, when known: questions are worded for them and answers "
        "are given only to a verified patient, caregiver or practice.",
    )


class CallIdArgs(BaseModel):
    """Arguments of the operations that need only the call (``answer_status``...)."""

    model_config = _Args

    call_id: _CallId = Field(description="The call_id start_call returned.")


class VisitPreparationArgs(BaseModel):
    """Arguments of ``visit_preparation``."""

    model_config = _Args

    call_id: _CallId = Field(description="The call_id start_call returned.")
    topic: VisitTopic | None = Field(
        default=None,
        description="What the caller asks about; leave out to use the topic already recorded. "
        "'other' always goes to a person.",
    )
    question: str | None = _Question
    visit_type: str | None = Field(
        default=None, max_length=100, description="The kind of visit booked, if known."
    )


class FindSlotsArgs(BaseModel):
    """Arguments of ``find_slots``.

    .. versionadded:: 0.3
    """

    model_config = _Args

    call_id: _CallId = Field(description="The call_id start_call returned.")
    days_ahead: int = Field(
        default=14, ge=1, le=90, description="How many days ahead to look for open slots."
    )
    location: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The location the caller prefers, as a previous find_slots named it.",
    )


class BookSlotArgs(BaseModel):
    """Arguments of ``book_slot``.

    .. versionadded:: 0.3
    """

    model_config = _Args

    call_id: _CallId = Field(description="The call_id start_call returned.")
    slot_id: str = Field(
        min_length=1, max_length=64, description="A slot_id find_slots offered on this call."
    )


class HandOffArgs(BaseModel):
    """Arguments of ``hand_off``."""

    model_config = _Args

    call_id: _CallId = Field(description="The call_id start_call returned.")
    queue: str = Field(description="The human queue to hand the call to.")
    reason: _Reason = Field(description="Why a person must take over.")
    question: str | None = _Question


# -- Values of a turn, from the field catalogue -----------------------------------------------

_DESCRIBE: Final[Mapping[str, str]] = {
    "name": "A name as the caller says it.",
    "phone": "A phone number in any written form.",
    "practice_phone": "A phone or fax number in any written form.",
    "phones": "Phone numbers in any written form.",
    "npi": "A 10-digit National Provider Identifier.",
    "birth_date": "A date of birth, YYYY-MM-DD (MM/DD/YYYY is read too).",
    "future_date": "A date, YYYY-MM-DD.",
    "icd10": "ICD-10-CM codes such as E11.9.",
    "referral_number": "The referral number as written on the referral.",
    "state": "A US state (code or name).",
    "zip": "A US ZIP code.",
    "email": "An email address.",
    "member_id": "The member ID on the insurance card.",
    "priority": "The priority the referrer stated: routine, urgent, asap or stat.",
    "language": "A language tag such as en or es.",
    "text_list": "Items as the caller lists them.",
}
_LIST_KINDS: Final = frozenset({"phones", "icd10", "text_list"})


def _field_type(kind: str, choices: tuple[str, ...]) -> Any:
    if kind == "choice":
        return Literal[choices]
    if kind in _LIST_KINDS:
        return list[str]
    return str


def _python_name(path: str) -> str:
    return path.replace(".", "__")


@functools.cache
def _values_model(call_type: CallType | None, names: tuple[CallType, ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    kinds = (call_type,) if call_type is not None else names
    for kind in kinds:
        for path, definition in FIELDS[kind].items():
            if path in fields:
                continue
            description = (
                "One of the listed choices."
                if definition.kind == "choice"
                else _DESCRIBE.get(definition.kind, "Free text as the caller says it.")
            )
            if definition.phi:
                description += " Protected health information: never repeat it in logs."
            annotation = _field_type(definition.kind, definition.choices)
            field = (
                Field(default=None, alias=path, description=description, max_length=1000)
                if annotation is str
                else Field(default=None, alias=path, description=description)
            )
            fields[_python_name(path)] = (annotation | None, field)
    name = "".join(p.title() for p in (call_type.value if call_type else "any_call").split("_"))
    model: type[BaseModel] = create_model(
        f"{name}Values",
        __config__=ConfigDict(
            frozen=True, extra="forbid", populate_by_name=True, hide_input_in_errors=True
        ),
        __doc__="The values the caller gave in one turn, by dotted field path; null clears one.",
        **fields,
    )
    return model


def values_model(call_type: CallType | str | None = None) -> type[BaseModel]:
    """Return the model of one turn's values for *call_type*, keyed by dotted field path.

    Without a call type: every field of every call type.
    """
    kind = CallType.coerce(call_type) if call_type is not None else None
    return _values_model(kind, tuple(CallType))


@functools.cache
def _record_turn_model(call_type: CallType | None) -> type[BaseModel]:
    values = _values_model(call_type, tuple(CallType))
    model: type[BaseModel] = create_model(
        "RecordTurnArgs",
        __config__=_Args,
        __doc__="Arguments of record_turn.",
        call_id=(_CallId, Field(description="The call_id start_call returned.")),
        values=(
            values,
            Field(description="What the caller said this turn, by field path (null clears)."),
        ),
    )
    return model


def record_turn_model(call_type: CallType | str | None = None) -> type[BaseModel]:
    """Return the arguments model of ``record_turn`` for *call_type* (any call when ``None``)."""
    kind = CallType.coerce(call_type) if call_type is not None else None
    return _record_turn_model(kind)


# What record_turn's schema allows for each field: a string (up to 1,000 characters), a list
# of strings, or one of its choices; null everywhere. Checked on every turn, so a plain table
# rather than a pydantic pass (which costs about as much as the turn itself).
_Shape = frozenset[str] | type[str] | type[list[str]]


def _shapes_of(call_type: CallType) -> dict[str, _Shape]:
    shapes: dict[str, _Shape] = {}
    for path, definition in FIELDS[call_type].items():
        if definition.kind == "choice":
            shapes[path] = frozenset(definition.choices)
        elif definition.kind in _LIST_KINDS:
            shapes[path] = list
        else:
            shapes[path] = str
    return shapes


# By the call type's value: looking a str up costs a fraction of hashing an enum member.
_SHAPES: Final[Mapping[str, Mapping[str, _Shape]]] = {
    kind.value: _shapes_of(kind) for kind in CallType
}


# The fields of each call type whose schema is plain text (a str of up to 1,000 characters).
_TEXT_PATHS: Final[Mapping[str, frozenset[str]]] = {
    kind: frozenset(p for p, shape in shapes.items() if shape is str)
    for kind, shapes in _SHAPES.items()
}


def check_values(call_type: CallType | str, values: object) -> list[dict[str, Any]]:
    """Return how *values* breaks ``record_turn``'s schema for *call_type* (empty: it fits).

    Gives the same verdict as validating with :func:`record_turn_model` (a property test
    checks it), at a fraction of the cost; each problem is ``{"loc", "type", "msg"}`` without
    the value.
    """
    if type(values) is not dict and not isinstance(values, Mapping):
        return [{"loc": ("values",), "type": "model_type", "msg": "Must be an object."}]
    kind = call_type if isinstance(call_type, str) else call_type.value
    if values.keys() <= _TEXT_PATHS[kind]:
        # Every field is free text (most turns): one set comparison, then the values.
        for value in values.values():
            if value is not None and (type(value) is not str or len(value) > 1000):
                break
        else:
            return []
    shapes = _SHAPES[kind]
    problems: list[dict[str, Any]] = []
    for path, value in values.items():
        shape = shapes.get(path) if isinstance(path, str) else None
        if shape is None:
            problems.append(
                {"loc": ("values", path), "type": "extra_forbidden", "msg": "Unknown field."}
            )
        elif value is None:
            continue
        elif shape is str:
            if not isinstance(value, str) or len(value) > 1000:
                problems.append(
                    {"loc": ("values", path), "type": "string_type", "msg": "Must be text."}
                )
        elif shape is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(
                    {
                        "loc": ("values", path),
                        "type": "list_type",
                        "msg": "Must be a list of text.",
                    }
                )
        elif not isinstance(value, str) or value not in shape:  # type: ignore[operator]
            problems.append(
                {
                    "loc": ("values", path),
                    "type": "literal_error",
                    "msg": "Not one of the choices.",
                }
            )
    return problems


# -- Operations and the role guard ------------------------------------------------------------

_CALL_ROLES: Final = frozenset({Role.INTAKE, Role.SCHEDULER})
_ALL_CALLS: Final = frozenset(CallType)
# A referring practice's agent only sends referrals; answering callers stays with the desk.
_REFERRER_CALLS: Final = frozenset({CallType.NEW_REFERRAL})


@attrs.frozen
class Operation:
    """A desk operation a call may use, and who may use it on which call types.

    :ivar triggers: lifecycle triggers the operation fires on these call types; the actor's
        role must be allowed to fire each (:data:`~referralkit.lifecycle.ROLE_TRIGGERS`).

    .. versionadded:: 0.1
    """

    name: str
    description: str
    roles: Mapping[Role, frozenset[CallType]]
    triggers: Mapping[CallType, tuple[Trigger, ...]] = attrs.field(factory=dict)
    binds_call: bool = True


def _roles(*, referrer: bool = False, calls: Iterable[CallType] = _ALL_CALLS) -> dict[Role, Any]:
    kinds = frozenset(calls)
    roles: dict[Role, frozenset[CallType]] = dict.fromkeys(_CALL_ROLES, kinds)
    if referrer:
        roles[Role.REFERRER] = kinds & _REFERRER_CALLS
    return roles


# Taking a new referral ends in complete_intake: an agent whose role may not fire it may not
# take the call at all (no tool on it), rather than capture a referral it can never submit.
_NEW_REFERRAL_TRIGGERS: Final[Mapping[CallType, tuple[Trigger, ...]]] = {
    CallType.NEW_REFERRAL: ("complete_intake",)
}

OPERATIONS: Final[Mapping[str, Operation]] = {
    op.name: op
    for op in (
        Operation(
            "start_call",
            "Start capturing a call of one type. Returns the call_id for the other tools and "
            "the first question to ask, worded for the caller.",
            _roles(referrer=True),
            _NEW_REFERRAL_TRIGGERS,
            binds_call=False,
        ),
        Operation(
            "record_turn",
            "Record what the caller said this turn (values by field path). Returns whether the "
            "call is complete, what is missing, what was rejected and why, a read-back to "
            "confirm, and the next question to ask.",
            _roles(referrer=True),
            _NEW_REFERRAL_TRIGGERS,
        ),
        Operation(
            "answer_status",
            "Answer where the referral stands, what happens next and who owns it, for a "
            "verified caller. An unverified caller hears only that staff will follow up.",
            _roles(calls=(CallType.STATUS_INQUIRY, CallType.AUTHORIZATION_QUESTION)),
        ),
        Operation(
            "visit_preparation",
            "Answer what to bring, when to arrive, where to go, how to prepare, how long it "
            "takes, cost and rescheduling, from the practice's approved content and the "
            "referral's facts. A question the content does not answer is handed to a person: "
            "never answer it yourself.",
            _roles(calls=(CallType.VISIT_PREPARATION,)),
        ),
        Operation(
            "find_slots",
            "Find open appointment slots for the referral the verified caller is scheduling "
            "(the specialty, its priority, the authorization's dates and the patient's "
            "preferred days and times). Offer only these: never invent a time.",
            _roles(calls=(CallType.SCHEDULE_APPOINTMENT,)),
        ),
        Operation(
            "book_slot",
            "Book one slot find_slots offered on this call, once the caller chose it and you "
            "read it back. The referral is scheduled when the practice's system confirms.",
            _roles(calls=(CallType.SCHEDULE_APPOINTMENT,)),
            {CallType.SCHEDULE_APPOINTMENT: ("schedule",)},
        ),
        Operation(
            "hand_off",
            "Hand the call to a human queue (the caller asked for a person, a clinical or "
            "urgent question, anything you cannot answer from a tool).",
            _roles(referrer=True),
            _NEW_REFERRAL_TRIGGERS,
        ),
        Operation(
            "log_interaction",
            "Finish the call: log it on the referral (or create the referral, for a complete "
            "new_referral) with the hand-offs it needs. Call it once, last.",
            _roles(referrer=True),
            _NEW_REFERRAL_TRIGGERS,
        ),
    )
}
"""Every operation an agent may be given, by tool name."""


@functools.cache
def permitted(role: Role, operation: str, call_type: CallType | None = None) -> bool:
    """Return whether an actor in *role* may use *operation* (on *call_type*, if given).

    Without a call type: whether it may use it on some call type.
    """
    op = OPERATIONS.get(operation)
    if op is None:
        return False
    kinds = op.roles.get(role, frozenset())
    if call_type is not None:
        kinds = kinds & {call_type}
    allowed = ROLE_TRIGGERS[role]
    return any(all(t in allowed for t in op.triggers.get(kind, ())) for kind in kinds)


def startable_call_types(role: Role) -> tuple[CallType, ...]:
    """Return the call types an actor in *role* may start, in catalogue order."""
    return tuple(kind for kind in CallType if permitted(role, "start_call", kind))


# -- Definitions ------------------------------------------------------------------------------


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    # LLM tool calling handles $ref unevenly: inline every definition (none is recursive).
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = copy.deepcopy(defs[ref.removeprefix("#/$defs/")])
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return walk({**target, **rest})
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


@attrs.frozen
class ToolDefinition:
    """One tool: its name, description, argument model and JSON Schema ``parameters``.

    .. versionadded:: 0.1
    """

    name: str
    description: str
    model: type[BaseModel]
    parameters: Mapping[str, Any] = attrs.field(repr=False)

    def openai(self) -> dict[str, Any]:
        """Return the tool in OpenAI's function-calling shape."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(dict(self.parameters)),
            },
        }

    def anthropic(self) -> dict[str, Any]:
        """Return the tool in Anthropic's tool-use shape."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": copy.deepcopy(dict(self.parameters)),
        }

    def json_schema(self) -> dict[str, Any]:
        """Return ``parameters`` as a standalone JSON Schema document.

        It names its dialect (``$schema``) and has an ``$id`` holding :data:`TOOLS_VERSION`.
        """
        return {
            "$schema": SCHEMA_DIALECT,
            "$id": f"urn:referralkit:tools:{TOOLS_VERSION}:{self.name}",
            **copy.deepcopy(dict(self.parameters)),
        }


@attrs.frozen
class ToolSet:
    """The tools one agent may call, for one call type or for any.

    .. versionadded:: 0.1
    """

    version: str
    role: Role
    call_type: CallType | None
    tools: tuple[ToolDefinition, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The tool names, in order."""
        return tuple(t.name for t in self.tools)

    def openai(self) -> list[dict[str, Any]]:
        """Return every tool in OpenAI's shape."""
        return [t.openai() for t in self.tools]

    def anthropic(self) -> list[dict[str, Any]]:
        """Return every tool in Anthropic's shape."""
        return [t.anthropic() for t in self.tools]


def _schema(
    model: type[BaseModel], patch: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    schema = _inline(model.model_json_schema(by_alias=True))
    for name, extra in (patch or {}).items():
        schema["properties"][name].update(extra)
    return schema


def handoff_queues(call_type: CallType | None, config: IntakeConfig | None = None) -> list[str]:
    """Return the queues a call of *call_type* may hand off to (any call's when ``None``).

    The call type's own escalation queues come first, then the routing defaults' approved
    hand-offs for it.
    """
    kinds = (call_type,) if call_type is not None else tuple(CallType)
    specs = (config or IntakeConfig()).specs
    found: dict[str, None] = {}
    for kind in kinds:
        found.update(dict.fromkeys(specs[kind].handoffs))
    for kind in kinds:
        found.update(dict.fromkeys(sorted(DEFAULT_HANDOFFS[kind.value])))
    return list(found)


def tool_definitions(
    role: Role,
    call_type: CallType | str | None = None,
    *,
    config: IntakeConfig | None = None,
) -> ToolSet:
    """Return the tools an agent acting in *role* may call, for *call_type* or any call.

    For a call type, ``record_turn`` lists exactly its fields and ``hand_off`` its approved
    queues; without one they list those of every call type the role may take.

    .. versionadded:: 0.1
    """
    kind = CallType.coerce(call_type) if call_type is not None else None
    tools: list[ToolDefinition] = []
    for name, op in OPERATIONS.items():
        if not permitted(role, name, kind):
            continue
        if name == "start_call":
            model: type[BaseModel] = StartCallArgs
            startable = [k.value for k in startable_call_types(role)]
            if kind is not None:
                startable = [kind.value]
            parameters = _schema(model, {"call_type": {"enum": startable}})
        elif name == "record_turn":
            model = record_turn_model(kind)
            parameters = _schema(model)
        elif name == "hand_off":
            model = HandOffArgs
            parameters = _schema(model, {"queue": {"enum": handoff_queues(kind, config)}})
        elif name == "visit_preparation":
            model = VisitPreparationArgs
            parameters = _schema(model)
        elif name == "find_slots":
            model = FindSlotsArgs
            parameters = _schema(model)
        elif name == "book_slot":
            model = BookSlotArgs
            parameters = _schema(model)
        else:
            model = CallIdArgs
            parameters = _schema(model)
        tools.append(ToolDefinition(name, op.description, model, parameters))
    return ToolSet(TOOLS_VERSION, role, kind, tuple(tools))
