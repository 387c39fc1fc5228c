"""Exceptions raised by referralkit.

::

    ReferralKitError
    ├── IntakeError              (an intake payload or intake configuration is invalid; .errors())
    │   └── ContentError           (practice-written call content fails validation on load;
    │                               .errors() names each problem by path)
    ├── InvalidTriggerError      (the name is not a lifecycle trigger; .trigger)
    ├── InvalidTransitionError   (trigger not allowed from the current status; .trigger, .status,
    │   │                         .allowed)
    │   ├── TransitionBlockedError (allowed, but a guard said no; .guard, .reason)
    │   └── PermissionDeniedError  (the actor's role may not fire this trigger; .role)
    ├── TriggerDataError         (the data given with a trigger is invalid; .trigger, .errors())
    ├── InvalidReferralNumberError (a referral number read back fails its format or check
    │                             character; .reason)
    ├── AmendmentError           (an amendment would make an invalid referral; .errors());
    │                             also a ValueError
    ├── HistoryTamperedError     (the event log of a referral fails verification; .referral_id,
    │                             .seq, .reason)
    ├── StoreError               (persistence failed)
    │   ├── ReferralNotFoundError  (.referral_id)
    │   ├── DuplicateReferralError (.referral_id)
    │   ├── ConflictError          (stale version: nothing was written; .referral_id,
    │   │                           .expected, .actual)
    │   ├── CorruptRecordError     (a stored row cannot be decoded; .referral_id, .kind)
    │   ├── StoreURLError          (a store URL is malformed or names no usable place; also a
    │   │                           ValueError)
    │   ├── InvalidTenantError     (a tenant id is empty or has characters outside
    │   │                           ``[A-Za-z0-9._-]``; also a ValueError)
    │   └── NotAReferralkitDatabaseError (the file or schema is not one referralkit can use)
    ├── ConfigError              (a configuration file is missing, unreadable or invalid;
    │   │                         .source, .key)
    │   └── ScenarioError          (a what-if scenario is invalid: unknown key, value out of
    │                               its documented range; .source, .key)
    ├── DirectoryError           (a receiver directory is invalid; .source, .problems naming
    │                             each entry and field; also a ValueError)
    ├── PolicyError              (an outreach policy is invalid; .path, .problem)
    ├── SmsTooLongError          (rendered text does not fit one SMS segment; .length, .limit)
    ├── SendRefusedError         (a send was refused just before its adapter call; .reason)
    ├── RoutingError             (routing rules could not be applied)
    │   └── RuleLoadError          (a rule set is invalid: .source, .rule_id, .line, .reason,
    │                               .problems; the previous rule set stays active)
    ├── AdapterError             (a vendor adapter failed; .adapter, .operation)
    │   ├── TransientAdapterError  (transient: retried with backoff by the desk)
    │   └── PermanentAdapterError  (permanent: never retried; becomes a human task)
    ├── TaskError                (a human-task operation was refused; .referral_id, .task_id)
    │   ├── TaskNotFoundError      (the referral has no such task)
    │   ├── TaskStateError         (not allowed in the task's status; .status, .action)
    │   └── HandoffNotAllowedError (the queue is not an approved hand-off; .source, .target)
    ├── NoBackendError           (a capability is needed and no plugin provides it; .hook,
    │                             .capability, .requested)
    ├── InteropError             (a message or resource from another system cannot be read)
    │   ├── FhirResourceError      (a FHIR resource is refused; .code, .resource_type, .errors())
    │   └── Hl7MessageError        (an HL7 v2 message is malformed, truncated or unsupported;
    │                               .ack_code, .error_code, .segment, .field; never a value)
    ├── WebhookSignatureError    (a webhook's signature is missing, wrong or outside the
    │                             replay window; .reason)
    └── ToolError                (an AI agent's tool call cannot be carried out; .tool, .code)
        ├── ToolNotPermittedError  (the agent's actor role may not perform the operation; .role)
        ├── ToolArgumentsError     (the arguments do not match the tool's schema; .errors())
        └── UnknownCallError       (no call with that id is in progress)

Messages never contain PHI: they name referral ids, states, triggers and field paths only.
No exception raised by a referralkit operation chains to one that carries input values
(``raise ... from None`` where the cause would), and ``.errors()`` lists locations, types and
messages, never inputs (see :func:`scrub_errors`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

__all__ = [
    "AdapterError",
    "AmendmentError",
    "ConfigError",
    "ConflictError",
    "ContentError",
    "CorruptRecordError",
    "DirectoryError",
    "DuplicateReferralError",
    "FhirResourceError",
    "HandoffNotAllowedError",
    "HistoryTamperedError",
    "Hl7MessageError",
    "IntakeError",
    "InteropError",
    "InvalidReferralNumberError",
    "InvalidTenantError",
    "InvalidTransitionError",
    "InvalidTriggerError",
    "NoBackendError",
    "NotAReferralkitDatabaseError",
    "PermanentAdapterError",
    "PermissionDeniedError",
    "PolicyError",
    "ReferralKitError",
    "ReferralNotFoundError",
    "RoutingError",
    "RuleLoadError",
    "ScenarioError",
    "SendRefusedError",
    "SmsTooLongError",
    "StoreError",
    "StoreURLError",
    "TaskError",
    "TaskNotFoundError",
    "TaskStateError",
    "ToolArgumentsError",
    "ToolError",
    "ToolNotPermittedError",
    "TransientAdapterError",
    "TransitionBlockedError",
    "TriggerDataError",
    "UnknownCallError",
    "WebhookSignatureError",
    "scrub_errors",
]


class ReferralKitError(Exception):
    """Base class of every exception referralkit raises on purpose."""


_EXTRA_KEY = "<extra>"  # stands for a caller-supplied key that is not a field


def scrub_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return validation errors reduced to location, type and message: no input, no context.

    A location part the caller made up (an unknown key, reported as ``extra_forbidden``) is
    replaced by ``"<extra>"``, so a key that is itself PHI (a name typed into the wrong box) is
    never echoed.

    :param errors: pydantic-style error dicts (``ValidationError.errors()``).

    .. versionadded:: 0.2
    """
    scrubbed = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        kind = str(error.get("type", ""))
        if kind == "extra_forbidden" and loc:
            loc = (*loc[:-1], _EXTRA_KEY)
        scrubbed.append({"loc": loc, "type": kind, "msg": str(error.get("msg", ""))})
    return scrubbed


