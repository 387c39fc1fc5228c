"""Per-turn latency of a call through the AI-agent tool layer, vs ``IntakeSession`` directly.

Ours: ``CallTools.invoke("record_turn", ...)``: the role guard, the arguments checked against
the call type's tool schema (pydantic), the turn applied, the next question worded for the
caller and any read-back spelled out, and a JSON-compatible result built.

Baseline, measured in the same run: ``IntakeSession.update()`` of the same values, which
validates and normalises them and computes the next question. Goal: ratio <= 1.2x.

Both sides replay the same scripted turns over fresh calls (distinct names, birth dates and
phone numbers), interleaved round by round so machine load hits both alike; the figure is the
ratio of median turns (a loaded machine's pauses land in a few turns and move the mean).
Figure 2 is the p99 of a single turn on a 30-field call type (``new_referral`` configured to
require 30 fields, captured three fields a turn): well under the 50 ms a voice agent can hide.

Run: ``python benchmarks/bench_calls.py [--quick]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from common import no_gc, report

from referralkit import Actor, ActorKind, ReferralDesk, Role
from referralkit.calls import CallTools, ScriptedCaller
from referralkit.clock import ManualClock
from referralkit.intake import CallType, IntakeConfig, IntakeSession
from referralkit.model import (
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralStatus,
)

CLOCK = ManualClock(datetime(2026, 3, 2, 14, tzinfo=UTC))
AGENT = Actor(kind=ActorKind.AI, id="bench-agent", role=Role.INTAKE)
THIRTY: tuple[str, ...] = (
    "patient.given_name",
    "patient.family_name",
    "patient.middle_name",
    "patient.birth_date",
    "patient.phones",
    "patient.email",
    "patient.mrn",
    "patient.address.line1",
    "patient.address.line2",
    "patient.address.city",
    "patient.address.state",
    "patient.address.postal_code",
    "patient.preferred_language",
    "patient.preferred_channel",
    "referring_practice.name",
    "referring_practice.npi",
    "referring_practice.phone",
    "referring_practice.fax",
    "referring_provider.name",
    "referring_provider.npi",
    "receiving_practice.name",
    "receiving_practice.npi",
    "specialty",
    "reason.text",
    "reason.icd10_codes",
    "priority",
    "coverage.payer_name",
    "coverage.member_id",
    "coverage.group_number",
    "coverage.plan_name",
)
THIRTY_CONFIG = IntakeConfig().override("new_referral", required=THIRTY)


def _values(i: int) -> dict[str, Any]:
    born = date(1940, 1, 1) + timedelta(days=(i * 37) % 20000)
    return {
        "patient.given_name": f"Given{i}",
        "patient.family_name": f"Family{i}",
        "patient.middle_name": "Q",
        "patient.birth_date": born.isoformat(),
        "patient.phones": [f"(312) 555-{i % 10000:04d}"],
        "patient.email": f"p{i}@example.org",
        "patient.mrn": f"MRN{i:07d}",
        "patient.address.line1": f"{i} Main St",
        "patient.address.line2": "Apt 2",
        "patient.address.city": "Springfield",
        "patient.address.state": "IL",
        "patient.address.postal_code": "62701",
        "patient.preferred_language": "es",
        "patient.preferred_channel": "sms",
        "referring_practice.name": "Maple Street Family Medicine",
        "referring_practice.npi": "1234567893",
        "referring_practice.phone": "(217) 555-0100",
        "referring_practice.fax": "(217) 555-0101",
        "referring_provider.name": "Dr. Avery Quinn",
        "referring_provider.npi": "1497758544",
        "receiving_practice.name": "Lakeside Cardiology",
        "receiving_practice.npi": "1245319599",
        "specialty": "Cardiology",
        "reason.text": "Irregular heartbeat",
        "reason.icd10_codes": ["I48.91"],
        "priority": "routine",
        "coverage.payer_name": "Prairie Health Plan",
        "coverage.member_id": f"PHP{i:08d}",
        "coverage.group_number": "G-100",
        "coverage.plan_name": "Gold",
    }


def _turns(values: dict[str, Any], per_turn: int) -> list[dict[str, Any]]:
    # Fields in the order the spec asks for them, a few a turn, as a caller answers.
    paths = [p for p in THIRTY if p in values]
    return [
        {p: values[p] for p in paths[i : i + per_turn]} for i in range(0, len(paths), per_turn)
    ]


def _scripts(n: int, per_turn: int) -> list[list[dict[str, Any]]]:
    return [_turns(_values(i), per_turn) for i in range(n)]


def _baseline_session(config: IntakeConfig) -> IntakeSession:
    # The same session the tool layer holds after start_call: the caller's language and role.
    session = IntakeSession(CallType.NEW_REFERRAL, config, CLOCK, language="en")
    session.update({"caller.role": "patient"})
    return session


def _check(tools: CallTools, scripts: list[list[dict[str, Any]]], config: IntakeConfig) -> None:
    # Outside the timing: every script completes cleanly on both sides.
    for turns in scripts[:20]:
        call = tools.invoke("start_call", {"call_type": "new_referral", "caller_role": "patient"})
        session = _baseline_session(config)
        for values in turns:
            result = tools.invoke("record_turn", {"call_id": call["call_id"], "values": values})
            direct = session.update(values)
            assert not result["issues"], result["issues"]
            assert not direct.issues
        assert result["complete"], result["missing"]
        assert direct.complete


def _round(
    tools: CallTools, scripts: list[list[dict[str, Any]]], config: IntakeConfig
) -> tuple[float, float, list[float], list[float]]:
    """One interleaved round: (ours total, baseline total, ours per turn, baseline per turn)."""
    calls = [
        tools.invoke("start_call", {"call_type": "new_referral", "caller_role": "patient"})[
            "call_id"
        ]
        for _ in scripts
    ]
    sessions = [_baseline_session(config) for _ in scripts]
    base_turns: list[float] = []
    our_turns: list[float] = []
    clock = time.perf_counter
    invoke = tools.invoke
    with no_gc():
        began = clock()
        for session, turns in zip(sessions, scripts, strict=True):
            for values in turns:
                t0 = clock()
                session.update(values)
                base_turns.append(clock() - t0)
        base = clock() - began
    with no_gc():
        began = clock()
        for call_id, turns in zip(calls, scripts, strict=True):
            for values in turns:
                t0 = clock()
                invoke("record_turn", {"call_id": call_id, "values": values})
                our_turns.append(clock() - t0)
        ours = clock() - began
    for call_id in calls:  # keep the runtime's table of open calls small between rounds
        tools._calls.pop(call_id, None)
    return ours, base, our_turns, base_turns


def _measure(
    tools: CallTools, scripts: list[list[dict[str, Any]]], config: IntakeConfig, rounds: int
) -> tuple[float, float, list[float], list[float], list[float], list[float]]:
    """Return mean turns, every turn of both sides, and each round's median turn per side."""
    ours_totals: list[float] = []
    base_totals: list[float] = []
    ours_turns: list[float] = []
    base_turns: list[float] = []
    ours_rounds: list[float] = []
    base_rounds: list[float] = []
    turns = sum(len(s) for s in scripts)
    for _ in range(rounds):
        ours, base, o, b = _round(tools, scripts, config)
        ours_totals.append(ours / turns)
        base_totals.append(base / turns)
        ours_rounds.append(statistics.median(o))
        base_rounds.append(statistics.median(b))
        ours_turns += o
        base_turns += b
    return (
        statistics.median(ours_totals),
        statistics.median(base_totals),
        ours_turns,
        base_turns,
        ours_rounds,
        base_rounds,
    )


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(quick: bool = False) -> dict[str, float]:
    """Run the benchmark, print its figures and return them."""
    n, rounds = (100, 5) if quick else (400, 7)
    desk = ReferralDesk.open("memory://", clock=CLOCK)
    default = IntakeConfig()
    print("calls: one turn through the tool layer vs IntakeSession.update()")
    figures: dict[str, float] = {}
    cases: list[tuple[str, IntakeConfig, int]] = [
        ("new_referral (7 required fields), 2 fields a turn", default, 2),
        ("new_referral configured for 30 fields, 3 fields a turn", THIRTY_CONFIG, 3),
    ]
    for name, config, per_turn in cases:
        tools = CallTools(desk, AGENT, config=config)
        if config is default:
            keep = {p for r in default.spec(CallType.NEW_REFERRAL).required for p in r.paths}
            scripts = [
                _turns({k: v for k, v in _values(i).items() if k in keep}, per_turn)
                for i in range(n)
            ]
        else:
            scripts = _scripts(n, per_turn)
        _check(tools, scripts, config)
        ours, base, our_turns, base_turns, ours_rounds, base_rounds = _measure(
            tools, scripts, config, rounds
        )
        # The figure is the median turn of each interleaved round (both sides replay the same
        # turns; a median is not moved by the pauses a loaded machine puts into a few of them).
        ratio = report(f"  {name}", ours_rounds, base_rounds, goal=1.2)
        print(f"    mean turn: ours {ours * 1e6:.1f} us, baseline {base * 1e6:.1f} us")
        p50, p99, worst = _p(our_turns, 0.5), _p(our_turns, 0.99), max(our_turns)
        print(
            f"    per turn through tools: p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms, "
            f"max {worst * 1e3:.3f} ms over {len(our_turns)} turns (budget 50 ms); "
            f"IntakeSession p99 {_p(base_turns, 0.99) * 1e3:.3f} ms"
        )
        key = "thirty" if config is THIRTY_CONFIG else "seven"
        figures |= {f"{key}_ratio": ratio, f"{key}_p99_ms": p99 * 1e3}
    figures |= _whole_calls(n // 4)
    return figures


def _whole_calls(n: int) -> dict[str, float]:
    """Whole scripted calls through the tool layer: every tool call's latency."""
    desk = ReferralDesk.open("memory://", clock=CLOCK)
    tools = CallTools(desk, AGENT)
    ana = _values(0)
    desk.create(build_referral(ana), actor=AGENT)
    knows = {
        "patient.family_name": ana["patient.family_name"],
        "patient.birth_date": ana["patient.birth_date"],
        "question.topic": "what_to_bring",
    }
    samples: dict[str, list[float]] = {}
    for i in range(n):
        for call_type in ("status_inquiry", "visit_preparation"):
            language = "es" if i % 2 else "en"
            conversation = ScriptedCaller(
                call_type, knows, language=language, caller_role="caregiver"
            ).run(tools)
            for (name, _, _), seconds in zip(
                conversation.tool_calls, conversation.latencies, strict=True
            ):
                samples.setdefault(name, []).append(seconds)
    print(f"  whole scripted calls (status, visit preparation; {2 * n} calls), per tool call:")
    for name, values in samples.items():
        print(
            f"    {name:<18} p50 {_p(values, 0.5) * 1e3:7.3f} ms   "
            f"p99 {_p(values, 0.99) * 1e3:7.3f} ms   ({len(values)} calls)"
        )
    return {f"{name}_p99_ms": _p(v, 0.99) * 1e3 for name, v in samples.items()}


def build_referral(values: dict[str, Any]) -> Referral:
    """A received referral for *values*' patient, for the whole-call figures."""
    born = date.fromisoformat(values["patient.birth_date"])
    return Referral(
        status=ReferralStatus.RECEIVED,
        patient=Patient(
            given_name=values["patient.given_name"],
            family_name=values["patient.family_name"],
            birth_date=born,
            phones=(PhoneContact(number="+13125550000"),),
        ),
        referring_practice=Practice(name="Maple Street Family Medicine"),
        specialty="Cardiology",
        reason=ReasonForReferral(text="Irregular heartbeat"),
    )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
