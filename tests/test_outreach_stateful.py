"""Consent and caps as a state machine: schedule, dispatch, fail, retry, opt out, move, wait.

Invariants after every step, over every contact the vendor fakes recorded:
0 frequency-cap violations per patient, 0 contacts on a channel after an opt-out from it was
committed, 0 contacts outside the window of the address the patient had when contacted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from referralkit import (
    Actor,
    ActorKind,
    Address,
    Appointment,
    ManualClock,
    MemoryStore,
    Patient,
    PhoneContact,
    PhoneKind,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
)
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.model import Channel
from referralkit.outbox import RetryPolicy
from referralkit.outreach import ContactWindow, default_policy
from referralkit.outreach.consent import cap_violations
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import CallRequest, SmsReply, SmsRequest

T0 = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # a Friday; DST starts on the Sunday after
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched-lee", role=Role.SCHEDULER)
STATES = {"IL": "62701", "NY": "10001", "CA": "94105", "TX": "73301", "FL": "33101", "AZ": "85001"}
POLICY = default_policy()


class OutreachMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(T0)
        self.vendor = InMemoryPlugin.with_clock(self.clock, sleep=lambda _s: None)
        self.desk = ReferralDesk(
            store=MemoryStore(),
            clock=self.clock,
            hooks=Hooks(make_plugin_manager([self.vendor], load_entrypoints=False)),
            retrying=RetryPolicy.no_wait(2),
            outreach=OutreachSettings(),
        )
        self.referrals: list[UUID] = []
        # Per referral: (since, patient) snapshots, and committed opt-outs (channel or None).
        self.patients: dict[UUID, list[tuple[datetime, Patient]]] = {}
        self.opt_outs: dict[UUID, list[tuple[datetime, Channel | None]]] = {}
        self.phone_of: dict[str, UUID] = {}
        self.seen: set[str] = set()
        self.times: dict[UUID, list[datetime]] = {}

    # -- rules ----------------------------------------------------------------------------

    @precondition(lambda self: len(self.referrals) < 4)
    @rule(state=st.sampled_from(sorted(STATES)), mobile=st.booleans())
    def schedule(self, state: str, mobile: bool) -> None:
        number = f"+1555555{len(self.referrals):04d}"
        patient = Patient(
            given_name="Ada",
            family_name="Lovelace",
            birth_date=date(1980, 1, 2),
            phones=(
                PhoneContact(number=number, kind=PhoneKind.MOBILE if mobile else PhoneKind.HOME),
            ),
            address=Address(
                line1="1 Main St", city="Town", state=state, postal_code=STATES[state]
            ),
        )
        referral = self.desk.create(
            Referral(
                status=ReferralStatus.RECEIVED,
                patient=patient,
                referring_practice=Practice(name="Maple Street FM", fax="+15555550100"),
                receiving_practice=Practice(name="Lakeside Cardiology"),
                specialty="cardiology",
                reason=ReasonForReferral(text="palpitations"),
            ),
            actor=SYSTEM,
        )
        self.desk.fire(referral.id, "accept", actor=CLINICIAN)
        self.desk.fire(referral.id, "clear", actor=SYSTEM)
        self.referrals.append(referral.id)
        self.patients[referral.id] = [(self.clock.now(), patient)]
        self.opt_outs[referral.id] = []
        self.phone_of[number] = referral.id

    @rule()
    def dispatch(self) -> None:
        self.desk.sweep()

    @rule(count=st.integers(min_value=1, max_value=4), permanent=st.booleans())
    def fail(self, count: int, permanent: bool) -> None:
        self.vendor.telephony.fail_next(count, "permanent" if permanent else "transient")

    @rule(hours=st.integers(min_value=1, max_value=6))
    def retry(self, hours: int) -> None:
        """Let a failed attempt's retry delay pass, then sweep."""
        self.clock.advance(hours=hours)
        self.desk.sweep()

    @rule(minutes=st.integers(min_value=1, max_value=3 * 24 * 60))
    def advance(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @precondition(lambda self: self.referrals)
    @rule(data=st.data(), body=st.sampled_from(["STOP", "stop!", "Alto", "Opt-Out", "basta."]))
    def opt_out_by_sms(self, data: st.DataObject, body: str) -> None:
        referral_id = data.draw(st.sampled_from(self.referrals))
        number = self.patients[referral_id][-1][1].phones[0].number
        self.desk.record_sms_reply(
            SmsReply(
                referral_id=referral_id,
                provider_ref=f"in-{len(self.vendor.telephony.requests)}-{self.clock.now()}",
                from_number=number,
                body=body,
                at=self.clock.now(),
            )
        )
        self._committed(referral_id, Channel.SMS)

    @precondition(lambda self: self.referrals)
    @rule(data=st.data(), everything=st.booleans())
    def opt_out(self, data: st.DataObject, everything: bool) -> None:
        referral_id = data.draw(st.sampled_from(self.referrals))
        channel = None if everything else Channel.VOICE
        self.desk.withdraw_consent(referral_id, channel, actor=SCHEDULER)
        self._committed(referral_id, channel)

    @precondition(lambda self: self.referrals)
    @rule(data=st.data(), state=st.sampled_from(sorted(STATES)))
    def change_address(self, data: st.DataObject, state: str) -> None:
        referral_id = data.draw(st.sampled_from(self.referrals))
        address = Address(
            line1="9 Elm St", city="Elsewhere", state=state, postal_code=STATES[state]
        )
        updated = self.desk.amend(
            referral_id,
            "patient_updated",
            actor=SCHEDULER,
            update=lambda r: {"patient": r.patient.model_copy(update={"address": address})},  # type: ignore[union-attr]
        )
        assert updated.patient is not None
        self.patients[referral_id].append((self.clock.now(), updated.patient))

    @precondition(lambda self: self.referrals)
    @rule(data=st.data(), days=st.integers(min_value=2, max_value=9))
    def book(self, data: st.DataObject, days: int) -> None:
        referral_id = data.draw(st.sampled_from(self.referrals))
        if self.desk.get(referral_id).status is not ReferralStatus.READY_TO_SCHEDULE:
            return
        start = self.clock.now() + timedelta(days=days)
        self.desk.record_booking(referral_id, Appointment(start=start), actor=SCHEDULER)

    def _committed(self, referral_id: UUID, channel: Channel | None) -> None:
        self.opt_outs[referral_id].append((self.clock.now(), channel))
        patient = self.desk.get(referral_id).patient
        assert patient is not None
        self.patients[referral_id].append((self.clock.now(), patient))

    # -- invariants -------------------------------------------------------------------------
    # Rules that change the address or consent never send, and sweeps never change them; so a
    # contact first seen after a step was made with the patient and opt-outs as they stood
    # before that step: the latest snapshot and every opt-out committed so far.

    def _new_contacts(self) -> list[tuple[UUID, Channel, datetime]]:
        found = []
        for key, request in self.vendor.telephony.contacts.items():
            if key in self.seen:
                continue
            self.seen.add(key)
            assert isinstance(request, CallRequest | SmsRequest)
            at = self.vendor.telephony.receipts[key].accepted_at
            channel = Channel.SMS if isinstance(request, SmsRequest) else Channel.VOICE
            self.times.setdefault(request.referral_id, []).append(at)
            found.append((request.referral_id, channel, at))
        return found

    @invariant()
    def contacts_respect_consent_caps_and_windows(self) -> None:
        for referral_id, channel, at in self._new_contacts():
            opted = [c for _, c in self.opt_outs[referral_id]]
            assert None not in opted, "contact after a committed opt-out of everything"
            assert channel not in opted, "contact on a channel after its opt-out"
            patient = self.patients[referral_id][-1][1]
            window = ContactWindow.for_patient(POLICY.window, patient, patient.phones[0])
            assert window is not None
            assert window.is_open(at), "contact outside the patient's window"
        for times in self.times.values():
            assert cap_violations(times, POLICY.caps) == 0


TestOutreachMachine = OutreachMachine.TestCase