class InvalidTriggerError(ReferralKitError):
    """The name given is not a lifecycle trigger at all."""

    def __init__(self, trigger: str, known: Sequence[str]) -> None:
        # The name is the caller's text (perhaps typed by a person): kept, never printed.
        self.trigger = trigger
        self.known = tuple(known)
        super().__init__(f"unknown trigger; known triggers: {', '.join(self.known)}")


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

    def __init__(self, trigger: str, errors: Sequence[Mapping[str, Any]]) -> None:
        self.trigger = trigger
        self._errors = scrub_errors(errors)
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<data>'}: {e['msg']}" for e in self._errors
        )
        super().__init__(f"invalid data for trigger {trigger!r}: {summary}")

    def errors(self) -> list[dict[str, Any]]:
        """Return the field errors (location, type, message; never the input values)."""
        return list(self._errors)


class AmendmentError(ReferralKitError, ValueError):
    """An amendment would make an invalid referral; nothing is written.

    A :class:`ValueError` too, as amendments raised before it existed.

    .. versionadded:: 0.2
    """

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        self._errors = scrub_errors(errors)
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<referral>'}: {e['type']}"
            for e in self._errors
        )
        super().__init__(f"the amended referral is invalid: {summary}")

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

    def __init__(self, code: str, message: str, errors: Sequence[Mapping[str, Any]] = ()) -> None:
        self.code = code
        self._errors = scrub_errors(errors) or [{"loc": (), "type": code, "msg": message}]
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
        self.kind = what
        super().__init__(f"stored {what} of referral {referral_id} cannot be decoded")


class StoreURLError(StoreError, ValueError):
    """A store URL is malformed, has an unsupported scheme, or names a place that cannot be used.

    The message never repeats the URL (it may hold a password).

    .. versionadded:: 0.2
    """


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


class InteropError(ReferralKitError):
    """A message or resource from another system (FHIR, HL7 v2) cannot be read or written.

    .. versionadded:: 0.2
    """


class FhirResourceError(InteropError):
    """A FHIR resource is refused: not JSON, not valid FHIR R4, or not what was expected.

    The message names the resource type and element paths, never a value.

    :ivar code: why, as a code (``not_json``, ``invalid_resource``, ``unexpected_type``,
        ``no_service_request``, ``not_an_open_order``, ``invalid_export``).
    :ivar resource_type: the resource type read or written, when known.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        resource_type: str | None = None,
        errors: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.code = code
        self.resource_type = resource_type
        self._errors = [dict(e) for e in errors]
        super().__init__(message)

    def errors(self) -> list[dict[str, Any]]:
        """Return the element paths and error types behind the refusal (no input values)."""
        return [dict(e) for e in self._errors]


class PolicyError(ReferralKitError, ValueError):
    """An outreach policy is invalid; ``.path`` names the offending field.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 defined here, in the error tree.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"invalid outreach policy at {path or '<root>'}: {problem}")


