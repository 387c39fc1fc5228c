"""Compute a metrics report for a window from the event log, streamed.

:func:`compute_metrics` reads the window's events once through
:meth:`~referralkit.store.Store.iter_events` (one referral's events at a time), folds each
referral into its :class:`~referralkit.metrics.facts.ReferralFacts`, and adds them to the
overall figures and to each requested group. Memory holds one referral's events, the running
counts and durations as counts per whole minute
(:class:`~referralkit.metrics.stats.DurationCounts`); CMS50's one record per patient is
spilled to a private temporary SQLite file. None of it grows with the number of events.
``docs/metrics.md`` defines every figure.

.. versionadded:: 0.2
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import attrs

from referralkit.events import Event
from referralkit.intake.results import CallRecord
from referralkit.metrics.cms50 import Cms50Builder, Cms50Period, Cms50Result, patient_key
from referralkit.metrics.config import Dimension, MetricsConfig
from referralkit.metrics.facts import ReferralFacts, fold_facts
from referralkit.metrics.stats import DurationCounts, DurationStats
from referralkit.model import Referral
from referralkit.store import Store

__all__ = [
    "BOOKING_BUCKETS",
    "JSON_SCHEMA_VERSION",
    "GroupMetrics",
    "MetricsBuilder",
    "MetricsReport",
    "Progress",
    "QueueHealth",
    "compute_metrics",
    "group_value",
]

_log = logging.getLogger("referralkit.metrics")

JSON_SCHEMA_VERSION: Final = 1
"""The version of the ``--json`` report schema (``docs/cli.md``); bumped on breaking change."""

Progress = Callable[[int, int | None], None]
"""A progress callback: ``(done, total)``; *total* is ``None`` when not known in advance."""

_PROGRESS_EVERY: Final = 5000


def group_value(referral: Referral, dimension: Dimension) -> str:
    """Return the referral's value for a grouping dimension (PHI-free; ``unknown`` if unset).

    ``practice`` is the referring practice (its id, else its name); ``payer`` the coverage's
    payer name; ``channel`` and ``call_type`` those of the referral's first logged interaction.
    Values are read from the referral's current record.
    """
    match dimension:
        case "practice":
            practice = referral.referring_practice
            return (practice.id or practice.name) if practice is not None else "unknown"
        case "specialty":
            return referral.specialty or "unknown"
        case "priority":
            return referral.priority.value
        case "payer":
            return referral.coverage.payer_name if referral.coverage is not None else "unknown"
        case "channel":
            first = referral.interactions[0] if referral.interactions else None
            return first.channel.value if first is not None else "unknown"
        case "call_type":
            typed = [i.call_type for i in referral.interactions if i.call_type]
            return typed[0] if typed else "none"


BOOKING_BUCKETS: Final[tuple[tuple[str, float], ...]] = (
    ("0-2 days", 2 * 86400.0),
    ("3-7 days", 7 * 86400.0),
    ("8-14 days", 14 * 86400.0),
    ("15-30 days", 30 * 86400.0),
    ("over 30 days", float("inf")),
)
"""The time-to-booking histogram's buckets: a label and its upper bound in seconds (included).

