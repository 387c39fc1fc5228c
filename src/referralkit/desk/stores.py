"""Opening a store from a URL (the desk's composition of concrete store adapters)."""

from __future__ import annotations

from pathlib import Path

from referralkit.adapters.memory import MemoryStore
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.store import Store

__all__ = ["open_store"]


def open_store(url: str) -> Store:
    """Open the store a URL names.

    ``sqlite:///relative.db`` and ``sqlite:////absolute/path.db`` open (or create) a SQLite
    file; ``sqlite://:memory:`` an in-process SQLite database; ``memory://`` a
    :class:`~referralkit.adapters.memory.MemoryStore`; ``postgresql://user@host/db`` a
    :class:`~referralkit.adapters.postgres.PostgresStore` (needs ``referralkit[postgres]``).

    :raises ValueError: the URL's scheme is not supported.
    """
    if url == "memory://":
        return MemoryStore()
    if url.startswith("sqlite://"):
        rest = url.removeprefix("sqlite://")
        if rest == ":memory:":
            return SQLiteStore(":memory:")
        if not rest.startswith("/") or len(rest) < 2:
            raise ValueError("a SQLite URL looks like sqlite:///relative.db or sqlite:////abs.db")
        path = Path(rest[1:])
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteStore(path)
    if url.startswith(("postgresql://", "postgres://")):
        # Imported here: psycopg is an optional extra (referralkit[postgres]).
        from referralkit.adapters.postgres import PostgresStore

        return PostgresStore(url)
    scheme = url.split(":", 1)[0]
    raise ValueError(
        f"unsupported store URL scheme {scheme!r}; use sqlite:///, memory:// or postgresql://"
    )
