"""Each receiver's track record, computed from the plain facts of past sent referrals.

:class:`SentReferralFacts` is what the directory needs to know about one referral the practice
sent: to whom, for what, and when each step happened. The referring side's lifecycle produces
them; a host can also build them from its own records. :func:`track_records` folds any
iterable of them (read once) into a :class:`TrackRecord` per receiver.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final
from uuid import UUID

import attrs

from referralkit.metrics.stats import DurationCounts, DurationStats

__all__ = ["SECONDS_PER_DAY", "SentReferralFacts", "TrackRecord", "track_records"]

SECONDS_PER_DAY: Final = 86400.0


def _aware(_instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{attribute.name} must be timezone-aware")


_optional_aware = attrs.validators.optional(_aware)


@attrs.frozen
class SentReferralFacts:
    """The plain facts of one referral the practice sent (PHI-free: ids, codes and instants).

    :ivar receiver_id: the directory id of the receiver it was sent to.
    :ivar specialty: the specialty it was sent for.
    :ivar sent_at: when it was released to the receiver.
    :ivar delivered_at: the channel's receipt (delivery is not acceptance).
    :ivar accepted_at: the receiver's acceptance.
    :ivar declined_at: the receiver's decline, with *decline_reason* (a code).
    :ivar first_appointment_at: the start of the first appointment booked (when the visit is).
    :ivar seen_at: when the patient was seen.
    :ivar report_received_at: when the receiver's consult report arrived.
    :ivar report_reviewed_at: when the referring clinician reviewed it.
    :ivar redirected_to: the receiver it was redirected to instead, if any.

    .. versionadded:: 0.4
    """

    referral_id: UUID
    receiver_id: str
    specialty: str
    sent_at: datetime = attrs.field(validator=_aware)
    delivered_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    accepted_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    declined_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    decline_reason: str | None = None
    first_appointment_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    seen_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    report_received_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    report_reviewed_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    redirected_to: str | None = None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _days(seconds: float | None) -> float | None:
    return seconds / SECONDS_PER_DAY if seconds is not None else None


@attrs.frozen
class TrackRecord:
    """One receiver's record over the sent referrals read (see ``docs/directory.md``).

    :ivar sent: referrals sent to it.
    :ivar accepted: of those, accepted.
    :ivar declined: declined and never accepted.
    :ivar unanswered_redirects: redirected elsewhere with neither acceptance nor decline.
    :ivar wait_to_first_appointment: ``sent_at`` to ``first_appointment_at``, over referrals
        with an appointment (seconds, to the minute).
    :ivar seen: referrals whose patient was seen.
    :ivar reports_returned: of those, referrals whose consult report arrived.
    :ivar report_time: ``seen_at`` to ``report_received_at`` over those (seconds).

    .. versionadded:: 0.4
    """

    receiver_id: str
    sent: int
    accepted: int
    declined: int
    unanswered_redirects: int
    wait_to_first_appointment: DurationStats
    seen: int
    reports_returned: int
    report_time: DurationStats

    @property
    def decided(self) -> int:
        """Referrals the receiver answered, or left unanswered until they were redirected."""
        return self.accepted + self.declined + self.unanswered_redirects

    @property
    def acceptance_rate(self) -> float | None:
        """``accepted / decided``; ``None`` before any referral was decided."""
        return _ratio(self.accepted, self.decided)

    @property
    def report_return_rate(self) -> float | None:
        """``reports_returned / seen``: loop closure from the referring side."""
        return _ratio(self.reports_returned, self.seen)

    @property
    def median_wait_days(self) -> float | None:
        """The median wait to the first appointment, in days."""
        return _days(self.wait_to_first_appointment.median_seconds)

    @property
    def p90_wait_days(self) -> float | None:
        """The 90th-percentile wait to the first appointment, in days."""
        return _days(self.wait_to_first_appointment.p90_seconds)

    @property
    def median_report_days(self) -> float | None:
        """The median time from the visit to the report, in days."""
        return _days(self.report_time.median_seconds)

    @property
    def p90_report_days(self) -> float | None:
        """The 90th-percentile time from the visit to the report, in days."""
        return _days(self.report_time.p90_seconds)


@attrs.define
class _Tally:
    sent: int = 0
    accepted: int = 0
    declined: int = 0
    unanswered_redirects: int = 0
    seen: int = 0
    reports: int = 0
    waits: DurationCounts = attrs.field(factory=DurationCounts)
    report_times: DurationCounts = attrs.field(factory=DurationCounts)

    def add(self, facts: SentReferralFacts) -> None:
        self.sent += 1
        if facts.accepted_at is not None:
            self.accepted += 1
        elif facts.declined_at is not None:
            self.declined += 1
        elif facts.redirected_to is not None:
            self.unanswered_redirects += 1
        if facts.first_appointment_at is not None:
            self.waits.add((facts.first_appointment_at - facts.sent_at).total_seconds())
        if facts.seen_at is not None:
            self.seen += 1
            if facts.report_received_at is not None:
                self.reports += 1
                self.report_times.add((facts.report_received_at - facts.seen_at).total_seconds())

    def freeze(self, receiver_id: str) -> TrackRecord:
        return TrackRecord(
            receiver_id=receiver_id,
            sent=self.sent,
            accepted=self.accepted,
            declined=self.declined,
            unanswered_redirects=self.unanswered_redirects,
            wait_to_first_appointment=self.waits.summary(),
            seen=self.seen,
            reports_returned=self.reports,
            report_time=self.report_times.summary(),
        )


def track_records(
    sent: Iterable[SentReferralFacts], *, specialty: str | None = None
) -> Mapping[str, TrackRecord]:
    """Return each receiver's :class:`TrackRecord` over *sent* (read once), by receiver id.

    :param specialty: count only referrals sent for this specialty (case-insensitive).
    """
    wanted = specialty.strip().casefold() if specialty is not None else None
    tallies: dict[str, _Tally] = {}
    for facts in sent:
        if wanted is not None and facts.specialty.strip().casefold() != wanted:
            continue
        tally = tallies.get(facts.receiver_id)
        if tally is None:
            tally = tallies[facts.receiver_id] = _Tally()
        tally.add(facts)
    return {rid: tally.freeze(rid) for rid, tally in sorted(tallies.items())}
