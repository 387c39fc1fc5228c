"""The default outreach policy, :func:`default_policy` (``docs/outreach.md`` lists it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from referralkit.model import Channel, LostReason, Priority, TaskPriority
from referralkit.outreach.policy_types import Cadence, Exhaustion, Policy, Step

__all__ = ["default_policy"]

_D = timedelta(days=1)


def _contact(step_id: str, days: float, channel: Channel, **kwargs: Any) -> Step:
    fallback = (Channel.VOICE,) if channel is Channel.SMS else ()
    return Step(
        id=step_id,
        offset=timedelta(days=days),
        channel=channel,
        fallback=kwargs.pop("fallback", fallback),
        template=kwargs.pop("template", f"schedule.{step_id}"),
        **kwargs,
    )


def default_policy() -> Policy:
    """Return the default policy (``docs/outreach.md`` lists it step by step).

    Routine: call day 0, SMS day 2, call day 5, letter day 10, final call day 14, then
    ``mark_lost`` (unreachable) and notify the referrer. Urgent cadences are compressed; asap
    and stat referrals get a human task at once and end in a human task, never ``lost``.
    """
    lost = Exhaustion("mark_lost", LostReason.UNREACHABLE)
    urgent_end = Exhaustion("task", queue="urgent-referrals", task_priority=TaskPriority.URGENT)
    routine = Cadence(
        "schedule",
        (
            _contact("call_d0", 0, Channel.VOICE),
            _contact("sms_d2", 2, Channel.SMS),
            _contact("call_d5", 5, Channel.VOICE),
            _contact("letter_d10", 10, Channel.LETTER, business_days=True),
            _contact("call_d14", 14, Channel.VOICE, template="schedule.final_call"),
        ),
        grace=2 * _D,
        on_exhausted=lost,
    )
    urgent = Cadence(
        "schedule",
        (
            _contact("call_d0", 0, Channel.VOICE),
            _contact("sms_d1", 1, Channel.SMS),
            _contact("call_d2", 2, Channel.VOICE),
            _contact("call_d4", 4, Channel.VOICE, template="schedule.final_call"),
        ),
        priority=Priority.URGENT,
        grace=_D,
        on_exhausted=lost,
    )
    immediate = tuple(
        Cadence(
            "schedule",
            (
                Step(
                    id="triage_task",
                    offset=timedelta(0),
                    action="task",
                    template="schedule.urgent_triage",
                    queue="urgent-referrals",
                    task_priority=TaskPriority.URGENT,
                ),
                _contact("call_h0", 0, Channel.VOICE),
                _contact("call_d1", 1, Channel.VOICE),
            ),
            priority=priority,
            grace=timedelta(hours=12),
            on_exhausted=urgent_end,
        )
        for priority in (Priority.ASAP, Priority.STAT)
    )
    no_show = Cadence(
        "no_show_recovery",
        (
            _contact("call_d0", 0, Channel.VOICE, template="no_show.call"),
            _contact("sms_d1", 1, Channel.SMS, template="no_show.sms"),
            _contact("call_d3", 3, Channel.VOICE, template="no_show.call"),
            _contact("call_d7", 7, Channel.VOICE, template="no_show.final_call"),
        ),
        grace=2 * _D,
        on_exhausted=lost,
    )
    reminder = Cadence(
        "reminder",
        (
            _contact("remind_3d", -3, Channel.SMS, template="reminder.3d", valid_for=2 * _D),
            _contact("remind_1d", -1, Channel.SMS, template="reminder.1d", valid_for=_D),
        ),
        grace=timedelta(0),
    )
    records = Cadence(
        "records_follow_up",
        (
            Step(
                id="fax_due",
                offset=timedelta(0),
                action="fax_records",
                template="records.request",
                business_days=True,
            ),
            Step(
                id="fax_d3",
                offset=3 * _D,
                action="fax_records",
                template="records.reminder",
                business_days=True,
            ),
        ),
        grace=2 * _D,
        on_exhausted=Exhaustion("task", queue="records", template="records.overdue"),
    )
    auth = Cadence(
        "auth_follow_up",
        (
            Step(
                id="check_d2",
                offset=2 * _D,
                action="task",
                template="auth.check_status",
                queue="authorization",
            ),
            Step(
                id="escalate_d5",
                offset=5 * _D,
                action="task",
                template="auth.escalate",
                queue="authorization",
                task_priority=TaskPriority.HIGH,
            ),
        ),
        grace=timedelta(0),
    )
    return Policy(cadences=(routine, urgent, *immediate, no_show, reminder, records, auth))
