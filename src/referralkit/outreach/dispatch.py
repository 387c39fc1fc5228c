"""The outreach dispatcher: claims due referrals, runs their due actions, records outcomes.

Driven by :meth:`referralkit.desk.ReferralDesk.sweep`; it talks to the desk through the small
:class:`OutreachDesk` protocol, so this module imports neither the desk nor the plugins.

One sweep, per referral::

    claim (lease)  ->  plan at now  ->  for each due action:
        patient contact / fax / referrer update:  desk.dispatch(request)
            (action_queued committed, adapter called with the idempotency key
             sha256(referral id, step, attempt), action_sent or a failure task committed)
        human task:                                desk.amend(task_opened)
        cadence exhausted:                         desk.fire(mark_lost)
    -> re-plan; move next_action_at if nothing more is due  ->  release the lease

A crash anywhere leaves either nothing (the lease expires, the next sweep plans the same
action) or an ``action_queued`` without an outcome: the planner returns it as *in flight* and
the next sweep re-sends it with the same key (the adapter dedupes), or, where the adapter
cannot dedupe, records it ``unknown`` and opens a task for a person. Nobody is contacted twice
for one planned action.

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final, Protocol
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import attrs

from referralkit.errors import AdapterError, ConflictError, InvalidTransitionError, NoBackendError
from referralkit.events import Event
from referralkit.lifecycle import Trigger, next_step
from referralkit.model import (
    Actor,
    ActorKind,
    Channel,
    HumanTask,
    Patient,
    Referral,
    ReferralStatus,
    Role,
    TaskPriority,
)
from referralkit.outreach.digest import (
    DIGEST_INTENT,
    DIGEST_OUTCOME,
    DigestIntent,
    DigestLog,
    DigestOutcome,
    digest_key,
    outcome_data,
    read_digests,
)
from referralkit.outreach.ledger import OUTREACH_TASK, TASK_OPENED
from referralkit.outreach.plan import Plan, PlannedAction
from referralkit.outreach.planner import digest_week, milestone_events, plan
from referralkit.outreach.policy import MILESTONES, Policy, default_policy
from referralkit.outreach.sms import (
    DEFAULT_SMS_TEMPLATES,
    OPT_OUT_HINT,
    SmsTooLongError,
    finish_sms,
    render_sms,
)
from referralkit.outreach.windows import BusinessCalendar
from referralkit.ports import (
    CallRequest,
    FaxRequest,
    LetterRequest,
    OutboundRequest,
    OutreachTemplate,
    PatientEmailRequest,
    PracticeDigestEntry,
    PracticeUpdateRequest,
    Receipt,
    SmsRequest,
)
from referralkit.store import LeasingStore, Store, WorkerStore

__all__ = [
    "OUTREACH_ACTOR",
    "ActionReport",
    "Dispatcher",
    "OutreachDesk",
    "OutreachSettings",
    "SweepReport",
    "next_action_at",
]

_log = logging.getLogger("referralkit.outreach")

OUTREACH_ACTOR: Final = Actor(kind=ActorKind.SYSTEM, id="referralkit.outreach", role=Role.SYSTEM)
"""The actor outreach records its tasks and ``mark_lost`` under."""


@attrs.frozen
class OutreachSettings:
    """How a desk runs outreach: the policy, the calendar, and the sweep's mechanics.

    :ivar worker: this process's name in leases (unique per process).
    :ivar lease: how long a claimed referral stays hidden from other workers; keep it longer
        than one referral's work and no shorter than ``policy.in_flight_timeout``.
    :ivar non_deduping: capabilities (``"telephony"``, ``"fax"``, ``"notification"``) whose
        adapter cannot honour idempotency keys: an interrupted send there is never re-sent but
        recorded ``unknown`` for a person.
    :ivar practice_name: the name SMS and letters sign with when the receiving practice has
        none.

    .. versionadded:: 0.1
    """

    policy: Policy = attrs.field(factory=default_policy)
    calendar: BusinessCalendar | None = None
    worker: str = attrs.field(factory=lambda: f"outreach-{uuid4().hex[:12]}")
    lease: timedelta = timedelta(minutes=10)
    page_size: int = attrs.field(default=200, validator=attrs.validators.ge(1))
    max_actions_per_referral: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    queue: str = "outreach"
    task_due: timedelta = timedelta(hours=4)
    non_deduping: frozenset[str] = frozenset()
    sms_templates: Mapping[str, str] = attrs.field(factory=lambda: dict(DEFAULT_SMS_TEMPLATES))
    practice_name: str = "Your care team"


def next_action_at(
    referral: Referral, events: Sequence[Event], settings: OutreachSettings, now: datetime
) -> datetime | None:
    """Return what the referral's ``next_action_at`` should be after *events*."""
    return plan(referral, events, settings.policy, settings.calendar, now).next_action_at


