from __future__ import annotations

import json
import logging
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from referralkit.adapters.memory import InMemoryPlugin, MemoryStore
from referralkit.desk import ReferralDesk
from referralkit.errors import NoBackendError, PermanentAdapterError
from referralkit.model import Actor, ActorKind, Channel, Referral, ReferralStatus, Role
from referralkit.outbox import RetryPolicy
from referralkit.plugins import Hooks, hookimpl, make_plugin_manager
from referralkit.ports import (
    CallOutcome,
    CallRequest,
    DocumentRef,
    FaxRequest,
    InboundFax,
    PracticeUpdateRequest,
    Receipt,
    SmsReply,
    SmsRequest,
    StaffAlertRequest,
    idempotency_key,
)
from referralkit.store import as_events
from referralkit.testing.conformance import CANARY, canary_referral

INTAKE = Actor(kind=ActorKind.HUMAN, id="staff-1", role=Role.INTAKE)


def new_referral() -> Referral:
    return canary_referral().model_copy(update={"id": uuid4(), "status": ReferralStatus.RECEIVED})


def sms_for(referral: Referral, action: str = "reminder", attempt: int = 1) -> SmsRequest:
    return SmsRequest.for_referral(
        referral, action=action, attempt=attempt, template_id=action, body="Please call us."
    )


@pytest.fixture
def referral(referralkit_desk: ReferralDesk) -> Referral:
    return referralkit_desk.create(new_referral(), actor=INTAKE)


# -- retries ---------------------------------------------------------------------------------


def test_transient_within_budget_is_exactly_one_contact(
    referralkit_desk, referralkit_outbox, referral
):
    referralkit_outbox.telephony.fail_next(2, "transient")
    outcome = referralkit_desk.dispatch(sms_for(referral))
    assert outcome.status == "sent"
    assert len(referralkit_outbox.telephony.requests) == 3
    assert len(referralkit_outbox.telephony.sms) == 1
    assert referralkit_desk.get(referral.id).tasks == ()


def test_transient_over_budget_becomes_a_human_task(
    referralkit_desk, referralkit_outbox, referral
):
    referralkit_outbox.telephony.fail_next(3, "transient")
    outcome = referralkit_desk.dispatch(sms_for(referral))
    assert (outcome.status, outcome.reason) == ("failed", "retries_exhausted")
    assert referralkit_outbox.telephony.sms == []
    tasks = referralkit_desk.get(referral.id).tasks
    assert [t.id for t in tasks] == [outcome.task_id]
    assert tasks[0].queue == "outreach"
    assert referralkit_desk.get(referral.id).status is ReferralStatus.RECEIVED


def test_permanent_failure_is_never_retried(referralkit_desk, referralkit_outbox, referral):
    referralkit_outbox.telephony.fail_next(1, "permanent")
    outcome = referralkit_desk.dispatch(sms_for(referral))
    assert (outcome.status, outcome.reason) == ("failed", "permanent")
    assert len(referralkit_outbox.telephony.requests) == 1


def test_unexpected_exception_is_treated_as_permanent(
    referralkit_desk, referralkit_outbox, referral
):
    referralkit_outbox.telephony.fail_next(1, "unexpected")
    outcome = referralkit_desk.dispatch(sms_for(referral))
    assert (outcome.status, outcome.reason) == ("failed", "unexpected")
    assert len(referralkit_outbox.telephony.requests) == 1


_ACCEPTED_AT = datetime(2026, 3, 2, tzinfo=UTC)


class _WrongReceiptTelephony:
    name = "wrong"

    def send_sms(self, request):
        return Receipt(idempotency_key="0" * 64, provider_ref="x", accepted_at=_ACCEPTED_AT)

    @hookimpl
    def referralkit_register_telephony_adapters(self):
        return [self]


