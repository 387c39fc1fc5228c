"""``next_routing_at``: no routing decision ever falls due before the instant it returns."""

from datetime import UTC, timedelta

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from referralkit.events import make_event
from referralkit.lifecycle import amended
from referralkit.model import (
    Appointment,
    Authorization,
    AuthorizationStatus,
    RecordsRequest,
    ReferralStatus,
)
from referralkit.routing import (
    ROUTED_STATES,
    ROUTING_ACTOR,
    TIME_DRIVEN_CONDITIONS,
    Action,
    Condition,
    EventAge,
    Rule,
    RuleSet,
    default_rules,
    evaluate,
    next_routing_at,
    time_thresholds,
)
from referralkit.routing.engine import decisions_due
from referralkit.routing.sla import Duration
from tests.support.routing_strategies import RULE_SETS, histories, instants, referrals

S = ReferralStatus
_MICRO = timedelta(microseconds=1)
STATIC_CONDITIONS = frozenset({
    "status", "priority", "specialty", "payer", "authorization", "call_type", "flags_any",
    "flags_none", "min_no_shows", "min_attempts", "auth_expires_before_appointment",
    "auto_accept",
})  # fmt: skip
"""Condition fields that read only the referral and its events, never the time."""


_near = st.timedeltas(min_value=timedelta(days=-12), max_value=timedelta(days=12))


@st.composite
def near_histories(draw):
    """A referral whose events, visit and authorization expiry lie within days of *now*."""
    now = draw(instants)
    referral = draw(referrals())
    kinds = st.sampled_from(["created", "hold", "resume", "accept", "no_show", "routing_x"])
    # Mostly the states the SLA clocks run in, so clocks start, pause and breach.
    running = [S.RECEIVED, S.ACCEPTED, S.READY_TO_SCHEDULE, S.ON_HOLD, S.SCHEDULED]
    states = st.none() | st.sampled_from(running) | st.sampled_from(ReferralStatus)
    if draw(st.booleans()):
        referral = referral.model_copy(update={"status": draw(st.sampled_from(running))})
    stamps = sorted(now + draw(_near) for _ in range(draw(st.integers(0, 6))))
    events, prev = [], ""
    for seq, at in enumerate(stamps, start=1):
        event = make_event(referral_id=referral.id, seq=seq, at=at, actor=ROUTING_ACTOR,
                           kind=draw(kinds), from_state=draw(states), to_state=draw(states),
                           data={}, prev_hash=prev)  # fmt: skip
        prev = event.hash
        events.append(event)
    update = {}
    if draw(st.booleans()):
        update["appointments"] = (Appointment(start=now + draw(_near)),)
        update["records_requests"] = (RecordsRequest(requested_at=now),)
    if draw(st.booleans()):
        until = (now + draw(_near)).date()
        update["authorization"] = Authorization(
            status=AuthorizationStatus.APPROVED, valid_from=until - timedelta(days=30),
            valid_to=until)  # fmt: skip
    return referral.model_copy(update=update), events, now


def _routed(referral, events, rules, at):
    current, log = referral, list(events)
    for _ in range(3):
        decided = evaluate(current, log, rules, at).decisions
        if not decided:
            break
        for decision in decided:
            update = {"tasks": (*current.tasks, decision.task)} if decision.task else {}
            change = amended(current, "routing_applied", actor=ROUTING_ACTOR, now=at,
                             update=update, data=decision.event_data())  # fmt: skip
            current = change.referral
            log.append(change.event)
    return current, log


def _timed_rules() -> list[RuleSet]:
    # Every time-driven condition, in clock units and business days, on top of the defaults.
    extra = []
    for unit in ("h", "bd"):
        span = Duration(3, unit)
        task = (Action.open_task("scheduling", "t", due="1h"),)
        extra += [
            Rule(id=f"in_state_{unit}", description="d", when=Condition(in_state_for=span),
                 then=task),
            Rule(id=f"since_{unit}", description="d",
                 when=Condition(since_event=EventAge("no_show", str(span))), then=task),
            Rule(id=f"auth_{unit}", description="d", when=Condition(auth_expiring_within=span),
                 then=task),
            Rule(id=f"records_{unit}", description="d",
                 when=Condition(records_pending_within=span), then=task),
        ]  # fmt: skip
    base = default_rules()
    # Each time-driven rule alone too, so no earlier threshold of another rule hides its own.
    alone = [attrs.evolve(base, rules=(rule,)) for rule in extra]
    escalations = [attrs.evolve(base, rules=(r,)) for r in base.rules if r.when.sla_breached]
    return [attrs.evolve(base, rules=(*base.rules, *extra)), *alone, *escalations]


ALL_RULE_SETS = (*RULE_SETS, *_timed_rules())


def test_every_condition_is_classified_as_time_driven_or_not() -> None:
    fields = {f.name for f in attrs.fields(Condition)}
    assert fields == TIME_DRIVEN_CONDITIONS | STATIC_CONDITIONS
    assert not TIME_DRIVEN_CONDITIONS & STATIC_CONDITIONS


@settings(max_examples=400, deadline=None)
@given(
    near_histories(),
    st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)), max_size=4),
    st.sampled_from(ALL_RULE_SETS),
    st.lists(st.floats(min_value=0, max_value=1), max_size=4),
)
def test_no_decision_falls_due_before_next_routing_at(history, offsets, rules, fractions):
    referral, events, now = history
    at = now.astimezone(UTC)
    # As a sweep leaves it: what was due at this instant is applied and recorded, so what
    # falls due later is what time alone brings.
    referral, events = _routed(referral.model_copy(update={"version": len(events)}), events,
                               rules, at)  # fmt: skip
    due = next_routing_at(referral, events, rules, now)
    if referral.status not in ROUTED_STATES:
        assert due is None
        return
    assert due is None or due >= at
    # Probe the instants where something can change: every threshold, either side of it,
    # the returned instant and just before it, and a few arbitrary later ones.
    facts = rules.facts(referral, events, at)
    probes = {at + offset for offset in offsets}
    for rule in rules.rules:
        clocks = [a.clock or "acceptance" for a in rule.then if a.kind == "escalate"]
        for instant in time_thresholds(rule.when, facts, clocks):
            probes.update({instant - _MICRO, instant, instant + _MICRO})
    if due is not None:
        probes.update({due - _MICRO, due})
        probes.update(at + (due - at) * fraction for fraction in fractions)
    for probe in sorted(p for p in probes if p >= at):
        try:
            decided = evaluate(referral, events, rules, probe).decisions
        except OverflowError:
            continue
        if decided:
            assert due is not None
            assert due <= probe, (probe, [d.key for d in decided])


@settings(max_examples=100, deadline=None)
@given(histories(), instants, st.sampled_from(ALL_RULE_SETS))
def test_a_decision_due_at_the_commit_makes_the_referral_due_at_once(history, now, rules):
    referral, events = history
    if referral.status in ROUTED_STATES and evaluate(referral, events, rules, now).decisions:
        assert next_routing_at(referral, events, rules, now) == now.astimezone(UTC)


@settings(max_examples=200, deadline=None)
@given(histories(), instants, st.sampled_from(ALL_RULE_SETS))
def test_decisions_due_agrees_with_evaluate(history, now, rules):
    referral, events = history
    at = now.astimezone(UTC)
    expected = bool(evaluate(referral, events, rules, at).decisions)
    assert decisions_due(rules, rules.facts(referral, events, at)) == expected
