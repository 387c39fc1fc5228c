"""Verify one referral, or a whole store, against its own history and seal.

A referral verifies when, in this order:

1. its row decodes, and the row's columns (status, version, next action) say what its body says;
2. it has events, every event row and body names the referral asked for, in sequence;
3. the events form the hash chain, each hash taken over the text as stored, and each stored
   text is the canonical encoding of its fields; the chain ends at the row's version and head;
4. replaying the events rebuilds the row: every field but ``next_action_at`` (moved by the
   outreach plan without an event) must equal it, and a referral in a terminal state has no
   next action;
5. with a :class:`~referralkit.integrity.Keyring`, the row carries a seal one of its keys made
   over the row as stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final
from uuid import UUID

import attrs

from referralkit.errors import CorruptRecordError, HistoryTamperedError, ReferralNotFoundError
from referralkit.events import Event, verify_history
from referralkit.integrity.records import StoredEvent, StoredRecord, VerifiableStore
from referralkit.integrity.seal import Keyring
from referralkit.lifecycle.replay import replay
from referralkit.lifecycle.table import TERMINAL_STATES
from referralkit.model import Referral, ReferralStatus
from referralkit.store import Store

__all__ = ["TamperReport", "verify_all", "verify_referral"]


@attrs.frozen
class TamperReport:
    """One referral that failed verification, as :func:`verify_all` yields it.

    :ivar seq: the first failing event's sequence number, or ``0`` for the row itself.
    :ivar reason: what failed (field names and kinds of change, never values).

    .. versionadded:: 0.2
    """

    referral_id: UUID
    seq: int
    reason: str


def verify_referral(
    store: Store | VerifiableStore, referral_id: UUID, *, keyring: Keyring | None = None
) -> None:
    """Check one referral's row, events and (with *keyring*) seal; see the module docstring.

    A store that is not a :class:`~referralkit.integrity.VerifiableStore` is checked through
    ``get`` and ``events`` (no column or seal checks).

    :param keyring: the host's keys; when given, a row without a valid seal fails. Defaults to
        the keyring the store was opened with, if any.
    :raises HistoryTamperedError: the first check that fails, naming the event (or ``0`` for
        the row) and why.
    :raises CorruptRecordError: the row or an event cannot be decoded at all.
    :raises ReferralNotFoundError: neither a row nor events exist for *referral_id*.

    .. versionadded:: 0.2
    """
    if keyring is None:
        keyring = getattr(store, "keyring", None)
    if isinstance(store, VerifiableStore):
        record = store.stored_record(referral_id)
    else:
        record = _record_of(store, referral_id)
    _verify_record(record, keyring)


def verify_all(
    store: Store | VerifiableStore, *, keyring: Keyring | None = None, page: int = 500
) -> Iterator[TamperReport]:
    """Verify every referral in *store*, yielding a report for each one that fails.

    Streams: ids are read *page* at a time and each referral is checked and dropped before the
    next, so memory stays flat however large the store. A store that is not a
    :class:`~referralkit.integrity.VerifiableStore` is walked through ``list_by_status`` (so
    events without a referral row, and undecodable rows, are not reached).

    :param keyring: as for :func:`verify_referral`.

    .. versionadded:: 0.2
    """
    if keyring is None:
        keyring = getattr(store, "keyring", None)
    after: UUID | None = None
    while True:
        ids = _ids(store, after, page)
        for referral_id in ids:
            try:
                if isinstance(store, VerifiableStore):
                    record = store.stored_record(referral_id)
                else:
                    record = _record_of(store, referral_id)
                _verify_record(record, keyring)
            except HistoryTamperedError as exc:
                yield TamperReport(referral_id, exc.seq, exc.reason)
            except CorruptRecordError as exc:
                yield TamperReport(referral_id, 0, f"a stored {exc.kind} cannot be decoded")
        if len(ids) < page:
            return
        after = ids[-1]


def _ids(store: Store | VerifiableStore, after: UUID | None, page: int) -> list[UUID]:
    if isinstance(store, VerifiableStore):
        return store.referral_ids(after=after, limit=page)
    return [r.id for r in store.list_by_status(tuple(ReferralStatus), limit=page, after=after)]


def _record_of(store: Store, referral_id: UUID) -> StoredRecord:
    try:
        referral: Referral | None = store.get(referral_id)
    except ReferralNotFoundError:
        referral = None
    events = [
        StoredEvent(str(e.referral_id), e.seq, e.to_json()) for e in store.events(referral_id)
    ]
    return StoredRecord(
        referral_id=referral_id,
        body=None if referral is None else referral.model_dump_json(),
        status=None if referral is None else referral.status.value,
        version=None if referral is None else referral.version,
        next_action_at=None if referral is None else referral.next_action_at,
        seal=None,
        events=events,
    )


def _verify_record(record: StoredRecord, keyring: Keyring | None) -> None:
    referral_id = record.referral_id
    if record.body is None:
        if not record.events:
            raise ReferralNotFoundError(referral_id)
        raise HistoryTamperedError(referral_id, 0, "events without a referral row")
    stored = _decode_referral(record)
    _check_columns(record, stored)
    if stored.version < 1 or not record.events:
        raise HistoryTamperedError(referral_id, 0, "a stored referral has no history")
    events = _decode_events(record)
    verify_history(
        events,
        expected_count=stored.version,
        expected_head=stored.history_hash,
        referral_id=referral_id,
    )
    _check_replay(stored, events)
    if keyring is not None:
        _check_seal(record, stored, keyring)


def _decode_referral(record: StoredRecord) -> Referral:
    assert record.body is not None  # noqa: S101 - checked by the caller
    try:
        return Referral.model_validate_json(record.body)
    except ValueError:
        pass
    # Raised outside the handler: the pydantic error holds the stored values (PHI).
    raise CorruptRecordError(record.referral_id, "referral")


def _check_columns(record: StoredRecord, stored: Referral) -> None:
    differ = []
    if stored.id != record.referral_id:
        differ.append("id")
    if record.status != stored.status.value:
        differ.append("status")
    if record.version != stored.version:
        differ.append("version")
    if record.next_action_at != stored.next_action_at:
        differ.append("next_action_at")
    if differ:
        raise HistoryTamperedError(
            record.referral_id, 0, f"row columns disagree with its body: {', '.join(differ)}"
        )


def _decode_events(record: StoredRecord) -> list[Event]:
    events: list[Event] = []
    for index, row in enumerate(record.events, start=1):
        if row.referral_id != str(record.referral_id) or row.seq != index:
            raise HistoryTamperedError(record.referral_id, index, "event row out of place")
        try:
            events.append(Event.from_json(row.body))
            continue
        except (ValueError, KeyError, TypeError):
            pass
        # Raised outside the handler: a JSONDecodeError holds the whole body (PHI).
        raise CorruptRecordError(record.referral_id, "event")
    return events


def _check_replay(stored: Referral, events: list[Event]) -> None:
    rebuilt = replay(events)
    if rebuilt is None:
        # A history from before events recorded their changes: only the status is derivable.
        if events[-1].to_state is not stored.status:
            raise HistoryTamperedError(stored.id, 0, "row differs from its history in: status")
        return
    differ = [
        name
        for name in Referral.model_fields
        if name not in _PLANNED and getattr(rebuilt, name) != getattr(stored, name)
    ]
    if stored.status in TERMINAL_STATES:
        differ.extend(name for name in sorted(_PLANNED) if getattr(stored, name) is not None)
    if differ:
        raise HistoryTamperedError(
            stored.id, 0, f"row differs from its history in: {', '.join(differ)}"
        )


_PLANNED: Final = frozenset({"next_action_at", "next_routing_at"})
"""Fields planned from the events, not set by them: moved without an event (never contact)."""


def _check_seal(record: StoredRecord, stored: Referral, keyring: Keyring) -> None:
    if record.seal is None:
        raise HistoryTamperedError(record.referral_id, 0, "the row is not sealed")
    if record.seal.key_id not in keyring.keys:
        raise HistoryTamperedError(
            record.referral_id, 0, "the row is sealed with a key not in the keyring"
        )
    if not keyring.check(stored.model_dump_json(), record.seal):
        raise HistoryTamperedError(record.referral_id, 0, "the row does not match its seal")