A wait of 2 days and 1 second falls in ``3-7 days``."""


def _bucket(seconds: float) -> str:
    return next(label for label, bound in BOOKING_BUCKETS if seconds <= bound)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@attrs.define
class _Accumulator:
    received: int = 0
    booked: int = 0
    seen: int = 0
    closed: int = 0
    leaked: int = 0
    reopened: int = 0
    redirected: int = 0
    leak_reasons: Counter[str] = attrs.field(factory=Counter)
    outcomes: Counter[str] = attrs.field(factory=Counter)
    to_booked: DurationCounts = attrs.field(factory=DurationCounts)
    booked_within: Counter[str] = attrs.field(factory=Counter)
    to_seen: DurationCounts = attrs.field(factory=DurationCounts)
    to_first_outreach: DurationCounts = attrs.field(factory=DurationCounts)
    loop_closure: DurationCounts = attrs.field(factory=DurationCounts)
    auth_turnaround: DurationCounts = attrs.field(factory=DurationCounts)
    attempts_before_booking: int = 0
    sends_by_channel: Counter[str] = attrs.field(factory=Counter)
    auth_required: int = 0
    auth_denied: int = 0
    appointments_booked: int = 0
    visits_completed: int = 0
    no_shows: int = 0
    calls: Counter[str] = attrs.field(factory=Counter)

    def add(self, facts: ReferralFacts) -> None:
        received = facts.received_at
        assert received is not None  # noqa: S101 - only cohort referrals are added
        self.received += 1
        self.outcomes[facts.status.value] += 1
        if facts.booked_at is not None:
            self.booked += 1
            waited = (facts.booked_at - received).total_seconds()
            self.to_booked.add(waited)
            self.booked_within[_bucket(waited)] += 1
            self.attempts_before_booking += facts.attempts_before_booking
        if facts.seen_at is not None:
            self.seen += 1
            self.to_seen.add((facts.seen_at - received).total_seconds())
            if facts.closed_at is not None:
                self.loop_closure.add((facts.closed_at - facts.seen_at).total_seconds())
        if facts.closed_at is not None:
            self.closed += 1
        if facts.leak_reason is not None:
            self.leaked += 1
            self.leak_reasons[facts.leak_reason] += 1
        if facts.first_outreach_at is not None:
            self.to_first_outreach.add((facts.first_outreach_at - received).total_seconds())
        if facts.auth_required_at is not None:
            self.auth_required += 1
            if facts.auth_decided_at is not None:
                self.auth_turnaround.add(
                    (facts.auth_decided_at - facts.auth_required_at).total_seconds()
                )
            self.auth_denied += facts.auth_denied
        self.reopened += facts.reopened > 0
        self.redirected += facts.redirects > 0
        self.sends_by_channel.update(dict(facts.sends_by_channel))
        self.appointments_booked += facts.appointments_booked
        self.visits_completed += facts.visits_completed
        self.no_shows += facts.no_shows
        self.calls.update(facts.calls)

    def freeze(self, value_per_visit: Decimal | None) -> GroupMetrics:
        return GroupMetrics(
            received=self.received,
            booked=self.booked,
            seen=self.seen,
            closed=self.closed,
            leaked=self.leaked,
            reopened=self.reopened,
            redirected=self.redirected,
            leak_reasons=dict(sorted(self.leak_reasons.items())),
            outcomes=dict(sorted(self.outcomes.items())),
            time_to_booked=self.to_booked.summary(),
            booked_within={label: self.booked_within[label] for label, _ in BOOKING_BUCKETS},
            time_to_seen=self.to_seen.summary(),
            time_to_first_outreach=self.to_first_outreach.summary(),
            loop_closure_time=self.loop_closure.summary(),
            auth_turnaround=self.auth_turnaround.summary(),
            attempts_before_booking=self.attempts_before_booking,
            sends_by_channel=dict(sorted(self.sends_by_channel.items())),
            auth_required=self.auth_required,
            auth_denied=self.auth_denied,
            appointments_booked=self.appointments_booked,
            visits_completed=self.visits_completed,
            no_shows=self.no_shows,
            calls_by_type=dict(sorted(self.calls.items())),
            revenue=(
                value_per_visit * self.visits_completed if value_per_visit is not None else None
            ),
        )


@attrs.frozen
class GroupMetrics:
    """The figures for one group of referrals received in the window (see docs/metrics.md).

    Counts are of referrals unless named otherwise; durations are in seconds.
    """

    received: int
    booked: int
    seen: int
    closed: int
    leaked: int
    reopened: int
    redirected: int
    leak_reasons: Mapping[str, int]
    outcomes: Mapping[str, int]
    time_to_booked: DurationStats
    booked_within: Mapping[str, int]
    time_to_seen: DurationStats
    time_to_first_outreach: DurationStats
    loop_closure_time: DurationStats
    auth_turnaround: DurationStats
    attempts_before_booking: int
    sends_by_channel: Mapping[str, int]
    auth_required: int
    auth_denied: int
    appointments_booked: int
    visits_completed: int
    no_shows: int
    calls_by_type: Mapping[str, int]
    revenue: Decimal | None

    @property
    def booking_rate(self) -> float | None:
        """Referrals booked / received."""
        return _ratio(self.booked, self.received)

    @property
    def completion_rate(self) -> float | None:
        """Referrals seen (a completed visit) / received."""
        return _ratio(self.seen, self.received)

    @property
    def leakage_rate(self) -> float | None:
        """Referrals leaked / received."""
        return _ratio(self.leaked, self.received)

    @property
    def loop_closure_rate(self) -> float | None:
        """Referrals whose consult report went back / referrals seen."""
        return _ratio(self.closed, self.seen)

    @property
    def no_show_rate(self) -> float | None:
        """No-shows / (no-shows + completed visits): appointments that reached their time."""
        return _ratio(self.no_shows, self.no_shows + self.visits_completed)

    @property
    def attempts_per_booking(self) -> float | None:
        """Patient contact attempts sent before booking, per booked referral."""
        return _ratio(self.attempts_before_booking, self.booked)

    @property
    def auth_denial_rate(self) -> float | None:
        """Referrals whose authorization was denied / referrals that required one."""
        return _ratio(self.auth_denied, self.auth_required)

    def as_json(self) -> dict[str, Any]:
        """Return the JSON form (the ``--json`` schema's ``metrics`` object)."""
        return {
            "received": self.received,
            "booked": self.booked,
            "seen": self.seen,
            "closed": self.closed,
            "leaked": self.leaked,
            "reopened": self.reopened,
            "redirected": self.redirected,
            "booking_rate": self.booking_rate,
            "completion_rate": self.completion_rate,
            "leakage_rate": self.leakage_rate,
            "loop_closure_rate": self.loop_closure_rate,
            "no_show_rate": self.no_show_rate,
            "attempts_per_booking": self.attempts_per_booking,
            "auth_denial_rate": self.auth_denial_rate,
            "leak_reasons": dict(self.leak_reasons),
            "outcomes": dict(self.outcomes),
            "time_to_booked": self.time_to_booked.as_json(),
            "booked_within": dict(self.booked_within),
            "time_to_seen": self.time_to_seen.as_json(),
            "time_to_first_outreach": self.time_to_first_outreach.as_json(),
            "loop_closure_time": self.loop_closure_time.as_json(),
            "auth_turnaround": self.auth_turnaround.as_json(),
            "attempts_before_booking": self.attempts_before_booking,
            "sends_by_channel": dict(self.sends_by_channel),
            "auth_required": self.auth_required,
            "auth_denied": self.auth_denied,
            "appointments_booked": self.appointments_booked,
            "visits_completed": self.visits_completed,
            "no_shows": self.no_shows,
            "calls_by_type": dict(self.calls_by_type),
            "revenue": str(self.revenue) if self.revenue is not None else None,
        }


@attrs.frozen
class QueueHealth:
    """Tasks opened in the window on one queue, as of its end (from the task events).

    :ivar open: tasks still open at the end of the window; ``age`` is theirs (opening to
        the end of the window) and ``overdue`` counts those past their due time.
    :ivar closed: tasks completed, cancelled or mooted before the end of the window;
        ``time_to_close`` is theirs (opening to closing).

    .. versionchanged:: 0.4 ``open``, ``closed`` and ``time_to_close``; ``age`` and
        ``overdue`` count only tasks still open.
    """

    opened: int
    overdue: int
    sla_breaches: int
    escalations: int
    age: DurationStats
    open: int = 0
    closed: int = 0
    time_to_close: DurationStats = attrs.field(factory=lambda: DurationStats(0, None, None))

    def as_json(self) -> dict[str, Any]:
        """Return the JSON form (the ``--json`` schema's ``queues`` values)."""
        return {
            "opened": self.opened,
            "open": self.open,
            "closed": self.closed,
            "overdue": self.overdue,
            "sla_breaches": self.sla_breaches,
            "escalations": self.escalations,
            "age": self.age.as_json(),
            "time_to_close": self.time_to_close.as_json(),
        }


@attrs.define
class _QueueAccumulator:
    opened: int = 0
    closed: int = 0
    overdue: int = 0
    sla_breaches: int = 0
    escalations: int = 0
    ages: DurationCounts = attrs.field(factory=DurationCounts)
    to_close: DurationCounts = attrs.field(factory=DurationCounts)


@attrs.frozen
class MetricsReport:
    """A metrics report for one window: overall, by group, queues, calls and CMS50."""

    config: MetricsConfig
    overall: GroupMetrics
    groups: Mapping[str, Mapping[str, GroupMetrics]]
    queues: Mapping[str, QueueHealth]
    call_resolution: Mapping[str, DurationStats]
    cms50: Cms50Result | None
    excluded_entered_in_error: int
    events_read: int

    def as_json(self) -> dict[str, Any]:
        """Return the report as JSON-compatible data (schema: ``docs/cli.md``; no PHI)."""
        config = self.config
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "since": config.since.isoformat(),
            "until": config.until.isoformat(),
            "unbooked_sla_seconds": config.unbooked_sla.total_seconds(),
            "events_read": self.events_read,
            "excluded_entered_in_error": self.excluded_entered_in_error,
            "overall": self.overall.as_json(),
            "groups": {
                dim: {value: m.as_json() for value, m in values.items()}
                for dim, values in self.groups.items()
            },
            "queues": {name: q.as_json() for name, q in self.queues.items()},
            "call_resolution": {k: v.as_json() for k, v in self.call_resolution.items()},
            "cms50": self.cms50.as_json() if self.cms50 is not None else None,
        }


