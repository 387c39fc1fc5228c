"""The outreach planner: a pure function from a referral and its events to the next actions.

:func:`plan` reads what outreach already did from the event log (``outreach_started`` and
``outreach_result`` events, keyed by step), the patient's consent, the contact window and the
frequency caps, and returns every pending action with a not-before and not-after time. The
earliest not-before becomes the referral's ``next_action_at``, so a sweep only touches
referrals with due work.

Nothing here writes, sends or reads a clock: the dispatcher does that.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from uuid import UUID

import attrs

from referralkit.events import Event
from referralkit.model import (
    AuthorizationStatus,
    Channel,
    Patient,
    PhoneContact,
    PhoneKind,
    RecordsChannel,
    Referral,
    ReferralStatus,
    TaskPriority,
)
from referralkit.outreach.consent import earliest_allowed
from referralkit.outreach.digest import DigestLog, read_digests
from referralkit.outreach.ledger import (
    OutboxEntry,
    read_ledger,
)
from referralkit.outreach.plan import (
    DONE_OUTCOMES,
    ActionKind,
    Plan,
    PlannedAction,
    Skipped,
    idempotency_key,
)
from referralkit.outreach.policy import Cadence, Hours, Policy, ReferrerUpdates, Step, WeeklyHours
from referralkit.outreach.windows import (
    STATE_ZONES,
    BusinessCalendar,
    ContactWindow,
    WeekdayCalendar,
    business_days_after,
    business_days_before,
    patient_zones,
)

__all__ = ["digest_week", "milestone_events", "plan"]

# -- What outreach already did, read from the ledger ------------------------------------------


_OPERATION_CHANNELS: Final = {
    "place_call": Channel.VOICE,
    "send_sms": Channel.SMS,
    "email_patient": Channel.EMAIL,
    "send_letter": Channel.LETTER,
}


@attrs.define
class _StepLog:
    starts: dict[int, datetime] = attrs.field(factory=dict)
    results: dict[int, tuple[str, datetime]] = attrs.field(factory=dict)

    def failures(self) -> int:
        return sum(1 for outcome, _ in self.results.values() if outcome == "failed")

    def done_at(self, max_attempts: int) -> datetime | None:
        for outcome, at in self.results.values():
            if outcome in DONE_OUTCOMES:
                return at
        if self.failures() >= max_attempts:
            return max(at for _, at in self.results.values())
        return None

    def open_attempt(self) -> tuple[int, datetime] | None:
        for attempt, at in self.starts.items():
            if attempt not in self.results:
                return attempt, at
        return None

    def last_failure(self) -> datetime | None:
        times = [at for outcome, at in self.results.values() if outcome == "failed"]
        return max(times, default=None)


@attrs.define
class _Entry:
    """One outbox action as the events record it."""

    operation: str
    queued_at: datetime
    outcome: str | None = None
    ended_at: datetime | None = None


@attrs.define
class _Context:
    referral: Referral
    policy: Policy
    calendar: BusinessCalendar | None
    now: datetime
    entries: dict[str, _Entry]
    tasks: dict[str, datetime]
    contacts: list[datetime]
    actions: list[PlannedAction] = attrs.field(factory=list)
    skipped: list[Skipped] = attrs.field(factory=list)

    def log(self, key: str) -> _StepLog:
        """Return what the outbox and the task log say about the step *key*."""
        log = _StepLog()
        opened = self.tasks.get(key)
        if opened is not None:
            log.starts[1] = opened
            log.results[1] = ("opened", opened)
            return log
        attempt = 1
        while True:
            entry = self.entries.get(idempotency_key(self.referral.id, key, attempt))
            if entry is None:
                return log
            log.starts[attempt] = entry.queued_at
            if entry.outcome is not None and entry.ended_at is not None:
                log.results[attempt] = (entry.outcome, entry.ended_at)
            attempt += 1

    def started_channel(self, key: str, attempt: int) -> Channel | None:
        entry = self.entries.get(idempotency_key(self.referral.id, key, attempt))
        return _OPERATION_CHANNELS.get(entry.operation) if entry is not None else None


def _read_events(
    events: Iterable[Event],
) -> tuple[dict[str, _Entry], dict[str, datetime], list[datetime]]:
    ledger = read_ledger(events)
    entries = {
        key: _Entry(entry.operation, entry.queued_at or entry.ended_at or _EPOCH, *_ended(entry))
        for key, entry in ledger.entries.items()
    }
    # Every patient contact that may have happened counts against the caps, at its queue time.
    contacts = [
        entries[key].queued_at
        for key, entry in ledger.entries.items()
        if entry.contacts_patient and entry.may_have_reached
    ]
    return entries, dict(ledger.step_tasks), contacts


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _ended(entry: OutboxEntry) -> tuple[str | None, datetime | None]:
    status = entry.status
    if status == "queued":
        return None, None
    if status == "failed":
        # Transient faults that outlasted the retries get a later attempt; the rest are final.
        outcome = "failed" if entry.reason == "retries_exhausted" else "rejected"
    elif status == "cancelled":
        outcome = "rejected"  # refused before the adapter (consent, state): never re-sent
    else:
        outcome = status
    return outcome, entry.ended_at


# -- Planning one cadence cycle ---------------------------------------------------------------


_REACHED: Final = frozenset({"sent", "unknown"})  # the patient may have been reached

_ALL_DAY: Final = WeeklyHours(Hours(time(0), time(23, 59, 59, 999999)))


# -- Channels, phones and windows ------------------------------------------------------------


def _phone_for(patient: Patient, channel: Channel) -> int | None:
    stopped = patient.consent.opted_out_numbers
    for index, phone in enumerate(patient.phones):
        if channel is Channel.VOICE or (
            phone.kind is PhoneKind.MOBILE and phone.number not in stopped
        ):
            return index
    return None


def _usable(patient: Patient | None, channel: Channel) -> str | None:
    """Return why *channel* cannot reach the patient, or ``None`` if it can."""
    if patient is None:
        return "no_patient"
    if not patient.consent.allows(channel):
        return "consent"
    if channel in (Channel.VOICE, Channel.SMS):
        return None if _phone_for(patient, channel) is not None else f"no_{channel.value}_number"
    if channel is Channel.EMAIL:
        return None if patient.email else "no_email"
    if channel is Channel.LETTER:
        return None if patient.address else "no_address"
    return "not_a_patient_channel"  # pragma: no cover - steps are validated


def _conditions_hold(referral: Referral, step: Step) -> bool:
    patient = referral.patient
    for condition in step.when:
        if condition == "has_phone":
            ok = patient is not None and bool(patient.phones)
        elif condition == "has_mobile":
            ok = patient is not None and _phone_for(patient, Channel.SMS) is not None
        elif condition == "has_email":
            ok = patient is not None and patient.email is not None
        elif condition == "has_address":
            ok = patient is not None and patient.address is not None
        elif condition == "auth_required":
            ok = referral.authorization.status is not AuthorizationStatus.NOT_REQUIRED
        else:
            ok = referral.authorization.status is AuthorizationStatus.NOT_REQUIRED
        if not ok:
            return False
    return True


def _window(
    ctx: _Context, channel: Channel, phone: PhoneContact | None, business_days: bool
) -> ContactWindow | None:
    calendar = ctx.calendar if business_days else None
    if business_days and calendar is None:
        calendar = WeekdayCalendar()
    patient = ctx.referral.patient
    if channel in ctx.policy.windowed_channels:
        return ContactWindow.for_patient(ctx.policy.window, patient, phone, calendar)
    if business_days:
        zones = patient_zones(patient, phone) or ("UTC",)
        return ContactWindow(zones, _ALL_DAY, calendar)
    return None


def _practice_window(ctx: _Context, business_days: bool) -> ContactWindow | None:
    if not business_days:
        return None
    practice = ctx.referral.receiving_practice
    state = practice.address.state if practice and practice.address else None
    zones = STATE_ZONES.get(state, ("UTC",))[:1] if state else ("UTC",)
    return ContactWindow(zones, _ALL_DAY, ctx.calendar or WeekdayCalendar())


# -- Cadences -------------------------------------------------------------------------------


@attrs.frozen
class _Cycle:
    cadence: Cadence
    key: str
    anchor: datetime
    ends: datetime | None = None  # nothing planned at or after (an appointment's start)
    records_request_id: UUID | None = None


def _expiry(cycle: _Cycle, step: Step, due_at: datetime) -> datetime | None:
    expiry = due_at + step.valid_for if step.valid_for is not None else None
    if cycle.ends is not None:
        expiry = cycle.ends if expiry is None else min(expiry, cycle.ends)
    return expiry


def _run_cycle(ctx: _Context, cycle: _Cycle) -> None:
    policy = ctx.policy
    last_done = cycle.anchor
    contacted = False
    reasons: list[str] = []
    for step in cycle.cadence.steps:
        key = f"{cycle.key}/{step.id}"
        log = ctx.log(key)
        done_at = log.done_at(policy.retry.max_attempts)
        if done_at is not None:
            last_done = max(last_done, done_at)
            contacted = contacted or any(o in _REACHED for o, _ in log.results.values())
            continue
        due_at = cycle.anchor + step.offset
        open_attempt = log.open_attempt()
        if open_attempt is not None:
            _resume(ctx, cycle, step, key, *open_attempt)
            return
        expiry = _expiry(cycle, step, due_at)
        if expiry is not None and ctx.now >= expiry:
            ctx.skipped.append(Skipped(key, "expired"))
            continue
        if not _conditions_hold(ctx.referral, step):
            ctx.skipped.append(Skipped(key, "condition"))
            continue
        last_failure = log.last_failure()
        if last_failure is not None:
            due_at = max(due_at, last_failure + policy.retry.delay)
        attempt = log.failures() + 1
        planned = _plan_step(ctx, cycle, step, key, attempt, max(due_at, ctx.now), expiry)
        if isinstance(planned, str):
            ctx.skipped.append(Skipped(key, planned))
            reasons.append(planned)
            continue
        ctx.actions.append(planned)
        return
    _exhaust(ctx, cycle, last_done, contacted, reasons)


def _proto(
    ctx: _Context, cycle: _Cycle, step: Step, key: str, attempt: int, start: datetime
) -> PlannedAction:
    return PlannedAction(
        referral_id=ctx.referral.id,
        key=key,
        purpose=cycle.cadence.purpose,
        step_id=step.id,
        attempt=attempt,
        action="task",
        not_before=start,
        template=step.template,
        queue=step.queue,
        task_priority=step.task_priority,
    )


def _plan_step(
    ctx: _Context,
    cycle: _Cycle,
    step: Step,
    key: str,
    attempt: int,
    start: datetime,
    expiry: datetime | None,
) -> PlannedAction | str:
    referral = ctx.referral
    base = _proto(ctx, cycle, step, key, attempt, start)
    if step.action == "task":
        return attrs.evolve(base, action="task", not_before=start, reason="step")
    if step.action == "fax_records":
        practice = referral.referring_practice
        asked = next(
            (r for r in referral.records_requests if r.id == cycle.records_request_id), None
        )
        other_fax = asked.from_fax if asked is not None else None
        if other_fax is None and (practice is None or practice.fax is None):
            return attrs.evolve(base, action="task", not_before=start, reason="no_fax_number")
        window = _practice_window(ctx, step.business_days)
        not_before = window.next_open(start, until=expiry) if window else start
        if not_before is None:
            return "expired"
        return attrs.evolve(
            base,
            action="fax_records",
            not_before=not_before,
            not_after=expiry,
            records_request_id=cycle.records_request_id,
        )
    # A patient contact: first usable channel of the step and its fallbacks.
    patient = referral.patient
    why: list[str] = []
    for channel in (step.channel, *step.fallback):
        assert channel is not None  # noqa: S101 - validated by Step
        problem = _usable(patient, channel)
        if problem is not None:
            why.append(problem)
            continue
        assert patient is not None  # noqa: S101 - _usable checked it
        phone_index = (
            _phone_for(patient, channel) if channel in (Channel.VOICE, Channel.SMS) else None
        )
        phone = patient.phones[phone_index] if phone_index is not None else None
        window = _window(ctx, channel, phone, step.business_days)
        if window is None and channel in ctx.policy.windowed_channels:
            # No zone known or derivable: never an automated call, a person does it instead.
            return attrs.evolve(
                base, action="task", not_before=start, reason="no_time_zone", channel=channel
            )
        allowed = earliest_allowed(ctx.contacts, start, ctx.policy.caps)
        if expiry is not None and allowed >= expiry:
            return "cap"
        opens = allowed
        not_after = expiry
        if window is not None:
            found = window.next_open(allowed, until=expiry)
            if found is None:
                return "no_window"
            opens = found
            closes = window.closes_at(opens)
            not_after = closes if expiry is None else min(closes, expiry)
        return attrs.evolve(
            base,
            action="contact",
            not_before=opens,
            not_after=not_after,
            channel=channel,
            phone_index=phone_index,
            zones=window.zones if window is not None else (),
        )
    return "consent" if "consent" in why else (why[0] if why else "no_channel")


def _resume(
    ctx: _Context, cycle: _Cycle, step: Step, key: str, attempt: int, started: datetime
) -> None:
    """Plan the resumption of an attempt whose outcome was never recorded."""
    start = max(started + ctx.policy.in_flight_timeout, ctx.now)
    base = attrs.evolve(_proto(ctx, cycle, step, key, attempt, start), in_flight=True)
    if step.action != "contact":
        action: ActionKind = "fax_records" if step.action == "fax_records" else "task"
        ctx.actions.append(
            attrs.evolve(
                base, action=action, not_before=start, records_request_id=cycle.records_request_id
            )
        )
        return
    patient = ctx.referral.patient
    channel = ctx.started_channel(key, attempt) or step.channel
    assert channel is not None  # noqa: S101 - validated by Step
    problem = _usable(patient, channel)
    if problem is not None or patient is None:
        # Consent withdrawn (or the number removed) since the intent: never re-send.
        ctx.actions.append(
            attrs.evolve(
                base, action="contact", not_before=start, channel=channel, abandon=problem
            )
        )
        return
    phone_index = _phone_for(patient, channel) if channel in (Channel.VOICE, Channel.SMS) else None
    phone = patient.phones[phone_index] if phone_index is not None else None
    window = _window(ctx, channel, phone, step.business_days)
    if window is None and channel in ctx.policy.windowed_channels:
        ctx.actions.append(
            attrs.evolve(
                base, action="contact", not_before=start, channel=channel, abandon="no_time_zone"
            )
        )
        return
    opens = window.next_open(start) if window is not None else start
    if opens is None:
        ctx.actions.append(
            attrs.evolve(
                base, action="contact", not_before=start, channel=channel, abandon="no_window"
            )
        )
        return
    ctx.actions.append(
        attrs.evolve(
            base,
            action="contact",
            not_before=opens,
            not_after=window.closes_at(opens) if window is not None else None,
            channel=channel,
            phone_index=phone_index,
            zones=window.zones if window is not None else (),
        )
    )


def _exhaust(
    ctx: _Context, cycle: _Cycle, last_done: datetime, contacted: bool, reasons: list[str]
) -> None:
    exhaustion = cycle.cadence.on_exhausted
    if exhaustion.action == "none":
        return
    key = f"{cycle.key}/exhausted"
    if ctx.log(key).done_at(1) is not None:
        return
    at = max(last_done + cycle.cadence.grace, ctx.now)
    base = PlannedAction(
        referral_id=ctx.referral.id,
        key=key,
        purpose=cycle.cadence.purpose,
        step_id="exhausted",
        attempt=1,
        action="task",
        not_before=at,
        template=exhaustion.template,
        queue=exhaustion.queue,
        task_priority=exhaustion.task_priority,
    )
    patient = ctx.referral.patient
    opted_out = patient is not None and not patient.consent.contact_allowed
    if exhaustion.action == "mark_lost" and contacted and not opted_out:
        ctx.actions.append(
            attrs.evolve(
                base, action="mark_lost", lost_reason=exhaustion.lost_reason, reason="exhausted"
            )
        )
        return
    # A task: asked for, or nobody could be contacted automatically at all (a person decides
    # whether the referral is lost; opting out of messages is not declining care).
    if opted_out or (not contacted and "consent" in reasons):
        reason = "consent"
    else:
        reason = "exhausted" if contacted else "no_contact"
    ctx.actions.append(attrs.evolve(base, action="task", reason=reason))


# -- The plan -----------------------------------------------------------------------------------


_OPEN: Final = frozenset(
    {
        ReferralStatus.RECEIVED,
        ReferralStatus.ACCEPTED,
        ReferralStatus.PENDING_AUTH,
        ReferralStatus.READY_TO_SCHEDULE,
        ReferralStatus.SCHEDULED,
        ReferralStatus.VISIT_COMPLETED,
    }
)


def _entered(events: Sequence[Event], state: ReferralStatus) -> Event | None:
    """Return the event by which the referral last entered *state* (not a resume)."""
    for event in reversed(events):
        if event.to_state is state and event.from_state is not state and event.kind != "resume":
            return event
    return None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _records_checks(ctx: _Context) -> None:
    # Required records still missing N business days before the visit: a person chases them
    # (once per appointment; a rebooked visit is checked again).
    referral, rules = ctx.referral, ctx.policy.records
    appointment = referral.current_appointment
    if referral.status is not ReferralStatus.SCHEDULED or appointment is None:
        return
    if not any(r.required and r.is_open for r in referral.records_requests):
        return
    key = f"records_missing@{appointment.id.hex[:12]}"
    if ctx.log(key).done_at(1) is not None or appointment.start <= ctx.now:
        return
    calendar = ctx.calendar or WeekdayCalendar()
    day = business_days_before(appointment.start.date(), rules.missing_before_visit, calendar)
    ctx.actions.append(
        PlannedAction(
            referral_id=referral.id,
            key=key,
            purpose="records_follow_up",
            step_id="records_missing",
            attempt=1,
            action="task",
            not_before=max(_day_start(day), ctx.now),
            template="records.missing_before_visit",
            reason="records_missing_before_visit",
            queue=rules.queue,
            task_priority=TaskPriority.HIGH,
        )
    )


def _auth_task(ctx: _Context, key: str, template: str, reason: str, at: datetime) -> None:
    if ctx.log(key).done_at(1) is not None:
        return
    ctx.actions.append(
        PlannedAction(
            referral_id=ctx.referral.id,
            key=key,
            purpose="auth_follow_up",
            step_id=key.split("@", 1)[0],
            attempt=1,
            action="task",
            not_before=max(at, ctx.now),
            template=template,
            reason=reason,
            queue=ctx.policy.auth.queue,
            task_priority=TaskPriority.HIGH,
        )
    )


def _auth_alerts(ctx: _Context) -> None:
    # Staff alerts: needed and not requested, with the payer too long, visits used up. Each
    # opens once per occurrence (a new submission or a new approval number is a new one).
    auth, rules = ctx.referral.authorization, ctx.policy.auth
    if auth.status is AuthorizationStatus.REQUIRED:
        _auth_task(ctx, "auth_needed@0", "auth.needed", "authorization_needed", ctx.now)
    elif auth.status in (AuthorizationStatus.SUBMITTED, AuthorizationStatus.PENDED):
        if auth.submitted_at is not None:
            calendar = ctx.calendar or WeekdayCalendar()
            day = business_days_after(auth.submitted_at.date(), rules.pending_after, calendar)
            _auth_task(
                ctx,
                f"auth_pending@{auth.submitted_at.isoformat()}",
                "auth.pending_too_long",
                "authorization_pending_too_long",
                datetime.combine(day, auth.submitted_at.timetz()),
            )
    elif auth.visits_left == 0 and ctx.referral.status in (
        ReferralStatus.READY_TO_SCHEDULE,
        ReferralStatus.SCHEDULED,
    ):
        _auth_task(
            ctx,
            f"auth_used_up@{auth.number or ''}",
            "auth.used_up",
            "authorization_visits_used_up",
            ctx.now,
        )


def _auth_checks(ctx: _Context) -> None:
    referral, rules = ctx.referral, ctx.policy.auth
    auth = referral.authorization
    if auth.status is AuthorizationStatus.NOT_REQUIRED:
        return
    _auth_alerts(ctx)
    appointment = referral.current_appointment
    if referral.status is ReferralStatus.SCHEDULED and appointment is not None:
        day = appointment.start.date()
        if not auth.covers(day):
            key = f"auth_expiry@{appointment.id.hex[:12]}"
            if ctx.log(key).done_at(1) is None:
                ctx.actions.append(
                    PlannedAction(
                        referral_id=referral.id,
                        key=key,
                        purpose="auth_follow_up",
                        step_id="auth_expiry",
                        attempt=1,
                        action="task",
                        not_before=ctx.now,
                        template="auth.expires_before_appointment",
                        reason="authorization_does_not_cover_appointment",
                        queue=rules.queue,
                        task_priority=TaskPriority.HIGH,
                    )
                )
    elif referral.status is ReferralStatus.READY_TO_SCHEDULE and auth.valid_to is not None:
        key = f"auth_expiring@{auth.valid_to.isoformat()}"
        if ctx.log(key).done_at(1) is None:
            at = _day_start(auth.valid_to) - rules.warn_before
            ctx.actions.append(
                PlannedAction(
                    referral_id=referral.id,
                    key=key,
                    purpose="auth_follow_up",
                    step_id="auth_expiring",
                    attempt=1,
                    action="task",
                    not_before=max(at, ctx.now),
                    template="auth.expiring_unscheduled",
                    reason="authorization_expiring",
                    queue=rules.queue,
                    task_priority=TaskPriority.HIGH,
                )
            )


def milestone_events(
    referral: Referral, events: Sequence[Event], updates: ReferrerUpdates
) -> list[Event]:
    """Return the events the referring practice is told about, oldest first.

    .. versionadded:: 0.3
    """
    report = referral.consult_report
    report_delivered = report is not None and report.delivered_at is not None
    practice = referral.referring_practice
    practice_key = (practice.id or practice.npi) if practice is not None else None
    found = []
    for event in events:
        if event.kind not in updates.on or not updates.wants(practice_key, event.kind):
            continue
        if event.kind == "close_loop" and report_delivered:
            # The delivered consult report is the practice's "report sent": no second message.
            continue
        found.append(event)
    return found


def digest_week(instant: datetime) -> date:
    """Return the Monday (UTC) of the week *instant* falls in: a weekly digest's key.

    .. versionadded:: 0.3
    """
    day = instant.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def _referrer_updates(ctx: _Context, events: Sequence[Event]) -> None:
    updates = ctx.policy.referrer_updates
    if not updates.on:
        return
    wanted = milestone_events(ctx.referral, events, updates)
    if updates.digest_for(ctx.referral.referring_practice):
        _plan_digests(ctx, events, wanted)
        return
    for event in wanted:
        # One key per committed event: each occurrence of a milestone is sent once, however
        # many sweeps see it, and a crash between commit and send resumes the same key.
        _plan_update(ctx, f"update@{event.seq}", event.kind, event, event.at)


def _plan_digests(ctx: _Context, events: Sequence[Event], wanted: Sequence[Event]) -> None:
    # One digest per practice per week, sent the next Monday with every referral of the
    # practice (referralkit.outreach.digest). Each milestone event belongs to one week and is
    # planned until an intent naming it was sent, so each occurrence is in exactly one digest.
    if ctx.referral.referring_practice is None:
        if wanted:
            ctx.skipped.append(Skipped("digest", "no_referrer"))
        return
    logs = read_digests(events)
    weeks: dict[date, list[Event]] = {}
    for event in wanted:
        weeks.setdefault(digest_week(event.at), []).append(event)
    retry = ctx.policy.retry
    for monday, week in sorted(weeks.items()):
        log = logs.get(monday, DigestLog())
        pending = [e for e in week if e.seq not in log.covered]
        failures = log.failures
        if not pending or len(failures) >= retry.max_attempts:
            continue
        open_intent = log.open
        if open_intent is not None:
            not_before = max(open_intent.at + ctx.policy.in_flight_timeout, ctx.now)
        else:
            due = datetime.combine(monday + timedelta(days=7), time(13), tzinfo=UTC)
            not_before = max(due, ctx.now)
            if failures:
                not_before = max(not_before, failures[-1] + retry.delay)
        ctx.actions.append(
            PlannedAction(
                referral_id=ctx.referral.id,
                key=f"digest@{monday.isoformat()}",
                purpose="referrer_update",
                step_id="digest",
                attempt=len(failures) + 1,
                action="digest",
                not_before=not_before,
                template="referrer.digest",
                in_flight=open_intent is not None,
                event_seq=pending[-1].seq,
            )
        )


def _plan_update(ctx: _Context, key: str, step: str, event: Event, due: datetime) -> None:
    log = ctx.log(key)
    if log.done_at(ctx.policy.retry.max_attempts) is not None:
        return
    if ctx.referral.referring_practice is None:
        ctx.skipped.append(Skipped(key, "no_referrer"))
        return
    open_attempt = log.open_attempt()
    if open_attempt is not None:
        attempt, started = open_attempt
        not_before = max(started + ctx.policy.in_flight_timeout, ctx.now)
    else:
        attempt = log.failures() + 1
        last_failure = log.last_failure()
        not_before = max(due, ctx.now)
        if last_failure is not None:
            not_before = max(not_before, last_failure + ctx.policy.retry.delay)
    ctx.actions.append(
        PlannedAction(
            referral_id=ctx.referral.id,
            key=key,
            purpose="referrer_update",
            step_id=step,
            attempt=attempt,
            action="notify_referrer",
            not_before=not_before,
            template=ctx.policy.referrer_updates.on.get(event.kind, "referrer.digest"),
            in_flight=open_attempt is not None,
            event_seq=event.seq,
        )
    )


def plan(
    referral: Referral,
    events: Sequence[Event],
    policy: Policy,
    calendar: BusinessCalendar | None,
    now: datetime,
    *,
    prior_contacts: Sequence[datetime] = (),
) -> Plan:
    """Compute the referral's pending outreach actions at *now*.

    :param events: the referral's events, oldest first (``Store.events``).
    :param calendar: business days for steps that ask for them (weekdays if ``None``).
    :param prior_contacts: instants of automated contacts with the same patient recorded on
        other referrals, so frequency caps hold per patient, not per referral.
    :returns: the plan; ``plan.next_action_at`` is what the referral's ``next_action_at``
        should be.
    """
    entries, tasks, contacts = _read_events(events)
    ctx = _Context(referral, policy, calendar, now, entries, tasks, [*contacts, *prior_contacts])
    status = referral.status
    priority = referral.priority
    if status is ReferralStatus.READY_TO_SCHEDULE:
        entered = _entered(events, status)
        purpose = (
            "no_show_recovery" if entered is not None and entered.kind == "no_show" else "schedule"
        )
        cadence = policy.cadence(purpose, priority)  # type: ignore[arg-type]
        if cadence is not None:
            anchor = entered.at if entered is not None else (referral.updated_at or now)
            seq = entered.seq if entered is not None else 0
            _run_cycle(ctx, _Cycle(cadence, f"{purpose}@{seq}", anchor))
    elif status is ReferralStatus.SCHEDULED:
        appointment = referral.current_appointment
        cadence = policy.cadence("reminder", priority)
        if appointment is not None and cadence is not None and appointment.start > now:
            cycle = _Cycle(
                cadence,
                f"reminder@{appointment.id.hex[:12]}",
                appointment.start,
                appointment.start,
            )
            _run_cycle(ctx, cycle)
    elif status is ReferralStatus.PENDING_AUTH:
        entered = _entered(events, status)
        cadence = policy.cadence("auth_follow_up", priority)
        if cadence is not None:
            anchor = entered.at if entered is not None else (referral.updated_at or now)
            seq = entered.seq if entered is not None else 0
            _run_cycle(ctx, _Cycle(cadence, f"auth@{seq}", anchor))
    if status in _OPEN:
        _auth_checks(ctx)
        _records_checks(ctx)
        records = policy.cadence("records_follow_up", priority)
        if records is not None:
            for request in referral.records_requests:
                # Chased by fax until every kind asked for is in (or staff waive or fail it);
                # EHR fetches and notifications are not re-sent by the planner.
                if not request.is_open or request.channel is not RecordsChannel.FAX:
                    continue
                anchor = request.due_at or request.requested_at + timedelta(days=2)
                cycle = _Cycle(
                    records,
                    f"records@{request.id.hex[:12]}",
                    anchor,
                    records_request_id=request.id,
                )
                _run_cycle(ctx, cycle)
    _referrer_updates(ctx, events)
    # Referrer updates due together go in the order of their events ("update@12" sorts
    # before "update@5" as text): a practice hears "scheduled" before "report sent".
    actions = tuple(
        sorted(
            ctx.actions,
            key=lambda a: (a.not_before, a.event_seq if a.event_seq is not None else -1, a.key),
        )
    )
    return Plan(actions, tuple(ctx.skipped))
