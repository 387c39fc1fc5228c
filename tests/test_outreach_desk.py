"""The desk's outreach surface: next_action_at kept with every change, sweeps, failures."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from referralkit import (
    MemoryStore,
    PhoneContact,
    Referral,
    ReferralDesk,
)
from referralkit.adapters.memory import InMemoryFax, InMemoryTelephony
from referralkit.model import Channel, RecordsRequest
from referralkit.outbox import RetryPolicy
from referralkit.outreach import dispatch as dispatch_module
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.plugins import Hooks, hookimpl, make_plugin_manager
from tests.support.outreach_world import (
    CLINICIAN,
    SYSTEM,
    T0,
    outreach_desk,
    plain_referral,
    ready_referral,
)


def test_next_action_at_is_written_with_the_transition() -> None:
    desk, _, _ = outreach_desk()
    referral = desk.create(plain_referral(), actor=SYSTEM)
    assert referral.next_action_at is None
    desk.fire(referral.id, "accept", actor=CLINICIAN)
    ready = desk.fire(referral.id, "clear", actor=SYSTEM)
    assert ready.next_action_at == T0
    assert desk.get(referral.id).next_action_at == T0
    assert [r.id for r in desk.store.due(T0)] == [referral.id]


def test_without_outreach_the_desk_leaves_next_action_at_alone() -> None:
    desk, _, _ = outreach_desk()
    desk.outreach = None
    ready = ready_referral(desk)
    assert ready.next_action_at is None


def test_a_permanent_failure_is_reported_with_a_task_and_the_cadence_goes_on() -> None:
    desk, plugin, _clock = outreach_desk()
    referral = ready_referral(desk)
    plugin.telephony.fail_next(1, "permanent")
    report = desk.sweep(routing=False)
    assert [(a.status, a.reason) for a in report.failed] == [("failed", "permanent")]
    assert len(desk.get(referral.id).tasks) == 1
    assert desk.get(referral.id).next_action_at == T0 + timedelta(days=2)


def test_transient_failures_after_retries_are_tried_again_later() -> None:
    desk, plugin, clock = outreach_desk()
    referral = ready_referral(desk)
    plugin.telephony.fail_next(2, "transient")  # both tries of the retry policy
    report = desk.sweep(routing=False)
    assert [a.reason for a in report.failed] == ["retries_exhausted"]
    clock.advance(hours=2)
    report = desk.sweep(routing=False)
    assert len(report.dispatched) == 1
    assert len(plugin.telephony.calls) == 1
    entries = list(desk.outbox(referral.id).values())
    assert [e.status for e in entries] == ["failed", "sent"]
    assert entries[0].key != entries[1].key  # attempt 2 has its own key


def test_an_sms_template_too_long_becomes_a_task_not_a_truncated_text() -> None:
    desk, plugin, clock = outreach_desk(sms_templates={"schedule.sms_d2": "x" * 200})
    referral = ready_referral(desk)
    desk.sweep(routing=False)
    clock.advance(days=2)
    report = desk.sweep(routing=False)
    assert [a.reason for a in report.tasks_opened] == ["sms_too_long"]
    assert plugin.telephony.sms == []
    assert desk.get(referral.id).next_action_at == T0 + timedelta(days=5)


def test_a_sweep_leaves_no_lease_behind() -> None:
    desk, _, _ = outreach_desk(worker="w1")
    ready_referral(desk)
    desk.sweep(routing=False)
    store = desk.store
    assert isinstance(store, MemoryStore)
    # Due again (the SMS step) two days on: claimable by anyone, the lease was released.
    assert store.claim_due(T0 + timedelta(days=3), worker="w2", lease=timedelta(minutes=1))


def test_a_sweep_needs_a_leasing_store() -> None:
    desk, _, _ = outreach_desk()

    @attrs.define
    class Plain:
        inner: MemoryStore

        def __getattr__(self, name: str) -> object:
            if name in ("claim_due", "release", "reschedule"):
                raise AttributeError(name)
            return getattr(self.inner, name)

    desk.store = Plain(MemoryStore())  # type: ignore[assignment]
    with pytest.raises(TypeError, match="cannot lease"):
        desk.sweep(routing=False)


class _Crash(BaseException):
    """A worker dying mid-send (not an Exception, so nothing in referralkit catches it)."""


def _crash(_self: object, _request: object) -> object:
    raise _Crash


def test_resuming_one_interrupted_action_never_resends_another_after_an_opt_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two actions interrupted mid-send: a records fax and the day-0 call. The patient then
    # opts out of calls. Resuming the fax must not re-send the call with it.
    desk, plugin, clock = outreach_desk()
    records = RecordsRequest(requested_at=T0, due_at=T0)
    referral = desk.create(
        plain_referral().model_copy(update={"records_requests": (records,)}), actor=SYSTEM
    )
    desk.fire(referral.id, "accept", actor=CLINICIAN)
    desk.fire(referral.id, "clear", actor=SYSTEM)
    with monkeypatch.context() as patched:
        patched.setattr(InMemoryTelephony, "place_call", _crash)
        patched.setattr(InMemoryFax, "send_fax", _crash)
        for _ in range(2):
            with pytest.raises(_Crash):
                desk.sweep(routing=False)
    queued = sorted(e.operation for e in desk.outbox(referral.id).values() if e.status == "queued")
    assert queued == ["place_call", "send_fax"]
    desk.withdraw_consent(referral.id, Channel.VOICE, actor=SYSTEM)
    clock.advance(hours=1)
    desk.sweep(routing=False)
    assert plugin.telephony.calls == []
    assert len(plugin.fax.sent) == 1
    statuses = {e.operation: e.status for e in desk.outbox(referral.id).values()}
    assert statuses == {"send_fax": "sent", "place_call": "unknown"}


def test_an_opt_out_committed_after_planning_stops_the_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A STOP handled by another worker lands between the sweep's plan and its send.
    desk, plugin, _clock = outreach_desk()
    referral = ready_referral(desk)
    real_plan = dispatch_module.plan
    opted_out = False

    def plan_then_opt_out(*args: object, **kwargs: object) -> object:
        nonlocal opted_out
        planned = real_plan(*args, **kwargs)  # type: ignore[arg-type]
        if not opted_out:
            opted_out = True
            desk.withdraw_consent(referral.id, actor=SYSTEM)
        return planned

    monkeypatch.setattr(dispatch_module, "plan", plan_then_opt_out)
    report = desk.sweep(routing=False)
    assert plugin.telephony.calls == []
    assert [a.reason for a in report.skipped] == ["conflict"]
    assert desk.outbox(referral.id) == {}
    monkeypatch.undo()
    desk.sweep(routing=False)
    assert plugin.telephony.calls == []


class _PhoneOnly:
    """A host that registered telephony but no fax adapter."""

    def __init__(self, telephony: InMemoryTelephony) -> None:
        self.telephony = telephony

    @hookimpl
    def referralkit_register_telephony_adapters(self) -> list[InMemoryTelephony]:
        return [self.telephony]


def test_a_missing_backend_becomes_a_task_and_the_sweep_goes_on() -> None:
    _, plugin, clock = outreach_desk()
    desk = ReferralDesk(
        store=MemoryStore(),
        clock=clock,
        hooks=Hooks(make_plugin_manager([_PhoneOnly(plugin.telephony)], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(2),
        outreach=OutreachSettings(),
    )
    records = RecordsRequest(requested_at=T0, due_at=T0)
    needs_fax = desk.create(
        plain_referral().model_copy(update={"records_requests": (records,)}), actor=SYSTEM
    )
    desk.fire(needs_fax.id, "accept", actor=CLINICIAN)
    desk.fire(needs_fax.id, "clear", actor=SYSTEM)
    report = desk.sweep(routing=False)
    assert [a.reason for a in report.tasks_opened] == ["no_backend"]
    assert len(plugin.telephony.calls) == 1  # the same sweep still made the day-0 call
    assert any(t.reason.endswith("no_backend") for t in desk.get(needs_fax.id).tasks)
    assert desk.sweep(routing=False).tasks_opened == []  # handed over once, not every sweep


def _second_referral_of(first: Referral, **patient_changes: object) -> Referral:
    assert first.patient is not None
    return plain_referral().model_copy(
        update={"patient": first.patient.model_copy(update=patient_changes)}
    )


def test_an_sms_stop_opts_the_patient_out_on_their_other_open_referrals() -> None:
    from referralkit.ports import SmsReply

    desk, _plugin, clock = outreach_desk()
    first = ready_referral(desk)
    other = desk.create(_second_referral_of(first), actor=SYSTEM)
    stranger = desk.create(
        _second_referral_of(first, phones=(PhoneContact(number="+15555550999"),), given_name="Bo"),
        actor=SYSTEM,
    )
    desk.record_sms_reply(
        SmsReply(
            referral_id=first.id,
            provider_ref="sms-1",
            from_number="+15555550123",
            body="Stop.",
            at=clock.now(),
        )
    )
    # The STOP belongs to the number: every open referral listing it stops texting it.
    for referral_id in (first.id, other.id):
        patient = desk.get(referral_id).patient
        assert patient is not None
        assert not patient.consent.allows(Channel.SMS, "+15555550123")
        assert patient.consent.allows(Channel.VOICE, "+15555550123")
    (event,) = [e for e in desk.history(other.id) if e.kind == "consent_opted_out"]
    assert event.data == {"channel": "sms", "scope": "number", "source_referral": str(first.id)}
    stranger_patient = desk.get(stranger.id).patient
    assert stranger_patient is not None
    assert stranger_patient.consent.allows(Channel.SMS, "+15555550999")


def test_withdrawing_consent_reaches_the_same_patient_by_name_and_birth_date() -> None:
    desk, _plugin, _clock = outreach_desk()
    first = ready_referral(desk)
    other = desk.create(
        _second_referral_of(first, phones=(PhoneContact(number="+15555550777"),)), actor=SYSTEM
    )
    desk.withdraw_consent(first.id, None, actor=CLINICIAN)
    patient = desk.get(other.id).patient
    assert patient is not None
    assert patient.consent.contact_allowed is False
    # Withdrawing again changes nothing further: no second event on the other referral.
    desk.withdraw_consent(first.id, None, actor=CLINICIAN)
    assert [e.kind for e in desk.history(other.id)].count("consent_opted_out") == 1
