"""In-memory adapters: a :class:`MemoryStore` for tests, demos and embedding without disk.

Also fakes of every vendor port (:class:`InMemoryTelephony`, :class:`InMemoryEhr`,
:class:`InMemoryFax`, :class:`InMemoryNotification`) and :class:`InMemoryPlugin`, which provides
them through the hooks. The fakes record every request, honour idempotency keys (a repeated key
is not a second contact) and can be scripted to fail. This package never imports pytest.

Modules: :mod:`~referralkit.adapters.memory.store`, :mod:`~referralkit.adapters.memory.recorder`
(what the fakes share), one module per fake (``telephony``, ``ehr``, ``fax``, ``notification``),
:mod:`~referralkit.adapters.memory.templates` and :mod:`~referralkit.adapters.memory.plugin`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from referralkit._lazy import exports

if TYPE_CHECKING:  # the names as type checkers see them; at run time, __getattr__
    from referralkit.adapters.memory.ehr import InMemoryEhr
    from referralkit.adapters.memory.fax import InMemoryFax
    from referralkit.adapters.memory.notification import InMemoryNotification
    from referralkit.adapters.memory.plugin import InMemoryPlugin
    from referralkit.adapters.memory.recorder import Fault
    from referralkit.adapters.memory.recorder import FaultKind as FaultKind
    from referralkit.adapters.memory.store import MemoryStore
    from referralkit.adapters.memory.telephony import InMemoryTelephony
    from referralkit.adapters.memory.templates import MemoryTemplate

# Each name is imported when first used, so importing one module of the package (as a
# store or the desk does) does not import all of it.
__getattr__ = exports(
    __name__,
    {
        "Fault": "referralkit.adapters.memory.recorder",
        "FaultKind": "referralkit.adapters.memory.recorder",
        "InMemoryEhr": "referralkit.adapters.memory.ehr",
        "InMemoryFax": "referralkit.adapters.memory.fax",
        "InMemoryNotification": "referralkit.adapters.memory.notification",
        "InMemoryPlugin": "referralkit.adapters.memory.plugin",
        "InMemoryTelephony": "referralkit.adapters.memory.telephony",
        "MemoryStore": "referralkit.adapters.memory.store",
        "MemoryTemplate": "referralkit.adapters.memory.templates",
    },
)

__all__ = [
    "Fault",
    "InMemoryEhr",
    "InMemoryFax",
    "InMemoryNotification",
    "InMemoryPlugin",
    "InMemoryTelephony",
    "MemoryStore",
    "MemoryTemplate",
]
