"""The simulator's entry points: run scenarios, compare them, sweep one parameter, calibrate.

Replication *i* of every scenario uses seed ``seed + i``, so scenarios compared side by side
meet the same arrivals and the same patients (common random numbers): a difference between
them comes from the practice's choices, not from luck of the draw.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from referralkit.simulate.results import (
    Comparison,
    ScenarioResult,
    figures_of,
    format_estimate,
)
from referralkit.simulate.run import run_replication
from referralkit.simulate.scenario import Scenario, builtin_scenario, load_scenario

__all__ = [
    "CALIBRATION_TOLERANCE",
    "FUNNELS",
    "Calibration",
    "FunnelCheck",
    "PublishedFunnel",
    "Sensitivity",
    "calibrate",
    "run_scenario",
    "sensitivity",
    "simulate",
]

SimProgress = Callable[[int, int], None]
"""A progress callback: ``(replications done, replications in all)``."""


def _scenario(value: Scenario | str | Path) -> Scenario:
    return value if isinstance(value, Scenario) else load_scenario(value)


def run_scenario(
    scenario: Scenario | str | Path,
    *,
    runs: int = 10,
    seed: int = 0,
    progress: SimProgress | None = None,
) -> ScenarioResult:
    """Run *runs* seeded replications (seeds ``seed`` to ``seed + runs - 1``) of one scenario.

    :param scenario: a :class:`Scenario`, a file path, or a built-in scenario's name.
    :param progress: called after each replication with ``(done, runs)``.
    :raises ValueError: *runs* is less than one.
    :raises ScenarioError: the scenario file is invalid.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    return _run(_scenario(scenario), runs, seed, progress, 0, runs)


def _run(
    chosen: Scenario, runs: int, seed: int, progress: SimProgress | None, done: int, total: int
) -> ScenarioResult:
    per_run, outcomes, created, reports = [], [], [], []
    for i in range(runs):
        replication = run_replication(chosen, seed + i)
        per_run.append(figures_of(replication.report, staff_hours=replication.staff_hours))
        outcomes.append(dict(replication.report.overall.outcomes))
        created.append(replication.created)
        reports.append(replication.report)
        if progress is not None:
            progress(done + i + 1, total)
    return ScenarioResult(
        name=chosen.name,
        description=chosen.description,
        seeds=tuple(seed + i for i in range(runs)),
        per_run=tuple(per_run),
        outcomes=tuple(outcomes),
        created=tuple(created),
        reports=tuple(reports),
    )


def simulate(
    scenarios: Sequence[Scenario | str | Path],
    *,
    runs: int = 10,
    seed: int = 0,
    progress: SimProgress | None = None,
) -> Comparison:
    """Run every scenario *runs* times with the same seeds and compare them.

    :param scenarios: :class:`Scenario` objects, scenario files, or built-in names.
    :param progress: called after each replication with ``(done, total)``.
    :raises ValueError: no scenario, or *runs* is less than one.
    :raises ScenarioError: a scenario file is invalid (checked before anything runs).
    """
    if not scenarios:
        raise ValueError("give at least one scenario")
    if runs < 1:
        raise ValueError("runs must be at least 1")
    chosen = [_scenario(s) for s in scenarios]
    total = runs * len(chosen)
    results = tuple(_run(s, runs, seed, progress, i * runs, total) for i, s in enumerate(chosen))
    return Comparison(results=results, runs=runs, seed=seed)


@attrs.frozen
class Sensitivity:
    """One parameter varied over values, everything else held: a result per value."""

    parameter: str
    values: tuple[float, ...]
    results: tuple[ScenarioResult, ...]

    def as_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "parameter": self.parameter,
            "points": [
                {"value": v, "result": r.as_json()}
                for v, r in zip(self.values, self.results, strict=True)
            ],
        }

    def text(
        self, keys: Sequence[str] = ("leakage_rate", "booking_rate", "days_to_booked")
    ) -> str:
        """Return a plain-text table: one row per value, the chosen figures as columns."""
        from referralkit.simulate.results import FIGURES

        kinds = {f.key: f.kind for f in FIGURES}
        lines = [f"{self.parameter:>24}" + "".join(f"{k:>30}" for k in keys)]
        for value, result in zip(self.values, self.results, strict=True):
            cells = [format_estimate(result.estimate(k), kinds[k]) for k in keys]
            lines.append(f"{value:>24g}" + "".join(f"{c:>30}" for c in cells))
        return "\n".join(lines)


