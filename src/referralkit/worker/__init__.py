"""Workers: run outreach and routing as jobs on a job engine (procrastinate built in).

The units of work (:mod:`referralkit.worker.units`) and the health figures
(:mod:`referralkit.worker.health`) need nothing but the store; the procrastinate worker
(:mod:`referralkit.worker.engine`) needs the ``worker`` extra and is imported on first use.
See docs/deployment.md.

.. versionadded:: 0.4
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from referralkit.worker.health import Health, admin_fleet_health, health, health_by_tenant
from referralkit.worker.units import (
    RoutingDesk,
    ScheduleReport,
    WorkerDesk,
    due_referral_ids,
    run_dispatch,
    run_routing,
    schedule_due,
)

if TYPE_CHECKING:
    from referralkit.worker.engine import (
        WorkerSettings as WorkerSettings,
    )
    from referralkit.worker.engine import (
        apply_job_schema as apply_job_schema,
    )
    from referralkit.worker.engine import (
        build_app as build_app,
    )
    from referralkit.worker.engine import (
        job_counts as job_counts,
    )
    from referralkit.worker.engine import (
        run_worker as run_worker,
    )

__all__ = [
    "Health",
    "RoutingDesk",
    "ScheduleReport",
    "WorkerDesk",
    "WorkerSettings",
    "admin_fleet_health",
    "apply_job_schema",
    "build_app",
    "due_referral_ids",
    "health",
    "health_by_tenant",
    "job_counts",
    "run_dispatch",
    "run_routing",
    "run_worker",
    "schedule_due",
]

_ENGINE: Final = frozenset(
    {"WorkerSettings", "apply_job_schema", "build_app", "job_counts", "run_worker"}
)

if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        # The engine imports procrastinate (an optional extra): only when asked for.
        if name not in _ENGINE:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module("referralkit.worker.engine"), name)
        globals()[name] = value
        return value
