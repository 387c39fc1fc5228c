"""What-if simulation: a synthetic referral population run through the real engine.

A scenario (TOML, validated on load) describes arrivals, patients, payers, capacity, no-shows,
records and reports, staff, and the practice's outreach policy. Each replication runs a real
:class:`~referralkit.desk.ReferralDesk` on a memory store and a manual clock, with simulated
patients behind its telephony port; the metrics module reports on the event log it leaves::

    comparison = simulate(["default-cadence", "text-first"], runs=10, seed=1)
    comparison.results[0].estimate("leakage_rate")   # mean and 95% interval

``docs/simulate.md`` describes the scenario format, every parameter and its source, and what
the simulator cannot tell you.

.. versionadded:: 0.4
"""

from __future__ import annotations

from referralkit.simulate.api import (
    CALIBRATION_TOLERANCE,
    FUNNELS,
    Calibration,
    FunnelCheck,
    PublishedFunnel,
    Sensitivity,
    calibrate,
    run_scenario,
    sensitivity,
    simulate,
)
from referralkit.simulate.parameters import ASSUMPTION, PARAMETERS, SOURCES, Parameter
from referralkit.simulate.results import FIGURES, Comparison, Estimate, Figure, ScenarioResult
from referralkit.simulate.run import Replication, Trace, replay, run_replication
from referralkit.simulate.scenario import (
    BUILTIN_SCENARIOS,
    Scenario,
    StaffQueue,
    builtin_scenario,
    load_scenario,
    scenario_from_mapping,
)

__all__ = [
    "ASSUMPTION",
    "BUILTIN_SCENARIOS",
    "CALIBRATION_TOLERANCE",
    "FIGURES",
    "FUNNELS",
    "PARAMETERS",
    "SOURCES",
    "Calibration",
    "Comparison",
    "Estimate",
    "Figure",
    "FunnelCheck",
    "Parameter",
    "PublishedFunnel",
    "Replication",
    "Scenario",
    "ScenarioResult",
    "Sensitivity",
    "StaffQueue",
    "Trace",
    "builtin_scenario",
    "calibrate",
    "load_scenario",
    "replay",
    "run_replication",
    "run_scenario",
    "scenario_from_mapping",
    "sensitivity",
    "simulate",
]
