"""A scripted caller: drive whole calls through the tool layer, no language model needed.

:class:`ScriptedCaller` plays both sides of a call the way an AI receptionist would run it
through :class:`~referralkit.calls.CallTools`: it starts the call, asks each question the tool
layer returns, answers it from what the caller knows (a correction after a rejected value, if
scripted), asks for the answer (status or visit preparation), and logs the call. The result is
a :class:`Conversation`: what was said, every tool call with its result, and how long each
took. Tests compare conversations against golden transcripts; benchmarks time them.

.. versionadded:: 0.1
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from referralkit.calls.runtime import CallTools
from referralkit.calls.tools import handoff_queues
from referralkit.intake import CallType

__all__ = ["Conversation", "Line", "ScriptedCaller"]


@attrs.frozen
class Line:
    """One thing said on the call."""

    speaker: Literal["agent", "caller"]
    text: str = attrs.field(repr=False)


@attrs.frozen
class Conversation:
    """A whole call: the lines said and the tool calls made, in order.

    .. versionadded:: 0.1
    """

    call_type: str
    language: str
    caller_role: str | None
    lines: tuple[Line, ...] = attrs.field(repr=False)
    tool_calls: tuple[tuple[str, Mapping[str, Any], Mapping[str, Any]], ...] = attrs.field(
        repr=False
    )
    latencies: tuple[float, ...] = ()
    """Seconds each tool call took (``time.perf_counter``), in the order of ``tool_calls``."""

    def transcript(self) -> str:
        """Return the lines as text, one ``speaker: text`` a line."""
        return "".join(f"{line.speaker}: {line.text}\n" for line in self.lines)

    @property
    def final(self) -> Mapping[str, Any]:
        """The result of the last tool call (``log_interaction``'s, when the call ended)."""
        return self.tool_calls[-1][2]


def _spoken(values: Mapping[str, Any]) -> str:
    return "; ".join(f"{path} = {value}" for path, value in values.items())


@attrs.define
class ScriptedCaller:
    """A caller who answers from what they know.

    :param knows: what the caller can answer, by field path.
    :param mistakes: a first, wrong answer for some paths: given once, then corrected from
        *knows* when the question comes back.
    :param opening: values the caller volunteers in their first turn.
    :param visit_type: the visit type passed to ``visit_preparation``.
    """

    call_type: CallType | str
    knows: Mapping[str, Any]
    language: str = "en"
    caller_role: str | None = None
    mistakes: Mapping[str, Any] = attrs.field(factory=dict)
    opening: Mapping[str, Any] = attrs.field(factory=dict)
    visit_type: str | None = None
    max_turns: int = 40

    def _answer(self, key: str, used: set[str]) -> dict[str, Any]:
        for alternative in key.split("|"):
            paths = [p.strip() for p in alternative.split("+")]
            answer: dict[str, Any] = {}
            for path in paths:
                under = {
                    k: v for k, v in self.knows.items() if k == path or k.startswith(path + ".")
                }
                if path in self.mistakes and path not in used:
                    used.add(path)
                    answer[path] = self.mistakes[path]
                elif under:
                    answer.update(under)
                else:
                    break
            else:
                return answer
        return {}

    def run(self, tools: CallTools) -> Conversation:
        """Run the whole call through *tools* and return the conversation."""
        kind = CallType.coerce(self.call_type)
        lines: list[Line] = []
        calls: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]] = []

        latencies: list[float] = []

        def invoke(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            began = time.perf_counter()
            result = tools.invoke(name, arguments)
            latencies.append(time.perf_counter() - began)
            calls.append((name, arguments, result))
            return result

        start: dict[str, Any] = {"call_type": kind.value, "language": self.language}
        if self.caller_role is not None:
            start["caller_role"] = self.caller_role
        result = invoke("start_call", start)
        call_id = result["call_id"]
        used: set[str] = set()
        asked: dict[str, int] = {}
        if self.opening:
            lines.append(Line("caller", _spoken(self.opening)))
            result = invoke("record_turn", {"call_id": call_id, "values": dict(self.opening)})
        handed_off = False
        for _ in range(self.max_turns):
            if result.get("read_back"):
                lines.append(Line("agent", result["read_back"]))
            question = result["next_question"]
            if question is None:
                break
            lines.append(Line("agent", question["text"]))
            asked[question["field"]] = asked.get(question["field"], 0) + 1
            answer = self._answer(question["field"], used) if asked[question["field"]] < 4 else {}
            if not answer:
                lines.append(Line("caller", "I don't know."))
                handed = invoke(
                    "hand_off",
                    {
                        "call_id": call_id,
                        "queue": handoff_queues(kind, tools.config)[0],
                        "reason": "question_not_answered",
                    },
                )
                lines.append(Line("agent", handed["say"]))
                handed_off = True
                break
            lines.append(Line("caller", _spoken(answer)))
            result = invoke("record_turn", {"call_id": call_id, "values": answer})
        if not handed_off and result.get("complete"):
            answer_tool = {
                CallType.STATUS_INQUIRY: "answer_status",
                CallType.AUTHORIZATION_QUESTION: "answer_status",
                CallType.VISIT_PREPARATION: "visit_preparation",
            }.get(kind)
            if answer_tool is not None:
                arguments: dict[str, Any] = {"call_id": call_id}
                if answer_tool == "visit_preparation" and self.visit_type:
                    arguments["visit_type"] = self.visit_type
                answered = invoke(answer_tool, arguments)
                lines.append(Line("agent", answered["text"]))
        invoke("log_interaction", {"call_id": call_id})
        return Conversation(
            kind.value,
            self.language,
            self.caller_role,
            tuple(lines),
            tuple(calls),
            tuple(latencies),
        )
