"""The referral: the aggregate a host stores and the lifecycle moves."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import Field

from referralkit.model.enums import (
    AppointmentStatus,
    Priority,
    ReferralSide,
    ReferralStatus,
)
from referralkit.model.outbound import OutboundRecord
from referralkit.model.records import (
    Appointment,
    Authorization,
    ConsultReport,
    Coverage,
    HumanTask,
    Interaction,
    Patient,
    Practice,
    Provider,
    ReasonForReferral,
    RecordsRequest,
    ReferralDocument,
    StatusReason,
)
from referralkit.model.types import (
    Record,
    UtcDatetime,
)

__all__ = [
    "Referral",
]

# -- The referral -------------------------------------------------------------------------------


class Referral(Record):
    """A specialist referral as the host stores it. Immutable: changes return ``model_copy``.

    ``version`` counts committed changes (creation is version 1) and ``history_hash`` is the
    hash of the last event, so the record and its event log vouch for each other.
    """

    id: UUID = Field(default_factory=uuid4)
    referral_number: str | None = None
    status: ReferralStatus = ReferralStatus.INTAKE
    priority: Priority = Priority.ROUTINE
    patient: Patient | None = None
    referring_practice: Practice | None = None
    referring_provider: Provider | None = None
    receiving_practice: Practice | None = None
    receiving_provider: Provider | None = None
    specialty: str | None = None
    reason: ReasonForReferral | None = None
    coverage: Coverage | None = None
    authorization: Authorization = Authorization()
    records_requests: tuple[RecordsRequest, ...] = ()
    appointments: tuple[Appointment, ...] = ()
    consult_report: ConsultReport | None = None
    documents: tuple[ReferralDocument, ...] = ()
    interactions: tuple[Interaction, ...] = ()
    tasks: tuple[HumanTask, ...] = ()
    flags: tuple[str, ...] = ()
    status_reason: StatusReason | None = None
    hold_from: ReferralStatus | None = None
    lost_from: ReferralStatus | None = None
    side: ReferralSide = ReferralSide.RECEIVED
    """Received by us (the default) or sent by us (then :attr:`outbound` holds its state).

    .. versionadded:: 0.4"""
    outbound: OutboundRecord | None = None
    """The sending side's state and record; ``None`` for a referral we received.

    .. versionadded:: 0.4"""
    next_action_at: UtcDatetime | None = None
    # When a routing sweep must next look at it: referralkit.routing.next_routing_at.
    next_routing_at: UtcDatetime | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    version: Annotated[int, Field(ge=0)] = 0
    history_hash: str = ""

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        # A short, PHI-free summary: nested records stay out of logs entirely.
        yield "id", self.id
        yield "referral_number", self.referral_number
        yield "status", self.status
        yield "priority", self.priority
        yield "specialty", self.specialty
        if self.outbound is not None:
            yield "side", self.side
            yield "outbound_status", self.outbound.status
        yield "version", self.version

    def missing_fields(self) -> tuple[str, ...]:
        """Return the paths of fields intake still needs before ``complete_intake``."""
        missing: list[str] = []
        if self.patient is None:
            missing.append("patient")
        else:
            if self.patient.birth_date is None:
                missing.append("patient.birth_date")
            if not self.patient.phones:
                missing.append("patient.phones")
        if self.referring_practice is None and self.referring_provider is None:
            missing.append("referring_practice")
        if not self.specialty:
            missing.append("specialty")
        if self.reason is None or not (self.reason.text or self.reason.icd10_codes):
            missing.append("reason")
        return tuple(missing)

    def missing_records(self) -> tuple[str, ...]:
        """Return the document kinds still missing across the open records requests.

        An open request that named no kinds and has nothing yet counts as ``"records"``.

        .. versionadded:: 0.3
        """
        missing: list[str] = []
        for request in self.records_requests:
            if not request.is_open:
                continue
            kinds = request.missing_kinds or (() if request.received else ("records",))
            missing.extend(k for k in kinds if k not in missing)
        return tuple(missing)

    @property
    def state(self) -> str:
        """The state to show a person: the receiving status, or ``sent:<state>`` for one we sent.

        A referral we sent keeps the receiving side's ``status`` untouched (``intake``); its
        progress is :attr:`outbound`'s sending state, which this names.

        .. versionadded:: 0.4
        """
        if self.side is ReferralSide.SENT and self.outbound is not None:
            return f"sent:{self.outbound.status.value}"
        return self.status.value

    @property
    def current_appointment(self) -> Appointment | None:
        """The latest appointment still booked, if any."""
        for appointment in reversed(self.appointments):
            if appointment.status is AppointmentStatus.BOOKED:
                return appointment
        return None
