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

from referralkit.intake._assemble import assembler
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


# What UUID(..., version=4) does to the random bits: the RFC 4122 variant and version 4.
_UUID4_CLEAR: Final = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET: Final = (0x8000 << 48) | (4 << 76)
_UUID_BITS: Final = (1 << 128) - 1


def _two_uuids() -> tuple[UUID, UUID]:
    # uuid4() twice, from one read of the OS's random source (one system call, not two), the
    # version bits set here so that UUID() takes the cheaper int= path.
    raw = int.from_bytes(os.urandom(32))
    return (
        UUID(int=(raw >> 128) & _UUID4_CLEAR | _UUID4_SET),
        UUID(int=raw & _UUID_BITS & _UUID4_CLEAR | _UUID4_SET),
    )


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
# The same, compiled for the loop in build_referral: the records are numbered (0 the
# referral, then the boxes innermost first); each field path names its record and field, and
# each box its parent, its name there and the function that assembles it.
_NUMBER: Final = {"": 0} | {box: i for i, box in enumerate(_BOXES, start=1)}
_SLOTS: Final[Mapping[str, tuple[int, str]]] = {
    path: (_NUMBER[box], name) for path, (box, name) in _PLACES.items()
}
_NESTING: Final = tuple(
    (_NUMBER[box], _NUMBER[box.rpartition(".")[0]], box.rpartition(".")[2], assembler(cls))
    for box, cls in _CLASSES.items()
)
_RECORDS: Final = len(_BOXES) + 1
_PATIENT: Final = _NUMBER["patient"]
_make_referral: Final = assembler(Referral)
_make_interaction: Final = assembler(Interaction)
_make_phone: Final = assembler(PhoneContact)
_CALL_TYPE: Final = CallType.NEW_REFERRAL.value


def _phone_contacts(
    phones: Iterable[tuple[str, PhoneKind, tuple[str, ...], str | None]],
) -> tuple[PhoneContact, ...]:
    contacts: list[PhoneContact] = []
    for number, kind, zones, extension in phones:
        fields: dict[str, Any] = {"number": number, "kind": kind, "time_zones": zones}
        if extension:
            fields["extension"] = extension
        contacts.append(_make_phone(fields))
    return tuple(contacts)


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
    interaction = _make_interaction(
        {
            "id": interaction_id,
            "at": now.astimezone(UTC),
            "channel": Channel.VOICE,
            "direction": Direction.INBOUND,
            "call_type": _CALL_TYPE,
            "outcome": "referral_captured",
        }
    )
    data: dict[str, Any] = {
        "id": referral_id,
        "status": ReferralStatus.INTAKE,
        "priority": Priority.ROUTINE,
        "flags": tuple(flags),
        "interactions": (interaction,),
    }
    records: list[dict[str, Any]] = [{} for _ in range(_RECORDS)]
    records[0] = data
    slot_of = _SLOTS.get
    for path, value in values.items():
        slot = slot_of(path)
        if slot is not None:
            records[slot[0]][slot[1]] = value
    patient = records[_PATIENT]  # two values become what the record holds (in place)
    if "phones" in patient:
        patient["phones"] = _phone_contacts(patient["phones"])
    if "preferred_channel" in patient:
        patient["preferred_channel"] = Channel(patient["preferred_channel"])
    for number, parent, name, make in _NESTING:  # innermost first
        fields = records[number]
        if fields:
            records[parent][name] = make(fields)
    return _make_referral(data)


def jsonable(value: Any) -> Any:
    """Return a captured value as JSON-compatible data (dates as ISO text, enums by value)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Priority | PhoneKind):
        return value.value
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    return value
