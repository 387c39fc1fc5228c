"""Named human queues, their supervisors, and the hand-offs each call type may make.

A rule can route only to a declared queue, and a rule scoped to a call type can route only to
that call type's approved queues; both are checked when rules are loaded.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, get_args

import attrs

__all__ = [
    "CALL_TYPES",
    "DEFAULT_HANDOFFS",
    "DEFAULT_QUEUES",
    "CallType",
    "Queue",
    "QueueConfig",
    "escalation_cycle",
]

CallType = Literal[
    "new_referral",
    "schedule_appointment",
    "status_inquiry",
    "authorization_question",
    "records_transfer",
    "visit_preparation",
    "practice_coordination",
]
"""The call types of the domain brief (``Interaction.call_type`` values)."""
CALL_TYPES: Final[tuple[CallType, ...]] = get_args(CallType)


@attrs.frozen
class Queue:
    """A named human work queue.

    :ivar escalates_to: the supervisor queue overdue work climbs to (``None``: top of the
        ladder).

    .. versionadded:: 0.1
    """

    name: str
    title: str
    escalates_to: str | None = None


def _queue(name: str, title: str, escalates_to: str | None = "supervisor") -> Queue:
    return Queue(name=name, title=title, escalates_to=escalates_to)


DEFAULT_QUEUES: Final[Mapping[str, Queue]] = {
    q.name: q
    for q in (
        _queue("clinical_review", "Clinical review (acceptance)", "clinical_supervisor"),
        _queue("urgent_clinical", "Urgent clinical prioritisation", "clinical_supervisor"),
        _queue("authorization", "Insurance authorization"),
        _queue("scheduling", "Scheduling"),
        _queue("records", "Medical records"),
        _queue("practice_relations", "Referring-practice relations"),
        _queue("patient_counselling", "Patient counselling"),
        _queue("clinical_supervisor", "Clinical supervisor", None),
        _queue("supervisor", "Practice supervisor", None),
    )
}
"""The built-in queues; the two supervisor queues sit at the top of the escalation ladder."""

_CLINICAL = ("clinical_review", "urgent_clinical")
DEFAULT_HANDOFFS: Final[Mapping[CallType, frozenset[str]]] = {
    "new_referral": frozenset({*_CLINICAL, "authorization", "records", "patient_counselling"}),
    "schedule_appointment": frozenset(
        {"scheduling", "urgent_clinical", "authorization", "patient_counselling"}
    ),
    "status_inquiry": frozenset({"scheduling", "authorization", "practice_relations"}),
    "authorization_question": frozenset({"authorization", "patient_counselling"}),
    "records_transfer": frozenset({"records", "practice_relations"}),
    "visit_preparation": frozenset({"scheduling", "records", "patient_counselling"}),
    "practice_coordination": frozenset({"practice_relations", *_CLINICAL, "records"}),
}
"""Which queues a conversation of each call type may hand off to."""


def escalation_cycle(queues: Mapping[str, Queue]) -> tuple[str, ...] | None:
    """Return the queue names of an escalation cycle (``a -> b -> a``), or ``None``."""
    for start in queues:
        path: list[str] = [start]
        current = queues[start].escalates_to
        while current is not None and current in queues:
            if current in path:
                return (*path[path.index(current) :], current)
            path.append(current)
            current = queues[current].escalates_to
    return None


@attrs.frozen
class QueueConfig:
    """The declared queues and the approved hand-offs per call type.

    Build with :meth:`check` (or through a rules file) to have it validated.

    .. versionadded:: 0.1
    """

    queues: Mapping[str, Queue] = attrs.field(factory=lambda: dict(DEFAULT_QUEUES))
    handoffs: Mapping[CallType, frozenset[str]] = attrs.field(
        factory=lambda: dict(DEFAULT_HANDOFFS)
    )

    def problems(self) -> list[str]:
        """Return what is wrong with this configuration (empty when valid)."""
        found: list[str] = []
        if not self.queues:
            found.append("no queues declared")
        for name, queue in self.queues.items():
            if name != queue.name:
                found.append(f"queue declared as {name!r} is named {queue.name!r}")
            if queue.escalates_to is not None and queue.escalates_to not in self.queues:
                found.append(
                    f"queue {queue.name!r} escalates to undeclared queue {queue.escalates_to!r}"
                )
        cycle = escalation_cycle(self.queues)
        if cycle is not None:
            found.append("circular escalation: " + " -> ".join(cycle))
        for call_type, targets in self.handoffs.items():
            if call_type not in CALL_TYPES:
                found.append(f"unknown call type {call_type!r} in handoffs")
            for target in sorted(targets - set(self.queues)):
                found.append(f"call type {call_type!r} hands off to undeclared queue {target!r}")
        return found

    def supervisor_of(self, queue: str) -> str | None:
        """Return the queue overdue work in *queue* escalates to, if any."""
        found = self.queues.get(queue)
        return found.escalates_to if found is not None else None
