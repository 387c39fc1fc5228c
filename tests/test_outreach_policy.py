"""Outreach policies as data: the defaults, TOML loading and validation."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from referralkit.model import Channel, LostReason, Priority, TaskPriority
from referralkit.outreach import (
    Cadence,
    PolicyError,
    Step,
    default_policy,
    load_policy,
    policy_from_mapping,
)
from referralkit.outreach.policy import Hours, parse_duration


def test_default_routine_cadence_is_call_sms_call_letter_final_call() -> None:
    cadence = default_policy().cadence("schedule", Priority.ROUTINE)
    assert cadence is not None
    assert [(s.offset.days, s.channel) for s in cadence.steps] == [
        (0, Channel.VOICE),
        (2, Channel.SMS),
        (5, Channel.VOICE),
        (10, Channel.LETTER),
        (14, Channel.VOICE),
    ]
    assert cadence.on_exhausted.action == "mark_lost"
    assert cadence.on_exhausted.lost_reason is LostReason.UNREACHABLE


def test_default_sms_steps_fall_back_to_a_call() -> None:
    cadence = default_policy().cadence("schedule", Priority.ROUTINE)
    assert cadence is not None
    assert cadence.steps[1].fallback == (Channel.VOICE,)


def test_default_reminders_are_three_days_and_one_day_before() -> None:
    cadence = default_policy().cadence("reminder", Priority.ROUTINE)
    assert cadence is not None
    assert [s.offset for s in cadence.steps] == [timedelta(days=-3), timedelta(days=-1)]


def test_urgent_priority_has_its_own_compressed_cadence() -> None:
    policy = default_policy()
    urgent = policy.cadence("schedule", Priority.URGENT)
    routine = policy.cadence("schedule", Priority.ROUTINE)
    assert urgent is not None
    assert routine is not None
    assert urgent.steps[-1].offset < routine.steps[-1].offset


def test_stat_referrals_start_with_an_urgent_human_task_and_never_end_lost() -> None:
    cadence = default_policy().cadence("schedule", Priority.STAT)
    assert cadence is not None
    assert cadence.steps[0].action == "task"
    assert cadence.steps[0].task_priority is TaskPriority.URGENT
    assert cadence.on_exhausted.action == "task"


def test_default_window_is_8_to_21_with_stricter_states() -> None:
    window = default_policy().window
    assert window.for_state("IL").on(0) == Hours(time(8), time(21))
    assert window.for_state("FL").on(0) == Hours(time(8), time(20))
    assert window.for_state("TX").on(6) == Hours(time(12), time(21))
    assert window.for_state(None).on(3) == Hours(time(8), time(21))


def test_default_caps_are_one_a_day_and_three_a_week() -> None:
    caps = default_policy().caps
    assert [(c.limit, c.period) for c in caps] == [(1, timedelta(days=1)), (3, timedelta(days=7))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2d", timedelta(days=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("30m", timedelta(minutes=30)),
        ("-3d", timedelta(days=-3)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "d", "2 days", "P2D"])
def test_parse_duration_rejects_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


TOML = """
[window]
start = "09:00"
end = "20:00"
[window.states.NY]
start = "10:00"
end = "19:00"
weekdays = { sunday = "closed" }

[[caps]]
limit = 2
period = "1d"

[retry]
max_attempts = 2
delay = "1h"

[[cadences]]
purpose = "schedule"
grace = "1d"
on_exhausted = { action = "mark_lost", reason = "unreachable" }
  [[cadences.steps]]
  id = "call_d0"
  offset = "0d"
  channel = "voice"
  template = "schedule.call"
  [[cadences.steps]]
  id = "sms_d1"
  offset = "1d"
  channel = "sms"
  fallback = ["voice"]
  template = "schedule.sms"
"""


def test_load_policy_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(TOML, encoding="utf-8")
    policy = load_policy(path)
    assert policy.window.for_state("IL").on(0) == Hours(time(9), time(20))
    assert policy.window.for_state("NY").on(0) == Hours(time(10), time(19))
    assert policy.window.for_state("NY").on(6) is None
    assert policy.window.for_state("FL").on(0) == Hours(time(8), time(20))  # defaults kept
    assert [(c.limit, c.period) for c in policy.caps] == [(2, timedelta(days=1))]
    assert policy.retry.max_attempts == 2
    cadence = policy.cadence("schedule", Priority.URGENT)
    assert cadence is not None
    assert [s.id for s in cadence.steps] == ["call_d0", "sms_d1"]
    assert policy.cadence("reminder", Priority.ROUTINE) is None  # cadences replaced


def _cadence(purpose: str = "schedule", **step: object) -> dict[str, object]:
    fields = {"id": "a", "offset": "0d", "channel": "voice", "template": "t", **step}
    return {"cadences": [{"purpose": purpose, "steps": [{k: v for k, v in fields.items() if v}]}]}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (_cadence("nope"), "cadences[0].purpose"),
        (_cadence(offset="soon"), "cadences[0].steps[0].offset"),
        (_cadence(channel="pigeon"), "cadences[0].steps[0].channel"),
        (_cadence(channel=""), "cadences[0].steps[0]"),
        (_cadence(id="Bad Id"), "cadences[0].steps[0].id"),
        ({"cadences": [{"purpose": "schedule", "steps": []}]}, "cadences[0].steps"),
        ({"caps": [{"limit": 0, "period": "1d"}]}, "caps[0]"),
        ({"window": {"start": "21:00", "end": "08:00"}}, "window"),
        ({"window": {"start": "8am"}}, "window.start"),
        ({"surprise": 1}, ""),
    ],
)
def test_invalid_policies_name_the_field(data: dict[str, object], path: str) -> None:
    with pytest.raises(PolicyError, match="invalid outreach policy at") as info:
        policy_from_mapping(data)
    assert info.value.path == path


def test_invalid_toml_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[window\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(path)


def test_step_ids_must_be_unique() -> None:
    step = Step(id="a", offset=timedelta(0), channel=Channel.VOICE, template="t")
    with pytest.raises(PolicyError, match="unique"):
        Cadence("schedule", (step, step))


def test_step_offsets_must_not_decrease() -> None:
    first = Step(id="a", offset=timedelta(days=2), channel=Channel.VOICE, template="t")
    second = Step(id="b", offset=timedelta(days=1), channel=Channel.VOICE, template="t")
    with pytest.raises(PolicyError, match="must not decrease"):
        Cadence("schedule", (first, second))


def test_a_task_step_takes_no_channel() -> None:
    with pytest.raises(PolicyError, match="takes no channel"):
        Step(id="a", offset=timedelta(0), action="task", channel=Channel.SMS, template="t")


def test_a_contact_step_needs_a_patient_channel() -> None:
    with pytest.raises(PolicyError, match="patient channel"):
        Step(id="a", offset=timedelta(0), channel=Channel.FAX, template="t")
