"""Routing benchmarks: ``python benchmarks/bench_routing.py [--quick]``.

1. **100 compiled rules vs hand-written checks.** One referral (with its event log) is matched
   against 100 rules compiled by :class:`referralkit.routing.RuleSet` (facts derived from the
   referral and events, then the generated match function), and against a plain Python function
   doing the same 100 checks written out as ``if`` statements, computing the same derived values
   (time in state from the event log, case-folded flags...) once up front. The baseline's text is
   produced from the rule parameters below so that both sides check exactly the same thing; it is
   unrolled like code a person would write, with no loop or indirection. Goal: <= 3x.
2. **Sweep with the default rules.** Open referrals are created in a SQLite file with
   ``create_many``, then streamed page by page (keyset on id) with their event logs and evaluated
   with the default rules by the pure engine. Reported as referrals per second, and as a ratio to
   streaming the same pages and events without evaluating them.

Figures are medians of five interleaved ``time.perf_counter`` rounds, garbage collector paused.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from common import MIN_SAMPLES, START, SYSTEM, compare, no_gc, report, sample_referral

from referralkit import (
    AuthorizationStatus,
    Priority,
    Referral,
    ReferralStatus,
    SQLiteStore,
    TaskPriority,
    created,
)
from referralkit.events import Event
from referralkit.lifecycle import ACTIVE_STATES
from referralkit.routing import Action, Condition, Rule, RuleSet, default_rules, evaluate

S = ReferralStatus
P = Priority
A = AuthorizationStatus
NOW = START + timedelta(days=3, hours=5)
STATUSES = list(S)
PRIORITIES = list(P)
SPECIALTIES = ["cardiology", "dermatology", "neurology", "orthopedics", "oncology"]
PAYERS = ["acme health", "blue plan", "medicare"]
FLAGS = ["urgent", "asked_for_person", "referrer_complaint", "interpreter", "vip"]


# -- Part 1: 100 rules ---------------------------------------------------------------------


def _rule_params(i: int) -> dict[str, Any]:
    """The condition of rule *i*: ten shapes, ten variants each (deterministic)."""
    shape = i % 10
    pick = i // 10
    statuses = frozenset({STATUSES[pick % 13], STATUSES[(pick + 3) % 13], S.RECEIVED})
    priorities = frozenset({PRIORITIES[pick % 4], PRIORITIES[(pick + 1) % 4]})
    specialties = frozenset({SPECIALTIES[pick % 5], SPECIALTIES[(pick + 2) % 5]})
    if shape == 0:
        return {"status": statuses, "priority": priorities}
    if shape == 1:
        return {"status": statuses, "specialty": specialties}
    if shape == 2:
        return {"priority": priorities, "payer": frozenset({PAYERS[pick % 3]})}
    if shape == 3:
        return {"flags_any": frozenset({FLAGS[pick % 5], FLAGS[(pick + 1) % 5]})}
    if shape == 4:
        return {"status": statuses, "flags_none": frozenset({FLAGS[pick % 5]})}
    if shape == 5:
        return {"authorization": frozenset({list(A)[pick % 8], A.NOT_REQUIRED})}
    if shape == 6:
        return {"status": statuses, "min_no_shows": pick % 3}
    if shape == 7:
        return {"status": statuses, "min_attempts": pick % 4}
    if shape == 8:
        return {"status": statuses, "in_state_for_hours": 6 * (pick + 1)}
    return {"priority": priorities, "specialty": specialties, "status": statuses}


def _hundred_rules() -> RuleSet:
    rules = []
    for i in range(100):
        params = _rule_params(i)
        hours = params.pop("in_state_for_hours", None)
        if hours is not None:
            params["in_state_for"] = f"{hours}h"
        rules.append(
            Rule(
                id=f"r{i:03d}",
                description=f"benchmark rule {i}",
                when=Condition(**params),
                then=(Action.open_task("scheduling", "t", due="1h", priority=TaskPriority.LOW),),
            )
        )
    return RuleSet(rules, source="<bench>")


def _hand_written() -> Callable[[Referral, Sequence[Event], datetime], list[int]]:
    """Return the baseline: 100 unrolled ``if`` checks over values computed once."""
    namespace: dict[str, Any] = {"timedelta": timedelta}
    lines = [
        "def hand(r, events, now):",
        "    status = r.status",
        "    priority = r.priority",
        "    specialty = r.specialty.strip().casefold() if r.specialty else None",
        "    payer = r.coverage.payer_name.strip().casefold() if r.coverage else None",
        "    auth = r.authorization.status",
        "    flags = {f.casefold() for f in r.flags}",
        "    no_shows = sum(1 for a in r.appointments if a.status.value == 'no_show')",
        "    attempts = sum(1 for i in r.interactions if i.direction.value == 'outbound')",
        "    since = None",
        "    for e in reversed(events):",
        "        if e.to_state is status and e.from_state is not status:",
        "            since = e.at",
        "            break",
        "    out = []",
    ]
    for i in range(100):
        params = _rule_params(i)
        checks = []
        for field, value in params.items():
            name = f"c{i}_{field}"
            namespace[name] = value
            if field == "status":
                checks.append(f"status in {name}")
            elif field == "priority":
                checks.append(f"priority in {name}")
            elif field == "specialty":
                checks.append(f"specialty in {name}")
            elif field == "payer":
                checks.append(f"payer in {name}")
            elif field == "authorization":
                checks.append(f"auth in {name}")
            elif field == "flags_any":
                checks.append(f"not flags.isdisjoint({name})")
            elif field == "flags_none":
                checks.append(f"flags.isdisjoint({name})")
            elif field == "min_no_shows":
                checks.append(f"no_shows >= {name}")
            elif field == "min_attempts":
                checks.append(f"attempts >= {name}")
            else:
                checks.append(f"since is not None and now - since >= timedelta(hours={name})")
        lines.append(f"    if {' and '.join(checks)}:")
        lines.append(f"        out.append({i})")
    lines.append("    return out")
    exec(compile("\n".join(lines), "<hand-written baseline>", "exec"), namespace)  # noqa: S102
    hand: Callable[[Referral, Sequence[Event], datetime], list[int]] = namespace["hand"]
    return hand


def bench_hundred_rules(quick: bool) -> float:
    rules = _hundred_rules()
    hand = _hand_written()
    change = created(sample_referral(1), SYSTEM, START)
    referral = change.referral.model_copy(update={"flags": ("vip", "urgent")})
    events = [change.event]
    index = {rule.id: i for i, rule in enumerate(rules.rules)}
    ours = [index[r.id] for r in rules.match(rules.facts(referral, events, NOW))]
    assert ours == hand(referral, events, NOW), "compiled rules and baseline disagree"
    print(f"  100 rules: {len(ours)} match this referral")
    loops = 2_000 if quick else 20_000

    def run_ours() -> None:
        for _ in range(loops):
            rules.match(rules.facts(referral, events, NOW))

    def run_hand() -> None:
        for _ in range(loops):
            hand(referral, events, NOW)

    mine, base = compare(run_ours, run_hand, loops)
    return report("match 100 compiled rules vs 100 hand-written checks", mine, base, goal=3.0)


# -- Part 2: sweep -------------------------------------------------------------------------


def _open_referral(i: int) -> Referral:
    base = sample_referral(i)
    priority = P.ROUTINE if i % 10 else PRIORITIES[i % 4]
    flags = ("asked_for_person",) if i % 17 == 0 else ()
    return base.model_copy(update={"priority": priority, "flags": flags})


def _populate(store: SQLiteStore, count: int) -> None:
    def items() -> Any:
        for i in range(count):
            # Received over four days before NOW: some within SLA, some breached.
            change = created(_open_referral(i), SYSTEM, START + timedelta(minutes=i % 5760))
            yield change.referral, change.event

    store.create_many(items(), batch_size=1000)


def _stream(store: SQLiteStore, page: int) -> Any:
    after = None
    while True:
        batch = store.list_by_status(ACTIVE_STATES, limit=page, after=after)
        if not batch:
            return
        for referral in batch:
            yield referral, store.events(referral.id)
        after = batch[-1].id


def bench_sweep(quick: bool) -> None:
    count = 2_000 if quick else 100_000
    rules = default_rules()
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "sweep.db")
        began = time.perf_counter()
        _populate(store, count)
        print(f"  created {count:,} open referrals in {time.perf_counter() - began:.1f} s")

        def read_only() -> int:
            seen = 0
            for _referral, _events in _stream(store, 1000):
                seen += 1
            assert seen == count
            return seen

        decided = 0

        def sweep() -> int:
            nonlocal decided
            seen = decided = 0
            for referral, events in _stream(store, 1000):
                decided += len(evaluate(referral, events, rules, NOW).decisions)
                seen += 1
            assert seen == count
            return seen

        loaded = list(_stream(store, 1000))

        def evaluate_only() -> None:
            for referral, events in loaded:
                evaluate(referral, events, rules, NOW)

        reads, sweeps, evals = [], [], []
        for round_ in range(MIN_SAMPLES):
            sides = [(read_only, reads), (sweep, sweeps), (evaluate_only, evals)]
            if round_ % 2:
                sides.reverse()
            for fn, into in sides:
                with no_gc():
                    t = time.perf_counter()
                    fn()
                    into.append(time.perf_counter() - t)
        store.close()
    read_s, sweep_s, eval_s = median(reads), median(sweeps), median(evals)
    print(f"  {decided:,} decisions per sweep with the default rules")
    for label, seconds in (
        ("sweep: stream from SQLite + evaluate default rules", sweep_s),
        ("evaluate only (referrals and events in memory)", eval_s),
        ("baseline: stream the same pages and events, no routing", read_s),
    ):
        print(f"{label:<58} {count / seconds:10,.0f} referrals/s")
    report(
        "sweep per referral vs streaming it",
        [t / count for t in sweeps],
        [t / count for t in reads],
    )


def main(quick: bool = False) -> None:
    print("routing benchmarks" + (" (quick)" if quick else ""))
    bench_hundred_rules(quick)
    bench_sweep(quick)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
