""":class:`InMemoryNotification`: the fake notification adapter."""

from __future__ import annotations

import attrs
from pydantic import BaseModel

from referralkit.adapters.memory.recorder import Recorder, receipt_for
from referralkit.ports import (
    LetterRequest,
    PatientEmailRequest,
    PracticeUpdateRequest,
    Receipt,
    StaffAlertRequest,
)

__all__ = ["InMemoryNotification"]


@attrs.define
class InMemoryNotification(Recorder):
    """A fake :class:`~referralkit.ports.NotificationAdapter`.

    .. versionadded:: 0.1
    """

    @property
    def sent(self) -> list[BaseModel]:
        """Alerts, updates, emails and letters sent (one per idempotency key)."""
        return list(self.contacts.values())

    def alert_staff(self, request: StaffAlertRequest) -> Receipt:
        """Record the staff alert."""
        key = request.idempotency_key
        return self._serve("alert_staff", key, request, receipt_for(key))

    def update_practice(self, request: PracticeUpdateRequest) -> Receipt:
        """Record the practice update."""
        key = request.idempotency_key
        return self._serve("update_practice", key, request, receipt_for(key))

    def email_patient(self, request: PatientEmailRequest) -> Receipt:
        """Record the email."""
        key = request.idempotency_key
        return self._serve("email_patient", key, request, receipt_for(key))

    def send_letter(self, request: LetterRequest) -> Receipt:
        """Record the letter."""
        key = request.idempotency_key
        return self._serve("send_letter", key, request, receipt_for(key))
