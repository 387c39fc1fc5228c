"""Fault injection: workers crash at every point of dispatch, several of them, on one SQLite file.

Each worker is a desk with its own SQLite connection; all share one clock and one set of vendor
fakes (a vendor dedupes server-side, across our workers). A crash is a ``BaseException`` raised
after a claim, before a send, after a send, while recording the outcome, or before a release.
After a chaotic phase the crashes stop and sweeps continue until every cadence has run out.

Invariants: no patient is contacted twice for one planned action, no planned action is lost
(every step ends recorded, nothing stays queued), no contact falls outside the window or the
caps, and an adapter that cannot dedupe never re-sends: the attempt becomes ``unknown`` with a
task for a person.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from referralkit import (
    Actor,
    ActorKind,
    Address,
    ManualClock,
    Patient,
    PhoneContact,
    Practice,
    ReasonForReferral,
    Referral,
    ReferralDesk,
    ReferralStatus,
    Role,
    SQLiteStore,
)
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.events import Event
from referralkit.outbox import RetryPolicy
from referralkit.outreach.consent import cap_violations
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.outreach.plan import idempotency_key
from referralkit.outreach.policy import DEFAULT_CAPS
from referralkit.plugins import hookimpl, make_plugin_manager
from referralkit.ports import (
    CallRequest,
    FaxAdapter,
    FaxRequest,
    LetterRequest,
    NotificationAdapter,
    PatientEmailRequest,
    PracticeUpdateRequest,
    Receipt,
    SmsRequest,
    StaffAlertRequest,
    TelephonyAdapter,
)
from referralkit.store import Events, as_events

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # Monday, midnight in Chicago
CHICAGO = ZoneInfo("America/Chicago")
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="pms", role=Role.SYSTEM)
CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr-okafor", role=Role.CLINICIAN)


class Crash(BaseException):
    """A process dying: not an Exception, so nothing in referralkit catches it."""


class Chaos:
    def __init__(self, seed: int, rate: float, only: str | None = None) -> None:
        self.random = random.Random(seed)
        self.rate = rate
        self.only = only
        self.on = True
        self.crashes: dict[str, int] = {}

    def maybe(self, point: str) -> None:
        if not self.on or (self.only is not None and point != self.only):
            return
        if self.random.random() < self.rate:
            self.crashes[point] = self.crashes.get(point, 0) + 1
            if self.only is not None:
                self.on = False  # a scripted crash happens once
            raise Crash(point)


class CrashingStore:
    """A SQLiteStore that may die right after claiming, while saving an outcome, or releasing."""

    def __init__(self, inner: SQLiteStore, chaos: Chaos) -> None:
        self.inner = inner
        self.chaos = chaos

    def create(self, referral: Referral, events: Events) -> None:
        self.inner.create(referral, events)

    def create_many(self, items: object, *, batch_size: int = 1000) -> int:
        return self.inner.create_many(items, batch_size=batch_size)  # type: ignore[arg-type]

    def save(self, referral: Referral, events: Events, *, expected_version: int) -> None:
        if as_events(events)[-1].kind == "action_sent":
            self.chaos.maybe("before_recording_outcome")
        self.inner.save(referral, events, expected_version=expected_version)

    def get(self, referral_id: UUID) -> Referral:
        return self.inner.get(referral_id)

    def events(self, referral_id: UUID) -> list[Event]:
        return self.inner.events(referral_id)

    def list_by_status(self, statuses: Sequence[ReferralStatus], **kw: object) -> list[Referral]:
        return self.inner.list_by_status(statuses, **kw)  # type: ignore[arg-type]

    def due(self, now: datetime, **kw: object) -> list[Referral]:
        return self.inner.due(now, **kw)  # type: ignore[arg-type]

    def count_by_status(self) -> dict[ReferralStatus, int]:
        return self.inner.count_by_status()

    def iter_events(self, **kw: object) -> Iterator[Event]:
        return self.inner.iter_events(**kw)  # type: ignore[arg-type]

    def close(self) -> None:
        self.inner.close()

    def claim_due(self, now: datetime, **kw: object) -> list[Referral]:
        claimed = self.inner.claim_due(now, **kw)  # type: ignore[arg-type]
        if claimed:
            self.chaos.maybe("after_claim")
        return claimed

    def release(self, referral_id: UUID, *, worker: str) -> bool:
        self.chaos.maybe("before_release")
        return self.inner.release(referral_id, worker=worker)

    def reschedule(self, referral: Referral, next_action_at: datetime | None) -> bool:
        return self.inner.reschedule(referral, next_action_at)


class CrashingVendor:
    """Telephony, fax and notification adapters that may die just before or after sending."""

    def __init__(self, inner: InMemoryPlugin, chaos: Chaos) -> None:
        self.inner = inner
        self.chaos = chaos
        self.name = "memory"

    def _call(self, send: object, request: object) -> Receipt:
        self.chaos.maybe("before_send")
        receipt: Receipt = send(request)  # type: ignore[operator]
        self.chaos.maybe("after_send")
        return receipt

    def place_call(self, request: CallRequest) -> Receipt:
        return self._call(self.inner.telephony.place_call, request)

    def send_sms(self, request: SmsRequest) -> Receipt:
        return self._call(self.inner.telephony.send_sms, request)

    def send_fax(self, request: FaxRequest) -> Receipt:
        return self._call(self.inner.fax.send_fax, request)

    def alert_staff(self, request: StaffAlertRequest) -> Receipt:
        return self._call(self.inner.notification.alert_staff, request)

    def update_practice(self, request: PracticeUpdateRequest) -> Receipt:
        return self._call(self.inner.notification.update_practice, request)

    def email_patient(self, request: PatientEmailRequest) -> Receipt:
        return self._call(self.inner.notification.email_patient, request)

    def send_letter(self, request: LetterRequest) -> Receipt:
        return self._call(self.inner.notification.send_letter, request)

    @hookimpl
    def referralkit_register_telephony_adapters(self) -> Sequence[TelephonyAdapter]:
        return [self]

    @hookimpl
    def referralkit_register_fax_adapters(self) -> Sequence[FaxAdapter]:
        return [self]

    @hookimpl
    def referralkit_register_notification_adapters(self) -> Sequence[NotificationAdapter]:
        return [self]


def _referral(number: int) -> Referral:
    return Referral(
        status=ReferralStatus.RECEIVED,
        referral_number=f"R-{number}",
        patient=Patient(
            given_name="Ada",
            family_name=f"Lovelace{number}",
            birth_date=date(1980, 1, 2),
            phones=(PhoneContact(number=f"+1555555{number:04d}"),),
            address=Address(
                line1="1 Main St", city="Springfield", state="IL", postal_code="62701"
            ),
        ),
        referring_practice=Practice(name="Maple Street FM", fax="+15555550100"),
        receiving_practice=Practice(name="Lakeside Cardiology", phone="+15555550199"),
        specialty="cardiology",
        reason=ReasonForReferral(text="palpitations"),
    )


def _world(
    tmp_path: Path,
    seed: int,
    *,
    workers: int,
    rate: float,
    non_deduping: frozenset[str],
    only: str | None = None,
) -> tuple[ManualClock, InMemoryPlugin, Chaos, list[ReferralDesk]]:
    clock = ManualClock(T0)
    vendor = InMemoryPlugin.with_clock(clock, sleep=lambda _s: None)
    chaos = Chaos(seed, rate, only)
    plugin = CrashingVendor(vendor, chaos)
    desks = [
        ReferralDesk(
            store=CrashingStore(SQLiteStore(tmp_path / "shared.db"), chaos),  # type: ignore[arg-type]
            clock=clock,
            hooks=_hooks(plugin),
            retrying=RetryPolicy.no_wait(3),
            outreach=OutreachSettings(
                worker=f"worker-{index}",
                lease=timedelta(minutes=10),
                page_size=3,
                non_deduping=non_deduping,
            ),
        )
        for index in range(workers)
    ]
    return clock, vendor, chaos, desks


def _hooks(plugin: CrashingVendor) -> object:
    from referralkit.plugins import Hooks

    return Hooks(make_plugin_manager([plugin], load_entrypoints=False))


def _ready(desk: ReferralDesk, count: int) -> list[UUID]:
    ids = []
    for number in range(count):
        referral = desk.create(_referral(number), actor=SYSTEM)
        desk.fire(referral.id, "accept", actor=CLINICIAN)
        desk.fire(referral.id, "clear", actor=SYSTEM)
        ids.append(referral.id)
    return ids


def _sweep_all(desks: list[ReferralDesk], order: random.Random) -> None:
    for desk in order.sample(desks, len(desks)):
        with contextlib.suppress(Crash):
            desk.sweep()


def _contact_times(vendor: InMemoryPlugin) -> dict[str, list[datetime]]:
    """Patient contacts that took effect, by phone number, at the vendor's first receipt."""
    by_phone: dict[str, list[datetime]] = {}
    for key, request in vendor.telephony.contacts.items():
        to = request.to  # type: ignore[attr-defined]
        by_phone.setdefault(to, []).append(vendor.telephony.receipts[key].accepted_at)
    return by_phone


