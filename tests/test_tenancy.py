"""Tenant isolation: a desk for one practice can neither read nor change another's data.

Every test runs on memory, SQLite and PostgreSQL, with two desks bound to tenants ``a`` and
``b`` of one database. The PostgreSQL row-level security tests go further: raw SQL on a
connection bound to one tenant, as the tables' (non-superuser) owner, sees and writes nothing
of the other's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import cast

import pytest
from tenacity import Retrying

from referralkit import (
    DEFAULT_TENANT,
    HumanTask,
    InvalidTenantError,
    ManualClock,
    MemoryStore,
    Patient,
    PhoneContact,
    Referral,
    ReferralDesk,
    ReferralNotFoundError,
    ReferralPackage,
    ReferralStatus,
    SQLiteStore,
    TenantStore,
)
from referralkit.intake import LookupQuery
from referralkit.model import Channel, OutboundStatus
from referralkit.plugins import Hooks
from referralkit.ports import SmsRequest
from referralkit.testing.conformance import CANARY, canary_referral
from tests.support.builders import Actors, complete_referral
from tests.support.pg import DSN, drop_schema, server_or_skip

STORES = ("memory", "sqlite", "postgres")


def _pair(name: str, tmp: Path) -> Iterator[tuple[TenantStore, TenantStore]]:
    """Yield stores for tenants ``a`` and ``b`` on one database, opened independently."""
    if name == "memory":
        a = MemoryStore(tenant="a")
        yield a, a.for_tenant("b")
    elif name == "sqlite":
        first = SQLiteStore(tmp / "shared.db", tenant="a")
        second = SQLiteStore(tmp / "shared.db", tenant="b")
        yield first, second
        first.close()
        second.close()
    else:
        server_or_skip()
        from referralkit.adapters.postgres import PostgresStore

        schema = f"rk_test_{uuid.uuid4().hex[:12]}"
        pa = PostgresStore(DSN, schema=schema, tenant="a")
        pb = PostgresStore(DSN, schema=schema, tenant="b")
        try:
            yield pa, pb
        finally:
            pa.close()
            pb.close()
            drop_schema(schema)


@pytest.fixture(params=STORES)
def desks(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    clock: ManualClock,
    referralkit_hooks: Hooks,
    referralkit_retrying: Retrying,
) -> Iterator[tuple[ReferralDesk, ReferralDesk]]:
    for a, b in _pair(request.param, tmp_path):
        yield (
            ReferralDesk(
                store=a, clock=clock, hooks=referralkit_hooks, retrying=referralkit_retrying
            ),
            ReferralDesk(
                store=b, clock=clock, hooks=referralkit_hooks, retrying=referralkit_retrying
            ),
        )


def _task(clock: ManualClock) -> HumanTask:
    now = clock.now()
    return HumanTask(
        queue="scheduling", title="call back", reason="test", created_at=now, due_at=now
    )


def _stored(desk: ReferralDesk, clock: ManualClock, **overrides: object) -> Referral:
    referral = complete_referral(
        id=uuid.uuid4(),
        referral_number=f"R-{uuid.uuid4().hex[:8].upper()}",
        tasks=(_task(clock),),
        **overrides,
    )
    return desk.create(referral, actor=Actors().intake_staff)


# -- reads ----------------------------------------------------------------------------------


def test_a_desk_reads_only_its_own_tenant(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, b = desks
    mine = _stored(a, clock)
    theirs = _stored(b, clock)
    assert (a.tenant, b.tenant) == ("a", "b")
    assert [r.id for r in a.list()] == [mine.id]
    assert [r.id for r in b.list()] == [theirs.id]
    assert a.store.count_by_status() == {ReferralStatus.RECEIVED: 1}
    assert {e.referral_id for e in a.store.iter_events()} == {mine.id}
    assert [t.referral_id for t in a.tasks()] == [mine.id]
    assert a.queue_counts()["scheduling"].open == 1


def test_another_tenants_referral_is_missing_for_get_history_and_verify(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, b = desks
    theirs = _stored(b, clock)
    with pytest.raises(ReferralNotFoundError):
        a.get(theirs.id)
    with pytest.raises(ReferralNotFoundError):
        a.history(theirs.id)
    assert a.store.events(theirs.id) == []
    assert a.outbox(theirs.id) == {}


def test_a_missing_referral_reads_the_same_whether_or_not_another_tenant_has_it(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, b = desks
    theirs = b.create(
        canary_referral().model_copy(
            update={"id": uuid.uuid4(), "status": ReferralStatus.RECEIVED}
        ),
        actor=Actors().intake_staff,
    )
    nowhere = uuid.uuid4()
    with pytest.raises(ReferralNotFoundError) as elsewhere_error:
        a.get(theirs.id)
    with pytest.raises(ReferralNotFoundError) as nowhere_error:
        a.get(nowhere)
    elsewhere = str(elsewhere_error.value).replace(str(theirs.id), "<id>")
    assert elsewhere == str(nowhere_error.value).replace(str(nowhere), "<id>")
    text = repr(elsewhere_error.value) + elsewhere
    for value in (*CANARY.values(), "tenant", "'b'"):
        assert value not in text
    assert elsewhere_error.value.__cause__ is None


def test_a_referral_number_or_caller_of_another_tenant_finds_nothing(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, b = desks
    theirs = _stored(b, clock)
    assert theirs.patient is not None
    by_number = LookupQuery(referral_number=theirs.referral_number)
    by_caller = LookupQuery(family_name="Patient", birth_date=date(1970, 1, 1))
    assert [r.id for r in b.find_referrals(by_number)] == [theirs.id]
    assert [r.id for r in b.find_referrals(by_caller)] == [theirs.id]
    assert a.find_referrals(by_number) == []
    assert a.find_referrals(by_caller) == []


# -- writes ---------------------------------------------------------------------------------


def test_a_desk_cannot_change_another_tenants_referral_or_tasks(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, b = desks
    theirs = _stored(b, clock)
    actors = Actors()
    with pytest.raises(ReferralNotFoundError):
        a.fire(theirs.id, "accept", actor=actors.clinician)
    with pytest.raises(ReferralNotFoundError):
        a.amend(theirs.id, "flagged", actor=actors.clinician, update={"flags": ("x",)})
    with pytest.raises(ReferralNotFoundError):
        a.claim_task(theirs.id, theirs.tasks[0].id, actor=actors.scheduler)
    with pytest.raises(ReferralNotFoundError):
        a.withdraw_consent(theirs.id, actor=actors.intake_staff)
    assert b.get(theirs.id) == theirs
    assert len(b.history(theirs.id)) == theirs.version


def test_a_desk_cannot_queue_or_send_on_another_tenants_outbox(
    desks: tuple[ReferralDesk, ReferralDesk],
    clock: ManualClock,
    referralkit_outbox: object,
) -> None:
    a, b = desks
    theirs = _stored(b, clock)
    request = SmsRequest.for_referral(
        theirs, action="reminder", attempt=1, template_id="reminder", body="Please call us."
    )
    with pytest.raises(ReferralNotFoundError):
        a.dispatch(request)
    assert referralkit_outbox.telephony.sms == []  # type: ignore[attr-defined]
    assert b.outbox(theirs.id) == {}
    assert b.dispatch(request).status == "sent"
    assert a.outbox(theirs.id) == {}


def test_sweeps_and_leases_stay_in_their_tenant(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, b = desks
    theirs = _stored(b, clock, next_action_at=clock.now(), next_routing_at=clock.now())
    stores = (a.store, b.store)
    assert all(hasattr(s, "claim_due") for s in stores)
    later = clock.now() + timedelta(minutes=1)
    assert a.store.claim_due(later, worker="w-a", lease=timedelta(minutes=5)) == []  # type: ignore[attr-defined]
    assert a.store.due_for_routing(later) == []  # type: ignore[attr-defined]
    (claimed,) = b.store.claim_due(later, worker="w-b", lease=timedelta(minutes=5))  # type: ignore[attr-defined]
    assert claimed.id == theirs.id
    assert a.store.release(theirs.id, worker="w-b") is False  # type: ignore[attr-defined]
    assert a.store.reschedule(theirs, None) is False  # type: ignore[attr-defined]
    assert b.store.release(theirs.id, worker="w-b") is True  # type: ignore[attr-defined]


def test_referrals_a_tenant_sent_are_listed_and_chased_only_in_that_tenant(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, b = desks
    staff = Actors().intake_staff
    theirs = b.referring.draft(Referral(specialty="cardiology"), actor=staff)
    mine = a.referring.draft(Referral(specialty="cardiology"), actor=staff)
    drafts = [OutboundStatus.DRAFT]
    assert [r.id for r in a.store.list_outbound(drafts)] == [mine.id]  # type: ignore[attr-defined]
    assert [r.id for r in b.store.list_outbound(drafts)] == [theirs.id]  # type: ignore[attr-defined]
    assert [r.id for r in a.referring.sent_referrals()] == [mine.id]
    with pytest.raises(ReferralNotFoundError):
        a.referring.prepare_package(theirs.id, ReferralPackage(reason="x"), actor=staff)


def test_duplicates_and_opt_outs_never_cross_tenants(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, b = desks
    in_a = _stored(a, clock)
    in_b = _stored(b, clock)  # the same patient, at another practice
    assert in_a.patient == in_b.patient
    a.withdraw_consent(in_a.id, actor=Actors().intake_staff)
    assert a.get(in_a.id).patient.consent.contact_allowed is False  # type: ignore[union-attr]
    assert b.get(in_b.id).patient.consent.contact_allowed is True  # type: ignore[union-attr]


def test_admin_read_lists_every_tenant(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, b = desks
    _stored(a, clock)
    _stored(b, clock)
    assert isinstance(a.store, TenantStore)
    assert a.store.admin_list_tenants() == ["a", "b"]


# -- binding ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", ["", "a b", "x" * 65, "prac/1", "ü", "a;drop"])
def test_an_unusable_tenant_id_is_refused_without_echoing_it(tenant: str) -> None:
    with pytest.raises(InvalidTenantError) as caught:
        ReferralDesk.open("memory://", tenant=tenant)
    assert tenant not in str(caught.value) or tenant == ""
    assert isinstance(caught.value, ValueError)


def test_a_desk_without_a_tenant_uses_the_default_one(tmp_path: Path) -> None:
    desk = ReferralDesk.open(f"sqlite:///{tmp_path}/one.db")
    try:
        assert desk.tenant == DEFAULT_TENANT == "default"
    finally:
        desk.close()


def test_for_tenant_shares_the_database_but_not_the_rows(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db", tenant="a")
    other = store.for_tenant("b")
    try:
        assert (store.tenant, other.tenant) == ("a", "b")
        patient = Patient(
            given_name="Ana",
            family_name="Ng",
            birth_date=date(1980, 5, 6),
            phones=(PhoneContact(number="+15555550999"),),
        )
        desk = ReferralDesk(store=store)
        made = desk.create(
            complete_referral(id=uuid.uuid4(), patient=patient), actor=Actors().intake_staff
        )
        with pytest.raises(ReferralNotFoundError):
            other.get(made.id)
        assert store.get(made.id) == made
    finally:
        store.close()


# -- PostgreSQL row-level security ----------------------------------------------------------------


@pytest.fixture
def owned_schema() -> Iterator[tuple[str, str]]:
    """A schema owned by a fresh non-superuser role that logs in: (schema, role conninfo)."""
    server_or_skip()
    import psycopg

    name = f"rk_rls_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DSN, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS")
        admin.execute(f"CREATE SCHEMA {name} AUTHORIZATION {name}")
        (database,) = admin.execute("SELECT current_database()").fetchone() or ("test",)
        # The store runs CREATE SCHEMA IF NOT EXISTS, which needs the privilege.
        admin.execute(f'GRANT CREATE ON DATABASE "{database}" TO {name}')
    try:
        yield name, f"{DSN} user={name}"
    finally:
        drop_schema(name)
        with psycopg.connect(DSN, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {name}")
            admin.execute(f"DROP ROLE {name}")


def test_row_level_security_binds_raw_sql_even_for_the_tables_owner(
    owned_schema: tuple[str, str], clock: ManualClock
) -> None:
    import psycopg

    from referralkit.adapters.postgres import PostgresStore

    schema, conninfo = owned_schema
    store_a = PostgresStore(conninfo, schema=schema, tenant="a")
    store_b = store_a.for_tenant("b")
    try:
        mine = _stored(ReferralDesk(store=store_a, clock=clock), clock)
        theirs = _stored(ReferralDesk(store=store_b, clock=clock), clock)
    finally:
        store_a.close()
    tables = ("referrals", "events", "tasks", "patient_index")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        # No tenant bound: the policies show nothing at all.
        for table in tables:
            row = conn.execute(f"SELECT count(*) FROM referralkit_{table}").fetchone()
            assert row == (0,), table
        with conn.transaction():
            conn.execute("SELECT set_config('referralkit.tenant', 'a', true)")
            ids = conn.execute("SELECT id FROM referralkit_referrals").fetchall()
            assert ids == [(mine.id,)]
            for table in ("events", "tasks", "patient_index"):
                tenants = conn.execute(
                    f"SELECT DISTINCT tenant FROM referralkit_{table}"
                ).fetchall()
                assert tenants == [("a",)], table
            # Writes to the other tenant's rows touch nothing, even naming them outright.
            changed = conn.execute(
                "UPDATE referralkit_referrals SET status = 'cancelled' WHERE id = %s",
                (theirs.id,),
            ).rowcount
            deleted = conn.execute(
                "DELETE FROM referralkit_events WHERE referral_id = %s", (theirs.id,)
            ).rowcount
            assert (changed, deleted) == (0, 0)
        # Nor can a row be written into, or moved to, the other tenant.
        for statement, params in (
            (
                "INSERT INTO referralkit_events (referral_id, seq, body, tenant)"
                " VALUES (%s, 99, '{}', 'b')",
                (theirs.id,),
            ),
            ("UPDATE referralkit_referrals SET tenant = 'b' WHERE id = %s", (mine.id,)),
        ):
            with conn.transaction():
                conn.execute("SELECT set_config('referralkit.tenant', 'a', true)")
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute(statement, params)
    reopened = PostgresStore(conninfo, schema=schema, tenant="b")
    try:
        assert reopened.get(theirs.id) == theirs
        assert len(reopened.events(theirs.id)) == theirs.version
    finally:
        reopened.close()


def test_the_tenant_setting_ends_with_each_transaction(
    owned_schema: tuple[str, str], clock: ManualClock
) -> None:
    from referralkit.adapters.postgres import PostgresStore

    schema, conninfo = owned_schema
    store = PostgresStore(conninfo, schema=schema, tenant="a")
    try:
        _stored(ReferralDesk(store=store, clock=clock), clock)
        # The store's own connection, between transactions: no tenant is left bound.
        left = store._conn.execute("SELECT current_setting('referralkit.tenant', true)").fetchone()
        assert left in ((None,), ("",))
    finally:
        store.close()


# -- migration --------------------------------------------------------------------------------


def test_sqlite_rows_written_before_tenants_belong_to_the_default_tenant(tmp_path: Path) -> None:
    import sqlite3

    from tests.support.schema import undo_sqlite_tenants

    path = tmp_path / "old.db"
    old = SQLiteStore(path)
    made = ReferralDesk(store=old).create(
        complete_referral(id=uuid.uuid4(), referral_number="R-OLD-1"),
        actor=Actors().intake_staff,
    )
    old.close()
    with sqlite3.connect(path) as conn:
        undo_sqlite_tenants(conn)
    conn.close()
    desk = ReferralDesk(store=SQLiteStore(path))
    try:
        assert desk.get(made.id) == made
        assert [r.id for r in desk.find_referrals(LookupQuery(referral_number="rold1"))] == [
            made.id
        ]
        assert desk.store.admin_list_tenants() == [DEFAULT_TENANT]  # type: ignore[attr-defined]
        with pytest.raises(ReferralNotFoundError):
            desk.store.for_tenant("other").get(made.id)  # type: ignore[attr-defined]
    finally:
        desk.close()


def test_postgres_rows_written_before_tenants_belong_to_the_default_tenant() -> None:
    server_or_skip()
    import psycopg

    from referralkit.adapters.postgres import PostgresStore
    from tests.support.schema import undo_postgres_tenants

    schema = f"rk_test_{uuid.uuid4().hex[:12]}"
    try:
        old = PostgresStore(DSN, schema=schema)
        made = ReferralDesk(store=old).create(
            complete_referral(id=uuid.uuid4(), referral_number="R-OLD-2"),
            actor=Actors().intake_staff,
        )
        old.close()
        with psycopg.connect(DSN, autocommit=True) as conn:
            undo_postgres_tenants(conn, schema)
        desk = ReferralDesk(store=PostgresStore(DSN, schema=schema))
        try:
            assert desk.get(made.id) == made
            found = desk.find_referrals(
                LookupQuery(family_name="patient", birth_date=date(1970, 1, 1))
            )
            assert [r.id for r in found] == [made.id]
            other = desk.store.for_tenant("x")  # type: ignore[attr-defined]
            assert other.list_by_status(list(ReferralStatus)) == []
        finally:
            desk.close()
    finally:
        drop_schema(schema)


def test_opt_out_by_channel_reaches_the_same_patients_other_open_referral(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, _ = desks
    first = _stored(a, clock)
    second = _stored(a, clock, specialty="dermatology")
    a.withdraw_consent(first.id, Channel.SMS, actor=Actors().intake_staff)
    consent = a.get(second.id).patient.consent  # type: ignore[union-attr]
    assert Channel.SMS in consent.opted_out_channels


def test_desk_for_tenant_keeps_the_configuration_and_works_only_that_tenant(
    desks: tuple[ReferralDesk, ReferralDesk], clock: ManualClock
) -> None:
    a, _ = desks
    a.task_due = timedelta(hours=1)
    mine = _stored(a, clock)  # the base desk composed its services before for_tenant
    b = a.for_tenant("b")
    assert (a.tenant, b.tenant) == ("a", "b")
    assert (b.clock, b.hooks, b.retrying, b.task_due) == (a.clock, a.hooks, a.retrying, a.task_due)
    theirs = _stored(b, clock)
    # Each desk's services write and read only their own tenant, in both directions.
    assert [r.id for r in a.list()] == [mine.id]
    assert [r.id for r in b.list()] == [theirs.id]
    with pytest.raises(ReferralNotFoundError):
        b.fire(mine.id, "accept", actor=Actors().clinician)
    with pytest.raises(ReferralNotFoundError):
        a.fire(theirs.id, "accept", actor=Actors().clinician)
    assert b.fire(theirs.id, "accept", actor=Actors().clinician).version == 2
    assert a.get(mine.id).version == 1


def test_desk_for_tenant_needs_a_store_bound_to_tenants() -> None:
    from referralkit.store import Store

    class Untenanted:
        """A store without tenants: only what the check reads."""

    desk = ReferralDesk(store=MemoryStore())
    desk.store = cast(Store, Untenanted())
    with pytest.raises(TypeError, match="not bound to tenants"):
        desk.for_tenant("b")
    with pytest.raises(InvalidTenantError):
        ReferralDesk(store=MemoryStore()).for_tenant("no spaces")