def test_a_receipt_for_another_key_is_a_permanent_failure_of_that_operation(
    referralkit_clock, referral
):
    desk = ReferralDesk(
        store=MemoryStore(),
        clock=referralkit_clock,
        hooks=Hooks(make_plugin_manager([_WrongReceiptTelephony()], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(3),
    )
    with pytest.raises(PermanentAdapterError) as info:
        desk.call(sms_for(referral))
    assert info.value.operation == "send_sms"


def test_retry_policy_bounds_attempts_and_waits():
    slept: list[float] = []
    retrying = RetryPolicy(attempts=4, initial=1, max_wait=3, jitter=0).build(sleep=slept.append)
    plugin = InMemoryPlugin()
    plugin.fax.fail_next(5, "transient")
    desk = ReferralDesk(
        store=MemoryStore(),
        hooks=Hooks(make_plugin_manager([plugin], load_entrypoints=False)),
        retrying=retrying,
    )
    referral = desk.create(new_referral(), actor=INTAKE)
    request = FaxRequest.for_referral(
        referral, action="records", attempt=1, purpose="records_request"
    )
    assert desk.dispatch(request).status == "failed"
    assert slept == [1, 2, 3]
    assert len(plugin.fax.requests) == 4


def test_delay_fault_still_sends(referralkit_desk, referralkit_outbox, referral):
    slept: list[float] = []
    referralkit_outbox.telephony.sleep = slept.append
    referralkit_outbox.telephony.fail_next(1, "delay", seconds=2.5)
    assert referralkit_desk.dispatch(sms_for(referral)).status == "sent"
    assert slept == [2.5]


# -- outbox ---------------------------------------------------------------------------------


def test_action_is_committed_before_the_adapter_is_called(referralkit_desk, referral):
    seen_versions: list[int] = []
    desk = referralkit_desk

    class Spy:
        name = "spy"

        def send_fax(self, request: FaxRequest):
            seen_versions.append(desk.get(request.referral_id).version)
            kinds = [e.kind for e in desk.history(request.referral_id)]
            assert kinds[-1] == "action_queued"
            return desk.hooks.fax("memory").send_fax(request)

    class SpyPlugin:
        @hookimpl
        def referralkit_register_fax_adapters(self):
            return [Spy()]

    desk.hooks.pm.register(SpyPlugin())
    desk = ReferralDesk(
        store=desk.store,
        clock=desk.clock,
        hooks=desk.hooks,
        retrying=desk.retrying,
        backends={"fax": "spy"},
    )
    request = FaxRequest.for_referral(
        referral, action="records", attempt=1, purpose="records_request"
    )
    assert desk.dispatch(request).status == "sent"
    assert seen_versions == [referral.version + 1]
    assert [e.kind for e in desk.history(referral.id)][-2:] == ["action_queued", "action_sent"]
    desk.verify(referral.id)


def test_dispatching_a_finished_key_sends_nothing(referralkit_desk, referralkit_outbox, referral):
    request = sms_for(referral)
    first = referralkit_desk.dispatch(request)
    again = referralkit_desk.dispatch(request)
    assert (first.status, again.status, again.replayed) == ("sent", "sent", True)
    assert len(referralkit_outbox.telephony.requests) == 1


def test_missing_backend_raises_before_anything_is_recorded():
    desk = ReferralDesk(store=MemoryStore())  # the default desk loads no plugins
    created = desk.create(new_referral(), actor=INTAKE)
    with pytest.raises(NoBackendError, match="referralkit_register_telephony_adapters"):
        desk.dispatch(sms_for(created))
    assert [e.kind for e in desk.history(created.id)] == ["created"]


def test_default_desk_is_hermetic_and_open_still_works():
    desk = ReferralDesk.open("memory://")
    assert desk.hooks.telephony_adapters() == {}
    desk = ReferralDesk(store=MemoryStore())
    assert desk.hooks.fax_adapters() == {}


class _Crash(BaseException):
    """A process dying: nothing catches it."""


class CrashingStore(MemoryStore):
    """Dies right after an adapter call, before its outcome is recorded."""

    crash_next = False

    def save(self, referral: Referral, events, *, expected_version: int) -> None:
        if self.crash_next and as_events(events)[-1].kind in {"action_sent", "task_opened"}:
            self.crash_next = False
            raise _Crash
        super().save(referral, events, expected_version=expected_version)


def _desk_on(store, clock, hooks, retrying):
    return ReferralDesk(store=store, clock=clock, hooks=hooks, retrying=retrying)


def _crash_after_send(desk, store):
    """Dispatch an SMS and crash after the send, before its outcome is recorded."""
    referral = desk.create(new_referral(), actor=INTAKE)
    store.crash_next = True
    with pytest.raises(_Crash):
        desk.dispatch(sms_for(referral))
    return referral


def test_crash_between_send_and_record_is_resent_with_the_same_key(
    referralkit_outbox, referralkit_clock, referralkit_hooks, referralkit_retrying
):
    store = CrashingStore()
    desk = _desk_on(store, referralkit_clock, referralkit_hooks, referralkit_retrying)
    referral = _crash_after_send(desk, store)
    assert [e.status for e in desk.outbox(referral.id).values()] == ["queued"]
    restarted = _desk_on(store, referralkit_clock, referralkit_hooks, referralkit_retrying)
    outcomes = restarted.recover(referral.id)
    assert [o.status for o in outcomes] == ["sent"]
    assert outcomes[0].receipt is not None
    assert outcomes[0].receipt.duplicate
    assert len(referralkit_outbox.telephony.sms) == 1


def test_recover_without_resend_marks_unknown_with_a_task(
    referralkit_outbox, referralkit_clock, referralkit_hooks, referralkit_retrying
):
    store = CrashingStore()
    desk = _desk_on(store, referralkit_clock, referralkit_hooks, referralkit_retrying)
    referral = _crash_after_send(desk, store)
    outcomes = desk.recover(referral.id, resend=False)
    assert [o.status for o in outcomes] == ["unknown"]
    assert desk.get(referral.id).tasks[0].id == outcomes[0].task_id


def test_fault_injection_10k_dispatches(referralkit_outbox, referralkit_clock, referralkit_hooks):
    rng = random.Random(20250106)
    store = CrashingStore()
    retrying = RetryPolicy.no_wait(3)
    desk = ReferralDesk(
        store=store, clock=referralkit_clock, hooks=referralkit_hooks, retrying=retrying
    )
    referrals = [desk.create(new_referral(), actor=INTAKE) for _ in range(200)]
    adapters = referralkit_outbox.backends
    planned: dict[str, UUID] = {}
    crashed: set[UUID] = set()
    for n in range(10_000):
        referral = referrals[n % len(referrals)]
        roll = rng.random()
        kind = "sms" if roll < 0.5 else "fax" if roll < 0.8 else "alert"
        action = f"{kind}-{n}"
        if kind == "sms":
            request = sms_for(referral, action=action)
            adapter = referralkit_outbox.telephony
        elif kind == "fax":
            request = FaxRequest.for_referral(
                referral, action=action, attempt=1, purpose="status_letter"
            )
            adapter = referralkit_outbox.fax
        else:
            request = StaffAlertRequest(
                idempotency_key=idempotency_key(referral.id, action, 1),
                referral_id=referral.id,
                task_id=uuid4(),
                queue="scheduling",
                title=action,
                due_at=referralkit_clock.now() + timedelta(hours=1),
            )
            adapter = referralkit_outbox.notification
        planned[request.idempotency_key] = referral.id
        fault = rng.random()
        if fault < 0.15:
            adapter.fail_next(rng.randint(1, 4), "transient")
        elif fault < 0.20:
            adapter.fail_next(1, "permanent")
        elif fault < 0.22:
            adapter.fail_next(1, "unexpected")
        if rng.random() < 0.05:
            store.crash_next = True
        try:
            desk.dispatch(request)
        except _Crash:
            crashed.add(referral.id)
            # the process restarts: a fresh desk on the same store and the same vendors
            desk = ReferralDesk(
                store=store, clock=referralkit_clock, hooks=referralkit_hooks, retrying=retrying
            )
            for referral_id in sorted(crashed, key=str):
                desk.recover(referral_id, resend=rng.random() < 0.8)
            crashed.clear()
        for a in adapters:
            a.faults.clear()
    assert crashed == set()
    statuses: Counter[str] = Counter()
    for referral in referrals:
        stored = desk.get(referral.id)
        entries = desk.outbox(referral.id)
        task_ids = {t.id for t in stored.tasks}
        for entry in entries.values():
            statuses[entry.status] += 1
            assert entry.status in {"sent", "failed", "unknown"}, entry
            if entry.status != "sent":
                assert entry.task_id in task_ids
        desk.verify(referral.id)
    # 0 lost actions: every planned key is in an outbox and ended visibly
    assert sum(statuses.values()) == len(planned) == 10_000
    # 0 duplicate contacts: each planned action (one template/title per action) at most once
    contacts = Counter(
        getattr(r, "template_id", None) or getattr(r, "title", None) or r.idempotency_key
        for a in adapters
        for r in a.contacts.values()
    )
    assert max(contacts.values()) == 1
    sent = {k for r in referrals for k, e in desk.outbox(r.id).items() if e.status == "sent"}
    contacted = {k for a in adapters for k in a.contacts}
    assert sent <= contacted
    # a failed action never reached anyone; an unknown one may have
    failed = {k for r in referrals for k, e in desk.outbox(r.id).items() if e.status == "failed"}
    assert not failed & contacted
    assert statuses["failed"] > 0
    assert statuses["unknown"] > 0
    assert statuses["sent"] > 0


# -- canary: PHI never reaches a hook beyond its allowed fields; none in logs -------------------


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def referralkit_on_event(self, notice):
        self.seen.append(("on_event", notice.model_dump_json()))

    @hookimpl
    def referralkit_on_transition(self, notice):
        self.seen.append(("on_transition", notice.model_dump_json()))


def test_canary_phi_stays_inside_allowed_fields(referralkit_desk, referralkit_outbox, caplog):
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()
    referralkit_desk.hooks.pm.register(recorder)
    desk = referralkit_desk
    referral = desk.create(new_referral(), actor=INTAKE)
    now = desk.clock.now()
    requests = [
        sms_for(referral),
        CallRequest.for_referral(
            referral,
            action="call",
            attempt=1,
            script_id="s",
            window_start=now,
            window_end=now + timedelta(hours=2),
        ),
        FaxRequest.for_referral(referral, action="fax", attempt=1, purpose="records_request"),
        PracticeUpdateRequest.for_referral(referral, action="upd", attempt=1),
    ]
    referralkit_outbox.fax.fail_next(1, "permanent")
    for request in requests:
        desk.dispatch(request)
    desk.fire(
        referral.id, "accept", actor=Actor(kind=ActorKind.HUMAN, id="dr", role=Role.CLINICIAN)
    )
    for adapter in referralkit_outbox.backends:
        for request in adapter.requests:
            data = request.model_dump(mode="json")
            for field, value in data.items():
                if field in type(request).phi_fields:
                    continue
                leaked = [k for k, token in CANARY.items() if token in json.dumps(value)]
                assert not leaked, (type(request).__name__, field, leaked)
    assert recorder.seen
    for hook, payload in recorder.seen:
        assert not [k for k, token in CANARY.items() if token in payload], hook
    for token in CANARY.values():
        assert token not in caplog.text
    for task in desk.get(referral.id).tasks:
        assert not [v for v in CANARY.values() if v in repr(task)]


# -- inbound -----------------------------------------------------------------------------------


def test_stop_reply_records_an_sms_opt_out(referralkit_desk, referral):
    now = referralkit_desk.clock.now()
    reply = SmsReply(
        referral_id=referral.id,
        provider_ref="m-1",
        from_number=CANARY["phone"],
        body=" stop ",
        at=now,
    )
    updated = referralkit_desk.record_sms_reply(reply)
    assert updated.patient is not None
    # The STOP belongs to the number it came from: texts to it stop, calls go on.
    assert not updated.patient.consent.allows(Channel.SMS, CANARY["phone"])
    assert updated.patient.consent.allows(Channel.VOICE, CANARY["phone"])
    assert referralkit_desk.history(referral.id)[-1].kind == "consent_opted_out"
    assert referralkit_desk.record_sms_reply(reply).version == updated.version


def test_ordinary_reply_keeps_consent(referralkit_desk, referral):
    now = referralkit_desk.clock.now()
    reply = SmsReply(
        referral_id=referral.id,
        provider_ref="m-2",
        from_number=CANARY["phone"],
        body="Tuesday works",
        at=now,
    )
    updated = referralkit_desk.record_sms_reply(reply)
    assert updated.patient is not None
    assert updated.patient.consent.allows(Channel.SMS)
    assert referralkit_desk.history(referral.id)[-1].kind == "sms_reply_received"


def test_call_outcome_is_logged_once(referralkit_desk, referral):
    outcome = CallOutcome(
        referral_id=referral.id,
        provider_ref="c-1",
        outcome="voicemail",
        at=referralkit_desk.clock.now(),
    )
    first = referralkit_desk.record_call_outcome(outcome)
    again = referralkit_desk.record_call_outcome(outcome)
    assert [i.outcome for i in again.interactions] == ["voicemail"]
    assert again.version == first.version


def test_inbound_fax_completes_a_records_request(referralkit_desk, referral):
    from referralkit.model import RecordsRequest, RecordsRequestStatus

    now = referralkit_desk.clock.now()
    request = RecordsRequest(requested_at=now)
    referralkit_desk.amend(
        referral.id, "records_requested", actor=INTAKE, update={"records_requests": (request,)}
    )
    fax = InboundFax(
        referral_id=referral.id,
        provider_ref="f-1",
        received_at=now,
        document=DocumentRef(document_id="doc-9", kind="records"),
        records_request_id=request.id,
    )
    updated = referralkit_desk.receive_fax(fax)
    assert updated.records_requests[0].status is RecordsRequestStatus.RECEIVED
    assert updated.records_requests[0].documents == ("doc-9",)
    assert updated.interactions[-1].channel is Channel.FAX