class _Outcome(Protocol):
    """What the desk's ``dispatch`` returns (``referralkit.outbox.DispatchOutcome``)."""

    @property
    def status(self) -> str: ...

    @property
    def task_id(self) -> UUID | None: ...

    @property
    def reason(self) -> str | None: ...


class OutreachDesk(Protocol):
    """The desk methods the dispatcher drives (:class:`~referralkit.desk.ReferralDesk`)."""

    @property
    def store(self) -> Store:
        """The store; it must also be a :class:`~referralkit.store.LeasingStore`."""
        ...

    def dispatch(
        self, request: OutboundRequest, *, queue: str = ..., expected_version: int | None = ...
    ) -> _Outcome:
        """Queue, send (with retries) and record one outbound request."""
        ...

    def call(self, request: OutboundRequest) -> Receipt:
        """Send one request with retries, unrecorded (a digest records on every member)."""
        ...

    def recover(
        self, referral_id: UUID, *, resend: bool = ..., queue: str = ..., key: str | None = ...
    ) -> Sequence[_Outcome]:
        """Finish queued actions: re-send with the same key, or record them ``unknown``."""
        ...

    def amend(
        self,
        referral_id: UUID,
        kind: str,
        *,
        actor: Actor,
        update: Mapping[str, Any] | Callable[[Referral], Mapping[str, Any]],
        data: Mapping[str, Any] | None = ...,
        expected_version: int | None = ...,
    ) -> Referral:
        """Commit a non-transition change with its event."""
        ...

    def fire(
        self,
        referral_id: UUID,
        trigger: Trigger,
        *,
        actor: Actor,
        data: Any = ...,
        expected_version: int | None = ...,
    ) -> Referral:
        """Fire a lifecycle trigger and commit it."""
        ...


@attrs.frozen
class ActionReport:
    """One action a sweep handled (PHI-free: ids, step keys, channels and codes)."""

    referral_id: UUID
    key: str
    action: str
    channel: str | None = None
    status: str = "sent"
    reason: str | None = None
    task_id: UUID | None = None


@attrs.define
class SweepReport:
    """What one :meth:`~referralkit.desk.ReferralDesk.sweep` did.

    :ivar dispatched: actions sent to an adapter (and re-sends of interrupted ones).
    :ivar skipped: due actions not run, and why (``conflict``: another writer got there first).
    :ivar failed: actions whose adapter failed, or whose fate is ``unknown``; each has a task.
    :ivar tasks_opened: human tasks opened by outreach steps.
    :ivar marked_lost: referrals whose cadence ran out and were marked lost.
    :ivar routing: the routing sweep's own report, when the desk ran one.
    :ivar tasks: the task sweep's report (snoozed tasks woken, overdue tasks escalated).

    .. versionadded:: 0.1
    """

    claimed: int = 0
    dispatched: list[ActionReport] = attrs.field(factory=list)
    skipped: list[ActionReport] = attrs.field(factory=list)
    failed: list[ActionReport] = attrs.field(factory=list)
    tasks_opened: list[ActionReport] = attrs.field(factory=list)
    marked_lost: list[ActionReport] = attrs.field(factory=list)
    routing: object | None = None
    tasks: object | None = None

    def summary(self) -> dict[str, int]:
        """Return the counts, for logs and metrics."""
        return {
            "claimed": self.claimed,
            "dispatched": len(self.dispatched),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "tasks_opened": len(self.tasks_opened),
            "marked_lost": len(self.marked_lost),
        }


_CAPABILITY: Final = {
    Channel.VOICE: "telephony",
    Channel.SMS: "telephony",
    Channel.EMAIL: "notification",
    Channel.LETTER: "notification",
}


def _capability(action: PlannedAction) -> str:
    if action.action == "fax_records":
        return "fax"
    if action.action == "notify_referrer":
        return "notification"
    return _CAPABILITY.get(action.channel, "notification") if action.channel else "notification"


