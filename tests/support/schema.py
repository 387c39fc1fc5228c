"""Roll a store's schema back to before the tenant migration, as an older release wrote it.

Migration tests build a file or schema with the current release, then undo the later
migrations to reach the version they test; this undoes the index of referrals we sent
(schema 7) and the tenant migration (schema 6).
"""

from __future__ import annotations

import sqlite3
from typing import Any

_OLD_SQLITE_INDEXES = (
    "CREATE INDEX referrals_status ON referrals (status, id)",
    "CREATE INDEX referrals_next_action ON referrals (next_action_at, id)"
    " WHERE next_action_at IS NOT NULL",
    "CREATE INDEX referrals_number ON referrals (referral_number)",
    "CREATE INDEX referrals_next_routing ON referrals (next_routing_at, id)"
    " WHERE next_routing_at IS NOT NULL",
    "CREATE INDEX tasks_queue ON tasks (queue, status, urgency, due_at, task_id)",
    "CREATE INDEX tasks_assignee ON tasks (assignee, status, urgency, due_at, task_id)",
)


def undo_sqlite_tenants(conn: sqlite3.Connection) -> None:
    """Take a SQLite file at schema 7 back to schema 5 (no tenants, no patient index)."""
    conn.execute("DROP INDEX referrals_outbound")
    for table in ("patient_index", "meta", "tenants"):
        conn.execute(f"DROP TABLE {table}")
    for index in (
        "events_tenant",
        "referrals_status",
        "referrals_next_action",
        "referrals_number",
        "referrals_next_routing",
        "tasks_queue",
        "tasks_assignee",
    ):
        conn.execute(f"DROP INDEX {index}")
    for statement in _OLD_SQLITE_INDEXES:
        conn.execute(statement)
    for table in ("referrals", "events", "leases", "tasks"):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN tenant")
    conn.execute("UPDATE referralkit_schema SET version = 5")


def undo_postgres_tenants(conn: Any, schema: str) -> None:
    """Take a PostgreSQL schema at schema 7 back to schema 5 (autocommit connection).

    Dropping the tenant column drops the index of referrals we sent with it (schema 7).
    """
    s = schema
    for table in ("patient_index", "meta", "tenants"):
        conn.execute(f"DROP TABLE {s}.referralkit_{table}")
    for table in ("referrals", "events", "leases", "tasks"):
        # CASCADE drops the tenant-led indexes and the row-level security policy with it.
        conn.execute(f"ALTER TABLE {s}.referralkit_{table} DROP COLUMN tenant CASCADE")
        conn.execute(f"ALTER TABLE {s}.referralkit_{table} NO FORCE ROW LEVEL SECURITY")
        conn.execute(f"ALTER TABLE {s}.referralkit_{table} DISABLE ROW LEVEL SECURITY")
    for statement in (
        "CREATE INDEX referralkit_referrals_status ON {s}.referralkit_referrals (status, id)",
        "CREATE INDEX referralkit_referrals_next_action ON {s}.referralkit_referrals"
        " (next_action_at, id) WHERE next_action_at IS NOT NULL",
        "CREATE INDEX referralkit_referrals_number ON {s}.referralkit_referrals (referral_number)",
        "CREATE INDEX referralkit_referrals_next_routing ON {s}.referralkit_referrals"
        " (next_routing_at, id) WHERE next_routing_at IS NOT NULL",
        "CREATE INDEX referralkit_tasks_queue ON {s}.referralkit_tasks"
        " (queue, status, urgency, due_at, task_id)",
        "CREATE INDEX referralkit_tasks_assignee ON {s}.referralkit_tasks"
        " (assignee, status, urgency, due_at, task_id)",
    ):
        conn.execute(statement.format(s=s))
    conn.execute(f"UPDATE {s}.referralkit_schema SET version = 5")