@attrs.define
class MetricsBuilder:
    """Adds referrals one at a time and builds the :class:`MetricsReport` (streaming core).

    :ivar by: the dimensions to group by.
    :ivar cms50: the CMS50 measurement period to compute alongside, if any.
    """

    config: MetricsConfig
    by: Sequence[Dimension] = ()
    cms50: Cms50Period | None = None
    _overall: _Accumulator = attrs.field(factory=_Accumulator, init=False)
    _groups: dict[Dimension, dict[str, _Accumulator]] = attrs.field(factory=dict, init=False)
    _queues: dict[str, _QueueAccumulator] = attrs.field(factory=dict, init=False)
    _calls: dict[str, DurationCounts] = attrs.field(factory=dict, init=False)
    _cms50: Cms50Builder | None = attrs.field(default=None, init=False)
    _excluded: int = attrs.field(default=0, init=False)
    events_read: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self._groups = {dim: {} for dim in self.by}
        if self.cms50 is not None:
            self._cms50 = Cms50Builder(self.cms50)

    def add(self, facts: ReferralFacts, referral: Referral | None) -> None:
        """Add one referral's facts (and its record, for grouping and CMS50)."""
        self._add_tasks(facts)
        if facts.entered_in_error:
            self._excluded += facts.received_at is not None
            return
        if facts.received_at is None:
            return  # received before the window: only its tasks count (queue health)
        self._overall.add(facts)
        for dim, values in self._groups.items():
            value = group_value(referral, dim) if referral is not None else "unknown"
            accumulator = values.get(value)
            if accumulator is None:
                accumulator = values[value] = _Accumulator()
            accumulator.add(facts)
        if self._cms50 is not None and referral is not None:
            self._cms50.add(facts, patient_key(referral), group_value(referral, "practice"))

    def _add_tasks(self, facts: ReferralFacts) -> None:
        until = self.config.until
        for task in facts.tasks:
            queue = self._queues.setdefault(task.queue, _QueueAccumulator())
            queue.opened += 1
            queue.sla_breaches += task.sla_clock is not None
            if task.closed_at is not None:
                queue.closed += 1
                queue.to_close.add((task.closed_at - task.opened_at).total_seconds())
                continue
            queue.overdue += task.due_at is not None and task.due_at < until
            queue.ages.add((until - task.opened_at).total_seconds())
        for name in facts.escalations:
            self._queues.setdefault(name, _QueueAccumulator()).escalations += 1

    def add_call(self, call: CallRecord) -> None:
        """Add one resolved intake call to the resolution times per call type."""
        config = self.config
        if call.resolved_at is None or not (config.since <= call.started_at < config.until):
            return
        seconds = (call.resolved_at - call.started_at).total_seconds()
        self._calls.setdefault(call.call_type, DurationCounts()).add(seconds)

    def build(self) -> MetricsReport:
        """Return the report over everything added."""
        value = self.config.value_per_visit
        return MetricsReport(
            config=self.config,
            overall=self._overall.freeze(value),
            groups={
                dim: {v: acc.freeze(value) for v, acc in sorted(values.items())}
                for dim, values in self._groups.items()
            },
            queues={
                name: QueueHealth(
                    q.opened,
                    q.overdue,
                    q.sla_breaches,
                    q.escalations,
                    q.ages.summary(),
                    open=q.opened - q.closed,
                    closed=q.closed,
                    time_to_close=q.to_close.summary(),
                )
                for name, q in sorted(self._queues.items())
            },
            call_resolution={k: v.summary() for k, v in sorted(self._calls.items())},
            cms50=self._cms50.result() if self._cms50 is not None else None,
            excluded_entered_in_error=self._excluded,
            events_read=self.events_read,
        )


