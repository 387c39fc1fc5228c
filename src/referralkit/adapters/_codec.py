"""Decoding stored rows, shared by the SQL stores: every failure becomes CorruptRecordError."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from pydantic import ValidationError

from referralkit.errors import CorruptRecordError
from referralkit.events import Event
from referralkit.model import Referral

__all__ = ["decode_event", "decode_events", "decode_referral", "in_window", "prefilter_bounds"]


def decode_referral(referral_id: UUID | str, body: str | bytes) -> Referral:
    """Decode a stored referral body.

    :raises CorruptRecordError: the body is not a valid referral (the message holds no data).
    """
    try:
        return Referral.model_validate_json(body)
    except ValidationError:
        pass
    # Raised outside the handler: the pydantic error carries the stored values (PHI).
    raise CorruptRecordError(referral_id, "referral")


def decode_events(referral_id: UUID | str, bodies: Iterable[str]) -> list[Event]:
    """Decode a referral's stored event bodies, in the order given.

    :raises CorruptRecordError: a body is not a valid event.
    """
    decoded: list[Event] = []
    for body in bodies:
        try:
            decoded.append(Event.from_json(body))
            continue
        except (ValueError, KeyError, TypeError):
            pass
        # Raised outside the handler: a JSONDecodeError carries the whole body (PHI).
        raise CorruptRecordError(referral_id, "event")
    return decoded


def decode_event(referral_id: UUID | str, body: str | bytes) -> Event:
    """Decode one stored event body.

    :raises CorruptRecordError: the body is not a valid event.
    """
    try:
        return Event.from_json(body)
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptRecordError(referral_id, "event") from exc


# An event's "at" is stored as ISO text with its offset; any offset is within a day of UTC.
_SLACK: Final = timedelta(days=1)


def prefilter_bounds(
    since: datetime | None, until: datetime | None
) -> tuple[str | None, str | None]:
    """Return ISO text bounds that include every event of ``[since, until)`` and few others.

    Stored events keep ``at`` as ISO text, which sorts like time only within one offset; the
    bounds are widened by a day so a text comparison in SQL never drops an event of the window.
    The caller keeps only the events :func:`in_window` accepts.
    """
    low = None if since is None else (since - _SLACK).isoformat()
    high = None if until is None else (until + _SLACK).isoformat()
    return low, high


def in_window(at: datetime, since: datetime | None, until: datetime | None) -> bool:
    """Return whether *at* lies in ``[since, until)`` (an open end is unbounded)."""
    return (since is None or at >= since) and (until is None or at < until)
