"""The simulated world behind the engine's ports: patients, their phones, their records.

Patients answer or not; a telephony adapter asks them; their records are obviously fake.

Nothing here re-implements the engine: the desk plans and sends outreach through its own
outbox, and :class:`SimulatedTelephony` only stands where a vendor's adapter would. Each call or
text is answered by the patient's own random stream, so one patient's behaviour does not depend
on the order the engine happens to contact patients in.

Synthetic patients carry no real data: the given name is ``Sim``, the family name
``Patient-`` and letters, and the phone numbers are in the 555-0100 to 555-0199 range that
North American numbering reserves for fiction.

.. versionadded:: 0.4
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Final
from uuid import UUID

import attrs

from referralkit.plugins import hookimpl
from referralkit.ports import CallRequest, Receipt, SmsRequest, TelephonyAdapter

__all__ = [
    "FICTIONAL_AREA_CODES",
    "SimulatedPatient",
    "SimulatedTelephony",
    "SimulatedTelephonyPlugin",
    "fake_family_name",
    "fake_phone",
]

FICTIONAL_AREA_CODES: Final = ("217", "309", "312", "618", "630", "773", "815", "847")
"""Area codes used with the fictional 555-01xx exchange (Illinois, matching the time zone)."""

_LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def fake_phone(index: int) -> str:
    """Return the E.164 number of simulated patient *index*: always ``+1 NPA 555 01xx``."""
    area = FICTIONAL_AREA_CODES[(index // 100) % len(FICTIONAL_AREA_CODES)]
    return f"+1{area}55501{index % 100:02d}"


def fake_family_name(index: int) -> str:
    """Return an obviously fake family name for simulated patient *index* (``Patient-BAC``)."""
    letters = []
    value = index
    for _ in range(4):
        value, digit = divmod(value, len(_LETTERS))
        letters.append(_LETTERS[digit])
    return "Patient-" + "".join(reversed(letters))


@attrs.define
class SimulatedPatient:
    """One simulated patient's hidden traits and what has happened to them.

    :ivar rng: the patient's own random stream (seeded from the replication and the index).
    :ivar wrong_number: the referral's phone reaches someone else.
    :ivar wants_to_book: the patient tried to book before the referral was ready; they book
        as soon as it is.
    :ivar reminders: reminder kinds that reached the patient before the current appointment
        (``sms``, ``call``, ``staff``).
    """

    index: int
    referral_id: UUID
    specialty: str
    rng: random.Random
    wrong_number: bool
    wants_to_book: bool = False
    reminders: set[str] = attrs.field(factory=set)
    booked_wait_days: float = 0.0
    booked_at: datetime | None = None


ContactHandler = Callable[[SimulatedPatient, str, str, datetime], None]
"""``(patient, channel, template or script, now)``: the world's reaction to a contact."""


@attrs.define
class SimulatedTelephony:
    """A :class:`~referralkit.ports.TelephonyAdapter` whose far end is the simulated patients.

    It accepts every call and text (as a vendor would) and hands each to the world, which
    answers later through the desk's inbound methods, as a vendor's webhook would. A repeated
    idempotency key is answered with the first receipt and reaches nobody.

    .. versionadded:: 0.4
    """

    clock_now: Callable[[], datetime]
    patients: dict[UUID, SimulatedPatient]
    on_contact: ContactHandler
    name: str = "simulated"
    sent: int = 0
    _receipts: dict[str, Receipt] = attrs.field(factory=dict)
    _counter: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))

    def place_call(self, request: CallRequest) -> Receipt:
        """Accept the call; the patient decides whether to answer."""
        return self._accept(request.idempotency_key, request.referral_id, "voice",
                            request.script_id)  # fmt: skip

    def send_sms(self, request: SmsRequest) -> Receipt:
        """Accept the text; the patient decides whether to reply."""
        return self._accept(request.idempotency_key, request.referral_id, "sms",
                            request.template_id)  # fmt: skip

    def _accept(self, key: str, referral_id: UUID | None, channel: str, what: str) -> Receipt:
        first = self._receipts.get(key)
        if first is not None:
            return first.model_copy(update={"duplicate": True})
        now = self.clock_now()
        receipt = Receipt(
            idempotency_key=key, provider_ref=f"sim-{next(self._counter)}", accepted_at=now
        )
        self._receipts[key] = receipt
        self.sent += 1
        patient = self.patients.get(referral_id) if referral_id is not None else None
        if patient is not None:
            self.on_contact(patient, channel, what, now)
        return receipt


@attrs.define
class SimulatedTelephonyPlugin:
    """Provides :class:`SimulatedTelephony` through ``referralkit_register_telephony_adapters``.

    .. versionadded:: 0.4
    """

    telephony: TelephonyAdapter

    @hookimpl
    def referralkit_register_telephony_adapters(self) -> Sequence[TelephonyAdapter]:
        """Provide the simulated telephony adapter."""
        return [self.telephony]


def birth_date(rng: random.Random) -> date:
    """Return a synthetic birth date (adults, 1940 to 2000)."""
    return date(rng.randint(1940, 2000), rng.randint(1, 12), rng.randint(1, 28))
