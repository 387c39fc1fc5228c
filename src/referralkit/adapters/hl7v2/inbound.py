"""Read inbound HL7 v2 referral messages into intake payloads and lifecycle triggers.

* REF^I12 and OMG^O19 (ORC-1 ``NW``) become a :class:`ReferralRequest` whose payload went
  through the same validation as a phone intake (:func:`~referralkit.intake.validate_intake`):
  an incomplete one lists what is missing, by intake path and by HL7 field, and carries no
  referral.
* REF^I13 and OMG^O19 (ORC-1 ``XO``) become a :class:`ReferralRequest` with action ``modify``.
* REF^I14, OMG^O19 (ORC-1 ``CA``), OSU^O51, SIU^S12/S13/S14/S15/S26 and a consult note
  (OMG^O19 or ORU^R01 with a LOINC 11488-4 OBX) become a :class:`LifecycleUpdate`: the trigger
  and its data, for :meth:`~referralkit.desk.ReferralDesk.fire`.

Nothing here writes anywhere: the host decides what to commit.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, Literal

import attrs

from referralkit.adapters.hl7v2.codes import OSU_ORDER_CODES, PRIORITY_FROM_0280, SIU_TRIGGERS
from referralkit.adapters.hl7v2.message import Hl7Message, parse_dtm, parse_message
from referralkit.clock import Clock, SystemClock
from referralkit.errors import Hl7MessageError
from referralkit.intake import CallType, IntakeConfig, IntakeResult, validate_intake
from referralkit.lifecycle import Trigger
from referralkit.model import CancelReason, Channel, DeclineReason, Referral, Role

__all__ = [
    "CONSULT_NOTE_LOINC",
    "InboundMessage",
    "LifecycleUpdate",
    "ReadOptions",
    "ReferralRequest",
    "read_message",
]

CONSULT_NOTE_LOINC: Final = "11488-4"
"""LOINC *Consult note*: the OBX-3 code that marks the consult report closing the loop."""

_REFERRAL_NOTE_LOINC: Final = "57133-1"  # 360X OBR-4 "Referral note": names no specialty
_ICD10_SYSTEMS: Final = frozenset({"I10", "I10C", "ICD10", "ICD10CM", "ICD-10-CM", "I10CM"})
_NPI_OID: Final = "2.16.840.1.113883.4.6"
_ROLES: Final[Mapping[tuple[str, str], Role]] = {
    ("REF", "cancel"): Role.REFERRER,
    ("OMG", "cancel"): Role.REFERRER,
    **{("SIU", t): Role.SCHEDULER for t in SIU_TRIGGERS.values()},
}
_MAPPED: Final = {
    "REF": frozenset({"MSH", "EVN", "RF1", "PRD", "PID", "IN1", "DG1"}),
    "OMG": frozenset({"MSH", "PID", "ORC", "TQ1", "OBR", "IN1", "DG1"}),
}


@attrs.frozen
class ReadOptions:
    """How inbound messages are read.

    :ivar default_specialty: the specialty to assume when the message names none (a 360X
        request's OBR-4 is the LOINC *Referral note*, and the receiver knows its specialty).
    :ivar default_tz: the zone of timestamps sent without a UTC offset.

    .. versionadded:: 0.1
    """

    default_specialty: str | None = None
    default_tz: tzinfo = UTC


@attrs.frozen
class ReferralRequest:
    """A new or modified referral read from REF^I12/I13 or OMG^O19.

    :ivar action: ``"create"`` or ``"modify"``.
    :ivar result: the intake result; ``result.complete`` says whether a referral was built.
    :ivar referral: the referral (``intake`` status) when complete; never half-built.
    :ivar sources: intake path to the HL7 field it came from (``"patient.phones": "PID-13"``).
    :ivar unmapped: segment ids present in the message that this adapter does not read.
    :ivar payload: the intake payload (PHI: kept out of the repr).

    .. versionadded:: 0.1
    """

    action: Literal["create", "modify"]
    message_type: str
    control_id: str
    referral_number: str | None
    sent_at: datetime | None
    result: IntakeResult
    referral: Referral | None
    sources: Mapping[str, str]
    unmapped: tuple[str, ...]
    payload: Mapping[str, Any] = attrs.field(repr=False)

    @property
    def complete(self) -> bool:
        """Whether the payload passed intake validation and a referral was built."""
        return self.referral is not None


@attrs.frozen
class LifecycleUpdate:
    """A lifecycle trigger read from a message, for the host to fire.

    :ivar referral_number: the referrer's id for the referral (RF1-6, ORC-2 or SCH-26).
    :ivar appointment_id: the filler's appointment id (SCH-2, else SCH-1), for SIU messages.
    :ivar occurred_at: when it happened (EVN-6, the appointment time, else MSH-7).
    :ivar recorded_at: when the sender recorded it (MSH-7): interop delivers late news.
    :ivar role: the role of whoever the message speaks for, for the
        :class:`~referralkit.model.Actor` the host fires with: ``referrer`` for a referrer's
        cancel, ``scheduler`` for SIU, ``clinician`` for OSU and the consult note.
    :ivar data: the trigger's data, as :meth:`~referralkit.desk.ReferralDesk.fire` takes it
        (may hold free text: kept out of the repr).

    .. versionadded:: 0.1
    """

    message_type: str
    control_id: str
    trigger: Trigger
    referral_number: str | None
    appointment_id: str | None
    occurred_at: datetime | None
    recorded_at: datetime | None
    role: Role
    data: Mapping[str, Any] = attrs.field(repr=False, factory=dict)


InboundMessage = ReferralRequest | LifecycleUpdate
"""What :func:`read_message` returns."""


def _error(reason: str, segment: str, field: int, code: int = 101) -> Hl7MessageError:
    return Hl7MessageError(reason, ack_code="AE", error_code=code, segment=segment, field=field)


def read_message(
    raw: str | bytes | Hl7Message,
    *,
    config: IntakeConfig | None = None,
    clock: Clock | None = None,
    options: ReadOptions | None = None,
) -> InboundMessage:
    """Read one inbound message.

    :param config: the intake configuration (the same one phone intake uses).
    :param clock: the clock intake validation reads "today" from.
    :returns: a :class:`ReferralRequest` or a :class:`LifecycleUpdate`.
    :raises Hl7MessageError: ``AR`` for an unusable envelope or an unsupported message type
        or event, ``AE`` for content that cannot be read (naming the segment and field).
    """
    message = raw if isinstance(raw, Hl7Message) else parse_message(raw)
    opts = options or ReadOptions()
    code, event = message.message_code, message.trigger_event
    if code == "REF":
        if event in ("I12", "I13"):
            return _referral(
                message, "create" if event == "I12" else "modify", config, clock, opts
            )
        if event == "I14":
            number = _ref_number(message)
            if number is None:
                raise _error("RF1-6 has no referral identifier to cancel", "RF1", 6)
            return _update(message, "cancel", number, opts, {"reason": "referrer_request"})
        raise Hl7MessageError(
            "unsupported REF event", ack_code="AR", error_code=201, segment="MSH", field=9
        )
    if code == "OMG" and event == "O19":
        return _omg(message, config, clock, opts)
    if code == "OSU" and event == "O51":
        return _osu(message, opts)
    if code == "SIU":
        return _siu(message, opts)
    if code == "ORU" and event == "R01":
        return _consult_note(message, opts)
    raise Hl7MessageError(
        "unsupported message type", ack_code="AR", error_code=200, segment="MSH", field=9
    )


# -- Referral requests ------------------------------------------------------------------------


@attrs.define
class _Payload:
    values: dict[str, Any] = attrs.field(factory=dict)
    sources: dict[str, str] = attrs.field(factory=dict)

    def put(self, path: str, value: object, source: str) -> None:
        if value not in (None, "", [], ()):
            self.values[path] = value
            self.sources[path] = source


def _referral(
    message: Hl7Message,
    action: Literal["create", "modify"],
    config: IntakeConfig | None,
    clock: Clock | None,
    opts: ReadOptions,
) -> ReferralRequest:
    payload = _Payload()
    patient_of(message, payload)
    number = _ref_number(message)
    payload.put("referral_number", number, "RF1-6")
    priority = message.value("RF1", 2)
    payload.put("priority", _priority(priority), "RF1-2")
    specialty = message.value("RF1", 3, 2) or message.value("RF1", 3, 1)
    payload.put("specialty", specialty or opts.default_specialty, "RF1-3")
    for occurrence in range(1, message.count("PRD") + 1):
        role = message.value("PRD", 1, occurrence=occurrence)
        side = {"RP": "referring", "RT": "receiving"}.get(role)
        if side is not None:
            _prd(message, occurrence, side, payload)
    _diagnoses(message, payload)
    _coverage(message, payload)
    if action == "modify" and number is None:
        raise _error("RF1-6 has no referral identifier to modify", "RF1", 6)
    return _validated(message, action, number, payload, config, clock, "REF")


def _omg(
    message: Hl7Message, config: IntakeConfig | None, clock: Clock | None, opts: ReadOptions
) -> InboundMessage:
    control = message.value("ORC", 1)
    if not message.has("ORC"):
        raise _error("the OMG^O19 has no ORC segment", "ORC", 0, code=100)
    number = message.value("ORC", 2) or message.value("OBR", 2) or None
    if control in ("NW", "XO"):
        payload = _Payload()
        patient_of(message, payload)
        payload.put("referral_number", number, "ORC-2")
        payload.put("priority", _priority(message.value("TQ1", 9)), "TQ1-9")
        code, text = message.value("OBR", 4, 1), message.value("OBR", 4, 2)
        specialty = None if code == _REFERRAL_NOTE_LOINC else text or None
        payload.put("specialty", specialty or opts.default_specialty, "OBR-4")
        name = _person(message, "ORC", 12, xcn=True)
        payload.put("referring_provider.name", name, "ORC-12")
        payload.put("referring_provider.npi", _xcn_npi(message, "ORC", 12), "ORC-12")
        payload.put("referring_practice.name", message.value("ORC", 21), "ORC-21")
        reason = message.value("OBR", 31, 2) or message.value("OBR", 31, 1)
        payload.put("reason.text", reason, "OBR-31")
        _diagnoses(message, payload)
        _coverage(message, payload)
        action: Literal["create", "modify"] = "create" if control == "NW" else "modify"
        if action == "modify" and number is None:
            raise _error("ORC-2 has no placer order number to modify", "ORC", 2)
        return _validated(message, action, number, payload, config, clock, "OMG")
    if control == "CA":
        if number is None:
            raise _error("ORC-2 has no placer order number to cancel", "ORC", 2)
        return _update(message, "cancel", number, opts, {"reason": "referrer_request"})
    if control == "SC" and message.value("ORC", 5) == "CM":
        return _consult_note(message, opts)
    raise _error("ORC-1 is not an order control this adapter reads", "ORC", 1, code=103)


def _validated(
    message: Hl7Message,
    action: Literal["create", "modify"],
    number: str | None,
    payload: _Payload,
    config: IntakeConfig | None,
    clock: Clock | None,
    family: str,
) -> ReferralRequest:
    result, built = validate_intake(
        CallType.NEW_REFERRAL, payload.values, config=config, clock=clock or _CLOCK
    )
    mapped = _MAPPED[family]
    referral = built if isinstance(built, Referral) else None
    if referral is not None:
        # Intake records the capture as a call; this one came over an interface, not a phone.
        referral = referral.model_copy(
            update={
                "interactions": tuple(
                    i.model_copy(update={"channel": Channel.PORTAL, "outcome": "hl7_received"})
                    for i in referral.interactions
                )
            }
        )
    return ReferralRequest(
        action=action,
        message_type=message.message_type,
        control_id=message.control_id,
        referral_number=number,
        sent_at=_sent_at(message),
        result=result,
        referral=referral,
        sources=dict(payload.sources),
        unmapped=tuple(dict.fromkeys(s for s in message.segment_ids if s not in mapped)),
        payload=dict(payload.values),
    )


def patient_of(message: Hl7Message, payload: _Payload) -> None:
    if not message.has("PID"):
        raise _error("the message has no PID segment", "PID", 0, code=100)
    payload.put("patient.family_name", message.value("PID", 5, 1), "PID-5")
    payload.put("patient.given_name", message.value("PID", 5, 2), "PID-5")
    payload.put("patient.middle_name", message.value("PID", 5, 3), "PID-5")
    born = message.value("PID", 7)
    if born:
        if len(born) < 8 or not born[:8].isdigit():
            raise _error("PID-7 is not a date", "PID", 7, code=102)
        payload.put("patient.birth_date", f"{born[:4]}-{born[4:6]}-{born[6:8]}", "PID-7")
    mrn = ""
    for rep in range(1, message.repetitions("PID", 3) + 1):
        if message.value("PID", 3, 5, rep) == "MR":
            mrn = message.value("PID", 3, 1, rep)
            break
    payload.put("patient.mrn", mrn or message.value("PID", 3, 1), "PID-3")
    phones: list[dict[str, str]] = []
    for field, kind in ((13, "home"), (14, "work")):
        for rep in range(1, message.repetitions("PID", field) + 1):
            use, equipment = (
                message.value("PID", field, 2, rep),
                message.value("PID", field, 3, rep),
            )
            if use == "NET" or equipment.lower() in ("internet", "x.400"):
                payload.put("patient.email", message.value("PID", field, 4, rep), f"PID-{field}")
                continue
            number = _xtn_number(message, "PID", field, rep)
            if number:
                phones.append({"number": number, "kind": "mobile" if equipment == "CP" else kind})
    payload.put("patient.phones", phones, "PID-13")
    line1 = message.value("PID", 11, 1)
    if line1:
        payload.put("patient.address.line1", line1, "PID-11")
        payload.put("patient.address.line2", message.value("PID", 11, 2), "PID-11")
        payload.put("patient.address.city", message.value("PID", 11, 3), "PID-11")
        payload.put("patient.address.state", message.value("PID", 11, 4), "PID-11")
        payload.put("patient.address.postal_code", message.value("PID", 11, 5), "PID-11")
    language = message.value("PID", 15, 1)
    payload.put("patient.preferred_language", language.lower() or None, "PID-15")


def _xtn_number(message: Hl7Message, segment: str, field: int, rep: int, occ: int = 1) -> str:
    area = message.value(segment, field, 6, rep, occurrence=occ)
    local = message.value(segment, field, 7, rep, occurrence=occ)
    if local:
        country = message.value(segment, field, 5, rep, occurrence=occ)
        return f"{'+' + country if country else ''}{area}{local}"
    return message.value(segment, field, 1, rep, occurrence=occ)


def _person(message: Hl7Message, segment: str, field: int, *, xcn: bool, occ: int = 1) -> str:
    offset = 1 if xcn else 0  # an XCN starts with the id; an XPN with the family name
    family = message.value(segment, field, 1 + offset, occurrence=occ)
    given = message.value(segment, field, 2 + offset, occurrence=occ)
    return " ".join(p for p in (given, family) if p)


def _xcn_npi(message: Hl7Message, segment: str, field: int) -> str | None:
    for rep in range(1, message.repetitions(segment, field) + 1):
        kind = message.value(segment, field, 13, rep)
        authority = message.value(segment, field, 9, rep, 2)
        if kind == "NPI" or authority == _NPI_OID:
            return message.value(segment, field, 1, rep) or None
    return None


def _prd(message: Hl7Message, occ: int, side: str, payload: _Payload) -> None:
    payload.put(f"{side}_provider.name", _person(message, "PRD", 2, xcn=False, occ=occ), "PRD-2")
    for rep in range(1, message.repetitions("PRD", 7, occurrence=occ) + 1):
        if message.value("PRD", 7, 2, rep, occurrence=occ) == "NPI":
            npi = message.value("PRD", 7, 1, rep, occurrence=occ)
            payload.put(f"{side}_provider.npi", npi, "PRD-7")
    # PRD-10 (organization, v2.7+) names the practice; before it, PRD-4.4 (facility).
    practice = message.value("PRD", 10, occurrence=occ) or message.value(
        "PRD", 4, 4, occurrence=occ
    )
    payload.put(f"{side}_practice.name", practice, "PRD-10")
    if side == "referring":
        phone = _xtn_number(message, "PRD", 5, 1, occ)
        payload.put("referring_practice.phone", phone, "PRD-5")


def _diagnoses(message: Hl7Message, payload: _Payload) -> None:
    codes: list[str] = []
    text = ""
    for occ in range(1, message.count("DG1") + 1):
        system = message.value("DG1", 3, 3, occurrence=occ).upper()
        if system in _ICD10_SYSTEMS:
            code = message.value("DG1", 3, 1, occurrence=occ)
            if code and code not in codes:
                codes.append(code)
        text = text or message.value("DG1", 4, occurrence=occ)
        text = text or message.value("DG1", 3, 2, occurrence=occ)
    payload.put("reason.icd10_codes", codes, "DG1-3")
    if "reason.text" not in payload.values:
        payload.put("reason.text", text, "DG1-4")


def _coverage(message: Hl7Message, payload: _Payload) -> None:
    if not message.has("IN1"):
        return
    payload.put("coverage.payer_name", message.value("IN1", 4), "IN1-4")
    payload.put("coverage.payer_id", message.value("IN1", 3), "IN1-3")
    member = message.value("IN1", 36) or message.value("IN1", 49)
    payload.put("coverage.member_id", member, "IN1-36")
    payload.put("coverage.group_number", message.value("IN1", 8), "IN1-8")
    plan = message.value("IN1", 2, 2) or message.value("IN1", 2, 1)
    payload.put("coverage.plan_name", plan, "IN1-2")


def _priority(code: str) -> str | None:
    if not code:
        return None
    priority = PRIORITY_FROM_0280.get(code.upper())
    # An unknown code goes to validation as it is, so the result names it as invalid.
    return priority.value if priority is not None else code


def _ref_number(message: Hl7Message) -> str | None:
    return message.value("RF1", 6) or message.value("RF1", 11) or None


# -- Lifecycle updates ------------------------------------------------------------------------


def _sent_at(message: Hl7Message) -> datetime | None:
    return parse_dtm(message.value("MSH", 7), segment="MSH", field=7)


def _update(
    message: Hl7Message,
    trigger: Trigger,
    number: str | None,
    opts: ReadOptions,
    data: Mapping[str, Any],
    *,
    appointment_id: str | None = None,
    occurred_at: datetime | None = None,
) -> LifecycleUpdate:
    sent = parse_dtm(message.value("MSH", 7), segment="MSH", field=7, default_tz=opts.default_tz)
    event = parse_dtm(message.value("EVN", 6), segment="EVN", field=6, default_tz=opts.default_tz)
    return LifecycleUpdate(
        message_type=message.message_type,
        control_id=message.control_id,
        trigger=trigger,
        referral_number=number,
        appointment_id=appointment_id,
        occurred_at=occurred_at or event or sent,
        recorded_at=sent,
        role=_ROLES.get((message.message_code, trigger), Role.CLINICIAN),
        data=dict(data),
    )


def _osu(message: Hl7Message, opts: ReadOptions) -> LifecycleUpdate:
    if not message.has("ORC"):
        raise _error("the OSU^O51 has no ORC segment", "ORC", 0, code=100)
    number = message.value("ORC", 2) or None
    if number is None:
        raise _error("ORC-2 has no placer order number", "ORC", 2)
    control = message.value("ORC", 1)
    status = message.value("ORC", 5)
    reason = message.value("ORC", 16, 1)
    note = message.value("ORC", 16, 2) or None
    # The crosswalk's 360X codes (status changed: in process = accepted, cancelled =
    # declined), and the plain order-control answers other senders use.
    if (control, status) == OSU_ORDER_CODES["accept"] or control == "OK":
        return _update(message, "accept", number, opts, {})
    if (control, status) == OSU_ORDER_CODES["decline"] or control == "UA":
        known = {r.value for r in DeclineReason}
        data = {"reason": reason if reason in known else "other", "note": note}
        return _update(message, "decline", number, opts, data)
    if control in ("OC", "CR", "DC"):
        known = {r.value for r in CancelReason}
        fallback = "referrer_request" if control == "CR" else "other"
        data = {"reason": reason if reason in known else fallback, "note": note}
        return _update(message, "cancel", number, opts, data)
    raise _error("ORC-1 is not an OSU order control this adapter reads", "ORC", 1, code=103)


def _siu(message: Hl7Message, opts: ReadOptions) -> LifecycleUpdate:
    trigger = SIU_TRIGGERS.get(message.trigger_event)
    if trigger is None:
        raise Hl7MessageError(
            "unsupported SIU event", ack_code="AR", error_code=201, segment="MSH", field=9
        )
    if not message.has("SCH"):
        raise _error("the SIU has no SCH segment", "SCH", 0, code=100)
    number = message.value("SCH", 26) or None
    appointment_id = message.value("SCH", 2) or message.value("SCH", 1) or None
    if trigger == "schedule" and number is None:
        raise _error("SCH-26 has no placer order number to match a referral", "SCH", 26)
    if number is None and appointment_id is None:
        raise _error("SCH-1 and SCH-2 hold no appointment id", "SCH", 2)
    tz = opts.default_tz
    start = (
        parse_dtm(message.value("AIS", 4), segment="AIS", field=4, default_tz=tz)
        or parse_dtm(message.value("TQ1", 7), segment="TQ1", field=7, default_tz=tz)
        or parse_dtm(message.value("SCH", 11, 4), segment="SCH", field=11, default_tz=tz)
    )
    data: dict[str, Any] = {}
    if trigger in ("schedule", "reschedule"):
        if start is None:
            raise _error("no appointment start in AIS-4, TQ1-7 or SCH-11", "AIS", 4)
        appointment: dict[str, Any] = {"start": start}
        duration = message.value("AIS", 7) or message.value("SCH", 9)
        unit = (message.value("AIS", 8) or message.value("SCH", 10)).lower()
        if duration.isdecimal() and 0 < int(duration) <= 1440 and unit.startswith("min"):
            appointment["duration_minutes"] = int(duration)
        if appointment_id is not None:
            appointment["external_id"] = appointment_id
        location = message.value("AIL", 3, 1) or message.value("AIL", 3, 4)
        if location:
            appointment["location"] = location
        data["appointment"] = appointment
    elif trigger == "cancel_appointment":
        reason = message.value("SCH", 6, 1).lower()
        known = {r.value for r in CancelReason}
        data["reason"] = reason if reason in known else "other"
    else:
        data["reason"] = "unknown"
    occurred = start if trigger == "no_show" else None
    return _update(
        message,
        trigger,
        number,
        opts,
        data,
        appointment_id=appointment_id,
        occurred_at=occurred,
    )


def _consult_note(message: Hl7Message, opts: ReadOptions) -> LifecycleUpdate:
    for occ in range(1, message.count("OBX") + 1):
        if message.value("OBX", 3, 1, occurrence=occ) == CONSULT_NOTE_LOINC:
            reference = message.value("OBX", 5, 1, occurrence=occ)
            if not reference:
                raise _error("OBX-5 has no consult note reference", "OBX", 5)
            number = message.value("ORC", 2) or message.value("OBR", 2) or None
            if number is None:
                raise _error("ORC-2 and OBR-2 hold no placer order number", "OBR", 2)
            data = {"report_reference": reference[:500]}
            return _update(message, "close_loop", number, opts, data)
    raise _error("the message holds no consult note (OBX-3 LOINC 11488-4)", "OBX", 3, code=200)


_CLOCK: Final = SystemClock()
