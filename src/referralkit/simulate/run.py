"""One replication: the real :class:`~referralkit.desk.ReferralDesk` in a simulated world.

The desk runs on a :class:`~referralkit.adapters.memory.MemoryStore` and a
:class:`~referralkit.clock.ManualClock`, with the scenario's outreach policy and the default
routing rules. The world moves the clock from one scheduled happening to the next (an arrival,
a sweep, a staff shift, a patient's call back, a payer's decision, an appointment) and acts
only through the desk's public methods, as a practice's staff, its patients' phones and its
payers would. Nothing in the engine is bypassed: outreach is planned and sent by the desk's own
sweep, through :class:`~referralkit.simulate.world.SimulatedTelephony`.

Every engine call the world makes can be recorded (:class:`Trace`) and replayed on a fresh desk
without the world (:func:`replay`): the benchmark's measure of the simulator's own overhead.

.. versionadded:: 0.4
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from referralkit.adapters.memory import InMemoryPlugin, MemoryStore
from referralkit.calendar import WeekdayCalendar
from referralkit.clock import ManualClock
from referralkit.desk import ReferralDesk
from referralkit.errors import ReferralKitError
from referralkit.metrics import Cms50Period, MetricsConfig, MetricsReport, compute_metrics
from referralkit.model import (
    Actor,
    ActorKind,
    Address,
    Appointment,
    Patient,
    PhoneContact,
    Practice,
    Priority,
    ReasonForReferral,
    Referral,
    ReferralStatus,
    Role,
    TaskStatus,
)
from referralkit.outbox import RetryPolicy
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import CallOutcome, DocumentRef, SmsReply
from referralkit.simulate.scenario import Scenario
from referralkit.simulate.world import (
    SimulatedPatient,
    SimulatedTelephony,
    SimulatedTelephonyPlugin,
    birth_date,
    fake_family_name,
    fake_phone,
)

__all__ = ["Replication", "Trace", "replay", "run_replication"]

S = ReferralStatus
CLINICIAN: Final = Actor(kind=ActorKind.HUMAN, id="sim-clinician", role=Role.CLINICIAN)
SCHEDULER: Final = Actor(kind=ActorKind.HUMAN, id="sim-scheduler", role=Role.SCHEDULER)
SYSTEM: Final = Actor(kind=ActorKind.SYSTEM, id="sim-system", role=Role.SYSTEM)
_REFERRING: Final = Practice(name="Simulated Family Medicine", id="sim-pcp", fax="+12175550100")
_RECEIVING: Final = Practice(name="Simulated Specialty Clinic", id="sim-specialty")
_SHIFTS: Final = (time(9, 0), time(13, 0))
"""Staff work their queues in two blocks a day, each with half the day's hours."""
_OPEN_TASKS: Final = (TaskStatus.OPEN,)
_PAGE: Final = 500
_CALLING_QUEUES: Final = frozenset({"scheduling", "outreach", "urgent-referrals"})
"""Queues whose tasks are worked by calling the patient (a staff call can end in a booking)."""


@attrs.define
class Trace:
    """The engine calls a replication made, in order, each with the clock's time.

    ``calls`` holds ``(instant, method name, args, kwargs)``; :func:`replay` makes them again.
    """

    calls: list[tuple[datetime, str, tuple[Any, ...], dict[str, Any]]] = attrs.field(factory=list)
    tasks: dict[int, list[tuple[UUID, tuple[Any, ...]]]] = attrs.field(factory=dict)
    """For each recorded work-list call (by position): the rows' task ids and their keys."""


@attrs.frozen
class Replication:
    """What one replication produced.

    :ivar report: the metrics module's report over the run's window.
    :ivar created: referrals the world created (conservation: each has one outcome).
    :ivar staff_hours: staff time the world spent on its queues.
    :ivar contacts: calls and texts the engine sent through the simulated adapter.
    """

    seed: int
    report: MetricsReport
    created: int
    staff_hours: float
    contacts: int