@attrs.define
class Dispatcher:
    """Runs one outreach sweep over a desk's store.

    .. versionadded:: 0.1
    """

    desk: OutreachDesk
    settings: OutreachSettings
    templates: Sequence[OutreachTemplate] = ()
    """Templates contributed by plugins; one matching a step's template id, the channel and
    the patient's language is rendered instead of the built-in text.

    .. versionadded:: 0.2"""

    @property
    def _store(self) -> LeasingStore:
        store = self.desk.store
        if not isinstance(store, LeasingStore):
            raise TypeError(f"{type(store).__name__} cannot lease due work (no claim_due)")
        return store

    def sweep(
        self, now: datetime, *, progress: Callable[[int, int | None], None] | None = None
    ) -> SweepReport:
        """Claim every due referral page by page, run its due actions, and report.

        Claimed referrals keep their lease until the sweep ends, so one sweep never claims a
        referral twice; a referral another worker holds is left to it. One PHI-free log record
        (``referralkit.outreach``) gives the counts and the duration.

        :param progress: called with ``(referrals worked, None)`` after each referral (the
            total is not known while claiming page by page), and ``(n, n)`` at the end.

        .. versionchanged:: 0.2 *progress*.
        """
        store, settings = self._store, self.settings
        started = time.perf_counter()
        report = SweepReport()
        claimed: list[UUID] = []
        digests: dict[tuple[UUID, str], PlannedAction] = {}
        try:
            while True:
                page = store.claim_due(
                    now, worker=settings.worker, lease=settings.lease, limit=settings.page_size
                )
                report.claimed += len(page)
                for referral in page:
                    claimed.append(referral.id)
                    self._work(referral, now, report, digests)
                    if progress is not None:
                        progress(len(claimed), None)
                if len(page) < settings.page_size:
                    break
            # Digests last, while this sweep still holds every member's lease.
            self._digests(digests, now, report)
        finally:
            for referral_id in claimed:
                store.release(referral_id, worker=settings.worker)
        if progress is not None:
            progress(len(claimed), len(claimed))
        seconds = round(time.perf_counter() - started, 6)
        summary = report.summary()
        _log.info(
            "outreach sweep: %s in %.3f s",
            summary,
            seconds,
            extra={"referralkit": {"operation": "outreach_sweep", "seconds": seconds, **summary}},
        )
        return report

    def dispatch_referral(self, referral_id: UUID, now: datetime) -> SweepReport:
        """Lease one referral, run its due actions, release it, and report (a job's work).

        What one job of a job engine does (:mod:`referralkit.worker`): the same work a sweep
        does for each referral it claims. A referral that is not due, or that another worker
        holds, is left alone (``claimed`` is 0), so a duplicate job is harmless. A crash
        leaves the lease to expire; the next job for the referral resumes an interrupted
        action under its original idempotency key.

        :raises TypeError: the store cannot lease one named referral
            (:class:`~referralkit.store.WorkerStore`).

        .. versionadded:: 0.4
        """
        store, settings = self.desk.store, self.settings
        if not isinstance(store, WorkerStore):
            raise TypeError(f"{type(store).__name__} cannot lease one referral (no claim)")
        started = time.perf_counter()
        report = SweepReport()
        referral = store.claim(referral_id, now, worker=settings.worker, lease=settings.lease)
        if referral is None:
            return report
        report.claimed = 1
        digests: dict[tuple[UUID, str], PlannedAction] = {}
        try:
            self._work(referral, now, report, digests)
            # A job holds one lease, so its digest groups only this referral's milestones: a
            # practice may get a week in several messages, never a milestone twice.
            self._digests(digests, now, report)
        finally:
            store.release(referral_id, worker=settings.worker)
        seconds = round(time.perf_counter() - started, 6)
        summary = report.summary()
        _log.debug(
            "outreach dispatch: %s in %.3f s",
            summary,
            seconds,
            extra={
                "referralkit": {"operation": "outreach_dispatch", "seconds": seconds, **summary}
            },
        )
        return report

    def _plan(self, referral: Referral, events: Sequence[Event], now: datetime) -> Plan:
        return plan(referral, events, self.settings.policy, self.settings.calendar, now)

    def _work(
        self,
        referral: Referral,
        now: datetime,
        report: SweepReport,
        digests: dict[tuple[UUID, str], PlannedAction],
    ) -> None:
        store = self._store
        events = store.events(referral.id)
        wanted = referral.next_action_at
        for _ in range(self.settings.max_actions_per_referral):
            planned = self._plan(referral, events, now)
            due = []
            for action in planned.due(now):
                if action.action == "digest":
                    # Sent once the sweep has claimed all of the practice's due referrals.
                    digests[(referral.id, action.key)] = action
                else:
                    due.append(action)
            if not due:
                wanted = planned.next_action_at
                break
            try:
                self._run(referral, due[0], now, report)
            except ConflictError:
                # Another writer changed the referral since we read it; its change re-planned.
                report.skipped.append(_report(due[0], status="skipped", reason="conflict"))
                return
            referral = store.get(referral.id)
            events = store.events(referral.id)
        else:
            wanted = self._plan(referral, events, now).next_action_at
        if wanted != referral.next_action_at:
            # Nothing runnable now (the window closed since it was planned, say): move the
            # referral off the due list until its next action, without an event.
            store.reschedule(referral, wanted)

    def _run(
        self, referral: Referral, action: PlannedAction, now: datetime, report: SweepReport
    ) -> None:
        if action.in_flight:
            self._resume(referral, action, report)
        elif action.action == "task":
            self._open_task(referral, action, now, report, action.reason or "step")
        elif action.action == "mark_lost":
            self._mark_lost(referral, action, report)
        else:
            self._send(referral, action, now, report)

    # -- actions ------------------------------------------------------------------------

    def _resume(self, referral: Referral, action: PlannedAction, report: SweepReport) -> None:
        resend = action.abandon is None and _capability(action) not in self.settings.non_deduping
        # Only this action: each queued action has its own consent, window and dedupe verdict.
        outcomes = self.desk.recover(
            referral.id, resend=resend, queue=self.settings.queue, key=action.idempotency_key
        )
        for outcome in outcomes:
            entry = _report(
                action,
                status=outcome.status,
                reason=action.abandon or outcome.reason or "resumed",
                task_id=outcome.task_id,
            )
            (report.dispatched if outcome.status == "sent" else report.failed).append(entry)

    def _send(
        self, referral: Referral, action: PlannedAction, now: datetime, report: SweepReport
    ) -> None:
        try:
            request = self._request(referral, action, now)
        except SmsTooLongError:
            self._open_task(referral, action, now, report, "sms_too_long")
            return
        except ValueError:
            # The contact detail vanished between planning and sending: a person takes over.
            self._open_task(referral, action, now, report, "no_destination")
            return
        # Queued only if the referral is still as planned: a consent change committed since
        # (an SMS STOP on another worker) raises ConflictError and nothing is sent.
        try:
            outcome = self.desk.dispatch(
                request, queue=self.settings.queue, expected_version=referral.version
            )
        except NoBackendError:
            # No adapter for this capability (nothing was recorded): a person does it, and the
            # sweep goes on to the other referrals instead of failing on this one every time.
            self._open_task(referral, action, now, report, "no_backend")
            return
        entry = _report(
            action, status=outcome.status, reason=outcome.reason, task_id=outcome.task_id
        )
        (report.dispatched if outcome.status == "sent" else report.failed).append(entry)

    def _open_task(
        self,
        referral: Referral,
        action: PlannedAction,
        now: datetime,
        report: SweepReport,
        reason: str,
    ) -> None:
        queue = action.queue or self.settings.queue
        task = HumanTask(
            queue=queue,
            title=f"Outreach: {action.template or action.step_id}",
            reason=f"outreach {action.purpose} {action.step_id}: {reason}",
            priority=action.task_priority,
            created_at=now,
            due_at=now + self.settings.task_due,
            rule_id=f"outreach:{action.key}",
        )
        self.desk.amend(
            referral.id,
            TASK_OPENED,
            actor=OUTREACH_ACTOR,
            update=lambda current: {"tasks": (*current.tasks, task)},
            data={
                "task_id": str(task.id),
                "queue": queue,
                OUTREACH_TASK: action.key,
                "reason": reason,
            },
            expected_version=referral.version,
        )
        report.tasks_opened.append(
            _report(action, status="opened", reason=reason, task_id=task.id)
        )

    def _mark_lost(self, referral: Referral, action: PlannedAction, report: SweepReport) -> None:
        reason = action.lost_reason.value if action.lost_reason else "unreachable"
        try:
            self.desk.fire(
                referral.id,
                "mark_lost",
                actor=OUTREACH_ACTOR,
                data={"reason": reason, "note": "outreach cadence exhausted"},
                expected_version=referral.version,
            )
        except InvalidTransitionError:
            report.skipped.append(_report(action, status="skipped", reason="not_allowed"))
            return
        report.marked_lost.append(_report(action, status="lost", reason=reason))

    # -- practice digests (referralkit.outreach.digest has the crash model) ---------------

    def _digests(
        self,
        due: Mapping[tuple[UUID, str], PlannedAction],
        now: datetime,
        report: SweepReport,
    ) -> None:
        store = self._store
        groups: dict[tuple[str, date], list[tuple[Referral, PlannedAction]]] = {}
        finished: set[str] = set()
        for (referral_id, key), action in sorted(due.items(), key=lambda item: str(item[0])):
            referral = store.get(referral_id)
            period = date.fromisoformat(key.removeprefix("digest@"))
            open_intent = read_digests(store.events(referral_id)).get(period, DigestLog()).open
            if open_intent is not None:
                if open_intent.key in finished:
                    continue
                members = self._joined(open_intent)
                if members is not None:
                    # Every member recorded its intent, so the message may have gone out:
                    # the same message, with the same key, or "unknown" for a person.
                    finished.add(open_intent.key)
                    self._deliver(open_intent, members, now, report, resumed=True)
                    continue
                # Some member never joined, so the message was never sent: group again.
            practice = referral.referring_practice
            if practice is None or (practice.id or practice.npi) is None:
                report.skipped.append(_report(action, status="skipped", reason="no_referrer"))
                continue
            group = (str(practice.id or practice.npi), period)
            groups.setdefault(group, []).append((referral, action))
        for (practice_key, period), grouped in groups.items():
            self._form(practice_key, period, grouped, now, report)
        for referral_id in {referral_id for referral_id, _ in due}:
            referral = store.get(referral_id)
            wanted = self._plan(referral, store.events(referral_id), now).next_action_at
            if wanted != referral.next_action_at:
                store.reschedule(referral, wanted)

    def _joined(self, intent: DigestIntent) -> dict[UUID, DigestIntent] | None:
        """Return every member's intent for *intent*'s group, or ``None`` if one lacks it."""
        found: dict[UUID, DigestIntent] = {}
        for member in intent.members:
            log = read_digests(self._store.events(member)).get(intent.period)
            joined = log.intent(intent.key) if log is not None else None
            if joined is None:
                return None
            found[member] = joined
        return found

    def _form(
        self,
        practice_key: str,
        period: date,
        members: Sequence[tuple[Referral, PlannedAction]],
        now: datetime,
        report: SweepReport,
    ) -> None:
        updates = self.settings.policy.referrer_updates
        parts: list[tuple[Referral, PlannedAction, tuple[tuple[int, str], ...], str]] = []
        attempt = 1
        for referral, action in sorted(members, key=lambda m: str(m[0].id)):
            events = self._store.events(referral.id)
            log = read_digests(events).get(period, DigestLog())
            week = [
                e
                for e in milestone_events(referral, events, updates)
                if digest_week(e.at) == period and e.seq not in log.covered
            ]
            if not week:
                continue
            items = tuple((e.seq, MILESTONES.get(e.kind, e.kind)) for e in week)
            latest = week[-1].to_state or referral.status
            parts.append((referral, action, items, latest.value))
            attempt = max(attempt, len(log.failures) + 1)
        if not parts:
            return
        ids = tuple(referral.id for referral, *_ in parts)
        key = digest_key(practice_key, period, ids, attempt)
        intents: dict[UUID, DigestIntent] = {}
        for referral, action, items, state in parts:
            intent = DigestIntent(
                key=key,
                practice=practice_key,
                period=period,
                members=ids,
                attempt=attempt,
                items=items,
                status=state,
                number=referral.referral_number,
                at=now,
            )
            try:
                self.desk.amend(
                    referral.id,
                    DIGEST_INTENT,
                    actor=OUTREACH_ACTOR,
                    update={},
                    data=intent.data(),
                    expected_version=referral.version,
                )
            except ConflictError:
                # Not every member joined, so nothing is sent; the next sweep groups again.
                report.skipped.append(_report(action, status="skipped", reason="conflict"))
                return
            intents[referral.id] = intent
        self._deliver(intents[ids[0]], intents, now, report, resumed=False)

    def _deliver(
        self,
        intent: DigestIntent,
        members: Mapping[UUID, DigestIntent],
        now: datetime,
        report: SweepReport,
        *,
        resumed: bool,
    ) -> None:
        """Send a group's message (every member has its intent) and record the outcome."""
        outcome: DigestOutcome = "sent"
        reason: str | None = "resumed" if resumed else None
        extra: dict[str, object] = {}
        if resumed and "notification" in self.settings.non_deduping:
            outcome, reason = "unknown", "crash_recovery"
        else:
            try:
                receipt = self.desk.call(self._digest_request(intent, members))
                extra = {"provider_ref": receipt.provider_ref, "duplicate": receipt.duplicate}
            except ValueError:
                outcome, reason = "failed", "no_destination"
            except NoBackendError:
                outcome, reason = "failed", "no_backend"
            except AdapterError as exc:
                outcome, reason = "failed", type(exc).__name__
        task_id = None
        if outcome != "sent":
            task_id = self._digest_task(intent, now, outcome, reason or outcome)
        for member in sorted(members):
            log = read_digests(self._store.events(member)).get(intent.period, DigestLog())
            recorded = log.intent(intent.key)
            if recorded is not None and recorded.outcome is not None:
                continue  # recorded before a crash
            self.desk.amend(
                member,
                DIGEST_OUTCOME,
                actor=OUTREACH_ACTOR,
                update={},
                data=outcome_data(intent, outcome, reason=reason, **extra),
            )
            entry = ActionReport(
                referral_id=member,
                key=f"digest@{intent.period.isoformat()}",
                action="digest",
                status=outcome,
                reason=reason,
                task_id=task_id,
            )
            (report.dispatched if outcome == "sent" else report.failed).append(entry)

    def _digest_task(self, intent: DigestIntent, now: datetime, outcome: str, reason: str) -> UUID:
        # One task for the group, on its first member: a person checks or sends the digest.
        queue = self.settings.queue
        task = HumanTask(
            queue=queue,
            title="Outreach: referrer.digest",
            reason=f"referrer digest {intent.period.isoformat()} {outcome}: {reason}",
            priority=TaskPriority.HIGH,
            created_at=now,
            due_at=now + self.settings.task_due,
            rule_id=f"outreach:digest@{intent.period.isoformat()}",
        )
        self.desk.amend(
            intent.members[0],
            TASK_OPENED,
            actor=OUTREACH_ACTOR,
            update=lambda current: {"tasks": (*current.tasks, task)},
            data={"task_id": str(task.id), "queue": queue, "digest": intent.key, "reason": reason},
        )
        return task.id

    def _digest_request(
        self, intent: DigestIntent, members: Mapping[UUID, DigestIntent]
    ) -> PracticeUpdateRequest:
        # Rebuilt from the recorded intents alone, so a re-send is the same message.
        entries = tuple(
            PracticeDigestEntry(
                referral_id=member,
                referral_number=members[member].number,
                status=ReferralStatus(members[member].status),
                milestones=tuple(code for _, code in members[member].items),
            )
            for member in sorted(members)
        )
        first = self._store.get(entries[0].referral_id)
        request = PracticeUpdateRequest.for_referral(
            first,
            action=f"digest@{intent.period.isoformat()}",
            attempt=intent.attempt,
            status=entries[0].status,
            milestone="weekly_digest",
            milestones=[code for entry in entries for code in entry.milestones],
        )
        return request.model_copy(
            update={
                "idempotency_key": intent.key,
                "referral_number": entries[0].referral_number,
                "referrals": entries,
            }
        )

    # -- requests (minimum necessary) ----------------------------------------------------

    def _contributed(
        self, template_id: str, channel: Channel, patient: Patient
    ) -> OutreachTemplate | None:
        language = patient.preferred_language or "en"
        for wanted in (language, language.split("-")[0], "en"):
            for template in self.templates:
                if (
                    template.template_id == template_id
                    and template.channel is channel
                    and template.language == wanted
                ):
                    return template
        return None

    def _practice(self, referral: Referral) -> tuple[str, str]:
        practice = referral.receiving_practice
        name = practice.name if practice is not None else self.settings.practice_name
        phone = practice.phone if practice is not None and practice.phone else ""
        if phone and practice is not None and practice.phone_extension:
            # A practice line's extension is part of what the patient must dial.
            phone = f"{phone} ext. {practice.phone_extension}"
        return name, phone

    def _when(self, referral: Referral, action: PlannedAction) -> str:
        appointment = referral.current_appointment
        if appointment is None:
            return ""
        zone = ZoneInfo(action.zones[0]) if action.zones else None
        local = appointment.start.astimezone(zone) if zone else appointment.start
        return local.strftime("%b %d %I:%M %p").replace(" 0", " ")

    def _update(self, referral: Referral, action: PlannedAction) -> PracticeUpdateRequest:
        # Built from the committed event, never from the referral as it is at sweep time: a
        # visit completed and closed before one sweep sends "visit completed", then "closed".
        history = self._store.events(referral.id)
        event = next((e for e in history if e.seq == action.event_seq), None)
        if event is None:
            return PracticeUpdateRequest.for_referral(
                referral, action=action.key, attempt=action.attempt
            )
        reason = event.data.get("reason")
        appointment = event.data.get("appointment")
        start = appointment.get("start") if isinstance(appointment, dict) else None
        return PracticeUpdateRequest.for_referral(
            referral,
            action=action.key,
            attempt=action.attempt,
            status=event.to_state or referral.status,
            milestone=MILESTONES.get(event.kind, event.kind),
            reason_code=reason if isinstance(reason, str) else None,
            appointment_at=datetime.fromisoformat(start) if isinstance(start, str) else None,
        )

    def _request(
        self, referral: Referral, action: PlannedAction, now: datetime
    ) -> OutboundRequest:
        key, attempt = action.key, action.attempt
        if action.action == "fax_records":
            return FaxRequest.for_referral(
                referral,
                action=key,
                attempt=attempt,
                purpose="records_request",
                records_request_id=action.records_request_id,
            )
        if action.action == "notify_referrer":
            return self._update(referral, action)
        practice, phone = self._practice(referral)
        patient = referral.patient
        if patient is None:
            raise ValueError("no patient")
        if action.channel is Channel.VOICE:
            return CallRequest.for_referral(
                referral,
                action=key,
                attempt=attempt,
                script_id=action.template,
                window_start=now,
                window_end=action.not_after or now + timedelta(hours=1),
                phone_index=action.phone_index or 0,
            )
        if action.channel is Channel.SMS:
            when = self._when(referral, action)
            # The same next-step sentence a status call gives: the patient's part, in words.
            step = next_step(referral, patient.preferred_language or "en").patient_sms
            contributed = self._contributed(action.template, Channel.SMS, patient)
            if contributed is not None:
                fields = {
                    "practice": practice,
                    "phone": phone,
                    "when": when,
                    "next_step": step,
                    "stop": OPT_OUT_HINT,
                }
                body = finish_sms(contributed.render(fields), practice=practice)
            else:
                body = render_sms(
                    action.template,
                    practice=practice,
                    phone=phone,
                    when=when,
                    next_step=step,
                    templates=self.settings.sms_templates,
                )
            return SmsRequest.for_referral(
                referral, action=key, attempt=attempt, template_id=action.template, body=body
            )
        text = _letter_text(practice, phone)
        if action.channel is Channel.EMAIL:
            if patient.email is None:
                raise ValueError("no email")
            return PatientEmailRequest(
                idempotency_key=action.idempotency_key,
                referral_id=referral.id,
                to=patient.email,
                template_id=action.template,
                subject=f"{practice}: your referral",
                body=text,
                language=patient.preferred_language,
            )
        if patient.address is None:
            raise ValueError("no address")
        return LetterRequest(
            idempotency_key=action.idempotency_key,
            referral_id=referral.id,
            recipient_name=f"{patient.given_name} {patient.family_name}",
            address=patient.address,
            template_id=action.template,
            body=text,
            language=patient.preferred_language,
        )


def _letter_text(practice: str, phone: str) -> str:
    call = f" at {phone}" if phone else ""
    return (
        f"{practice} received a referral for you and has not been able to reach you. "
        f"Please call us{call} to book your visit."
    )


def _report(action: PlannedAction, **fields: Any) -> ActionReport:
    return ActionReport(
        referral_id=action.referral_id,
        key=action.key,
        action=action.action,
        channel=action.channel.value if action.channel else None,
        **fields,
    )
