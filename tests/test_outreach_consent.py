"""Consent: opt-out keywords, channel and overall opt-outs, frequency caps; SMS length."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit.model import Channel, ContactConsent
from referralkit.outreach import FrequencyCap, earliest_allowed, is_opt_out, withdraw
from referralkit.outreach.consent import cap_violations
from referralkit.outreach.policy import DEFAULT_CAPS
from referralkit.outreach.sms import SmsTooLongError, is_gsm7, render_sms, sms_length

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "Stop.",
        " stop! ",
        "STOP ALL",
        "stopall",
        "Quit",
        "end",
        "Revoke",
        "opt out",
        "OPT-OUT",
        "optout",
        "Cancel",
        "UNSUBSCRIBE",
        "alto",
        "Basta!",
        "PARAR",
        "Alto, por favor",
        "stop please",
        "¡BASTA!",
    ],
)
def test_opt_out_keywords_in_any_case_or_punctuation(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "Please don't stop calling me about my appointment",
        "stopping by tomorrow",
        "I want to cancel my appointment and rebook for Friday afternoon",
        "",
        "Thanks!",
    ],
)
def test_ordinary_replies_are_not_opt_outs(text: str) -> None:
    assert not is_opt_out(text)


def test_withdraw_one_channel_keeps_the_others() -> None:
    consent = withdraw(ContactConsent(), Channel.SMS, T0)
    assert not consent.allows(Channel.SMS)
    assert consent.allows(Channel.VOICE)
    assert consent.updated_at == T0


def test_withdraw_everything() -> None:
    consent = withdraw(ContactConsent(), None, T0)
    assert not any(consent.allows(c) for c in Channel)


def test_withdraw_twice_does_not_duplicate_the_channel() -> None:
    consent = withdraw(withdraw(ContactConsent(), Channel.SMS, T0), Channel.SMS, T0)
    assert consent.opted_out_channels == (Channel.SMS,)


def test_no_contacts_means_now() -> None:
    assert earliest_allowed([], T0, DEFAULT_CAPS) == T0


def test_one_a_day_waits_a_full_day() -> None:
    assert earliest_allowed([T0], T0 + timedelta(hours=3), DEFAULT_CAPS) == T0 + timedelta(days=1)


def test_three_a_week_waits_for_the_oldest_to_age_out() -> None:
    contacts = [T0, T0 + timedelta(days=2), T0 + timedelta(days=4)]
    assert earliest_allowed(contacts, T0 + timedelta(days=5), DEFAULT_CAPS) == T0 + timedelta(
        days=7
    )


@given(
    offsets=st.lists(st.integers(min_value=0, max_value=30 * 24 * 60), max_size=12),
    start=st.integers(min_value=0, max_value=40 * 24 * 60),
)
def test_earliest_allowed_never_breaks_a_cap(offsets: list[int], start: int) -> None:
    caps = (FrequencyCap(1, timedelta(days=1)), FrequencyCap(3, timedelta(days=7)))
    # Build a history that respects the caps, then ask for the next slot.
    contacts: list[datetime] = []
    for minute in sorted(offsets):
        at = earliest_allowed(contacts, T0 + timedelta(minutes=minute), caps)
        contacts.append(at)
    nxt = earliest_allowed(contacts, max([T0 + timedelta(minutes=start), *contacts]), caps)
    assert cap_violations([*contacts, nxt], caps) == 0


def test_sms_within_gsm7_limit_names_practice_and_stop() -> None:
    text = render_sms("schedule.sms_d2", practice="Lakeside Cardiology", phone="+15555550199")
    assert "Lakeside Cardiology" in text
    assert "STOP" in text
    units, limit = sms_length(text)
    assert limit == 160
    assert units <= 160


def test_sms_adds_practice_and_opt_out_when_the_template_lacks_them() -> None:
    text = render_sms("Call us to book.", practice="Lakeside")
    assert text.startswith("Lakeside: ")
    assert text.endswith("Reply STOP to opt out.")


def test_non_gsm_text_is_limited_to_70() -> None:
    assert not is_gsm7("Llámenos 📞")
    assert sms_length("📞" * 10) == (20, 70)
    with pytest.raises(SmsTooLongError, match="one segment allows 70"):
        render_sms("📞 " + "x" * 60, practice="Lakeside")


def test_gsm7_extension_characters_count_twice() -> None:
    assert sms_length("[]") == (4, 160)


def test_too_long_sms_is_refused() -> None:
    with pytest.raises(SmsTooLongError, match="one segment allows 160"):
        render_sms("x" * 200, practice="Lakeside")
