"""How lifecycle states map onto other code systems: FHIR, BSeR, HL7 v2, 360X and NHS e-RS.

Every table here is data; ``docs/interop.md`` renders them through
:func:`referralkit.reference.interop_tables`, and a test fails when the page drifts.

Modelling choices (from how FHIR-native referral platforms model the work):

- the referrer's ``ServiceRequest`` is the order; it is ``revoked`` only when the referral is
  cancelled. A receiver's decline or a lost patient is an outcome of the receiver's
  fulfilment ``Task``, not a revoked order, so the referrer may redirect it;
- the receiver's work is one fulfilment ``Task`` whose ``businessStatus`` names the step;
- a no-show or a cancelled appointment keeps the ``Task`` ``in-progress`` with a business
  status saying what happened (as the HL7 BSeR guide does): the work goes on, only the
  appointment failed.

.. versionadded:: 0.1
.. versionchanged:: 0.2
   Business statuses carry a BSeR code where one corresponds; ``received`` maps to Task
   ``received``; decline and lost leave the ServiceRequest ``active``; a no-show or a cancelled
   appointment keeps the Task ``in-progress`` (:func:`crosswalk_referral`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from referralkit.model import AppointmentStatus, OutboundStatus, Referral, ReferralStatus

S = ReferralStatus

__all__ = [
    "BSER_BUSINESS_STATUS",
    "BSER_BUSINESS_STATUS_SYSTEM",
    "BUSINESS_STATUS_SYSTEM",
    "HL7V2_REFERRAL_STATUS",
    "NHS_ERS_STATES",
    "OUTBOUND_X360",
    "TASK_STATUS_TRIGGERS",
    "X360_TRANSACTIONS",
    "BusinessStatus",
    "Hl7v2ReferralStatus",
    "NhsErsState",
    "StatusCodes",
    "X360Transaction",
    "after_appointment",
    "crosswalk",
    "crosswalk_referral",
    "outbound_crosswalk",
]

BSER_BUSINESS_STATUS_SYSTEM: Final = "http://hl7.org/fhir/us/bser/CodeSystem/TaskBusinessStatusCS"
"""The HL7 BSeR ``Task.businessStatus`` code system (BSeR STU2)."""
BUSINESS_STATUS_SYSTEM: Final = "urn:referralkit:fhir:business-status"
"""referralkit's own step codes, sent beside the BSeR code so every step is named."""

BSER_BUSINESS_STATUS: Final[Mapping[str, str]] = {
    "2.0": "Service Request Created",
    "3.0": "Service Request Accepted",
    "4.0": "Service Request Declined",
    "5.1.1": "Service Request Event Scheduled",
    "5.1.2": "Scheduled Service Request Event Unattended",
    "5.1.3": "Scheduled Service Request Event Cancelled",
    "5.1.4": "Service Request Event Completed",
    "5.2": "Service Request Cancellation Requested",
    "6.0": "Service Request Fulfillment Cancelled",
    "7.0": "Service Request Fulfillment Completed",
}
"""The BSeR TaskBusinessStatusCS codes and their displays."""


@attrs.frozen
class BusinessStatus:
    """A ``Task.businessStatus``: referralkit's step code, and the BSeR code where one fits.

    :ivar step: referralkit's code for the step (:data:`BUSINESS_STATUS_SYSTEM`).
    :ivar bser: the BSeR code (:data:`BSER_BUSINESS_STATUS_SYSTEM`), or ``None``.
    """

    step: str
    bser: str | None = None

    @property
    def bser_display(self) -> str | None:
        """The BSeR display text of :attr:`bser`."""
        return None if self.bser is None else BSER_BUSINESS_STATUS[self.bser]


