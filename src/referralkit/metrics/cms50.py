"""CMS50 (MIPS quality ID 374), "Closing the Referral Loop: Receipt of Specialist Report".

The measure, per its published eCQM specification (CMS50v14 for 2026; unchanged in substance
since v6):

* **Denominator** (equals the initial population): patients with a referral from one clinician
  to another. Only the patient's *first* referral made during the first ten months of the
  measurement period counts: from the period's start up to, but not including, the
  *referral cut-off* two calendar months before the period's end (1 January to 31 October
  for a calendar year).
* **Numerator**: those patients for whom the referring clinician received the consultant
  report, after the referral and by the end of the measurement period; the first report
  counts.
* No exclusions or exceptions.

Here a referral is a referral's ``created`` event, its date the event's instant, and the report
the first ``close_loop`` event (the consult report sent back to the referrer). A referral
entered in error is not a referral. Patients are told apart by MRN when the referral has one,
else by family name, given name and birth date (case-insensitive), else each referral is its
own patient. The measure also asks that the patient had a visit with the referring clinician in
the period: referralkit holds the referral, not the referrer's encounters, so a referral is
taken as evidence of that visit; the referrer checks it when submitting.

.. versionadded:: 0.2
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, tzinfo
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from referralkit.metrics.facts import ReferralFacts
from referralkit.model import Referral

__all__ = ["Cms50Builder", "Cms50Case", "Cms50Period", "Cms50Result", "cases_from", "patient_key"]


def _months_before(instant: datetime, months: int) -> datetime:
    index = instant.year * 12 + (instant.month - 1) - months
    year, month = divmod(index, 12)
    return instant.replace(year=year, month=month + 1)


@attrs.frozen
class Cms50Period:
    """A measurement period ``[start, end)`` and its referral cut-off.

    :ivar cutoff: referrals made at or after this instant are outside the denominator; by
        default two calendar months before *end* (so 1 November for a calendar year).
    """

    start: datetime
    end: datetime
    cutoff: datetime = attrs.field()

    @cutoff.default
    def _two_months_before_end(self) -> datetime:
        return _months_before(self.end, 2)

    def __attrs_post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a measurement period needs timezone-aware instants")
        if self.end <= self.start:
            raise ValueError("the period's end must be after its start")

    @classmethod
    def calendar_year(cls, year: int, tz: tzinfo | str = "UTC") -> Cms50Period:
        """Return the period 1 January to 31 December of *year* in *tz* (cut-off 1 November)."""
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        return cls(datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone))


@attrs.frozen
class Cms50Case:
    """One patient in the denominator: the first referral counted and its report, if any."""

    referral_id: UUID
    referred_at: datetime
    report_at: datetime | None
    practice: str

    @property
    def closed(self) -> bool:
        """Whether this case is in the numerator."""
        return self.report_at is not None


@attrs.frozen
class Cms50Result:
    """The measure for one period, with the lists behind it for audit."""

    period: Cms50Period
    cases: tuple[Cms50Case, ...]

    @property
    def denominator(self) -> int:
        """Patients with a first referral before the cut-off."""
        return len(self.cases)

    @property
    def numerator(self) -> int:
        """Of those, patients whose report came back after the referral, within the period."""
        return sum(1 for case in self.cases if case.closed)

    @property
    def rate(self) -> float | None:
        """``numerator / denominator``, or ``None`` when the denominator is empty."""
        return self.numerator / self.denominator if self.cases else None

    def by_practice(self) -> dict[str, tuple[int, int]]:
        """Return ``(numerator, denominator)`` per referring practice."""
        out: dict[str, tuple[int, int]] = {}
        for case in self.cases:
            num, den = out.get(case.practice, (0, 0))
            out[case.practice] = (num + case.closed, den + 1)
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, object]:
        """Return the JSON form (the ``--json`` schema's ``cms50``; referral ids, no PHI)."""
        return {
            "measure": "CMS50",
            "mips_quality_id": 374,
            "period_start": self.period.start.isoformat(),
            "period_end": self.period.end.isoformat(),
            "referral_cutoff": self.period.cutoff.isoformat(),
            "numerator": self.numerator,
            "denominator": self.denominator,
            "rate": self.rate,
            "numerator_referrals": [str(c.referral_id) for c in self.cases if c.closed],
            "denominator_referrals": [str(c.referral_id) for c in self.cases],
        }


def patient_key(referral: Referral) -> str:
    """Return a pseudonymous key telling patients apart (a digest; never the PHI itself)."""
    patient = referral.patient
    if patient is None:
        raw = f"referral:{referral.id}"
    elif patient.mrn:
        raw = f"mrn:{patient.mrn.strip().lower()}"
    elif patient.birth_date is not None:
        raw = "|".join(
            (
                "name",
                patient.family_name.casefold().strip(),
                patient.given_name.casefold().strip(),
                patient.birth_date.isoformat(),
            )
        )
    else:
        raw = f"referral:{referral.id}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


@attrs.define
class Cms50Builder:
    """Collects each patient's first referral in the period, one referral at a time."""

    period: Cms50Period
    _first: dict[str, Cms50Case] = attrs.field(factory=dict, init=False)

    def add(self, facts: ReferralFacts, key: str, practice: str) -> None:
        """Count one referral (its facts and its patient key)."""
        referred = facts.received_at
        if facts.entered_in_error or referred is None:
            return
        if not (self.period.start <= referred < self.period.cutoff):
            return
        current = self._first.get(key)
        if current is not None and (current.referred_at, str(current.referral_id)) <= (
            referred,
            str(facts.referral_id),
        ):
            return
        report = facts.closed_at
        if report is not None and not (referred < report < self.period.end):
            report = None
        self._first[key] = Cms50Case(facts.referral_id, referred, report, practice)

    def result(self) -> Cms50Result:
        """Return the measure over everything added."""
        cases = sorted(self._first.values(), key=lambda c: (c.referred_at, str(c.referral_id)))
        return Cms50Result(self.period, tuple(cases))


def cases_from(
    items: Iterable[tuple[ReferralFacts, str, str]], period: Cms50Period
) -> Cms50Result:
    """Return the measure over ``(facts, patient key, practice)`` triples (for tests and hosts)."""
    builder = Cms50Builder(period)
    for facts, key, practice in items:
        builder.add(facts, key, practice)
    return builder.result()
