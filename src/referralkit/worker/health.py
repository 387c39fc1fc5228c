"""Health and lag figures for monitoring a deployment's workers (PHI-free).

.. versionadded:: 0.4
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from referralkit.outreach.ledger import read_ledger
from referralkit.store import Backlog, Store, TenantStore, WorkerStore
from referralkit.tenancy import DEFAULT_TENANT
from referralkit.worker.units import due_referral_ids

__all__ = ["Health", "admin_fleet_health", "health", "health_by_tenant"]


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


def health_by_tenant(
    store: Store,
    now: datetime,
    *,
    examine: int = 500,
    tenants: Iterable[str] | None = None,
) -> dict[str, Health]:
    """Measure each tenant's backlog at *now* (an admin read: it lists every tenant).

    :param tenants: measure only these; ``None`` measures every tenant the store lists
        (:meth:`~referralkit.store.TenantStore.admin_list_tenants`).
    :returns: one :class:`Health` per tenant, by tenant id; a store without tenants gives
        one entry under :data:`~referralkit.tenancy.DEFAULT_TENANT`.
    :raises TypeError: the store is not a :class:`~referralkit.store.WorkerStore`.

    .. versionadded:: 0.4
    """
    if not isinstance(store, TenantStore):
        return {DEFAULT_TENANT: health(store, now, examine=examine)}
    names = store.admin_list_tenants() if tenants is None else list(tenants)
    return {t: health(store.for_tenant(t), now, examine=examine) for t in names}


def admin_fleet_health(
    store: Store,
    now: datetime,
    *,
    examine: int = 500,
    jobs: Mapping[str, int] | None = None,
) -> Health:
    """Measure the backlog of every tenant together (an admin read across tenants).

    The sum of :func:`health_by_tenant`: due referrals, leases and interrupted sends add up,
    the oldest due time is the oldest of any tenant. The job counts are the fleet's, which
    serves every tenant.

    .. versionadded:: 0.4
    """
    each = list(health_by_tenant(store, now, examine=examine).values())
    oldest = [h.backlog.oldest_due for h in each if h.backlog.oldest_due is not None]
    backlog = Backlog(
        due=sum(h.backlog.due for h in each),
        oldest_due=min(oldest) if oldest else None,
        leases_live=sum(h.backlog.leases_live for h in each),
        leases_expired=sum(h.backlog.leases_expired for h in each),
    )
    return Health(
        at=now,
        backlog=backlog,
        queued_actions=sum(h.queued_actions for h in each),
        examined=sum(h.examined for h in each),
        jobs=dict(jobs or {}),
    )
