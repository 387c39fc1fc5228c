"""The what-if simulator: wall time, and its overhead over the engine work it drives.

Run: ``python benchmarks/bench_simulate.py [--quick]``.

Each round runs one seeded replication of the ``default-cadence`` scenario, scaled to
10,000 referrals over 180 simulated days (``--quick``: about 45 referrals over 30 days),
recording every engine call it makes (:class:`referralkit.simulate.Trace`):

* **simulator**: :func:`referralkit.simulate.run_replication` (the world, the engine, the
  metrics report at the end);
* **engine alone**: :func:`referralkit.simulate.replay` of the same calls on a fresh desk (the
  same creates, fires, sweeps, bookings and call outcomes at the same simulated instants; the
  sweeps make the same adapter calls, to the in-memory fake) and the same metrics report.

Goal: simulator <= 1.5x the engine alone. The two sides alternate, round by round (a round's
replay needs its trace, so it runs right after its simulation), with the garbage collector
paused alike around each; the total wall time of the simulator side is printed too: 10
replications at full size (``--quick``: 5).
"""

from __future__ import annotations

import sys
import time

from common import no_gc, note, report

from referralkit.metrics import Cms50Period, compute_metrics
from referralkit.simulate import Scenario, Trace, builtin_scenario, replay, run_replication


def _scenario(quick: bool) -> Scenario:
    base = builtin_scenario("default-cadence")
    if quick:
        return (
            base.with_value("run.days", 30)
            .with_value("run.arrival_days", 20)
            .with_value("arrivals.per_day", 3)
        )
    # 180 days from a Monday hold 128 business days: 78.1 a business day is 10,000 referrals.
    return (
        base.with_value("run.days", 180)
        .with_value("run.arrival_days", 180)
        .with_value("arrivals.per_day", 10_000 / 128)
    )


def main(*, quick: bool = False) -> None:
    scenario = _scenario(quick)
    rounds = 5 if quick else 10
    sim_times: list[float] = []
    replay_times: list[float] = []
    created: list[int] = []
    for seed in range(rounds):
        trace = Trace()
        with no_gc():
            began = time.perf_counter()
            replication = run_replication(scenario, seed, trace=trace)
            sim_times.append(time.perf_counter() - began)
        created.append(replication.created)
        config = replication.report.config
        with no_gc():
            began = time.perf_counter()
            desk = replay(scenario, trace)
            compute_metrics(desk.store, config, cms50=Cms50Period(config.since, config.until))
            replay_times.append(time.perf_counter() - began)
        print(
            f"  round {seed}: {replication.created} referrals, simulator "
            f"{sim_times[-1]:.1f} s, engine alone {replay_times[-1]:.1f} s",
            flush=True,
        )
    size = f"{round(sum(created) / len(created)):,} referrals, {scenario['run.days']:.0f} days"
    report(
        f"simulate: replication vs the engine work replayed ({size})",
        sim_times,
        replay_times,
        goal=1.5,
        unit="s",
    )
    note(f"simulate: wall time of {rounds} replications ({size})", sum(sim_times), "s")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
