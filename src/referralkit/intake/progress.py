"""Where an intake stands: what is missing, what is wrong, what to ask next, what to flag.

Pure functions of the captured values and issues, shared by
:class:`~referralkit.intake.IntakeSession` and :func:`~referralkit.intake.validate_intake`.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from referralkit.intake import normalise as n
from referralkit.intake.config import IntakeConfig
from referralkit.intake.fields import FIELDS, CallType
from referralkit.intake.prompts import GENERIC_PROMPT
from referralkit.intake.results import FieldIssue, IntakeFlag, IntakeResult, Question
from referralkit.intake.specs import CallTypeSpec, Requirement
from referralkit.intake.validators import label
from referralkit.model import Priority

__all__ = ["evaluate", "question"]

_NON_BLOCKING: Final = frozenset({"unknown_field"})
_URGENT: Final = (Priority.URGENT, Priority.ASAP, Priority.STAT)
_FREE_TEXT: Final = ("reason.text", "notes", "question.text", "appointment.preferred_times")
# If any field of a group is given, these become required too (the model needs them).
_GROUPS: Final[Mapping[str, tuple[str, ...]]] = {
    "patient.address": (
        "patient.address.line1",
        "patient.address.city",
        "patient.address.state",
        "patient.address.postal_code",
    ),
    "coverage": ("coverage.payer_name", "coverage.member_id"),
    "referring_practice": ("referring_practice.name",),
    "receiving_practice": ("receiving_practice.name",),
    "referring_provider": ("referring_provider.name",),
    "receiving_provider": ("receiving_provider.name",),
}
# A requirement part is met when the path, or any field under it, holds a value. Each part is
# compiled once per call type to the field paths that meet it, so checking it is one set test.
# A requirement of one part only (most) also carries that part's paths on their own.
_Part = tuple[str, frozenset[str]]
_Compiled = tuple[str, frozenset[str] | None, tuple[tuple[_Part, ...], ...]]


def _under(call_type: CallType, path: str) -> frozenset[str]:
    prefix = path + "."
    return frozenset(f for f in FIELDS[call_type] if f == path or f.startswith(prefix))


def _compile(call_type: CallType, requirement: Requirement) -> _Compiled:
    alternatives = tuple(
        tuple((p, _under(call_type, p)) for p in alternative)
        for alternative in requirement.alternatives
    )
    only = alternatives[0][0][1] if len(alternatives) == 1 == len(alternatives[0]) else None
    return requirement.key, only, alternatives


_GROUP_REQUIREMENTS: Final = {
    call_type: tuple(
        (
            _under(call_type, group),
            tuple(_compile(call_type, Requirement(m, ((m,),))) for m in members if m in fields),
        )
        for group, members in _GROUPS.items()
    )
    for call_type, fields in FIELDS.items()
}
_SPECS: dict[int, tuple[CallTypeSpec, tuple[_Compiled, ...]]] = {}


def _required(spec: CallTypeSpec) -> tuple[_Compiled, ...]:
    # Compiled once per spec (specs are immutable); a handful exist, so clearing is enough.
    cached = _SPECS.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    compiled = tuple(_compile(spec.call_type, r) for r in spec.required)
    if len(_SPECS) >= 64:
        _SPECS.clear()
    _SPECS[id(spec)] = (spec, compiled)
    return compiled


def _derived_issues(values: Mapping[str, Any], config: IntakeConfig) -> list[FieldIssue]:
    member_id = values.get("coverage.member_id")
    if member_id is None or not config.member_id_formats:
        return []
    pattern = config.member_id_pattern(
        values.get("coverage.payer_id"), values.get("coverage.payer_name")
    )
    if pattern is None or pattern.fullmatch(member_id):
        return []
    return [
        FieldIssue(
            "coverage.member_id",
            "member_id_format",
            "The member ID does not match this payer's format.",
        )
    ]


def _flags(
    call_type: CallType, escalations: Mapping[str, str], values: Mapping[str, Any]
) -> tuple[IntakeFlag, ...]:
    flags: list[IntakeFlag] = []

    def add(code: str, message: str) -> None:
        flags.append(IntakeFlag(code, message, escalations.get(code)))

    # A tuple, not a set: an Enum member hashes in Python, and membership here is identity.
    if values.get("priority") in _URGENT:
        add(
            "stated_urgent_priority",
            "The referrer marked this referral urgent: a person should prioritise it.",
        )
    else:
        for path in _FREE_TEXT:
            text = values.get(path)
            if isinstance(text, str) and n.urgency_terms_in(text):
                add(
                    "urgency_language",
                    "The call's wording suggests urgency: a person should review the priority.",
                )
                break
    topic = values.get("question.topic")
    if call_type is CallType.VISIT_PREPARATION and topic in ("preparation", "other"):
        add("clinical_question", "The caller has a question clinical staff should answer.")
    if call_type is CallType.AUTHORIZATION_QUESTION and topic == "denial":
        add("authorization_problem", "An authorization problem needs the authorization team.")
    if call_type is CallType.RECORDS_TRANSFER:
        add("records_needed", "Records need to be requested from another practice.")
    if call_type is CallType.PRACTICE_COORDINATION:
        add("practice_call", "A practice called: relationship follow-up stays with a person.")
    return tuple(flags)


def evaluate(
    call_type: CallType,
    config: IntakeConfig,
    values: Mapping[str, Any],
    issues: Iterable[FieldIssue],
    *,
    language: str | None,
    turn: int,
) -> IntakeResult:
    """Return where an intake with these values and issues stands (no values in it)."""
    spec = config.spec(call_type)
    keys = values.keys()
    requirements = list(_required(spec))
    for group, extra in _GROUP_REQUIREMENTS[call_type]:
        if not keys.isdisjoint(group):
            requirements.extend(extra)
    missing: list[str] = []
    ask: str | None = None
    for key, only, alternatives in requirements:
        if only is not None:  # one part: met, or missing and asked for by its key
            if keys.isdisjoint(only) and key not in missing:
                missing.append(key)
                if ask is None:
                    ask = key
            continue
        if key in missing:
            continue
        best: list[str] | None = None
        for alternative in alternatives:
            # Plain loops, not comprehensions: most parts are met, and a comprehension is a
            # call of its own (a requirement check runs about fifteen times per turn).
            lacking: list[str] | None = None
            for path, under in alternative:
                if keys.isdisjoint(under):
                    if lacking is None:
                        lacking = [path]
                    else:
                        lacking.append(path)
            if lacking is None:
                best = []
                break
            if len(lacking) < len(alternative) and (best is None or len(lacking) < len(best)):
                best = lacking
        if best == []:
            continue
        missing.append(key)
        if ask is None:
            ask = best[0] if best else key
    found = [*issues, *_derived_issues(values, config)]
    if found:
        blocking = [i for i in found if i.code not in _NON_BLOCKING]
        if blocking:
            ask = blocking[0].path
    else:
        blocking = found
    complete = not missing and not blocking
    return IntakeResult(
        call_type=call_type,
        complete=complete,
        captured=tuple(values),
        missing=tuple(missing),
        issues=tuple(found),
        next_question=(None if complete or ask is None else question(config, language, ask)),
        flags=_flags(call_type, spec.escalations, values),
        turn=turn,
    )


def question(config: IntakeConfig, language: str | None, key: str) -> Question:
    """Return the question that asks for *key*, in *language* or the nearest one configured."""
    language = language or config.default_language
    chain = dict.fromkeys(
        [language, language.split("-")[0].lower(), config.default_language, "en"]
    )
    candidates = [key]
    parts = key.split(".")
    candidates += [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
    if "|" in key:
        candidates.append(key.split("|")[0].split("+")[0].strip())
    for lang in chain:
        texts = config.prompts.get(lang)
        if not texts:
            continue
        for candidate in candidates:
            text = texts.get(candidate)
            if text:
                return Question(key, text, lang)
    lang = next((lang for lang in chain if lang in GENERIC_PROMPT), "en")
    what = label(candidates[-1] if "|" in key else key)
    return Question(key, GENERIC_PROMPT[lang].format(field=what), lang)
