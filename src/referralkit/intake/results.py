"""What intake reports: field issues, questions, flags, turn results and call records.

These hold no captured values except :class:`CallRecord`'s ``data`` (left out of its repr),
so they are safe to log.

.. versionadded:: 0.1
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs
from pydantic import AwareDatetime, BaseModel, ConfigDict

from referralkit.intake.fields import CallType

__all__ = ["CallRecord", "FieldIssue", "IntakeFlag", "IntakeResult", "Question"]


# -- Result types -----------------------------------------------------------------------------


@attrs.frozen
class FieldIssue:
    """A value that could not be accepted: where, why (a code) and a message for people.

    The message is plain language and never repeats the value.
    """

    path: str
    code: str
    message: str


@attrs.frozen
class Question:
    """The next thing to ask the caller, in the session's language."""

    field: str
    text: str
    language: str


@attrs.frozen
class IntakeFlag:
    """Something a human should look at; ``queue`` is the hand-off the call type's spec names.

    Flags never change the referral's data: an urgency flag asks a person to review the
    priority, it does not set one.
    """

    code: str
    message: str
    queue: str | None


@attrs.frozen
class IntakeResult:
    """Where an intake stands after a turn (no captured values: it is safe to log).

    :ivar captured: paths of the fields captured so far.
    :ivar missing: requirement keys not yet met, in the order they are asked.
    :ivar issues: values rejected, with field path, code and plain message.
    """

    call_type: CallType
    complete: bool
    captured: tuple[str, ...]
    missing: tuple[str, ...]
    issues: tuple[FieldIssue, ...]
    next_question: Question | None
    flags: tuple[IntakeFlag, ...]
    turn: int


class CallRecord(BaseModel):
    """A resolved call: what kind, who called, how it ended and what was captured.

    ``data`` holds the captured values (JSON-compatible, may be PHI): it is left out of
    ``repr()``. Resolution time is ``resolved_at - started_at``.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", hide_input_in_errors=True, defer_build=True
    )

    id: UUID
    call_type: str
    started_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    outcome: str
    caller_role: str | None = None
    referral_id: UUID | None = None
    handoff_queues: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    language: str = "en"
    data: dict[str, Any] = {}

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name != "data":
                yield name, value

    @property
    def resolution_seconds(self) -> float | None:
        """Seconds from the start of the call to its resolving event, once resolved."""
        if self.resolved_at is None:
            return None
        return (self.resolved_at - self.started_at).total_seconds()
