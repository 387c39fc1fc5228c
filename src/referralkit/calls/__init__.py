"""The caller's side of a call, and the tool layer an AI receptionist calls.

Visit-preparation answers, caller-aware questions and read-backs, tool definitions and the
runtime that carries out an agent's tool calls:

- :mod:`~referralkit.calls.content`: :class:`VisitContent`, the practice's approved
  visit-preparation content (TOML or Python, validated on load);
- :mod:`~referralkit.calls.visit_prep`: :func:`answer_visit_preparation`;
- :mod:`~referralkit.calls.handoff`: :class:`HandOff`;
- :mod:`~referralkit.intake.phrasing`: :func:`phrase` (questions worded for who is calling)
  and :func:`read_back`;
- :mod:`~referralkit.intake.readback`: dates spelled out, phone and reference numbers grouped;
- :mod:`~referralkit.calls.tools`: :func:`tool_definitions` (JSON Schema, OpenAI and Anthropic
  shapes) and the role guard :func:`permitted`;
- :mod:`~referralkit.calls.runtime`: :class:`CallTools`, which runs an agent's tool calls on
  the desk;
- :mod:`~referralkit.calls.harness`: :class:`ScriptedCaller`, whole calls without a model.

What happens next at each stage lives in :mod:`referralkit.lifecycle.next_steps`.

.. versionadded:: 0.1
"""

from __future__ import annotations

from referralkit.calls.content import VisitContent, VisitGuide, VisitText
from referralkit.calls.handoff import HandOff
from referralkit.calls.harness import Conversation, Line, ScriptedCaller
from referralkit.calls.runtime import CallLogged, CallTools
from referralkit.calls.tools import (
    OPERATIONS,
    TOOLS_VERSION,
    Operation,
    ToolDefinition,
    ToolSet,
    permitted,
    tool_definitions,
)
from referralkit.calls.visit_prep import TOPICS, VisitPrepAnswer, answer_visit_preparation
from referralkit.intake.phrasing import AUDIENCE_PROMPTS, audience_of, phrase, read_back
from referralkit.intake.readback import group_phone, spell_date, spell_reference, spell_time

__all__ = [
    "AUDIENCE_PROMPTS",
    "OPERATIONS",
    "TOOLS_VERSION",
    "TOPICS",
    "CallLogged",
    "CallTools",
    "Conversation",
    "HandOff",
    "Line",
    "Operation",
    "ScriptedCaller",
    "ToolDefinition",
    "ToolSet",
    "VisitContent",
    "VisitGuide",
    "VisitPrepAnswer",
    "VisitText",
    "answer_visit_preparation",
    "audience_of",
    "group_phone",
    "permitted",
    "phrase",
    "read_back",
    "spell_date",
    "spell_reference",
    "spell_time",
    "tool_definitions",
]
