"""Outreach policies as data: cadences of steps per purpose and priority, windows, caps, retries.

A :class:`Policy` is plain, frozen data. Build one in Python, start from
:func:`default_policy`, or load one from TOML with :func:`load_policy` (validated; a bad file
raises :class:`PolicyError` naming the field path, never a patient value).

.. versionadded:: 0.1
"""

from __future__ import annotations

from referralkit.outreach.policy_defaults import default_policy
from referralkit.outreach.policy_toml import load_policy, parse_duration, policy_from_mapping
from referralkit.outreach.policy_types import (
    ACTIONS,
    CONDITIONS,
    DEFAULT_STATE_HOURS,
    MILESTONES,
    PURPOSES,
    Action,
    AuthRules,
    Cadence,
    Condition,
    Exhaustion,
    FrequencyCap,
    Hours,
    Policy,
    PolicyError,
    PracticeUpdates,
    Purpose,
    RecordsRules,
    ReferrerUpdates,
    RetryRule,
    Step,
    WeeklyHours,
    WindowRules,
)
from referralkit.outreach.policy_types import DEFAULT_CAPS as DEFAULT_CAPS
from referralkit.outreach.policy_types import DEFAULT_HOURS as DEFAULT_HOURS

__all__ = [
    "ACTIONS",
    "CONDITIONS",
    "DEFAULT_STATE_HOURS",
    "MILESTONES",
    "PURPOSES",
    "Action",
    "AuthRules",
    "Cadence",
    "Condition",
    "Exhaustion",
    "FrequencyCap",
    "Hours",
    "Policy",
    "PolicyError",
    "PracticeUpdates",
    "Purpose",
    "RecordsRules",
    "ReferrerUpdates",
    "RetryRule",
    "Step",
    "WeeklyHours",
    "WindowRules",
    "default_policy",
    "load_policy",
    "parse_duration",
    "policy_from_mapping",
]
