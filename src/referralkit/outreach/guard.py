"""May we contact now? The one check every send path runs before every attempt.

The sweep, :meth:`~referralkit.desk.ReferralDesk.dispatch`, each retry attempt and
:meth:`~referralkit.desk.ReferralDesk.recover` call :func:`contact_refusal` on a freshly read
referral just before the adapter is called. A plan made a minute ago does not count: an opt-out
committed during a retry back-off, or a contact window that closed while a worker was down,
stops the send.

.. versionadded:: 0.2
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from referralkit.model import Channel, Referral, ReferralStatus
from referralkit.outreach.policy import Policy
from referralkit.outreach.windows import ContactWindow
from referralkit.ports import OutboundRequest

__all__ = ["OPERATION_CHANNELS", "Refusal", "contact_refusal"]

Refusal = Literal["consent", "state_changed", "window_closed", "no_time_zone", "no_patient"]
"""Why a send was refused: ``consent`` and ``state_changed`` end the action;
``window_closed`` and ``no_time_zone`` leave it for later or for a person."""

OPERATION_CHANNELS: Final = {
    "place_call": Channel.VOICE,
    "send_sms": Channel.SMS,
    "email_patient": Channel.EMAIL,
    "send_letter": Channel.LETTER,
}
"""The patient channel each patient-contact operation uses."""


def contact_refusal(
    referral: Referral,
    request: OutboundRequest,
    *,
    now: datetime,
    policy: Policy,
    planned_status: str | None = None,
) -> Refusal | None:
    """Return why *request* must not be sent to the adapter now, or ``None`` if it may.

    :param referral: the referral as stored right now (read it just before the attempt).
    :param planned_status: the referral's status when the action was queued; a referral that
        has moved to another status since no longer wants it.
    """
    if referral.status is ReferralStatus.ENTERED_IN_ERROR:
        return "state_changed"
    if planned_status is not None and referral.status.value != planned_status:
        return "state_changed"
    channel = OPERATION_CHANNELS.get(request.operation)
    if channel is None:
        return None  # not a patient contact: practices, staff and EHRs keep no calling hours
    patient = referral.patient
    if patient is None:
        return "no_patient"
    number: str | None = getattr(request, "to", None) if channel in _PHONED else None
    if not patient.consent.allows(channel, number):
        return "consent"
    if channel not in policy.windowed_channels:
        return None
    phone = next((p for p in patient.phones if p.number == number), None)
    window = ContactWindow.for_patient(policy.window, patient, phone)
    if window is None:
        return "no_time_zone"
    return None if window.is_open(now) else "window_closed"


_PHONED: Final = frozenset({Channel.VOICE, Channel.SMS})
