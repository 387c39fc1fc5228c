from __future__ import annotations

import contextlib
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referralkit.adapters.hl7v2 import (
    Endpoint,
    Hl7Inbox,
    LifecycleUpdate,
    ReadOptions,
    ReferralRequest,
    build_ack,
    build_consult_note,
    build_osu,
    build_ref,
    build_referral_request,
    build_rri,
    build_siu,
    parse_message,
    read_message,
)
from referralkit.adapters.hl7v2.message import parse_dtm, segment
from referralkit.clock import ManualClock
from referralkit.errors import Hl7MessageError, ReferralKitError
from referralkit.lifecycle import CancelData, CloseLoopData, DeclineData, ScheduleData
from referralkit.model import (
    Address,
    Appointment,
    CancelReason,
    Coverage,
    Patient,
    PhoneContact,
    PhoneKind,
    Practice,
    Priority,
    Provider,
    ReasonForReferral,
    Referral,
    ReferralStatus,
)

DATA = Path(__file__).parent / "data" / "hl7v2"
NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
US = Endpoint("REFERRALKIT", "LAKESIDE")
THEM = Endpoint("EHR", "MAPLE")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


# -- Published messages -----------------------------------------------------------------------

# file -> what it becomes: a complete referral, a trigger, or a refusal naming segment-field.
PUBLISHED = {
    "REF-I12-01.hl7": ("create", None),
    "REF-I12-02.hl7": ("create", None),
    "REF-I14-01.hl7": ("trigger", "cancel"),
    "REF-I14-02.hl7": ("trigger", "cancel"),
    "SIU-S14-01.hl7": ("trigger", "reschedule"),
    "SIU-S15-01.hl7": ("trigger", "cancel_appointment"),
    "SIU-S26-01.hl7": ("trigger", "no_show"),
    "SIU-S12-01.hl7": ("refused", "SCH-26"),
    "SIU-S12-02.hl7": ("refused", "SCH-26"),
    "OMG-O19-01.hl7": ("refused", "ORC-1"),
    "OMG-O19-02.hl7": ("refused", "OBX-3"),
    "ORU-R01-01.hl7": ("refused", "OBX-3"),
    "ADT-A01-01.hl7": ("refused", "MSH-9"),
}


def test_every_shipped_sample_has_an_expectation():
    shipped = {p.name for p in DATA.glob("*.hl7")}
    assert shipped == {*PUBLISHED, "360X-OMG-O19-referral-request.hl7"}


@pytest.mark.parametrize(("name", "expected"), PUBLISHED.items())
def test_published_message_imports_or_is_refused_with_a_reason(name, expected, clock):
    kind, detail = expected
    if kind == "refused":
        with pytest.raises(Hl7MessageError) as caught:
            read_message(sample(name), clock=clock)
        assert f"{caught.value.segment}-{caught.value.field}" == detail
        assert caught.value.reason
        return
    message = read_message(sample(name), clock=clock)
    if kind == "create":
        assert isinstance(message, ReferralRequest)
        assert message.complete, (message.result.missing, message.result.issues)
    else:
        assert isinstance(message, LifecycleUpdate)
        assert message.trigger == detail


def test_published_ref_i12_maps_patient_referrer_reason_and_coverage(clock):
    message = read_message(sample("REF-I12-01.hl7"), clock=clock)
    assert isinstance(message, ReferralRequest)
    referral = message.referral
    assert referral is not None
    assert referral.status is ReferralStatus.INTAKE
    assert referral.referral_number == "226839"
    assert referral.priority is Priority.ROUTINE
    patient = referral.patient
    assert patient is not None
    assert (patient.given_name, patient.family_name) == ("ADAM", "EVERYMAN")
    assert patient.birth_date == date(1961, 6, 15)
    assert [p.number for p in patient.phones] == ["+12706009800"]
    assert patient.address is not None
    assert patient.address.state == "KY"
    assert referral.referring_provider is not None
    assert referral.referring_provider.name == "ROBERT POWELL"
    assert referral.receiving_practice is not None
    assert referral.receiving_practice.name == "RADIANT HEALTH HOSPITAL"
    assert referral.reason is not None
    assert referral.reason.icd10_codes == ("K63.3",)
    assert referral.coverage is not None
    assert referral.coverage.payer_name == "Blue Cross Blue Shield of Texas"
    assert message.sources["patient.phones"] == "PID-13"


