"""HL7 v2 referral messages and the 360X closed-loop set, over MLLP (extra ``hl7``).

- :mod:`~referralkit.adapters.hl7v2.message`: parse and write messages (python-hl7);
- :mod:`~referralkit.adapters.hl7v2.inbound`: REF^I12/I13/I14, OMG^O19, OSU^O51, SIU and
  consult notes into intake payloads and lifecycle triggers;
- :mod:`~referralkit.adapters.hl7v2.outbound`: ACK, RRI^I12, REF, OMG^O19, OSU^O51, SIU and
  the consult note;
- :mod:`~referralkit.adapters.hl7v2.inbox`: one message in, one ACK out;
- :mod:`~referralkit.adapters.hl7v2.mllp`: the MLLP listener and sender;
- :mod:`~referralkit.adapters.hl7v2.codes`: the code tables and their lifecycle mapping.

See ``docs/hl7v2.md``.

.. versionadded:: 0.1
"""

from __future__ import annotations

from referralkit.adapters.hl7v2.inbound import (
    CONSULT_NOTE_LOINC,
    InboundMessage,
    LifecycleUpdate,
    ReadOptions,
    ReferralRequest,
    read_message,
)
from referralkit.adapters.hl7v2.inbox import Hl7Inbox
from referralkit.adapters.hl7v2.message import Hl7Message, parse_message
from referralkit.adapters.hl7v2.mllp import MllpListener, MllpSender, frame, unframe
from referralkit.adapters.hl7v2.outbound import (
    Endpoint,
    build_ack,
    build_consult_note,
    build_osu,
    build_ref,
    build_referral_request,
    build_rri,
    build_siu,
)

__all__ = [
    "CONSULT_NOTE_LOINC",
    "Endpoint",
    "Hl7Inbox",
    "Hl7Message",
    "InboundMessage",
    "LifecycleUpdate",
    "MllpListener",
    "MllpSender",
    "ReadOptions",
    "ReferralRequest",
    "build_ack",
    "build_consult_note",
    "build_osu",
    "build_ref",
    "build_referral_request",
    "build_rri",
    "build_siu",
    "frame",
    "parse_message",
    "read_message",
    "unframe",
]
