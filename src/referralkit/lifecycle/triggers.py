"""Trigger names and the data each trigger validates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from referralkit.model import (
    Appointment,
    CancelReason,
    DeclineReason,
    LostReason,
    NoShowReason,
    Practice,
)
from referralkit.model.types import refuse_unstorable_text

if TYPE_CHECKING:  # exists only in transitions' .pyi stubs: importing it at runtime fails
    pass


__all__ = [
    "TRIGGERS",
    "TRIGGER_DATA",
    "AcceptData",
    "AuthorizeData",
    "CancelAppointmentData",
    "CancelData",
    "CloseLoopData",
    "DeclineData",
    "MarkLostData",
    "NoShowData",
    "NoteData",
    "ReasonData",
    "RedirectData",
    "RequestInfoData",
    "ScheduleData",
    "Trigger",
]

Trigger = Literal[
    "complete_intake",
    "request_info",
    "redirect",
    "accept",
    "decline",
    "require_auth",
    "clear",
    "authorize",
    "schedule",
    "reschedule",
    "no_show",
    "cancel_appointment",
    "complete_visit",
    "close_loop",
    "mark_lost",
    "reopen",
    "hold",
    "resume",
    "cancel",
    "mark_error",
]
TRIGGERS: Final[tuple[Trigger, ...]] = get_args(Trigger)
"""Every lifecycle trigger, in table order."""


# -- Trigger data ---------------------------------------------------------------------------


class TriggerData(BaseModel):
    # Not strict: data comes from host code, CLIs and JSON alike ("unreachable" for an enum).
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=False, hide_input_in_errors=True, defer_build=True
    )
    # Trigger data lands in events and (through effects) on the referral: the same text rule.
    _text_is_storable = field_validator("*", mode="after")(refuse_unstorable_text)


class NoteData(TriggerData):
    """Data of a trigger that needs none: an optional note."""

    note: str | None = None


class ReasonData(TriggerData):
    """Data of ``hold``, ``reopen`` and ``mark_error``: a free-text reason is required."""

    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class RequestInfoData(TriggerData):
    """Data of ``request_info``: which fields are missing (paths, not values)."""

    missing: Annotated[tuple[str, ...], Field(min_length=1)]
    note: str | None = None


class RedirectData(TriggerData):
    """Data of ``redirect``: the new receiving specialty and/or practice, and why."""

    specialty: str | None = None
    receiving_practice: Practice | None = None
    reason: Annotated[str, Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _names_a_target(self) -> RedirectData:
        if self.specialty is None and self.receiving_practice is None:
            raise ValueError("redirect needs a new specialty or receiving practice")
        return self


class AcceptData(TriggerData):
    """Data of ``accept``: ``policy`` names the auto-accept policy when no human decided."""

    policy: str | None = None
    note: str | None = None


class DeclineData(TriggerData):
    """Data of ``decline``: a coded reason is required."""

    reason: DeclineReason
    note: str | None = None


class AuthorizeData(TriggerData):
    """Data of ``authorize``: the payer's authorization number and validity."""

    number: Annotated[str, Field(min_length=1, max_length=100)]
    valid_from: date
    valid_to: date
    authorized_visits: Annotated[int, Field(ge=1)] | None = None
    modified: bool = False

    @model_validator(mode="after")
    def _dates_in_order(self) -> AuthorizeData:
        if self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class ScheduleData(TriggerData):
    """Data of ``schedule`` and ``reschedule``: the booked appointment."""

    appointment: Appointment


class NoShowData(TriggerData):
    """Data of ``no_show``."""

    reason: NoShowReason = NoShowReason.UNKNOWN
    note: str | None = None


class CancelAppointmentData(TriggerData):
    """Data of ``cancel_appointment``."""

    reason: CancelReason
    note: str | None = None


class CloseLoopData(TriggerData):
    """Data of ``close_loop``: a reference to the consult report sent to the referrer."""

    report_reference: Annotated[str, Field(min_length=1, max_length=500)]


class MarkLostData(TriggerData):
    """Data of ``mark_lost``: the coded leakage reason."""

    reason: LostReason
    note: str | None = None


class CancelData(TriggerData):
    """Data of ``cancel``: a coded reason."""

    reason: CancelReason
    note: str | None = None


NO_NOTE: Final = NoteData()
EMPTY_DATA: Final[Mapping[str, Any]] = {}

TRIGGER_DATA: Final[Mapping[Trigger, type[TriggerData]]] = {
    "complete_intake": NoteData,
    "request_info": RequestInfoData,
    "redirect": RedirectData,
    "accept": AcceptData,
    "decline": DeclineData,
    "require_auth": NoteData,
    "clear": NoteData,
    "authorize": AuthorizeData,
    "schedule": ScheduleData,
    "reschedule": ScheduleData,
    "no_show": NoShowData,
    "cancel_appointment": CancelAppointmentData,
    "complete_visit": NoteData,
    "close_loop": CloseLoopData,
    "mark_lost": MarkLostData,
    "reopen": ReasonData,
    "hold": ReasonData,
    "resume": NoteData,
    "cancel": CancelData,
    "mark_error": ReasonData,
}
"""The data model each trigger validates its ``data`` with."""
