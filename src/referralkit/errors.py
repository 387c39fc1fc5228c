"""Exceptions raised by referralkit.

::

    ReferralKitError
    ├── IntakeError              (an intake payload or intake configuration is invalid; .errors())
    ├── InvalidReferralNumberError (a referral number read back fails its format or check
    │                             character; .reason)
    ├── InvalidTriggerError      (the name is not a lifecycle trigger; .trigger)
    ├── InvalidTransitionError   (trigger not allowed from the current status; .trigger, .status,
    │   │                         .allowed)
    │   ├── TransitionBlockedError (allowed, but a guard said no; .guard, .reason)
    │   └── PermissionDeniedError  (the actor's role may not fire this trigger; .role)
    ├── TriggerDataError         (the data given with a trigger is invalid; .trigger, .errors())
    ├── HistoryTamperedError     (the event log of a referral fails verification; .referral_id,
    │                             .seq, .reason)
    ├── StoreError               (persistence failed)
    │   ├── ReferralNotFoundError  (.referral_id)
    │   ├── DuplicateReferralError (.referral_id)
    │   ├── ConflictError          (stale version: nothing was written; .referral_id,
    │   │                           .expected, .actual)
    │   ├── CorruptRecordError     (a stored row cannot be decoded; .referral_id)
    │   └── NotAReferralkitDatabaseError (the file or schema is not one referralkit can use)
    ├── RoutingError             (routing rules could not be applied)
    │   └── RuleLoadError          (a rule set is invalid: .source, .rule_id, .line, .reason,
    │                               .problems; the previous rule set stays active)
    ├── AdapterError             (a vendor adapter failed; .adapter, .operation)
    │   ├── TransientAdapterError  (transient: retried with backoff by the desk)
    │   └── PermanentAdapterError  (permanent: never retried; becomes a human task)
    └── NoBackendError           (a capability is needed and no plugin provides it; .hook,
                                  .capability, .requested)

Messages never contain PHI: they name referral ids, states, triggers and field paths only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

__all__ = [
    "AdapterError",
    "ConflictError",
    "CorruptRecordError",
    "DuplicateReferralError",
    "HistoryTamperedError",
    "IntakeError",
    "InvalidReferralNumberError",
    "InvalidTransitionError",
    "InvalidTriggerError",
    "NoBackendError",
    "NotAReferralkitDatabaseError",
    "PermanentAdapterError",
    "PermissionDeniedError",
    "ReferralKitError",
    "ReferralNotFoundError",
    "RoutingError",
    "RuleLoadError",
    "StoreError",
    "TransientAdapterError",
    "TransitionBlockedError",
    "TriggerDataError",
]


class ReferralKitError(Exception):
    """Base class of every exception referralkit raises on purpose."""


class InvalidReferralNumberError(ReferralKitError, ValueError):
    """A referral number fails its format or its check character (a mistyped or misheard one).

    The message names the problem (``.reason``: ``"format"``, ``"prefix"``, ``"length"``,
    ``"character"`` or ``"check"``), never the number.

    .. versionadded:: 0.3
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid referral number ({reason})")


class InvalidTriggerError(ReferralKitError):
    """The name given is not a lifecycle trigger at all."""

    def __init__(self, trigger: str, known: Sequence[str]) -> None:
        self.trigger = trigger
        self.known = tuple(known)
        super().__init__(f"unknown trigger {trigger!r}; known triggers: {', '.join(self.known)}")


class InvalidTransitionError(ReferralKitError):
    """The trigger cannot be fired from the referral's current status."""

    def __init__(
        self, trigger: str, status: str, allowed: Sequence[str], detail: str = ""
    ) -> None:
        self.trigger = trigger
        self.status = status
        self.allowed = tuple(allowed)
        allowed_text = ", ".join(self.allowed) if self.allowed else "none"
        message = (
            detail or f"trigger {trigger!r} is not allowed in state {status!r}"
        ) + f" (allowed now: {allowed_text})"
        super().__init__(message)


class TransitionBlockedError(InvalidTransitionError):
    """The trigger is allowed from this status, but a guard refused it."""

    def __init__(
        self, trigger: str, status: str, allowed: Sequence[str], guard: str, reason: str
    ) -> None:
        self.guard = guard
        self.reason = reason
        super().__init__(
            trigger,
            status,
            allowed,
            detail=f"trigger {trigger!r} from state {status!r} blocked by guard {guard}: {reason}",
        )


class PermissionDeniedError(InvalidTransitionError):
    """The actor's role may not fire this trigger."""

    def __init__(self, trigger: str, status: str, allowed: Sequence[str], role: str) -> None:
        self.role = role
        super().__init__(
            trigger,
            status,
            allowed,
            detail=f"role {role!r} may not fire trigger {trigger!r} in state {status!r}",
        )


class TriggerDataError(ReferralKitError):
    """The data passed with a trigger failed validation."""

    def __init__(self, trigger: str, errors: Sequence[dict[str, Any]]) -> None:
        self.trigger = trigger
        self._errors = [
            {"loc": tuple(e.get("loc", ())), "type": e.get("type", ""), "msg": e.get("msg", "")}
            for e in errors
        ]
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<data>'}: {e['msg']}" for e in self._errors
        )
        super().__init__(f"invalid data for trigger {trigger!r}: {summary}")

    def errors(self) -> list[dict[str, Any]]:
        """Return the field errors (location, type, message; never the input values)."""
        return list(self._errors)