@attrs.frozen
class StatusCodes:
    """How a lifecycle state is expressed in FHIR R4.

    .. versionchanged:: 0.2
       ``business_status`` holds the step and its BSeR code; ``task_business_status`` is its
       step code.
    """

    task_status: str
    """FHIR R4 ``Task.status`` of the receiver's fulfilment Task."""
    business_status: BusinessStatus | None
    """FHIR ``Task.businessStatus``: the step, with its BSeR code where one corresponds."""
    service_request_status: str
    """FHIR R4 ``ServiceRequest.status`` of the referrer's order."""

    @property
    def task_business_status(self) -> str | None:
        """The step code of :attr:`business_status` (``None`` where there is none)."""
        return None if self.business_status is None else self.business_status.step


def _codes(task: str, step: str | None, bser: str | None, request: str) -> StatusCodes:
    return StatusCodes(task, None if step is None else BusinessStatus(step, bser), request)


_CROSSWALK: Final[Mapping[ReferralStatus, StatusCodes]] = {
    S.INTAKE: _codes("draft", "intake", None, "draft"),
    S.RECEIVED: _codes("received", "received", "2.0", "active"),
    S.ACCEPTED: _codes("accepted", "accepted", "3.0", "active"),
    S.PENDING_AUTH: _codes("accepted", "awaiting-authorization", "3.0", "active"),
    S.READY_TO_SCHEDULE: _codes("ready", "ready-to-schedule", "3.0", "active"),
    S.SCHEDULED: _codes("in-progress", "visit-scheduled", "5.1.1", "active"),
    S.VISIT_COMPLETED: _codes("in-progress", "visit-complete", "5.1.4", "active"),
    S.CLOSED: _codes("completed", "report-sent", "7.0", "completed"),
    # The receiver's decline and a lost patient end the receiver's Task; the referrer's order
    # stays active (it may be redirected). Only the referrer's cancel revokes it.
    S.DECLINED: _codes("rejected", "declined", "4.0", "active"),
    S.CANCELLED: _codes("cancelled", "cancelled", "6.0", "revoked"),
    S.LOST: _codes("failed", "patient-lost", None, "active"),
    S.ON_HOLD: _codes("on-hold", "on-hold", None, "active"),
    S.ENTERED_IN_ERROR: _codes("entered-in-error", None, None, "entered-in-error"),
}

_AFTER_APPOINTMENT: Final[Mapping[AppointmentStatus, StatusCodes]] = {
    AppointmentStatus.NO_SHOW: _codes("in-progress", "no-show", "5.1.2", "active"),
    AppointmentStatus.CANCELLED: _codes("in-progress", "appointment-cancelled", "5.1.3", "active"),
}


def crosswalk(status: ReferralStatus) -> StatusCodes:
    """Return the FHIR Task and ServiceRequest codes for a lifecycle state.

    This is the state alone; :func:`crosswalk_referral` also reads the appointments.
    """
    return _CROSSWALK[status]


def after_appointment(status: AppointmentStatus) -> StatusCodes | None:
    """Return the FHIR codes of a referral whose last appointment ended in *status*.

    ``no_show`` and ``cancelled`` keep the Task ``in-progress`` (BSeR 5.1.2, 5.1.3); other
    appointment statuses change nothing (``None``).

    .. versionadded:: 0.2
    """
    return _AFTER_APPOINTMENT.get(status)


def crosswalk_referral(referral: Referral) -> StatusCodes:
    """Return the FHIR codes for *referral*, reading its appointments too.

    A referral back in ``ready_to_schedule`` after a no-show or a cancelled appointment keeps
    its Task ``in-progress``, with a business status naming what happened (BSeR 5.1.2 or
    5.1.3), instead of returning to ``ready``.

    A referral we sent is crosswalked by its sending state (:func:`outbound_crosswalk`).

    .. versionadded:: 0.2
    .. versionchanged:: 0.4 a referral we sent reads its sending state.
    """
    if referral.outbound is not None:
        return _OUTBOUND_CROSSWALK[referral.outbound.status]
    if referral.status is S.READY_TO_SCHEDULE and referral.appointments:
        after = _AFTER_APPOINTMENT.get(referral.appointments[-1].status)
        if after is not None:
            return after
    return _CROSSWALK[referral.status]


