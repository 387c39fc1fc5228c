""":class:`InMemoryTelephony`: the fake telephony adapter."""

from __future__ import annotations

import attrs

from referralkit.adapters.memory.recorder import Recorder, receipt_for
from referralkit.ports import CallRequest, Receipt, SmsRequest

__all__ = ["InMemoryTelephony"]


@attrs.define
class InMemoryTelephony(Recorder):
    """A fake :class:`~referralkit.ports.TelephonyAdapter`: calls and SMS are recorded.

    .. versionadded:: 0.1
    """

    @property
    def calls(self) -> list[CallRequest]:
        """Calls placed (one per idempotency key)."""
        return [r for r in self.contacts.values() if isinstance(r, CallRequest)]

    @property
    def sms(self) -> list[SmsRequest]:
        """SMS sent (one per idempotency key)."""
        return [r for r in self.contacts.values() if isinstance(r, SmsRequest)]

    def place_call(self, request: CallRequest) -> Receipt:
        """Record the call."""
        key = request.idempotency_key
        return self._serve("place_call", key, request, receipt_for(key))

    def send_sms(self, request: SmsRequest) -> Receipt:
        """Record the SMS."""
        key = request.idempotency_key
        return self._serve("send_sms", key, request, receipt_for(key))
