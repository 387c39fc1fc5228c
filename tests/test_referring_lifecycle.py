"""The sending lifecycle: its compiled table agrees with its machine, over random histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referralkit import Actor, ActorKind, Practice, Referral, Role
from referralkit.errors import ReferralKitError
from referralkit.events import verify_history
from referralkit.lifecycle import (
    OUTBOUND_TRIGGERS,
    OutboundTrigger,
    allowed_outbound_triggers,
    created,
    shared_outbound_lifecycle,
)
from referralkit.lifecycle.replay import replay
from referralkit.model import (
    Appointment,
    Channel,
    OutboundRecord,
    OutboundStatus,
    PackageSend,
    ReceivedReport,
    ReferralPackage,
    ReferralSide,
    ReportDisposition,
    ReportReview,
)

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ROLES = list(Role)
KINDS = [ActorKind.HUMAN, ActorKind.SYSTEM]


def _data(trigger: OutboundTrigger, referral: Referral, at: datetime, n: int) -> dict[str, Any]:
    match trigger:
        case "send" | "resend":
            return {"send": PackageSend(attempt=n, sent_at=at, channel=Channel.FAX,
                                        sha256="a" * 64, copy_ref=f"pkg-{n}")}  # fmt: skip
        case "receiver_decline":
            return {"reason": "no_capacity", "callback_id": f"cb-{n}"}
        case "redirect_to":
            return {"to_referral": str(referral.id), "reason": "declined"}
        case "book":
            return {"appointment": Appointment(start=at + timedelta(days=7))}
        case "receive_report":
            return {"report": ReceivedReport(report_id=f"r-{n}", received_at=at,
                                             matched_by="referral_number")}  # fmt: skip
        case "review_report":
            outbound = referral.outbound
            latest = outbound.reports[-1].report_id if outbound and outbound.reports else "none"
            return {
                "review": ReportReview(
                    report_id=latest,
                    reviewed_at=at,
                    reviewer="dr",
                    disposition=ReportDisposition.ACKNOWLEDGED,
                )
            }
        case "withdraw" | "mark_not_seen" | "void":
            return {"reason": "because"}
        case _:
            return {"callback_id": f"cb-{n}"}


def _draft() -> Referral:
    package = ReferralPackage(reason="chest pain", released_by="dr", released_at=T0)
    referral = Referral(
        side=ReferralSide.SENT,
        outbound=OutboundRecord(package=package),
        receiving_practice=Practice(name="Lakeside"),
        specialty="cardiology",
    )
    return created(referral, Actor(kind=ActorKind.HUMAN, id="c", role=Role.REFERRER), T0).referral


steps = st.lists(
    st.tuples(st.sampled_from(OUTBOUND_TRIGGERS), st.sampled_from(ROLES), st.sampled_from(KINDS)),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_random_histories_agree_with_the_machine_and_replay(
    history: list[tuple[OutboundTrigger, Role, ActorKind]],
) -> None:
    lifecycle = shared_outbound_lifecycle()
    first = _draft()
    referral = first
    events = [
        created(
            first.model_copy(update={"version": 0, "history_hash": ""}),
            Actor(kind=ActorKind.HUMAN, id="c", role=Role.REFERRER),
            T0,
        ).event
    ]
    for n, (trigger, role, kind) in enumerate(history, start=1):
        actor = Actor(kind=kind, id=f"{role.value}-1", role=role)
        at = T0 + timedelta(hours=n)
        data = _data(trigger, referral, at, n)
        allowed = trigger in allowed_outbound_triggers(referral, actor)
        try:
            compiled = lifecycle.fire(referral, trigger, actor=actor, now=at, data=data)
        except ReferralKitError as exc:
            compiled_error: type[BaseException] | None = type(exc)
        else:
            compiled_error = None
        try:
            reference = lifecycle.fire_with_machine(
                referral, trigger, actor=actor, now=at, data=data
            )
        except ReferralKitError as exc:
            assert compiled_error is type(exc)  # noqa: PT017 - both paths fail alike
            continue
        assert compiled_error is None
        assert allowed  # nothing moves that allowed_outbound_triggers did not offer
        assert compiled.referral == reference.referral
        assert compiled.event.hash == reference.event.hash
        before = referral.outbound
        referral = compiled.referral
        events.append(compiled.event)
        after = referral.outbound
        assert before is not None
        assert after is not None
        assert len(after.sends) >= len(before.sends)  # sends are kept, never replaced
        assert len(after.reports) >= len(before.reports)
        if trigger == "review_report":
            assert after.status is OutboundStatus.REPORT_REVIEWED
        assert referral.status is first.status  # the receiving status never moves
    verify_history(events, expected_count=len(events), expected_head=events[-1].hash)
    assert replay(events) == referral


def test_a_referral_we_received_takes_no_sending_trigger() -> None:
    referral = Referral(specialty="cardiology")
    actor = Actor(kind=ActorKind.HUMAN, id="c", role=Role.REFERRER)
    assert allowed_outbound_triggers(referral, actor) == ()
    with pytest.raises(ReferralKitError, match="only to a referral we sent"):
        shared_outbound_lifecycle().fire(
            referral, "void", actor=actor, now=T0, data={"reason": "x"}
        )


def test_every_sending_state_has_fhir_codes_and_only_review_completes_the_order() -> None:
    from referralkit.lifecycle.crosswalk import outbound_crosswalk

    completed = [
        s for s in OutboundStatus if outbound_crosswalk(s).service_request_status == "completed"
    ]
    assert completed == [OutboundStatus.REPORT_REVIEWED]


def test_a_referral_we_sent_takes_no_receiving_trigger() -> None:
    from referralkit.lifecycle import allowed_triggers, shared_lifecycle

    referral = _draft()
    actor = Actor(kind=ActorKind.HUMAN, id="c", role=Role.REFERRER)
    assert allowed_triggers(referral, actor) == ()
    with pytest.raises(ReferralKitError, match="sending-side triggers"):
        shared_lifecycle().fire(referral, "complete_intake", actor=actor, now=T0)


def test_the_referring_page_states_the_crosswalk_the_code_uses() -> None:
    import re
    from pathlib import Path

    from referralkit.lifecycle.crosswalk import outbound_crosswalk

    page = (Path(__file__).parent.parent / "docs" / "referring.md").read_text(encoding="utf-8")
    rows = {
        m[1]: (m[2].strip(), m[3].strip())
        for m in re.finditer(r"^\| `(\w+)` \| [^|]* \| ([^|]*) \| ([^|]*) \|", page, re.M)
    }
    assert rows == {
        s.value: (outbound_crosswalk(s).task_status, outbound_crosswalk(s).service_request_status)
        for s in OutboundStatus
    }


def test_a_referral_we_sent_is_crosswalked_by_its_sending_state() -> None:
    from referralkit.lifecycle import crosswalk_referral

    referral = _draft()
    assert referral.outbound is not None
    reviewed = referral.model_copy(
        update={
            "outbound": referral.outbound.model_copy(
                update={"status": OutboundStatus.REPORT_REVIEWED}
            )
        }
    )
    assert crosswalk_referral(referral).task_status == "draft"
    assert crosswalk_referral(reviewed).service_request_status == "completed"
