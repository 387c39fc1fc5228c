"""The tool layer an AI agent calls: each tool call checked, validated and run on the desk.

:class:`CallTools` serves one agent (one :class:`~referralkit.model.Actor`): it hands out the
tool definitions the agent's role allows, and runs each tool call the agent makes. A call to
a tool the role may not use is refused with
:class:`~referralkit.errors.ToolNotPermittedError` before its arguments are even read.

Results are JSON-compatible dicts: what the agent needs to say and decide next, never more
than the caller may hear.

.. versionadded:: 0.1
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs
from pydantic import BaseModel, ValidationError

from referralkit.calls.content import VisitContent
from referralkit.calls.handoff import HandOff
from referralkit.calls.tools import (
    OPERATIONS,
    TOOLS_VERSION,
    BookSlotArgs,
    CallIdArgs,
    FindSlotsArgs,
    HandOffArgs,
    StartCallArgs,
    ToolSet,
    VisitPreparationArgs,
    check_values,
    handoff_queues,
    permitted,
    tool_definitions,
)
from referralkit.calls.visit_prep import answer_visit_preparation
from referralkit.desk import ReferralDesk
from referralkit.errors import (
    IntakeError,
    ToolArgumentsError,
    ToolError,
    ToolNotPermittedError,
    UnknownCallError,
)
from referralkit.intake import (
    CallRecord,
    CallType,
    IntakeConfig,
    IntakeFlag,
    IntakeResult,
    IntakeSession,
    verify_caller,
)
from referralkit.intake.phrasing import READ_BACK_PATHS, phrase, read_back
from referralkit.intake.progress import question as ask_for
from referralkit.intake.readback import spell_date, spell_time
from referralkit.lifecycle.next_steps import team_name
from referralkit.model import Actor, HumanTask, Referral
from referralkit.ports import Slot

__all__ = ["CallLogged", "CallTools"]

_log = logging.getLogger("referralkit.calls")

_HANDOFF_SAY: Mapping[str, str] = {
    "en": "I'm passing this to {team}; someone will follow up with you.",
    "es": "Paso esto a {team}; alguien se comunicará con usted.",
}


@attrs.frozen
class CallLogged:
    """What :class:`CallTools` hands the host when a call is logged.

    .. versionadded:: 0.1
    """

    record: CallRecord
    handoffs: tuple[HandOff, ...]
    referral: Referral | None


@attrs.define(repr=False)
class _Call:
    session: IntakeSession
    caller_role: str | None
    kind: str  # the call type's value, for the role guard
    handoffs: list[HandOff] = attrs.field(factory=list)
    offered: dict[str, Slot] = attrs.field(factory=dict)  # slots find_slots offered, by id


# Calls that disclose referral details, and what verifies each kind of caller for them
# (referralkit.intake.verify_caller): the spec asks only for what finds the referral.
_ANSWERING: Final = frozenset(
    {CallType.STATUS_INQUIRY, CallType.AUTHORIZATION_QUESTION, CallType.VISIT_PREPARATION}
)
_ANSWERING_KINDS: Final = frozenset(kind.value for kind in _ANSWERING)
_VERIFIED_BY: Final[Mapping[str, tuple[str, ...]]] = {
    "patient": ("patient.family_name", "patient.birth_date"),
    "caregiver": ("patient.family_name", "patient.birth_date"),
    "referring_practice": ("caller.npi",),
    "receiving_practice": ("caller.npi",),
}


@attrs.define(repr=False)
class CallTools:
    """The tools one AI agent may call, run against a desk.

    :param desk: the desk calls are captured on and looked up in.
    :param actor: the agent (``ActorKind.AI``); its role decides which tools it gets.
    :param content: the practice's visit-preparation content.
    :param config: the practice's intake configuration.
    :param on_call_logged: called with each call's record once ``log_interaction`` ran.

    .. versionadded:: 0.1
    """

    desk: ReferralDesk
    actor: Actor
    content: VisitContent = attrs.field(factory=VisitContent)
    config: IntakeConfig = attrs.field(factory=IntakeConfig)
    on_call_logged: Callable[[CallLogged], None] | None = None
    # Keyed by the call id as start_call gave it out, so a turn finds its call without parsing.
    _calls: dict[str, _Call] = attrs.field(factory=dict, init=False)
    # The role guard for this actor, worked out once: tool name -> the call types it may use
    # the tool on (by value: a str lookup costs a fraction of hashing enum members).
    _allowed: dict[str, frozenset[str]] = attrs.field(init=False)

    _turn_kinds: frozenset[str] = attrs.field(init=False)

    @_allowed.default
    def _work_out_allowed(self) -> dict[str, frozenset[str]]:
        role = self.actor.role
        return {
            name: frozenset(kind.value for kind in CallType if permitted(role, name, kind))
            for name in OPERATIONS
            if permitted(role, name)
        }

    @_turn_kinds.default
    def _work_out_turn_kinds(self) -> frozenset[str]:
        return self._allowed.get("record_turn", frozenset())

    def __repr__(self) -> str:
        return f"CallTools(actor={self.actor.id!r}, role={self.actor.role.value!r})"

    # -- definitions --

    def definitions(self, call_type: CallType | str | None = None) -> ToolSet:
        """Return the tools this agent may call (for *call_type*, or for any call)."""
        return tool_definitions(self.actor.role, call_type, config=self.config)

    def session(self, call_id: UUID) -> IntakeSession:
        """Return the intake session of a call in progress.

        :raises UnknownCallError: no such call is in progress.
        """
        call = self._calls.get(str(call_id))
        if call is None:
            raise UnknownCallError("session")
        return call.session

    def drop(self, call_id: UUID | str) -> CallRecord:
        """Forget a call the caller hung up on, and return its record (outcome ``abandoned``).

        Nothing is written: the host logs the record where it keeps unfinished calls.

        :raises UnknownCallError: no such call is in progress.
        """
        call = self._calls.pop(str(call_id), None)
        if call is None:
            raise UnknownCallError("drop")
        flags = tuple(
            IntakeFlag(h.reason, h.reason.replace("_", " "), h.queue) for h in call.handoffs
        )
        return call.session.to_call_record("abandoned", extra_flags=flags)

    # -- invocation --

    def invoke(self, name: str, arguments: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
        """Run one tool call and return its JSON-compatible result.

        :param arguments: the arguments as a mapping, or the JSON text the model produced.
        :raises ToolNotPermittedError: the agent's role may not use the tool (on this call).
        :raises ToolArgumentsError: the arguments do not match the tool's schema.
        :raises UnknownCallError: the call id names no call in progress.
        :raises ToolError: the tool is unknown, or the call cannot do this yet.
        """
        if name == "record_turn" and type(arguments) is dict and len(arguments) == 2:
            # The path of nearly every tool call: a turn on a call in progress. The same checks
            # as below, in fewer steps; anything unusual takes the general path.
            call_id = arguments.get("call_id")
            call = self._calls.get(call_id) if type(call_id) is str else None
            values = arguments.get("values")
            if (
                call is not None
                and call.kind in self._turn_kinds
                and type(values) is dict
                and not check_values(call.kind, values)
            ):
                return self._record_turn(call, values)
        op = OPERATIONS.get(name)
        if op is None:
            raise ToolError(name, "unknown_tool", f"unknown tool {name!r}")
        role = self.actor.role
        allowed = self._allowed.get(name)
        if allowed is None:
            raise ToolNotPermittedError(name, role.value)
        raw = self._decode(name, arguments)
        if not op.binds_call:
            args = self._parse(StartCallArgs, name, raw)
            assert isinstance(args, StartCallArgs)  # noqa: S101 - narrows for mypy
            kind = CallType.coerce(args.call_type)
            if kind.value not in allowed:
                raise ToolNotPermittedError(name, role.value, kind.value)
            return self._start(args, kind)
        call_id, call = self._call(name, raw)
        kind = call.session.call_type
        if call.kind not in allowed:
            raise ToolNotPermittedError(name, role.value, call.kind)
        if name == "record_turn":
            return self._record_turn(call, self._turn_values(name, kind, raw))
        if name == "answer_status":
            self._parse(CallIdArgs, name, raw)
            return self._answer_status(call_id, call)
        if name == "visit_preparation":
            prep = self._parse(VisitPreparationArgs, name, raw)
            assert isinstance(prep, VisitPreparationArgs)  # noqa: S101 - narrows for mypy
            return self._visit_preparation(call_id, call, prep)
        if name == "find_slots":
            find = self._parse(FindSlotsArgs, name, raw)
            assert isinstance(find, FindSlotsArgs)  # noqa: S101 - narrows for mypy
            return self._find_slots(call, find)
        if name == "book_slot":
            book = self._parse(BookSlotArgs, name, raw)
            assert isinstance(book, BookSlotArgs)  # noqa: S101 - narrows for mypy
            return self._book_slot(call, book)
        if name == "hand_off":
            handoff = self._parse(HandOffArgs, name, raw)
            assert isinstance(handoff, HandOffArgs)  # noqa: S101 - narrows for mypy
            return self._hand_off(call_id, call, handoff)
        self._parse(CallIdArgs, name, raw)
        return self._log_interaction(call_id, call)

    def invoke_json(self, name: str, arguments: str | bytes) -> str:
        """Run one tool call from the model's JSON and return the result as JSON.

        A refusal or invalid call becomes ``{"error": {"code": ..., "message": ...}}``, which
        the agent reads as the tool's result; messages never hold the arguments.
        """
        try:
            result = self.invoke(name, arguments)
        except ToolError as exc:
            result = {"error": {"code": exc.code, "message": str(exc)}}
        except IntakeError as exc:
            result = {"error": {"code": exc.code, "message": str(exc)}}
        return json.dumps(result, ensure_ascii=False)

    # -- argument handling --

    @staticmethod
    def _decode(name: str, arguments: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
        if type(arguments) is dict:  # the common case, without an ABC isinstance check
            return arguments
        if isinstance(arguments, str | bytes | bytearray):
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError):
                raise ToolArgumentsError(
                    name, [{"loc": (), "type": "json_invalid", "msg": "Arguments must be JSON."}]
                ) from None
        if not isinstance(arguments, Mapping):
            raise ToolArgumentsError(
                name, [{"loc": (), "type": "object_type", "msg": "Arguments must be an object."}]
            )
        return arguments

    @staticmethod
    def _parse(model: type[BaseModel], name: str, raw: Mapping[str, Any]) -> BaseModel:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            # from None: the pydantic error would carry the input values (PHI) in its chain.
            errors = [
                {"loc": e["loc"], "type": e["type"], "msg": e["msg"]}
                for e in exc.errors(include_input=False, include_url=False)
            ]
            raise ToolArgumentsError(name, errors) from None

    def _call(self, name: str, raw: Mapping[str, Any]) -> tuple[UUID, _Call]:
        value = raw.get("call_id")
        call = self._calls.get(value) if isinstance(value, str) else None
        if call is not None:
            return call.session.id, call
        try:
            call_id = value if isinstance(value, UUID) else UUID(str(value))
        except ValueError:
            raise ToolArgumentsError(
                name, [{"loc": ("call_id",), "type": "uuid_parsing", "msg": "Must be a call_id."}]
            ) from None
        call = self._calls.get(str(call_id))
        if call is None:
            raise UnknownCallError(name)
        return call_id, call

    @staticmethod
    def _turn_values(name: str, kind: CallType, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        problems = [
            {"loc": (key,), "type": "extra_forbidden", "msg": "Unknown argument."}
            for key in raw
            if key not in ("call_id", "values")
        ]
        if "values" not in raw:
            problems.append({"loc": ("values",), "type": "missing", "msg": "Field required"})
        else:
            problems += check_values(kind, raw["values"])
        if problems:
            raise ToolArgumentsError(name, problems)
        values: Mapping[str, Any] = raw["values"]
        return values

    # -- operations --

    def _start(self, args: StartCallArgs, kind: CallType) -> dict[str, Any]:
        session = self.desk.start_intake(kind, config=self.config, language=args.language)
        call = _Call(session, args.caller_role, kind.value)
        result = (
            session.update({"caller.role": args.caller_role})
            if args.caller_role is not None
            else session.result()
        )
        self._calls[str(session.id)] = call
        return {
            "call_id": str(session.id),
            "call_type": kind.value,
            "language": args.language,
            "tools_version": TOOLS_VERSION,
            "complete": result.complete and not self._unverifiable(call),
            "next_question": self._next(
                call,
                result,
                self._role(call),
                self._unverifiable(call) if result.complete else [],
            ),
        }

    def _role(self, call: _Call) -> str | None:
        role: str | None = call.session.value("caller.role") or call.caller_role
        return role

    def _unverifiable(self, call: _Call) -> list[str]:
        """Return what the caller must still give to be verified before an answer."""
        session = call.session
        if call.kind not in _ANSWERING_KINDS:  # by value: cheaper than hashing the enum
            return []
        needed = _VERIFIED_BY.get(self._role(call) or "", ())
        return [p for p in needed if session.value(p) is None]

    def _next(
        self, call: _Call, result: IntakeResult, role: str | None, unverified: list[str]
    ) -> dict[str, str] | None:
        question = result.next_question
        if question is None and unverified:
            question = ask_for(self.config, call.session.language, unverified[0])
        if question is None:
            return None
        # A session that captured the caller's role already worded its question for them.
        if result.next_question is None or call.session.value("caller.role") is None:
            question = phrase(question, role, self.config)
        return {"field": question.field, "text": question.text, "language": question.language}

    def _record_turn(self, call: _Call, values: Mapping[str, Any]) -> dict[str, Any]:
        session = call.session
        result = session.update(values)
        captured_role = session.value("caller.role")
        role = captured_role or call.caller_role
        confirm = None
        if not READ_BACK_PATHS.isdisjoint(values):
            captured = result.captured
            given = [p for p in values if p in READ_BACK_PATHS and p in captured]
            if given:
                confirm = read_back(
                    ((p, session.value(p)) for p in given), role, _language(session)
                )
        complete = result.complete
        unverified = self._unverifiable(call) if complete else None
        question = result.next_question
        if unverified:
            next_question = self._next(call, result, role, unverified)
        elif question is None:
            next_question = None
        else:
            # The common turn: the session already worded its question for a captured role.
            if captured_role is None:
                question = phrase(question, role, self.config)
            next_question = {
                "field": question.field,
                "text": question.text,
                "language": question.language,
            }
        issues = result.issues
        flags = result.flags
        return {
            "turn": result.turn,
            "complete": complete and not unverified,
            "missing": [*result.missing, *unverified] if unverified else list(result.missing),
            "issues": [{"path": i.path, "code": i.code, "message": i.message} for i in issues]
            if issues
            else [],
            "read_back": confirm,
            "next_question": next_question,
            "flags": [{"code": f.code, "queue": f.queue} for f in flags] if flags else [],
        }

    def _referral(self, session: IntakeSession) -> Referral | None:
        matches = self.desk.find_referrals(session.lookup_query())
        return matches[0] if matches else None

    def _ready(self, name: str, call: _Call) -> None:
        result = call.session.result()
        missing = [*result.missing, *self._unverifiable(call)]
        if not result.complete or missing:
            raise ToolError(
                name,
                "incomplete",
                f"tool {name!r}: the call still needs " + ", ".join(missing or ("fixes",)),
            )

    def _answer_status(self, call_id: UUID, call: _Call) -> dict[str, Any]:
        self._ready("answer_status", call)
        answer = self.desk.answer_status(call.session)
        handoff: HandOff | None = None
        if not answer.verified:
            code = answer.flags[0] if answer.flags else "caller_not_verified"
            queue = call.session.spec.escalations.get(code, "scheduling")
            handoff = HandOff(queue, code, call.session.call_type.value)
            call.handoffs.append(handoff)
        return {
            "verified": answer.verified,
            "text": answer.text,
            "status": answer.status.value if answer.status else None,
            "next_step": answer.next_step,
            "owner": answer.owner,
            "owner_queue": answer.owner_queue,
            "owner_team": answer.owner_team,
            "details": dict(answer.details),
            "handoff": handoff.as_dict() if handoff else None,
        }

    def _visit_preparation(
        self, call_id: UUID, call: _Call, args: VisitPreparationArgs
    ) -> dict[str, Any]:
        session = call.session
        self._ready("visit_preparation", call)
        referral = self._referral(session)
        answer = answer_visit_preparation(
            referral,
            session.caller(),
            self.content,
            topic=args.topic or session.value("question.topic"),
            question=args.question or session.value("question.text"),
            visit_type=args.visit_type,
            language=_language(session),
        )
        if answer.handoff is not None:
            call.handoffs.append(answer.handoff)
            if answer.verified and referral is not None:
                self._record_handoff(call_id, referral, answer.handoff)
        return {
            "verified": answer.verified,
            "answered": answer.answered,
            "text": answer.text,
            "details": dict(answer.details),
            "handoff": answer.handoff.as_dict() if answer.handoff else None,
        }

    def _scheduling_referral(self, name: str, call: _Call) -> Referral | None:
        # Slots are offered only for a referral the caller is verified for: a time is a detail.
        self._ready(name, call)
        referral = self._referral(call.session)
        if referral is None or verify_caller(referral, call.session.caller()) is None:
            return None
        return referral

    def _find_slots(self, call: _Call, args: FindSlotsArgs) -> dict[str, Any]:
        referral = self._scheduling_referral("find_slots", call)
        if referral is None:
            handoff = HandOff("scheduling", "caller_not_verified", call.kind)
            call.handoffs.append(handoff)
            return {"verified": False, "slots": [], "handoff": handoff.as_dict()}
        now = self.desk.clock.now()
        slots = self.desk.find_slots(
            referral.id,
            after=now,
            before=now + timedelta(days=args.days_ahead),
            limit=5,
            location=args.location,
        )
        call.offered = {slot.slot_id: slot for slot in slots}
        language = _language(call.session)
        zone = _patient_zone(referral)
        return {
            "verified": True,
            "slots": [
                {
                    "slot_id": slot.slot_id,
                    "start": slot.start.astimezone(zone).isoformat(),
                    "read_back": spell_instant(slot.start.astimezone(zone), language),
                    "location": slot.location,
                }
                for slot in slots
            ],
            "handoff": None,
        }

    def _book_slot(self, call: _Call, args: BookSlotArgs) -> dict[str, Any]:
        slot = call.offered.get(args.slot_id)
        if slot is None:
            raise ToolError(
                "book_slot", "not_offered", "book_slot: that slot was not offered on this call"
            )
        referral = self._scheduling_referral("book_slot", call)
        if referral is None:  # pragma: no cover - find_slots offered it to a verified caller
            raise ToolError("book_slot", "not_verified", "book_slot: the caller is not verified")
        outcome = self.desk.book_slot(referral.id, slot, actor=self.actor)
        booked = self.desk.get(referral.id)
        return {
            "status": outcome.status,
            "booked": booked.current_appointment is not None
            and booked.current_appointment.start == slot.start,
            "referral_status": booked.status.value,
        }

    def _hand_off(self, call_id: UUID, call: _Call, args: HandOffArgs) -> dict[str, Any]:
        session = call.session
        queues = handoff_queues(session.call_type, self.config)
        if args.queue not in queues:
            raise ToolArgumentsError(
                "hand_off",
                [
                    {
                        "loc": ("queue",),
                        "type": "enum",
                        "msg": "Not an approved hand-off for this call type: " + ", ".join(queues),
                    }
                ],
            )
        handoff = HandOff(
            args.queue,
            args.reason,
            session.call_type.value,
            session.value("question.topic"),
            args.question,
        )
        call.handoffs.append(handoff)
        referral = self._referral(session)
        recorded = False
        if referral is not None and verify_caller(referral, session.caller()) is not None:
            self._record_handoff(call_id, referral, handoff)
            recorded = True
        lang = _language(session)
        return {
            "queue": args.queue,
            "recorded_on_referral": recorded,
            "say": _HANDOFF_SAY[lang].format(team=team_name(args.queue, lang)),
        }

    def _record_handoff(self, call_id: UUID, referral: Referral, handoff: HandOff) -> None:
        now = self.desk.clock.now()
        task = HumanTask(
            queue=handoff.queue,
            title=f"Call back: {handoff.call_type.replace('_', ' ')}",
            reason=handoff.reason,
            detail=handoff.question,
            created_at=now,
            due_at=now + self.desk.task_due,
        )
        self.desk.amend(
            referral.id,
            "call_handed_off",
            actor=self.actor,
            update=lambda current: {"tasks": (*current.tasks, task)},
            data={"call_id": str(call_id), "queue": handoff.queue, "reason": handoff.reason},
        )
        _log.info("call %s handed off to %s (%s)", call_id, handoff.queue, handoff.reason)

    def _log_interaction(self, call_id: UUID, call: _Call) -> dict[str, Any]:
        session = call.session
        extra = tuple(
            IntakeFlag(h.reason, h.reason.replace("_", " "), h.queue) for h in call.handoffs
        )
        if not session.result().complete and not call.handoffs:
            self._ready("log_interaction", call)  # raises: nothing to log yet
        referral: Referral | None = None
        created = False
        if session.result().complete:
            outcome = self.desk.submit_intake(session, actor=self.actor)
            queues = (*outcome.call.handoff_queues, *(h.queue for h in call.handoffs))
            record = outcome.call.model_copy(
                update={"handoff_queues": tuple(dict.fromkeys(queues))}
            )
            referral, created = outcome.referral, outcome.created
        else:
            record = session.to_call_record("handed_off", extra_flags=extra)
        del self._calls[str(call_id)]
        if self.on_call_logged is not None:
            self.on_call_logged(CallLogged(record, tuple(call.handoffs), referral))
        return {
            "outcome": record.outcome,
            "referral_created": created,
            "referral_found": referral is not None,
            "handoff_queues": list(record.handoff_queues),
        }


def _patient_zone(referral: Referral) -> tzinfo:
    zone = referral.patient.time_zone if referral.patient is not None else None
    return ZoneInfo(zone) if zone else UTC


def spell_instant(at: datetime, language: str) -> str:
    """Read an appointment time back in words: the date spelled out, then the time."""
    return f"{spell_date(at.date(), language)}, {spell_time(at.time(), language)}"


def _language(session: IntakeSession) -> str:
    return session.language or session.config.default_language
