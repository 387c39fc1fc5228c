"""Plugin discovery and the typed :class:`Hooks` facade over pluggy.

Plugins come from the entry-point group ``referralkit`` and from explicit registration.
:func:`make_plugin_manager` loads entry points one at a time: a plugin that fails to import or
register is recorded as a :class:`PluginLoadError` on the manager's ``load_errors`` and the
others still load. Set ``REFERRALKIT_DISABLED_PLUGINS`` (comma-separated entry-point names) to
block plugins without uninstalling them.

:class:`Hooks` is the only code that touches ``pm.hook``: one typed method per hook.

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final, Literal, TypeVar

import attrs
import pluggy

from referralkit import hookspecs
from referralkit.errors import NoBackendError
from referralkit.hookspecs import hookspec

if TYPE_CHECKING:  # the ports are imported where an adapter is first looked up
    from importlib.metadata import EntryPoint

    from referralkit.ports import (
        Capability,
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
    "DISABLED_PLUGINS_ENV",
    "PROJECT_NAME",
    "Hooks",
    "PluginLoadError",
    "ReferralkitPluginManager",
    "hookimpl",
    "hookspec",
    "make_plugin_manager",
]

PROJECT_NAME: Final = "referralkit"
"""The pluggy project name, and the entry-point group plugins are published under."""
DISABLED_PLUGINS_ENV: Final = "REFERRALKIT_DISABLED_PLUGINS"
"""Environment variable: comma-separated entry-point names not to load."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for hook implementations: decorate plugin functions or methods with it."""

_log = logging.getLogger("referralkit.plugins")

_A = TypeVar("_A", "TelephonyAdapter", "EhrAdapter", "FaxAdapter", "NotificationAdapter")


@attrs.frozen
class PluginLoadError:
    """Why one entry-point plugin did not load; the other plugins loaded regardless.

    :ivar name: the entry-point name.
    :ivar value: the entry-point target, ``"module:attr"``.
    :ivar stage: ``"import"`` (loading the object failed) or ``"register"`` (pluggy refused
        it, e.g. a hook name with no spec or a bad signature).
    :ivar reason: the exception type and message.

    .. versionadded:: 0.1
    """

    name: str
    value: str
    stage: Literal["import", "register"]
    reason: str