STEPS = ("call_d0", "sms_d2", "call_d5", "letter_d10", "call_d14")
PATIENT_OPERATIONS = {"place_call", "send_sms", "send_letter", "email_patient"}


@pytest.mark.parametrize("seed", range(4))
def test_crashes_anywhere_never_duplicate_or_lose_a_contact(tmp_path: Path, seed: int) -> None:
    clock, vendor, chaos, desks = _world(
        tmp_path, seed, workers=3, rate=0.25, non_deduping=frozenset()
    )
    ids = _ready(desks[0], 6)
    order = random.Random(seed)
    for _ in range(24 * 2 * 7):  # chaos for a week, a round of sweeps every 30 minutes
        _sweep_all(desks, order)
        clock.advance(minutes=30)
    chaos.on = False
    for _ in range(12 * 10):  # then ten calm days
        _sweep_all(desks, order)
        clock.advance(hours=2)

    assert sum(chaos.crashes.values()) >= 5
    desk = desks[0]
    for referral_id in ids:
        referral = desk.get(referral_id)
        assert referral.status is ReferralStatus.LOST
        outbox = desk.outbox(referral_id)
        assert all(entry.status == "sent" for entry in outbox.values())  # none lost or queued
        planned = {idempotency_key(referral_id, f"schedule@3/{step}", 1) for step in STEPS}
        contacted = {k for k, e in outbox.items() if e.operation in PATIENT_OPERATIONS}
        assert contacted == planned  # every planned contact once, under its first-attempt key
        lost = next(e for e in desk.history(referral_id) if e.kind == "mark_lost")
        assert idempotency_key(referral_id, f"update@{lost.seq}", 1) in outbox
        desk.verify(referral_id)
    # No duplicate contact: each phone got exactly the four calls and texts of its cadence,
    # inside the window and the caps, even though crashed sends were repeated under their key.
    contacts = _contact_times(vendor)
    assert sorted(len(times) for times in contacts.values()) == [4] * len(ids)
    for times in contacts.values():
        assert cap_violations(times, DEFAULT_CAPS) == 0
        assert all(8 <= t.astimezone(CHICAGO).hour < 21 for t in times)
    letters = [r for r in vendor.notification.contacts.values() if isinstance(r, LetterRequest)]
    assert len(letters) == len(ids)