TASK_STATUS_TRIGGERS: Final[Mapping[tuple[str, str | None], str]] = {
    ("accepted", None): "accept",
    ("rejected", None): "decline",
    ("in-progress", "5.1.1"): "schedule",
    ("in-progress", "5.1.2"): "no_show",
    ("in-progress", "5.1.3"): "cancel_appointment",
    ("in-progress", "5.1.4"): "complete_visit",
    ("completed", None): "close_loop",
    ("cancelled", None): "cancel",
    ("on-hold", None): "hold",
    ("failed", None): "mark_lost",
    ("entered-in-error", None): "mark_error",
}
"""The way back: (``Task.status``, BSeR business status or ``None``) to a lifecycle trigger.

Look the pair up first, then (``Task.status``, ``None``), which matches any business status.

A Task update whose pair is not here (``requested``, ``received``, ``ready``, or
``in-progress`` with no BSeR step) moves nothing.
"""


# -- HL7 v2 ----------------------------------------------------------------------------------


@attrs.frozen
class Hl7v2ReferralStatus:
    """An HL7 v2 referral status (RF1-1, user table 0283) and the states it stands for."""

    code: str
    display: str
    states: tuple[ReferralStatus, ...]
    trigger: str | None
    """The lifecycle trigger an inbound RF1-1 of this code fires, if any."""


HL7V2_REFERRAL_STATUS: Final[tuple[Hl7v2ReferralStatus, ...]] = (
    Hl7v2ReferralStatus("P", "Pending", (S.INTAKE, S.RECEIVED, S.ON_HOLD), None),
    Hl7v2ReferralStatus(
        "A",
        "Accepted",
        # Accepted by the receiver: waiting for the payer's authorization is still accepted.
        (
            S.ACCEPTED,
            S.PENDING_AUTH,
            S.READY_TO_SCHEDULE,
            S.SCHEDULED,
            S.VISIT_COMPLETED,
            S.CLOSED,
        ),
        "accept",
    ),
    Hl7v2ReferralStatus("R", "Rejected", (S.DECLINED,), "decline"),
    Hl7v2ReferralStatus("E", "Expired", (S.LOST,), "mark_lost"),
)
"""HL7 v2 table 0283 (referral status): one row per code; cancelled, entered-in-error have none."""


@attrs.frozen
class X360Transaction:
    """A 360X closed-loop referral transaction (HL7 v2.5.1) and the lifecycle step it carries.

    :ivar direction: ``in`` (referralkit receives it) or ``out`` (referralkit sends it), seen
        from the receiving practice.
    :ivar order_control: ``ORC-1`` (HL7 table 0119), where the message carries an ORC.
    :ivar order_status: ``ORC-5`` (HL7 table 0038), where the message carries an ORC.
    """

    name: str
    message: str
    direction: str
    trigger: str | None
    order_control: str | None = None
    order_status: str | None = None


X360_TRANSACTIONS: Final[tuple[X360Transaction, ...]] = (
    X360Transaction("Referral request", "OMG^O19", "in", "complete_intake", "NW", None),
    X360Transaction("Referral accepted", "OSU^O51", "out", "accept", "SC", "IP"),
    X360Transaction("Referral declined", "OSU^O51", "out", "decline", "SC", "CA"),
    X360Transaction("Referral cancelled by the referrer", "OMG^O19", "in", "cancel", "CA", None),
    X360Transaction("Cancellation confirmed", "OSU^O51", "out", "cancel", "CR", "CA"),
    X360Transaction("Referral cancelled by the receiver", "OSU^O51", "out", "cancel", "OC", "CA"),
    X360Transaction("Appointment booked", "SIU^S12", "out", "schedule"),
    X360Transaction("Appointment rescheduled", "SIU^S14", "out", "reschedule"),
    X360Transaction("Appointment cancelled", "SIU^S15", "out", "cancel_appointment"),
    X360Transaction("Patient did not attend", "SIU^S26", "out", "no_show"),
    X360Transaction("Consult note (loop closed)", "OMG^O19", "out", "close_loop", "SC", "CM"),
)
"""The 360X transactions referralkit exchanges, in workflow order."""