def sensitivity(
    scenario: Scenario | str | Path,
    parameter: str,
    values: Sequence[float],
    *,
    runs: int = 10,
    seed: int = 0,
    progress: SimProgress | None = None,
) -> Sensitivity:
    """Run *scenario* once per value of *parameter* (a dotted path), all else unchanged.

    :raises ScenarioError: no such parameter, or a value is out of its range.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    base = _scenario(scenario)
    variants = [base.with_value(parameter, v) for v in values]
    total = runs * len(variants)
    results = tuple(
        attrs.evolve(
            _run(v, runs, seed, progress, i * runs, total),
            name=f"{base.name} {parameter}={value:g}",
        )
        for i, (v, value) in enumerate(zip(variants, values, strict=True))
    )
    return Sensitivity(parameter, tuple(float(v) for v in values), results)


# -- calibration ---------------------------------------------------------------------------------


@attrs.frozen
class PublishedFunnel:
    """A published referral funnel: the share booked and the share seen, of referrals made."""

    source: str
    booked: float
    seen: float
    fitted: bool


FUNNELS: Final = (
    PublishedFunnel("weiner2010", booked=0.71, seen=0.50, fitted=True),
    PublishedFunnel("patel2018", booked=1 - 0.389, seen=0.348, fitted=False),
)
"""The funnels the baseline is fitted to (Weiner 2010) and checked against (Patel 2018)."""

CALIBRATION_TOLERANCE: Final = 0.03
"""How close (absolute, as a share) the baseline's funnel stays to the funnel it was fitted to."""


@attrs.frozen
class FunnelCheck:
    """The baseline's simulated funnel next to one published funnel, with the gaps."""

    funnel: PublishedFunnel
    booked: float
    seen: float

    @property
    def booked_gap(self) -> float:
        """Simulated minus published share booked."""
        return self.booked - self.funnel.booked

    @property
    def seen_gap(self) -> float:
        """Simulated minus published share seen."""
        return self.seen - self.funnel.seen


@attrs.frozen
class Calibration:
    """The baseline checked against every published funnel in :data:`FUNNELS`."""

    checks: tuple[FunnelCheck, ...]
    result: ScenarioResult

    def text(self) -> str:
        """Return the checks as a plain-text table."""
        lines = [f"{'funnel':<22}{'booked':>26}{'seen':>26}"]
        for c in self.checks:
            role = "fitted" if c.funnel.fitted else "checked"
            lines.append(
                f"{c.funnel.source + ' (' + role + ')':<22}"
                f"{f'{c.booked:.1%} vs {c.funnel.booked:.1%} ({c.booked_gap:+.1%})':>26}"
                f"{f'{c.seen:.1%} vs {c.funnel.seen:.1%} ({c.seen_gap:+.1%})':>26}"
            )
        return "\n".join(lines)


def calibrate(*, runs: int = 10, seed: int = 0, scenario: Scenario | None = None) -> Calibration:
    """Run the calibrated baseline and compare its funnel with the published ones.

    The baseline has no outreach and no staff scheduling calls: patients book on their own.
    ``patients.self_book`` and ``no_show.base`` were fitted to Weiner 2010; Patel 2018 was not
    used in fitting.
    """
    result = run_scenario(scenario or builtin_scenario("baseline"), runs=runs, seed=seed)
    booked = result.estimate("booking_rate").mean or 0.0
    seen = result.estimate("completion_rate").mean or 0.0
    return Calibration(tuple(FunnelCheck(f, booked, seen) for f in FUNNELS), result)
