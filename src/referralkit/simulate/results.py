"""Replications summarised: figures, means with confidence intervals, comparisons.

Scenarios are compared side by side.

Each figure of a replication is read from the metrics module's report
(:class:`~referralkit.metrics.MetricsReport`); the simulator defines none of its own except the
staff hours it spent and the contacts it answered. A mean's interval is Student's t at 95% over
the replications (none with a single replication).

.. versionadded:: 0.4
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from referralkit.metrics import MetricsReport
from referralkit.model import ReferralStatus

__all__ = [
    "FIGURES",
    "Comparison",
    "Estimate",
    "Figure",
    "ScenarioResult",
    "figures_of",
    "format_estimate",
]

_OPEN: Final = frozenset(
    s.value
    for s in (
        ReferralStatus.INTAKE,
        ReferralStatus.RECEIVED,
        ReferralStatus.ACCEPTED,
        ReferralStatus.PENDING_AUTH,
        ReferralStatus.READY_TO_SCHEDULE,
        ReferralStatus.SCHEDULED,
        ReferralStatus.VISIT_COMPLETED,
        ReferralStatus.ON_HOLD,
    )
)

# Two-sided 95% Student's t critical values by degrees of freedom (1..30); 1.96 beyond.
_T95: Final = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
               2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074,
               2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


@attrs.frozen
class Figure:
    """One compared figure: its key, label and kind (``rate``, ``days``, ``count``, ``ratio``).

    .. versionadded:: 0.4
    """

    key: str
    label: str
    kind: str


FIGURES: Final[tuple[Figure, ...]] = (
    Figure("received", "Referrals received", "count"),
    Figure("booking_rate", "Conversion (booked / received)", "rate"),
    Figure("completion_rate", "Seen / received", "rate"),
    Figure("leakage_rate", "Leakage", "rate"),
    Figure("loop_closure_rate", "Loop closed / seen", "rate"),
    Figure("days_to_booked", "Median days to booking", "days"),
    Figure("days_to_seen", "Median days to appointment (seen)", "days"),
    Figure("cms50_rate", "CMS50", "rate"),
    Figure("no_show_rate", "No-show rate", "rate"),
    Figure("contacts_per_booking", "Contacts per booking", "ratio"),
    Figure("staff_hours", "Staff hours", "count"),
    Figure("sla_breaches", "SLA breaches (tasks)", "count"),
    Figure("open_at_horizon", "Still open at the horizon", "count"),
)
"""The figures every comparison shows, in order."""


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 86400


def figures_of(report: MetricsReport, *, staff_hours: float) -> dict[str, float | None]:
    """Read one replication's figures from its metrics report."""
    m = report.overall
    cms50 = report.cms50
    return {
        "received": float(m.received),
        "booking_rate": m.booking_rate,
        "completion_rate": m.completion_rate,
        "leakage_rate": m.leakage_rate,
        "loop_closure_rate": m.loop_closure_rate,
        "days_to_booked": _days(m.time_to_booked.median_seconds),
        "days_to_seen": _days(m.time_to_seen.median_seconds),
        "cms50_rate": cms50.rate if cms50 is not None else None,
        "no_show_rate": m.no_show_rate,
        "contacts_per_booking": m.attempts_per_booking,
        "staff_hours": staff_hours,
        "sla_breaches": float(sum(q.sla_breaches for q in report.queues.values())),
        "open_at_horizon": float(sum(n for s, n in m.outcomes.items() if s in _OPEN)),
    }


@attrs.frozen
class Estimate:
    """A mean over replications with its 95% confidence interval.

    :ivar n: replications the figure was defined in (a rate over zero referrals is not).
    :ivar low: the interval's lower end (``None`` with fewer than two replications).
    """

    mean: float | None
    low: float | None
    high: float | None
    n: int

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Estimate:
        """Return the mean and 95% t interval of the defined *values*."""
        defined = [v for v in values if v is not None]
        n = len(defined)
        if n == 0:
            return cls(None, None, None, 0)
        mean = statistics.fmean(defined)
        if n == 1:
            return cls(mean, None, None, 1)
        t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
        half = t * statistics.stdev(defined) / math.sqrt(n)
        return cls(mean, mean - half, mean + half, n)

    def as_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"mean": self.mean, "ci95": [self.low, self.high], "n": self.n}