class SmsTooLongError(ReferralKitError, ValueError):
    """The rendered text does not fit one SMS segment (the message never holds the text).

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 a :class:`ReferralKitError`.
    """

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(f"SMS text is {length} units; one segment allows {limit}")


class SendRefusedError(ReferralKitError):
    """A send was refused just before its adapter call (consent, window, state).

    Raised inside the outbox's retry loop to stop it; the outbox records it, and it never
    reaches a host. ``.reason`` is a PHI-free code (see :mod:`referralkit.outreach.guard`).

    .. versionadded:: 0.2
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"send refused: {reason}")
        self.reason = reason


class Hl7MessageError(InteropError):
    """An HL7 v2 message cannot be used: malformed, truncated, unsupported or incomplete.

    It carries what an acknowledgement needs (HL7 table 0357 error code, the segment and
    field at fault) and never a field's value, so it is safe to log and to put in an ACK.

    :ivar ack_code: ``"AR"`` (rejected: framing, header, type or version) or ``"AE"`` (an
        application error in the content).
    :ivar error_code: the HL7 table 0357 code, such as ``101`` (required field missing).
    :ivar segment: the segment id at fault, such as ``"PID"``, or ``""`` for the whole message.
    :ivar field: the field position in that segment (1-based), or ``0`` when not one field.
    :ivar reason: a short plain-language reason without PHI.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        reason: str,
        *,
        ack_code: str = "AE",
        error_code: int = 207,
        segment: str = "",
        field: int = 0,
    ) -> None:
        self.reason = reason
        self.ack_code = ack_code
        self.error_code = error_code
        self.segment = segment
        self.field = field
        where = f"{segment}-{field}" if segment and field else segment or "message"
        super().__init__(f"{where}: {reason} (HL7 error {error_code}, {ack_code})")


