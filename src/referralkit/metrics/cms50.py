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
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from referralkit.metrics.facts import ReferralFacts
from referralkit.model import Referral

__all__ = [
    "Cms50Audit",
    "Cms50Builder",
    "Cms50Case",
    "Cms50Period",
    "Cms50Result",
    "cases_from",
    "patient_key",
]


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


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_SPILL_BATCH: Final = 1000


def _micros(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _instant(micros: int) -> datetime:
    return _EPOCH + micros * _MICROSECOND


class Cms50Audit:
    """The denominator's cases, read on demand from the report's private spill file.

    A report keeps one small row per patient in a temporary SQLite database (deleted when the
    last result using it is gone), so memory does not grow with the number of patients; the
    audit lists are streamed from it only when asked for.

    .. versionadded:: 0.4
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __repr__(self) -> str:
        return "Cms50Audit()"

    def cases(self) -> Iterator[Cms50Case]:
        """Yield each denominator patient's case, by referral date then referral id."""
        cursor = self._conn.execute(
            "SELECT referral_id, referred_at, report_at, practice FROM first_referral "
            "ORDER BY referred_at, referral_id"
        )
        while rows := cursor.fetchmany(_SPILL_BATCH):
            for referral_id, referred_at, report_at, practice in rows:
                yield Cms50Case(
                    UUID(referral_id),
                    _instant(referred_at),
                    _instant(report_at) if report_at is not None else None,
                    practice,
                )


@attrs.frozen
class Cms50Result:
    """The measure for one period, with the lists behind it for audit.

    .. versionchanged:: 0.4 The counts are fields; the cases are read on demand
       (:attr:`cases`, :meth:`iter_cases`) instead of held.
    """

    period: Cms50Period
    numerator: int
    """Of the denominator, patients whose report came back after the referral, in the period."""
    denominator: int
    """Patients with a first referral before the cut-off."""
    practices: Mapping[str, tuple[int, int]]
    """``(numerator, denominator)`` per referring practice, sorted by practice."""
    audit: Cms50Audit = attrs.field(eq=False, repr=False)

    @property
    def rate(self) -> float | None:
        """``numerator / denominator``, or ``None`` when the denominator is empty."""
        return self.numerator / self.denominator if self.denominator else None

    def iter_cases(self) -> Iterator[Cms50Case]:
        """Stream the denominator's cases, by referral date then referral id.

        .. versionadded:: 0.4
        """
        return self.audit.cases()

    @property
    def cases(self) -> tuple[Cms50Case, ...]:
        """Every denominator case, read now (prefer :meth:`iter_cases` for large periods)."""
        return tuple(self.audit.cases())

    def by_practice(self) -> dict[str, tuple[int, int]]:
        """Return ``(numerator, denominator)`` per referring practice."""
        return dict(self.practices)

    def as_json(self) -> dict[str, object]:
        """Return the JSON form (the ``--json`` schema's ``cms50``; referral ids, no PHI)."""
        numerator: list[str] = []
        denominator: list[str] = []
        for case in self.audit.cases():
            denominator.append(str(case.referral_id))
            if case.closed:
                numerator.append(str(case.referral_id))
        return {
            "measure": "CMS50",
            "mips_quality_id": 374,
            "period_start": self.period.start.isoformat(),
            "period_end": self.period.end.isoformat(),
            "referral_cutoff": self.period.cutoff.isoformat(),
            "numerator": self.numerator,
            "denominator": self.denominator,
            "rate": self.rate,
            "numerator_referrals": numerator,
            "denominator_referrals": denominator,
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


_UPSERT: Final = (
    "INSERT INTO first_referral VALUES (?, ?, ?, ?, ?) ON CONFLICT (patient) DO UPDATE SET "
    "referred_at = excluded.referred_at, referral_id = excluded.referral_id, "
    "report_at = excluded.report_at, practice = excluded.practice "
    "WHERE (excluded.referred_at, excluded.referral_id) "
    "< (first_referral.referred_at, first_referral.referral_id)"
)


def _spill() -> sqlite3.Connection:
    # "" opens a private temporary database on disk, deleted when the connection closes; its
    # page cache is capped so memory stays flat however many patients are counted.
    conn = sqlite3.connect("", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA cache_size = -2048")
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(
        "CREATE TABLE first_referral (patient TEXT PRIMARY KEY, referred_at INTEGER NOT NULL, "
        "referral_id TEXT NOT NULL, report_at INTEGER, practice TEXT NOT NULL) WITHOUT ROWID"
    )
    return conn


@attrs.define
class Cms50Builder:
    """Collects each patient's first referral in the period, one referral at a time.

    One row per patient goes to a private temporary SQLite file (in batches), so memory does
    not grow with the number of patients.

    .. versionchanged:: 0.4 Patients are spilled to a temporary file instead of held.
    """

    period: Cms50Period
    _conn: sqlite3.Connection | None = attrs.field(factory=_spill, init=False, repr=False)
    _pending: list[tuple[str, int, str, int | None, str]] = attrs.field(
        factory=list, init=False, repr=False
    )

    def add(self, facts: ReferralFacts, key: str, practice: str) -> None:
        """Count one referral (its facts and its patient key).

        :raises ValueError: :meth:`result` was already called.
        """
        if self._conn is None:
            raise ValueError("this CMS50 builder has already produced its result")
        referred = facts.received_at
        if facts.entered_in_error or referred is None:
            return
        if not (self.period.start <= referred < self.period.cutoff):
            return
        report = facts.closed_at
        if report is not None and not (referred < report < self.period.end):
            report = None
        self._pending.append(
            (
                key,
                _micros(referred),
                str(facts.referral_id),
                _micros(report) if report is not None else None,
                practice,
            )
        )
        if len(self._pending) >= _SPILL_BATCH:
            self._flush(self._conn)

    def _flush(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN")
        conn.executemany(_UPSERT, self._pending)
        conn.execute("COMMIT")
        self._pending.clear()

    def result(self) -> Cms50Result:
        """Return the measure over everything added (once: the builder is then spent).

        :raises ValueError: called a second time.
        """
        conn = self._conn
        if conn is None:
            raise ValueError("this CMS50 builder has already produced its result")
        self._flush(conn)
        self._conn = None
        practices = {
            practice: (closed, total)
            for practice, closed, total in conn.execute(
                "SELECT practice, COUNT(report_at), COUNT(*) FROM first_referral "
                "GROUP BY practice ORDER BY practice"
            )
        }
        return Cms50Result(
            self.period,
            numerator=sum(n for n, _ in practices.values()),
            denominator=sum(d for _, d in practices.values()),
            practices=practices,
            audit=Cms50Audit(conn),
        )


def cases_from(
    items: Iterable[tuple[ReferralFacts, str, str]], period: Cms50Period
) -> Cms50Result:
    """Return the measure over ``(facts, patient key, practice)`` triples (for tests and hosts)."""
    builder = Cms50Builder(period)
    for facts, key, practice in items:
        builder.add(facts, key, practice)
    return builder.result()
