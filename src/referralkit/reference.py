"""Reference tables of the lifecycle, rendered from the code so documentation cannot drift.

``docs/lifecycle.md`` embeds :func:`lifecycle_tables` and ``docs/interop.md`` embeds
:func:`interop_tables`; a test fails when they differ, and ``referralkit lifecycle`` prints
the lifecycle tables for a host's own documentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final, cast

from referralkit.lifecycle import (
    ROLE_TRIGGERS,
    TRANSITIONS,
    TRIGGER_DATA,
    TRIGGERS,
    Trigger,
    crosswalk,
    crosswalk_referral,
)
from referralkit.lifecycle.crosswalk import (
    BSER_BUSINESS_STATUS_SYSTEM,
    BUSINESS_STATUS_SYSTEM,
    HL7V2_REFERRAL_STATUS,
    NHS_ERS_STATES,
    TASK_STATUS_TRIGGERS,
    X360_TRANSACTIONS,
)
from referralkit.model import Appointment, AppointmentStatus, Referral, ReferralStatus, Role

__all__ = ["STATE_MEANINGS", "interop_tables", "lifecycle_tables"]

S = ReferralStatus
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
STATE_MEANINGS: Final[Mapping[ReferralStatus, str]] = {
    S.INTAKE: "captured, required fields still missing",
    S.RECEIVED: "complete, awaiting acceptance by the receiving practice",
    S.ACCEPTED: "receiving practice accepted (a human decision unless policy auto-accepts)",
    S.PENDING_AUTH: "insurance authorization required and not yet approved",
    S.READY_TO_SCHEDULE: "cleared to book; patient outreach runs",
    S.SCHEDULED: "appointment booked",
    S.VISIT_COMPLETED: "patient seen; consult report not yet back to the referrer",
    S.CLOSED: "consult report delivered: loop closed",
    S.DECLINED: "receiving practice declined (coded reason)",
    S.CANCELLED: "withdrawn by patient or referrer (coded reason)",
    S.LOST: "outreach exhausted or patient never scheduled (leakage); reopen returns it",
    S.ON_HOLD: "paused; resumes to the state it left",
    S.ENTERED_IN_ERROR: "created by mistake",
}
"""One line per state, as in DESIGN.md."""


def _name(callback: object) -> str:
    name = getattr(callback, "__name__", repr(callback)).lstrip("_")
    if name.startswith("resumes_to_"):
        return "resumes_to_held_state"
    if name.startswith("reopens_to_"):
        return "reopens_to_state_lost_from"
    return name


def _transition_rows() -> dict[Trigger, tuple[list[str], list[str], list[str]]]:
    rows: dict[Trigger, tuple[list[str], list[str], list[str]]] = {}
    for entry in TRANSITIONS:
        trigger = cast("Trigger", entry["trigger"])
        sources, dests, guards = rows.setdefault(trigger, ([], [], []))
        source = entry["source"]
        for state in source if isinstance(source, list) else [source]:
            value = state.value if isinstance(state, ReferralStatus) else str(state)
            if value not in sources:
                sources.append(value)
        dest = entry["dest"]
        value = dest.value if isinstance(dest, ReferralStatus) else str(dest)
        if value not in dests:
            dests.append(value)
        condition = entry.get("conditions")
        if condition is not None and _name(condition) not in guards:
            guards.append(_name(condition))
    return rows


def lifecycle_tables() -> str:
    """Return the state table and the trigger table as Markdown."""
    lines = [
        "| state | meaning | FHIR Task.status | Task.businessStatus | ServiceRequest.status |",
        "|---|---|---|---|---|",
    ]
    for state in ReferralStatus:
        codes = crosswalk(state)
        lines.append(
            f"| `{state.value}` | {STATE_MEANINGS[state]} | {codes.task_status} | "
            f"{codes.task_business_status or ''} | {codes.service_request_status} |"
        )
    lines += [
        "",
        "| trigger | from | to | guard | data | roles |",
        "|---|---|---|---|---|---|",
    ]
    rows = _transition_rows()
    for trigger in TRIGGERS:
        sources, dests, guards = rows[trigger]
        to = {"resume": "the state it left", "reopen": "the state it was lost from"}.get(
            trigger, ", ".join(dests)
        )
        roles = ", ".join(r.value for r in Role if trigger in ROLE_TRIGGERS[r])
        lines.append(
            f"| `{trigger}` | {', '.join(sources)} | {to} | {', '.join(guards) or '-'} | "
            f"`{TRIGGER_DATA[trigger].__name__}` | {roles} |"
        )
    return "\n".join(lines) + "\n"


def _states(states: tuple[ReferralStatus, ...]) -> str:
    return ", ".join(f"`{s.value}`" for s in states)


def interop_tables() -> str:
    """Return the status crosswalk tables, one per code system, as Markdown.

    .. versionadded:: 0.2
    """
    lines = [
        "### FHIR R4 Task and ServiceRequest (BSeR business statuses)",
        "",
        f"Step codes are in `{BUSINESS_STATUS_SYSTEM}`; BSeR codes in "
        f"`{BSER_BUSINESS_STATUS_SYSTEM}`.",
        "",
        "| state | Task.status | businessStatus step | BSeR code | BSeR display "
        "| ServiceRequest.status |",
        "|---|---|---|---|---|---|",
    ]
    rows = [(f"`{state.value}`", crosswalk(state)) for state in ReferralStatus]
    rows += [
        (f"`ready_to_schedule` after a {what}", crosswalk_referral(_after(status)))
        for what, status in (
            ("no-show", AppointmentStatus.NO_SHOW),
            ("cancelled appointment", AppointmentStatus.CANCELLED),
        )
    ]
    for label, codes in rows:
        business = codes.business_status
        lines.append(
            f"| {label} | {codes.task_status} | {codes.task_business_status or '-'} | "
            f"{(business and business.bser) or '-'} | "
            f"{(business and business.bser_display) or '-'} | {codes.service_request_status} |"
        )
    lines += [
        "",
        "### FHIR Task updates back to lifecycle triggers",
        "",
        "| Task.status | BSeR code | trigger |",
        "|---|---|---|",
    ]
    for (status, bser), trigger in TASK_STATUS_TRIGGERS.items():
        lines.append(f"| {status} | {bser or 'any'} | `{trigger}` |")
    lines += [
        "",
        "### HL7 v2 referral status (RF1-1, table 0283)",
        "",
        "| code | display | lifecycle states | inbound trigger |",
        "|---|---|---|---|",
    ]
    for row in HL7V2_REFERRAL_STATUS:
        lines.append(
            f"| {row.code} | {row.display} | {_states(row.states)} | "
            f"{f'`{row.trigger}`' if row.trigger else '-'} |"
        )
    lines += [
        "",
        "### 360X closed-loop transactions (HL7 v2.5.1)",
        "",
        "| transaction | message | direction | trigger | ORC-1 | ORC-5 |",
        "|---|---|---|---|---|---|",
    ]
    for tx in X360_TRANSACTIONS:
        lines.append(
            f"| {tx.name} | {tx.message} | {tx.direction} | "
            f"{f'`{tx.trigger}`' if tx.trigger else '-'} | {tx.order_control or '-'} | "
            f"{tx.order_status or '-'} |"
        )
    lines += [
        "",
        "### NHS e-Referral Service (where states correspond)",
        "",
        "| e-RS state | lifecycle states | note |",
        "|---|---|---|",
    ]
    for ers in NHS_ERS_STATES:
        lines.append(f"| {ers.name} | {_states(ers.states)} | {ers.note or '-'} |")
    return "\n".join(lines) + "\n"


def _after(status: AppointmentStatus) -> Referral:
    appointment = Appointment(start=_EPOCH, status=status)
    return Referral(status=ReferralStatus.READY_TO_SCHEDULE, appointments=(appointment,))
