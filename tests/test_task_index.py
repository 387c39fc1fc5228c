"""The task index every store keeps: work lists, paging, filters, counts; same transaction."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from referralkit import ReferralStatus
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.errors import ConflictError
from referralkit.lifecycle import amended, created, shared_lifecycle
from referralkit.model import Actor, ActorKind, HumanTask, Referral, Role, TaskPriority, TaskStatus
from referralkit.store import Store
from referralkit.tasks import QueueCounts, TaskIndex, TaskQuery
from tests.support.builders import complete_referral
from tests.support.pg import STORE_FACTORIES, open_store_for
from tests.support.schema import undo_postgres_tenants, undo_sqlite_tenants

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
STAFF = Actor(kind=ActorKind.HUMAN, id="staff", role=Role.SCHEDULER)


@pytest.fixture(params=list(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from open_store_for(request.param, tmp_path)


def _task(queue: str, *, due: float, priority=TaskPriority.NORMAL, **fields) -> HumanTask:
    return HumanTask(
        queue=queue,
        title=f"{queue} task",
        reason="test",
        priority=priority,
        created_at=NOW - timedelta(hours=1),
        due_at=NOW + timedelta(hours=due),
        **fields,
    )


def _add(store: Store, *tasks: HumanTask, status=ReferralStatus.RECEIVED) -> Referral:
    change = created(complete_referral(id=uuid.uuid4(), status=status), STAFF, NOW)
    store.create(change.referral, change.event)
    if not tasks:
        return change.referral
    step = amended(change.referral, "task_opened", actor=STAFF, now=NOW, update={"tasks": tasks})
    store.save(step.referral, step.event, expected_version=1)
    return step.referral


def _ids(rows) -> list[uuid.UUID]:
    return [r.task_id for r in rows]


def test_store_keeps_a_task_index(store: Store) -> None:
    assert isinstance(store, TaskIndex)


def test_work_list_orders_by_urgency_then_due_time(store: Store) -> None:
    a = _task("scheduling", due=5)
    b = _task("scheduling", due=1)
    c = _task("scheduling", due=9, priority=TaskPriority.URGENT)
    d = _task("scheduling", due=0.5, priority=TaskPriority.LOW)
    e = _task("records", due=0)
    _add(store, a, e)
    _add(store, b, c, d)
    rows = store.tasks(TaskQuery(queue="scheduling"))  # type: ignore[attr-defined]
    assert _ids(rows) == [c.id, b.id, a.id, d.id]
    row = rows[0]
    assert (row.queue, row.status, row.priority, row.due_at) == (
        "scheduling",
        TaskStatus.OPEN,
        TaskPriority.URGENT,
        c.due_at,
    )


def test_keyset_pages_cover_the_queue_once(store: Store) -> None:
    tasks = [_task("scheduling", due=i % 4, priority=list(TaskPriority)[i % 4]) for i in range(13)]
    for i in range(0, 13, 3):
        _add(store, *tasks[i : i + 3])
    everything = _ids(store.tasks(TaskQuery(queue="scheduling", limit=100)))  # type: ignore[attr-defined]
    paged: list[uuid.UUID] = []
    after = None
    while True:
        page = store.tasks(TaskQuery(queue="scheduling", limit=4, after=after))  # type: ignore[attr-defined]
        paged.extend(_ids(page))
        if len(page) < 4:
            break
        after = page[-1].cursor
    assert paged == everything
    assert sorted(paged) == sorted(t.id for t in tasks)


def test_filters_status_assignee_due_and_priority(store: Store) -> None:
    mine = _task("scheduling", due=1, status=TaskStatus.CLAIMED, assignee="alice")
    done = _task("scheduling", due=1, status=TaskStatus.DONE)
    late = _task("scheduling", due=-2, priority=TaskPriority.HIGH)
    _add(store, mine, done, late)
    q = store.tasks  # type: ignore[attr-defined]
    assert set(_ids(q(TaskQuery(queue="scheduling")))) == {mine.id, late.id}
    assert _ids(q(TaskQuery(statuses=(TaskStatus.DONE,)))) == [done.id]
    assert _ids(q(TaskQuery(assignee="alice", statuses=(TaskStatus.CLAIMED,)))) == [mine.id]
    assert _ids(q(TaskQuery(due_before=NOW))) == [late.id]
    assert _ids(q(TaskQuery(priority=TaskPriority.HIGH))) == [late.id]
    assert q(TaskQuery(queue="records")) == []


def test_index_follows_every_save(store: Store) -> None:
    task = _task("scheduling", due=1)
    referral = _add(store, task)
    claimed = task.model_copy(update={"status": TaskStatus.CLAIMED, "assignee": "bob"})
    step = amended(referral, "task_claimed", actor=STAFF, now=NOW, update={"tasks": (claimed,)})
    store.save(step.referral, step.event, expected_version=referral.version)
    (row,) = store.tasks(TaskQuery(queue="scheduling"))  # type: ignore[attr-defined]
    assert (row.status, row.assignee) == (TaskStatus.CLAIMED, "bob")


def test_a_refused_save_leaves_the_index_unchanged(store: Store) -> None:
    task = _task("scheduling", due=1)
    referral = _add(store, task)
    moved = task.model_copy(update={"queue": "records"})
    step = amended(referral, "task_reassigned", actor=STAFF, now=NOW, update={"tasks": (moved,)})
    other = amended(referral, "note_added", actor=STAFF, now=NOW, update={})
    store.save(other.referral, other.event, expected_version=referral.version)  # wins the race
    with pytest.raises(ConflictError):
        store.save(step.referral, step.event, expected_version=referral.version)
    assert _ids(store.tasks(TaskQuery(queue="scheduling"))) == [task.id]  # type: ignore[attr-defined]
    assert store.tasks(TaskQuery(queue="records")) == []  # type: ignore[attr-defined]


def test_saves_that_keep_the_tasks_keep_their_rows(store: Store) -> None:
    task = _task("scheduling", due=1)
    referral = _add(store, task)
    for kind in ("note_added", "interaction_logged"):
        step = amended(referral, kind, actor=STAFF, now=NOW, update={})
        store.save(step.referral, step.event, expected_version=referral.version)
        referral = step.referral
    assert _ids(store.tasks(TaskQuery(queue="scheduling"))) == [task.id]  # type: ignore[attr-defined]


def test_a_referral_entered_in_error_leaves_the_index_with_its_tasks_as_they_were(
    store: Store,
) -> None:
    referral = _add(store, _task("scheduling", due=1))
    step = shared_lifecycle().fire(
        referral, "mark_error", actor=STAFF, now=NOW, data={"reason": "duplicate"}
    )
    assert step.referral.tasks is referral.tasks  # the same tasks: only the status says void
    store.save(step.referral, step.event, expected_version=referral.version)
    assert store.tasks(TaskQuery(queue="scheduling")) == []  # type: ignore[attr-defined]


def test_a_store_reindexes_tasks_of_a_version_another_process_wrote(tmp_path: Path) -> None:
    # Two processes on one file: saves skip the task index only for the version this store
    # wrote; here the other store's version dropped the task and this one's brings it back.
    path = tmp_path / "two.db"
    first, second = SQLiteStore(path), SQLiteStore(path)
    task = _task("scheduling", due=1)
    referral = _add(first, task)
    dropped = amended(referral, "task_cancelled", actor=STAFF, now=NOW, update={"tasks": ()})
    second.save(dropped.referral, dropped.event, expected_version=referral.version)
    back = amended(
        first.get(referral.id), "task_opened", actor=STAFF, now=NOW, update={"tasks": (task,)}
    )
    first.save(back.referral, back.event, expected_version=dropped.referral.version)
    for store in (first, second):
        assert _ids(store.tasks(TaskQuery(queue="scheduling"))) == [task.id]
    first.close()
    second.close()


def test_referrals_without_tasks_add_no_rows(store: Store) -> None:
    for _ in range(5):
        _add(store)
    assert store.tasks(TaskQuery()) == []  # type: ignore[attr-defined]
    assert store.queue_counts(NOW, NOW + timedelta(hours=10)) == {}  # type: ignore[attr-defined]


def test_create_many_indexes_tasks(store: Store) -> None:
    items = []
    tasks = []
    for _ in range(3):
        task = _task("records", due=2)
        tasks.append(task)
        change = created(complete_referral(id=uuid.uuid4(), tasks=(task,)), STAFF, NOW)
        items.append((change.referral, change.event))
    store.create_many(items, batch_size=2)
    assert sorted(_ids(store.tasks(TaskQuery(queue="records")))) == sorted(t.id for t in tasks)  # type: ignore[attr-defined]


def test_queue_counts(store: Store) -> None:
    _add(
        store,
        _task("scheduling", due=-1),  # overdue
        _task("scheduling", due=2),  # due today
        _task("scheduling", due=30),  # later
        _task("scheduling", due=1, status=TaskStatus.DONE),  # not counted
        _task("records", due=3, status=TaskStatus.CLAIMED, assignee="x"),
    )
    counts = store.queue_counts(NOW, NOW + timedelta(hours=10))  # type: ignore[attr-defined]
    assert counts == {
        "records": QueueCounts("records", 1, 0, 1, NOW - timedelta(hours=1)),
        "scheduling": QueueCounts("scheduling", 3, 1, 1, NOW - timedelta(hours=1)),
    }


def test_sqlite_migration_backfills_the_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = SQLiteStore(path)
    task = _task("scheduling", due=1, priority=TaskPriority.HIGH)
    _add(store, task)
    store.close()
    with sqlite3.connect(path) as conn:  # roll back to the schema before the task index
        undo_sqlite_tenants(conn)
        conn.execute("DROP TABLE tasks")
        conn.execute("ALTER TABLE referrals DROP COLUMN seal_key")  # a later migration's
        conn.execute("ALTER TABLE referrals DROP COLUMN seal")
        conn.execute("DROP INDEX referrals_next_routing")
        conn.execute("ALTER TABLE referrals DROP COLUMN next_routing_at")
        conn.execute("UPDATE referralkit_schema SET version = 2")
    conn.close()
    reopened = SQLiteStore(path)
    try:
        (row,) = reopened.tasks(TaskQuery(queue="scheduling"))
        assert (row.task_id, row.priority, row.due_at) == (task.id, TaskPriority.HIGH, task.due_at)
    finally:
        reopened.close()


def test_postgres_migration_backfills_the_index() -> None:
    from tests.support.pg import DSN, drop_schema, server_or_skip

    server_or_skip()
    import psycopg

    from referralkit.adapters.postgres import PostgresStore

    schema = f"rk_test_{uuid.uuid4().hex[:12]}"
    try:
        store = PostgresStore(DSN, schema=schema)
        task = _task("scheduling", due=1, priority=TaskPriority.HIGH)
        _add(store, task)
        store.close()
        with psycopg.connect(DSN, autocommit=True) as conn:
            undo_postgres_tenants(conn, schema)
            conn.execute(f"DROP TABLE {schema}.referralkit_tasks")
            conn.execute(  # a later migration's columns
                f"ALTER TABLE {schema}.referralkit_referrals"
                " DROP COLUMN seal_key, DROP COLUMN seal, DROP COLUMN next_routing_at"
            )
            conn.execute(f"UPDATE {schema}.referralkit_schema SET version = 2")
        reopened = PostgresStore(DSN, schema=schema)
        (row,) = reopened.tasks(TaskQuery(queue="scheduling"))
        assert (row.task_id, row.priority, row.due_at) == (task.id, TaskPriority.HIGH, task.due_at)
        reopened.close()
    finally:
        drop_schema(schema)
