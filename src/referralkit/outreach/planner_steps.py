"""Planning one cadence cycle: channels, phones, contact windows, resumes and exhaustion."""

from __future__ import annotations

from datetime import datetime, time
from typing import Final
from uuid import UUID

import attrs

from referralkit.model import (
    AuthorizationStatus,
    Channel,
    Patient,
    PhoneContact,
    PhoneKind,
    Referral,
)
from referralkit.outreach.consent import earliest_allowed
from referralkit.outreach.planner_history import _Context
from referralkit.outreach.planner_types import ActionKind, PlannedAction, Skipped
from referralkit.outreach.policy import Cadence, Hours, Step, WeeklyHours
from referralkit.outreach.windows import STATE_ZONES, ContactWindow, WeekdayCalendar, patient_zones

_REACHED: Final = frozenset({"sent", "unknown"})  # the patient may have been reached

_ALL_DAY: Final = WeeklyHours(Hours(time(0), time(23, 59, 59, 999999)))


# -- Channels, phones and windows ------------------------------------------------------------


def _phone_for(patient: Patient, channel: Channel) -> int | None:
    for index, phone in enumerate(patient.phones):
        if channel is Channel.VOICE or phone.kind is PhoneKind.MOBILE:
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
        if practice is None or practice.fax is None:
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
