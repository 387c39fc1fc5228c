"""The referring practice's side, as pure functions: report matching, chasing, track records.

Nothing here writes; :class:`~referralkit.desk.referring.ReferringService` commits what these
functions decide. See ``docs/referring.md``.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING, Final, Literal

import attrs

from referralkit.calendar import BusinessCalendar, WeekdayCalendar
from referralkit.directory import SentReferralFacts
from referralkit.model import (
    OutboundStatus,
    Referral,
    ReferralSide,
    caller_matches,
)
from referralkit.routing.calendar import add_business_days

if TYPE_CHECKING:  # the metrics package loads on first use, not when a desk opens
    from referralkit.metrics.cms50 import Cms50Period, Cms50Result
    from referralkit.metrics.stats import DurationStats

__all__ = [
    "OUTBOUND_QUEUE",
    "REPORT_MATCH_QUEUE",
    "REPORT_REVIEW_QUEUE",
    "ChaseAction",
    "ChasePolicy",
    "ReportHints",
    "chase_actions",
    "match_report",
    "receiver_id",
    "sent_cms50",
    "time_to_report",
    "track_record_facts",
]

OUTBOUND_QUEUE: Final = "referrals-out"
"""The work queue of the referring practice's referral coordinators."""
REPORT_REVIEW_QUEUE: Final = "report-review"
"""Where a received consult report waits for the referring clinician."""
REPORT_MATCH_QUEUE: Final = "report-matching"
"""The restricted queue a report that matched no referral for certain waits in."""


def is_sent(referral: Referral) -> bool:
    """Tell whether *referral* is one we sent (it has a sending-side record)."""
    return referral.side is ReferralSide.SENT and referral.outbound is not None


# -- Report matching -----------------------------------------------------------------------


@attrs.frozen(repr=False)
class ReportHints:
    """What was read off a consult report that came back (PHI: never logged or repr'd).

    :ivar referral_number: our referral number, when the specialist quoted it.
    :ivar receiver_npi: the NPI of the practice or specialist who wrote it.
    :ivar revision_of: the report id this one corrects, when the sender said so.
    """

    referral_number: str | None = None
    family_name: str | None = None
    birth_date: date | None = None
    given_name: str | None = None
    receiver_npi: str | None = None
    specialty: str | None = None
    revision_of: str | None = None

    def __repr__(self) -> str:
        return "ReportHints(...)"


MatchKind = Literal["referral_number", "revision", "identifiers"]


def match_report(
    hints: ReportHints, candidates: Iterable[Referral]
) -> tuple[Referral | None, MatchKind | None, list[Referral]]:
    """Return ``(match, how, uncertain candidates)`` for a report among referrals we sent.

    A match is certain only by our referral number, by the report it revises, or by the
    patient's identity (family name and birth date, given name when read) together with the
    receiver (NPI or specialty) naming exactly one referral; anything else is left to a person,
    with the candidates found.
    """
    sent = [
        r
        for r in candidates
        if r.outbound is not None and is_sent(r) and not r.outbound.unmatched_report
    ]
    if hints.revision_of is not None:
        for referral in sent:
            assert referral.outbound is not None  # noqa: S101 - is_sent
            if any(
                hints.revision_of in (p.report_id, p.revision_of)
                for p in referral.outbound.reports
            ):
                return referral, "revision", []
    if hints.referral_number:
        numbered = [r for r in sent if r.referral_number == hints.referral_number.strip()]
        if len(numbered) == 1:
            return numbered[0], "referral_number", []
    if hints.family_name is None or hints.birth_date is None:
        return None, None, []
    found = [
        r
        for r in sent
        if r.patient is not None
        and caller_matches(
            r.patient,
            family_name=hints.family_name,
            birth_date=hints.birth_date,
            given_name=hints.given_name,
        )
    ]
    narrowed = [r for r in found if _same_receiver(r, hints)]
    if len(narrowed) == 1 and (hints.receiver_npi or hints.specialty):
        return narrowed[0], "identifiers", []
    return None, None, narrowed or found


def _same_receiver(referral: Referral, hints: ReportHints) -> bool:
    if hints.receiver_npi is not None:
        npis = {
            p.npi
            for p in (referral.receiving_practice, referral.receiving_provider)
            if p is not None and p.npi is not None
        }
        if hints.receiver_npi not in npis:
            return False
    return not (hints.specialty and referral.specialty and hints.specialty != referral.specialty)


# -- Chasing -------------------------------------------------------------------------------


@attrs.frozen
class ChasePolicy:
    """When to chase the receiver and the patient, in business days.

    :ivar acknowledge_within: business days after a send with no acknowledgement before it is
        re-sent and a practice-call task opens.
    :ivar max_sends: sends (the first included) before the receiver counts as silent and a
        task asks for a redirect to another receiver.
    :ivar appointment_within: business days after acceptance with no appointment before we ask
        the receiver (and, when the patient books, ask the patient "did you book?").
    :ivar report_within: business days after the visit with no report before we ask for it.
    :ivar task_due_hours: how long staff have for a chasing task.
    """

    acknowledge_within: int = 2
    max_sends: int = 2
    appointment_within: int = 10
    report_within: int = 5
    task_due_hours: float = 8.0
    calendar: BusinessCalendar = attrs.field(factory=WeekdayCalendar)


ChaseKind = Literal["resend", "silent", "ask_appointment", "ask_patient", "ask_report"]


@attrs.frozen
class ChaseAction:
    """One chase that is due: its kind and the key recorded once it is done."""

    kind: ChaseKind
    key: str


