"""Health and lag figures for monitoring a deployment's workers (PHI-free).

.. versionadded:: 0.4
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from referralkit.outreach.ledger import read_ledger
from referralkit.store import Backlog, Store, WorkerStore
from referralkit.worker.units import due_referral_ids

__all__ = ["Health", "health"]


@attrs.frozen
class Health:
    """How far behind the workers are at one instant.

    :ivar at: the instant measured.
    :ivar backlog: due referrals, the oldest due time, live and expired leases.
    :ivar queued_actions: outbound actions recorded ``queued`` without an outcome (interrupted
        sends waiting to be resumed), among the first *examined* due referrals.
    :ivar examined: how many due referrals *queued_actions* looked at (all of them when
        ``examined == backlog.due``).
    :ivar jobs: the job engine's job counts by status (``todo``, ``doing``, ``failed``...),
        empty when not asked for.

    .. versionadded:: 0.4
    """

    at: datetime
    backlog: Backlog
    queued_actions: int
    examined: int
    jobs: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def lag(self) -> timedelta:
        """How long the oldest due referral has waited (zero when nothing is due)."""
        oldest = self.backlog.oldest_due
        return max(self.at - oldest, timedelta(0)) if oldest is not None else timedelta(0)

    def as_dict(self) -> dict[str, Any]:
        """Return the figures as JSON-ready values (for a metrics endpoint or the CLI)."""
        oldest = self.backlog.oldest_due
        return {
            "at": self.at.isoformat(),
            "due_referrals": self.backlog.due,
            "oldest_due": oldest.isoformat() if oldest is not None else None,
            "lag_seconds": self.lag.total_seconds(),
            "leases_live": self.backlog.leases_live,
            "leases_expired": self.backlog.leases_expired,
            "queued_actions": self.queued_actions,
            "queued_actions_examined": self.examined,
            "jobs": dict(self.jobs),
        }


def health(
    store: Store, now: datetime, *, examine: int = 500, jobs: Mapping[str, int] | None = None
) -> Health:
    """Measure the backlog at *now*.

    :param examine: read the outbox of at most this many due referrals (oldest first) to count
        interrupted sends; each costs one read of the referral's events.
    :param jobs: job counts from the engine (:func:`referralkit.worker.engine.job_counts`).
    :raises TypeError: the store is not a :class:`~referralkit.store.WorkerStore`.
    """
    if not isinstance(store, WorkerStore):
        raise TypeError(f"{type(store).__name__} reports no backlog (no backlog())")
    backlog = store.backlog(now)
    queued = examined = 0
    for referral_id in itertools.islice(due_referral_ids(store, now), examine):
        examined += 1
        ledger = read_ledger(store.events(referral_id))
        queued += sum(1 for entry in ledger.entries.values() if entry.status == "queued")
    return Health(
        at=now, backlog=backlog, queued_actions=queued, examined=examined, jobs=dict(jobs or {})
    )