class IntakeError(ReferralKitError):
    """Intake input (a payload, a call type, a spec override) cannot be used at all.

    Field-level problems in a usable payload are reported as issues on the intake result, not
    raised; this is raised when the input as a whole is unusable (not a mapping, not JSON, too
    large or too deep) or when a spec override fails validation.

    :ivar code: a short machine-readable reason, such as ``"not_a_mapping"``.

    .. versionadded:: 0.1
    """

    def __init__(self, code: str, message: str, errors: Sequence[dict[str, Any]] = ()) -> None:
        self.code = code
        self._errors = [
            {"loc": tuple(e.get("loc", ())), "type": e.get("type", ""), "msg": e.get("msg", "")}
            for e in errors
        ] or [{"loc": (), "type": code, "msg": message}]
        super().__init__(message)

    def errors(self) -> list[dict[str, Any]]:
        """Return the problems found (location, type, message; never the input values)."""
        return list(self._errors)


class HistoryTamperedError(ReferralKitError):
    """A referral's event log does not verify: an event was edited, deleted or reordered."""

    def __init__(self, referral_id: UUID | None, seq: int, reason: str) -> None:
        self.referral_id = referral_id
        self.seq = seq
        self.reason = reason
        super().__init__(f"history of referral {referral_id} fails at event {seq}: {reason}")


class StoreError(ReferralKitError):
    """Persistence failed."""


class ReferralNotFoundError(StoreError, KeyError):
    """No referral with this id exists in the store."""

    def __init__(self, referral_id: UUID) -> None:
        self.referral_id = referral_id
        super().__init__(f"no referral with id {referral_id}")

    def __str__(self) -> str:
        # KeyError's __str__ would repr() the message; keep it readable.
        return str(self.args[0])


class DuplicateReferralError(StoreError):
    """A referral with this id already exists."""

    def __init__(self, referral_id: UUID) -> None:
        self.referral_id = referral_id
        super().__init__(f"referral {referral_id} already exists")


class ConflictError(StoreError):
    """A write was based on a stale version of the referral; nothing was written."""

    def __init__(self, referral_id: UUID, expected: int, actual: int | None) -> None:
        self.referral_id = referral_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"referral {referral_id} was changed concurrently: "
            f"expected version {expected}, store has {actual}"
        )


class CorruptRecordError(StoreError):
    """A stored referral or event cannot be decoded."""

    def __init__(self, referral_id: UUID | str, what: str) -> None:
        self.referral_id = referral_id
        super().__init__(f"stored {what} of referral {referral_id} cannot be decoded")


class NotAReferralkitDatabaseError(StoreError):
    """The database is not a referralkit database, or has a schema this version cannot use."""


class AdapterError(ReferralKitError):
    """A vendor adapter failed; adapters raise one of its two subclasses.

    The message is the adapter's own and must hold no PHI; referralkit never logs it.

    :ivar adapter: the adapter's ``name`` (may be empty when raised by the vendor).
    :ivar operation: the port method that failed, such as ``"send_fax"``.

    .. versionadded:: 0.1
    """

    def __init__(self, message: str = "", *, adapter: str = "", operation: str = "") -> None:
        self.adapter = adapter
        self.operation = operation
        super().__init__(message or type(self).__name__)


class TransientAdapterError(AdapterError):
    """A fault worth retrying (timeout, rate limit, 5xx): the desk retries it with backoff.

    .. versionadded:: 0.1
    """


class PermanentAdapterError(AdapterError):
    """A fault retrying cannot fix (invalid number, rejected document): never retried.

    The desk records the action as failed and opens a human task.

    .. versionadded:: 0.1
    """


class NoBackendError(ReferralKitError, LookupError):
    """A capability is needed, and no plugin provides an adapter for it (or the named one).

    :ivar hook: the provider hook that returned no match, e.g.
        ``"referralkit_register_fax_adapters"``.
    :ivar capability: ``"telephony"``, ``"ehr"``, ``"fax"`` or ``"notification"``.
    :ivar requested: the adapter name asked for, or ``None`` for "any".
    :ivar available: the adapter names that are registered.
    :ivar ambiguous: several are registered and none was named, so none could be chosen.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        hook: str,
        capability: str,
        requested: str | None,
        available: Sequence[str],
        *,
        ambiguous: bool = False,
    ) -> None:
        self.hook = hook
        self.capability = capability
        self.requested = requested
        self.available = tuple(available)
        self.ambiguous = ambiguous
        have = ", ".join(self.available) or "none"
        if ambiguous:
            message = (
                f"no {capability} backend chosen: several are registered ({have}); name one in "
                f"ReferralDesk(backends={{{capability!r}: ...}})"
            )
        else:
            wanted = f"adapter {requested!r}" if requested else "an adapter"
            message = (
                f"no {capability} backend: {wanted} is needed but no plugin implementing "
                f"{hook} provides it (registered: {have})"
            )
        super().__init__(message)


class RoutingError(ReferralKitError):
    """Routing rules could not be loaded or applied.

    .. versionadded:: 0.1
    """


class RuleLoadError(RoutingError):
    """A rule set failed validation; whatever rule set was active stays active.

    :ivar source: the file (or ``"<python>"``) the rules came from.
    :ivar problems: every problem found, as ``(rule_id, line, reason)``; ``rule_id`` is ``None``
        for problems outside a rule (syntax, queues), ``line`` when it is not known.
    :ivar rule_id: ``line``, ``reason``: those of the first problem.

    .. versionadded:: 0.1
    """

    def __init__(
        self, source: str, problems: Sequence[tuple[str | None, int | None, str]]
    ) -> None:
        self.source = source
        self.problems = tuple(problems) or ((None, None, "invalid rule set"),)
        self.rule_id, self.line, self.reason = self.problems[0]
        lines = []
        for rule_id, line, reason in self.problems:
            where = f"{source}:{line}" if line is not None else source
            what = f"rule {rule_id!r}: " if rule_id is not None else ""
            lines.append(f"{where}: {what}{reason}")
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(lines[0] + more + ("\n" + "\n".join(lines[1:]) if more else ""))