def test_segments_not_read_are_reported_not_dropped_silently(clock):
    message = read_message(sample("REF-I12-01.hl7"), clock=clock)
    assert isinstance(message, ReferralRequest)
    assert {"AUT", "NK1", "GT1", "AL1", "PV1"} <= set(message.unmapped)
    assert "PID" not in message.unmapped


def test_published_360x_request_lists_what_is_missing(clock):
    options = ReadOptions(default_specialty="neurology")
    message = read_message(
        sample("360X-OMG-O19-referral-request.hl7"), clock=clock, options=options
    )
    assert isinstance(message, ReferralRequest)
    assert message.message_type == "OMG^O19"
    assert message.referral_number == "889342"
    assert message.result.missing == ("patient.phones",)
    assert message.referral is None
    assert message.payload["reason.text"] == "Rule out headache"
    assert message.payload["referring_provider.name"] == "Anthony Allen"


def test_incomplete_request_gets_an_ae_naming_segment_and_field(clock):
    delivered = []
    inbox = Hl7Inbox(deliver=delivered.append, clock=clock, sender=US)
    ack = parse_message(inbox.handle(sample("360X-OMG-O19-referral-request.hl7")))
    assert ack.value("MSA", 1) == "AE"
    assert ack.value("MSA", 2) == "17882"
    assert ack.value("ERR", 2, 1) == "PID"
    assert ack.value("ERR", 2, 3) == "13"
    assert ack.value("ERR", 3, 1) == "101"
    assert delivered == []


def test_published_siu_no_show_keeps_when_it_happened_and_when_it_was_recorded(clock):
    update = read_message(sample("SIU-S26-01.hl7"), clock=clock)
    assert isinstance(update, LifecycleUpdate)
    assert update.appointment_id == "36996"
    assert update.occurred_at == datetime(2021, 9, 24, 7, 15, tzinfo=UTC)
    assert update.recorded_at == datetime(2021, 9, 24, 7, 45, tzinfo=UTC)
    assert update.data == {"reason": "unknown"}


# -- The inbox: ACKs ----------------------------------------------------------------------------


def test_complete_referral_is_delivered_once_and_acknowledged_aa(clock):
    delivered = []
    inbox = Hl7Inbox(deliver=delivered.append, clock=clock, sender=US)
    ack = parse_message(inbox.handle(sample("REF-I12-01.hl7")))
    assert ack.message_type == "ACK^I12"
    assert (ack.value("MSA", 1), ack.value("MSA", 2)) == ("AA", "MSG00112")
    assert ack.value("MSH", 5) == "GHH"
    assert len(delivered) == 1
    again = parse_message(inbox.handle(sample("REF-I12-01.hl7")))
    assert again.value("MSA", 1) == "AA"
    assert len(delivered) == 1, "a repeated MSH-10 must not be delivered twice"


def test_unsupported_message_type_is_rejected_ar(clock):
    inbox = Hl7Inbox(deliver=pytest.fail, clock=clock)
    ack = parse_message(inbox.handle(sample("ADT-A01-01.hl7")))
    assert ack.value("MSA", 1) == "AR"
    assert ack.value("ERR", 3, 1) == "200"


def test_host_failure_becomes_ae_without_its_message(clock, caplog):
    def deliver(_message: object) -> None:
        raise RuntimeError("CANARY-SECRET Everyman")

    inbox = Hl7Inbox(deliver=deliver, clock=clock)
    with caplog.at_level(logging.DEBUG):
        text = inbox.handle(sample("REF-I12-01.hl7"))
    ack = parse_message(text)
    assert ack.value("MSA", 1) == "AE"
    assert ack.value("ERR", 3, 1) == "207"
    assert "CANARY-SECRET" not in text
    assert "CANARY-SECRET" not in caplog.text


