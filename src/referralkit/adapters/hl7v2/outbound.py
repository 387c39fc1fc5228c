r"""Build outbound HL7 v2 messages: ACKs, RRI^I12, REF^I12/I13/I14 and the 360X set.

Every builder returns the message as text (segments ended by ``\\r``), escaped, at v2.5.1
unless told otherwise; frame it with :func:`~referralkit.adapters.hl7v2.mllp.frame` to send.
Builders take what they need (the referral, the time, the control id) and read no clock.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final, Literal

import attrs

from referralkit.adapters.hl7v2.codes import (
    ERROR_CODES,
    OSU_ORDER_CODES,
    PRIORITY_TO_0280,
    REFERRAL_STATUS_0283,
    SIU_TRIGGERS,
    OsuAction,
)
from referralkit.adapters.hl7v2.inbound import CONSULT_NOTE_LOINC
from referralkit.adapters.hl7v2.message import (
    FieldValue,
    Hl7Message,
    encode_message,
    format_dtm,
    segment,
)
from referralkit.errors import Hl7MessageError
from referralkit.model import Appointment, Referral

__all__ = [
    "Endpoint",
    "build_ack",
    "build_consult_note",
    "build_osu",
    "build_ref",
    "build_referral_request",
    "build_rri",
    "build_siu",
]

VERSION: Final = "2.5.1"
_SIU_STATUS: Final = {"S12": "Booked", "S13": "Booked", "S14": "Booked", "S15": "Cancelled"}


@attrs.frozen
class Endpoint:
    """One end of an HL7 v2 exchange: MSH-3/4 when sending, MSH-5/6 when receiving.

    .. versionadded:: 0.1
    """

    application: str
    facility: str = ""


def _msh(
    sender: Endpoint,
    receiver: Endpoint,
    now: datetime,
    message_type: list[str],
    control_id: str,
    version: str = VERSION,
) -> str:
    return segment(
        "MSH",
        sender.application,
        sender.facility,
        receiver.application,
        receiver.facility,
        format_dtm(now),
        None,
        message_type,
        control_id,
        "P",
        version,
    )


def _require_number(referral: Referral) -> str:
    if referral.referral_number is None:
        raise Hl7MessageError(
            "the referral has no referral number to send", segment="ORC", field=2, error_code=101
        )
    return referral.referral_number


def _xtn(number: str, use: str, equipment: str) -> list[str]:
    # XTN-1 (deprecated, still widely read) carries the E.164 text; a North American number
    # is also split into XTN-5 country, XTN-6 area and XTN-7 local, as v2.5.1 prefers.
    if number.startswith("+1") and len(number) == 12:
        return [number, use, equipment, "", "1", number[2:5], number[5:]]
    return [number, use, equipment]


def _pid(referral: Referral) -> str:
    patient = referral.patient
    if patient is None:
        return segment("PID", "1")
    telecom: list[list[str]] = []
    for phone in patient.phones:
        use = "WPN" if phone.kind.value == "work" else "PRN"
        equipment = "CP" if phone.kind.value == "mobile" else "PH"
        telecom.append(_xtn(phone.number, use, equipment))
    if patient.email:
        telecom.append(["", "NET", "Internet", patient.email])
    address: FieldValue = None
    if patient.address is not None:
        a = patient.address
        address = [a.line1, a.line2 or "", a.city, a.state, a.postal_code, a.country]
    return segment(
        "PID",
        "1",
        None,
        [patient.mrn, "", "", "", "MR"] if patient.mrn else None,
        None,
        [patient.family_name, patient.given_name, patient.middle_name or ""],
        None,
        patient.birth_date.strftime("%Y%m%d") if patient.birth_date else None,
        None,
        None,
        None,
        address,
        None,
        tuple(telecom) if telecom else None,
        None,
        patient.preferred_language,
    )


def _xcn(name: str | None, npi: str | None) -> FieldValue:
    if not name and not npi:
        return None
    given, _, family = (name or "").rpartition(" ")
    parts = [npi or "", family, given]
    if npi:
        parts += ["", "", "", "", "", "", "", "", "", "NPI"]
    return parts


def build_ack(
    message: Hl7Message | None,
    *,
    sender: Endpoint,
    now: datetime,
    control_id: str,
    errors: Sequence[Hl7MessageError] = (),
    receiver: Endpoint | None = None,
    acknowledged_id: str = "",
) -> str:
    """Return the acknowledgement of *message*: AA, or AE/AR with one ERR per problem.

    :param message: the message acknowledged, or ``None`` when it could not be parsed
        (pass *receiver* and *acknowledged_id* for MSA-2 when they could be read safely).
    :param errors: the problems found; the first decides AE or AR (AR wins if any is AR).
    :returns: an ``ACK^<event>^ACK`` message, with MSA-3 naming the first problem.
    """
    code = "AA"
    if errors:
        code = "AR" if any(e.ack_code == "AR" for e in errors) else "AE"
    event = message.trigger_event if message is not None else ""
    peer = receiver or Endpoint("")
    if message is not None:
        peer = Endpoint(message.value("MSH", 3), message.value("MSH", 4))
    version = message.version if message is not None else VERSION
    segments = [
        _msh(sender, peer, now, ["ACK", event, "ACK"], control_id, version),
        segment(
            "MSA",
            code,
            message.control_id if message is not None else acknowledged_id,
            errors[0].reason if errors else None,
        ),
    ]
    for error in errors:
        location = [error.segment, "1", str(error.field)] if error.field else [error.segment]
        segments.append(
            segment(
                "ERR",
                None,
                location if error.segment else None,
                [str(error.error_code), ERROR_CODES.get(error.error_code, ""), "HL70357"],
                "E",
                None,
                None,
                None,
                error.reason,
            )
        )
    return encode_message(segments)


def build_rri(
    request: Hl7Message,
    referral: Referral,
    *,
    sender: Endpoint,
    now: datetime,
    control_id: str,
) -> str:
    """Return the RRI^I12 answering a REF^I12: MSA AA and RF1-1 per table 0283.

    :raises Hl7MessageError: the referral is cancelled or entered in error (table 0283 has no
        code for it: send the cancellation instead).
    """
    status = REFERRAL_STATUS_0283.get(referral.status)
    if status is None:
        raise Hl7MessageError(
            "table 0283 has no status for this referral", segment="RF1", field=1, error_code=103
        )
    receiver = Endpoint(request.value("MSH", 3), request.value("MSH", 4))
    number = referral.referral_number or request.value("RF1", 6)
    segments = [
        _msh(sender, receiver, now, ["RRI", "I12", "RRI_I12"], control_id, request.version),
        segment("MSA", "AA", request.control_id),
        segment(
            "RF1",
            status,
            PRIORITY_TO_0280[referral.priority],
            None,
            None,
            None,
            number or None,
            None,
            None,
            None,
            None,
            str(referral.id),
        ),
        _pid(referral),
    ]
    return encode_message(segments)


def build_ref(
    referral: Referral,
    *,
    event: Literal["I12", "I13", "I14"] = "I12",
    sender: Endpoint,
    receiver: Endpoint,
    now: datetime,
    control_id: str,
) -> str:
    """Return a REF^I12 (new), REF^I13 (modify) or REF^I14 (cancel) for *referral*.

    The fields are those :func:`~referralkit.adapters.hl7v2.read_message` reads, so a
    referral survives the round trip.
    """
    segments = [
        _msh(sender, receiver, now, ["REF", event, "REF_I12"], control_id),
        segment("EVN", event, format_dtm(now)),
        segment(
            "RF1",
            REFERRAL_STATUS_0283.get(referral.status, "P"),
            PRIORITY_TO_0280[referral.priority],
            ["", referral.specialty or ""],
            None,
            None,
            referral.referral_number,
        ),
    ]
    for role, practice, provider in (
        ("RP", referral.referring_practice, referral.referring_provider),
        ("RT", referral.receiving_practice, referral.receiving_provider),
    ):
        if practice is None and provider is None:
            continue
        given, _, family = (provider.name if provider else "").rpartition(" ")
        phone = practice.phone if practice is not None and role == "RP" else None
        segments.append(
            segment(
                "PRD",
                role,
                [family, given] if provider else None,
                None,
                None,
                _xtn(phone, "WPN", "PH") if phone else None,
                None,
                [provider.npi, "NPI"] if provider and provider.npi else None,
                None,
                None,
                practice.name if practice else None,
            )
        )
    segments.append(_pid(referral))
    if referral.coverage is not None:
        c = referral.coverage
        fields: list[FieldValue] = [None] * 36
        fields[0] = "1"
        fields[1] = ["", c.plan_name or ""] if c.plan_name else None
        fields[2] = c.payer_id
        fields[3] = c.payer_name
        fields[7] = c.group_number
        fields[35] = c.member_id
        segments.append(segment("IN1", *fields))
    if referral.reason is not None:
        codes = referral.reason.icd10_codes or ("",)
        for n, code in enumerate(codes, start=1):
            text = referral.reason.text if n == 1 else None
            coded = [code, "", "I10"] if code else None
            segments.append(segment("DG1", str(n), None, coded, text))
    return encode_message(segments)


def build_referral_request(
    referral: Referral, *, sender: Endpoint, receiver: Endpoint, now: datetime, control_id: str
) -> str:
    """Return the 360X referral request: OMG^O19 with ORC-1 ``NW``, at v2.5.1.

    :raises Hl7MessageError: the referral has no referral number (ORC-2 must carry it).
    """
    number = _require_number(referral)
    provider = referral.referring_provider
    practice = referral.referring_practice
    orc: list[FieldValue] = [None] * 21
    orc[0], orc[1] = "NW", number
    orc[11] = _xcn(provider.name if provider else None, provider.npi if provider else None)
    orc[20] = practice.name if practice else None
    reason_text = referral.reason.text if referral.reason else None
    obr: list[FieldValue] = [None] * 31
    obr[0], obr[1] = "1", number
    obr[3] = ["", referral.specialty or ""]
    obr[30] = ["", reason_text] if reason_text else None
    segments = [
        _msh(sender, receiver, now, ["OMG", "O19", "OMG_O19"], control_id),
        _pid(referral),
        segment("ORC", *orc),
        segment("TQ1", *([None] * 8), PRIORITY_TO_0280[referral.priority]),
        segment("OBR", *obr),
    ]
    if referral.reason is not None:
        for n, code in enumerate(referral.reason.icd10_codes, start=1):
            segments.append(segment("DG1", str(n), None, [code, "", "I10"]))
    return encode_message(segments)


def build_osu(
    referral: Referral,
    action: OsuAction,
    *,
    sender: Endpoint,
    receiver: Endpoint,
    now: datetime,
    control_id: str,
    reason: str | None = None,
) -> str:
    """Return the 360X OSU^O51 telling the referrer where the referral stands.

    Accepted, declined or cancelled: ORC-1 and ORC-5 per
    :data:`~referralkit.adapters.hl7v2.codes.OSU_ORDER_CODES`.

    :param reason: a coded reason for ORC-16 (a ``DeclineReason`` or ``CancelReason`` value);
        defaults to the referral's status reason code.
    :raises Hl7MessageError: the referral has no referral number.
    """
    number = _require_number(referral)
    control, status = OSU_ORDER_CODES[action]
    if reason is None and referral.status_reason is not None:
        reason = referral.status_reason.code
    orc: list[FieldValue] = [None] * 16
    orc[0], orc[1], orc[2], orc[4] = control, number, str(referral.id), status
    orc[8] = format_dtm(now)
    orc[15] = [reason, reason] if reason else None
    segments = [
        _msh(sender, receiver, now, ["OSU", "O51", "OSU_O51"], control_id),
        _pid(referral),
        segment("ORC", *orc),
    ]
    return encode_message(segments)


def build_siu(
    referral: Referral,
    appointment: Appointment,
    event: Literal["S12", "S13", "S14", "S15", "S26"],
    *,
    sender: Endpoint,
    receiver: Endpoint,
    now: datetime,
    control_id: str,
) -> str:
    """Return the 360X SIU telling the referrer about the appointment.

    Booked (S12), moved (S13, S14), cancelled (S15) or missed (S26); SCH-26 carries the
    referral number and SCH-27 the referral id.

    :raises Hl7MessageError: the referral has no referral number.
    """
    number = _require_number(referral)
    if event not in SIU_TRIGGERS:
        raise Hl7MessageError("unsupported SIU event", segment="MSH", field=9, error_code=201)
    appointment_id = appointment.external_id or str(appointment.id)
    start = format_dtm(appointment.start)
    end = format_dtm(appointment.start + timedelta(minutes=appointment.duration_minutes))
    filler_status = _SIU_STATUS.get(event, "Noshow")
    reason: FieldValue = None
    if event == "S15" and appointment.cancel_reason is not None:
        reason = appointment.cancel_reason.value
    sch: list[FieldValue] = [None] * 27
    sch[1] = appointment_id
    sch[5] = reason
    sch[8], sch[9] = str(appointment.duration_minutes), "min"
    sch[24], sch[25], sch[26] = filler_status, number, str(referral.id)
    segments = [
        _msh(sender, receiver, now, ["SIU", event, "SIU_S12"], control_id),
        segment("SCH", *sch),
        segment("TQ1", "1", None, None, None, None, None, start, end),
        _pid(referral),
        segment("RGS", "1"),
        segment(
            "AIS",
            "1",
            None,
            ["", referral.specialty or "appointment"],
            start,
            None,
            None,
            str(appointment.duration_minutes),
            "min",
            None,
            filler_status,
        ),
    ]
    if appointment.location:
        segments.append(segment("AIL", "1", None, appointment.location))
    return encode_message(segments)


def build_consult_note(
    referral: Referral,
    *,
    document_reference: str,
    sender: Endpoint,
    receiver: Endpoint,
    now: datetime,
    control_id: str,
    structure: Literal["OMG", "ORU"] = "OMG",
) -> str:
    """Return the consult note that closes the loop.

    OBX-3 is LOINC 11488-4 (*Consult note*) and OBX-5 a reference pointer (RP) to the
    document, which travels separately (360X sends the C-CDA in the same XDM package).

    :param structure: ``"OMG"`` for OMG^O19 with ORC-1 ``SC`` and ORC-5 ``CM`` (the 360X
        order-status form) or ``"ORU"`` for ORU^R01 (final result, OBR-25 ``F``).
    :raises Hl7MessageError: the referral has no referral number.
    """
    number = _require_number(referral)
    message_type = ["OMG", "O19", "OMG_O19"] if structure == "OMG" else ["ORU", "R01", "ORU_R01"]
    orc: list[FieldValue] = [None] * 9
    orc[0], orc[1], orc[2], orc[4], orc[8] = "SC", number, str(referral.id), "CM", format_dtm(now)
    obr: list[FieldValue] = [None] * 25
    obr[0], obr[1], obr[2] = "1", number, str(referral.id)
    obr[3] = [CONSULT_NOTE_LOINC, "Consult note", "LN"]
    obr[6], obr[21], obr[24] = format_dtm(now), format_dtm(now), "F"
    segments = [
        _msh(sender, receiver, now, message_type, control_id),
        _pid(referral),
        segment("ORC", *orc),
        segment("OBR", *obr),
        segment(
            "OBX",
            "1",
            "RP",
            [CONSULT_NOTE_LOINC, "Consult note", "LN"],
            None,
            [document_reference, "", "AP"],
            None,
            None,
            None,
            None,
            None,
            "F",
        ),
    ]
    return encode_message(segments)
