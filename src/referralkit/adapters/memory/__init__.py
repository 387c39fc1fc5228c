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

from referralkit.adapters.memory.ehr import InMemoryEhr
from referralkit.adapters.memory.fax import InMemoryFax
from referralkit.adapters.memory.notification import InMemoryNotification
from referralkit.adapters.memory.plugin import InMemoryPlugin
from referralkit.adapters.memory.recorder import Fault
from referralkit.adapters.memory.recorder import FaultKind as FaultKind
from referralkit.adapters.memory.store import MemoryStore
from referralkit.adapters.memory.telephony import InMemoryTelephony
from referralkit.adapters.memory.templates import MemoryTemplate

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
