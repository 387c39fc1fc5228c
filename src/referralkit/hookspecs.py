"""Hook specifications: the contract vendor plugins implement.

Three kinds of hook, all named ``referralkit_*`` and documented in ``docs/hooks.md``:

* **Provider hooks** (``referralkit_register_*_adapters``) are called when the desk needs a
  backend; each plugin returns objects satisfying a port from :mod:`referralkit.ports`. They do
  no I/O: the I/O is a typed method call on the returned adapter, and the host picks the
  adapter by ``name``.
* **Observer hooks** (``referralkit_on_*``) see every committed event; every implementation
  runs, return values are ignored, and an exception is logged and contained.
* **Contribution hooks** (``referralkit_add_*``) add intake checks, routing rules and outreach
  templates.

Always implement hooks with keyword arguments named as here; an implementation may accept
fewer arguments than the spec (pluggy passes only those it names).

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # annotations only: a host that loads no plugin never imports the ports
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

__all__ = [
    "hookspec",
    "referralkit_add_intake_checks",
    "referralkit_add_outreach_templates",
    "referralkit_add_routing_rules",
    "referralkit_on_event",
    "referralkit_on_transition",
    "referralkit_register_ehr_adapters",
    "referralkit_register_fax_adapters",
    "referralkit_register_notification_adapters",
    "referralkit_register_telephony_adapters",
]

hookspec = pluggy.HookspecMarker("referralkit")
"""Marker for referralkit hook specifications."""


# -- Provider hooks: each plugin returns adapters; the host picks one by name. ----------------


@hookspec
def referralkit_register_telephony_adapters() -> Sequence[TelephonyAdapter]:
    """Return the telephony (voice and SMS) adapters this plugin provides.

    Called whenever the desk needs a telephony backend; keep it cheap and free of I/O.

    :returns: zero or more objects satisfying :class:`~referralkit.ports.TelephonyAdapter`,
        with names unique across plugins.

    .. versionadded:: 0.1
    """
    raise NotImplementedError  # pragma: no cover - specs are never called


@hookspec
def referralkit_register_ehr_adapters() -> Sequence[EhrAdapter]:
    """Return the EHR adapters this plugin provides.

    An adapter may also offer optional operations, each tested by the conformance kit only
    for adapters that support it: ``find_slots`` (booking), ``push_document``
    (:class:`~referralkit.ports.EhrDocumentPush`: the consult report into another practice's
    EHR) and the work mirror (:class:`~referralkit.ports.EhrWorkMirror`).

    :returns: zero or more objects satisfying :class:`~referralkit.ports.EhrAdapter`.

    .. versionadded:: 0.1
    .. versionchanged:: 0.3 the optional operations.
    """
    raise NotImplementedError  # pragma: no cover - specs are never called


@hookspec
def referralkit_register_fax_adapters() -> Sequence[FaxAdapter]:
    """Return the fax adapters this plugin provides; the host picks one by ``name``.

    :returns: zero or more objects satisfying :class:`~referralkit.ports.FaxAdapter`.

    .. versionadded:: 0.1
    """
    raise NotImplementedError  # pragma: no cover - specs are never called


@hookspec
def referralkit_register_notification_adapters() -> Sequence[NotificationAdapter]:
    """Return the notification adapters (staff alerts, practice updates, email, letters).

    :returns: zero or more objects satisfying :class:`~referralkit.ports.NotificationAdapter`.

    .. versionadded:: 0.1
    """
    raise NotImplementedError  # pragma: no cover - specs are never called


# -- Observer hooks: every implementation runs; return values are ignored. ------------------


@hookspec
def referralkit_on_event(notice: EventNotice) -> None:
    """Observe every committed event (creation, transition, amendment, outbox record).

    Called after the event is committed, so an observer can never undo or corrupt it. An
    exception is logged (plugin name and exception type only) and the other observers still run.

    :param notice: the event without its data: ids, kind, states, time and actor kind and role.

    .. versionadded:: 0.1
    """


@hookspec
def referralkit_on_transition(notice: EventNotice) -> None:
    """Observe every committed lifecycle transition (and creation), after ``on_event``.

    :param notice: as for :func:`referralkit_on_event`; ``notice.from_state`` differs from
        ``notice.to_state`` or is ``None`` for creation.

    .. versionadded:: 0.1
    """


# -- Contribution hooks: plugins add checks, rules and templates. ---------------------------


@hookspec
def referralkit_add_intake_checks() -> Sequence[IntakeCheck]:
    """Return extra intake checks; each returns problems as field paths or codes.

    :returns: zero or more objects satisfying :class:`~referralkit.ports.IntakeCheck`.

    .. versionadded:: 0.1
    """
    raise NotImplementedError  # pragma: no cover - specs are never called


@hookspec
def referralkit_add_routing_rules() -> Sequence[RoutingRule]:
    """Return extra routing rules; each may suggest a human queue for a referral.

    :returns: zero or more objects satisfying :class:`~referralkit.ports.RoutingRule`.

    .. versionadded:: 0.1
    """
    raise NotImplementedError  # pragma: no cover - specs are never called


@hookspec
def referralkit_add_outreach_templates() -> Sequence[OutreachTemplate]:
    """Return extra outreach templates, selected by ``template_id``, channel and language.

    :returns: zero or more objects satisfying :class:`~referralkit.ports.OutreachTemplate`.

    .. versionadded:: 0.1
    """
    raise NotImplementedError  # pragma: no cover - specs are never called