@pytest.mark.parametrize(
    ("raw", "segment_field"),
    [
        (b"", "MSH-0"),
        (b"PID|1||X", "MSH-0"),
        (b"MSH|^~", "MSH-2"),
        (b"MSH|^~\\&|A|B|C|D|2024||REF|1|P|2.5", "MSH-9"),
        (b"MSH|^~\\&|A|B|C|D|2024||REF^I12||P|2.5", "MSH-10"),
        (b"MSH|^~\\&|A|B|C|D|2024||REF^I12|1|X|2.5", "MSH-11"),
        (b"MSH|^~\\&|A|B|C|D|2024||REF^I12|1|P|3.0", "MSH-12"),
        (b"MSH|^~\\&|A|B|C|D|2024||REF^I12|1|P|2.5\rpid|x", "-0"),
        (b"MSH|^~\\&|A|B|C|D|2024||REF^I99|1|P|2.5", "MSH-9"),
    ],
)
def test_malformed_envelope_is_refused_naming_segment_and_field(raw, segment_field, clock):
    with pytest.raises(Hl7MessageError) as caught:
        read_message(raw, clock=clock)
    error = caught.value
    assert error.ack_code == "AR"
    assert f"{error.segment}-{error.field}" == segment_field
    ack = parse_message(Hl7Inbox(deliver=pytest.fail, clock=clock).handle(raw))
    assert ack.value("MSA", 1) == "AR"


def test_truncated_published_message_never_half_creates_a_referral(clock):
    raw = sample("REF-I12-01.hl7")
    delivered: list[object] = []
    inbox = Hl7Inbox(deliver=delivered.append, clock=clock)
    for cut in range(0, len(raw), 97):
        truncated = raw[:cut]
        try:
            message = read_message(truncated, clock=clock)
        except Hl7MessageError:
            continue
        if isinstance(message, ReferralRequest) and message.referral is None:
            assert message.result.missing or message.result.issues
        ack = parse_message(inbox.handle(truncated.replace(b"MSG00112", f"C{cut}".encode())))
        assert ack.value("MSA", 1) in ("AA", "AE", "AR")
    assert all(isinstance(m, ReferralRequest) and m.complete for m in delivered)


def test_bad_birth_date_is_an_ae_on_pid_7(clock):
    raw = sample("REF-I12-01.hl7").replace(b"|19610615|", b"|1961XX15|")
    with pytest.raises(Hl7MessageError) as caught:
        read_message(raw, clock=clock)
    assert (caught.value.segment, caught.value.field, caught.value.ack_code) == ("PID", 7, "AE")


def test_errors_and_logs_hold_no_phi(clock, caplog):
    raw = sample("REF-I12-01.hl7").replace(b"|19610615|", b"|2999XX15|")
    inbox = Hl7Inbox(deliver=pytest.fail, clock=clock)
    with caplog.at_level(logging.DEBUG):
        ack = inbox.handle(raw)
    for phi in ("EVERYMAN", "ADAM", "2999XX15", "MAINSTREET", "6009800"):
        assert phi not in caplog.text
        assert phi not in ack


# -- Builders and round trips -------------------------------------------------------------------


def referral(**changes: object) -> Referral:
    base = Referral(
        id=UUID("00000000-0000-4000-8000-000000000042"),
        referral_number="R-2026-0042",
        status=ReferralStatus.ACCEPTED,
        priority=Priority.STAT,
        patient=Patient(
            given_name="Maria",
            family_name="O'Neil|Smith",
            middle_name="J",
            birth_date=date(1970, 2, 3),
            mrn="MRN^77",
            phones=(PhoneContact(number="+12175550123", kind=PhoneKind.HOME),),
            email="maria@example.org",
            address=Address(
                line1="12 Elm St & Co", city="Springfield", state="IL", postal_code="62701"
            ),
        ),
        referring_practice=Practice(name="Maple Family Medicine", phone="+12175550100"),
        referring_provider=Provider(name="Avery Quinn", npi="1497758544"),
        receiving_practice=Practice(name="Lakeside Cardiology"),
        specialty="cardiology",
        reason=ReasonForReferral(icd10_codes=("I48.91", "R00.2"), text="Palpitations~AF"),
        coverage=Coverage(
            payer_name="Acme Health", payer_id="ACME", member_id="M123", group_number="G9"
        ),
    )
    return base.model_copy(update=changes)


