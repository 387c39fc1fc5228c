"""Properties of the routing engine over any referral, event log and time."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from referralkit.lifecycle import amended
from referralkit.routing import (
    ROUTING_ACTOR,
    evaluate,
    explain,
)
from tests.support.routing_strategies import RULE_SETS, histories, instants


@given(histories(), instants, st.sampled_from(RULE_SETS))
def test_evaluation_never_raises_and_every_task_has_a_queue_and_due_time(history, now, rules):
    referral, events = history
    result = evaluate(referral, events, rules, now)
    keys = [d.key for d in result.decisions]
    assert len(keys) == len(set(keys))
    for decision in result.decisions:
        if decision.kind in ("open_task", "notify") or decision.step is not None:
            assert decision.task is not None or decision.escalate_task_id is not None
        if decision.task is not None:
            assert decision.task.queue in rules.queues.queues
            assert decision.task.due_at.tzinfo is not None
            assert decision.task.rule_id == decision.rule_id
        decision.event_data()


@given(histories(), instants, st.sampled_from(RULE_SETS))
def test_explain_agrees_with_the_compiled_rules(history, now, rules):
    referral, events = history
    matched = {e.rule_id for e in explain(referral, events, rules, now) if e.matched}
    assert matched == {e.rule_id for e in evaluate(referral, events, rules, now).matched}


@given(histories(), instants, st.sampled_from(RULE_SETS))
def test_evaluating_again_after_applying_decides_nothing_new(history, now, rules):
    referral, events = history
    referral = referral.model_copy(update={"version": len(events)})
    first = evaluate(referral, events, rules, now)
    current, log = referral, list(events)
    for decision in first.decisions:
        update = {}
        if decision.task is not None:
            update = {"tasks": (*current.tasks, decision.task)}
        change = amended(
            current,
            "routing_applied",
            actor=ROUTING_ACTOR,
            now=now,
            update=update,
            data=decision.event_data(),
        )
        current = change.referral
        log.append(change.event)
    assert evaluate(current, log, rules, now).decisions == ()


@given(histories(), st.sampled_from(RULE_SETS))
def test_a_naive_or_far_future_instant_does_not_raise(history, rules):
    referral, events = history
    evaluate(referral, events, rules, datetime(2026, 3, 2, 9, 0))  # a naive instant, on purpose
    evaluate(referral, events, rules, datetime(9999, 12, 30, tzinfo=UTC) - timedelta(days=1))
