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

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from referralkit.events import Event
from referralkit.model import (
    AuthorizationStatus,
    RecordsRequestStatus,
    Referral,
    ReferralStatus,
    TaskPriority,
)
from referralkit.outreach.planner_history import _Context, _read_events
from referralkit.outreach.planner_steps import _Cycle, _run_cycle
from referralkit.outreach.planner_types import (
    ACTION_QUEUED,
    ACTION_SENT,
    DONE_OUTCOMES,
    OUTREACH_TASK,
    PATIENT_CHANNELS,
    TASK_OPENED,
    ActionKind,
    Outcome,
    Plan,
    PlannedAction,
    Skipped,
    idempotency_key,
)
from referralkit.outreach.policy import Policy
from referralkit.outreach.windows import BusinessCalendar

__all__ = [
    "ACTION_QUEUED",
    "ACTION_SENT",
    "DONE_OUTCOMES",
    "OUTREACH_TASK",
    "PATIENT_CHANNELS",
    "TASK_OPENED",
    "ActionKind",
    "Outcome",
    "Plan",
    "PlannedAction",
    "Skipped",
    "idempotency_key",
    "plan",
]

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


def _auth_checks(ctx: _Context) -> None:
    referral, rules = ctx.referral, ctx.policy.auth
    auth = referral.authorization
    if auth.status is AuthorizationStatus.NOT_REQUIRED:
        return
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


def _referrer_updates(ctx: _Context, events: Sequence[Event]) -> None:
    templates = ctx.policy.referrer_updates.on
    if not templates:
        return
    for event in events:
        template = templates.get(event.kind)
        if template is None:
            continue
        key = f"update@{event.seq}"
        log = ctx.log(key)
        if log.done_at(ctx.policy.retry.max_attempts) is not None:
            continue
        if ctx.referral.referring_practice is None:
            ctx.skipped.append(Skipped(key, "no_referrer"))
            continue
        open_attempt = log.open_attempt()
        if open_attempt is not None:
            attempt, started = open_attempt
            not_before = max(started + ctx.policy.in_flight_timeout, ctx.now)
        else:
            attempt = log.failures() + 1
            last_failure = log.last_failure()
            not_before = max(event.at, ctx.now)
            if last_failure is not None:
                not_before = max(not_before, last_failure + ctx.policy.retry.delay)
        ctx.actions.append(
            PlannedAction(
                referral_id=ctx.referral.id,
                key=key,
                purpose="referrer_update",
                step_id=event.kind,
                attempt=attempt,
                action="notify_referrer",
                not_before=not_before,
                template=template,
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
        records = policy.cadence("records_follow_up", priority)
        if records is not None:
            for request in referral.records_requests:
                if request.status is not RecordsRequestStatus.REQUESTED:
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
    actions = tuple(sorted(ctx.actions, key=lambda a: (a.not_before, a.key)))
    return Plan(actions, tuple(ctx.skipped))