def chase_actions(referral: Referral, policy: ChasePolicy, now: datetime) -> list[ChaseAction]:
    """Return the chases due on *referral* at *now* (pure; the desk records each key once)."""
    outbound = referral.outbound
    if not is_sent(referral) or outbound is None or not outbound.sends:
        return []
    done = set(outbound.chased)
    due: list[ChaseAction] = []
    status = outbound.status
    sends = len(outbound.sends)
    if status in (OutboundStatus.SENT, OutboundStatus.DELIVERED):
        quiet_since = outbound.sends[-1].sent_at
        if add_business_days(policy.calendar, quiet_since, policy.acknowledge_within) <= now:
            if sends < policy.max_sends:
                due.append(ChaseAction("resend", f"ack:{sends}"))
            else:
                due.append(ChaseAction("silent", f"silent:{sends}"))
    elif status in (OutboundStatus.ACKNOWLEDGED, OutboundStatus.ACCEPTED):
        since = outbound.accepted_at or outbound.acknowledged_at or outbound.sends[-1].sent_at
        if add_business_days(policy.calendar, since, policy.appointment_within) <= now:
            due.append(ChaseAction("ask_appointment", "appointment"))
            if outbound.patient_books:
                due.append(ChaseAction("ask_patient", "patient_booked"))
    elif status in (OutboundStatus.SCHEDULED, OutboundStatus.SEEN):
        visit = outbound.seen_at or (
            referral.appointments[-1].start if referral.appointments else None
        )
        if (
            visit is not None
            and add_business_days(policy.calendar, visit, policy.report_within) <= now
        ):
            due.append(ChaseAction("ask_report", "report"))
    return [a for a in due if a.key not in done]


# -- Track records and metrics -------------------------------------------------------------


def receiver_id(referral: Referral) -> str | None:
    """Return the id a receiver directory knows the referral's receiver by, if any.

    The receiving practice's ``id``, else the NPI of the practice or of the specialist.
    """
    practice, provider = referral.receiving_practice, referral.receiving_provider
    if practice is not None and practice.id:
        return practice.id
    if practice is not None and practice.npi:
        return practice.npi
    return provider.npi if provider is not None else None


def track_record_facts(referrals: Iterable[Referral]) -> Iterator[SentReferralFacts]:
    """Yield the track-record facts of each referral we sent among *referrals*.

    Skipped: referrals we received, drafts never sent, holding records of unmatched reports,
    referrals entered in error, and those with no receiver id or specialty. A redirect names
    the new referral's receiver, found among *referrals* (which are read into memory once).
    """
    sent = [r for r in referrals if is_sent(r)]
    receivers = {r.id: receiver_id(r) for r in sent}
    for referral in sent:
        outbound = referral.outbound
        receiver = receivers[referral.id]
        if outbound is None or outbound.unmatched_report or not outbound.sends:
            continue
        if outbound.status is OutboundStatus.ENTERED_IN_ERROR:
            continue
        if receiver is None or not referral.specialty:
            continue
        redirected = outbound.redirected_to
        yield SentReferralFacts(
            referral_id=referral.id,
            receiver_id=receiver,
            specialty=referral.specialty,
            sent_at=outbound.sends[0].sent_at,
            delivered_at=next((s.delivered_at for s in outbound.sends if s.delivered_at), None),
            accepted_at=outbound.accepted_at,
            declined_at=outbound.declined_at,
            decline_reason=outbound.decline_reason,
            first_appointment_at=min((a.start for a in referral.appointments), default=None),
            seen_at=outbound.seen_at,
            report_received_at=outbound.reports[0].received_at if outbound.reports else None,
            report_reviewed_at=outbound.reviews[0].reviewed_at if outbound.reviews else None,
            redirected_to=receivers.get(redirected) if redirected is not None else None,
        )


def sent_cms50(referrals: Iterable[Referral], period: Cms50Period) -> Cms50Result:
    """Return CMS50 from this side: referrals we sent and the reports that came back.

    The same measure code as the receiving side's (:mod:`referralkit.metrics.cms50`): a
    referral counts from its first send, the report from its first receipt; a referral
    entered in error is not a referral; each patient's first referral in the period counts.
    """
    from referralkit.metrics.cms50 import cases_from, patient_key
    from referralkit.metrics.facts import ReferralFacts

    triples: list[tuple[ReferralFacts, str, str]] = []
    for referral in referrals:
        outbound = referral.outbound
        if not is_sent(referral) or outbound is None or outbound.unmatched_report:
            continue
        practice = referral.referring_practice
        triples.append(
            (
                ReferralFacts(
                    referral_id=referral.id,
                    received_at=outbound.sends[0].sent_at if outbound.sends else None,
                    status=referral.status,
                    entered_in_error=outbound.status is OutboundStatus.ENTERED_IN_ERROR,
                    closed_at=outbound.reports[0].received_at if outbound.reports else None,
                ),
                patient_key(referral),
                (practice.id or practice.name) if practice is not None else "",
            )
        )
    return cases_from(triples, period)


def time_to_report(facts: Iterable[SentReferralFacts]) -> DurationStats:
    """Return how long reports took to come back: first send to first report, in seconds.

    Over the referrals whose report came back, every receiver together (a receiver directory
    gives each receiver's own figures); the same statistics as the receiving side's metrics
    (:func:`referralkit.metrics.stats.summarise_durations`).
    """
    from referralkit.metrics.stats import summarise_durations

    return summarise_durations(
        [
            (f.report_received_at - f.sent_at).total_seconds()
            for f in facts
            if f.report_received_at is not None
        ]
    )
