"""Decoding stored rows, shared by the SQL stores: every failure becomes CorruptRecordError."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from pydantic import ValidationError

from referralkit.errors import CorruptRecordError
from referralkit.events import Event
from referralkit.model import Referral

__all__ = ["decode_events", "decode_referral"]


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