class ReferralkitPluginManager(pluggy.PluginManager):
    """A :class:`pluggy.PluginManager` that remembers which entry points failed to load.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.load_errors: list[PluginLoadError] = []


def make_plugin_manager(
    plugins: Iterable[object] = (),
    *,
    load_entrypoints: bool = True,
    entry_points: Iterable[EntryPoint] | None = None,
    disabled: Iterable[str] | None = None,
) -> ReferralkitPluginManager:
    """Build a plugin manager with referralkit's hookspecs and the given plugins.

    :param plugins: objects (modules, instances) with ``@hookimpl`` methods, registered after
        the entry points.
    :param load_entrypoints: load the plugins published under the ``referralkit`` group.
    :param entry_points: use these instead of the installed ones (for tests and hosts that
        pin their plugins).
    :param disabled: entry-point names not to load; defaults to ``REFERRALKIT_DISABLED_PLUGINS``.
    :returns: the manager; failed entry points are listed in ``load_errors``.
    :raises pluggy.PluginValidationError: an explicit plugin implements an unknown hook.

    .. versionadded:: 0.1
    """
    pm = ReferralkitPluginManager()
    pm.add_hookspecs(hookspecs)
    if disabled is None:
        disabled = os.environ.get(DISABLED_PLUGINS_ENV, "").split(",")
    for name in disabled:
        if name.strip():
            pm.set_blocked(name.strip())
    if load_entrypoints or entry_points is not None:
        # Not pm.load_setuptools_entrypoints(): one broken vendor plugin must not stop the
        # others loading, so each entry point is loaded and registered on its own.
        found = entry_points if entry_points is not None else _installed_entry_points()
        for entry_point in found:
            _load_one(pm, entry_point)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()  # a misspelled hook in an explicit plugin fails here, loudly
    return pm


def _installed_entry_points() -> Sequence[EntryPoint]:
    # Imported here: reading installed distributions' metadata is slow to import and to run,
    # and a hermetic desk (the default) never does it.
    from importlib.metadata import entry_points

    return tuple(entry_points(group=PROJECT_NAME))


def _load_one(pm: ReferralkitPluginManager, entry_point: EntryPoint) -> None:
    if pm.is_blocked(entry_point.name) or pm.get_plugin(entry_point.name) is not None:
        return
    try:
        plugin = entry_point.load()
    except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
        _record(pm, entry_point, "import", exc)
        return
    try:
        pm.register(plugin, name=entry_point.name)
        _reject_unknown_hooks(pm, plugin)
    except Exception as exc:  # noqa: BLE001 - a bad plugin is reported, the rest still load
        _record(pm, entry_point, "register", exc)


def _reject_unknown_hooks(pm: ReferralkitPluginManager, plugin: object) -> None:
    # check_pending() would name the hook but not which entry point brought it: check here.
    unknown = [caller.name for caller in pm.get_hookcallers(plugin) or () if not caller.has_spec()]
    if unknown:
        pm.unregister(plugin)
        raise pluggy.PluginValidationError(
            plugin, f"unknown hook(s): {', '.join(sorted(unknown))}"
        )


def _record(
    pm: ReferralkitPluginManager,
    entry_point: EntryPoint,
    stage: Literal["import", "register"],
    exc: Exception,
) -> None:
    error = PluginLoadError(
        name=entry_point.name,
        value=entry_point.value,
        stage=stage,
        reason=f"{type(exc).__name__}: {exc}",
    )
    pm.load_errors.append(error)
    _log.warning("plugin %r not loaded (%s): %s", error.name, stage, type(exc).__name__)


@attrs.frozen
class Hooks:
    """One typed method per hookspec; the only place that touches ``pm.hook``.

    ``pm.hook`` returns ``Any``; each method annotates what the spec promises.

    .. versionadded:: 0.1
    """

    pm: pluggy.PluginManager

    # -- provider hooks ---------------------------------------------------------------------

    def telephony_adapters(self) -> dict[str, TelephonyAdapter]:
        """Return every registered telephony adapter by name."""
        per_plugin: list[Sequence[TelephonyAdapter]] = (
            self.pm.hook.referralkit_register_telephony_adapters()
        )
        return {a.name: a for adapters in per_plugin for a in adapters}

    def ehr_adapters(self) -> dict[str, EhrAdapter]:
        """Return every registered EHR adapter by name."""
        per_plugin: list[Sequence[EhrAdapter]] = self.pm.hook.referralkit_register_ehr_adapters()
        return {a.name: a for adapters in per_plugin for a in adapters}

    def fax_adapters(self) -> dict[str, FaxAdapter]:
        """Return every registered fax adapter by name."""
        per_plugin: list[Sequence[FaxAdapter]] = self.pm.hook.referralkit_register_fax_adapters()
        return {a.name: a for adapters in per_plugin for a in adapters}

    def notification_adapters(self) -> dict[str, NotificationAdapter]:
        """Return every registered notification adapter by name."""
        per_plugin: list[Sequence[NotificationAdapter]] = (
            self.pm.hook.referralkit_register_notification_adapters()
        )
        return {a.name: a for adapters in per_plugin for a in adapters}

    def telephony(self, name: str | None = None, operation: str | None = None) -> TelephonyAdapter:
        """Return the telephony adapter called *name* (or the only one supporting *operation*).

        :param operation: ``"send_sms"`` or ``"place_call"``: with no *name*, only adapters
            that declare it are candidates, so SMS and voice may come from different vendors.
        :raises NoBackendError: none is registered under that name, or several candidates.

        .. versionchanged:: 0.3 *operation*.
        """
        per_plugin: list[Sequence[TelephonyAdapter]] = (
            self.pm.hook.referralkit_register_telephony_adapters()
        )
        return _pick(
            per_plugin, name, "referralkit_register_telephony_adapters", "telephony", operation
        )

    def ehr(self, name: str | None = None, operation: str | None = None) -> EhrAdapter:
        """Return the EHR adapter called *name* (or the only one supporting *operation*).

        :raises NoBackendError: none is registered under that name, or several candidates.

        .. versionchanged:: 0.3 *operation*.
        """
        per_plugin: list[Sequence[EhrAdapter]] = self.pm.hook.referralkit_register_ehr_adapters()
        return _pick(per_plugin, name, "referralkit_register_ehr_adapters", "ehr", operation)

    def fax(self, name: str | None = None) -> FaxAdapter:
        """Return the fax adapter called *name* (or the only one).

        :raises NoBackendError: none is registered under that name.
        """
        per_plugin: list[Sequence[FaxAdapter]] = self.pm.hook.referralkit_register_fax_adapters()
        return _pick(per_plugin, name, "referralkit_register_fax_adapters", "fax")

    def notification(self, name: str | None = None) -> NotificationAdapter:
        """Return the notification adapter called *name* (or the only one).

        :raises NoBackendError: none is registered under that name.
        """
        per_plugin: list[Sequence[NotificationAdapter]] = (
            self.pm.hook.referralkit_register_notification_adapters()
        )
        return _pick(
            per_plugin, name, "referralkit_register_notification_adapters", "notification"
        )

    def implemented(self, hook_name: str) -> bool:
        """Return whether any registered plugin implements the hook *hook_name*."""
        caller = getattr(self.pm.hook, hook_name, None)
        return caller is not None and bool(caller.get_hookimpls())

    # -- observer hooks ---------------------------------------------------------------------

    def has_observers(self) -> bool:
        """Return whether any plugin implements an observer hook (lets callers skip work)."""
        return bool(
            self.pm.hook.referralkit_on_event.get_hookimpls()
            or self.pm.hook.referralkit_on_transition.get_hookimpls()
        )

    def on_event(self, notice: EventNotice) -> None:
        """Call every ``referralkit_on_event`` implementation; contain and log failures."""
        self._observe("referralkit_on_event", notice)

    def on_transition(self, notice: EventNotice) -> None:
        """Call every ``referralkit_on_transition`` implementation; contain and log failures."""
        self._observe("referralkit_on_transition", notice)

    def _observe(self, hook_name: str, notice: EventNotice) -> None:
        # Each observer is called on its own, so one that raises cannot stop the others
        # (a plain pluggy call stops at the first exception).
        caller = getattr(self.pm.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):
            try:
                impl.function(**{arg: notice for arg in impl.argnames})
            except Exception as exc:  # noqa: BLE001 - observers never break a committed change
                _log.warning(
                    "observer %s of plugin %r raised %s (event %s of referral %s)",
                    hook_name,
                    impl.plugin_name,
                    type(exc).__name__,
                    notice.seq,
                    notice.referral_id,
                )

    # -- contribution hooks -----------------------------------------------------------------

    def intake_checks(self) -> list[IntakeCheck]:
        """Return every contributed intake check."""
        per_plugin: list[Sequence[IntakeCheck]] = self.pm.hook.referralkit_add_intake_checks()
        return [check for checks in per_plugin for check in checks]

    def routing_rules(self) -> list[RoutingRule]:
        """Return every contributed routing rule."""
        per_plugin: list[Sequence[RoutingRule]] = self.pm.hook.referralkit_add_routing_rules()
        return [rule for rules in per_plugin for rule in rules]

    def outreach_templates(self) -> list[OutreachTemplate]:
        """Return every contributed outreach template."""
        per_plugin: list[Sequence[OutreachTemplate]] = (
            self.pm.hook.referralkit_add_outreach_templates()
        )
        return [template for templates in per_plugin for template in templates]


def _pick(
    per_plugin: list[Sequence[_A]],
    name: str | None,
    hook: str,
    capability: Capability,
    operation: str | None = None,
) -> _A:
    from referralkit.ports import supported_operations

    if name is not None:
        for adapters in per_plugin:
            for adapter in adapters:
                if adapter.name == name:
                    return adapter
    else:
        # Unnamed: the only adapter that supports the operation (an SMS vendor and a voice
        # vendor may both register telephony adapters).
        every = [
            adapter
            for adapters in per_plugin
            for adapter in adapters
            if operation is None or operation in supported_operations(adapter, capability)
        ]
        if len(every) == 1:
            return every[0]
        if every:
            names = [adapter.name for adapter in every]
            raise NoBackendError(hook, capability, None, names, ambiguous=True)
    available = [adapter.name for adapters in per_plugin for adapter in adapters]
    raise NoBackendError(hook, capability, name, available)
