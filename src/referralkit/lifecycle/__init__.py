"""The referral lifecycle: states, triggers, guards, roles and the FHIR status crosswalk.

One :class:`transitions.Machine` is built per process (:func:`shared_lifecycle`) and fired on a
throwaway token that holds the state; a referral never owns a machine. :meth:`Lifecycle.fire`
is pure: it returns the changed referral and the event that records the change, and the caller
(:class:`~referralkit.desk.ReferralDesk`) commits both together.
"""

from referralkit.lifecycle.crosswalk import (
    BusinessStatus,
    StatusCodes,
    crosswalk,
    crosswalk_referral,
)
from referralkit.lifecycle.machine import Change, Lifecycle, amended, created, shared_lifecycle
from referralkit.lifecycle.next_steps import (
    AUTHORIZATION_SENTENCES,
    NextStep,
    SubStatus,
    next_step,
    next_step_for,
    team_name,
)
from referralkit.lifecycle.table import (
    ACTIVE_STATES,
    ROLE_TRIGGERS,
    TERMINAL_STATES,
    TRANSITIONS,
    allowed_triggers,
)
from referralkit.lifecycle.triggers import (
    TRIGGER_DATA,
    TRIGGERS,
    AcceptData,
    AuthorizeData,
    CancelAppointmentData,
    CancelData,
    CloseLoopData,
    DeclineData,
    MarkLostData,
    NoShowData,
    NoteData,
    ReasonData,
    RedirectData,
    RequestInfoData,
    ScheduleData,
    Trigger,
)

__all__ = [
    "ACTIVE_STATES",
    "AUTHORIZATION_SENTENCES",
    "ROLE_TRIGGERS",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "TRIGGERS",
    "TRIGGER_DATA",
    "AcceptData",
    "AuthorizeData",
    "BusinessStatus",
    "CancelAppointmentData",
    "CancelData",
    "Change",
    "CloseLoopData",
    "DeclineData",
    "Lifecycle",
    "MarkLostData",
    "NextStep",
    "NoShowData",
    "NoteData",
    "ReasonData",
    "RedirectData",
    "RequestInfoData",
    "ScheduleData",
    "StatusCodes",
    "SubStatus",
    "Trigger",
    "allowed_triggers",
    "amended",
    "created",
    "crosswalk",
    "crosswalk_referral",
    "next_step",
    "next_step_for",
    "shared_lifecycle",
    "team_name",
]
