"""The :class:`ReferralDesk` facade: the one object a host talks to.

The desk composes services that each take what they need in their constructors (the unit of
work, the store, the clock, the hooks), never the desk itself: :class:`UnitOfWork` (the one
commit path), :class:`Outbox` (the only caller of outbound adapters), :class:`Inbound`,
:class:`ConsentService`, :class:`IntakeService`, :class:`RoutingService` and
:class:`OutreachService`. Every public method here is a one-line delegation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from uuid import UUID

import attrs

from referralkit._lazy import lazy
from referralkit.clock import Clock, SystemClock
from referralkit.errors import ReferralKitError
from referralkit.model import (
    CancelReason,
    Channel,
    RecordsChannel,
    RecordsRequestStatus,
    RecordsSource,
    ReferralNumberFormat,
    ReferralStatus,
    TaskPriority,
    TaskStatus,
)
from referralkit.store import TenantStore
from referralkit.tenancy import DEFAULT_TENANT

if TYPE_CHECKING:  # the names as type checkers see them; at run time, see below
    from pydantic import BaseModel
    from tenacity import Retrying

    from referralkit import integrity as _integrity
    from referralkit.desk.authorization import AuthorizationService
    from referralkit.desk.booking import BookingService, booking_step
    from referralkit.desk.closing import LoopService, report_delivered_step, report_failed_step
    from referralkit.desk.consent import ConsentService
    from referralkit.desk.inbound import Inbound
    from referralkit.desk.intake import IntakeService
    from referralkit.desk.outbox import Outbox
    from referralkit.desk.outreach import OutreachService
    from referralkit.desk.records import RecordsService, records_sent_step
    from referralkit.desk.referral_documents import (
        DocumentHints,
        DocumentOutcome,
        ReferralDocumentService,
    )
    from referralkit.desk.referring import ReferringService, package_delivered_step
    from referralkit.desk.routing import RoutingService
    from referralkit.desk.stores import open_store
    from referralkit.desk.unit_of_work import UnitOfWork
    from referralkit.events import Event
    from referralkit.intake import (
        CallType,
        IntakeConfig,
        IntakeOutcome,
        IntakeSession,
        LookupQuery,
        StatusAnswer,
    )
    from referralkit.lifecycle import (
        Change,
        Lifecycle,
        Trigger,
        allowed_triggers,
        shared_lifecycle,
    )
    from referralkit.model import (
        Actor,
        Appointment,
        HumanTask,
        Interaction,
        PhoneE164,
        Referral,
    )
    from referralkit.outbox import (
        DispatchOutcome,
        Invoker,
        RetryPolicy,
    )
    from referralkit.outreach.dispatch import OutreachSettings, SweepReport
    from referralkit.outreach.ledger import OutboxEntry
    from referralkit.plugins import Hooks, make_plugin_manager
    from referralkit.ports import (
        CallOutcome,
        DocumentList,
        DocumentRef,
        DocumentsRequest,
        EventNotice,
        InboundFax,
        IntakeCheck,
        OutboundRequest,
        OutreachTemplate,
        PatientLookupRequest,
        PatientRecord,
        Receipt,
        Slot,
        SmsReply,
    )
    from referralkit.routing import (
        RoutingReport,
        RoutingSweepReport,
        RuleExplanation,
        RuleRegistry,
    )
    from referralkit.store import Store
    from referralkit.tasks import Continuity, QueueCounts, TaskCursor, TaskRow, TaskSweepReport
    from referralkit.tasks.mirror import MirrorReport, MirrorSettings, mirror_work
    from referralkit.tasks.service import TaskService, close_moot_tasks
else:  # what the methods use, imported on first use: opening a desk imports no service
    _integrity = lazy("referralkit.integrity")
    AuthorizationService = lazy("referralkit.desk.authorization", "AuthorizationService")
    BookingService = lazy("referralkit.desk.booking", "BookingService")
    booking_step = lazy("referralkit.desk.booking", "booking_step")
    LoopService = lazy("referralkit.desk.closing", "LoopService")
    report_delivered_step = lazy("referralkit.desk.closing", "report_delivered_step")
    report_failed_step = lazy("referralkit.desk.closing", "report_failed_step")
    ConsentService = lazy("referralkit.desk.consent", "ConsentService")
    Inbound = lazy("referralkit.desk.inbound", "Inbound")
    IntakeService = lazy("referralkit.desk.intake", "IntakeService")
    Outbox = lazy("referralkit.desk.outbox", "Outbox")
    OutreachService = lazy("referralkit.desk.outreach", "OutreachService")
    RecordsService = lazy("referralkit.desk.records", "RecordsService")
    records_sent_step = lazy("referralkit.desk.records", "records_sent_step")
    ReferralDocumentService = lazy(
        "referralkit.desk.referral_documents", "ReferralDocumentService"
    )
    ReferringService = lazy("referralkit.desk.referring", "ReferringService")
    package_delivered_step = lazy("referralkit.desk.referring", "package_delivered_step")
    RoutingService = lazy("referralkit.desk.routing", "RoutingService")
    open_store = lazy("referralkit.desk.stores", "open_store")
    UnitOfWork = lazy("referralkit.desk.unit_of_work", "UnitOfWork")
    Change = lazy("referralkit.lifecycle", "Change")
    allowed_triggers = lazy("referralkit.lifecycle", "allowed_triggers")
    shared_lifecycle = lazy("referralkit.lifecycle", "shared_lifecycle")
    Invoker = lazy("referralkit.outbox", "Invoker")
    RetryPolicy = lazy("referralkit.outbox", "RetryPolicy")
    Hooks = lazy("referralkit.plugins", "Hooks")
    make_plugin_manager = lazy("referralkit.plugins", "make_plugin_manager")
    EventNotice = lazy("referralkit.ports", "EventNotice")
    RuleRegistry = lazy("referralkit.routing", "RuleRegistry")
    mirror_work = lazy("referralkit.tasks.mirror", "mirror_work")
    TaskService = lazy("referralkit.tasks.service", "TaskService")
    close_moot_tasks = lazy("referralkit.tasks.service", "close_moot_tasks")


__all__ = ["ReferralDesk"]

_log = logging.getLogger("referralkit.desk")


def _rewired(desk: ReferralDesk, attribute: attrs.Attribute[Any], value: Any) -> Any:
    # A setting a host changes after construction reaches the services that use it (services
    # not composed yet read it when they are).
    if desk._composed:  # noqa: SLF001 - the desk wiring itself
        object.__setattr__(desk, attribute.name, value)
        if attribute.name in ("store", "clock"):
            desk._compose()  # noqa: SLF001 - every service holds them: compose again
        else:
            desk._wire()  # noqa: SLF001 - the desk wiring itself
    return value


def _default_hooks() -> Hooks:
    # Hermetic by default: installed vendor plugins load only when the host asks for them.
    return Hooks(make_plugin_manager(load_entrypoints=False))


def _default_retrying() -> Retrying:
    return RetryPolicy().build()


# A default a host does not pass is built when first read: the lifecycle, the plugin manager,
# the retry policy and the routing rules import most of the library (every pydantic record,
# trigger and port), which a process that opens a desk for one command may never use.
_ON_FIRST_USE: Any = object()
_DEFAULTS: Mapping[str, Callable[[], Any]] = {
    "lifecycle": shared_lifecycle,
    "hooks": _default_hooks,
    "retrying": _default_retrying,
    "routing_rules": RuleRegistry,
}


@attrs.define
class ReferralDesk:
    """Create referrals, move them through the lifecycle, and read their history.

    Every change is committed with its event in one store transaction. Build one with
    :meth:`open` (a URL) or directly with a :class:`~referralkit.store.Store`.

    .. versionadded:: 0.1
    """

    store: Store = attrs.field(on_setattr=_rewired)
    clock: Clock = attrs.field(factory=SystemClock, on_setattr=_rewired)
    lifecycle: Lifecycle = attrs.field(default=_ON_FIRST_USE)
    """The lifecycle the desk fires triggers through (the shared, compiled one by default).

    .. versionadded:: 0.1"""
    # hooks, retrying and backends build the invoker once: read-only so the two cannot drift.
    hooks: Hooks = attrs.field(default=_ON_FIRST_USE, on_setattr=attrs.setters.frozen)
    """The typed plugin facade (vendor adapters, observers, contributions).

    .. versionadded:: 0.1"""
    retrying: Retrying = attrs.field(default=_ON_FIRST_USE, on_setattr=attrs.setters.frozen)
    """The retry policy for adapter calls (see :class:`~referralkit.outbox.RetryPolicy`).

    .. versionadded:: 0.1"""
    backends: Mapping[str, str] = attrs.field(factory=dict, on_setattr=attrs.setters.frozen)
    """The adapter name to use per capability (``"fax": "acme"``); unnamed takes the only one.

    .. versionadded:: 0.1"""
    task_due: timedelta = attrs.field(default=timedelta(hours=4), on_setattr=_rewired)
    """How long staff have for a task opened by a failed action.

    .. versionadded:: 0.1"""
    routing_rules: RuleRegistry = attrs.field(default=_ON_FIRST_USE, on_setattr=_rewired)
    """The active routing rules (built-in defaults until a rules file is loaded into it).

    .. versionadded:: 0.1"""
    outreach: OutreachSettings | None = attrs.field(default=None, on_setattr=_rewired)
    """Outreach policy and sweep settings; ``None`` turns outreach off (see docs/outreach.md).

    .. versionadded:: 0.1"""
    auto_route: bool = attrs.field(default=False, on_setattr=_rewired)
    """Evaluate routing after every committed change (create, fire, amend), not only in sweeps.

    The rules' own changes do not re-trigger routing; a routing failure is logged and left for
    the next sweep, never raised to the caller whose change is already committed.

    .. versionadded:: 0.1"""
    numbering: ReferralNumberFormat | None = attrs.field(
        factory=ReferralNumberFormat, on_setattr=_rewired
    )
    """The format of referral numbers given to referrals created without one (``None``: the
    host numbers its referrals; see :class:`~referralkit.model.ReferralNumberFormat`).

    .. versionadded:: 0.3"""
    mirror: MirrorSettings | None = None
    """Mirror call summaries and task states to the EHR after every change (see docs/work.md);
    ``None`` leaves mirroring to :meth:`mirror_work`.

    .. versionadded:: 0.2"""
    _mirroring: threading.local = attrs.field(init=False, factory=threading.local)
    _uow: UnitOfWork = attrs.field(init=False)
    _outbox: Outbox = attrs.field(init=False)
    _consent: ConsentService = attrs.field(init=False)
    _inbound: Inbound = attrs.field(init=False)
    _intake: IntakeService = attrs.field(init=False)
    _routing: RoutingService = attrs.field(init=False)
    _outreach: OutreachService = attrs.field(init=False)
    _records: RecordsService = attrs.field(init=False)
    _loop: LoopService = attrs.field(init=False)
    _auth: AuthorizationService = attrs.field(init=False)
    _booking: BookingService = attrs.field(init=False)
    _documents: ReferralDocumentService = attrs.field(init=False)
    _referring: ReferringService = attrs.field(init=False)
    _composed: bool = attrs.field(init=False, default=False, repr=False, eq=False)
    _composing: threading.RLock = attrs.field(
        init=False, factory=threading.RLock, repr=False, eq=False
    )

    def __attrs_post_init__(self) -> None:
        for name in _DEFAULTS:
            if getattr(self, name) is _ON_FIRST_USE:
                object.__delattr__(self, name)  # unset: __getattr__ builds it when first read

    if not TYPE_CHECKING:  # hidden from type checkers, which would read every name as Any

        def __getattr__(self, name: str) -> Any:
            # The services are composed on first use, not when the desk opens: a process that
            # opens a desk for one command imports and builds only what that command uses.
            default = _DEFAULTS.get(name)
            if default is not None:
                with self._composing:
                    try:
                        return object.__getattribute__(self, name)  # another thread built it
                    except AttributeError:
                        object.__setattr__(self, name, default())
                return object.__getattribute__(self, name)
            if name not in _SERVICES:
                raise AttributeError(name)
            with self._composing:
                if not self._composed:
                    self._composed = True  # a service read while composing fails, not loops
                    try:
                        self._compose()
                    except BaseException:
                        self._composed = False
                        raise
            return object.__getattribute__(self, name)

    def _compose(self) -> None:
        # The composition root: each service gets only what it names.
        hooks = self.hooks
        uow = UnitOfWork(self.store, self.clock, self.lifecycle)
        outbox = Outbox(
            uow,
            self.store,
            self.clock,
            Invoker(hooks, self.retrying, self.backends),
            policy=lambda: self._outreach.policy(),
            task_due=self.task_due,
        )
        consent = ConsentService(uow, self.store, self.clock)
        routing = RoutingService(
            uow, self.store, self.clock, self.routing_rules, hooks, outbox, self.auto_route
        )
        self._uow = uow
        self._outbox = outbox
        self._consent = consent
        self._inbound = Inbound(uow, self.store, consent)
        self._intake = IntakeService(uow, self.store, self.clock, checks=self._intake_checks)
        self._routing = routing
        self._outreach = OutreachService(
            uow,
            self.store,
            self.clock,
            outbox,
            routing,
            self.outreach,
            templates=self._outreach_templates,
        )
        self._records = RecordsService(uow, self.store, self.clock, outbox)
        self._loop = LoopService(uow, self.store, self.clock, outbox)
        self._auth = AuthorizationService(uow, self.clock)
        self._booking = BookingService(uow, self.store, self.clock, outbox)
        self._documents = ReferralDocumentService(uow, self.store, self.clock)
        self._referring = ReferringService(uow, self.store, self.clock, outbox)
        outbox.on_sent.extend(
            (records_sent_step, report_delivered_step, booking_step, package_delivered_step)
        )
        outbox.on_failed.append(report_failed_step)
        uow.reactions.append(self._records.follow_visit)
        uow.after_commit.extend(
            (self._notify, self._close_moot, routing.after_commit, self._mirror_after_commit)
        )
        self._wire()

    def _wire(self) -> None:
        self._outreach.settings = self.outreach
        self._uow.planners = [self._routing.planned]
        if self.outreach is not None:
            self._uow.planners.append(self._outreach.planned)
        self._routing.auto_route = self.auto_route
        self._routing.rules = self.routing_rules
        self._outbox.task_due = self.task_due
        self._uow.numbering = self.numbering
        if self.outreach is not None and self.outreach.calendar is not None:
            self._records.calendar = self.outreach.calendar

    @property
    def referring(self) -> ReferringService:
        """The referring practice's side: referrals we send (``docs/referring.md``).

        .. versionadded:: 0.4
        """
        return self._referring

    def _intake_checks(self) -> list[IntakeCheck]:
        if not self.hooks.implemented("referralkit_add_intake_checks"):
            return []
        return self.hooks.intake_checks()

    def _outreach_templates(self) -> list[OutreachTemplate]:
        if not self.hooks.implemented("referralkit_add_outreach_templates"):
            return []
        return self.hooks.outreach_templates()

    def _mirror_after_commit(self, referral: Referral, events: Sequence[Event]) -> bool:
        # Mirroring's own sends commit too: never mirror from inside a mirror.
        if self.mirror is None or getattr(self._mirroring, "active", False):
            return False
        if all(e.kind.startswith("action_") for e in events):
            return False
        self._mirroring.active = True
        try:
            report = mirror_work(self, referral.id, self.mirror)
        except ReferralKitError as exc:
            _log.warning(
                "referral %s: mirroring failed (%s); mirror_work() retries",
                referral.id,
                type(exc).__name__,
            )
            return False
        finally:
            self._mirroring.active = False
        return bool(report.sent or report.failed_tasks)

    def _close_moot(self, referral: Referral, events: Sequence[Event]) -> bool:
        # Tasks whose reason the change took away close (or, when claimed, are marked moot).
        return close_moot_tasks(self, Change(referral, events[-1])) is not None

    def _notify(self, referral: Referral, events: Sequence[Event]) -> bool:
        # Called only after the events are committed: an observer can never corrupt state.
        if self.hooks.has_observers():
            for event in events:
                notice = EventNotice.from_event(event)
                self.hooks.on_event(notice)
                if notice.is_transition:
                    self.hooks.on_transition(notice)
        return False

    @classmethod
    def open(
        cls,
        url: str = "sqlite:///referralkit.db",
        *,
        clock: Clock | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> Self:
        """Open a desk on the store *url* names (see :func:`open_store`), bound to *tenant*.

        :param tenant: the practice or organisation this desk works for; it reads and writes
            only that tenant's referrals (:mod:`referralkit.tenancy`). A single-practice host
            leaves it out.
        :raises InvalidTenantError: *tenant* is not a usable tenant id.

        .. versionchanged:: 0.4 takes *tenant*.
        """
        return cls(store=open_store(url, tenant=tenant), clock=clock or SystemClock())

    @property
    def tenant(self) -> str:
        """The tenant this desk's store is bound to (:data:`DEFAULT_TENANT` if it has none).

        .. versionadded:: 0.4
        """
        return self.store.tenant if isinstance(self.store, TenantStore) else DEFAULT_TENANT

    def for_tenant(self, tenant: str) -> Self:
        """Return a desk with this desk's configuration, on this store bound to *tenant*.

        Rules, outreach settings, hooks, retry policy and clock are shared; the services are
        composed afresh (on first use) around the tenant's store, so nothing of this desk's
        wiring reads or writes another tenant. What a worker serving many practices uses
        when a tenant needs no configuration of its own.

        :raises TypeError: the store is not a :class:`~referralkit.store.TenantStore`.
        :raises InvalidTenantError: *tenant* is not a usable tenant id.

        .. versionadded:: 0.4
        """
        if not isinstance(self.store, TenantStore):
            raise TypeError(f"{type(self.store).__name__} is not bound to tenants (no for_tenant)")
        return attrs.evolve(self, store=self.store.for_tenant(tenant))

    def create(self, referral: Referral, *, actor: Actor) -> Referral:
        """Store a new referral (in ``intake`` or, when complete, ``received``).

        :returns: the stored referral, at version 1.
        :raises InvalidTransitionError: it starts in another state.
        :raises TransitionBlockedError: it starts in ``received`` with fields missing.
        :raises DuplicateReferralError: its id is taken.
        """
        return self._uow.create(referral, actor=actor)

    def get(self, referral_id: UUID) -> Referral:
        """Return the current referral.

        :raises ReferralNotFoundError: no such referral.
        """
        return self.store.get(referral_id)

    def fire(
        self,
        referral_id: UUID,
        trigger: Trigger,
        *,
        actor: Actor,
        data: Mapping[str, Any] | BaseModel | None = None,
        expected_version: int | None = None,
    ) -> Referral:
        """Fire a lifecycle trigger and commit the change with its event.

        :param expected_version: the version the caller saw; if the referral has moved on since,
            :class:`~referralkit.errors.ConflictError` is raised and nothing changes.
        :returns: the referral after the change.
        :raises InvalidTransitionError: (or a subclass) the trigger is refused.
        :raises TriggerDataError: the data is invalid for the trigger.
        :raises ConflictError: another writer changed the referral first.
        """
        return self._uow.fire(
            referral_id, trigger, actor=actor, data=data, expected_version=expected_version
        )

    def amend(
        self,
        referral_id: UUID,
        kind: str,
        *,
        actor: Actor,
        update: Mapping[str, Any] | Callable[[Referral], Mapping[str, Any]],
        data: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> Referral:
        """Commit a change that is not a transition (task, interaction, flag) with its event.

        :param kind: the event kind, e.g. ``"task_opened"`` (never a trigger name).
        :param update: new field values, or a function of the current referral returning them
            (called on the freshly loaded referral, so it never works on stale data).
        :raises ConflictError: another writer changed the referral first; nothing is written.
        :raises ValueError: *kind* or *update* would bypass the lifecycle.
        """
        return self._uow.amend(
            referral_id,
            kind,
            actor=actor,
            update=update,
            data=data,
            expected_version=expected_version,
        )

    def allowed_triggers(
        self, referral_id: UUID, actor: Actor | None = None
    ) -> tuple[Trigger, ...]:
        """Return the triggers *actor* may fire on the referral now."""
        return allowed_triggers(self.store.get(referral_id), actor)

    def history(self, referral_id: UUID) -> list[Event]:
        """Return the referral's events, oldest first.

        :raises ReferralNotFoundError: no such referral.
        """
        events = self.store.events(referral_id)
        if not events:
            self.store.get(referral_id)  # raises ReferralNotFoundError
        return events

    def verify(self, referral_id: UUID) -> None:
        """Check the referral's row and event log are complete and untampered.

        See :func:`referralkit.integrity.verify_referral` (the store's keyring, if any, is used).

        :raises HistoryTamperedError: naming the first bad event (``0``: the row itself).
        """
        _integrity.verify_referral(self.store, referral_id)

    def list(
        self,
        *statuses: ReferralStatus,
        limit: int = 100,
        after: UUID | None = None,
    ) -> Sequence[Referral]:
        """Return referrals in the given statuses (all if none given), by id, *limit* at a time."""
        return self.store.list_by_status(
            statuses or tuple(ReferralStatus), limit=limit, after=after
        )

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- Outbound and inbound (docs/adapters.md) -------------------------------------------

    def call(self, request: OutboundRequest) -> Receipt:
        """Send *request* now through the chosen adapter with retries, without the outbox.

        Prefer :meth:`dispatch`, which records the action and turns failures into tasks.

        :raises NoBackendError: no adapter provides the capability.
        :raises AdapterError: transient faults outlasted the budget, or a permanent fault.

        .. versionadded:: 0.1
        """
        return self._outbox.call(request)

    def dispatch(
        self,
        request: OutboundRequest,
        *,
        queue: str = "outreach",
        expected_version: int | None = None,
    ) -> DispatchOutcome:
        """Record an outbound action, send it, and record what happened.

        ``action_queued`` is committed before the adapter is called and the outcome after it,
        so the action is never lost: it ends ``sent``, or ``failed`` with a human task in
        *queue*. Dispatching a key that already ended returns that outcome and sends nothing;
        a key still ``queued`` (a crash interrupted it) is sent again with the same key.

        :param expected_version: the version the request was built from; if the referral has
            moved on (an opt-out, say), :class:`~referralkit.errors.ConflictError` is raised
            before anything is queued or sent.
        :raises NoBackendError: no adapter provides the capability (nothing is recorded).
        :raises ReferralNotFoundError: no such referral.
        :raises ConflictError: the referral is no longer at *expected_version*.

        .. versionadded:: 0.1
        """
        return self._outbox.dispatch(request, queue=queue, expected_version=expected_version)

    def outbox(self, referral_id: UUID) -> dict[str, OutboxEntry]:
        """Return the referral's outbound actions by idempotency key, in queue order.

        .. versionadded:: 0.1
        """
        return self._outbox.entries(referral_id)

    def recover(
        self,
        referral_id: UUID,
        *,
        resend: bool = True,
        queue: str = "outreach",
        key: str | None = None,
    ) -> Sequence[DispatchOutcome]:
        """Finish actions a crash left ``queued`` (only the one with idempotency *key*, if given).

        With *resend*, each is sent again with its original request and key (an adapter that
        honours keys contacts nobody twice). Without it, or when its backend is gone, each is
        recorded as ``unknown`` with a human task to check whether the contact happened.

        .. versionadded:: 0.1
        """
        return self._outbox.recover(referral_id, resend=resend, queue=queue, key=key)

    def fetch_patient(self, request: PatientLookupRequest) -> PatientRecord:
        """Fetch demographics and coverage from the EHR adapter, with retries.

        :raises NoBackendError: no EHR adapter is registered.
        :raises AdapterError: the EHR failed.

        .. versionadded:: 0.1
        """
        return self._outbox.fetch_patient(request)

    def fetch_documents(self, request: DocumentsRequest) -> DocumentList:
        """Fetch document references from the EHR adapter, with retries.

        :raises NoBackendError: no EHR adapter is registered.
        :raises AdapterError: the EHR failed.

        .. versionadded:: 0.1
        """
        return self._outbox.fetch_documents(request)

    def record_call_outcome(self, outcome: CallOutcome) -> Referral:
        """Log the outcome of a call as an interaction; a repeated report changes nothing.

        .. versionadded:: 0.1
        """
        return self._inbound.record_call_outcome(outcome)

    def record_sms_reply(self, reply: SmsReply) -> Referral:
        """Log an SMS reply; ``STOP`` (and synonyms) records an SMS opt-out in the consent.

        The event kind is ``consent_opted_out`` for an opt-out, else ``sms_reply_received``;
        a repeated report changes nothing.

        .. versionadded:: 0.1
        """
        return self._inbound.record_sms_reply(reply)

    def receive_fax(self, fax: InboundFax) -> Referral:
        """Log an inbound fax; if it answers a records request, mark that request received.

        A repeated report changes nothing.

        .. versionadded:: 0.1
        """
        return self._inbound.receive_fax(fax)

    def start_intake(
        self,
        call_type: CallType | str,
        *,
        config: IntakeConfig | None = None,
        language: str | None = None,
    ) -> IntakeSession:
        """Start capturing a call; feed the session turns with ``update()``.

        :param config: the practice's intake configuration (defaults when ``None``).
        :param language: the caller's language for questions (``"en"``, ``"es"``, ...).
        :raises IntakeError: the call type or language is not one intake knows.

        .. versionadded:: 0.1
        """
        return self._intake.start(call_type, config=config, language=language)

    def submit_intake(self, session: IntakeSession, *, actor: Actor) -> IntakeOutcome:
        """Commit a complete intake: create or link the referral, or resolve the call.

        A ``new_referral`` that matches an open referral (same patient and specialty, within
        the configured window) is linked to it, which records the call on that referral;
        otherwise the referral is created and ``complete_intake`` fired. Both changes are
        computed and checked before anything is written. Other call types are looked up by
        referral number or patient identity and logged on the referral when one is found.

        :returns: the call record and what happened to the referral.
        :raises IntakeError: the intake is not complete (nothing is written).
        :raises PermissionDeniedError: *actor* may not complete intake (nothing is written).

        .. versionadded:: 0.1
        """
        return self._intake.submit(session, actor=actor)

    def answer_status(self, session: IntakeSession) -> StatusAnswer:
        """Answer a status or authorization call without writing anything.

        Looks the referral up by the number or patient identity the session captured and
        discloses only what the verified caller may hear (see :mod:`referralkit.intake.status`).

        .. versionadded:: 0.1
        """
        return self._intake.answer_status(session)

    def find_referrals(self, query: LookupQuery) -> Sequence[Referral]:
        """Return the referrals a caller's *query* identifies, open ones first, newest first.

        By referral number (separators ignored), or by family name and birth date (and given
        name when given), read through the store's patient and number index, so the cost
        follows what the patient has. Only this desk's tenant is searched.

        .. versionadded:: 0.4
        """
        return self._intake.lookup(query)

    def sweep(
        self,
        now: datetime | None = None,
        *,
        routing: bool = True,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> SweepReport:
        """Run due routing and outreach work: call it from cron, a scheduler or a worker loop.

        Routing runs first when the desk has it; then outreach claims due referrals (with a
        lease, so several workers may sweep at once), runs their due actions and records every
        outcome. Safe to run again after a crash: nobody is contacted twice for one planned
        action.

        :param now: the sweep's instant (default: the desk's clock).
        :param routing: also run the routing sweep (it examines every open referral, so hosts
            with many may run it less often than outreach).
        :param progress: called with ``(referrals worked, total or None)`` as outreach goes.
        :returns: what was dispatched, skipped (and why), failed, and which tasks were opened.
        :raises TypeError: the store cannot lease due work.

        .. versionadded:: 0.1
        """
        at = now or self.clock.now()
        report = self._outreach.sweep(at, routing=routing, progress=progress)
        report.tasks = self.sweep_tasks(at)
        return report

    def dispatch_referral(self, referral_id: UUID, now: datetime | None = None) -> SweepReport:
        """Run one referral's due outreach under a lease: the unit of work of a job engine.

        What :meth:`sweep` does for each referral it claims, for one named referral: lease it,
        run its due actions, record every outcome, release it. A referral that is not due, or
        that another worker holds, is left alone, so running it twice is harmless. Job engines
        call it once per due referral (see :mod:`referralkit.worker` and docs/deployment.md).

        :returns: what was done (``claimed`` is 0 when nothing was).
        :raises TypeError: the store cannot lease one referral
            (:class:`~referralkit.store.WorkerStore`).

        .. versionadded:: 0.4
        """
        return self._outreach.dispatch_referral(referral_id, now)

    def record_booking(
        self, referral_id: UUID, appointment: Appointment, *, actor: Actor
    ) -> Referral:
        """Record that the patient booked: ``schedule``, or ``reschedule`` if already booked.

        Pending outreach stops and appointment reminders are planned.

        :raises TransitionBlockedError: authorization does not cover the appointment date.

        .. versionadded:: 0.1
        """
        return self._outreach.record_booking(referral_id, appointment, actor=actor)

    def record_patient_declined(
        self, referral_id: UUID, *, actor: Actor, note: str | None = None
    ) -> Referral:
        """Record that the patient declined the referred care: ``mark_lost`` (patient declined).

        Outreach stops, and the referring practice is sent a status update.

        :raises InvalidTransitionError: the referral is not in a state that can be lost (a
            booked appointment must be cancelled first).

        .. versionadded:: 0.1
        """
        return self._outreach.record_patient_declined(referral_id, actor=actor, note=note)

    def withdraw_consent(
        self, referral_id: UUID, channel: Channel | None = None, *, actor: Actor
    ) -> Referral:
        """Commit an opt-out from automated contact on *channel*, or on every channel.

        Committed at once: pending attempts on that channel leave the plan, and an attempt that
        was interrupted mid-send is never re-sent. The opt-out is the patient's: it is also
        committed on each of the patient's other open referrals (same phone number, or same
        names and birth date). An opt-out that loses a race with another writer (a sweep, a
        worker) is re-read and committed again.

        :raises ReferralNotFoundError: no such referral.
        :raises ConflictError: other writers kept changing the referral (after retries).

        .. versionadded:: 0.1
        """
        return self._consent.withdraw(referral_id, channel, actor=actor)

    def route(self, referral_id: UUID, *, now: datetime | None = None) -> RoutingReport:
        """Evaluate the active routing rules for one referral and apply what they decide.

        Each decision is committed with a ``routing_*`` event carrying its idempotency key, so
        routing again opens no second task and sends no second alert. Notifications go through
        the notification backend when the desk has one; otherwise a person gets a task (a staff
        alert always comes with its task). A trigger the lifecycle refuses is recorded and
        handed to the rule's fallback queue. Rules contributed by plugins
        (``referralkit_add_routing_rules``) are applied too, when their queue is declared.

        :param now: the instant to evaluate at (default: the desk's clock); events are stamped
            by the desk's clock.
        :raises ReferralNotFoundError: no such referral.
        :raises ConflictError: other writers kept changing the referral (after retries).

        .. versionadded:: 0.1
        """
        return self._routing.route(referral_id, now=now)

    def sweep_routing(
        self,
        now: datetime | None = None,
        *,
        page_size: int = 500,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> RoutingSweepReport:
        """Route the open or held referrals that are due at *now*, page by page.

        Every change records when routing next has something to decide for the referral
        (``next_routing_at``); on a store that indexes it (every built-in store) the sweep
        reads only the referrals due by *now*, so it costs what is due, not what is open.
        With contributed routing rules (``referralkit_add_routing_rules``), or a store without
        the index, every open or held referral is evaluated. A referral that keeps conflicting
        with other writers is counted and skipped; the next sweep picks it up.

        .. versionadded:: 0.1
        .. versionchanged:: 0.1
           Reads only the referrals due for routing.
        """
        return self._routing.sweep(now, page_size=page_size, progress=progress)

    def explain(
        self, referral_id: UUID, *, now: datetime | None = None
    ) -> tuple[RuleExplanation, ...]:
        """Explain every active routing rule for the referral: matched or not, and why.

        :raises ReferralNotFoundError: no such referral.

        .. versionadded:: 0.1
        """
        return self._routing.explain(referral_id, now=now)

    # -- Human work: tasks, work lists, interactions (docs/work.md; referralkit.tasks) -----

    def claim_task(self, referral_id: UUID, task_id: UUID, *, actor: Actor) -> HumanTask:
        """Claim a task for *actor*.

        See :meth:`referralkit.tasks.TaskService.claim`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).claim(referral_id, task_id, actor=actor)

    def release_task(self, referral_id: UUID, task_id: UUID, *, actor: Actor) -> HumanTask:
        """Put a claimed task back in its queue.

        See :meth:`referralkit.tasks.TaskService.release`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).release(referral_id, task_id, actor=actor)

    def reassign_task(
        self,
        referral_id: UUID,
        task_id: UUID,
        *,
        actor: Actor,
        queue: str | None = None,
        assignee: str | None = None,
    ) -> HumanTask:
        """Hand a task to another queue or person.

        See :meth:`referralkit.tasks.TaskService.reassign`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).reassign(
            referral_id, task_id, actor=actor, queue=queue, assignee=assignee
        )

    def complete_task(
        self,
        referral_id: UUID,
        task_id: UUID,
        *,
        actor: Actor,
        outcome: str,
        note: str | None = None,
    ) -> HumanTask:
        """Mark a task done.

        See :meth:`referralkit.tasks.TaskService.complete`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).complete(
            referral_id, task_id, actor=actor, outcome=outcome, note=note
        )

    def cancel_task(
        self,
        referral_id: UUID,
        task_id: UUID,
        *,
        actor: Actor,
        reason: str,
        note: str | None = None,
    ) -> HumanTask:
        """Cancel a task, saying why.

        See :meth:`referralkit.tasks.TaskService.cancel`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).cancel(
            referral_id, task_id, actor=actor, reason=reason, note=note
        )

    def snooze_task(
        self, referral_id: UUID, task_id: UUID, *, actor: Actor, until: datetime
    ) -> HumanTask:
        """Set a task aside until *until*.

        See :meth:`referralkit.tasks.TaskService.snooze`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).snooze(referral_id, task_id, actor=actor, until=until)

    def tasks(
        self,
        *,
        queue: str | None = None,
        status: TaskStatus | Sequence[TaskStatus] | None = None,
        assignee: str | None = None,
        due_before: datetime | None = None,
        priority: TaskPriority | None = None,
        limit: int = 50,
        after: TaskCursor | None = None,
    ) -> Sequence[TaskRow]:
        """Return a work list.

        See :meth:`referralkit.tasks.TaskService.tasks`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).tasks(
            queue=queue,
            status=status,
            assignee=assignee,
            due_before=due_before,
            priority=priority,
            limit=limit,
            after=after,
        )

    def my_tasks(self, assignee: str, *, limit: int = 50) -> Sequence[TaskRow]:
        """Return the tasks *assignee* holds.

        See :meth:`referralkit.tasks.TaskService.my_tasks`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).my_tasks(assignee, limit=limit)

    def queue_counts(self, now: datetime | None = None) -> dict[str, QueueCounts]:
        """Return per-queue dashboard counts.

        See :meth:`referralkit.tasks.TaskService.queue_counts`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).queue_counts(now)

    def sweep_tasks(self, now: datetime | None = None) -> TaskSweepReport:
        """Wake snoozed tasks and escalate overdue ones.

        See :meth:`referralkit.tasks.TaskService.sweep`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).sweep(now)

    def log_interaction(
        self, referral_id: UUID, interaction: Interaction, *, actor: Actor
    ) -> Interaction:
        """Log an interaction.

        See :meth:`referralkit.tasks.TaskService.log_interaction`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).log_interaction(referral_id, interaction, actor=actor)

    def record_disclosure(
        self, referral_id: UUID, *, fields: Sequence[str], recipient_role: str, actor: Actor
    ) -> Interaction:
        """Log what an answer disclosed to whom.

        See :meth:`referralkit.tasks.TaskService.record_disclosure`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).record_disclosure(
            referral_id, fields=fields, recipient_role=recipient_role, actor=actor
        )

    def interactions(self, referral_id: UUID) -> Sequence[Interaction]:
        """Return the interaction log.

        See :meth:`referralkit.tasks.TaskService.interactions`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).interactions(referral_id)

    def continuity(self, referral_id: UUID) -> Continuity:
        """Return the hand-over view.

        See :meth:`referralkit.tasks.TaskService.continuity`.

        .. versionadded:: 0.1
        """
        return TaskService.for_desk(self).continuity(referral_id)

    def mirror_work(self, referral_id: UUID, settings: MirrorSettings) -> MirrorReport:
        """Mirror interactions and task states to the EHR.

        See :func:`referralkit.tasks.mirror.mirror_work`.

        .. versionadded:: 0.1
        """
        return mirror_work(self, referral_id, settings)

    def verify_all(self, *, page: int = 500) -> Iterator[_integrity.TamperReport]:
        """Yield a report for each referral failing :func:`referralkit.integrity.verify_all`."""
        return _integrity.verify_all(self.store, page=page)

    # -- Coordination between practices (docs/coordination.md) -----------------------------

    def request_records(
        self,
        referral_id: UUID,
        *,
        actor: Actor,
        kinds: Sequence[str] = (),
        source: RecordsSource = RecordsSource.REFERRING_PRACTICE,
        channel: RecordsChannel = RecordsChannel.FAX,
        needed_days_before_visit: int | None = None,
        needed_by: datetime | None = None,
        from_practice: str | None = None,
        from_fax: PhoneE164 | None = None,
        required: bool = True,
    ) -> Referral:
        """Ask for medical records; the new request is the last of ``records_requests``.

        A fax request is faxed on the next sweep and chased by the ``records_follow_up``
        cadence until every kind in *kinds* is received; an EHR request is fetched at once
        (a failing EHR opens a task). Required records still missing a few business days
        before the visit open a task (``Policy.records``).

        :param kinds: the document kinds needed; empty: any document answers.
        :param needed_days_before_visit: when the records must be in, in business days before
            the visit (ignored when *needed_by* is given): recomputed whenever the visit
            moves, and empty while none is booked.
        :param from_fax: another provider's fax number (*source* ``other_provider``).
        :raises ValueError: a fax request with no fax number to send it to.

        .. versionadded:: 0.3
        """
        return self._records.request(
            referral_id,
            actor=actor,
            kinds=kinds,
            source=source,
            channel=channel,
            needed_days_before_visit=needed_days_before_visit,
            needed_by=needed_by,
            from_practice=from_practice,
            from_fax=from_fax,
            required=required,
        )

    def receive_records(
        self,
        referral_id: UUID,
        request_id: UUID,
        documents: Sequence[DocumentRef],
        *,
        actor: Actor,
        via: RecordsChannel = RecordsChannel.FAX,
    ) -> Referral:
        """Attach received documents (by reference) to a records request.

        The request becomes ``received`` when every kind asked for is in, else
        ``partially_received``; a document already attached changes nothing.

        :raises KeyError: the referral has no such request.

        .. versionadded:: 0.3
        """
        return self._records.receive(referral_id, request_id, documents, actor=actor, via=via)

    def fetch_records(self, referral_id: UUID, request_id: UUID) -> Referral:
        """Fetch a records request's documents from the EHR again (a task if it fails).

        .. versionadded:: 0.3
        """
        return self._records.fetch(referral_id, request_id)

    def close_records_request(
        self,
        referral_id: UUID,
        request_id: UUID,
        status: RecordsRequestStatus,
        *,
        actor: Actor,
        reason: str,
    ) -> Referral:
        """End an open records request as ``waived`` or ``failed``; chasing stops.

        :raises ValueError: another status, or the request is already closed.

        .. versionadded:: 0.3
        """
        return self._records.close(referral_id, request_id, status, actor=actor, reason=reason)

    def send_consult_report(
        self, referral_id: UUID, report: DocumentRef, *, actor: Actor, queue: str = "referrals"
    ) -> DispatchOutcome:
        """Send the consult report to the referring practice and close the loop on delivery.

        The report (a reference: the adapter fetches the document from the host) goes on the
        practice's preferred channel: fax (``FaxRequest`` purpose ``consult_report``), or
        email / portal (a ``PracticeUpdateRequest`` carrying the document). When it is
        delivered, ``close_loop`` fires in the same transaction; when it cannot be (retries
        spent, a permanent fault), the report is ``failed`` and a task opens in *queue*.
        Sending again after a failure is a new attempt; after delivery it sends nothing.

        :raises InvalidTransitionError: the visit is not completed, or *actor* may not close
            the loop (nothing is written).
        :raises ValueError: the referring practice has no destination (nothing is written).
        :raises NoBackendError: no adapter for the channel (the report stays ``pending``).

        .. versionadded:: 0.3
        """
        return self._loop.send_report(referral_id, report, actor=actor, queue=queue)

    def acknowledge_consult_report(self, referral_id: UUID, *, actor: Actor) -> Referral:
        """Record that the referring practice acknowledged the delivered consult report.

        :raises ValueError: no delivered report.

        .. versionadded:: 0.3
        """
        return self._loop.acknowledge(referral_id, actor=actor)

    def submit_authorization(
        self, referral_id: UUID, *, payer_reference: str, actor: Actor
    ) -> Referral:
        """Record that the authorization request went to the payer, under *payer_reference*.

        Allowed from ``required``, ``pended`` (the answer to the payer's question) and
        ``expired`` (a renewal). See docs/coordination.md for the whole workflow.

        :raises InvalidTransitionError: the authorization is in another sub-status.

        .. versionadded:: 0.3
        """
        return self._auth.submit(referral_id, payer_reference=payer_reference, actor=actor)

    def pend_authorization(self, referral_id: UUID, *, actor: Actor) -> Referral:
        """Record that the payer asked for more information before deciding.

        :raises InvalidTransitionError: the authorization is not submitted.

        .. versionadded:: 0.3
        """
        return self._auth.pend(referral_id, actor=actor)

    def approve_authorization(
        self,
        referral_id: UUID,
        *,
        number: str,
        valid_from: date,
        valid_to: date,
        actor: Actor,
        authorized_visits: int | None = None,
        modified: bool = False,
    ) -> Referral:
        """Record the payer's approval; a referral pending authorization becomes ready to schedule.

        :raises InvalidTransitionError: the authorization is not with the payer.
        :raises TriggerDataError: the dates or visit count are invalid.

        .. versionadded:: 0.3
        """
        return self._auth.approve(
            referral_id,
            number=number,
            valid_from=valid_from,
            valid_to=valid_to,
            actor=actor,
            authorized_visits=authorized_visits,
            modified=modified,
        )

    def deny_authorization(self, referral_id: UUID, *, reason: str, actor: Actor) -> Referral:
        """Record the payer's denial with a coded *reason*; staff may appeal.

        :raises InvalidTransitionError: the authorization is not with the payer.

        .. versionadded:: 0.3
        """
        return self._auth.deny(referral_id, reason=reason, actor=actor)

    def appeal_authorization(
        self, referral_id: UUID, *, payer_reference: str, actor: Actor
    ) -> Referral:
        """Appeal a denied authorization: it is submitted again under *payer_reference*.

        :raises InvalidTransitionError: the authorization is not denied.

        .. versionadded:: 0.3
        """
        return self._auth.appeal(referral_id, payer_reference=payer_reference, actor=actor)

    def expire_authorization(self, referral_id: UUID, *, actor: Actor) -> Referral:
        """Record that an approval lapsed; an unbooked referral goes back to pending auth.

        An approval past its last day expires by itself at the next routing sweep; call this
        for one the payer withdrew early.

        :raises InvalidTransitionError: the authorization is not approved.

        .. versionadded:: 0.3
        """
        return self._auth.expire(referral_id, actor=actor)

    def find_slots(
        self,
        referral_id: UUID,
        *,
        after: datetime | None = None,
        before: datetime | None = None,
        limit: int = 10,
        weekdays: Collection[int] | None = None,
        hours: tuple[time, time] | None = None,
        location: str | None = None,
    ) -> tuple[Slot, ...]:
        """Return open EHR slots for the referral, earliest first, to offer a caller.

        The EHR searches the referral's specialty at its priority; slots outside the
        authorization's validity (when one is required) or in the past are never offered.
        *weekdays* (Monday is 0) and *hours* (earliest and latest start) are the patient's
        preferences, in the patient's time zone; *location* the site they prefer, as the EHR
        names it (case and spacing ignored).

        :raises ValueError: the referral has no specialty.
        :raises NoBackendError: no EHR adapter offers ``find_slots``.

        .. versionadded:: 0.3
        """
        return self._booking.find_slots(
            referral_id,
            after=after,
            before=before,
            limit=limit,
            weekdays=weekdays,
            hours=hours,
            location=location,
        )

    def book_slot(
        self, referral_id: UUID, slot: Slot, *, actor: Actor, queue: str = "scheduling"
    ) -> DispatchOutcome:
        """Book *slot* through the EHR; the referral is scheduled when the EHR confirms.

        The lifecycle is checked first (nothing is booked if it would refuse the
        appointment); the booking goes through the outbox (``book_appointment``), and
        ``schedule`` (or ``reschedule``) fires in the same transaction that records the EHR's
        receipt, with the EHR's appointment id in ``Appointment.external_id``. A refused
        booking opens a task in *queue*.

        :raises InvalidTransitionError: the referral cannot be scheduled now.
        :raises ValueError: the patient has no MRN.
        :raises NoBackendError: no EHR adapter books appointments.

        .. versionadded:: 0.3
        """
        return self._booking.book(referral_id, slot, actor=actor, queue=queue)

    def receive_referral_document(
        self, document: DocumentRef, hints: DocumentHints, *, received_at: datetime, actor: Actor
    ) -> DocumentOutcome:
        """Keep an inbound referral document (a fax, a scan) and match it to an open referral.

        It is attached only to a certain match (one open referral of that patient and
        specialty, or the referral holding the document it revises); otherwise it is held on
        a new referral in intake with a task in the restricted ``referral-review`` queue (no
        patient name in the task). See docs/coordination.md.

        .. versionadded:: 0.3
        """
        return self._documents.receive(document, hints, received_at=received_at, actor=actor)

    def resolve_referral_document(
        self, holding_id: UUID, target_id: UUID | None, *, actor: Actor
    ) -> Referral:
        """Resolve a held document: attach it to *target_id*, or keep it as a new referral.

        Attaching marks the holding referral entered in error; with ``None`` the referral stays
        in intake to complete.

        :raises ValueError: nothing waits for review on *holding_id*.

        .. versionadded:: 0.3
        """
        return self._documents.confirm(holding_id, target_id, actor=actor)

    def cancel_booked_slot(
        self, referral_id: UUID, *, reason: CancelReason, actor: Actor, queue: str = "scheduling"
    ) -> DispatchOutcome:
        """Cancel the current appointment in the EHR (``cancel_appointment`` on confirmation).

        :raises ValueError: the current appointment was not booked through the EHR.
        :raises InvalidTransitionError: *actor* may not cancel it (nothing is sent).

        .. versionadded:: 0.3
        """
        return self._booking.cancel(referral_id, reason=reason, actor=actor, queue=queue)

    def record_ehr_booking(
        self, *, mrn: str, specialty: str, appointment: Appointment, actor: Actor
    ) -> Referral | None:
        """Match a booking the EHR reports inbound to the one open referral it belongs to.

        :returns: the scheduled referral, or ``None`` when no single referral matches.
        :raises ValueError: *appointment* has no ``external_id``.

        .. versionadded:: 0.3
        """
        return self._booking.record_ehr_booking(
            mrn=mrn, specialty=specialty, appointment=appointment, actor=actor
        )


# The service slots (set by _compose, never by __init__): reading one composes the desk.
_SERVICES = frozenset(
    field.name
    for field in attrs.fields(ReferralDesk)
    if not field.init and field.default is attrs.NOTHING
)
