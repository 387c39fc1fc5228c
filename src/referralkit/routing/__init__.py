"""Routing: rules that send what stays human to a named queue, with a due time and a reason.

A domain module: it imports the model, the lifecycle and the event log, never the desk,
plugins or adapters. :func:`evaluate` and :func:`explain` are pure; the desk applies decisions.

Modules: :mod:`~referralkit.routing.rules` (rules as data), :mod:`~referralkit.routing.ruleset`
(validated and compiled),
:mod:`~referralkit.routing.loader` (TOML, :class:`RuleRegistry`),
:mod:`~referralkit.routing.queues`, :mod:`~referralkit.routing.calendar`,
:mod:`~referralkit.routing.sla`, :mod:`~referralkit.routing.defaults`,
:mod:`~referralkit.routing.due` (when a referral is next due for routing),
:mod:`~referralkit.routing.engine` (with :mod:`~referralkit.routing.decisions`, the decision
and report types, and :mod:`~referralkit.routing.decider`, which turns rule actions into them).

.. versionadded:: 0.1
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from referralkit._lazy import exports

if TYPE_CHECKING:  # the names as type checkers see them; at run time, __getattr__
    from referralkit.routing.calendar import (
        BusinessCalendar,
        UsBusinessCalendar,
        add_business_days,
        business_days_between,
    )
    from referralkit.routing.defaults import DEFAULT_RULES, default_rules
    from referralkit.routing.due import (
        ROUTED_STATES,
        TIME_DRIVEN_CONDITIONS,
        next_routing_at,
        time_thresholds,
    )
    from referralkit.routing.engine import (
        CheckResult,
        RoutingDecision,
        RoutingReport,
        RoutingResult,
        RoutingSweepReport,
        RuleExplanation,
        evaluate,
        explain,
        suggested_decision,
        task_id_for,
    )
    from referralkit.routing.facts import ROUTING_EVENT_PREFIX, Facts
    from referralkit.routing.loader import RuleRegistry, load_path, load_toml
    from referralkit.routing.queues import (
        CALL_TYPES,
        DEFAULT_HANDOFFS,
        DEFAULT_QUEUES,
        CallType,
        Queue,
        QueueConfig,
    )
    from referralkit.routing.rules import (
        ROUTING_ACTOR,
        Action,
        AutoAcceptPolicy,
        Condition,
        EventAge,
        Rule,
        SlaDue,
    )
    from referralkit.routing.ruleset import RuleSet
    from referralkit.routing.sla import (
        DEFAULT_SLA,
        LADDER,
        ClockState,
        Duration,
        SlaPolicy,
        SlaTargets,
        clock_state,
    )

# Each name is imported when first used, so importing one module of the package (as a
# store or the desk does) does not import all of it.
__getattr__ = exports(
    __name__,
    {
        "Action": "referralkit.routing.rules",
        "AutoAcceptPolicy": "referralkit.routing.rules",
        "BusinessCalendar": "referralkit.routing.calendar",
        "CALL_TYPES": "referralkit.routing.queues",
        "CallType": "referralkit.routing.queues",
        "CheckResult": "referralkit.routing.engine",
        "ClockState": "referralkit.routing.sla",
        "Condition": "referralkit.routing.rules",
        "DEFAULT_HANDOFFS": "referralkit.routing.queues",
        "DEFAULT_QUEUES": "referralkit.routing.queues",
        "DEFAULT_RULES": "referralkit.routing.defaults",
        "DEFAULT_SLA": "referralkit.routing.sla",
        "Duration": "referralkit.routing.sla",
        "EventAge": "referralkit.routing.rules",
        "Facts": "referralkit.routing.facts",
        "LADDER": "referralkit.routing.sla",
        "Queue": "referralkit.routing.queues",
        "QueueConfig": "referralkit.routing.queues",
        "ROUTED_STATES": "referralkit.routing.due",
        "ROUTING_ACTOR": "referralkit.routing.rules",
        "ROUTING_EVENT_PREFIX": "referralkit.routing.facts",
        "RoutingDecision": "referralkit.routing.engine",
        "RoutingReport": "referralkit.routing.engine",
        "RoutingResult": "referralkit.routing.engine",
        "RoutingSweepReport": "referralkit.routing.engine",
        "Rule": "referralkit.routing.rules",
        "RuleExplanation": "referralkit.routing.engine",
        "RuleRegistry": "referralkit.routing.loader",
        "RuleSet": "referralkit.routing.ruleset",
        "SlaDue": "referralkit.routing.rules",
        "SlaPolicy": "referralkit.routing.sla",
        "SlaTargets": "referralkit.routing.sla",
        "TIME_DRIVEN_CONDITIONS": "referralkit.routing.due",
        "UsBusinessCalendar": "referralkit.routing.calendar",
        "add_business_days": "referralkit.routing.calendar",
        "business_days_between": "referralkit.routing.calendar",
        "clock_state": "referralkit.routing.sla",
        "default_rules": "referralkit.routing.defaults",
        "evaluate": "referralkit.routing.engine",
        "explain": "referralkit.routing.engine",
        "load_path": "referralkit.routing.loader",
        "load_toml": "referralkit.routing.loader",
        "next_routing_at": "referralkit.routing.due",
        "suggested_decision": "referralkit.routing.engine",
        "task_id_for": "referralkit.routing.engine",
        "time_thresholds": "referralkit.routing.due",
    },
)

__all__ = [
    "CALL_TYPES",
    "DEFAULT_HANDOFFS",
    "DEFAULT_QUEUES",
    "DEFAULT_RULES",
    "DEFAULT_SLA",
    "LADDER",
    "ROUTED_STATES",
    "ROUTING_ACTOR",
    "ROUTING_EVENT_PREFIX",
    "TIME_DRIVEN_CONDITIONS",
    "Action",
    "AutoAcceptPolicy",
    "BusinessCalendar",
    "CallType",
    "CheckResult",
    "ClockState",
    "Condition",
    "Duration",
    "EventAge",
    "Facts",
    "Queue",
    "QueueConfig",
    "RoutingDecision",
    "RoutingReport",
    "RoutingResult",
    "RoutingSweepReport",
    "Rule",
    "RuleExplanation",
    "RuleRegistry",
    "RuleSet",
    "SlaDue",
    "SlaPolicy",
    "SlaTargets",
    "UsBusinessCalendar",
    "add_business_days",
    "business_days_between",
    "clock_state",
    "default_rules",
    "evaluate",
    "explain",
    "load_path",
    "load_toml",
    "next_routing_at",
    "suggested_decision",
    "task_id_for",
    "time_thresholds",
]