# -- NHS e-Referral Service --------------------------------------------------------------------


@attrs.frozen
class NhsErsState:
    """An NHS e-RS referral state or worklist where it corresponds to lifecycle states."""

    name: str
    states: tuple[ReferralStatus, ...]
    note: str = ""


NHS_ERS_STATES: Final[tuple[NhsErsState, ...]] = (
    NhsErsState("Awaiting Review (Referrals for Review worklist)", (S.RECEIVED,)),
    NhsErsState("Accepted (review outcome)", (S.ACCEPTED,)),
    NhsErsState("Returned to Referrer (rejected)", (S.DECLINED,)),
    NhsErsState("Awaiting Booking (Appointment Slot Issue worklist)", (S.READY_TO_SCHEDULE,)),
    NhsErsState("Booked", (S.SCHEDULED,)),
    NhsErsState("Did Not Attend", (S.READY_TO_SCHEDULE,), "after a no-show"),
    NhsErsState("Cancelled", (S.CANCELLED,)),
)
"""NHS e-RS states that correspond; e-RS has no authorization, hold or lost states."""


# -- The sending side -------------------------------------------------------------------------

_O = OutboundStatus
_OUTBOUND_CROSSWALK: Final[Mapping[OutboundStatus, StatusCodes]] = {
    _O.DRAFT: _codes("draft", "draft", None, "draft"),
    _O.SENT: _codes("requested", "sent", "2.0", "active"),
    _O.DELIVERED: _codes("received", "delivered", "2.0", "active"),
    _O.ACKNOWLEDGED: _codes("received", "acknowledged", "2.0", "active"),
    _O.ACCEPTED: _codes("accepted", "accepted", "3.0", "active"),
    _O.DECLINED: _codes("rejected", "declined", "4.0", "active"),
    _O.REDIRECTED: _codes("cancelled", "redirected", "6.0", "active"),
    _O.SCHEDULED: _codes("in-progress", "visit-scheduled", "5.1.1", "active"),
    _O.SEEN: _codes("in-progress", "visit-complete", "5.1.4", "active"),
    _O.REPORT_RECEIVED: _codes("completed", "report-received", "7.0", "active"),
    # Our clinician read the report: only now is our order complete (the loop closed).
    _O.REPORT_REVIEWED: _codes("completed", "report-reviewed", "7.0", "completed"),
    _O.CANCELLED: _codes("cancelled", "cancelled", "6.0", "revoked"),
    _O.LOST: _codes("failed", "patient-lost", None, "active"),
    _O.ENTERED_IN_ERROR: _codes("entered-in-error", None, None, "entered-in-error"),
}

OUTBOUND_X360: Final[Mapping[str, X360Transaction]] = {
    "send": X360_TRANSACTIONS[0],
    "receiver_accept": X360_TRANSACTIONS[1],
    "receiver_decline": X360_TRANSACTIONS[2],
    "withdraw": X360_TRANSACTIONS[3],
    "book": X360_TRANSACTIONS[6],
    "receive_report": X360_TRANSACTIONS[10],
}
"""The 360X transaction each sending-side trigger sends or answers (seen from the referrer,
``direction`` is reversed: ``in`` there is what we send)."""


def outbound_crosswalk(status: OutboundStatus) -> StatusCodes:
    """Return the FHIR Task and ServiceRequest codes of a sending-side state.

    The Task is the receiver's fulfilment Task as we track it; our ServiceRequest completes
    only when our clinician has reviewed the report.

    .. versionadded:: 0.4
    """
    return _OUTBOUND_CROSSWALK[status]