def test_ref_i12_round_trip_keeps_every_mapped_field(clock):
    original = referral()
    text = build_ref(original, sender=THEM, receiver=US, now=NOW, control_id="C1")
    message = read_message(text, clock=clock)
    assert isinstance(message, ReferralRequest)
    got = message.referral
    assert got is not None, (message.result.missing, message.result.issues)
    assert got.referral_number == original.referral_number
    assert got.priority is original.priority
    assert got.specialty == original.specialty
    assert got.patient is not None
    assert original.patient is not None
    for name in ("given_name", "family_name", "middle_name", "birth_date", "mrn", "email"):
        assert getattr(got.patient, name) == getattr(original.patient, name), name
    assert [p.number for p in got.patient.phones] == ["+12175550123"]
    assert got.patient.address is not None
    assert got.patient.address.line1 == "12 Elm St & Co"
    assert got.referring_provider == original.referring_provider
    assert got.referring_practice is not None
    assert got.referring_practice.name == "Maple Family Medicine"
    assert got.referring_practice.phone == "+12175550100"
    assert got.receiving_practice is not None
    assert got.receiving_practice.name == "Lakeside Cardiology"
    assert got.reason == original.reason
    assert got.coverage == original.coverage


def test_omg_request_round_trip(clock):
    text = build_referral_request(referral(), sender=THEM, receiver=US, now=NOW, control_id="C2")
    message = read_message(text, clock=clock)
    assert isinstance(message, ReferralRequest)
    assert message.referral is not None, (message.result.missing, message.result.issues)
    assert message.referral.referral_number == "R-2026-0042"
    assert message.referral.referring_provider == Provider(name="Avery Quinn", npi="1497758544")
    assert message.referral.reason is not None
    assert message.referral.reason.text == "Palpitations~AF"


@pytest.mark.parametrize(
    ("action", "trigger", "data"),
    [
        ("accept", "accept", {}),
        ("decline", "decline", {"reason": "no_capacity", "note": "no_capacity"}),
        ("cancel", "cancel", {"reason": "patient_request", "note": "patient_request"}),
    ],
)
def test_osu_round_trip_gives_the_trigger(action, trigger, data, clock):
    reason = {"decline": "no_capacity", "cancel": "patient_request"}.get(action)
    text = build_osu(
        referral(), action, sender=US, receiver=THEM, now=NOW, control_id="C3", reason=reason
    )
    update = read_message(text, clock=clock)
    assert isinstance(update, LifecycleUpdate)
    assert (update.trigger, update.referral_number) == (trigger, "R-2026-0042")
    assert dict(update.data) == data
    if trigger == "decline":
        DeclineData.model_validate(update.data)
    if trigger == "cancel":
        CancelData.model_validate(update.data)


@pytest.mark.parametrize(
    ("event", "trigger"),
    [
        ("S12", "schedule"),
        ("S14", "reschedule"),
        ("S15", "cancel_appointment"),
        ("S26", "no_show"),
    ],
)
def test_siu_round_trip_gives_the_trigger(event, trigger, clock):
    appointment = Appointment(
        start=NOW + timedelta(days=3),
        duration_minutes=45,
        location="Suite 4",
        cancel_reason=CancelReason.PROVIDER_UNAVAILABLE,
    )
    text = build_siu(
        referral(), appointment, event, sender=US, receiver=THEM, now=NOW, control_id="C4"
    )
    update = read_message(text, clock=clock)
    assert isinstance(update, LifecycleUpdate)
    assert update.trigger == trigger
    assert update.referral_number == "R-2026-0042"
    assert update.appointment_id == str(appointment.id)
    if trigger in ("schedule", "reschedule"):
        data = ScheduleData.model_validate(update.data)
        assert data.appointment.start == appointment.start
        assert data.appointment.duration_minutes == 45
        assert data.appointment.location == "Suite 4"
    if trigger == "cancel_appointment":
        assert update.data == {"reason": "provider_unavailable"}
    if trigger == "no_show":
        assert update.occurred_at == appointment.start


@pytest.mark.parametrize("structure", ["OMG", "ORU"])
def test_consult_note_round_trip_closes_the_loop(structure, clock):
    text = build_consult_note(
        referral(),
        document_reference="doc-991",
        sender=US,
        receiver=THEM,
        now=NOW,
        control_id="C5",
        structure=structure,
    )
    update = read_message(text, clock=clock)
    assert isinstance(update, LifecycleUpdate)
    assert update.trigger == "close_loop"
    assert CloseLoopData.model_validate(update.data).report_reference == "doc-991"


