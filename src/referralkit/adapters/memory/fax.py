""":class:`InMemoryFax`: the fake fax adapter."""

from __future__ import annotations

import attrs

from referralkit.adapters.memory.recorder import Recorder, receipt_for
from referralkit.ports import FaxRequest, Receipt

__all__ = ["InMemoryFax"]


@attrs.define
class InMemoryFax(Recorder):
    """A fake :class:`~referralkit.ports.FaxAdapter`.

    .. versionadded:: 0.1
    """

    @property
    def sent(self) -> list[FaxRequest]:
        """Faxes sent (one per idempotency key)."""
        return [r for r in self.contacts.values() if isinstance(r, FaxRequest)]

    def send_fax(self, request: FaxRequest) -> Receipt:
        """Record the fax."""
        key = request.idempotency_key
        return self._serve("send_fax", key, request, receipt_for(key))
