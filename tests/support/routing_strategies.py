"""Hypothesis strategies for routing: rule sets, referrals, histories and instants."""

from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from referralkit import (
    Actor,
    ActorKind,
    Appointment,
    AppointmentStatus,
    Authorization,
    AuthorizationStatus,
    Channel,
    Coverage,
    Direction,
    HumanTask,
    Interaction,
    Priority,
    RecordsRequest,
    RecordsRequestStatus,
    Referral,
    ReferralStatus,
    Role,
    TaskStatus,
)
from referralkit.events import make_event
from referralkit.routing import (
    CALL_TYPES,
    AutoAcceptPolicy,
    default_rules,
    load_toml,
)

_DOCS = (Path(__file__).resolve().parents[2] / "docs" / "routing.md").read_text("utf-8")
_TOML = _DOCS.split("```toml\n", 1)[1].split("```", 1)[0]
RULE_SETS = (
    default_rules(),
    default_rules(auto_accept=(AutoAcceptPolicy(name="any", priorities=None),)),
    load_toml(_TOML, source="routing.toml"),
)
ZONES = (UTC, ZoneInfo("America/New_York"), ZoneInfo("Pacific/Kiritimati"))
FLAGS = ("urgent", "urgency_language", "asked_for_person", "referrer_complaint", "other")
ACTOR = Actor(kind=ActorKind.HUMAN, id="prop", role=Role.CLINICIAN)

instants = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from(ZONES),
)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 1, 1))


@st.composite
def authorizations(draw: st.DrawFn) -> Authorization:
    first, second = sorted((draw(days), draw(days)))
    return Authorization(
        status=draw(st.sampled_from(AuthorizationStatus)),
        number=draw(st.none() | st.just("AUTH-1")),
        valid_from=draw(st.none() | st.just(first)),
        valid_to=draw(st.none() | st.just(second)),
        authorized_visits=draw(st.none() | st.integers(0, 5)),
        used_visits=draw(st.integers(0, 5)),
    )


@st.composite
def referrals(draw: st.DrawFn) -> Referral:
    return Referral(
        status=draw(st.sampled_from(ReferralStatus)),
        priority=draw(st.sampled_from(Priority)),
        specialty=draw(st.none() | st.sampled_from(["cardiology", "Dermatology", " x "])),
        coverage=draw(st.none() | st.just(Coverage(payer_name="Acme Health", member_id="M1"))),
        authorization=draw(authorizations()),
        flags=tuple(draw(st.lists(st.sampled_from(FLAGS), max_size=3))),
        appointments=tuple(
            Appointment(start=draw(instants), status=draw(st.sampled_from(AppointmentStatus)))
            for _ in range(draw(st.integers(0, 2)))
        ),
        records_requests=tuple(
            RecordsRequest(
                requested_at=draw(instants), status=draw(st.sampled_from(RecordsRequestStatus))
            )
            for _ in range(draw(st.integers(0, 2)))
        ),
        interactions=tuple(
            Interaction(
                at=draw(instants),
                channel=Channel.VOICE,
                direction=draw(st.sampled_from(Direction)),
                call_type=draw(st.none() | st.sampled_from(CALL_TYPES)),
            )
            for _ in range(draw(st.integers(0, 2)))
        ),
        tasks=tuple(
            HumanTask(
                queue="clinical_review",
                title="t",
                reason="r",
                created_at=draw(instants),
                due_at=draw(instants),
                status=draw(st.sampled_from(TaskStatus)),
                rule_id=draw(st.none() | st.just("needs_acceptance")),
            )
            for _ in range(draw(st.integers(0, 2)))
        ),
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[Referral, list]:
    referral = draw(referrals())
    states = st.none() | st.sampled_from(ReferralStatus)
    kinds = st.sampled_from(["created", "hold", "resume", "accept", "no_show", "routing_x"])
    events = []
    prev = ""
    for seq in range(1, draw(st.integers(0, 8)) + 1):
        kind = draw(kinds)
        event = make_event(
            referral_id=referral.id,
            seq=seq,
            at=draw(instants),
            actor=ACTOR,
            kind=kind,
            from_state=draw(states),
            to_state=draw(states),
            data=draw(st.sampled_from([{}, {"key": "x"}, {"key": 3}, {"key": str(uuid4())}])),
            prev_hash=prev,
        )
        prev = event.hash
        events.append(event)
    return referral, events
