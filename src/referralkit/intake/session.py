"""Progressive intake: capture a call field by field over several turns.

An :class:`IntakeSession` takes whatever each turn produced (a mapping, JSON text or bytes;
nested or with dotted keys), keeps every value that is valid in normalised form, and after each
turn answers: is it complete, what is missing, what is wrong (field path, code, plain message
without PHI) and what to ask next. A complete ``new_referral`` becomes a
:class:`~referralkit.model.Referral`; other call types become a :class:`CallRecord`.
:func:`validate_intake` does the same for a whole call in one turn, with the same validators
(:mod:`referralkit.intake.validators`) and without keeping a session for a ``new_referral``.

The session is pure: it never reads a store or the system clock (time comes from the
:class:`~referralkit.clock.Clock` it is given). :class:`~referralkit.desk.ReferralDesk`
commits what it produces.

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid4

import attrs

from referralkit.clock import Clock, SystemClock
from referralkit.errors import IntakeError
from referralkit.intake.build import build_referral, jsonable
from referralkit.intake.config import IntakeConfig
from referralkit.intake.fields import FIELDS, CallType, FieldDef
from referralkit.intake.phrasing import phrase
from referralkit.intake.progress import evaluate
from referralkit.intake.results import CallRecord, FieldIssue, IntakeFlag, IntakeResult
from referralkit.intake.specs import CallTypeSpec
from referralkit.intake.status import CallerIdentity, LookupQuery
from referralkit.intake.validators import decode, read_turn, validators_for
from referralkit.model import Referral
from referralkit.ports import IntakeCheck

__all__ = ["IntakeSession", "validate_intake"]

_log = logging.getLogger("referralkit.intake")
_LANGUAGE_TAG: Final = re.compile(r"[a-zA-Z-]{2,20}")


def _coerce_call_type(value: object) -> CallType:
    return CallType.coerce(value)


def _check_language(language: object) -> None:
    # str(): a host may pass anything here, and it must become an IntakeError.
    if language is not None and not _LANGUAGE_TAG.fullmatch(str(language)):
        raise IntakeError("invalid_language", "The language must be a language tag.")


# -- The session ------------------------------------------------------------------------------


@attrs.define(repr=False)
class IntakeSession:
    """One call being captured; feed it turns with :meth:`update`.

    Sending a field again replaces it; sending ``None`` clears it. A value that fails is not
    kept (not even the older valid one), so the record never holds something the caller has
    since corrected or contradicted.
    """

    call_type: CallType = attrs.field(converter=_coerce_call_type)
    config: IntakeConfig = attrs.field(factory=IntakeConfig)
    clock: Clock = attrs.field(factory=SystemClock)
    language: str | None = None
    checks: Sequence[IntakeCheck] = ()
    """Extra checks contributed by plugins (``referralkit_add_intake_checks``): once a
    ``new_referral`` is otherwise complete, each runs on the referral it would create, and
    each problem it reports is an issue that keeps the intake incomplete.

    .. versionadded:: 0.2"""
    id: UUID = attrs.field(factory=uuid4)
    started_at: datetime = attrs.field(
        default=attrs.Factory(lambda self: self.clock.now(), takes_self=True)
    )
    turn: int = 0
    _values: dict[str, Any] = attrs.field(factory=dict, init=False)
    _issues: dict[str, FieldIssue] = attrs.field(factory=dict, init=False)
    _result: IntakeResult | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        # str(): a host may pass anything here, and it must become an IntakeError.
        _check_language(self.language)

    def __repr__(self) -> str:
        return (
            f"IntakeSession(id={self.id}, call_type={self.call_type.value!r}, "
            f"turn={self.turn}, captured={len(self._values)}, issues={len(self._issues)})"
        )

    @property
    def spec(self) -> CallTypeSpec:
        """The spec this session captures to."""
        return self.config.spec(self.call_type)

    @property
    def fields(self) -> Mapping[str, FieldDef]:
        """The fields this call type can capture."""
        return FIELDS[self.call_type]

    # -- turns --

    def update(self, payload: object) -> IntakeResult:
        """Apply one turn's values and return where the intake stands.

        :param payload: a mapping (nested, or with dotted keys such as
            ``"patient.birth_date"``), or JSON text or bytes of one.
        :raises IntakeError: the payload as a whole is unusable (not a mapping, not JSON, too
            large or too deep); the session is then unchanged.
        """
        table = validators_for(self.call_type, self.config)
        values, cleared, issues = read_turn(decode(payload), table, self.clock.now().date())
        # Apply only once the whole turn is understood: a turn never half-applies.
        for path in cleared:
            self._values.pop(path, None)
            self._issues.pop(path, None)
        for path in values:
            self._issues.pop(path, None)
        for path in issues:
            self._values.pop(path, None)
        self._values.update(values)
        self._issues.update(issues)
        self.turn += 1
        self._result = None
        result = self.result()
        _log_turn(self.id, result)
        return result

    # -- state --

    def value(self, path: str) -> Any:
        """Return the normalised value captured at *path*, or ``None``."""
        return self._values.get(path)

    def result(self) -> IntakeResult:
        """Return where the intake stands now (no captured values in it)."""
        if self._result is None:
            result = evaluate(
                self.call_type,
                self.config,
                self._values,
                self._issues.values(),
                language=self.language,
                turn=self.turn,
            )
            if self.checks and result.complete and self.call_type is CallType.NEW_REFERRAL:
                result = self._checked(result)
            role = self._values.get("caller.role")
            if role is not None and result.next_question is not None:
                # Worded for who is calling: "your date of birth" to the patient.
                question = phrase(result.next_question, role, self.config)
                result = attrs.evolve(result, next_question=question)
            self._result = result
        return self._result

    def _checked(self, result: IntakeResult) -> IntakeResult:
        candidate = build_referral(
            self._values, (f.code for f in result.flags), self.clock.now(), uuid4()
        )
        issues: list[FieldIssue] = []
        for check in self.checks:
            try:
                problems = tuple(check(candidate))
            except Exception as exc:  # noqa: BLE001 - a plugin's fault must not end the call
                # Only the type: a plugin's message may quote the referral (PHI).
                _log.warning("intake check %s raised %s", check.name, type(exc).__name__)
                problems = ("check_failed",)
            issues.extend(
                FieldIssue(
                    f"check:{check.name}",
                    str(problem)[:80],
                    "A practice check found a problem to resolve before this referral is "
                    "accepted.",
                )
                for problem in problems
            )
        if not issues:
            return result
        return attrs.evolve(result, complete=False, issues=(*result.issues, *issues))

    # -- outputs --

    def lookup_query(self) -> LookupQuery:
        """Return what identifies the referral this call is about (number or identity)."""
        return LookupQuery(
            referral_number=self._values.get("referral_number"),
            given_name=self._values.get("patient.given_name"),
            family_name=self._values.get("patient.family_name"),
            birth_date=self._values.get("patient.birth_date"),
        )

    def caller(self) -> CallerIdentity:
        """Return who is calling, as far as the call established it."""
        return CallerIdentity(
            role=self._values.get("caller.role") or "other",
            npi=self._values.get("caller.npi"),
            practice_name=self._values.get("caller.practice_name"),
            family_name=self._values.get("patient.family_name"),
            birth_date=self._values.get("patient.birth_date"),
        )

    def to_referral(self, *, referral_id: UUID | None = None) -> Referral:
        """Build the new referral, in ``intake`` status, from a complete ``new_referral``.

        :raises IntakeError: ``not_new_referral``, ``incomplete`` (naming what is missing or
            invalid).
        """
        if self.call_type is not CallType.NEW_REFERRAL:
            raise IntakeError("not_new_referral", "Only a new_referral call creates a referral.")
        result = self.result()
        if not result.complete:
            raise IntakeError(
                "incomplete",
                "The intake is not complete: "
                + ", ".join([*result.missing, *(i.path for i in result.issues)]),
                [{"loc": (m,), "type": "missing", "msg": "required"} for m in result.missing]
                + [{"loc": (i.path,), "type": i.code, "msg": i.message} for i in result.issues],
            )
        return build_referral(
            self._values,
            (f.code for f in result.flags),
            self.clock.now(),
            referral_id or uuid4(),
        )

    def to_call_record(
        self,
        outcome: str,
        *,
        resolved_at: datetime | None = None,
        referral_id: UUID | None = None,
        extra_flags: tuple[IntakeFlag, ...] = (),
    ) -> CallRecord:
        """Return the record of this call, resolved with *outcome* at *resolved_at*."""
        result = self.result()
        flags = [*result.flags, *extra_flags]
        return CallRecord(
            id=self.id,
            call_type=self.call_type.value,
            started_at=self.started_at,
            resolved_at=resolved_at,
            outcome=outcome,
            caller_role=self._values.get("caller.role"),
            referral_id=referral_id,
            handoff_queues=tuple(dict.fromkeys(f.queue for f in flags if f.queue)),
            flags=tuple(dict.fromkeys(f.code for f in flags)),
            language=self.language or self.config.default_language,
            data={path: jsonable(value) for path, value in self._values.items()},
        )


def validate_intake(
    call_type: CallType | str,
    payload: object,
    *,
    config: IntakeConfig | None = None,
    clock: Clock | None = None,
    language: str | None = None,
) -> tuple[IntakeResult, Referral | CallRecord | None]:
    """Validate a whole call in one turn.

    :returns: the result, and when it is complete the new referral (``new_referral``, in
        ``intake`` status) or the call record (other call types, unresolved); else ``None``.
    :raises IntakeError: the call type is unknown or the payload as a whole is unusable.
    """
    kind = CallType.coerce(call_type)
    config = config or _DEFAULT_CONFIG
    clock = clock or _SYSTEM_CLOCK
    if kind is not CallType.NEW_REFERRAL:
        session = IntakeSession(kind, config, clock, language=language)
        result = session.update(payload)
        if not result.complete:
            return result, None
        return result, session.to_call_record("captured")
    # A new_referral needs no session: one turn on a fresh session keeps exactly the values
    # and issues the walk returns (what it clears was never there).
    _check_language(language)
    now = clock.now()
    table = validators_for(kind, config)
    values, _, issues = read_turn(decode(payload), table, now.date())
    result = evaluate(kind, config, values, issues.values(), language=language, turn=1)
    _log_turn(None, result)
    if not result.complete:
        return result, None
    return result, build_referral(values, (f.code for f in result.flags), now)


def _log_turn(session_id: UUID | None, result: IntakeResult) -> None:
    if _log.isEnabledFor(logging.DEBUG):
        _log.debug(
            "intake %s turn %d (%s): %d captured, missing=%s, issues=%s",
            session_id or uuid4(),
            result.turn,
            result.call_type.value,
            len(result.captured),
            list(result.missing),
            [(i.path, i.code) for i in result.issues],
        )


_DEFAULT_CONFIG: Final = IntakeConfig()
_SYSTEM_CLOCK: Final = SystemClock()
