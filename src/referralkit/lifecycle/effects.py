"""What each trigger changes on the referral besides its status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from referralkit.model import (
    Appointment,
    AppointmentStatus,
    Authorization,
    AuthorizationStatus,
    CancelReason,
    Referral,
    ReferralStatus,
    StatusReason,
)

if TYPE_CHECKING:  # exists only in transitions' .pyi stubs: importing it at runtime fails
    pass

from referralkit.lifecycle.triggers import Trigger

__all__ = []

# -- Effects: what a trigger changes besides the status ------------------------------------


def _replace_current_appointment(referral: Referral, **changes: Any) -> tuple[Appointment, ...]:
    current = referral.current_appointment
    return tuple(
        a.model_copy(update=changes) if current is not None and a.id == current.id else a
        for a in referral.appointments
    )


def trigger_effects(
    referral: Referral, trigger: Trigger, data: Any, source: ReferralStatus
) -> dict[str, Any]:
    match trigger:
        case "redirect":
            update: dict[str, Any] = {
                "status_reason": StatusReason(kind="redirect", text=data.reason)
            }
            if data.specialty is not None:
                update["specialty"] = data.specialty
            if data.receiving_practice is not None:
                update["receiving_practice"] = data.receiving_practice
            return update
        case "decline":
            return {
                "status_reason": StatusReason(
                    kind="decline", code=data.reason.value, text=data.note
                )
            }
        case "require_auth":
            if referral.authorization.status is AuthorizationStatus.NOT_REQUIRED:
                return {
                    "authorization": referral.authorization.model_copy(
                        update={"status": AuthorizationStatus.REQUIRED}
                    )
                }
            return {}
        case "authorize":
            return {
                "authorization": Authorization(
                    status=(
                        AuthorizationStatus.MODIFIED
                        if data.modified
                        else AuthorizationStatus.APPROVED
                    ),
                    number=data.number,
                    valid_from=data.valid_from,
                    valid_to=data.valid_to,
                    authorized_visits=data.authorized_visits,
                    used_visits=referral.authorization.used_visits,
                )
            }
        case "schedule":
            return {"appointments": (*referral.appointments, data.appointment)}
        case "reschedule":
            moved = _replace_current_appointment(
                referral,
                status=AppointmentStatus.CANCELLED,
                cancel_reason=CancelReason.RESCHEDULED,
            )
            return {"appointments": (*moved, data.appointment)}
        case "no_show":
            return {
                "appointments": _replace_current_appointment(
                    referral, status=AppointmentStatus.NO_SHOW, no_show_reason=data.reason
                )
            }
        case "cancel_appointment":
            return {
                "appointments": _replace_current_appointment(
                    referral, status=AppointmentStatus.CANCELLED, cancel_reason=data.reason
                )
            }
        case "complete_visit":
            update = {
                "appointments": _replace_current_appointment(
                    referral, status=AppointmentStatus.COMPLETED
                )
            }
            auth = referral.authorization
            if auth.status is not AuthorizationStatus.NOT_REQUIRED:
                update["authorization"] = auth.model_copy(
                    update={"used_visits": auth.used_visits + 1}
                )
            return update
        case "mark_lost":
            return {
                "status_reason": StatusReason(kind="lost", code=data.reason.value, text=data.note),
                "next_action_at": None,
                "lost_from": source,
            }
        case "reopen":
            return {
                "status_reason": StatusReason(kind="reopen", text=data.reason),
                "lost_from": None,
            }
        case "hold":
            return {
                "hold_from": source,
                "status_reason": StatusReason(kind="hold", text=data.reason),
            }
        case "resume":
            return {"hold_from": None, "status_reason": None}
        case "cancel":
            return {
                "status_reason": StatusReason(
                    kind="cancel", code=data.reason.value, text=data.note
                ),
                "appointments": tuple(
                    a.model_copy(
                        update={
                            "status": AppointmentStatus.CANCELLED,
                            "cancel_reason": data.reason,
                        }
                    )
                    if a.status is AppointmentStatus.BOOKED
                    else a
                    for a in referral.appointments
                ),
                "next_action_at": None,
                "hold_from": None,
            }
        case "mark_error":
            return {
                "status_reason": StatusReason(kind="error", text=data.reason),
                "next_action_at": None,
                "hold_from": None,
                "lost_from": None,
            }
        case _:
            return {}