def test_rri_answers_with_table_0283_status(clock):
    request = parse_message(sample("REF-I12-01.hl7"))
    text = build_rri(request, referral(), sender=US, now=NOW, control_id="C6")
    rri = parse_message(text)
    assert rri.message_type == "RRI^I12"
    assert (rri.value("MSA", 1), rri.value("MSA", 2)) == ("AA", "MSG00112")
    assert rri.value("RF1", 1) == "A"
    declined = referral(status=ReferralStatus.DECLINED)
    assert (
        parse_message(build_rri(request, declined, sender=US, now=NOW, control_id="C7")).value(
            "RF1", 1
        )
        == "R"
    )
    with pytest.raises(Hl7MessageError, match="0283"):
        build_rri(
            request,
            referral(status=ReferralStatus.CANCELLED),
            sender=US,
            now=NOW,
            control_id="C8",
        )


def test_ack_lists_every_error(clock):
    request = parse_message(sample("REF-I12-01.hl7"))
    errors = [
        Hl7MessageError("a", segment="PID", field=13, error_code=101),
        Hl7MessageError("b", segment="RF1", field=3, error_code=102),
    ]
    ack = parse_message(build_ack(request, sender=US, now=NOW, control_id="A1", errors=errors))
    assert ack.value("MSA", 1) == "AE"
    assert ack.count("ERR") == 2
    assert ack.value("ERR", 2, 1, occurrence=2) == "RF1"


def test_builders_need_a_referral_number():
    with pytest.raises(Hl7MessageError, match="referral number"):
        build_osu(
            referral(referral_number=None),
            "accept",
            sender=US,
            receiver=THEM,
            now=NOW,
            control_id="C9",
        )


def test_dtm_reads_offsets_and_precision():
    assert parse_dtm("202201251620+0215", segment="MSH", field=7) == datetime(
        2022, 1, 25, 14, 5, tzinfo=UTC
    )
    assert parse_dtm("2024", segment="MSH", field=7) == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(Hl7MessageError):
        parse_dtm("20241399", segment="MSH", field=7)


# -- Properties ---------------------------------------------------------------------------------

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@given(values=st.lists(_text, min_size=1, max_size=8))
@settings(max_examples=150, deadline=None)
def test_any_value_survives_escaping(values):
    text = segment("ZZZ", *values)
    message = parse_message("MSH|^~\\&|A|B|C|D|2024||REF^I12|1|P|2.5\r" + text + "\rZZY|end\r")
    assert "\x1c" not in text
    assert "\x0b" not in text
    for index, value in enumerate(values, start=1):
        assert message.value("ZZZ", index) == value


_SEGMENTS = [
    "EVN|I12|20240101",
    "RF1|P|R|^cardiology|||R-1",
    "PRD|RP|Quinn^Avery||||||||Maple",
    "PID|1||M1^^^^MR||Doe^Jane||19800101|||||^PRN^PH^^^217^5550123",
    "DG1|1||I48.91^^I10|AF",
    "IN1|1||ACME|Acme",
    "SCH||A1|||||||30|min|||||||||||||||Booked|R-1",
    "ORC|NW|R-1",
    "OBR|1|R-1||^cardiology",
    "OBX|1|RP|11488-4^^LN||doc",
]


