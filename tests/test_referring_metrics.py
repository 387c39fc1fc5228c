"""Metrics from the referring side: CMS50, time to report, receivers ranked, leakage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from referralkit.metrics.cms50 import Cms50Period
from referralkit.model import (
    Channel,
    OutboundRecord,
    OutboundStatus,
    PackageSend,
    Patient,
    Practice,
    ReceivedReport,
    Referral,
    ReferralSide,
)
from referralkit.referring import (
    sent_cms50,
    time_to_report,
    track_record_facts,
)

T0 = datetime(2026, 2, 2, 15, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _sent(receiver: str, *, family: str, report_after: timedelta | None = None,
          accepted: bool = True, declined: bool = False, sent_at: datetime = T0,
          status: OutboundStatus = OutboundStatus.ACCEPTED) -> Referral:  # fmt: skip
    send = PackageSend(attempt=1, sent_at=sent_at, channel=Channel.FAX, sha256="b" * 64,
                       copy_ref="pkg")  # fmt: skip
    reports = (
        (
            ReceivedReport(
                report_id=f"r-{uuid4()}",
                received_at=sent_at + report_after,
                matched_by="referral_number",
            ),
        )
        if report_after is not None
        else ()
    )
    return Referral(
        side=ReferralSide.SENT,
        patient=Patient(given_name="A", family_name=family),
        receiving_practice=Practice(name=receiver.title(), id=receiver),
        referring_practice=Practice(name="Elm", id="elm"),
        specialty="cardiology",
        outbound=OutboundRecord(
            status=status,
            sends=(send,),
            accepted_at=sent_at + DAY if accepted else None,
            declined_at=sent_at + DAY if declined else None,
            reports=reports,
        ),
    )


def test_cms50_counts_sent_referrals_and_reports_received() -> None:
    referrals = [
        _sent("lakeside", family="One", report_after=10 * DAY),
        _sent("lakeside", family="Two"),
        _sent(
            "hilltop", family="Three", sent_at=datetime(2026, 11, 20, tzinfo=UTC)
        ),  # past cut-off
        Referral(specialty="cardiology"),  # a referral we received: not counted here
    ]
    result = sent_cms50(referrals, Cms50Period.calendar_year(2026))
    assert (result.numerator, result.denominator) == (1, 2)
    assert result.by_practice() == {"elm": (1, 2)}


def test_a_voided_referral_is_not_a_referral() -> None:
    voided = _sent("lakeside", family="One", status=OutboundStatus.ENTERED_IN_ERROR)
    assert sent_cms50([voided], Cms50Period.calendar_year(2026)).denominator == 0
    assert list(track_record_facts([voided])) == []


def test_time_to_report_is_from_first_send_to_first_report() -> None:
    facts = list(track_record_facts([
        _sent("a", family="One", report_after=4 * DAY),
        _sent("b", family="Two", report_after=10 * DAY),
        _sent("c", family="Three"),
    ]))  # fmt: skip
    stats = time_to_report(facts)
    assert (stats.count, stats.median_seconds) == (2, 7 * 86400)


def test_facts_name_each_receiver_and_skip_what_a_directory_cannot_use() -> None:
    unsent = Referral(
        side=ReferralSide.SENT,
        receiving_practice=Practice(name="Lakeside", id="lakeside"),
        specialty="cardiology",
        outbound=OutboundRecord(),
    )
    by_npi = _sent("x", family="Six").model_copy(
        update={"receiving_practice": Practice(name="Hill", npi="1245319599")}
    )
    nameless = _sent("x", family="Seven").model_copy(update={"receiving_practice": None})
    facts = list(track_record_facts([unsent, by_npi, nameless, Referral(specialty="x")]))
    assert [(f.receiver_id, f.specialty) for f in facts] == [("1245319599", "cardiology")]


def test_a_directory_reads_the_sent_referrals_facts_as_they_are() -> None:
    from referralkit.directory import SentReferralFacts, track_records

    facts = list(track_record_facts([
        _sent("lakeside", family="One", report_after=10 * DAY),
        _sent("lakeside", family="Two", accepted=False, declined=True),
        _sent("hilltop", family="Three"),
    ]))  # fmt: skip
    assert all(isinstance(f, SentReferralFacts) for f in facts)
    records = track_records(facts)
    assert records["lakeside"].acceptance_rate == 0.5
    assert records["hilltop"].acceptance_rate == 1.0


def test_a_sent_referral_shows_its_sending_state() -> None:
    # The command line's status and list columns show this, not the untouched "intake".
    assert _sent("lakeside", family="One").state == "sent:accepted"
    assert Referral(specialty="cardiology").state == "intake"
