"""Opening a store from a URL (the desk's composition of concrete store adapters)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from referralkit.errors import StoreURLError
from referralkit.tenancy import DEFAULT_TENANT, check_tenant

if TYPE_CHECKING:
    from referralkit.store import Store

__all__ = ["open_store"]


def open_store(url: str, *, tenant: str = DEFAULT_TENANT) -> Store:
    """Open the store a URL names, bound to *tenant* (:mod:`referralkit.tenancy`).

    ``sqlite:///relative.db`` and ``sqlite:////absolute/path.db`` open (or create) a SQLite
    file; ``sqlite://:memory:`` an in-process SQLite database; ``memory://`` a
    :class:`~referralkit.adapters.memory.MemoryStore`; ``postgresql://user@host/db`` a
    :class:`~referralkit.adapters.postgres.PostgresStore` (needs ``referralkit[postgres]``).

    :raises StoreURLError: the URL is malformed, its scheme is not supported, or the SQLite
        file's directory cannot be created (a :class:`ValueError` too).
    :raises StoreError: the database cannot be opened or reached.

    :raises InvalidTenantError: *tenant* is not a usable tenant id.

    .. versionchanged:: 0.4 takes *tenant*.

    .. versionchanged:: 0.2
       Raises :class:`~referralkit.errors.StoreURLError` instead of bare ``ValueError`` and
       ``OSError``.
    """
    tenant = check_tenant(tenant)
    # Each store is imported when its scheme is opened: a process uses one.
    if url == "memory://":
        from referralkit.adapters.memory.store import MemoryStore

        return MemoryStore(tenant=tenant)
    if url.startswith("sqlite://"):
        from referralkit.adapters.sqlite import SQLiteStore

        rest = url.removeprefix("sqlite://")
        if rest == ":memory:":
            return SQLiteStore(":memory:", tenant=tenant)
        if not rest.startswith("/") or len(rest) < 2 or "\x00" in rest:
            raise StoreURLError(
                "a SQLite URL looks like sqlite:///relative.db or sqlite:////abs.db"
            )
        path = Path(rest[1:])
        failed = ""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            failed = type(exc).__name__
        if failed:  # raised outside the handler; the path is not repeated
            raise StoreURLError(f"cannot create the SQLite file's directory ({failed})")
        return SQLiteStore(path, tenant=tenant)
    if url.startswith(("postgresql://", "postgres://")):
        # Imported here: psycopg is an optional extra (referralkit[postgres]).
        from referralkit.adapters.postgres import PostgresStore

        return PostgresStore(url, tenant=tenant)
    raise StoreURLError("unsupported store URL scheme; use sqlite:///, memory:// or postgresql://")
