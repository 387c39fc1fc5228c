"""Turn captured values into what a finished intake produces: a referral, or a call's data.

.. versionadded:: 0.1
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Final
from uuid import UUID, uuid4

from pydantic import ValidationError

from referralkit.errors import IntakeError
from referralkit.intake.fields import FIELDS, CallType
from referralkit.model import Channel, Direction, PhoneKind, Priority, Referral, ReferralStatus

__all__ = ["build_referral", "jsonable"]

# Where each captured new_referral field goes in the Referral: every field but the caller's
# and the call's notes, at the same path (the box is the path of the record that holds it).
_PLACES: Final[Mapping[str, tuple[str, str]]] = {
    path: (path.rpartition(".")[0], path.rpartition(".")[2])
    for path in FIELDS[CallType.NEW_REFERRAL]
    if not path.startswith("caller.") and path != "notes"
}
# Nested records, innermost first, so a box is complete before it joins its parent.
_BOXES: Final = tuple(
    sorted({box for box, _ in _PLACES.values() if box}, key=lambda b: -b.count("."))
)


def _two_uuids() -> tuple[UUID, UUID]:
    # uuid4() twice, from one read of the OS's random source (one system call, not two).
    raw = os.urandom(32)
    return UUID(bytes=raw[:16], version=4), UUID(bytes=raw[16:], version=4)


def build_referral(
    values: Mapping[str, Any],
    flags: Iterable[str],
    now: datetime,
    referral_id: UUID | None = None,
) -> Referral:
    """Return the new referral, in ``intake`` status, from a complete intake's values.

    Values go in as plain dicts, not models: ``Referral.model_validate`` then checks
    everything in one pass in pydantic-core.

    :raises IntakeError: ``invalid_referral`` if the model refuses the values.
    """
    if referral_id is None:
        referral_id, interaction_id = _two_uuids()
    else:
        interaction_id = uuid4()
    data: dict[str, Any] = {
        "id": referral_id,
        "status": ReferralStatus.INTAKE,
        "priority": Priority.ROUTINE,
        "flags": tuple(flags),
        "interactions": (
            {
                "id": interaction_id,
                "at": now,
                "channel": Channel.VOICE,
                "direction": Direction.INBOUND,
                "call_type": CallType.NEW_REFERRAL.value,
                "outcome": "referral_captured",
            },
        ),
    }
    boxes: dict[str, dict[str, Any]] = {box: {} for box in _BOXES}
    boxes[""] = data
    for path, value in values.items():
        where = _PLACES.get(path)
        if where is None:
            continue
        if path == "patient.phones":
            value = tuple(
                {"number": number, "kind": kind, "time_zones": zones}
                | ({"extension": extension} if extension else {})
                for number, kind, zones, extension in value
            )
        elif path == "patient.preferred_channel":
            value = Channel(value)
        boxes[where[0]][where[1]] = value
    for box in _BOXES:
        if boxes[box]:
            parent, _, name = box.rpartition(".")
            boxes[parent][name] = boxes[box]
    problems: list[Any] = []
    try:
        return Referral.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors(include_input=False, include_url=False)
    # Raised outside the handler: the pydantic error (inputs, PHI) is not its context.
    raise IntakeError(
        "invalid_referral", "The captured values do not make a valid referral.", problems
    )


def jsonable(value: Any) -> Any:
    """Return a captured value as JSON-compatible data (dates as ISO text, enums by value)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Priority | PhoneKind):
        return value.value
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    return value
