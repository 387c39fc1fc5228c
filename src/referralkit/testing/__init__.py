"""referralkit's pytest plugin: ``referralkit_*`` fixtures for hosts and vendors.

Registered through the ``pytest11`` entry point, so it loads into every pytest session
wherever referralkit is installed: it imports nothing heavy until a fixture is used.

Fixtures (override the three settings fixtures in a ``conftest.py`` to change them):

* ``referralkit_start``: the instant the clock starts at (Monday 2025-01-06 16:00 UTC, 10:00
  in Illinois: inside calling hours).
* ``referralkit_outreach``: the desk's :class:`~referralkit.outreach.dispatch.OutreachSettings`
  (``None``: outreach off).
* ``referralkit_auto_route``: whether the desk routes after every change (``False``).
* ``referralkit_clock``: a :class:`~referralkit.clock.ManualClock` at ``referralkit_start``.
* ``referralkit_memory``: an :class:`~referralkit.adapters.memory.InMemoryPlugin` whose fakes
  use that clock and never sleep.
* ``referralkit_outbox``: the same plugin, named for what tests assert on (what was sent).
* ``referralkit_pm``: a plugin manager holding only the in-memory plugin.
* ``referralkit_hooks``: the typed :class:`~referralkit.plugins.Hooks` facade over it.
* ``referralkit_retrying``: a retry policy of three tries that never waits.
* ``referralkit_desk``: a :class:`~referralkit.desk.ReferralDesk` on a memory store with all of
  the above.

.. versionchanged:: 0.2 ``referralkit_start``, ``referralkit_outreach`` and
   ``referralkit_auto_route``; the clock starts inside calling hours.

.. versionadded:: 0.1
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tenacity import Retrying

    from referralkit.adapters.memory import InMemoryPlugin
    from referralkit.clock import ManualClock
    from referralkit.desk import ReferralDesk
    from referralkit.outreach.dispatch import OutreachSettings
    from referralkit.plugins import Hooks, ReferralkitPluginManager

__all__ = [
    "referralkit_auto_route",
    "referralkit_clock",
    "referralkit_desk",
    "referralkit_hooks",
    "referralkit_memory",
    "referralkit_outbox",
    "referralkit_outreach",
    "referralkit_pm",
    "referralkit_retrying",
    "referralkit_start",
]

_START = datetime(2025, 1, 6, 16, 0, tzinfo=UTC)  # 10:00 in Illinois: inside calling hours


@pytest.fixture
def referralkit_start() -> datetime:
    """Return the instant ``referralkit_clock`` starts at; override it to start elsewhere."""
    return _START


@pytest.fixture
def referralkit_outreach() -> OutreachSettings | None:
    """Return the outreach settings ``referralkit_desk`` uses (``None``: outreach off)."""
    return None


@pytest.fixture
def referralkit_auto_route() -> bool:
    """Return whether ``referralkit_desk`` routes after every committed change."""
    return False


@pytest.fixture
def referralkit_clock(referralkit_start: datetime) -> ManualClock:
    """Return a manual clock at ``referralkit_start``."""
    from referralkit.clock import ManualClock

    return ManualClock(referralkit_start)


@pytest.fixture
def referralkit_memory(referralkit_clock: ManualClock) -> InMemoryPlugin:
    """Return the in-memory plugin: one recording fake per port, sleeping never."""
    from referralkit.adapters.memory import InMemoryPlugin

    return InMemoryPlugin.with_clock(referralkit_clock, sleep=lambda _seconds: None)


@pytest.fixture
def referralkit_outbox(referralkit_memory: InMemoryPlugin) -> InMemoryPlugin:
    """Return the recorded outboxes (``.telephony.sms``, ``.fax.sent``, ...)."""
    return referralkit_memory


@pytest.fixture
def referralkit_pm(referralkit_memory: InMemoryPlugin) -> ReferralkitPluginManager:
    """Return a manager with only the in-memory plugin: installed vendor plugins are ignored."""
    from referralkit.plugins import make_plugin_manager

    return make_plugin_manager([referralkit_memory], load_entrypoints=False)


@pytest.fixture
def referralkit_hooks(referralkit_pm: ReferralkitPluginManager) -> Hooks:
    """Return the typed hook facade over ``referralkit_pm``."""
    from referralkit.plugins import Hooks

    return Hooks(referralkit_pm)


@pytest.fixture
def referralkit_retrying() -> Retrying:
    """Return a retry policy of three tries that never waits."""
    from referralkit.outbox import RetryPolicy

    return RetryPolicy.no_wait(3)


@pytest.fixture
def referralkit_desk(
    referralkit_clock: ManualClock,
    referralkit_hooks: Hooks,
    referralkit_retrying: Retrying,
    referralkit_outreach: OutreachSettings | None,
    referralkit_auto_route: bool,
) -> ReferralDesk:
    """Return a desk on a memory store, the manual clock and the in-memory adapters."""
    from referralkit.adapters.memory import MemoryStore
    from referralkit.desk import ReferralDesk

    return ReferralDesk(
        store=MemoryStore(),
        clock=referralkit_clock,
        hooks=referralkit_hooks,
        retrying=referralkit_retrying,
        outreach=referralkit_outreach,
        auto_route=referralkit_auto_route,
    )
