"""Rebuild a referral from its events, re-deriving every event on the way.

Each event is applied with the functions that made it (:func:`created`,
:meth:`Lifecycle.fire`, :func:`amended`), and the event they build must hash exactly like the
stored one: so an event that the lifecycle would not have produced from the referral before it
(a forged transition, a wrong actor role, data a guard refuses) is caught, not only a broken
chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from pydantic import BaseModel, ValidationError

from referralkit.errors import HistoryTamperedError, ReferralKitError
from referralkit.events import Event
from referralkit.lifecycle.machine import (
    Change,
    amended,
    created,
    shared_lifecycle,
    shared_outbound_lifecycle,
)
from referralkit.lifecycle.outbound_triggers import OUTBOUND_TRIGGER_DATA, OutboundTrigger
from referralkit.lifecycle.triggers import TRIGGER_DATA, NoteData, Trigger
from referralkit.model import Referral

__all__ = ["replay"]


def replay(events: Sequence[Event]) -> Referral | None:
    """Return the referral the events describe, or ``None`` if they predate recorded changes.

    Histories written before events recorded their changes (a ``created`` or amendment event
    without ``changes``) cannot be rebuilt; for those the caller can check only the chain and
    the status.

    :param events: a referral's events in order, already checked as a chain.
    :raises HistoryTamperedError: an event is not what the lifecycle builds from the referral
        before it (the message names the event and never a value).

    .. versionadded:: 0.2
    """
    if not events:
        return None
    first = events[0]
    referral_id = first.referral_id
    if first.kind != "created" or first.to_state is None:
        raise HistoryTamperedError(referral_id, 1, "the first event is not a creation")
    if first.changes is None:
        return None
    change = _attempt(lambda: created(_from_json(first.changes), first.actor, first.at))
    if change is None:
        # Raised outside the handler: a validation error would hold stored values (PHI).
        raise HistoryTamperedError(referral_id, 1, "the creation cannot be replayed")
    referral = _same(change, first)
    for event in events[1:]:
        if event.kind not in TRIGGER_DATA and event.changes is None:
            # (A sending-side transition always records its changes.)
            return None  # an amendment from before changes were recorded
        current = referral
        replayed = _attempt(lambda: _apply(current, event))  # noqa: B023 - called at once
        if replayed is None:
            raise HistoryTamperedError(
                referral_id, event.seq, f"a {_kind(event)} event cannot be replayed"
            )
        change = replayed
        referral = _same(change, event)
    return referral


def _attempt(build: Callable[[], Change]) -> Change | None:
    try:
        return build()
    except (ValidationError, ReferralKitError, ValueError, TypeError):
        return None


def _from_json(fields: Mapping[str, Any] | None) -> Referral:
    return Referral.model_validate_json(json.dumps(fields))


def _apply(referral: Referral, event: Event) -> Change:
    if event.kind in OUTBOUND_TRIGGER_DATA:
        # Re-fired through the sending lifecycle, so a forged move fails like a receiving one.
        outbound = cast(OutboundTrigger, event.kind)
        fields = {k: v for k, v in event.data.items() if k not in ("from", "to")}
        checked = OUTBOUND_TRIGGER_DATA[outbound].model_validate_json(json.dumps(fields))
        return shared_outbound_lifecycle().fire(
            referral, outbound, actor=event.actor, now=event.at, data=checked
        )
    trigger = cast(Trigger, event.kind)  # checked: a key of TRIGGER_DATA or not used as one
    model_type = TRIGGER_DATA.get(trigger)
    if model_type is not None:
        data: BaseModel | None = None
        if event.data or model_type is not NoteData:
            # JSON mode: the stored data is JSON, and nested models are strict from Python.
            data = model_type.model_validate_json(json.dumps(event.data))
        return shared_lifecycle().fire(
            referral, trigger, actor=event.actor, now=event.at, data=data
        )
    assert event.changes is not None  # noqa: S101 - checked by the caller
    merged: dict[str, Any] = referral.model_dump(mode="json")
    merged.update(event.changes)
    typed = Referral.model_validate_json(json.dumps(merged))
    update = {name: getattr(typed, name) for name in event.changes}
    return amended(
        referral, event.kind, actor=event.actor, now=event.at, update=update, data=event.data
    )


def _same(change: Change, stored: Event) -> Referral:
    # Returns the rebuilt referral, chained on from the stored event's hash.
    if change.event.hash == stored.hash:
        return change.referral
    # Compared as JSON values, not bytes: an event written by an older release whose encoding
    # of the same values differs (number or key formatting) still replays.
    if json.loads(change.event.stored_body()) != json.loads(stored.stored_body()):
        raise HistoryTamperedError(
            stored.referral_id,
            stored.seq,
            f"a {_kind(stored)} event differs from what the lifecycle builds (forged)",
        )
    return change.referral.model_copy(update={"history_hash": stored.hash})


def _kind(event: Event) -> str:
    # A trigger name is ours to print; an amendment kind is caller-chosen text.
    known = event.kind in TRIGGER_DATA or event.kind in OUTBOUND_TRIGGER_DATA
    return event.kind if known or event.kind == "created" else "amendment"
