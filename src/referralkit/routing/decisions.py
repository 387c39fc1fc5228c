"""What routing decides and reports: :class:`RoutingDecision`, explanations, results, reports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID, uuid5

import attrs

from referralkit.lifecycle import Trigger
from referralkit.model import HumanTask
from referralkit.routing.rules import Recipient
from referralkit.routing.sla import ClockName, LadderStep

__all__ = [
    "CheckResult",
    "DecisionKind",
    "RoutingDecision",
    "RoutingReport",
    "RoutingResult",
    "RoutingSweepReport",
    "RuleExplanation",
    "task_id_for",
]

DecisionKind = Literal["open_task", "escalate", "notify", "fire"]

_TASK_NAMESPACE: Final = UUID("6f0f3c52-5c8e-4d53-9a55-0c1bb1f0a6e4")

_MAX_TEXT: Final = 500


@attrs.frozen
class CheckResult:
    """One condition test of one rule: what it needs, what it saw, and whether it passed.

    .. versionadded:: 0.1
    """

    name: str
    passed: bool
    expected: str
    seen: str

    def __str__(self) -> str:
        verdict = "ok" if self.passed else "no"
        return f"{self.name}: saw {self.seen}; needs {self.expected} [{verdict}]"


@attrs.frozen
class RuleExplanation:
    """Why a rule did or did not match (values are codes and durations, never PHI).

    :ivar outcomes: for a matched rule, what became of each action (decided, or already
        recorded and skipped).

    .. versionadded:: 0.1
    """

    rule_id: str
    description: str
    matched: bool
    reason: str
    checks: tuple[CheckResult, ...]
    outcomes: tuple[str, ...] = ()


@attrs.frozen
class RoutingDecision:
    """One thing routing decided should happen to a referral.

    :ivar key: the idempotency key (rule id + subject); recorded in the event's ``data``.
    :ivar task: the task to open: for ``open_task``; for ``escalate`` steps that open one; for
        ``notify`` and ``fire``, the task a person gets if the alert cannot be sent or the
        trigger is refused.
    :ivar escalate_task_id: for the ``owner`` ladder step, the open task whose owner is alerted.

    .. versionadded:: 0.1
    """

    kind: DecisionKind
    rule_id: str
    key: str
    explanation: RuleExplanation
    task: HumanTask | None = None
    escalate_task_id: UUID | None = None
    clock: ClockName | None = None
    step: LadderStep | None = None
    recipient: Recipient | None = None
    message: str | None = None
    trigger: Trigger | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def queue(self) -> str | None:
        """The queue the decision routes to, if any."""
        return self.task.queue if self.task is not None else None

    def event_data(self) -> dict[str, Any]:
        """Return the JSON-compatible, PHI-free record of this decision for its event."""
        data: dict[str, Any] = {
            "key": self.key,
            "rule_id": self.rule_id,
            "decision": self.kind,
            "reason": self.explanation.reason,
        }
        if self.task is not None:
            data["task_id"] = str(self.task.id)
            data["queue"] = self.task.queue
            data["due_at"] = self.task.due_at.isoformat()
            data["priority"] = self.task.priority.value
        if self.escalate_task_id is not None:
            data["escalated_task_id"] = str(self.escalate_task_id)
        for name in ("clock", "step", "recipient", "message", "trigger"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


@attrs.frozen
class RoutingResult:
    """What :func:`evaluate` decided for one referral at one instant.

    :ivar matched: explanations of the rules that matched.
    :ivar already_recorded: idempotency keys of decisions skipped because they are done.

    .. versionadded:: 0.1
    """

    referral_id: UUID
    at: datetime
    decisions: tuple[RoutingDecision, ...]
    matched: tuple[RuleExplanation, ...]
    already_recorded: tuple[str, ...] = ()


@attrs.frozen
class RoutingReport:
    """What the desk did with a :class:`RoutingResult`.

    :ivar applied: decisions committed (each with its event).
    :ivar failed: decisions that could not be applied, with a PHI-free reason; a refused
        trigger is recorded and handed to a person, so it is not retried forever.

    .. versionadded:: 0.1
    """

    referral_id: UUID
    at: datetime
    applied: tuple[RoutingDecision, ...] = ()
    failed: tuple[tuple[RoutingDecision, str], ...] = ()
    matched: tuple[RuleExplanation, ...] = ()
    already_recorded: tuple[str, ...] = ()


@attrs.frozen
class RoutingSweepReport:
    """What one routing sweep over open referrals did.

    .. versionadded:: 0.1
    """

    at: datetime
    examined: int
    routed: int
    """Referrals that had at least one decision applied."""
    decisions: int
    failures: int
    conflicts: int
    """Referrals skipped because other writers kept changing them."""


def task_id_for(referral_id: UUID, key: str) -> UUID:
    """Return the deterministic id of the task a decision with *key* opens.

    Deterministic, so two workers deciding the same thing produce the same task.
    """
    return uuid5(_TASK_NAMESPACE, f"{referral_id}/{key}")


def clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
