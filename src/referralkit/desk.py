"""The :class:`ReferralDesk`: the one facade a host application talks to.

The desk is the composition root: it wires the store, the clock and the shared lifecycle
together, and it is where side effects happen. Domain modules stay pure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self
from uuid import UUID, uuid5

import attrs
from pydantic import BaseModel
from tenacity import Retrying

from referralkit.adapters.memory import MemoryStore
from referralkit.adapters.sqlite import SQLiteStore
from referralkit.clock import Clock, SystemClock
from referralkit.errors import (
    AdapterError,
    ConflictError,
    IntakeError,
    InvalidTransitionError,
    NoBackendError,
    PermanentAdapterError,
    TransientAdapterError,
    TriggerDataError,
)
from referralkit.events import Event, verify_history
from referralkit.intake import (
    CallType,
    IntakeConfig,
    IntakeFlag,
    IntakeOutcome,
    IntakeSession,
    StatusAnswer,
    answer_status,
    find_duplicate,
    match_referrals,
)
from referralkit.lifecycle import (
    ACTIVE_STATES,
    Change,
    Lifecycle,
    Trigger,
    allowed_triggers,
    amended,
    created,
    shared_lifecycle,
)
from referralkit.model import (
    Actor,
    ActorKind,
    Appointment,
    Channel,
    Direction,
    HumanTask,
    Interaction,
    RecordsRequestStatus,
    Referral,
    ReferralStatus,
    Role,
    TaskPriority,
)
from referralkit.outbox import (
    ACTION_QUEUED,
    ACTION_SENT,
    TASK_OPENED,
    ActionStatus,
    DispatchOutcome,
    Invoker,
    OutboxEntry,
    RetryPolicy,
    outbox_entries,
)
from referralkit.outreach.consent import is_opt_out, withdraw
from referralkit.outreach.dispatch import Dispatcher, OutreachSettings, SweepReport, next_action_at
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import (
    CallOutcome,
    DocumentList,
    DocumentsRequest,
    EventNotice,
    InboundFax,
    OutboundRequest,
    PatientLookupRequest,
    PatientRecord,
    PracticeUpdateRequest,
    Receipt,
    SmsReply,
    StaffAlertRequest,
    idempotency_key,
)
from referralkit.routing import (
    ROUTING_ACTOR,
    RoutingDecision,
    RoutingReport,
    RoutingSweepReport,
    RuleExplanation,
    RuleRegistry,
    evaluate,
    explain,
    suggested_decision,
)
from referralkit.store import Store

__all__ = ["ReferralDesk", "open_store"]

_log = logging.getLogger("referralkit.desk")

STOP_KEYWORDS: Final = frozenset(
    {"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
"""SMS replies that opt the patient out of SMS (CTIA and FCC opt-out keywords)."""
_OUTBOX_ACTOR: Final = Actor(kind=ActorKind.SYSTEM, id="referralkit.outbox", role=Role.SYSTEM)
_INBOUND_ACTOR: Final = Actor(
    kind=ActorKind.INTEGRATION, id="referralkit.inbound", role=Role.SYSTEM
)
_INBOUND_NS: Final = UUID("5b0f3c39-8a4e-4d0e-9d55-6f8f2b8f1a11")
_Outcomes = list[DispatchOutcome]  # the class's list() method shadows the builtin in it


def _default_hooks() -> Hooks:
    # Hermetic by default: installed vendor plugins load only when the host asks for them.
    return Hooks(make_plugin_manager(load_entrypoints=False))


def _default_retrying() -> Retrying:
    return RetryPolicy().build()


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


@attrs.define
class ReferralDesk:
    """Create referrals, move them through the lifecycle, and read their history.

    Every change is committed with its event in one store transaction. Build one with
    :meth:`open` (a URL) or directly with a :class:`~referralkit.store.Store`.

    .. versionadded:: 0.1
    """

    store: Store
    clock: Clock = attrs.field(factory=SystemClock)
    lifecycle: Lifecycle = attrs.field(factory=shared_lifecycle)
    hooks: Hooks = attrs.field(factory=_default_hooks)
    """The typed plugin facade (vendor adapters, observers, contributions).

    .. versionadded:: 0.1"""
    retrying: Retrying = attrs.field(factory=_default_retrying)
    """The retry policy for adapter calls (see :class:`~referralkit.outbox.RetryPolicy`).

    .. versionadded:: 0.1"""
    backends: Mapping[str, str] = attrs.field(factory=dict)
    """The adapter name to use per capability (``"fax": "acme"``); unnamed takes the only one.

    .. versionadded:: 0.1"""
    task_due: timedelta = timedelta(hours=4)
    """How long staff have for a task opened by a failed action.

    .. versionadded:: 0.1"""
    routing_rules: RuleRegistry = attrs.field(factory=RuleRegistry)
    """The active routing rules (built-in defaults until a rules file is loaded into it).

    .. versionadded:: 0.1"""
    outreach: OutreachSettings | None = None
    """Outreach policy and sweep settings; ``None`` turns outreach off (see docs/outreach.md).

    .. versionadded:: 0.1"""
    _invoker: Invoker = attrs.field(init=False)

    @_invoker.default
    def _make_invoker(self) -> Invoker:
        return Invoker(self.hooks, self.retrying, self.backends)

    @classmethod
    def open(cls, url: str = "sqlite:///referralkit.db", *, clock: Clock | None = None) -> Self:
        """Open a desk on the store *url* names (see :func:`open_store`)."""
        return cls(store=open_store(url), clock=clock or SystemClock())

    def create(self, referral: Referral, *, actor: Actor) -> Referral:
        """Store a new referral (in ``intake`` or, when complete, ``received``).

        :returns: the stored referral, at version 1.
        :raises InvalidTransitionError: it starts in another state.
        :raises TransitionBlockedError: it starts in ``received`` with fields missing.
        :raises DuplicateReferralError: its id is taken.
        """
        change = self._outreach_planned(created(referral, actor, self.clock.now()))
        self.store.create(change.referral, change.event)
        _log.info("referral %s created in %s", referral.id, referral.status.value)
        self._notify(change.event)
        return change.referral

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
        current = self.store.get(referral_id)
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(referral_id, expected_version, current.version)
        change = self.lifecycle.fire(
            current, trigger, actor=actor, now=self.clock.now(), data=data
        )
        change = self._outreach_planned(change)
        self.store.save(change.referral, change.event, expected_version=current.version)
        _log.info(
            "referral %s: %s %s -> %s",
            referral_id,
            trigger,
            current.status.value,
            change.referral.status.value,
        )
        self._notify(change.event)
        return change.referral

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
        current = self.store.get(referral_id)
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(referral_id, expected_version, current.version)
        values = update(current) if callable(update) else update
        change = amended(
            current, kind, actor=actor, now=self.clock.now(), update=values, data=data
        )
        change = self._outreach_planned(change)
        self.store.save(change.referral, change.event, expected_version=current.version)
        _log.info("referral %s: %s recorded", referral_id, kind)
        self._notify(change.event)
        return change.referral

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
        """Check the referral's event log is complete and untampered.

        :raises HistoryTamperedError: naming the first bad event.
        """
        referral = self.store.get(referral_id)
        verify_history(
            self.store.events(referral_id),
            expected_count=referral.version,
            expected_head=referral.history_hash,
        )

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

    # -- Side effects: the outbox (after commit) -----------------------------------------

    def _notify(self, event: Event) -> None:
        # Called only after the event is committed: an observer can never corrupt state.
        if not self.hooks.has_observers():
            return
        notice = EventNotice.from_event(event)
        self.hooks.on_event(notice)
        if notice.is_transition:
            self.hooks.on_transition(notice)

    def call(self, request: OutboundRequest) -> Receipt:
        """Send *request* now through the chosen adapter with retries, without the outbox.

        Prefer :meth:`dispatch`, which records the action and turns failures into tasks.

        :raises NoBackendError: no adapter provides the capability.
        :raises AdapterError: transient faults outlasted the budget, or a permanent fault.

        .. versionadded:: 0.1
        """
        return self._invoker.call(request)

    def dispatch(self, request: OutboundRequest, *, queue: str = "outreach") -> DispatchOutcome:
        """Record an outbound action, send it, and record what happened.

        ``action_queued`` is committed before the adapter is called and the outcome after it,
        so the action is never lost: it ends ``sent``, or ``failed`` with a human task in
        *queue*. Dispatching a key that already ended returns that outcome and sends nothing;
        a key still ``queued`` (a crash interrupted it) is sent again with the same key.

        :raises NoBackendError: no adapter provides the capability (nothing is recorded).
        :raises ReferralNotFoundError: no such referral.

        .. versionadded:: 0.1
        """
        entry = self.outbox(request.referral_id).get(request.idempotency_key)
        if entry is not None and entry.status != "queued":
            return DispatchOutcome(
                key=entry.key,
                referral_id=entry.referral_id,
                status=entry.status,
                task_id=entry.task_id,
                reason=entry.reason,
                replayed=True,
            )
        bound = self._invoker.bind(request)
        if entry is None:
            self.amend(
                request.referral_id,
                ACTION_QUEUED,
                actor=_OUTBOX_ACTOR,
                update={},
                data={
                    "key": request.idempotency_key,
                    "operation": request.operation,
                    "adapter": self.backends.get(request.capability),
                    "request": request.model_dump(mode="json"),
                },
            )
        try:
            receipt = self._invoker.send(bound, request)
        except TransientAdapterError as exc:
            return self._action_task(request.referral_id, request, "retries_exhausted", exc, queue)
        except PermanentAdapterError as exc:
            unexpected = exc.__cause__ is not None and not isinstance(exc.__cause__, AdapterError)
            reason = "unexpected" if unexpected else "permanent"
            return self._action_task(request.referral_id, request, reason, exc, queue)
        self.amend(
            request.referral_id,
            ACTION_SENT,
            actor=_OUTBOX_ACTOR,
            update={},
            data={
                "key": request.idempotency_key,
                "provider_ref": receipt.provider_ref,
                "duplicate": receipt.duplicate,
            },
        )
        return DispatchOutcome(
            key=request.idempotency_key,
            referral_id=request.referral_id,
            status="sent",
            receipt=receipt,
        )

    def outbox(self, referral_id: UUID) -> dict[str, OutboxEntry]:
        """Return the referral's outbound actions by idempotency key, in queue order.

        .. versionadded:: 0.1
        """
        return outbox_entries(self.store.events(referral_id))

    def recover(
        self, referral_id: UUID, *, resend: bool = True, queue: str = "outreach"
    ) -> Sequence[DispatchOutcome]:
        """Finish actions a crash left ``queued``.

        With *resend*, each is sent again with its original request and key (an adapter that
        honours keys contacts nobody twice). Without it, or when its backend is gone, each is
        recorded as ``unknown`` with a human task to check whether the contact happened.

        .. versionadded:: 0.1
        """
        outcomes: _Outcomes = []
        for entry in self.outbox(referral_id).values():
            if entry.status != "queued":
                continue
            request = entry.rebuild()
            if resend:
                try:
                    outcomes.append(self.dispatch(request, queue=queue))
                    continue
                except NoBackendError:
                    pass
            outcomes.append(self._action_task(referral_id, request, "crash_recovery", None, queue))
        return outcomes

    def _action_task(
        self,
        referral_id: UUID,
        request: OutboundRequest,
        reason: str,
        exc: AdapterError | None,
        queue: str,
    ) -> DispatchOutcome:
        status: ActionStatus = "unknown" if reason == "crash_recovery" else "failed"
        now = self.clock.now()
        task = HumanTask(
            queue=queue,
            title=f"Outbound {request.operation} {status}",
            reason=f"{request.operation} {status}: {reason}",
            detail=None if exc is None else type(exc).__name__,
            priority=TaskPriority.HIGH,
            created_at=now,
            due_at=now + self.task_due,
            rule_id="outbox",
        )
        _log.warning(
            "referral %s: action %s %s (%s); task %s opened",
            referral_id,
            request.operation,
            status,
            reason,
            task.id,
        )
        self.amend(
            referral_id,
            TASK_OPENED,
            actor=_OUTBOX_ACTOR,
            update=lambda r: {"tasks": (*r.tasks, task)},
            data={
                "task_id": str(task.id),
                "queue": queue,
                "action": {
                    "key": request.idempotency_key,
                    "operation": request.operation,
                    "status": status,
                    "reason": reason,
                },
            },
        )
        return DispatchOutcome(
            key=request.idempotency_key,
            referral_id=referral_id,
            status=status,
            task_id=task.id,
            reason=reason,
        )

    def fetch_patient(self, request: PatientLookupRequest) -> PatientRecord:
        """Fetch demographics and coverage from the EHR adapter, with retries.

        :raises NoBackendError: no EHR adapter is registered.
        :raises AdapterError: the EHR failed.

        .. versionadded:: 0.1
        """
        ehr = self.hooks.ehr(self.backends.get("ehr"))
        return self._invoker.retry(lambda: ehr.fetch_patient(request), operation="fetch_patient")

    def fetch_documents(self, request: DocumentsRequest) -> DocumentList:
        """Fetch document references from the EHR adapter, with retries.

        :raises NoBackendError: no EHR adapter is registered.
        :raises AdapterError: the EHR failed.

        .. versionadded:: 0.1
        """
        ehr = self.hooks.ehr(self.backends.get("ehr"))
        return self._invoker.retry(
            lambda: ehr.fetch_documents(request), operation="fetch_documents"
        )

    # -- Inbound events -------------------------------------------------------------------

    def record_call_outcome(self, outcome: CallOutcome) -> Referral:
        """Log the outcome of a call as an interaction; a repeated report changes nothing.

        .. versionadded:: 0.1
        """
        interaction = Interaction(
            id=uuid5(_INBOUND_NS, f"call:{outcome.provider_ref}"),
            at=outcome.at,
            channel=Channel.VOICE,
            direction=Direction.OUTBOUND,
            outcome=outcome.outcome,
            summary=outcome.summary,
            actor_id=_INBOUND_ACTOR.id,
        )
        current = self.get(outcome.referral_id)
        if any(i.id == interaction.id for i in current.interactions):
            return current
        return self.amend(
            outcome.referral_id,
            "call_outcome_recorded",
            actor=_INBOUND_ACTOR,
            update=lambda r: {"interactions": (*r.interactions, interaction)},
            data={"interaction_id": str(interaction.id), "outcome": outcome.outcome},
        )

    def record_sms_reply(self, reply: SmsReply) -> Referral:
        """Log an SMS reply; ``STOP`` (and synonyms) records an SMS opt-out in the consent.

        The event kind is ``consent_opted_out`` for an opt-out, else ``sms_reply_received``;
        a repeated report changes nothing.

        .. versionadded:: 0.1
        """
        interaction = Interaction(
            id=uuid5(_INBOUND_NS, f"sms:{reply.provider_ref}"),
            at=reply.at,
            channel=Channel.SMS,
            direction=Direction.INBOUND,
            outcome="reply",
            summary=reply.body,
            actor_id=_INBOUND_ACTOR.id,
        )
        current = self.get(reply.referral_id)
        if any(i.id == interaction.id for i in current.interactions):
            return current
        opt_out = is_opt_out(reply.body)  # any case or punctuation; English and Spanish

        def update(referral: Referral) -> dict[str, Any]:
            values: dict[str, Any] = {"interactions": (*referral.interactions, interaction)}
            patient = referral.patient
            if opt_out and patient is not None:
                consent = patient.consent
                channels = consent.opted_out_channels
                if Channel.SMS not in channels:
                    channels = (*channels, Channel.SMS)
                values["patient"] = patient.model_copy(
                    update={
                        "consent": consent.model_copy(
                            update={"opted_out_channels": channels, "updated_at": reply.at}
                        )
                    }
                )
            return values

        kind = "consent_opted_out" if opt_out else "sms_reply_received"
        return self.amend(
            reply.referral_id,
            kind,
            actor=_INBOUND_ACTOR,
            update=update,
            data={"interaction_id": str(interaction.id), "channel": Channel.SMS.value},
        )

    def receive_fax(self, fax: InboundFax) -> Referral:
        """Log an inbound fax; if it answers a records request, mark that request received.

        A repeated report changes nothing.

        .. versionadded:: 0.1
        """
        interaction = Interaction(
            id=uuid5(_INBOUND_NS, f"fax:{fax.provider_ref}"),
            at=fax.received_at,
            channel=Channel.FAX,
            direction=Direction.INBOUND,
            outcome="received",
            actor_id=_INBOUND_ACTOR.id,
        )
        current = self.get(fax.referral_id)
        if any(i.id == interaction.id for i in current.interactions):
            return current

        def update(referral: Referral) -> dict[str, Any]:
            requests = tuple(
                r.model_copy(
                    update={
                        "status": RecordsRequestStatus.RECEIVED,
                        "documents": (*r.documents, fax.document.document_id),
                    }
                )
                if r.id == fax.records_request_id
                else r
                for r in referral.records_requests
            )
            return {
                "interactions": (*referral.interactions, interaction),
                "records_requests": requests,
            }

        return self.amend(
            fax.referral_id,
            "fax_received",
            actor=_INBOUND_ACTOR,
            update=update,
            data={
                "interaction_id": str(interaction.id),
                "document_id": fax.document.document_id,
                "records_request_id": (
                    str(fax.records_request_id) if fax.records_request_id else None
                ),
            },
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

    # -- Intake (issue 4): capture calls, create or link referrals, answer status calls -----

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
        return IntakeSession(call_type, config or IntakeConfig(), self.clock, language=language)

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
        result = session.result()
        if not result.complete:
            raise IntakeError(
                "incomplete",
                "The intake is not complete: " + ", ".join(result.missing or ("invalid values",)),
            )
        if session.call_type is CallType.NEW_REFERRAL:
            return self._submit_new_referral(session, actor)
        now = self.clock.now()
        query = session.lookup_query()
        matches = match_referrals(self._intake_candidates(), query) if query.usable else []
        referral = matches[0] if matches else None
        answer: StatusAnswer | None = None
        flags: list[IntakeFlag] = []
        if session.call_type in (CallType.STATUS_INQUIRY, CallType.AUTHORIZATION_QUESTION):
            answer = answer_status(
                referral,
                session.caller(),
                about_authorization=session.call_type is CallType.AUTHORIZATION_QUESTION,
                language=session.language or session.config.default_language,
            )
            outcome = "status_answered" if answer.verified else "handed_off"
        else:
            outcome = "captured"
        escalations = session.spec.escalations
        codes = answer.flags if answer is not None else ()
        if referral is None and query.usable:
            codes = (*codes, "referral_not_found")
        for code in dict.fromkeys(codes):
            flags.append(IntakeFlag(code, code.replace("_", " "), escalations.get(code)))
        if referral is not None and session.spec.log_to == "referral":
            referral = self.amend(
                referral.id,
                "call_logged",
                actor=actor,
                update=lambda current: {
                    "interactions": (
                        *current.interactions,
                        Interaction(
                            at=now,
                            channel=Channel.VOICE,
                            direction=Direction.INBOUND,
                            call_type=session.call_type.value,
                            outcome=outcome,
                            actor_id=actor.id,
                        ),
                    )
                },
                data={"call_id": str(session.id), "call_type": session.call_type.value},
            )
        call = session.to_call_record(
            outcome,
            resolved_at=now if outcome == "status_answered" else None,
            referral_id=referral.id if referral is not None else None,
            extra_flags=tuple(flags),
        )
        _log.info(
            "intake %s (%s) submitted: %s, referral %s",
            session.id,
            session.call_type.value,
            outcome,
            referral.id if referral is not None else None,
        )
        return IntakeOutcome(call, referral, answer=answer)

    def answer_status(self, session: IntakeSession) -> StatusAnswer:
        """Answer a status or authorization call without writing anything.

        Looks the referral up by the number or patient identity the session captured and
        discloses only what the verified caller may hear (see :mod:`referralkit.intake.status`).

        .. versionadded:: 0.1
        """
        query = session.lookup_query()
        matches = match_referrals(self._intake_candidates(), query) if query.usable else []
        return answer_status(
            matches[0] if matches else None,
            session.caller(),
            about_authorization=session.call_type is CallType.AUTHORIZATION_QUESTION,
            language=session.language or session.config.default_language,
        )

    def _submit_new_referral(self, session: IntakeSession, actor: Actor) -> IntakeOutcome:
        now = self.clock.now()
        referral = session.to_referral()
        duplicate = find_duplicate(
            referral,
            self._intake_candidates(ACTIVE_STATES),
            now=now,
            window=session.config.duplicate_window,
        )
        if duplicate is not None:
            linked = self.amend(
                duplicate.referral_id,
                "intake_linked",
                actor=actor,
                update=lambda current: {
                    "interactions": (
                        *current.interactions,
                        *(
                            i.model_copy(
                                update={"actor_id": actor.id, "outcome": "linked_duplicate"}
                            )
                            for i in referral.interactions
                        ),
                    ),
                    "flags": tuple(dict.fromkeys((*current.flags, *referral.flags))),
                },
                data={"call_id": str(session.id), "matched_on": duplicate.matched_on},
            )
            flag = IntakeFlag(
                "duplicate_referral",
                duplicate.message,
                session.spec.escalations.get("duplicate_referral"),
            )
            call = session.to_call_record(
                "linked_to_open_referral",
                resolved_at=now,
                referral_id=linked.id,
                extra_flags=(flag,),
            )
            _log.info("intake %s linked to open referral %s", session.id, linked.id)
            return IntakeOutcome(call, linked, duplicate=duplicate)
        # Compute both changes before writing either: a refusal (role, guard) writes nothing.
        first = created(referral, actor, now)
        second = self.lifecycle.fire(first.referral, "complete_intake", actor=actor, now=now)
        self.store.create(first.referral, first.event)
        self._notify(first.event)
        self.store.save(second.referral, second.event, expected_version=first.referral.version)
        self._notify(second.event)
        _log.info("intake %s created referral %s", session.id, referral.id)
        call = session.to_call_record("referral_created", resolved_at=now, referral_id=referral.id)
        return IntakeOutcome(call, second.referral, created=True)

    def _intake_candidates(
        self, statuses: Sequence[ReferralStatus] = tuple(ReferralStatus), page: int = 500
    ) -> Iterable[Referral]:
        # A scan streamed page by page: the Store port has no patient or number index yet.
        after: UUID | None = None
        while True:
            batch = self.store.list_by_status(statuses, limit=page, after=after)
            yield from batch
            if len(batch) < page:
                return
            after = batch[-1].id

    # -- Outreach (docs/outreach.md) ----------------------------------------------------

    def _outreach_planned(self, change: Change) -> Change:
        # next_action_at follows the outreach plan and is written with the change itself, so a
        # sweep touches exactly the referrals with due work and a crash cannot lose one.
        settings = self.outreach
        if settings is None:
            return change
        referral = change.referral
        events = [*self.store.events(referral.id), change.event]
        wanted = next_action_at(referral, events, settings, self.clock.now())
        if wanted == referral.next_action_at:
            return change
        return Change(referral.model_copy(update={"next_action_at": wanted}), change.event)

    def sweep(self, now: datetime | None = None, *, routing: bool = True) -> SweepReport:
        """Run due routing and outreach work: call it from cron, a scheduler or a worker loop.

        Routing runs first when the desk has it; then outreach claims due referrals (with a
        lease, so several workers may sweep at once), runs their due actions and records every
        outcome. Safe to run again after a crash: nobody is contacted twice for one planned
        action.

        :param now: the sweep's instant (default: the desk's clock).
        :param routing: also run the routing sweep (it examines every open referral, so hosts
            with many may run it less often than outreach).
        :returns: what was dispatched, skipped (and why), failed, and which tasks were opened.
        :raises TypeError: the store cannot lease due work.

        .. versionadded:: 0.1
        """
        at = now or self.clock.now()
        sweep_routing = getattr(self, "sweep_routing", None) if routing else None
        routing_report = sweep_routing(at) if callable(sweep_routing) else None
        report = (
            Dispatcher(self, self.outreach).sweep(at)
            if self.outreach is not None
            else SweepReport()
        )
        report.routing = routing_report
        return report

    def record_booking(
        self, referral_id: UUID, appointment: Appointment, *, actor: Actor
    ) -> Referral:
        """Record that the patient booked: ``schedule``, or ``reschedule`` if already booked.

        Pending outreach stops and appointment reminders are planned.

        :raises TransitionBlockedError: authorization does not cover the appointment date.

        .. versionadded:: 0.1
        """
        current = self.store.get(referral_id)
        trigger: Trigger = (
            "reschedule" if current.status is ReferralStatus.SCHEDULED else "schedule"
        )
        return self.fire(
            referral_id,
            trigger,
            actor=actor,
            data={"appointment": appointment},
            expected_version=current.version,
        )

    def record_patient_declined(
        self, referral_id: UUID, *, actor: Actor, note: str | None = None
    ) -> Referral:
        """Record that the patient declined the referred care: ``mark_lost`` (patient declined).

        Outreach stops, and the referring practice is sent a status update.

        :raises InvalidTransitionError: the referral is not in a state that can be lost (a
            booked appointment must be cancelled first).

        .. versionadded:: 0.1
        """
        return self.fire(
            referral_id,
            "mark_lost",
            actor=actor,
            data={"reason": "patient_declined", "note": note},
        )

    def withdraw_consent(
        self, referral_id: UUID, channel: Channel | None = None, *, actor: Actor
    ) -> Referral:
        """Commit an opt-out from automated contact on *channel*, or on every channel.

        Committed at once: pending attempts on that channel leave the plan, and an attempt that
        was interrupted mid-send is never re-sent.

        .. versionadded:: 0.1
        """
        now = self.clock.now()

        def update(referral: Referral) -> dict[str, Any]:
            patient = referral.patient
            if patient is None:
                return {}
            consent = withdraw(patient.consent, channel, now)
            return {"patient": patient.model_copy(update={"consent": consent})}

        return self.amend(
            referral_id,
            "consent_opted_out",
            actor=actor,
            update=update,
            data={"channel": channel.value if channel is not None else "all"},
        )

    # -- Routing: rules, human queues, SLA clocks (docs/routing.md) -------------------------

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
        at = now or self.clock.now()
        rules = self.routing_rules.active
        applied: _Decisions = []
        failed: _Failures = []
        attempt = 0
        while True:
            referral = self.store.get(referral_id)
            events = self.store.events(referral_id)
            result = evaluate(referral, events, rules, at)
            decisions = (*result.decisions, *self._contributed_routing(referral, events, at))
            version = referral.version
            try:
                for decision in decisions:
                    version, problem = self._apply_routing(referral, decision, version)
                    if problem is None:
                        applied.append(decision)
                    else:
                        failed.append((decision, problem))
            except ConflictError:
                # Another writer moved the referral: re-evaluate; recorded keys are skipped.
                attempt += 1
                if attempt >= _ROUTING_ATTEMPTS:
                    raise
                continue
            return RoutingReport(
                referral_id=referral_id,
                at=result.at,
                applied=tuple(applied),
                failed=tuple(failed),
                matched=result.matched,
                already_recorded=result.already_recorded,
            )

    def sweep_routing(
        self, now: datetime | None = None, *, page_size: int = 500
    ) -> RoutingSweepReport:
        """Route every open or held referral at *now*, page by page (keyset by id).

        A referral that keeps conflicting with other writers is counted and skipped; the next
        sweep picks it up.

        .. versionadded:: 0.1
        """
        at = now or self.clock.now()
        statuses = (*ACTIVE_STATES, ReferralStatus.ON_HOLD)
        examined = routed = decisions = failures = conflicts = 0
        after: UUID | None = None
        while True:
            page = self.store.list_by_status(statuses, limit=page_size, after=after)
            if not page:
                break
            for referral in page:
                examined += 1
                try:
                    report = self.route(referral.id, now=at)
                except ConflictError:
                    conflicts += 1
                    continue
                decisions += len(report.applied)
                failures += len(report.failed)
                routed += 1 if report.applied else 0
            after = page[-1].id
        _log.info("routing sweep: %d examined, %d decisions applied", examined, decisions)
        return RoutingSweepReport(at, examined, routed, decisions, failures, conflicts)

    def explain(
        self, referral_id: UUID, *, now: datetime | None = None
    ) -> tuple[RuleExplanation, ...]:
        """Explain every active routing rule for the referral: matched or not, and why.

        :raises ReferralNotFoundError: no such referral.

        .. versionadded:: 0.1
        """
        referral = self.store.get(referral_id)
        events = self.store.events(referral_id)
        return explain(referral, events, self.routing_rules.active, now or self.clock.now())

    def _contributed_routing(
        self, referral: Referral, events: Sequence[Event], at: datetime
    ) -> _Decisions:
        if not self.hooks.implemented("referralkit_add_routing_rules"):
            return []
        queues = self.routing_rules.active.queues.queues
        decisions: _Decisions = []
        for rule in self.hooks.routing_rules():
            try:
                suggestion = rule.evaluate(referral, at)
            except Exception:  # noqa: BLE001 - a plugin's failure must not stop routing
                _log.warning("contributed routing rule raised; ignored", exc_info=True)
                continue
            if suggestion is None:
                continue
            if suggestion.queue not in queues:
                _log.warning(
                    "routing rule %s suggested an undeclared queue; ignored", suggestion.rule_id
                )
                continue
            decision = suggested_decision(
                referral,
                events,
                at,
                rule_id=f"plugin.{suggestion.rule_id}",
                queue=suggestion.queue,
                title=suggestion.title,
                reason=suggestion.reason,
                priority=suggestion.priority,
                due_in=suggestion.due_in,
            )
            if decision is not None:
                decisions.append(decision)
        return decisions

    def _apply_routing(
        self, referral: Referral, decision: RoutingDecision, version: int
    ) -> tuple[int, str | None]:
        # Commit one routing decision; return the new version and a problem, if any.
        referral_id = referral.id
        data = decision.event_data()
        task = decision.task
        if decision.kind == "fire":
            return self._apply_routing_fire(referral_id, decision, version)
        if decision.recipient == "referrer":
            return self._apply_routing_referrer(referral, decision, version)
        if task is None:
            escalated = decision.escalate_task_id

            def raise_priority(current: Referral) -> Mapping[str, Any]:
                return {
                    "tasks": tuple(
                        t.model_copy(update={"priority": TaskPriority.URGENT})
                        if t.id == escalated
                        else t
                        for t in current.tasks
                    )
                }

            updated = self.amend(
                referral_id,
                "routing_task_escalated",
                actor=ROUTING_ACTOR,
                update=raise_priority,
                data=data,
                expected_version=version,
            )
            return updated.version, None
        notify = decision.kind == "notify"
        if notify:
            data["channel"] = "task"
        updated = self.amend(
            referral_id,
            "routing_notified" if notify else "routing_task_opened",
            actor=ROUTING_ACTOR,
            update=_with_task(task),
            data=data,
            expected_version=version,
        )
        if not notify:
            return updated.version, None
        # The task is the durable record; the alert only tells staff it is waiting.
        alert = StaffAlertRequest(
            idempotency_key=idempotency_key(referral_id, "routing:" + decision.key),
            referral_id=referral_id,
            task_id=task.id,
            queue=task.queue,
            title=task.title[:200],
            priority=task.priority,
            due_at=task.due_at,
        )
        try:
            self.dispatch(alert, queue=task.queue)
        except NoBackendError:
            return updated.version, None
        return self.store.get(referral_id).version, None

    def _apply_routing_referrer(
        self, referral: Referral, decision: RoutingDecision, version: int
    ) -> tuple[int, str | None]:
        referral_id = referral.id
        data = decision.event_data()
        try:
            request: PracticeUpdateRequest | None = PracticeUpdateRequest.for_referral(
                referral, action="routing:" + decision.key, attempt=1
            )
        except ValueError:  # the referring practice has no fax number
            request = None
        if request is not None:
            try:
                outcome = self.dispatch(request, queue=decision.queue or "practice_relations")
            except NoBackendError:
                pass
            else:
                data["channel"] = "notification"
                data["outcome"] = outcome.status
                updated = self.amend(
                    referral_id,
                    "routing_notified",
                    actor=ROUTING_ACTOR,
                    update={},
                    data=data,
                    expected_version=self.store.get(referral_id).version,
                )
                return updated.version, None
        # No way to reach the referrer automatically: a person tells them.
        data["channel"] = "task"
        task = decision.task
        updated = self.amend(
            referral_id,
            "routing_notified",
            actor=ROUTING_ACTOR,
            update=_with_task(task) if task is not None else {},
            data=data,
            expected_version=version,
        )
        return updated.version, None

    def _apply_routing_fire(
        self, referral_id: UUID, decision: RoutingDecision, version: int
    ) -> tuple[int, str | None]:
        data = decision.event_data()
        trigger = decision.trigger
        if trigger is None:  # pragma: no cover - the engine always sets it for "fire"
            return version, "no trigger"
        try:
            fired = self.fire(
                referral_id,
                trigger,
                actor=ROUTING_ACTOR,
                data=dict(decision.data),
                expected_version=version,
            )
        except (InvalidTransitionError, TriggerDataError) as exc:
            # Refused: record it (so it is not retried every sweep) and hand it to a person.
            data["refused"] = type(exc).__name__
            task = decision.task
            updated = self.amend(
                referral_id,
                "routing_fire_refused",
                actor=ROUTING_ACTOR,
                update=_with_task(task) if task is not None else {},
                data=data,
                expected_version=version,
            )
            return updated.version, f"trigger {trigger} refused: {type(exc).__name__}"
        updated = self.amend(
            referral_id,
            "routing_fired",
            actor=ROUTING_ACTOR,
            update={},
            data=data,
            expected_version=fired.version,
        )
        return updated.version, None


_ROUTING_ATTEMPTS: Final = 3
"""How often :meth:`ReferralDesk.route` re-evaluates after losing a race to another writer."""
_Decisions = list[RoutingDecision]  # the class's list() method shadows the builtin in it
_Failures = list[tuple[RoutingDecision, str]]


def _with_task(task: HumanTask) -> Callable[[Referral], Mapping[str, Any]]:
    # Applied to the freshly loaded referral; the deterministic task id makes it idempotent.
    def update(current: Referral) -> Mapping[str, Any]:
        if any(t.id == task.id for t in current.tasks):
            return {}
        return {"tasks": (*current.tasks, task)}

    return update
