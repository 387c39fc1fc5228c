""":class:`InMemoryPlugin`: one fake per port, provided through the hooks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import attrs

from referralkit.adapters.memory.ehr import InMemoryEhr
from referralkit.adapters.memory.fax import InMemoryFax
from referralkit.adapters.memory.notification import InMemoryNotification
from referralkit.adapters.memory.recorder import Recorder
from referralkit.adapters.memory.telephony import InMemoryTelephony
from referralkit.adapters.memory.templates import default_templates
from referralkit.clock import Clock
from referralkit.plugins import hookimpl
from referralkit.ports import (
    EhrAdapter,
    EventNotice,
    FaxAdapter,
    IntakeCheck,
    NotificationAdapter,
    OutreachTemplate,
    RoutingRule,
    TelephonyAdapter,
)

__all__ = ["InMemoryPlugin"]


@attrs.define
class InMemoryPlugin:
    """A plugin providing one fake per port, recording what observers see.

    Register it with :func:`~referralkit.plugins.make_plugin_manager`; every hook is
    implemented, so it also serves as a reference for vendors.

    .. versionadded:: 0.1
    """

    telephony: InMemoryTelephony = attrs.field(factory=InMemoryTelephony)
    ehr: InMemoryEhr = attrs.field(factory=InMemoryEhr)
    fax: InMemoryFax = attrs.field(factory=InMemoryFax)
    notification: InMemoryNotification = attrs.field(factory=InMemoryNotification)
    notices: list[EventNotice] = attrs.field(factory=list)
    """Every event notice observed (``referralkit_on_event``)."""
    transitions: list[EventNotice] = attrs.field(factory=list)
    """Every transition notice observed (``referralkit_on_transition``)."""
    intake_checks: list[IntakeCheck] = attrs.field(factory=list)
    routing_rules: list[RoutingRule] = attrs.field(factory=list)
    templates: list[OutreachTemplate] = attrs.field(factory=default_templates)

    @classmethod
    def with_clock(
        cls, clock: Clock, *, sleep: Callable[[float], None] = time.sleep
    ) -> InMemoryPlugin:
        """Return a plugin whose fakes stamp receipts with *clock* and sleep with *sleep*."""
        return cls(
            telephony=InMemoryTelephony(clock=clock, sleep=sleep),
            ehr=InMemoryEhr(clock=clock, sleep=sleep),
            fax=InMemoryFax(clock=clock, sleep=sleep),
            notification=InMemoryNotification(clock=clock, sleep=sleep),
        )

    @property
    def backends(self) -> tuple[Recorder, ...]:
        """The four fakes."""
        return (self.telephony, self.ehr, self.fax, self.notification)

    @hookimpl
    def referralkit_register_telephony_adapters(self) -> Sequence[TelephonyAdapter]:
        """Provide the telephony fake."""
        return [self.telephony]

    @hookimpl
    def referralkit_register_ehr_adapters(self) -> Sequence[EhrAdapter]:
        """Provide the EHR fake."""
        return [self.ehr]

    @hookimpl
    def referralkit_register_fax_adapters(self) -> Sequence[FaxAdapter]:
        """Provide the fax fake."""
        return [self.fax]

    @hookimpl
    def referralkit_register_notification_adapters(self) -> Sequence[NotificationAdapter]:
        """Provide the notification fake."""
        return [self.notification]

    @hookimpl
    def referralkit_on_event(self, notice: EventNotice) -> None:
        """Record the notice."""
        self.notices.append(notice)

    @hookimpl
    def referralkit_on_transition(self, notice: EventNotice) -> None:
        """Record the transition notice."""
        self.transitions.append(notice)

    @hookimpl
    def referralkit_add_intake_checks(self) -> Sequence[IntakeCheck]:
        """Contribute the configured intake checks."""
        return list(self.intake_checks)

    @hookimpl
    def referralkit_add_routing_rules(self) -> Sequence[RoutingRule]:
        """Contribute the configured routing rules."""
        return list(self.routing_rules)

    @hookimpl
    def referralkit_add_outreach_templates(self) -> Sequence[OutreachTemplate]:
        """Contribute the configured templates."""
        return list(self.templates)
