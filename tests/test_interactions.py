"""The interaction log: one API for every call type, channel and actor; disclosures; continuity."""

from datetime import timedelta
from uuid import uuid4

import pytest

from referralkit.errors import TaskNotFoundError
from referralkit.intake.status import StatusAnswer
from referralkit.model import (
    Actor,
    ActorKind,
    Channel,
    Direction,
    HumanTask,
    Interaction,
    ReferralStatus,
    Role,
)
from referralkit.ports import SmsReply, SmsRequest
from referralkit.routing import CALL_TYPES
from referralkit.tasks import call_interaction, status_disclosure
from referralkit.testing.conformance import canary_referral

HUMAN = Actor(kind=ActorKind.HUMAN, id="front-desk-1", role=Role.INTAKE)
AI = Actor(kind=ActorKind.AI, id="ai-receptionist", role=Role.INTAKE)
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="referralkit", role=Role.SYSTEM)


@pytest.fixture
def referral(desk, make_referral, actors):
    return desk.create(make_referral(), actor=actors.intake_staff)


@pytest.mark.parametrize("call_type", CALL_TYPES)
def test_each_call_type_is_logged_with_actor_duration_and_outcome(
    desk, referral, clock, call_type
):
    start = clock.now()
    logged = desk.log_interaction(
        referral.id,
        Interaction(
            at=start,
            ended_at=start + timedelta(minutes=4, seconds=30),
            channel=Channel.VOICE,
            direction=Direction.INBOUND,
            call_type=call_type,
            outcome="resolved",
            summary=f"caller asked about {call_type}",
        ),
        actor=AI,
    )
    assert (logged.actor_id, logged.actor_kind) == ("ai-receptionist", ActorKind.AI)
    assert logged.duration_seconds == 270.0
    (entry,) = desk.interactions(referral.id)
    assert entry == logged
    event = desk.history(referral.id)[-1]
    assert event.kind == "interaction_logged"
    assert event.data["call_type"] == call_type
    assert "summary" not in event.data


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("direction", list(Direction))
def test_every_channel_and_direction_is_logged(desk, referral, clock, channel, direction):
    desk.log_interaction(
        referral.id,
        Interaction(at=clock.now(), channel=channel, direction=direction, outcome="ok"),
        actor=HUMAN,
    )
    (entry,) = desk.interactions(referral.id)
    assert (entry.channel, entry.direction, entry.actor_kind) == (
        channel,
        direction,
        ActorKind.HUMAN,
    )


def test_logging_the_same_interaction_twice_changes_nothing(desk, referral, clock):
    interaction = Interaction(at=clock.now(), channel=Channel.SMS, direction=Direction.OUTBOUND)
    desk.log_interaction(referral.id, interaction, actor=SYSTEM)
    version = desk.get(referral.id).version
    desk.log_interaction(referral.id, interaction, actor=SYSTEM)
    assert desk.get(referral.id).version == version
    assert len(desk.interactions(referral.id)) == 1


def test_an_interaction_links_the_task_it_served(desk, referral, clock):
    now = clock.now()
    task = HumanTask(
        queue="scheduling", title="Call", reason="r", created_at=now, due_at=now + timedelta(1)
    )
    desk.amend(referral.id, "task_opened", actor=HUMAN, update={"tasks": (task,)})
    logged = desk.log_interaction(
        referral.id,
        Interaction(at=now, channel=Channel.VOICE, direction=Direction.OUTBOUND, task_id=task.id),
        actor=HUMAN,
    )
    assert desk.history(referral.id)[-1].data["task_id"] == str(task.id)
    assert logged.task_id == task.id
    with pytest.raises(TaskNotFoundError):
        desk.log_interaction(
            referral.id,
            Interaction(
                at=now, channel=Channel.VOICE, direction=Direction.OUTBOUND, task_id=uuid4()
            ),
            actor=HUMAN,
        )


def test_ended_before_started_is_rejected(clock):
    with pytest.raises(ValueError, match="ended_at"):
        Interaction(
            at=clock.now(),
            ended_at=clock.now() - timedelta(seconds=1),
            channel=Channel.VOICE,
            direction=Direction.INBOUND,
        )


def test_status_disclosure_records_field_names_and_recipient(desk, referral):
    logged = desk.record_disclosure(
        referral.id, fields=("status", "appointment"), recipient_role="patient", actor=AI
    )
    assert logged.disclosure is not None
    assert logged.disclosure.fields == ("status", "appointment")
    event = desk.history(referral.id)[-1]
    assert (event.data["disclosed"], event.data["recipient_role"]) == (
        ["status", "appointment"],
        "patient",
    )