@attrs.frozen
class ScenarioResult:
    """One scenario's replications: their figures and the estimates over them.

    :ivar per_run: each replication's figures, in seed order.
    :ivar outcomes: each replication's referrals by final status.
    :ivar created: each replication's number of referrals created.
    """

    name: str
    description: str
    seeds: tuple[int, ...]
    per_run: tuple[Mapping[str, float | None], ...]
    outcomes: tuple[Mapping[str, int], ...]
    created: tuple[int, ...]
    reports: tuple[MetricsReport, ...] = attrs.field(repr=False, eq=False)

    def estimate(self, key: str) -> Estimate:
        """Return the mean and interval of figure *key* over the replications."""
        return Estimate.of([run[key] for run in self.per_run])

    def as_json(self) -> dict[str, Any]:
        """Return the JSON form (figures as means with intervals, and every replication)."""
        return {
            "name": self.name,
            "description": self.description,
            "runs": len(self.seeds),
            "seeds": list(self.seeds),
            "figures": {f.key: self.estimate(f.key).as_json() for f in FIGURES},
            "replications": [
                {"seed": seed, "created": created, "figures": dict(run), "outcomes": dict(out)}
                for seed, created, run, out in zip(
                    self.seeds, self.created, self.per_run, self.outcomes, strict=True
                )
            ],
        }


@attrs.frozen
class Comparison:
    """Two or more scenarios, each run with the same seeds, compared figure by figure."""

    results: tuple[ScenarioResult, ...]
    runs: int
    seed: int

    def as_json(self) -> dict[str, Any]:
        """Return the JSON form (``referralkit simulate --json``)."""
        return {
            "schema_version": 1,
            "runs": self.runs,
            "seed": self.seed,
            "figures": [{"key": f.key, "label": f.label, "kind": f.kind} for f in FIGURES],
            "scenarios": [r.as_json() for r in self.results],
        }

    def html(self, *, title: str = "What-if comparison") -> str:
        """Return a self-contained HTML page: funnels side by side with intervals, and figures."""
        from referralkit.metrics.html import render_comparison_html

        stages = (("Booked", "booking_rate"), ("Seen", "completion_rate"),
                  ("Leaked", "leakage_rate"), ("No-show", "no_show_rate"))  # fmt: skip
        funnel = [
            (label, [_triple(r.estimate(key)) for r in self.results]) for label, key in stages
        ]
        figures = [
            (f.label, [format_estimate(r.estimate(f.key), f.kind) for r in self.results])
            for f in FIGURES
        ]
        return render_comparison_html(
            title=title,
            subtitle=(
                f"{self.runs} seeded replications per scenario (seeds {self.seed} to "
                f"{self.seed + self.runs - 1}); means with 95% confidence intervals."
            ),
            scenarios=[r.name for r in self.results],
            funnel=funnel,
            figures=figures,
            notes=[f"{r.name}: {r.description}" for r in self.results if r.description],
        )

    def text(self) -> str:
        """Return the comparison as a plain-text table (one column per scenario)."""
        names = [r.name for r in self.results]
        width = max(28, *(len(n) + 2 for n in names))
        lines = [f"{'':34}" + "".join(f"{n:>{width}}" for n in names)]
        for figure in FIGURES:
            cells = [format_estimate(r.estimate(figure.key), figure.kind) for r in self.results]
            lines.append(f"{figure.label:34}" + "".join(f"{c:>{width}}" for c in cells))
        lines.append(f"({self.runs} replications each, seeds from {self.seed}; 95% intervals)")
        return "\n".join(lines)


def _triple(estimate: Estimate) -> tuple[float | None, float | None, float | None]:
    return (estimate.mean, estimate.low, estimate.high)


def format_estimate(estimate: Estimate, kind: str) -> str:
    """Return ``mean [low, high]`` formatted for the figure's kind."""

    def one(value: float | None) -> str:
        if value is None:
            return "\u2014"
        if kind == "rate":
            return f"{value * 100:.1f}%"
        if kind in ("days", "ratio"):
            return f"{value:.2f}"
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"

    if estimate.low is None or estimate.high is None:
        return one(estimate.mean)
    return f"{one(estimate.mean)} [{one(estimate.low)}, {one(estimate.high)}]"
