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
