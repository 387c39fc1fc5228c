"""Tenants: the practice or organisation every stored row belongs to.

A vendor serving many practices from one database gives each practice a tenant id; a store is
bound to one tenant when it is opened, and every read and write it makes is scoped to that
tenant, so a desk for one practice can neither see nor change another's referrals, events,
tasks, leases or outbox. A host with one practice never names a tenant: everything belongs to
:data:`DEFAULT_TENANT`, and databases written before tenants existed are migrated into it.

.. versionadded:: 0.4
"""

from __future__ import annotations

import re
from typing import Final

from referralkit.errors import InvalidTenantError

__all__ = ["DEFAULT_TENANT", "check_tenant"]

DEFAULT_TENANT: Final = "default"
"""The tenant of a single-practice host, and of every row written before tenants existed."""

_TENANT: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")


def check_tenant(tenant: str) -> str:
    """Return *tenant* if it is a usable tenant id (1-64 of ``A-Z a-z 0-9 . _ -``).

    The id goes into every row and, on PostgreSQL, into a session setting; the narrow alphabet
    keeps it safe in both and readable in logs (it names a practice, never a patient).

    :raises InvalidTenantError: it is not.
    """
    # A non-string (an int id from the host's database) is refused too, not coerced.
    if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):  # type: ignore[redundant-expr]
        raise InvalidTenantError
    return tenant
