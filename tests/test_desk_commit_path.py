"""The desk's one commit path and the defects the old shape caused (each failed before)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pytest

from referralkit import (
    Actor,
    ActorKind,
    Address,
    ConflictError,
    ManualClock,
    MemoryStore,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
)
from referralkit.adapters.memory import InMemoryPlugin, InMemoryTelephony
from referralkit.errors import TransientAdapterError
from referralkit.model import Channel, PhoneKind, Priority
from referralkit.outbox import RetryPolicy
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.plugins import Hooks, hookimpl, make_plugin_manager
from referralkit.ports import PracticeUpdateRequest, SmsRequest
from referralkit.routing import (
    Action,
    AutoAcceptPolicy,
    Condition,
    Rule,
    RuleSet,
    default_rules,
)
from referralkit.store import Events, as_events

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 09:00 in Illinois, a Monday
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
AI = Actor(kind=ActorKind.AI, id="receptionist", role=Role.INTAKE)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr", role=Role.CLINICIAN)


class CountingStore(MemoryStore):
    """Counts store transactions and the events each carried."""

    def __init__(self) -> None:
        super().__init__()
        self.transactions: list[list[str]] = []

    def create(self, referral: Referral, events: Events) -> None:
        super().create(referral, events)
        self.transactions.append([e.kind for e in as_events(events)])

    def save(self, referral: Referral, events: Events, *, expected_version: int) -> None:
        super().save(referral, events, expected_version=expected_version)
        self.transactions.append([e.kind for e in as_events(events)])


def _desk(
    *, store: MemoryStore | None = None, outreach: bool = False, plugins: Sequence[object] = ()
) -> tuple[ReferralDesk, InMemoryPlugin, ManualClock]:
    clock = ManualClock(T0)
    plugin = InMemoryPlugin.with_clock(clock, sleep=lambda _s: None)
    desk = ReferralDesk(
        store=store or MemoryStore(),
        clock=clock,
        hooks=Hooks(make_plugin_manager([plugin, *plugins], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(3),
        outreach=OutreachSettings() if outreach else None,
    )
    return desk, plugin, clock


def patient_of(**changes: Any) -> Patient:
    values: dict[str, Any] = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "birth_date": date(1980, 1, 2),
        "phones": (PhoneContact(number="+15555550123"),),
        "address": Address(line1="1 Main", city="Springfield", state="IL", postal_code="62701"),
    }
    values.update(changes)
    return Patient(**values)


def _referral(**changes: Any) -> Referral:
    values: dict[str, Any] = {
        "status": ReferralStatus.RECEIVED,
        "patient": patient_of(),
        "referring_practice": Practice(name="PCP", fax="+15555550100"),
        "specialty": "cardiology",
        "reason": ReasonForReferral(text="palpitations"),
    }
    values.update(changes)
    return Referral(**values)


URGENT_CALL: dict[str, Any] = {
    "referral_number": "REF-9",
    "priority": "urgent",
    "patient": {
        "given_name": "Ana",
        "family_name": "Rivera",
        "birth_date": "1961-07-04",
        "phones": ["(312) 555-0147"],
    },
    "referring_practice": {"name": "Lakeside Family Medicine", "npi": "1234567893"},
    "specialty": "Cardiology",
    "reason": {"text": "Chest pain on exertion"},
}


# -- 1. intake goes through the commit path ----------------------------------------------------


def test_an_urgent_phone_intake_is_routed_at_once_with_auto_route() -> None:
    desk, _, _ = _desk()
    desk.auto_route = True
    session = desk.start_intake("new_referral")
    assert session.update(URGENT_CALL).complete
    outcome = desk.submit_intake(session, actor=AI)
    assert outcome.referral is not None
    stored = desk.get(outcome.referral.id)
    assert stored.priority is Priority.URGENT
    # Before: no routing task until someone called route().
    assert [t.queue for t in stored.tasks] == ["urgent_clinical"]


def test_a_new_referral_from_intake_is_one_transaction() -> None:
    store = CountingStore()
    desk, _, _ = _desk(store=store)
    session = desk.start_intake("new_referral")
    session.update(URGENT_CALL)
    desk.submit_intake(session, actor=AI)
    assert store.transactions == [["created", "complete_intake"]]


# -- 2. a routing rule that fires a trigger commits once ----------------------------------------


def test_a_fired_trigger_and_its_record_commit_together() -> None:
    store = CountingStore()
    desk, _, _ = _desk(store=store)
    desk.routing_rules.use(default_rules(auto_accept=(AutoAcceptPolicy(name="cardio"),)))
    referral = desk.create(_referral(), actor=SYSTEM)
    desk.route(referral.id)
    assert desk.get(referral.id).status is ReferralStatus.ACCEPTED
    assert ["accept", "routing_fired"] in store.transactions


# -- 3. the referring practice hears of a delay once ---------------------------------------------


def test_a_week_of_sweeps_never_sends_one_key_twice() -> None:
    desk, plugin, clock = _desk(outreach=True)
    desk.auto_route = True
    desk.create(_referral(), actor=SYSTEM)  # nobody accepts it: its SLA escalates to the PCP
    for _ in range(7 * 6):
        clock.advance(timedelta(hours=4))
        desk.sweep()
    sent = plugin.notification.requests
    updates = [r for r in sent if isinstance(r, PracticeUpdateRequest)]
    assert updates, "the acceptance delay should have reached the referring practice"
    keys = [r.idempotency_key for r in sent]  # type: ignore[attr-defined]
    assert len(keys) == len(set(keys))


def test_a_referrer_notice_sent_during_a_routing_sweep_is_sent_once() -> None:
    # Before: the notice's own commit re-entered routing (auto_route) inside the sweep, which
    # saw the notice still unrecorded and sent it again with the same key.
    desk, plugin, _ = _desk()
    desk.auto_route = False
    desk.routing_rules.use(
        RuleSet(
            [
                Rule(
                    id="tell_the_pcp",
                    description="Tell the referring practice the referral arrived",
                    when=Condition(status={ReferralStatus.RECEIVED}),
                    then=(Action.notify("referrer", "Referral received"),),
                )
            ]
        )
    )
    desk.create(_referral(), actor=SYSTEM)
    desk.auto_route = True
    desk.sweep()
    desk.sweep()
    # What the adapter received: an adapter that cannot dedupe would have notified twice.
    updates = [r for r in plugin.notification.requests if isinstance(r, PracticeUpdateRequest)]
    assert len(updates) == 1


# -- 4. consent has the right owner -------------------------------------------------------------


def test_a_spoken_withdrawal_does_not_reach_a_relative_on_the_same_landline() -> None:
    desk, _, _ = _desk()
    mother = desk.create(_referral(), actor=SYSTEM)
    son = desk.create(
        _referral(patient=patient_of(given_name="Byron", birth_date=date(2010, 5, 6))),
        actor=SYSTEM,
    )
    desk.withdraw_consent(mother.id, actor=CLINICIAN)
    assert not desk.get(mother.id).patient.consent.contact_allowed  # type: ignore[union-attr]
    assert desk.get(son.id).patient.consent.contact_allowed  # type: ignore[union-attr]


def test_a_stop_reaches_every_referral_listing_the_number() -> None:
    from referralkit.ports import SmsReply

    desk, _, clock = _desk()
    mother = desk.create(_referral(), actor=SYSTEM)
    son = desk.create(
        _referral(patient=patient_of(given_name="Byron", birth_date=date(2010, 5, 6))),
        actor=SYSTEM,
    )
    desk.record_sms_reply(
        SmsReply(
            referral_id=mother.id,
            provider_ref="in-1",
            from_number="+15555550123",
            body="STOP",
            at=clock.now(),
        )
    )
    for referral_id in (mother.id, son.id):
        consent = desk.get(referral_id).patient.consent  # type: ignore[union-attr]
        assert not consent.allows(Channel.SMS, "+15555550123")
        assert consent.contact_allowed


# -- 6. contribution hooks change behaviour ------------------------------------------------------


@attrs.frozen
class _NeedsMemberId:
    name: str = "needs_coverage"

    def __call__(self, referral: Referral) -> Sequence[str]:
        return () if referral.coverage is not None else ("coverage",)


class _ChecksPlugin:
    @hookimpl
    def referralkit_add_intake_checks(self) -> list[_NeedsMemberId]:
        return [_NeedsMemberId()]


def test_a_plugin_intake_check_keeps_an_intake_open() -> None:
    desk, _, _ = _desk(plugins=[_ChecksPlugin()])
    session = desk.start_intake("new_referral")
    result = session.update(URGENT_CALL)
    assert not result.complete
    assert [(i.path, i.code) for i in result.issues] == [("check:needs_coverage", "coverage")]


@attrs.frozen
class _FriendlyText:
    template_id: str = "schedule.sms_d2"
    channel: Channel = Channel.SMS
    language: str = "en"

    def render(self, fields: Mapping[str, str]) -> str:
        return f"Hello from {fields['practice']}: your specialist visit is ready to book."


class _TemplatesPlugin:
    @hookimpl
    def referralkit_add_outreach_templates(self) -> list[_FriendlyText]:
        return [_FriendlyText()]


def test_a_plugin_outreach_template_renders_the_text() -> None:
    desk, plugin, clock = _desk(outreach=True, plugins=[_TemplatesPlugin()])
    referral = desk.create(
        _referral(
            patient=patient_of(
                phones=(PhoneContact(number="+15555550123", kind=PhoneKind.MOBILE),)
            ),
            receiving_practice=Practice(name="Heart Clinic", phone="+15555550111"),
        ),
        actor=SYSTEM,
    )
    desk.fire(referral.id, "accept", actor=CLINICIAN)
    desk.fire(referral.id, "clear", actor=CLINICIAN)
    for _ in range(12):
        clock.advance(timedelta(hours=6))
        desk.sweep(routing=False)
    bodies = [s.body for s in plugin.telephony.sms]
    assert any(b.startswith("Hello from Heart Clinic") and "STOP" in b for b in bodies), bodies


# -- safety: a check before every attempt, on every path ---------------------------------------


def _sms(referral: Referral) -> SmsRequest:
    return SmsRequest.for_referral(
        referral, action="host:reminder", attempt=1, template_id="t", body="Please call us."
    )


def _mobile_referral(**changes: Any) -> Referral:
    return _referral(
        patient=patient_of(phones=(PhoneContact(number="+15555550123", kind=PhoneKind.MOBILE),)),
        **changes,
    )


def test_an_opt_out_committed_during_the_retry_back_off_stops_the_send() -> None:
    clock = ManualClock(T0)
    plugin = InMemoryPlugin.with_clock(clock, sleep=lambda _s: None)
    holder: list[ReferralDesk] = []
    referral_ids: list[Any] = []

    def sleep(_seconds: float) -> None:
        # The patient opts out while the outbox waits to retry.
        holder[0].withdraw_consent(referral_ids[0], actor=CLINICIAN)

    desk = ReferralDesk(
        store=MemoryStore(),
        clock=clock,
        hooks=Hooks(make_plugin_manager([plugin], load_entrypoints=False)),
        retrying=RetryPolicy(attempts=3, initial=0.01, jitter=0).build(sleep=sleep),
    )
    holder.append(desk)
    referral = desk.create(_mobile_referral(), actor=SYSTEM)
    referral_ids.append(referral.id)
    plugin.telephony.fail_next(1, "transient")
    outcome = desk.dispatch(_sms(referral))
    assert outcome.status == "cancelled"
    assert outcome.reason == "consent"
    assert plugin.telephony.sms == []
    assert desk.outbox(referral.id)[outcome.key].status == "cancelled"


class _Crash(BaseException):
    """A process dying: nothing catches it."""


def _die(_self: object, _request: object) -> object:
    raise _Crash


def _crashed_send(desk: ReferralDesk, referral: Referral) -> str:
    """Queue an SMS and die inside the adapter call, before anything reached the vendor."""
    request = _sms(referral)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(InMemoryTelephony, "send_sms", _die)
        with pytest.raises(_Crash):
            desk.dispatch(request)
    assert desk.outbox(referral.id)[request.idempotency_key].status == "queued"
    return request.idempotency_key


def test_recover_after_an_opt_out_sends_nothing() -> None:
    desk, plugin, _ = _desk()
    referral = desk.create(_mobile_referral(), actor=SYSTEM)
    key = _crashed_send(desk, referral)
    desk.withdraw_consent(referral.id, Channel.SMS, actor=CLINICIAN)
    (outcome,) = desk.recover(referral.id)
    assert (outcome.status, outcome.reason) == ("cancelled", "consent")
    assert plugin.telephony.sms == []
    assert desk.outbox(referral.id)[key].status == "cancelled"


def test_recover_at_three_in_the_morning_waits_for_the_window() -> None:
    desk, plugin, clock = _desk()
    referral = desk.create(_mobile_referral(), actor=SYSTEM)
    key = _crashed_send(desk, referral)
    clock.set(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))  # 03:00 in Illinois
    (outcome,) = desk.recover(referral.id)
    assert (outcome.status, outcome.reason) == ("queued", "window_closed")
    assert plugin.telephony.sms == []
    clock.set(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))  # 09:00: the window is open
    (outcome,) = desk.recover(referral.id)
    assert outcome.status == "sent"
    assert [s.idempotency_key for s in plugin.telephony.sms] == [key]


def test_a_stale_caller_cannot_send_an_already_queued_action() -> None:
    desk, plugin, _ = _desk()
    referral = desk.create(_mobile_referral(), actor=SYSTEM)
    _crashed_send(desk, referral)
    with pytest.raises(ConflictError):
        desk.dispatch(_sms(referral), expected_version=referral.version)
    assert plugin.telephony.sms == []


def test_two_workers_holding_one_version_claim_a_queued_action_once() -> None:
    desk, plugin, _ = _desk()
    referral = desk.create(_mobile_referral(), actor=SYSTEM)
    _crashed_send(desk, referral)
    version = desk.get(referral.id).version
    first = desk.dispatch(_sms(referral), expected_version=version)
    assert first.status == "sent"
    # The second worker read the same version: its claim is refused, nothing is sent again.
    with pytest.raises(ConflictError):
        desk.dispatch(_sms(referral), expected_version=version)
    assert len(plugin.telephony.sms) == 1


def test_a_host_dispatch_outside_calling_hours_is_skipped_and_recorded_nowhere() -> None:
    desk, plugin, clock = _desk()
    referral = desk.create(_mobile_referral(), actor=SYSTEM)
    clock.set(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))  # 03:00 in Illinois
    outcome = desk.dispatch(_sms(referral))
    assert (outcome.status, outcome.reason) == ("skipped", "window_closed")
    assert plugin.telephony.sms == []
    assert desk.outbox(referral.id) == {}


def test_transient_faults_on_the_notification_path_still_retry() -> None:
    desk, plugin, _ = _desk()
    referral = desk.create(_mobile_referral(), actor=SYSTEM)
    plugin.telephony.fail_next(2, "transient")
    outcome = desk.dispatch(_sms(referral))
    assert outcome.status == "sent"
    assert len(plugin.telephony.sms) == 1
    assert not isinstance(outcome.receipt, TransientAdapterError)


class _RacingStore(MemoryStore):
    """A store where another writer commits just before the first save: a lost race."""

    def __init__(self) -> None:
        super().__init__()
        self.racer: ReferralDesk | None = None

    def save(self, referral: Referral, events: Events, *, expected_version: int) -> None:
        racer, self.racer = self.racer, None
        if racer is not None:
            racer.withdraw_consent(referral.id, Channel.VOICE, actor=CLINICIAN)
        super().save(referral, events, expected_version=expected_version)


def test_an_opt_out_that_loses_a_race_is_committed_on_the_retry() -> None:
    store = _RacingStore()
    desk, _, _ = _desk(store=store)
    racer, _, _ = _desk(store=store)
    referral = desk.create(_mobile_referral(), actor=SYSTEM)
    store.racer = racer
    desk.withdraw_consent(referral.id, Channel.SMS, actor=CLINICIAN)
    consent = desk.get(referral.id).patient.consent
    assert set(consent.opted_out_channels) == {Channel.SMS, Channel.VOICE}
    kinds = [e.kind for e in desk.history(referral.id)]
    assert kinds.count("consent_opted_out") == 2
