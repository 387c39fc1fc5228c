"""Metrics from the event log: funnel, leakage, times, outreach, queues and CMS50.

Every figure is computed from a window's events (see ``docs/metrics.md`` for the precise
definitions), streamed from the store with :meth:`~referralkit.store.Store.iter_events`::

    report = compute_metrics(store, MetricsConfig(since, until), by=("specialty",))
    report.overall.booking_rate, report.as_json()

.. versionadded:: 0.2
"""

from __future__ import annotations

from referralkit.metrics.cms50 import (
    Cms50Audit,
    Cms50Builder,
    Cms50Case,
    Cms50Period,
    Cms50Result,
    cases_from,
    patient_key,
)
from referralkit.metrics.config import DIMENSIONS, Dimension, MetricsConfig
from referralkit.metrics.facts import (
    CONTACT_CHANNELS,
    OPERATION_CHANNELS,
    ReferralFacts,
    TaskFact,
    fold_facts,
)
from referralkit.metrics.report import (
    BOOKING_BUCKETS,
    JSON_SCHEMA_VERSION,
    GroupMetrics,
    MetricsBuilder,
    MetricsReport,
    Progress,
    QueueHealth,
    compute_metrics,
    group_value,
)
from referralkit.metrics.schema import REPORT_JSON_SCHEMA
from referralkit.metrics.stats import (
    RESOLUTION_SECONDS,
    DurationCounts,
    DurationStats,
    nearest_rank,
    quantise,
    summarise_durations,
)

__all__ = [
    "BOOKING_BUCKETS",
    "CONTACT_CHANNELS",
    "DIMENSIONS",
    "JSON_SCHEMA_VERSION",
    "OPERATION_CHANNELS",
    "REPORT_JSON_SCHEMA",
    "RESOLUTION_SECONDS",
    "Cms50Audit",
    "Cms50Builder",
    "Cms50Case",
    "Cms50Period",
    "Cms50Result",
    "Dimension",
    "DurationCounts",
    "DurationStats",
    "GroupMetrics",
    "MetricsBuilder",
    "MetricsConfig",
    "MetricsReport",
    "Progress",
    "QueueHealth",
    "ReferralFacts",
    "TaskFact",
    "cases_from",
    "compute_metrics",
    "fold_facts",
    "group_value",
    "nearest_rank",
    "patient_key",
    "quantise",
    "summarise_durations",
]
