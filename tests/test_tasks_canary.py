"""PHI canary over task notes, interaction summaries and everything the task API renders.

Unique tokens (letters outside a-f, so no hex id or hash can contain them) go into task notes,
details and interaction summaries; the task and interaction operations run, succeed and fail;
then every log record, exception, repr, event and work-list row is searched for them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from referralkit.adapters.memory import MemoryStore
from referralkit.clock import ManualClock
from referralkit.desk import ReferralDesk
from referralkit.errors import ReferralKitError
from referralkit.model import (
    Actor,
    ActorKind,
    Channel,
    Direction,
    HumanTask,
    Interaction,
    Role,
)
from tests.support.builders import T0, complete_referral
from tests.support.canary import exception_texts, model_texts

CANARIES = {
    "note": "Zqnote9911 patient mentioned her son Wyatt",
    "detail": "Zqdetail9912 husband is the carer",
    "summary": "Zqsummary9913 called about knee surgery",
    "cancel_note": "Zqcancel9914 moved to Ohio",
    "snooze_summary": "Zqsnooze9915 away until Monday",
}
STAFF = Actor(kind=ActorKind.HUMAN, id="staff-1", role=Role.SCHEDULER)
AI = Actor(kind=ActorKind.AI, id="ai-1", role=Role.INTAKE)


def leaks(text: str) -> list[str]:
    return [name for name, token in CANARIES.items() if token in text]


def test_task_and_interaction_text_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = ManualClock(T0)
    desk = ReferralDesk(store=MemoryStore(), clock=clock)
    referral = desk.create(complete_referral(), actor=STAFF)
    now = clock.now()
    tasks = [
        HumanTask(
            queue=q,
            title="Call back",
            reason="patient asked",
            detail=CANARIES["detail"],
            created_at=now,
            due_at=now + timedelta(hours=1),
        )
        for q in ("scheduling", "records", "clinical_review")
    ]
    desk.amend(referral.id, "task_opened", actor=STAFF, update={"tasks": tuple(tasks)})
    raised: list[BaseException] = []

    def expect(fn: Any) -> None:
        try:
            fn()
        except ReferralKitError as exc:
            raised.append(exc)
        else:  # pragma: no cover - the steps below are chosen to fail
            pytest.fail("expected a refusal")

    rid = referral.id
    desk.claim_task(rid, tasks[0].id, actor=STAFF)
    desk.complete_task(rid, tasks[0].id, actor=STAFF, outcome="booked", note=CANARIES["note"])
    expect(lambda: desk.complete_task(rid, tasks[0].id, actor=STAFF, outcome="again"))
    desk.cancel_task(
        rid, tasks[1].id, actor=STAFF, reason="duplicate", note=CANARIES["cancel_note"]
    )
    expect(lambda: desk.claim_task(rid, tasks[1].id, actor=STAFF))
    for summary in (CANARIES["summary"], CANARIES["snooze_summary"]):
        desk.log_interaction(
            rid,
            Interaction(
                at=clock.now(),
                channel=Channel.VOICE,
                direction=Direction.INBOUND,
                call_type="status_inquiry",
                summary=summary,
            ),
            actor=AI,
        )
    desk.fire(rid, "accept", actor=Actor(kind=ActorKind.HUMAN, id="dr", role=Role.CLINICIAN))
    clock.advance(timedelta(days=3))
    desk.sweep_tasks()

    found: dict[str, str] = {}
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        found.update({f"log:{n}": text for n in leaks(text)})
    for exc in raised:
        for text in exception_texts(exc):
            found.update({f"exc:{n}": text for n in leaks(text)})
    stored = desk.get(rid)
    for text in model_texts(stored):
        found.update({f"repr:{n}": text for n in leaks(text)})
    for event in desk.history(rid):
        for text in (repr(event), str(event), repr(dict(event.data))):
            found.update({f"event:{n}": text for n in leaks(text)})
    for row in desk.tasks(status=list(type(tasks[0].status)), limit=100):
        found.update({f"row:{n}": repr(row) for n in leaks(repr(row))})
    view = desk.continuity(rid)
    found.update({f"continuity:{n}": repr(view) for n in leaks(repr(view))})
    for interaction in desk.interactions(rid):
        found.update({f"interaction:{n}": repr(interaction) for n in leaks(repr(interaction))})
    assert len(raised) == 2
    assert found == {}
    # The text is kept where it belongs: on the records, readable by attribute.
    assert stored.tasks[0].note == CANARIES["note"]
    assert stored.interactions[0].summary == CANARIES["summary"]