def test_an_answer_to_an_unverified_caller_discloses_nothing(clock):
    nothing = StatusAnswer(audience=None, text="I can't share that.", language="en")
    assert status_disclosure(nothing) is None
    told = StatusAnswer(
        audience="referring_practice",
        text="It is scheduled.",
        language="en",
        status=ReferralStatus.SCHEDULED,
        owner="patient",
        details={"appointment": "Tuesday 9:00"},
    )
    record = call_interaction(
        call_type="status_inquiry", actor=AI, at=clock.now(), outcome="answered", answer=told
    )
    assert record.disclosure is not None
    assert record.disclosure.fields == ("status", "owner", "appointment")
    assert record.disclosure.recipient_role == "referring_practice"
    assert "Tuesday" not in repr(record)


def test_outreach_sends_and_replies_appear_in_the_same_log(referralkit_desk, referralkit_outbox):
    desk = referralkit_desk
    referral = desk.create(
        canary_referral().model_copy(update={"id": uuid4(), "status": ReferralStatus.RECEIVED}),
        actor=HUMAN,
    )
    request = SmsRequest.for_referral(
        referral, action="reminder", attempt=1, template_id="reminder", body="Call us."
    )
    desk.dispatch(request)
    referralkit_outbox.telephony.fail_next(1, "permanent")
    failed = desk.dispatch(
        SmsRequest.for_referral(
            referral, action="reminder", attempt=2, template_id="reminder", body="Call us."
        )
    )
    desk.record_sms_reply(
        SmsReply(
            referral_id=referral.id,
            provider_ref="in-1",
            at=desk.clock.now(),
            body="yes",
            from_number="+15555550123",
        )
    )
    log = desk.interactions(referral.id)
    outbound = [i for i in log if i.direction is Direction.OUTBOUND]
    assert [(i.channel, i.outcome) for i in outbound] == [
        (Channel.SMS, "sent"),
        (Channel.SMS, "failed"),
    ]
    assert outbound[0].action_key == request.idempotency_key
    assert outbound[1].task_id == failed.task_id
    assert [i.channel for i in log if i.direction is Direction.INBOUND] == [Channel.SMS]


def test_continuity_says_what_happened_last_what_is_open_and_who_owns_it(
    desk, referral, clock, actors
):
    desk.route(referral.id)
    desk.log_interaction(
        referral.id,
        Interaction(
            at=clock.now(),
            channel=Channel.VOICE,
            direction=Direction.INBOUND,
            call_type="status_inquiry",
            summary="patient asked when they will hear back",
        ),
        actor=AI,
    )
    view = desk.continuity(referral.id)
    assert view.status is ReferralStatus.RECEIVED
    assert [t.queue for t in view.open_tasks] == ["clinical_review"]
    assert view.next_owner == "queue:clinical_review"
    assert view.last_interaction is not None
    assert view.last_interaction.call_type == "status_inquiry"
    assert view.last_event is not None
    assert view.last_event.kind == "interaction_logged"
    assert "hear back" not in repr(view)
    desk.claim_task(referral.id, view.open_tasks[0].id, actor=actors.clinician)
    assert desk.continuity(referral.id).next_owner == actors.clinician.id


def test_a_submitted_status_call_logs_who_took_it_and_what_was_disclosed(
    referralkit_desk,
):
    from referralkit.model import ActorKind as _Kind

    desk = referralkit_desk
    referral = desk.create(
        canary_referral().model_copy(update={"id": uuid4(), "status": ReferralStatus.RECEIVED}),
        actor=SYSTEM,
    )
    session = desk.start_intake("status_inquiry")
    session.update(
        {
            "caller": {"role": "patient"},
            "referral_number": referral.referral_number,
            "patient": {
                "family_name": referral.patient.family_name,
                "birth_date": referral.patient.birth_date.isoformat(),
            },
        }
    )
    ai = Actor(kind=_Kind.AI, id="receptionist-7", role=Role.INTAKE)
    desk.clock.advance(minutes=3)
    outcome = desk.submit_intake(session, actor=ai)
    logged = outcome.referral.interactions[-1]
    assert (logged.actor_id, logged.actor_kind) == ("receptionist-7", _Kind.AI)
    assert logged.ended_at is not None
    assert logged.ended_at > logged.at
    assert logged.disclosure is not None
    assert logged.disclosure.recipient_role == "patient"
    assert "status" in logged.disclosure.fields
