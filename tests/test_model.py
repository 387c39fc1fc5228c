"""The domain model: exact JSON round trips, strictness, field validation, PHI-free errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from referralkit import (
    Address,
    Appointment,
    AppointmentStatus,
    Authorization,
    AuthorizationStatus,
    CancelReason,
    Channel,
    ContactConsent,
    Coverage,
    Direction,
    HumanTask,
    Interaction,
    NoShowReason,
    Patient,
    PhoneContact,
    PhoneKind,
    Practice,
    Priority,
    Provider,
    ReasonForReferral,
    RecordsRequest,
    RecordsRequestStatus,
    Referral,
    ReferralStatus,
    StatusReason,
    TaskPriority,
    TaskStatus,
)
from referralkit.model import is_valid_npi

ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "UTC"]


def npi_with_check_digit(first_nine: str) -> str:
    """Append the Luhn check digit NPI uses (computed over the prefix 80840)."""
    digits = "80840" + first_nine
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2 == 0:  # doubled, since the check digit will take position 0
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return first_nine + str((10 - total % 10) % 10)


# -- Strategies ---------------------------------------------------------------------------------

# Any text a store can keep: no NUL, no lone surrogate (the models refuse both).
storable = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
text = st.text(storable, min_size=1, max_size=20)
maybe_text = st.none() | text
npis = st.from_regex(r"[12][0-9]{8}", fullmatch=True).map(npi_with_check_digit)
phones = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
icd10 = st.from_regex(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", fullmatch=True)
emails = st.from_regex(r"[a-z0-9._+-]{1,12}@[a-z0-9-]{1,12}\.[a-z]{2,6}", fullmatch=True)
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=-6)), timezone(timedelta(hours=5, minutes=30))]
)
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=offsets
)
days = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1))

addresses = st.builds(
    Address,
    line1=text,
    line2=maybe_text,
    city=text,
    state=st.from_regex(r"[A-Z]{2}", fullmatch=True),
    postal_code=st.from_regex(r"[0-9]{5}(-[0-9]{4})?", fullmatch=True),
)
phone_contacts = st.builds(
    PhoneContact,
    number=phones,
    kind=st.sampled_from(PhoneKind),
    time_zones=st.lists(st.sampled_from(ZONES), max_size=2).map(tuple),
)
patients = st.builds(
    Patient,
    given_name=text,
    family_name=text,
    middle_name=maybe_text,
    birth_date=st.none() | days,
    mrn=maybe_text,
    phones=st.lists(phone_contacts, max_size=2).map(tuple),
    email=st.none() | emails,
    address=st.none() | addresses,
    time_zone=st.none() | st.sampled_from(ZONES),
    preferred_language=st.sampled_from(["en", "es", "es-MX", "vi"]),
    preferred_channel=st.none() | st.sampled_from(Channel),
    consent=st.builds(
        ContactConsent,
        contact_allowed=st.booleans(),
        opted_out_channels=st.lists(st.sampled_from(Channel), max_size=2).map(tuple),
        updated_at=st.none() | instants,
    ),
)
practices = st.builds(
    Practice,
    name=text,
    id=maybe_text,
    npi=st.none() | npis,
    phone=st.none() | phones,
    fax=st.none() | phones,
    address=st.none() | addresses,
)
providers = st.builds(Provider, name=text, npi=st.none() | npis, specialty=maybe_text)
authorizations = st.builds(
    Authorization,
    status=st.sampled_from(AuthorizationStatus),
    number=maybe_text,
    valid_from=st.none() | st.just(date(2026, 1, 1)),
    valid_to=st.none() | st.just(date(2026, 12, 31)),
    authorized_visits=st.none() | st.integers(0, 10),
    used_visits=st.integers(0, 10),
)
appointments = st.builds(
    Appointment,
    start=instants,
    duration_minutes=st.integers(1, 24 * 60),
    location=maybe_text,
    provider=st.none() | providers,
    status=st.sampled_from(AppointmentStatus),
    no_show_reason=st.none() | st.sampled_from(NoShowReason),
    cancel_reason=st.none() | st.sampled_from(CancelReason),
    external_id=maybe_text,
)
interactions = st.builds(
    Interaction,
    at=instants,
    channel=st.sampled_from(Channel),
    direction=st.sampled_from(Direction),
    call_type=maybe_text,
    outcome=maybe_text,
    summary=maybe_text,
    actor_id=maybe_text,
)
tasks = st.builds(
    HumanTask,
    queue=text,
    title=text,
    reason=text,
    detail=maybe_text,
    priority=st.sampled_from(TaskPriority),
    status=st.sampled_from(TaskStatus),
    created_at=instants,
    due_at=instants,
    rule_id=maybe_text,
)
records = st.builds(
    RecordsRequest,
    status=st.sampled_from(RecordsRequestStatus),
    from_practice=maybe_text,
    requested_at=instants,
    due_at=st.none() | instants,
    documents=st.lists(text, max_size=2).map(tuple),
)
status_reasons = st.one_of(
    st.builds(StatusReason, kind=st.just("cancel"), code=st.just("duplicate"), text=maybe_text),
    st.builds(StatusReason, kind=st.just("hold"), text=text),
)
referrals = st.builds(
    Referral,
    id=st.uuids(),
    referral_number=maybe_text,
    status=st.sampled_from(ReferralStatus),
    priority=st.sampled_from(Priority),
    patient=st.none() | patients,
    referring_practice=st.none() | practices,
    referring_provider=st.none() | providers,
    receiving_practice=st.none() | practices,
    receiving_provider=st.none() | providers,
    specialty=maybe_text,
    reason=st.none()
    | st.builds(
        ReasonForReferral, icd10_codes=st.lists(icd10, max_size=3).map(tuple), text=maybe_text
    ),
    coverage=st.none()
    | st.builds(
        Coverage,
        payer_name=text,
        payer_id=maybe_text,
        member_id=text,
        group_number=maybe_text,
        plan_name=maybe_text,
    ),
    authorization=authorizations,
    records_requests=st.lists(records, max_size=2).map(tuple),
    appointments=st.lists(appointments, max_size=2).map(tuple),
    interactions=st.lists(interactions, max_size=2).map(tuple),
    tasks=st.lists(tasks, max_size=2).map(tuple),
    flags=st.lists(text, max_size=3).map(tuple),
    status_reason=st.none() | status_reasons,
    hold_from=st.none() | st.sampled_from(ReferralStatus),
    next_action_at=st.none() | instants,
    created_at=st.none() | instants,
    updated_at=st.none() | instants,
    version=st.integers(0, 10_000),
    history_hash=st.text(alphabet="0123456789abcdef", max_size=64),
)


# -- Round trips -------------------------------------------------------------------------------


@given(referrals)
def test_referral_json_round_trip_is_exact(referral: Referral) -> None:
    dumped = referral.model_dump_json()
    loaded = Referral.model_validate_json(dumped)
    assert loaded == referral
    assert loaded.model_dump_json() == dumped


def test_default_referral_round_trips() -> None:
    referral = Referral()
    assert Referral.model_validate_json(referral.model_dump_json()) == referral


def test_datetimes_are_normalised_to_utc() -> None:
    chicago = timezone(timedelta(hours=-6))
    appointment = Appointment(start=datetime(2026, 3, 2, 9, 30, tzinfo=chicago))
    assert appointment.start.utcoffset() == timedelta(0)
    assert appointment.start == datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Appointment(start=datetime(2026, 3, 2, 9, 30))


# -- Strict from Python ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (Referral, {"status": "received"}),
        (Referral, {"priority": "urgent"}),
        (Referral, {"id": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"}),
        (Referral, {"version": "3"}),
        (Patient, {"given_name": "A", "family_name": "B", "birth_date": "1970-01-01"}),
        (Appointment, {"start": "2026-03-02T15:30:00+00:00"}),
        (Appointment, {"start": datetime(2026, 3, 2, tzinfo=UTC), "duration_minutes": "30"}),
        (ContactConsent, {"contact_allowed": "yes"}),
    ],
    ids=["status-str", "priority-str", "id-str", "version-str", "date-str", "datetime-str",
         "int-str", "bool-str"],
)  # fmt: skip
def test_python_input_is_strict(model: Any, fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="validation error"):
        model.model_validate(fields)


def test_json_input_accepts_iso_dates_and_enum_values() -> None:
    referral = Referral.model_validate_json(
        '{"id": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "status": "received",'
        ' "next_action_at": "2026-03-02T15:30:00Z"}'
    )
    assert referral.id == UUID("9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d")
    assert referral.status is ReferralStatus.RECEIVED
    assert referral.next_action_at == datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Referral.model_validate({"nickname": "x"})


def test_models_are_frozen() -> None:
    referral = Referral()
    with pytest.raises(ValidationError, match="frozen"):
        referral.specialty = "cardiology"  # type: ignore[misc]


# -- Field validation --------------------------------------------------------------------------


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1497758544"])
def test_valid_npi_is_accepted(npi: str) -> None:
    assert is_valid_npi(npi)
    assert Provider(name="Dr. A", npi=npi).npi == npi


@pytest.mark.parametrize(
    "npi", ["1234567890", "123456789", "12345678933", "12345678a3", "", " 1234567893"]
)
def test_invalid_npi_is_refused(npi: str) -> None:
    assert not is_valid_npi(npi)
    with pytest.raises(ValidationError, match="not a valid NPI"):
        Provider(name="Dr. A", npi=npi)


@given(st.from_regex(r"[12][0-9]{8}", fullmatch=True))
def test_npi_check_digit_is_luhn_over_80840(first_nine: str) -> None:
    good = npi_with_check_digit(first_nine)
    assert is_valid_npi(good)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert not is_valid_npi(bad)


@given(st.from_regex(r"[03-9][0-9]{8}", fullmatch=True))
def test_an_npi_must_start_with_1_or_2_even_with_a_right_check_digit(first_nine: str) -> None:
    # CMS issues NPIs starting with 1 (individuals) or 2 (organisations) only.
    npi = npi_with_check_digit(first_nine)
    assert not is_valid_npi(npi)
    with pytest.raises(ValidationError, match="start"):
        Provider(name="Dr. A", npi=npi)


@pytest.mark.parametrize(
    "number", ["+15555550123", "+442071838750", "+1234567", "+123456789012345"]
)
def test_e164_phone_is_accepted(number: str) -> None:
    assert PhoneContact(number=number).number == number


@pytest.mark.parametrize(
    "number",
    ["5555550123", "+05555550123", "+1 555 555 0123", "+1-555-555-0123", "+123456",
     "+1234567890123456", "tel:+15555550123"],
)  # fmt: skip
def test_non_e164_phone_is_refused(number: str) -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        PhoneContact(number=number)


@pytest.mark.parametrize(
    "code", ["I48.91", "E11", "E11.9", "Z00.00", "S72.001A", "U07.1", "U09.9"]
)
def test_icd10_cm_code_is_accepted(code: str) -> None:
    assert ReasonForReferral(icd10_codes=(code,)).icd10_codes == (code,)


@pytest.mark.parametrize(
    "code", ["i48.91", "I4", "I48.", "I48.91234", "148.91", "I4891X", "I48-91"]
)
def test_malformed_icd10_code_is_refused(code: str) -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        ReasonForReferral(icd10_codes=(code,))


@pytest.mark.parametrize("zone", ZONES)
def test_iana_time_zone_is_accepted(zone: str) -> None:
    assert Patient(given_name="A", family_name="B", time_zone=zone).time_zone == zone


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "America/Chicago ", "", "../../etc/passwd", "CST-6 CDT"]
)
def test_unknown_time_zone_is_refused(zone: str) -> None:
    with pytest.raises(ValidationError, match="not an IANA time zone name"):
        Patient(given_name="A", family_name="B", time_zone=zone)


@pytest.mark.parametrize("email", ["a@b.co", "first.last+tag@example.org"])
def test_email_is_accepted(email: str) -> None:
    assert Patient(given_name="A", family_name="B", email=email).email == email


@pytest.mark.parametrize(
    "email", ["no-at-sign.example.org", "a@b", "a b@example.org", "a@@example.org", "@x.org"]
)
def test_malformed_email_is_refused(email: str) -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        Patient(given_name="A", family_name="B", email=email)


def test_overlong_email_is_refused() -> None:
    with pytest.raises(ValidationError, match="at most 254 characters"):
        Patient(given_name="A", family_name="B", email="a" * 250 + "@b.co")


def test_authorization_validity_must_be_in_order() -> None:
    with pytest.raises(ValidationError, match="valid_to is before valid_from"):
        Authorization(valid_from=date(2026, 6, 1), valid_to=date(2026, 3, 1))


def test_coded_status_reason_needs_a_code_of_its_kind() -> None:
    with pytest.raises(ValidationError, match="needs a code from LostReason"):
        StatusReason(kind="lost", code="no_capacity")


def test_free_text_status_reason_needs_text() -> None:
    with pytest.raises(ValidationError, match="a hold reason needs text"):
        StatusReason(kind="hold")


# -- Errors and repr never show input values ----------------------------------------------------

SECRET_INPUTS: list[tuple[Any, dict[str, Any], str]] = [
    (Provider, {"name": "Dr. A", "npi": "9876543210"}, "9876543210"),
    (PhoneContact, {"number": "555-867-5309"}, "867-5309"),
    (Patient, {"given_name": "A", "family_name": "B", "email": "zelda-at-hyrule"}, "zelda"),
    (ReasonForReferral, {"icd10_codes": ("q8740x",)}, "q8740x"),
    (Patient, {"given_name": "A", "family_name": "B", "time_zone": "Hyrule/Castle"}, "Hyrule"),
    (Address, {"line1": "12 Secret Ln", "city": "Hyrule", "state": "ZZ",
               "postal_code": "HY-123"}, "HY-123"),
    (Patient, {"given_name": "Zelda", "family_name": 1234567}, "1234567"),
    (Patient, {"given_name": "Zelda", "family_name": "B", "birth_date": "1986-02-21"},
     "1986-02-21"),
]  # fmt: skip


@pytest.mark.parametrize(("model", "fields", "secret"), SECRET_INPUTS)
def test_validation_error_does_not_echo_input(model: Any, fields: Any, secret: str) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(fields)
    assert secret not in str(info.value)
    assert secret not in repr(info.value)
    assert secret not in str(info.value.errors(include_input=False))


def test_patient_repr_masks_identifying_fields() -> None:
    patient = Patient(
        given_name="Zelda",
        family_name="Hyrule",
        middle_name="Triforce",
        birth_date=date(1986, 2, 21),
        mrn="MRN-77",
        phones=(PhoneContact(number="+15558675309"),),
        email="zelda@hyrule.example",
        address=Address(line1="1 Castle Rd", city="Kakariko", state="CA", postal_code="90001"),
    )
    for shown in (repr(patient), str(patient)):
        for secret in ("Zelda", "Hyrule", "Triforce", "1986", "MRN-77", "8675309", "Castle"):
            assert secret not in shown


@pytest.mark.parametrize("bad", ["nul\x00inside", "lone\udc80surrogate"])
@pytest.mark.parametrize(
    "build",
    [
        lambda bad: Patient(given_name=bad, family_name="x"),
        lambda bad: ReasonForReferral(icd10_codes=("I48.91",), text=bad),
        lambda bad: Referral(flags=(bad,)),
        lambda bad: Referral.model_validate_json(json.dumps({"specialty": bad})),
    ],
    ids=["patient-name", "reason-text", "tuple-of-text", "from-json"],
)
def test_text_no_store_can_keep_is_refused_with_a_field_error(bad: str, build: Any) -> None:
    # NUL: PostgreSQL refuses it where SQLite keeps it; a lone surrogate is not UTF-8 at all.
    # Refused at the model, so every store behaves the same.
    with pytest.raises(ValidationError) as info:
        build(bad)
    [error] = info.value.errors(include_input=False)
    # From JSON, a lone surrogate escape is refused by the parser itself (json_invalid).
    assert error["type"] in {"invalid_text", "string_unicode", "json_invalid"}
    assert error["loc"] or error["type"] == "json_invalid"
