"""Observer notices and plugin contributions (checks, routing rules, templates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol, Self, runtime_checkable
from uuid import UUID

from referralkit.events import Event
from referralkit.model import (
    ActorKind,
    Channel,
    Referral,
    ReferralStatus,
    Role,
    TaskPriority,
    UtcDatetime,
)
from referralkit.ports.common import Id, Message

__all__ = ["EventNotice", "IntakeCheck", "OutreachTemplate", "RoutingRule", "RoutingSuggestion"]


class EventNotice(Message):
    """What observer hooks see of a committed event: who, when, what kind; never its data.

    Observers that need more read it from the desk, under the host's access control.

    .. versionadded:: 0.1
    """

    referral_id: UUID
    seq: int
    kind: str
    from_state: ReferralStatus | None
    to_state: ReferralStatus | None
    at: UtcDatetime
    actor_kind: ActorKind
    actor_role: Role

    @property
    def is_transition(self) -> bool:
        """Whether the event came from a lifecycle trigger (or creation)."""
        return self.from_state is None or self.from_state is not self.to_state

    @classmethod
    def from_event(cls, event: Event) -> Self:
        """Return the PHI-free notice of *event*."""
        return cls(
            referral_id=event.referral_id,
            seq=event.seq,
            kind=event.kind,
            from_state=event.from_state,
            to_state=event.to_state,
            at=event.at,
            actor_kind=event.actor.kind,
            actor_role=event.actor.role,
        )


class RoutingSuggestion(Message):
    """A contributed routing rule's proposal: send the referral to a human queue.

    .. versionadded:: 0.1
    """

    rule_id: Id
    queue: Id
    title: Id
    reason: Id
    priority: TaskPriority = TaskPriority.NORMAL
    due_in: timedelta = timedelta(hours=24)


@runtime_checkable
class IntakeCheck(Protocol):
    """An extra intake check contributed by a plugin.

    .. versionadded:: 0.1
    """

    @property
    def name(self) -> str:
        """A stable id for the check, shown with its problems."""
        ...

    def __call__(self, referral: Referral) -> Sequence[str]:
        """Return the problems found, as field paths or codes (never PHI); empty when fine."""
        ...


@runtime_checkable
class RoutingRule(Protocol):
    """An extra routing rule contributed by a plugin; it decides nothing clinical.

    .. versionadded:: 0.1
    """

    @property
    def rule_id(self) -> str:
        """A stable id for the rule."""
        ...

    def evaluate(self, referral: Referral, now: datetime) -> RoutingSuggestion | None:
        """Return a suggestion to route the referral to a human queue, or ``None``."""
        ...


@runtime_checkable
class OutreachTemplate(Protocol):
    """A message template contributed by a plugin, rendered for one channel and language.

    .. versionadded:: 0.1
    """

    @property
    def template_id(self) -> str:
        """The id outreach policies name."""
        ...

    @property
    def channel(self) -> Channel:
        """The channel the rendered text is meant for."""
        ...

    @property
    def language(self) -> str:
        """The BCP 47 language of the text."""
        ...

    def render(self, fields: Mapping[str, str]) -> str:
        """Return the text with *fields* filled in; it must not add clinical details."""
        ...
