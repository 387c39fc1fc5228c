"""Turn captured values into what a finished intake produces: a referral, or a call's data.

.. versionadded:: 0.1
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final, get_args
from uuid import UUID, uuid4

from pydantic import BaseModel

from referralkit.intake._assemble import assemble
from referralkit.intake.fields import FIELDS, CallType
from referralkit.model import (
    Channel,
    Direction,
    Interaction,
    PhoneContact,
    PhoneKind,
    Priority,
    Referral,
    ReferralStatus,
)

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


def _box_classes() -> dict[str, type[BaseModel]]:
    # The record class of each box, read from the Referral model's annotations
    # (``Patient | None`` -> Patient), so the boxes follow the model.
    classes: dict[str, type[BaseModel]] = {}
    for box in _BOXES:
        owner: type[BaseModel] = Referral
        for name in box.split("."):
            annotation = owner.model_fields[name].annotation
            found = [a for a in get_args(annotation) if isinstance(a, type)]
            candidates = [annotation, *found]
            owner = next(c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel))
        classes[box] = owner
    return classes


_CLASSES: Final = _box_classes()


def build_referral(
    values: Mapping[str, Any],
    flags: Iterable[str],
    now: datetime,
    referral_id: UUID | None = None,
) -> Referral:
    """Return the new referral, in ``intake`` status, from a complete intake's values.

    The values come from the intake validators, which have already checked and normalised
    every one; the records are assembled from them without validating a second time
    (:func:`~referralkit.intake._assemble.assemble`).

    .. versionchanged:: 0.1
       Values are no longer validated twice.
    """
    if referral_id is None:
        referral_id, interaction_id = _two_uuids()
    else:
        interaction_id = uuid4()
    interaction = assemble(
        Interaction,
        {
            "id": interaction_id,
            "at": now.astimezone(UTC),
            "channel": Channel.VOICE,
            "direction": Direction.INBOUND,
            "call_type": CallType.NEW_REFERRAL.value,
            "outcome": "referral_captured",
        },
    )
    data: dict[str, Any] = {
        "id": referral_id,
        "status": ReferralStatus.INTAKE,
        "priority": Priority.ROUTINE,
        "flags": tuple(flags),
        "interactions": (interaction,),
    }
    boxes: dict[str, dict[str, Any]] = {box: {} for box in _BOXES}
    boxes[""] = data
    for path, value in values.items():
        where = _PLACES.get(path)
        if where is None:
            continue
        if path == "patient.phones":
            value = tuple(
                assemble(
                    PhoneContact,
                    {"number": number, "kind": kind, "time_zones": zones}
                    | ({"extension": extension} if extension else {}),
                )
                for number, kind, zones, extension in value
            )
        elif path == "patient.preferred_channel":
            value = Channel(value)
        boxes[where[0]][where[1]] = value
    for box in _BOXES:  # innermost first
        if boxes[box]:
            parent, _, name = box.rpartition(".")
            boxes[parent][name] = assemble(_CLASSES[box], boxes[box])
    return assemble(Referral, data)


def jsonable(value: Any) -> Any:
    """Return a captured value as JSON-compatible data (dates as ISO text, enums by value)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Priority | PhoneKind):
        return value.value
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    return value