class WebhookSignatureError(ReferralKitError):
    """A received webhook cannot be trusted.

    Its signature is missing, malformed or wrong, or its timestamp is outside the replay window.

    :ivar reason: ``"missing"``, ``"malformed"``, ``"mismatch"`` or ``"expired"``.

    .. versionadded:: 0.1
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"webhook signature rejected: {reason}")


class ContentError(IntakeError):
    """Practice-written call content (visit preparation) is invalid; raised when it is loaded.

    The code is ``"invalid_content"``; :meth:`errors` names every problem by its path
    (``visit.0.en.bring``), never repeating the content itself.

    .. versionadded:: 0.1
    """

    def __init__(self, message: str, errors: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__("invalid_content", message, errors)


class ToolError(ReferralKitError):
    """An AI agent's tool call cannot be carried out.

    The message names the tool and a code, never the arguments (they may hold PHI), so it is
    safe to hand back to the agent as the tool's error result.

    :ivar tool: the tool's name.
    :ivar code: a short machine-readable reason.

    .. versionadded:: 0.1
    """

    def __init__(self, tool: str, code: str, message: str) -> None:
        self.tool = tool
        self.code = code
        super().__init__(message)


class ToolNotPermittedError(ToolError):
    """The agent's actor role may not perform the operation behind the tool.

    :ivar role: the actor's role.

    .. versionadded:: 0.1
    """

    def __init__(self, tool: str, role: str, call_type: str | None = None) -> None:
        self.role = role
        self.call_type = call_type
        where = f" on a {call_type} call" if call_type else ""
        super().__init__(tool, "not_permitted", f"role {role!r} may not use tool {tool!r}{where}")


class ToolArgumentsError(ToolError):
    """The arguments of a tool call do not match the tool's schema.

    .. versionadded:: 0.1
    """

    def __init__(self, tool: str, errors: Sequence[dict[str, Any]]) -> None:
        self._errors = [
            {"loc": tuple(e.get("loc", ())), "type": e.get("type", ""), "msg": e.get("msg", "")}
            for e in errors
        ]
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<arguments>'}: {e['msg']}"
            for e in self._errors[:10]
        )
        super().__init__(tool, "invalid_arguments", f"invalid arguments for {tool!r}: {summary}")

    def errors(self) -> list[dict[str, Any]]:
        """Return the problems found (location, type, message; never the input values)."""
        return list(self._errors)


class UnknownCallError(ToolError):
    """No call with the given id is in progress (never started, or already finished).

    .. versionadded:: 0.1
    """

    def __init__(self, tool: str) -> None:
        super().__init__(tool, "unknown_call", f"tool {tool!r}: no call in progress with that id")


class TaskError(ReferralKitError):
    """A human-task operation was refused; nothing was written.

    :ivar referral_id: the referral the task belongs to.
    :ivar task_id: the task.

    .. versionadded:: 0.1
    """

    def __init__(self, referral_id: UUID, task_id: UUID, message: str) -> None:
        super().__init__(f"referral {referral_id}, task {task_id}: {message}")
        self.referral_id = referral_id
        self.task_id = task_id


class TaskNotFoundError(TaskError, LookupError):
    """The referral has no task with this id.

    .. versionadded:: 0.1
    """

    def __init__(self, referral_id: UUID, task_id: UUID) -> None:
        super().__init__(referral_id, task_id, "no such task")


class TaskStateError(TaskError):
    """The action is not allowed in the task's status (completing a cancelled task, say).

    :ivar status: the task's status.
    :ivar action: the refused action (``"claim"``, ``"complete"``...).

    .. versionadded:: 0.1
    """

    def __init__(
        self, referral_id: UUID, task_id: UUID, status: str, action: str, why: str = ""
    ) -> None:
        detail = f": {why}" if why else ""
        super().__init__(referral_id, task_id, f"cannot {action} a task that is {status}{detail}")
        self.status = status
        self.action = action


class HandoffNotAllowedError(TaskError):
    """The target queue is not an approved hand-off from the task's queue.

    :ivar source: the task's queue.
    :ivar target: the queue asked for.

    .. versionadded:: 0.1
    """

    def __init__(self, referral_id: UUID, task_id: UUID, source: str, target: str) -> None:
        super().__init__(
            referral_id, task_id, f"queue {target!r} is not an approved hand-off from {source!r}"
        )
        self.source = source
        self.target = target


class ConfigError(ReferralKitError):
    """A configuration file (``referralkit.toml``) is missing, unreadable or invalid.

    :ivar source: the file's name (never its content).
    :ivar reason: what is wrong, in words (never the file's content).
    :ivar key: the dotted key at fault, when one is.
    :ivar line: the line at fault, when the TOML parser named one.

    .. versionadded:: 0.2
    """

    def __init__(
        self, source: str, reason: str, *, key: str | None = None, line: int | None = None
    ) -> None:
        self.source = source
        self.reason = reason
        self.key = key
        self.line = line
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + reason)


class DirectoryError(ReferralKitError, ValueError):
    """A directory of receivers failed validation when it was loaded.

    :ivar source: the file (or ``"<python>"``) the directory came from.
    :ivar problems: every problem, as ``(entry, field, reason)``: the entry is the receiver's
        ``id`` (or ``#<index>`` when it has none), the field a dotted path inside it
        (``network.as_of``), ``None`` for the directory as a whole. Reasons never repeat the
        values given.

    .. versionadded:: 0.4
    """

    def __init__(
        self, source: str, problems: Sequence[tuple[str | None, str | None, str]]
    ) -> None:
        self.source = source
        self.problems = tuple(problems) or ((None, None, "invalid directory"),)
        lines = []
        for entry, field, reason in self.problems:
            where = f"receiver {entry!r}" if entry is not None else "directory"
            lines.append(f"{source}: {where}" + (f", {field}" if field else "") + f": {reason}")
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(lines[0] + more + ("\n" + "\n".join(lines[1:]) if more else ""))


class ScenarioError(ConfigError):
    """A what-if scenario (``referralkit.simulate``) is invalid.

    The message names the scenario and the dotted key at fault (an unknown key, a value of the
    wrong type or outside its documented range), never anything else from the file.

    .. versionadded:: 0.4
    """


class InvalidReferralNumberError(ReferralKitError, ValueError):
    """A referral number fails its format or its check character (a mistyped or misheard one).

    The message names the problem (``.reason``: ``"format"``, ``"prefix"``, ``"length"``,
    ``"character"`` or ``"check"``), never the number.

    .. versionadded:: 0.3
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid referral number ({reason})")


class InvalidTenantError(StoreError, ValueError):
    """A tenant id is not usable: empty, longer than 64 characters, or outside ``[A-Za-z0-9._-]``.

    The message gives the rule, never the value (a host might pass a practice name).

    .. versionadded:: 0.4
    """

    def __init__(self) -> None:
        super().__init__("a tenant id is 1-64 characters from A-Z, a-z, 0-9, '.', '_' and '-'")
