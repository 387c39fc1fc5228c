""":class:`Hl7Inbox`: one inbound message in, one acknowledgement out.

The inbox parses and reads a message, hands what it read to the host's ``deliver`` callback,
and answers with an ACK: ``AA`` when delivered, ``AE`` naming each missing or invalid field
(segment and field, never a value) when the content cannot be used, ``AR`` when the envelope,
message type or version is refused. Nothing is delivered unless it was read completely, so a
malformed or truncated message never half-creates a referral. A repeated message (same sender
and MSH-10, as after an ACK timeout) gets the first answer again and is not delivered twice,
unless that answer was a failure of the host's own (``207``), which a repeat tries again.

.. versionadded:: 0.1
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Final

import attrs

from referralkit.adapters.hl7v2.inbound import (
    InboundMessage,
    ReadOptions,
    ReferralRequest,
    read_message,
)
from referralkit.adapters.hl7v2.message import Hl7Message, decode_text, parse_message
from referralkit.adapters.hl7v2.outbound import Endpoint, build_ack
from referralkit.clock import Clock, SystemClock
from referralkit.errors import DuplicateReferralError, Hl7MessageError, ReferralKitError
from referralkit.intake import IntakeConfig

__all__ = ["Hl7Inbox", "intake_errors"]

_log = logging.getLogger("referralkit.hl7v2")
_SAFE_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,40}")
_PATH_FIELDS: Final[Mapping[str, Mapping[str, str]]] = {
    "REF": {
        "patient.given_name": "PID-5",
        "patient.family_name": "PID-5",
        "patient.birth_date": "PID-7",
        "patient.phones": "PID-13",
        "referring_practice.name": "PRD-10",
        "referring_provider.name": "PRD-2",
        "specialty": "RF1-3",
        "reason.text": "DG1-4",
        "reason.icd10_codes": "DG1-3",
        "coverage.payer_name": "IN1-4",
        "coverage.member_id": "IN1-36",
    },
    "OMG": {
        "patient.given_name": "PID-5",
        "patient.family_name": "PID-5",
        "patient.birth_date": "PID-7",
        "patient.phones": "PID-13",
        "referring_practice.name": "ORC-21",
        "referring_provider.name": "ORC-12",
        "specialty": "OBR-4",
        "reason.text": "OBR-31",
        "reason.icd10_codes": "DG1-3",
        "coverage.payer_name": "IN1-4",
        "coverage.member_id": "IN1-36",
    },
}


def _location(text: str) -> tuple[str, int]:
    seg, _, field = text.partition("-")
    return seg, int(field) if field.isdigit() else 0


def _source(path: str, *tables: Mapping[str, str]) -> str:
    """Return the HL7 field of *path* or of its nearest parent (``patient.phones.0``)."""
    parts = path.split("[")[0].split(".")
    while parts:
        key = ".".join(parts)
        for table in tables:
            if key in table:
                return table[key]
        parts.pop()
    return ""


def intake_errors(request: ReferralRequest) -> list[Hl7MessageError]:
    """Return one AE error per missing or invalid field of an incomplete request.

    :returns: errors naming the intake path, the HL7 segment and field, and the problem's
        code; empty when the request is complete.
    """
    fields = _PATH_FIELDS["OMG" if request.message_type.startswith("OMG") else "REF"]
    errors: list[Hl7MessageError] = []
    for requirement in request.result.missing:
        path = requirement.split("|")[0].strip()
        seg, field = _location(fields.get(path, ""))
        errors.append(
            Hl7MessageError(
                f"{requirement.replace(' | ', ' or ')} is required",
                error_code=101,
                segment=seg,
                field=field,
            )
        )
    for issue in request.result.issues:
        seg, field = _location(_source(issue.path, request.sources, fields))
        errors.append(
            Hl7MessageError(
                f"{issue.path} is invalid ({issue.code})", error_code=102, segment=seg, field=field
            )
        )
    return errors


def _salvage(raw: str | bytes) -> tuple[Endpoint | None, str]:
    """Read the sender and control id of a message that failed to parse, if safely possible."""
    try:
        text = decode_text(raw)
    except Hl7MessageError:
        return None, ""
    first = text.split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 4:
        return None, ""
    fields = first.split(first[3])
    if len(fields) < 10:
        return None, ""
    # Only id-like values go back into the ACK: the rest of a broken header is not trusted.
    safe = [v if _SAFE_ID.fullmatch(v) else "" for v in (fields[2], fields[3], fields[9])]
    return Endpoint(safe[0], safe[1]), safe[2]


@attrs.define
class Hl7Inbox:
    """Answer each inbound message with an ACK, delivering what was read to the host.

    :ivar deliver: called once per message read completely; what it raises becomes an AE
        (``205`` for a duplicate referral, ``207`` otherwise) and is logged by type only.
    :ivar sender: this side's MSH-3/MSH-4 in the ACKs.
    :ivar remember: how many recent (sender, control id) pairs are kept to answer repeats.

    .. versionadded:: 0.1
    """

    deliver: Callable[[InboundMessage], object]
    sender: Endpoint = attrs.field(factory=lambda: Endpoint("REFERRALKIT"))
    clock: Clock = attrs.field(factory=SystemClock)
    config: IntakeConfig | None = None
    options: ReadOptions = attrs.field(factory=ReadOptions)
    remember: int = 1000
    _answers: OrderedDict[tuple[str, str, str], str] = attrs.field(factory=OrderedDict, init=False)
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)

    def _control_id(self) -> str:
        return f"RK{self.clock.now():%Y%m%d%H%M%S}{next(self._ids):06d}"

    def handle(self, raw: str | bytes) -> str:
        """Read one message and return its ACK (text, unframed).

        Never raises for anything in the message: every refusal is an ACK.
        """
        now = self.clock.now()
        try:
            message = parse_message(raw)
        except Hl7MessageError as exc:
            _log.warning("HL7 message refused: %s", exc)
            peer, control = _salvage(raw)
            return build_ack(
                None,
                sender=self.sender,
                now=now,
                control_id=self._control_id(),
                errors=[exc],
                receiver=peer,
                acknowledged_id=control,
            )
        key = (message.value("MSH", 3), message.value("MSH", 4), message.control_id)
        answered = self._answers.get(key)
        if answered is not None:
            _log.info("HL7 message %s repeated: answered again", message.control_id)
            return answered
        ack, final = self._answer(message)
        if final:
            self._answers[key] = ack
            while len(self._answers) > self.remember:
                self._answers.popitem(last=False)
        return ack

    def _answer(self, message: Hl7Message) -> tuple[str, bool]:
        """Return the ACK, and whether a repeat should get the same one.

        A failure of the host (table 0357 code 207) is not final: the sender's retry of the
        same message gets another try.
        """
        errors: list[Hl7MessageError] = []
        try:
            inbound = read_message(
                message, config=self.config, clock=self.clock, options=self.options
            )
        except Hl7MessageError as exc:
            errors.append(exc)
        else:
            if isinstance(inbound, ReferralRequest) and not inbound.complete:
                errors.extend(intake_errors(inbound))
            else:
                errors.extend(self._deliver(message, inbound))
        if errors:
            _log.warning(
                "HL7 message %s (%s) answered %s: %s",
                message.control_id,
                message.message_type,
                "AR" if any(e.ack_code == "AR" for e in errors) else "AE",
                "; ".join(str(e) for e in errors),
            )
        ack = build_ack(
            message,
            sender=self.sender,
            now=self.clock.now(),
            control_id=self._control_id(),
            errors=errors,
        )
        return ack, all(e.error_code != 207 for e in errors)

    def _deliver(self, message: Hl7Message, inbound: InboundMessage) -> list[Hl7MessageError]:
        try:
            self.deliver(inbound)
        except DuplicateReferralError:
            return [Hl7MessageError("the referral already exists", error_code=205)]
        except ReferralKitError as exc:
            return [Hl7MessageError(f"the application refused it ({type(exc).__name__})")]
        except Exception as exc:  # noqa: BLE001 - a host callback must not kill the feed
            # By type only: a host exception's text may hold PHI.
            _log.error("HL7 message %s: deliver raised %s", message.control_id, type(exc).__name__)
            return [Hl7MessageError("application internal error")]
        return []
