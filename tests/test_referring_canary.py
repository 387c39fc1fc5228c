"""PHI canary: what a referral we send carries never shows in logs, reprs, errors or tasks."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest

from referralkit import (
    Actor,
    ActorKind,
    ManualClock,
    MemoryStore,
    Patient,
    PhoneContact,
    Practice,
    Referral,
    ReferralDesk,
    Role,
)
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.desk.referring import ReceiverAnswer, SentCopy
from referralkit.errors import ReferralKitError
from referralkit.model import ReferralPackage
from referralkit.outbox import RetryPolicy
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import DocumentRef
from referralkit.referring import ReportHints
from tests.support.canary import exception_texts, model_texts

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
STAFF = Actor(kind=ActorKind.HUMAN, id="coord-1", role=Role.REFERRER)
DOCTOR = Actor(kind=ActorKind.HUMAN, id="dr-1", role=Role.CLINICIAN)
CANARIES = ("Zyxwvutsky", "Qortleberry", "+15555550177", "1931-04-05", "Glimmerfeld syndrome")


def test_packages_and_report_matching_never_leak_phi(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = ManualClock(T0)
    plugin = InMemoryPlugin.with_clock(clock, sleep=lambda _s: None)
    desk = ReferralDesk(
        store=MemoryStore(),
        clock=clock,
        hooks=Hooks(make_plugin_manager([plugin], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(3),
    )
    referring = desk.referring
    draft = referring.draft(
        Referral(
            patient=Patient(
                given_name="Qortleberry",
                family_name="Zyxwvutsky",
                birth_date=date(1931, 4, 5),
                phones=(PhoneContact(number="+15555550177"),),
            ),
            receiving_practice=Practice(name="Lakeside", fax="+15555550199"),
            specialty="neurology",
        ),
        actor=STAFF,
    )
    package = ReferralPackage(reason="Glimmerfeld syndrome", problems=("Glimmerfeld syndrome",))
    referring.prepare_package(draft.id, package, actor=STAFF)
    referring.release_package(draft.id, actor=DOCTOR)
    referral, _ = referring.send(draft.id, SentCopy(b"Zyxwvutsky", "pkg-1"), actor=STAFF)
    hints = ReportHints(family_name="Zyxwvutsky", birth_date=date(1931, 4, 5),
                        given_name="Qortleberry")  # fmt: skip
    outcome = referring.receive_report(
        DocumentRef(document_id="rpt-1", kind="consult_report"), hints,
        received_at=T0, actor=STAFF,
    )  # fmt: skip
    assert outcome.status == "review"
    errors: list[BaseException] = []
    for attempt in (
        lambda: referring.resolve_report(referral.id, None, actor=STAFF),
        lambda: referring.record_answer(
            referral.id, ReceiverAnswer("booked", "x", note="Zyxwvutsky"), actor=STAFF
        ),
        lambda: referring.prepare_package(referral.id, package, actor=STAFF),
    ):
        with pytest.raises((ReferralKitError, ValueError)) as caught:
            attempt()
        errors.append(caught.value)
    texts = [
        *(r.getMessage() for r in caplog.records),
        *model_texts(desk.get(referral.id)),
        *model_texts(desk.get(outcome.referral_id)),
        repr(hints),
        repr(SentCopy(b"Zyxwvutsky", "pkg-1")),
        *(t.title + (t.detail or "") for t in desk.get(outcome.referral_id).tasks),
        *(repr(e) for e in desk.history(referral.id)),
        *(text for exc in errors for text in exception_texts(exc)),
        *(repr(f) for f in referring.track_records()),
    ]
    for canary in CANARIES:
        assert not [t for t in texts if canary in t], canary