def _patient_seed(seed: int, index: int) -> int:
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:  # the normal approximation is close enough and Knuth's loop too slow
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@attrs.define
class _WorkItem:
    queue: str
    created: datetime
    order: tuple[Any, ...]
    action: Callable[[], None]


class _World:
    """The simulated practice, patients and payers around one desk."""

    def __init__(self, scenario: Scenario, seed: int, trace: Trace | None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.trace = trace
        self.rng = random.Random(seed)  # noqa: S311 - simulation draws, not secrets
        self.zone = ZoneInfo(scenario.time_zone)
        self.calendar = WeekdayCalendar(zone_name=scenario.time_zone)
        start_local = datetime.combine(scenario.start, time(0, 0), self.zone)
        self.start = start_local.astimezone(UTC)
        self.end = self.start + timedelta(days=scenario["run.days"])
        self.clock = ManualClock(self.start)
        self.patients: dict[UUID, SimulatedPatient] = {}
        self.telephony = SimulatedTelephony(self.clock.now, self.patients, self._on_contact)
        self.desk = build_desk(scenario, self.clock, self.telephony)
        self._heap: list[tuple[datetime, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._work: list[_WorkItem] = []
        self._claimed_tasks: set[UUID] = set()
        self.staff_minutes = 0.0

    # -- the engine, through its public methods only (recorded for replay) -----------------
    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.trace is None:
            return getattr(self.desk, name)(*args, **kwargs)
        self.trace.calls.append((self.clock.now(), name, args, kwargs))
        result = getattr(self.desk, name)(*args, **kwargs)
        if name == "tasks":
            self.trace.tasks[len(self.trace.calls) - 1] = [
                (r.task_id, _row_key(r)) for r in result
            ]
        return result

    # -- scheduling ---------------------------------------------------------------------------
    def at(self, when: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (max(when, self.clock.now()), next(self._seq), action))

    def local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, self.zone).astimezone(UTC)

    def business_time(self, when: datetime, rng: random.Random) -> datetime:
        """Return a random time from 08:00 to 17:00 on the first business day from *when*.

        Never earlier than *when* (so a late reply on a business day waits until then).
        """
        day = when.astimezone(self.zone).date()
        while not self.calendar.is_business_day(day):
            day += timedelta(days=1)
        opening = self.local(day, time(8, 0)) + timedelta(minutes=rng.randrange(0, 9 * 60, 5))
        return max(opening, when) if opening.date() == when.date() else opening

    def add_business_days(self, when: datetime, days: int) -> datetime:
        day = when.astimezone(self.zone).date()
        while days > 0:
            day += timedelta(days=1)
            days -= self.calendar.is_business_day(day)
        local = when.astimezone(self.zone)
        return datetime.combine(day, local.time(), self.zone).astimezone(UTC)

    def run(self) -> None:
        scenario = self.scenario
        days = int(scenario["run.days"])
        for offset in range(days):
            day = scenario.start + timedelta(days=offset)
            for sweep_at in scenario.sweeps:
                self.at(self.local(day, sweep_at), self._sweep)
            if self.calendar.is_business_day(day):
                for shift in _SHIFTS:
                    self.at(self.local(day, shift), self._shift)
                if offset < scenario["run.arrival_days"]:
                    for _ in range(_poisson(self.rng, scenario["arrivals.per_day"])):
                        minute = self.rng.randrange(8 * 60, 17 * 60)
                        when = self.local(day, time(minute // 60, minute % 60))
                        self.at(when, self._arrival(self._draw_arrival()))
        while self._heap:
            when, _, action = heapq.heappop(self._heap)
            if when >= self.end:
                break
            self.clock.set(when)
            action()

    # -- arrivals -------------------------------------------------------------------------------
    def _draw_arrival(self) -> tuple[str, Priority]:
        roll = self.rng.random()
        specialty = next(
            (name for name, cum in self._cumulative() if roll < cum),
            list(self.scenario.specialties)[-1],  # a rounding shortfall: the last one
        )
        urgent = self.rng.random() < self.scenario["arrivals.urgent_share"]
        return specialty, Priority.URGENT if urgent else Priority.ROUTINE

    def _cumulative(self) -> Iterator[tuple[str, float]]:
        total = 0.0
        for name, share in self.scenario.specialties.items():
            total += share
            yield name, total

    def _arrival(self, drawn: tuple[str, Priority]) -> Callable[[], None]:
        def arrive() -> None:
            specialty, priority = drawn
            index = len(self.patients)
            rng = random.Random(_patient_seed(self.seed, index))  # noqa: S311 - as above
            referral_id = UUID(int=rng.getrandbits(128), version=4)
            patient = SimulatedPatient(
                index=index,
                referral_id=referral_id,
                specialty=specialty,
                rng=rng,
                wrong_number=rng.random() < self.scenario["patients.wrong_number"],
            )
            self.patients[referral_id] = patient
            # Acceptance is staff work on the task routing opens (``needs_acceptance``).
            self.call("create", self._referral(patient, priority), actor=SYSTEM)
            if rng.random() < self.scenario["patients.self_book"]:
                delay = rng.expovariate(1 / self.scenario["patients.self_book_days"])
                self.at(
                    self.business_time(self.clock.now() + timedelta(days=delay), rng),
                    lambda: self._self_book(patient),
                )

        return arrive

    def _referral(self, patient: SimulatedPatient, priority: Priority) -> Referral:
        scenario = self.scenario
        return Referral(
            id=patient.referral_id,
            status=S.RECEIVED,
            priority=priority,
            patient=Patient(
                given_name="Sim",
                family_name=fake_family_name(patient.index),
                birth_date=birth_date(patient.rng),
                phones=(
                    PhoneContact(
                        number=fake_phone(patient.index), time_zones=(scenario.time_zone,)
                    ),
                ),
                address=Address(
                    line1="1 Simulation Way",
                    city="Springfield",
                    state=scenario.state,
                    postal_code="62701",
                ),
                time_zone=scenario.time_zone,
            ),
            referring_practice=_REFERRING,
            receiving_practice=_RECEIVING,
            specialty=patient.specialty,
            reason=ReasonForReferral(text="simulated referral"),
        )

    # -- staff ------------------------------------------------------------------------------------
    def _queue(self, queue: str, patient: SimulatedPatient, action: Callable[[], None]) -> None:
        order = (self.clock.now(), patient.index, len(self._work))
        self._work.append(_WorkItem(queue, self.clock.now(), order, action))

    def _shift(self) -> None:
        """Staff work their queues, oldest first, until each queue's hours are spent."""
        shift_start = self.clock.now()
        for row in self._open_tasks():
            self._claimed_tasks.add(row.task_id)
            patient = self.patients.get(row.referral_id)
            order = (row.created_at, patient.index if patient else -1, str(row.task_id))
            self._work.append(
                _WorkItem(row.queue, row.created_at, order, self._task_action(row, patient))
            )
        self._work.sort(key=lambda item: item.order)
        used: dict[str, float] = {}
        waiting: list[_WorkItem] = []
        for item in self._work:
            staff = self.scenario.staff_queue(item.queue)
            spent = used.get(item.queue, 0.0) + staff.minutes_per_task
            if spent > staff.hours_per_day * 60 / len(_SHIFTS):
                waiting.append(item)
                continue
            used[item.queue] = spent
            self.at(shift_start + timedelta(minutes=spent), item.action)
        self.staff_minutes += sum(used.values())
        self._work = waiting

    def _open_tasks(self) -> list[Any]:
        rows: list[Any] = []
        after = None
        while True:
            page = self.call("tasks", status=_OPEN_TASKS, limit=_PAGE, after=after)
            rows.extend(r for r in page if r.task_id not in self._claimed_tasks)
            if len(page) < _PAGE:
                return rows
            after = page[-1].cursor

    def _task_action(self, row: Any, patient: SimulatedPatient | None) -> Callable[[], None]:
        def work() -> None:
            if patient is not None and self._status(patient) is S.RECEIVED:
                self._triage(patient)
            try:
                self.call("complete_task", row.referral_id, row.task_id, actor=SCHEDULER,
                          outcome="done")  # fmt: skip
            except ReferralKitError:
                return  # the task closed itself meanwhile (moot): nothing to do
            if patient is None:
                return
            if row.title.startswith("reminder"):
                patient.reminders.add("staff")
            elif row.queue in _CALLING_QUEUES and self._status(patient) is S.READY_TO_SCHEDULE:
                self._on_contact(patient, "staff", row.title, self.clock.now())

        return work

    # -- the referral's path ---------------------------------------------------------------
    def _status(self, patient: SimulatedPatient) -> ReferralStatus:
        referral: Referral = self.desk.get(patient.referral_id)
        return referral.status

    def _triage(self, patient: SimulatedPatient) -> None:
        self.call("fire", patient.referral_id, "accept", actor=CLINICIAN)
        scenario = self.scenario
        rng = patient.rng
        if rng.random() < scenario["records.request_share"]:
            referral = self.call("request_records", patient.referral_id, actor=SCHEDULER)
            request_id = referral.records_requests[-1].id
            if rng.random() < scenario["records.return_probability"]:
                delay = rng.expovariate(1 / scenario["records.return_days"]) if scenario[
                    "records.return_days"] else 0.0  # fmt: skip
                self.at(self.business_time(self.clock.now() + timedelta(days=delay), rng),
                        lambda: self._records_back(patient, request_id))  # fmt: skip
        if rng.random() < scenario["authorization.required_share"]:
            self.call("fire", patient.referral_id, "require_auth", actor=CLINICIAN)
            self._queue("authorization", patient, lambda: self._submit_auth(patient, 1))
        else:
            self.call("fire", patient.referral_id, "clear", actor=CLINICIAN)
            self._became_ready(patient)

    def _records_back(self, patient: SimulatedPatient, request_id: UUID) -> None:
        document = DocumentRef(document_id=f"sim-records-{patient.index}", kind="records")
        try:
            self.call("receive_records", patient.referral_id, request_id, [document],
                      actor=SCHEDULER)  # fmt: skip
        except (ReferralKitError, KeyError, ValueError):
            return  # the request was closed meanwhile

    def _submit_auth(self, patient: SimulatedPatient, attempt: int) -> None:
        reference = f"SIM-{patient.index}-{attempt}"
        if attempt == 1:
            self.call("submit_authorization", patient.referral_id, payer_reference=reference,
                      actor=SCHEDULER)  # fmt: skip
        else:
            self.call("appeal_authorization", patient.referral_id, payer_reference=reference,
                      actor=SCHEDULER)  # fmt: skip
        scenario = self.scenario
        turnaround = patient.rng.triangular(
            scenario["authorization.turnaround_min"],
            scenario["authorization.turnaround_max"],
            scenario["authorization.turnaround_mode"],
        )
        when = self.add_business_days(self.clock.now(), round(turnaround))
        self.at(when, lambda: self._payer_decides(patient, attempt))

    def _payer_decides(self, patient: SimulatedPatient, attempt: int) -> None:
        scenario = self.scenario
        rng = patient.rng
        denied = (
            rng.random() < scenario["authorization.denial_rate"]
            if attempt == 1
            else rng.random() >= scenario["authorization.appeal_success"]
        )
        if not denied:
            today = self.clock.now().date()
            self.call("approve_authorization", patient.referral_id, number=f"A{patient.index}",
                      valid_from=today, valid_to=today + timedelta(days=365),
                      actor=SCHEDULER)  # fmt: skip
            self._became_ready(patient)
            return
        self.call("deny_authorization", patient.referral_id, reason="not_medically_necessary",
                  actor=SCHEDULER)  # fmt: skip
        if attempt == 1 and rng.random() < scenario["authorization.appeal_rate"]:
            self._queue("authorization", patient, lambda: self._submit_auth(patient, 2))
        else:
            self.call("fire", patient.referral_id, "cancel", actor=SCHEDULER,
                      data={"reason": "other", "note": "authorization denied"})  # fmt: skip

    def _became_ready(self, patient: SimulatedPatient) -> None:
        if patient.wants_to_book:
            patient.wants_to_book = False
            self._book(patient)

    def _self_book(self, patient: SimulatedPatient) -> None:
        status = self._status(patient)
        if status is S.READY_TO_SCHEDULE:
            self._book(patient)
        elif status in (S.RECEIVED, S.ACCEPTED, S.PENDING_AUTH):
            patient.wants_to_book = True

    def _book(self, patient: SimulatedPatient) -> None:
        scenario = self.scenario
        rng = patient.rng
        mean = scenario.wait_days(patient.specialty)
        wait = rng.gammavariate(2.0, mean / 2.0) if mean > 0 else 0.0
        slot = self.business_time(self.clock.now() + timedelta(days=max(wait, 1.0)), rng)
        patient.reminders.clear()
        patient.booked_wait_days = (slot - self.clock.now()).total_seconds() / 86400
        self.call("record_booking", patient.referral_id, Appointment(start=slot),
                  actor=SCHEDULER)  # fmt: skip
        self.at(slot, lambda: self._appointment(patient, slot))

    def _appointment(self, patient: SimulatedPatient, slot: datetime) -> None:
        referral: Referral = self.desk.get(patient.referral_id)
        if referral.status is not S.SCHEDULED or referral.appointments[-1].start != slot:
            return
        scenario = self.scenario
        risk = scenario["no_show.base"] + scenario["no_show.per_week_wait"] * (
            patient.booked_wait_days / 7
        )
        for kind, key in (("sms", "no_show.sms_reminder"), ("call", "no_show.call_reminder"),
                          ("staff", "no_show.staff_reminder")):  # fmt: skip
            if kind in patient.reminders:
                risk *= scenario[key]
        rng = patient.rng
        if rng.random() < min(risk, 1.0):
            # Rebooking after a no-show is left to the practice (its no-show recovery cadence
            # or staff): the published funnels count kept first appointments.
            self.call("fire", patient.referral_id, "no_show", actor=SCHEDULER)
            return
        self.call("fire", patient.referral_id, "complete_visit", actor=SCHEDULER)
        if rng.random() < scenario["report.return_probability"]:
            delay = rng.expovariate(1 / scenario["report.return_days"]) if scenario[
                "report.return_days"] else 0.0  # fmt: skip
            self.at(self.business_time(self.clock.now() + timedelta(days=delay), rng),
                    lambda: self._report(patient))  # fmt: skip

    def _report(self, patient: SimulatedPatient) -> None:
        document = DocumentRef(document_id=f"sim-report-{patient.index}", kind="consult_note")
        self.call("send_consult_report", patient.referral_id, document, actor=CLINICIAN)

    # -- patients answering ----------------------------------------------------------------
    def _on_contact(
        self, patient: SimulatedPatient, channel: str, what: str, now: datetime
    ) -> None:
        scenario = self.scenario
        rng = patient.rng
        reminder = what.startswith("reminder")
        if channel == "sms":
            if reminder:
                patient.reminders.add("sms")
                return
            if rng.random() < scenario["patients.sms_reply"]:
                self.at(now + timedelta(minutes=20), lambda: self._replied(patient))
            return
        hour = now.astimezone(self.zone).hour
        band = "morning" if hour < 12 else "afternoon" if hour < 17 else "evening"
        if patient.wrong_number:
            outcome = "wrong_number"
        elif rng.random() < scenario[f"patients.answer_{band}"]:
            outcome = "answered"
        else:
            outcome = "no_answer"
        books = (
            outcome == "answered"
            and not reminder
            and (rng.random() < scenario["patients.book_after_contact"])
        )
        if outcome == "answered" and reminder:
            patient.reminders.add("call")
        if channel == "staff":
            if books:
                self.at(now + timedelta(minutes=5), lambda: self._book_if_ready(patient))
            return
        self.at(now + timedelta(minutes=3), lambda: self._call_ended(patient, outcome, books))

    def _call_ended(self, patient: SimulatedPatient, outcome: str, books: bool) -> None:
        self.call(
            "record_call_outcome",
            CallOutcome(
                referral_id=patient.referral_id,
                provider_ref=f"sim-call-{patient.index}-{self.clock.now().timestamp():.0f}",
                outcome=outcome,  # type: ignore[arg-type]
                at=self.clock.now(),
            ),
        )
        if books:
            self._book_if_ready(patient)

    def _replied(self, patient: SimulatedPatient) -> None:
        self.call(
            "record_sms_reply",
            SmsReply(
                referral_id=patient.referral_id,
                provider_ref=f"sim-sms-{patient.index}-{self.clock.now().timestamp():.0f}",
                from_number=fake_phone(patient.index),
                body="Yes, please call me to book",
                at=self.clock.now(),
            ),
        )
        if patient.rng.random() < self.scenario["patients.book_after_contact"]:
            self._book_if_ready(patient)

    def _book_if_ready(self, patient: SimulatedPatient) -> None:
        if self._status(patient) is S.READY_TO_SCHEDULE:
            self._book(patient)

    def _sweep(self) -> None:
        self.call("sweep")


def build_desk(scenario: Scenario, clock: ManualClock, telephony: Any) -> ReferralDesk:
    """Return the desk a replication drives: memory store, manual clock, the scenario's policy."""
    memory = InMemoryPlugin.with_clock(clock, sleep=lambda _s: None)
    plugins: list[object] = [memory, SimulatedTelephonyPlugin(telephony)]
    outreach = (
        OutreachSettings(
            policy=scenario.outreach,
            calendar=WeekdayCalendar(zone_name=scenario.time_zone),
            worker="simulator",
            practice_name="Simulated Specialty Clinic",
        )
        if scenario.outreach is not None
        else None
    )
    return ReferralDesk(
        store=MemoryStore(),
        clock=clock,
        hooks=Hooks(make_plugin_manager(plugins, load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(2),
        backends={"telephony": telephony.name},
        outreach=outreach,
    )


def _report(world: _World) -> MetricsReport:
    config = MetricsConfig(since=world.start, until=world.end)
    return compute_metrics(world.desk.store, config, cms50=Cms50Period(world.start, world.end))


def run_replication(scenario: Scenario, seed: int, *, trace: Trace | None = None) -> Replication:
    """Run one seeded replication of *scenario* and compute its metrics.

    The same scenario and seed give the same report.

    :param trace: when given, every engine call is recorded in it (for :func:`replay`).
    """
    world = _World(scenario, seed, trace)
    world.run()
    return Replication(
        seed=seed,
        report=_report(world),
        created=len(world.patients),
        staff_hours=world.staff_minutes / 60,
        contacts=world.telephony.sent,
    )


def replay(scenario: Scenario, trace: Trace) -> ReferralDesk:
    """Make the recorded engine calls again on a fresh desk, without the simulated world.

    The telephony adapter accepts and records (the in-memory fake, under the simulated
    adapter's name); tasks are completed by the ids this desk gave them, found by their
    referral, queue and creation time.
    """
    from referralkit.adapters.memory import InMemoryTelephony

    start = trace.calls[0][0] if trace.calls else datetime.now(UTC)
    clock = ManualClock(start)
    telephony = InMemoryTelephony(name="simulated", clock=clock, sleep=lambda _s: None)
    desk = build_desk(scenario, clock, telephony)
    ids: dict[UUID, UUID] = {}
    for position, (when, name, args, kwargs) in enumerate(trace.calls):
        clock.set(when)
        if name == "tasks":
            mine = {_row_key(row): row.task_id for row in desk.tasks(*args, **kwargs)}
            for theirs, key in trace.tasks.get(position, ()):
                if key in mine:
                    ids[theirs] = mine[key]
            continue
        if name == "complete_task":
            args = (args[0], ids.get(args[1], args[1]), *args[2:])
        try:
            getattr(desk, name)(*args, **kwargs)
        except ReferralKitError:
            continue
    return desk


def _row_key(row: Any) -> tuple[Any, ...]:
    return (row.referral_id, row.queue, row.created_at, row.title)
