"""Intake configuration: specs, prompts and checks a practice sets, from Python or TOML.

Both ways are validated when loaded; a bad setting raises
:class:`~referralkit.errors.IntakeError` naming every problem by its path.

.. versionadded:: 0.1
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import attrs

from referralkit.config import read_toml
from referralkit.errors import ConfigError, IntakeError
from referralkit.intake.fields import FIELDS, CallType, is_known_path
from referralkit.intake.patterns import BoundedPattern
from referralkit.intake.prompts import PROMPTS
from referralkit.intake.specs import (
    DEFAULT_SPECS,
    CallTypeSpec,
    Requirement,
)

__all__ = ["IntakeConfig"]

# complete_intake refuses a referral without these (Referral.missing_fields), so a practice
# may add requirements to new_referral but never drop these.
_NEW_REFERRAL_FLOOR: Final = (
    "patient.birth_date",
    "patient.phones",
    "specialty",
)
_LOG_TARGETS: Final = ("referral", "call_log")
_QUEUE_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")

# -- Configuration ----------------------------------------------------------------------------


def _problem(loc: tuple[object, ...], code: str, message: str) -> dict[str, Any]:
    return {"loc": loc, "type": code, "msg": message}


def _bounded_formats(
    formats: Mapping[str, BoundedPattern | re.Pattern[str] | str],
) -> Mapping[str, BoundedPattern]:
    return MappingProxyType({k: BoundedPattern.of(v) for k, v in formats.items()})


@attrs.frozen
class IntakeConfig:
    """Everything a practice can configure about intake; immutable, built once and shared.

    :ivar specs: the spec of each call type.
    :ivar prompts: question text by language tag, then by field path or requirement key.
    :ivar default_region: region for phone numbers written without a country code.
    :ivar member_id_formats: payer (id or name, case-insensitive) to its member-id pattern;
        given as text, ``re`` patterns or :class:`BoundedPattern`, kept as the latter (every
        match is bounded in time, see :mod:`referralkit.intake.patterns`).
    :ivar specialties: the specialties this practice accepts (case-insensitive), or ``None``
        for any.
    :ivar duplicate_window: how far back an open referral counts as a possible duplicate.
    :ivar icd10_lookup: check ICD-10-CM codes against the CDC code set (``icd10`` extra).
    :ivar default_language: the language of questions when the session names none.
    """

    specs: Mapping[CallType, CallTypeSpec] = DEFAULT_SPECS
    prompts: Mapping[str, Mapping[str, str]] = PROMPTS
    default_region: str = "US"
    member_id_formats: Mapping[str, BoundedPattern] = attrs.field(
        factory=lambda: MappingProxyType({}), converter=_bounded_formats
    )
    specialties: frozenset[str] | None = None
    duplicate_window: timedelta = timedelta(days=90)
    icd10_lookup: bool = False
    default_language: str = "en"

    def spec(self, call_type: CallType) -> CallTypeSpec:
        """Return the spec of *call_type*."""
        return self.specs[call_type]

    def member_id_pattern(
        self, payer_id: str | None, payer_name: str | None
    ) -> BoundedPattern | None:
        """Return the member-id pattern configured for the payer, if any (bounded in time)."""
        for key in (payer_id, payer_name):
            if key:
                pattern = self.member_id_formats.get(key.casefold())
                if pattern is not None:
                    return pattern
        return None

    def override(
        self,
        call_type: CallType | str,
        *,
        required: Iterable[str] | None = None,
        escalations: Mapping[str, str] | None = None,
        log_to: str | None = None,
        resolved_by: str | None = None,
    ) -> IntakeConfig:
        """Return a copy with one call type's spec changed, validated like a TOML file.

        :raises IntakeError: ``invalid_config``, with every problem in ``errors()``.
        """
        kind = CallType.coerce(call_type)
        table: dict[str, Any] = {}
        if required is not None:
            table["required"] = list(required)
        if escalations is not None:
            table["escalations"] = dict(escalations)
        if log_to is not None:
            table["log_to"] = log_to
        if resolved_by is not None:
            table["resolved_by"] = resolved_by
        return self._with({"call_types": {kind.value: table}})

    @classmethod
    def from_toml(cls, source: str | bytes | Path) -> IntakeConfig:
        """Load a configuration from TOML text or a ``.toml`` file, over the defaults.

        The tables are ``[intake]`` (``default_region``, ``default_language``,
        ``duplicate_window_days``, ``icd10_lookup``, ``specialties``),
        ``[intake.member_id_formats]`` (payer = regex), ``[call_types.<name>]``
        (``required``, ``escalations``, ``log_to``, ``resolved_by``) and ``[prompts.<lang>]``
        (path or requirement = question); see ``docs/intake.md``.

        :raises IntakeError: ``invalid_config`` (unreadable TOML, or any invalid setting).
        """
        if not isinstance(source, Path | bytes | bytearray | str):
            raise IntakeError("invalid_config", "A configuration must be TOML text or a path.")
        problem = ""
        try:
            data = read_toml(source, name="intake configuration")
        except ConfigError as exc:
            problem = exc.reason
        if problem:  # raised outside the handler: no chain
            raise IntakeError(
                "invalid_config", f"The intake configuration is not readable TOML ({problem})."
            )
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: object) -> IntakeConfig:
        """Build a configuration from the mapping a TOML file parses to, over the defaults.

        :raises IntakeError: ``invalid_config``.
        """
        return cls()._with(data)  # noqa: SLF001 - its own class

    def _with(self, data: object) -> IntakeConfig:
        problems: list[dict[str, Any]] = []
        if not isinstance(data, Mapping):
            raise IntakeError("invalid_config", "The intake configuration must be a table.")
        changes: dict[str, Any] = {}
        for key in data:
            if key not in ("intake", "call_types", "prompts"):
                problems.append(_problem((str(key),), "unknown_key", "Unknown table."))
        intake = data.get("intake", {})
        if not isinstance(intake, Mapping):
            problems.append(_problem(("intake",), "invalid_type", "Must be a table."))
        else:
            changes.update(self._intake_settings(intake, problems))
        call_types = data.get("call_types", {})
        if not isinstance(call_types, Mapping):
            problems.append(_problem(("call_types",), "invalid_type", "Must be a table."))
        else:
            specs = dict(self.specs)
            for name, table in call_types.items():
                try:
                    kind = CallType.coerce(name)
                except IntakeError:
                    problems.append(
                        _problem(
                            ("call_types", str(name)), "unknown_call_type", "Unknown call type."
                        )
                    )
                    continue
                specs[kind] = _override_spec(
                    specs[kind], table, ("call_types", kind.value), problems
                )
            changes["specs"] = MappingProxyType(specs)
        prompts = data.get("prompts", {})
        if not isinstance(prompts, Mapping):
            problems.append(_problem(("prompts",), "invalid_type", "Must be a table."))
        else:
            changes["prompts"] = _merge_prompts(self.prompts, prompts, problems)
        if problems:
            raise IntakeError(
                "invalid_config",
                f"The intake configuration has {len(problems)} problem(s): "
                + "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems[:10]),
                problems,
            )
        return attrs.evolve(self, **changes)

    def _intake_settings(
        self, table: Mapping[Any, Any], problems: list[dict[str, Any]]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in table.items():
            loc = ("intake", str(key))
            if key == "default_region":
                if not (isinstance(value, str) and re.fullmatch(r"[A-Z]{2}", value)):
                    problems.append(
                        _problem(loc, "invalid_region", "Must be a two-letter region.")
                    )
                else:
                    out[key] = value
            elif key == "default_language":
                if not (
                    isinstance(value, str)
                    and re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", value)
                ):
                    problems.append(_problem(loc, "invalid_language", "Must be a language tag."))
                else:
                    out[key] = value
            elif key == "duplicate_window_days":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 3650:
                    problems.append(_problem(loc, "invalid_window", "Must be 1 to 3650 days."))
                else:
                    out["duplicate_window"] = timedelta(days=value)
            elif key == "icd10_lookup":
                if not isinstance(value, bool):
                    problems.append(_problem(loc, "invalid_type", "Must be true or false."))
                else:
                    out[key] = value
            elif key == "specialties":
                if not (
                    isinstance(value, list)
                    and value
                    and all(isinstance(v, str) and v.strip() for v in value)
                ):
                    problems.append(_problem(loc, "invalid_type", "Must be a list of names."))
                else:
                    out[key] = frozenset(v.strip().casefold() for v in value)
            elif key == "member_id_formats":
                out[key] = _member_formats(value, loc, problems)
            else:
                problems.append(_problem(loc, "unknown_key", "Unknown setting."))
        return out


def _member_formats(
    value: object, loc: tuple[str, ...], problems: list[dict[str, Any]]
) -> Mapping[str, BoundedPattern]:
    formats: dict[str, BoundedPattern] = {}
    if not isinstance(value, Mapping):
        problems.append(_problem(loc, "invalid_type", "Must be a table of payer = pattern."))
        return MappingProxyType(formats)
    for payer, pattern in value.items():
        where = (*loc, str(payer))
        if not isinstance(pattern, str) or len(pattern) > 200:
            problems.append(_problem(where, "invalid_pattern", "Must be a regular expression."))
            continue
        try:
            formats[str(payer).casefold()] = BoundedPattern(pattern)
        except ValueError as exc:
            problems.append(_problem(where, "invalid_pattern", f"The {exc}."))
    return MappingProxyType(formats)


def _override_spec(
    spec: CallTypeSpec,
    table: object,
    loc: tuple[str, ...],
    problems: list[dict[str, Any]],
) -> CallTypeSpec:
    if not isinstance(table, Mapping):
        problems.append(_problem(loc, "invalid_type", "Must be a table."))
        return spec
    changes: dict[str, Any] = {}
    count = len(problems)
    for key in table:
        if key not in ("required", "escalations", "log_to", "resolved_by"):
            problems.append(_problem((*loc, str(key)), "unknown_key", "Unknown setting."))
    if "required" in table:
        changes["required"] = _requirements(
            spec.call_type, table["required"], (*loc, "required"), problems
        )
    if "escalations" in table:
        escalations = table["escalations"]
        where = (*loc, "escalations")
        if not isinstance(escalations, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and _QUEUE_RE.fullmatch(v)
            for k, v in escalations.items()
        ):
            problems.append(
                _problem(
                    where,
                    "invalid_escalations",
                    "Must map flag codes to queue names (a-z, 0-9, _).",
                )
            )
        else:
            changes["escalations"] = MappingProxyType(dict(escalations))
            changes["handoffs"] = tuple(dict.fromkeys(escalations.values()))
    if "log_to" in table:
        if table["log_to"] not in _LOG_TARGETS:
            problems.append(
                _problem((*loc, "log_to"), "invalid_choice", "Must be referral or call_log.")
            )
        else:
            changes["log_to"] = table["log_to"]
    if "resolved_by" in table:
        value = table["resolved_by"]
        if not (isinstance(value, str) and _QUEUE_RE.fullmatch(value)):
            problems.append(
                _problem((*loc, "resolved_by"), "invalid_type", "Must be an event name.")
            )
        else:
            changes["resolved_by"] = value
    if len(problems) > count:
        return spec
    if "required" in changes:
        mentioned = {p for r in changes["required"] for p in r.paths}
        changes["optional"] = tuple(p for p in FIELDS[spec.call_type] if p not in mentioned)
    return attrs.evolve(spec, **changes)


def _requirements(
    call_type: CallType, value: object, loc: tuple[str, ...], problems: list[dict[str, Any]]
) -> tuple[Requirement, ...]:
    if not isinstance(value, list | tuple) or not value:
        problems.append(_problem(loc, "invalid_type", "Must be a non-empty list of field paths."))
        return ()
    out: list[Requirement] = []
    for index, text in enumerate(value):
        where = (*loc, index)
        if not isinstance(text, str) or len(text) > 300:
            problems.append(_problem(where, "invalid_type", "Must be a field path."))
            continue
        try:
            requirement = Requirement.parse(text)
        except ValueError:
            problems.append(_problem(where, "invalid_requirement", "Has an empty part."))
            continue
        unknown = [p for p in requirement.paths if not is_known_path(call_type, p)]
        if unknown:
            problems.append(
                _problem(
                    where,
                    "unknown_field",
                    f"Names a field {call_type.value} does not capture: {', '.join(unknown)}.",
                )
            )
            continue
        out.append(requirement)
    if call_type is CallType.NEW_REFERRAL:
        mentioned = {p for r in out for p in r.paths if len(r.alternatives) == 1}
        for needed in _NEW_REFERRAL_FLOOR:
            if needed not in mentioned:
                problems.append(
                    _problem(
                        loc,
                        "required_by_lifecycle",
                        f"Must include {needed}: a referral cannot complete intake without it.",
                    )
                )
    return tuple(out)


def _merge_prompts(
    base: Mapping[str, Mapping[str, str]], table: Mapping[Any, Any], problems: list[dict[str, Any]]
) -> Mapping[str, Mapping[str, str]]:
    merged = {lang: dict(texts) for lang, texts in base.items()}
    for lang, texts in table.items():
        loc = ("prompts", str(lang))
        if not (isinstance(lang, str) and re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", lang)):
            problems.append(_problem(loc, "invalid_language", "Must be a language tag."))
            continue
        if not isinstance(texts, Mapping):
            problems.append(_problem(loc, "invalid_type", "Must be a table of path = question."))
            continue
        for key, text in texts.items():
            if not (
                isinstance(key, str) and isinstance(text, str) and 0 < len(text.strip()) <= 500
            ):
                problems.append(
                    _problem((*loc, str(key)), "invalid_prompt", "Must be question text.")
                )
                continue
            merged.setdefault(lang, {})[_prompt_key(key)] = text.strip()
    return MappingProxyType({lang: MappingProxyType(texts) for lang, texts in merged.items()})


def _prompt_key(key: str) -> str:
    try:
        return Requirement.parse(key).key
    except ValueError:
        return key.strip()