@given(
    header=st.sampled_from(
        [
            "MSH|^~\\&|A|B|C|D|20240101||REF^I12|1|P|2.5",
            "MSH|^~\\&|A|B|C|D|20240101||REF^I13|1|P|2.5",
            "MSH|^~\\&|A|B|C|D|20240101||REF^I14|1|P|2.3",
            "MSH|^~\\&|A|B|C|D|20240101||OMG^O19|1|P|2.5.1",
            "MSH|^~\\&|A|B|C|D|20240101||OSU^O51|1|P|2.5.1",
            "MSH|^~\\&|A|B|C|D|20240101||SIU^S12|1|P|2.5.1",
            "MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5.1",
        ]
    ),
    body=st.lists(
        st.one_of(
            st.sampled_from(_SEGMENTS),
            st.builds(
                lambda seg, noise: seg[: len(seg) // 2] + noise,
                st.sampled_from(_SEGMENTS),
                st.text(alphabet="|^~\\&ABC019 \r\n", max_size=20),
            ),
        ),
        max_size=8,
    ),
    cut=st.integers(min_value=0, max_value=600),
    as_bytes=st.booleans(),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_message_reads_or_raises_a_typed_error(header, body, cut, as_bytes):
    text = "\r".join([header, *body])[: max(cut, 0) or None]
    raw: str | bytes = text.encode("latin-1", "replace") if as_bytes else text
    clock = ManualClock(NOW)
    with contextlib.suppress(ReferralKitError):
        read_message(raw, clock=clock)
    ack = parse_message(Hl7Inbox(deliver=lambda _m: None, clock=clock).handle(raw))
    assert ack.value("MSA", 1) in ("AA", "AE", "AR")


@given(raw=st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_arbitrary_bytes_never_raise_anything_untyped(raw):
    clock = ManualClock(NOW)
    with contextlib.suppress(ReferralKitError):
        read_message(b"MSH|^~\\&|" + raw, clock=clock)
    ack = parse_message(Hl7Inbox(deliver=lambda _m: None, clock=clock).handle(raw))
    assert ack.value("MSA", 1) in ("AE", "AR", "AA")


def test_unknown_escapes_are_dropped_and_never_logged(caplog):
    text = "MSH|^~\\&|A|B|C|D|2024||REF^I12|1|P|2.5\rZZZ|Doe\\XZZ\\Jane\\C2842\\x|a\\F\\b\r"
    with caplog.at_level(logging.DEBUG):
        message = parse_message(text)
        assert message.value("ZZZ", 1) == "DoeJanex"
        assert message.value("ZZZ", 2) == "a|b"
    assert "Doe" not in caplog.text


def test_reprs_of_what_was_read_hold_no_phi(clock):
    request = read_message(sample("REF-I12-01.hl7"), clock=clock)
    update = read_message(sample("SIU-S26-01.hl7"), clock=clock)
    text = repr(request) + repr(update) + repr(parse_message(sample("REF-I12-01.hl7")))
    for phi in ("EVERYMAN", "ADAM", "1961", "MAINSTREET", "6009800", "PATID1234", "Ulcer"):
        assert phi not in text


def test_custom_separators_read_the_same(clock):
    raw = sample("REF-I12-01.hl7").decode()
    assert "*" not in raw
    assert "$" not in raw
    custom = raw.replace("|", "*").replace("^", "$")
    assert custom.startswith("MSH*$~\\&*")
    ours = read_message(custom, clock=clock)
    published = read_message(raw, clock=clock)
    assert isinstance(ours, ReferralRequest)
    assert isinstance(published, ReferralRequest)
    assert ours.payload == published.payload


def test_latin_1_bytes_are_read_when_not_utf_8(clock):
    raw = sample("REF-I12-01.hl7").replace(b"EVERYMAN^ADAM", "MUÑOZ^JOSÉ".encode("latin-1"))
    message = read_message(raw, clock=clock)
    assert isinstance(message, ReferralRequest)
    assert message.payload["patient.family_name"] == "MUÑOZ"
    utf8 = read_message(raw.decode("latin-1").encode("utf-8"), clock=clock)
    assert isinstance(utf8, ReferralRequest)
    assert utf8.payload["patient.given_name"] == "JOSÉ"


def test_a_repeat_after_a_host_failure_is_tried_again(clock):
    delivered: list[object] = []
    failures = [RuntimeError("database down")]

    def deliver(message: object) -> None:
        if failures:
            raise failures.pop()
        delivered.append(message)

    inbox = Hl7Inbox(deliver=deliver, clock=clock)
    first = parse_message(inbox.handle(sample("REF-I12-01.hl7")))
    again = parse_message(inbox.handle(sample("REF-I12-01.hl7")))
    assert (first.value("MSA", 1), again.value("MSA", 1)) == ("AE", "AA")
    assert len(delivered) == 1


def test_an_invalid_phone_is_named_by_its_field(clock):
    raw = sample("REF-I12-01.hl7").replace(b"^PRN^PH^^^270^6009800", b"^PRN^PH^^^555^5550123")
    ack = parse_message(Hl7Inbox(deliver=pytest.fail, clock=clock).handle(raw))
    assert ack.value("MSA", 1) == "AE"
    locations = {
        (ack.value("ERR", 2, 1, occurrence=n), ack.value("ERR", 2, 3, occurrence=n))
        for n in range(1, ack.count("ERR") + 1)
    }
    assert ("PID", "13") in locations
    assert ("", "") not in locations
