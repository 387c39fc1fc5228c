"""The HL7 v2 code tables the adapter reads and writes, and their lifecycle mapping.

The referral-status and 360X order codes are read from the one status crosswalk
(:mod:`referralkit.lifecycle.crosswalk`, rendered in ``docs/interop.md``); the rest are
HL7 tables only this adapter uses. Sources: HL7 v2.5.1 tables 0008 (acknowledgement
code), 0038 (order status), 0119 (order control), 0280 (referral priority), 0283 (referral
status) and 0357 (message error condition); the 360X closed-loop referral guide
(referral request OMG^O19, status OSU^O51, appointments SIU^S12/S14/S15/S26).

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

from referralkit.lifecycle import Trigger
from referralkit.lifecycle.crosswalk import HL7V2_REFERRAL_STATUS, X360_TRANSACTIONS
from referralkit.model import Priority, ReferralStatus

__all__ = [
    "ERROR_CODES",
    "OSU_ORDER_CODES",
    "PRIORITY_FROM_0280",
    "PRIORITY_TO_0280",
    "REFERRAL_STATUS_0283",
    "SIU_TRIGGERS",
    "OsuAction",
]

S = ReferralStatus

REFERRAL_STATUS_0283: Final[Mapping[ReferralStatus, str]] = MappingProxyType(
    {state: row.code for row in HL7V2_REFERRAL_STATUS for state in row.states}
)
"""RF1-1 referral status (table 0283: A accepted, P pending, R rejected, E expired).

Cancelled and entered-in-error referrals have no 0283 code: a cancellation is the REF^I14
event itself, so :func:`~referralkit.adapters.hl7v2.build_rri` refuses to answer for them.
"""

PRIORITY_FROM_0280: Final[Mapping[str, Priority]] = MappingProxyType(
    {"S": Priority.STAT, "A": Priority.ASAP, "R": Priority.ROUTINE}
)
"""RF1-2 / TQ1-9 priority (table 0280 and 0485 share S, A and R) to the stated priority."""

PRIORITY_TO_0280: Final[Mapping[Priority, str]] = MappingProxyType(
    {Priority.STAT: "S", Priority.ASAP: "A", Priority.URGENT: "A", Priority.ROUTINE: "R"}
)
"""The stated priority written back; table 0280 has no *urgent*, so it goes out as ASAP."""

OsuAction = Literal["accept", "decline", "cancel", "cancelled_as_requested"]
"""What an OSU^O51 tells the referrer."""


def _x360(name: str) -> tuple[str, str]:
    row = next(t for t in X360_TRANSACTIONS if t.name == name)
    if row.order_control is None or row.order_status is None:  # pragma: no cover - data
        raise ValueError(f"360X transaction {name!r} has no ORC codes")
    return row.order_control, row.order_status


OSU_ORDER_CODES: Final[Mapping[OsuAction, tuple[str, str]]] = MappingProxyType(
    {
        "accept": _x360("Referral accepted"),
        "decline": _x360("Referral declined"),
        "cancel": _x360("Referral cancelled by the receiver"),
        "cancelled_as_requested": _x360("Cancellation confirmed"),
    }
)
"""ORC-1 order control (table 0119) and ORC-5 order status (table 0038) per OSU action.

*accept*: order accepted, in process; *decline*: unable to accept; *cancel*: the receiver
cancelled (patient withdrew); *cancelled_as_requested*: the answer to the referrer's own
cancel request (ORC-1 ``CA`` on an OMG^O19).
"""

SIU_TRIGGERS: Final[Mapping[str, Trigger]] = MappingProxyType(
    {
        "S12": "schedule",
        "S13": "reschedule",
        "S14": "reschedule",
        "S15": "cancel_appointment",
        "S26": "no_show",
    }
)
"""SIU trigger event to lifecycle trigger; the same table drives SIU messages built out."""

ERROR_CODES: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "Message accepted",
        100: "Segment sequence error",
        101: "Required field missing",
        102: "Data type error",
        103: "Table value not found",
        200: "Unsupported message type",
        201: "Unsupported event code",
        202: "Unsupported processing id",
        203: "Unsupported version id",
        204: "Unknown key identifier",
        205: "Duplicate key identifier",
        206: "Application record locked",
        207: "Application internal error",
    }
)
"""HL7 table 0357 (message error condition codes), written in ERR-3."""
