"""In-memory adapters: a :class:`MemoryStore` for tests, demos and embedding without disk.

Also fakes of every vendor port (:class:`InMemoryTelephony`, :class:`InMemoryEhr`,
:class:`InMemoryFax`, :class:`InMemoryNotification`) and :class:`InMemoryPlugin`, which provides
them through the hooks. The fakes record every request, honour idempotency keys (a repeated key
is not a second contact) and can be scripted to fail. This module never imports pytest.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal, TypeVar
from uuid import UUID

import attrs
from pydantic import BaseModel

from referralkit.clock import Clock, SystemClock
from referralkit.errors import (
    ConflictError,
    DuplicateReferralError,
    PermanentAdapterError,
    ReferralNotFoundError,
    TransientAdapterError,
)
from referralkit.events import Event
from referralkit.model import Channel, Coverage, Patient, Referral, ReferralStatus
from referralkit.plugins import hookimpl
from referralkit.ports import (
    AppointmentReceipt,
    BookAppointmentRequest,
    CallRequest,
    CancelAppointmentRequest,
    DocumentList,
    DocumentRef,
    DocumentsRequest,
    EhrAdapter,
    EventNotice,
    FaxAdapter,
    FaxRequest,
    IntakeCheck,
    LetterRequest,
    NotificationAdapter,
    OutreachTemplate,
    PatientEmailRequest,
    PatientLookupRequest,
    PatientRecord,
    PracticeUpdateRequest,
    Receipt,
    RoutingRule,
    SmsRequest,
    StaffAlertRequest,
    StatusPushRequest,
    TelephonyAdapter,
)
from referralkit.store import check_change

__all__ = [
    "Fault",
    "InMemoryEhr",
    "InMemoryFax",
    "InMemoryNotification",
    "InMemoryPlugin",
    "InMemoryTelephony",
    "MemoryStore",
    "MemoryTemplate",
]


def _due_key(referral: Referral) -> tuple[datetime, str]:
    assert referral.next_action_at is not None  # noqa: S101 - filtered by the caller
    return referral.next_action_at, str(referral.id)


@attrs.define
class MemoryStore:
    """A :class:`~referralkit.store.Store` held in process memory; thread-safe, not durable.

    Referrals are frozen, so the store keeps the objects themselves: nothing a caller holds can
    change what is stored.
    """

    _referrals: dict[UUID, Referral] = attrs.field(factory=dict, init=False)
    _events: dict[UUID, list[Event]] = attrs.field(factory=dict, init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)
    _leases: dict[UUID, tuple[str, datetime]] = attrs.field(factory=dict, init=False)

    def create(self, referral: Referral, event: Event) -> None:
        """Insert a new referral and its ``created`` event."""
        check_change(referral, event)
        with self._lock:
            if referral.id in self._referrals:
                raise DuplicateReferralError(referral.id)
            self._referrals[referral.id] = referral
            self._events[referral.id] = [event]

    def create_many(
        self, items: Iterable[tuple[Referral, Event]], *, batch_size: int = 1000
    ) -> int:
        """Insert many new referrals; a batch with a duplicate id is not written."""
        count = 0
        batch: list[tuple[Referral, Event]] = []
        for item in items:
            check_change(*item)
            batch.append(item)
            if len(batch) >= batch_size:
                count += self._insert_batch(batch)
                batch = []
        if batch:
            count += self._insert_batch(batch)
        return count

    def _insert_batch(self, batch: list[tuple[Referral, Event]]) -> int:
        with self._lock:
            seen: set[UUID] = set()
            for referral, _ in batch:
                if referral.id in self._referrals or referral.id in seen:
                    raise DuplicateReferralError(referral.id)
                seen.add(referral.id)
            for referral, event in batch:
                self._referrals[referral.id] = referral
                self._events[referral.id] = [event]
        return len(batch)

    def save(self, referral: Referral, event: Event, *, expected_version: int) -> None:
        """Replace the referral and append its event if the stored version matches."""
        check_change(referral, event)
        if referral.version != expected_version + 1:
            raise ValueError("a change must raise the version by exactly one")
        with self._lock:
            current = self._referrals.get(referral.id)
            if current is None:
                raise ReferralNotFoundError(referral.id)
            if current.version != expected_version:
                raise ConflictError(referral.id, expected_version, current.version)
            self._referrals[referral.id] = referral
            self._events[referral.id].append(event)

    def get(self, referral_id: UUID) -> Referral:
        """Return the referral or raise :class:`~referralkit.errors.ReferralNotFoundError`."""
        try:
            return self._referrals[referral_id]
        except KeyError:
            raise ReferralNotFoundError(referral_id) from None

    def events(self, referral_id: UUID) -> list[Event]:
        """Return the referral's events in order."""
        with self._lock:
            return list(self._events.get(referral_id, ()))

    def list_by_status(
        self, statuses: Sequence[ReferralStatus], *, limit: int = 100, after: UUID | None = None
    ) -> list[Referral]:
        """Return referrals in *statuses* ordered by id, after *after*."""
        wanted = set(statuses)
        with self._lock:
            rows = [
                r
                for r in self._referrals.values()
                if r.status in wanted and (after is None or str(r.id) > str(after))
            ]
        rows.sort(key=lambda r: str(r.id))
        return rows[:limit]

    def due(
        self, now: datetime, *, limit: int = 100, after: tuple[datetime, UUID] | None = None
    ) -> list[Referral]:
        """Return referrals with ``next_action_at <= now``, by ``(next_action_at, id)``."""
        with self._lock:
            rows = [
                r
                for r in self._referrals.values()
                if r.next_action_at is not None and r.next_action_at <= now
            ]
        keyed = sorted((_due_key(r), r) for r in rows)
        if after is not None:
            cursor = (after[0], str(after[1]))
            keyed = [item for item in keyed if item[0] > cursor]
        return [r for _, r in keyed[:limit]]

    def count_by_status(self) -> dict[ReferralStatus, int]:
        """Return the number of referrals per status."""
        with self._lock:
            return dict(Counter(r.status for r in self._referrals.values()))

    def claim_due(
        self, now: datetime, *, worker: str, lease: timedelta, limit: int = 100
    ) -> list[Referral]:
        """Lease up to *limit* due referrals no live lease holds to *worker* (see LeasingStore)."""
        with self._lock:
            rows = [
                r
                for r in self._referrals.values()
                if r.next_action_at is not None
                and r.next_action_at <= now
                and not (r.id in self._leases and self._leases[r.id][1] > now)
            ]
            claimed = [r for _, r in sorted((_due_key(r), r) for r in rows)[:limit]]
            for referral in claimed:
                self._leases[referral.id] = (worker, now + lease)
        return claimed

    def release(self, referral_id: UUID, *, worker: str) -> bool:
        """End *worker*'s lease on the referral; ``False`` if it held none."""
        with self._lock:
            held = self._leases.get(referral_id)
            if held is None or held[0] != worker:
                return False
            del self._leases[referral_id]
            return True

    def reschedule(self, referral: Referral, next_action_at: datetime | None) -> bool:
        """Set ``next_action_at`` if the stored version is *referral*'s; no event is added."""
        with self._lock:
            current = self._referrals.get(referral.id)
            if current is None or current.version != referral.version:
                return False
            self._referrals[referral.id] = current.model_copy(
                update={"next_action_at": next_action_at}
            )
            return True

    def close(self) -> None:
        """Nothing to release; present to satisfy the protocol."""