POINTS = ["after_claim", "before_send", "after_send", "before_recording_outcome", "before_release"]


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("dedupes", [True, False])
def test_one_crash_at_each_point(tmp_path: Path, point: str, dedupes: bool) -> None:
    clock, vendor, _chaos, desks = _world(
        tmp_path,
        0,
        workers=2,
        rate=1.0,
        non_deduping=frozenset() if dedupes else frozenset({"telephony"}),
        only=point,
    )
    (referral_id,) = _ready(desks[0], 1)
    clock.advance(hours=8)  # 08:00 in Chicago: the day-0 call is due
    with pytest.raises(Crash, match=point):
        desks[0].sweep()
    assert desks[1].sweep().claimed == 0  # the crashed worker's lease still holds
    clock.advance(minutes=11)  # the lease and the in-flight timeout have passed
    report = desks[1].sweep()
    entries = [
        e for e in desks[1].outbox(referral_id).values() if e.operation in PATIENT_OPERATIONS
    ]
    assert len(entries) == 1
    sent_before_crash = point in ("after_send", "before_recording_outcome")
    interrupted = sent_before_crash or point == "before_send"
    if interrupted and not dedupes:
        # Interrupted mid-send and the adapter cannot dedupe: never re-sent, a person checks.
        assert entries[0].status == "unknown"
        assert [a.status for a in report.failed] == ["unknown"]
        assert len(vendor.telephony.calls) == (1 if sent_before_crash else 0)
        reasons = [t.reason for t in desks[1].get(referral_id).tasks]
        assert "place_call unknown: crash_recovery" in reasons
    else:
        assert entries[0].status == "sent"
        assert len(vendor.telephony.calls) == 1  # one contact for one planned action
    desks[1].verify(referral_id)