def _per_referral(events: Iterable[Event]) -> Iterable[list[Event]]:
    for _, group in itertools.groupby(events, key=lambda e: e.referral_id):
        yield list(group)


def compute_metrics(
    store: Store,
    config: MetricsConfig,
    *,
    by: Sequence[Dimension] = (),
    cms50: Cms50Period | None = None,
    calls: Iterable[CallRecord] = (),
    progress: Progress | None = None,
) -> MetricsReport:
    """Compute the metrics for referrals received in ``[config.since, config.until)``.

    The store's events in the window are read once, streamed. A structured log record
    (``referralkit.metrics``, PHI-free) gives the counts and the duration.

    :param by: dimensions to group by, besides the overall figures.
    :param cms50: also compute CMS50 for this measurement period; it must lie within the
        window (the window's events are the only ones read).
    :param calls: the intake calls the host kept (:class:`~referralkit.intake.CallRecord`,
        from ``IntakeOutcome.call``), for the resolution time per call type. referralkit does
        not store call records (the event log has no call start times), so the host passes
        them; any iterable, read once.
    :param progress: called with ``(events_read, None)`` every few thousand events and once
        at the end.
    :raises ValueError: the CMS50 period is not within the window.
    """
    if cms50 is not None and (cms50.start < config.since or cms50.end > config.until):
        raise ValueError("the CMS50 period must lie within the report's window")
    started = time.perf_counter()
    builder = MetricsBuilder(config, by, cms50)
    read = 0
    for history in _per_referral(store.iter_events(since=config.since, until=config.until)):
        before = read
        read += len(history)
        facts = fold_facts(history, until=config.until, unbooked_sla=config.unbooked_sla)
        cohort = facts.received_at is not None and not facts.entered_in_error
        builder.add(facts, store.get(facts.referral_id) if cohort else None)
        if progress is not None and read // _PROGRESS_EVERY != before // _PROGRESS_EVERY:
            progress(read, None)
    for call in calls:
        builder.add_call(call)
    builder.events_read = read
    if progress is not None:
        progress(read, read)
    report = builder.build()
    _log.info(
        "metrics report: %d events, %d referrals received, %.3f s",
        read,
        report.overall.received,
        time.perf_counter() - started,
        extra={
            "referralkit": {
                "operation": "metrics_report",
                "events_read": read,
                "received": report.overall.received,
                "seconds": round(time.perf_counter() - started, 6),
            }
        },
    )
    return report