# -- Vendor-port fakes ------------------------------------------------------------------------

FaultKind = Literal["transient", "permanent", "unexpected", "delay"]
_R = TypeVar("_R", bound=Receipt)


@attrs.frozen
class Fault:
    """One scripted fault for the next call of a fake adapter.

    ``transient`` raises :class:`~referralkit.errors.TransientAdapterError` and ``permanent``
    :class:`~referralkit.errors.PermanentAdapterError`, both before anything is sent;
    ``unexpected`` raises :class:`RuntimeError` (as a buggy plugin would); ``delay`` sleeps
    *seconds* and then serves the call.

    .. versionadded:: 0.1
    """

    kind: FaultKind
    seconds: float = 0.0


@attrs.define
class _Recorder:
    """What every fake shares: recording, idempotency, scripted faults."""

    name: str = "memory"
    clock: Clock = attrs.field(factory=SystemClock)
    sleep: Callable[[float], None] = attrs.field(default=time.sleep)
    requests: list[BaseModel] = attrs.field(factory=list)
    """Every request received, in order: failed tries and repeated keys included."""
    contacts: dict[str, BaseModel] = attrs.field(factory=dict)
    """The requests that took effect, by idempotency key: at most one per key."""
    receipts: dict[str, Receipt] = attrs.field(factory=dict)
    faults: deque[Fault] = attrs.field(factory=deque)
    _counter: Iterator[int] = attrs.field(factory=lambda: itertools.count(1), repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def fail_next(
        self, count: int = 1, kind: FaultKind = "transient", *, seconds: float = 0.0
    ) -> None:
        """Make the next *count* calls fail (or be delayed) with *kind*."""
        self.faults.extend(Fault(kind, seconds) for _ in range(count))

    def script(self, *faults: Fault) -> None:
        """Queue *faults* for the next calls, one each; calls after them succeed."""
        self.faults.extend(faults)

    def _fault(self, operation: str, request: BaseModel) -> None:
        with self._lock:
            self.requests.append(request)
            fault = self.faults.popleft() if self.faults else None
        if fault is None:
            return
        if fault.kind == "delay":
            self.sleep(fault.seconds)
        elif fault.kind == "transient":
            raise TransientAdapterError(
                "scripted transient fault", adapter=self.name, operation=operation
            )
        elif fault.kind == "permanent":
            raise PermanentAdapterError(
                "scripted permanent fault", adapter=self.name, operation=operation
            )
        else:
            raise RuntimeError("scripted unexpected fault")

    def _serve(
        self,
        operation: str,
        key: str,
        request: BaseModel,
        make: Callable[[str, datetime], _R],
    ) -> _R:
        self._fault(operation, request)
        with self._lock:
            first = self.receipts.get(key)
            if first is not None:
                # A repeated key is not a second contact: answer with the first receipt.
                return first.model_copy(update={"duplicate": True})  # type: ignore[return-value]
            receipt = make(f"{self.name}-{next(self._counter)}", self.clock.now())
            self.receipts[key] = receipt
            self.contacts[key] = request
            return receipt


def _receipt(key: str) -> Callable[[str, datetime], Receipt]:
    return lambda ref, now: Receipt(idempotency_key=key, provider_ref=ref, accepted_at=now)


@attrs.define
class InMemoryTelephony(_Recorder):
    """A fake :class:`~referralkit.ports.TelephonyAdapter`: calls and SMS are recorded.

    .. versionadded:: 0.1
    """

    @property
    def calls(self) -> list[CallRequest]:
        """Calls placed (one per idempotency key)."""
        return [r for r in self.contacts.values() if isinstance(r, CallRequest)]

    @property
    def sms(self) -> list[SmsRequest]:
        """SMS sent (one per idempotency key)."""
        return [r for r in self.contacts.values() if isinstance(r, SmsRequest)]

    def place_call(self, request: CallRequest) -> Receipt:
        """Record the call."""
        key = request.idempotency_key
        return self._serve("place_call", key, request, _receipt(key))

    def send_sms(self, request: SmsRequest) -> Receipt:
        """Record the SMS."""
        key = request.idempotency_key
        return self._serve("send_sms", key, request, _receipt(key))


@attrs.define
class InMemoryFax(_Recorder):
    """A fake :class:`~referralkit.ports.FaxAdapter`.

    .. versionadded:: 0.1
    """

    @property
    def sent(self) -> list[FaxRequest]:
        """Faxes sent (one per idempotency key)."""
        return [r for r in self.contacts.values() if isinstance(r, FaxRequest)]

    def send_fax(self, request: FaxRequest) -> Receipt:
        """Record the fax."""
        key = request.idempotency_key
        return self._serve("send_fax", key, request, _receipt(key))


@attrs.define
class InMemoryNotification(_Recorder):
    """A fake :class:`~referralkit.ports.NotificationAdapter`.

    .. versionadded:: 0.1
    """

    @property
    def sent(self) -> list[BaseModel]:
        """Alerts, updates, emails and letters sent (one per idempotency key)."""
        return list(self.contacts.values())

    def alert_staff(self, request: StaffAlertRequest) -> Receipt:
        """Record the staff alert."""
        key = request.idempotency_key
        return self._serve("alert_staff", key, request, _receipt(key))

    def update_practice(self, request: PracticeUpdateRequest) -> Receipt:
        """Record the practice update."""
        key = request.idempotency_key
        return self._serve("update_practice", key, request, _receipt(key))

    def email_patient(self, request: PatientEmailRequest) -> Receipt:
        """Record the email."""
        key = request.idempotency_key
        return self._serve("email_patient", key, request, _receipt(key))

    def send_letter(self, request: LetterRequest) -> Receipt:
        """Record the letter."""
        key = request.idempotency_key
        return self._serve("send_letter", key, request, _receipt(key))


@attrs.define
class InMemoryEhr(_Recorder):
    """A fake :class:`~referralkit.ports.EhrAdapter` serving patients and documents by MRN.

    .. versionadded:: 0.1
    """

    patients: dict[str, tuple[Patient, tuple[Coverage, ...]]] = attrs.field(factory=dict)
    documents: dict[str, tuple[DocumentRef, ...]] = attrs.field(factory=dict)

    def fetch_patient(self, request: PatientLookupRequest) -> PatientRecord:
        """Return the patient stored under the MRN (``patient=None`` if unknown)."""
        self._fault("fetch_patient", request)
        found = self.patients.get(request.mrn)
        if found is None:
            return PatientRecord(idempotency_key=request.idempotency_key)
        patient, coverage = found
        return PatientRecord(
            idempotency_key=request.idempotency_key,
            patient=patient,
            coverage=coverage if request.include_coverage else (),
        )

    def fetch_documents(self, request: DocumentsRequest) -> DocumentList:
        """Return the stored documents of the requested kinds (all kinds if none named)."""
        self._fault("fetch_documents", request)
        docs = self.documents.get(request.mrn, ())
        if request.kinds:
            docs = tuple(d for d in docs if d.kind in request.kinds)
        return DocumentList(idempotency_key=request.idempotency_key, documents=docs)

    def push_status(self, request: StatusPushRequest) -> Receipt:
        """Record the status push."""
        key = request.idempotency_key
        return self._serve("push_status", key, request, _receipt(key))

    def book_appointment(self, request: BookAppointmentRequest) -> AppointmentReceipt:
        """Record the booking and return an external id."""
        key = request.idempotency_key
        return self._serve(
            "book_appointment",
            key,
            request,
            lambda ref, now: AppointmentReceipt(
                idempotency_key=key, provider_ref=ref, accepted_at=now, external_id=ref
            ),
        )

    def cancel_appointment(self, request: CancelAppointmentRequest) -> Receipt:
        """Record the cancellation."""
        key = request.idempotency_key
        return self._serve("cancel_appointment", key, request, _receipt(key))


@attrs.frozen
class MemoryTemplate:
    """A simple :class:`~referralkit.ports.OutreachTemplate`: ``str.format`` over fields.

    Unknown placeholders render as empty text rather than failing.

    .. versionadded:: 0.1
    """

    template_id: str
    channel: Channel
    language: str
    text: str

    def render(self, fields: Mapping[str, str]) -> str:
        """Return the text with *fields* filled in."""
        return self.text.format_map(_Blank(fields))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _default_templates() -> list[OutreachTemplate]:
    return [
        MemoryTemplate(
            "memory-reminder",
            Channel.SMS,
            "en",
            "{practice} would like to book your appointment. Call {callback}."
            " Reply STOP to opt out.",
        )
    ]


@attrs.define
class InMemoryPlugin:
    """A plugin providing one fake per port, recording what observers see.

    Register it with :func:`~referralkit.plugins.make_plugin_manager`; every hook is
    implemented, so it also serves as a reference for vendors.

    .. versionadded:: 0.1
    """

    telephony: InMemoryTelephony = attrs.field(factory=InMemoryTelephony)
    ehr: InMemoryEhr = attrs.field(factory=InMemoryEhr)
    fax: InMemoryFax = attrs.field(factory=InMemoryFax)
    notification: InMemoryNotification = attrs.field(factory=InMemoryNotification)
    notices: list[EventNotice] = attrs.field(factory=list)
    """Every event notice observed (``referralkit_on_event``)."""
    transitions: list[EventNotice] = attrs.field(factory=list)
    """Every transition notice observed (``referralkit_on_transition``)."""
    intake_checks: list[IntakeCheck] = attrs.field(factory=list)
    routing_rules: list[RoutingRule] = attrs.field(factory=list)
    templates: list[OutreachTemplate] = attrs.field(factory=_default_templates)

    @classmethod
    def with_clock(
        cls, clock: Clock, *, sleep: Callable[[float], None] = time.sleep
    ) -> InMemoryPlugin:
        """Return a plugin whose fakes stamp receipts with *clock* and sleep with *sleep*."""
        return cls(
            telephony=InMemoryTelephony(clock=clock, sleep=sleep),
            ehr=InMemoryEhr(clock=clock, sleep=sleep),
            fax=InMemoryFax(clock=clock, sleep=sleep),
            notification=InMemoryNotification(clock=clock, sleep=sleep),
        )

    @property
    def backends(self) -> tuple[_Recorder, ...]:
        """The four fakes."""
        return (self.telephony, self.ehr, self.fax, self.notification)

    @hookimpl
    def referralkit_register_telephony_adapters(self) -> Sequence[TelephonyAdapter]:
        """Provide the telephony fake."""
        return [self.telephony]

    @hookimpl
    def referralkit_register_ehr_adapters(self) -> Sequence[EhrAdapter]:
        """Provide the EHR fake."""
        return [self.ehr]

    @hookimpl
    def referralkit_register_fax_adapters(self) -> Sequence[FaxAdapter]:
        """Provide the fax fake."""
        return [self.fax]

    @hookimpl
    def referralkit_register_notification_adapters(self) -> Sequence[NotificationAdapter]:
        """Provide the notification fake."""
        return [self.notification]

    @hookimpl
    def referralkit_on_event(self, notice: EventNotice) -> None:
        """Record the notice."""
        self.notices.append(notice)

    @hookimpl
    def referralkit_on_transition(self, notice: EventNotice) -> None:
        """Record the transition notice."""
        self.transitions.append(notice)

    @hookimpl
    def referralkit_add_intake_checks(self) -> Sequence[IntakeCheck]:
        """Contribute the configured intake checks."""
        return list(self.intake_checks)

    @hookimpl
    def referralkit_add_routing_rules(self) -> Sequence[RoutingRule]:
        """Contribute the configured routing rules."""
        return list(self.routing_rules)

    @hookimpl
    def referralkit_add_outreach_templates(self) -> Sequence[OutreachTemplate]:
        """Contribute the configured templates."""
        return list(self.templates)
