"""The append-only event log: one hash-chained event per change of a referral.

Each event's ``hash`` is the sha256 of its canonical JSON (sorted keys, no spaces), which
includes the previous event's hash; so editing, deleting or reordering any stored event breaks
the chain, and :func:`verify_history` finds it. The referral's ``version`` (number of events)
and ``history_hash`` (hash of the last event) pin the end of the chain.

An event may carry ``changes`` (stored under the key ``"set"``): the field values it set on the
referral that its kind alone does not determine (the whole new referral for ``created``, the
amended fields for an amendment), so the referral can be rebuilt from its events and compared
with the stored row (:mod:`referralkit.integrity`). The key is left out when there are none,
so events written before it existed keep their hashes.

An event decoded from storage keeps the exact text it was stored as; :func:`verify_history`
hashes that text, so a stored body that is not the canonical encoding of its own fields (a
duplicated key, re-ordered keys, re-encoded strings) fails even when its fields look right.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import attrs

from referralkit.errors import HistoryTamperedError
from referralkit.model import ActorKind, ReferralStatus, Role

if TYPE_CHECKING:
    from referralkit.model import Actor

__all__ = ["GENESIS_HASH", "Event", "encode_event", "make_event", "verify_history"]

GENESIS_HASH: Final = ""
"""The ``prev_hash`` of a referral's first event."""


@functools.cache
def _actor_type() -> type[Actor]:
    # The pydantic records load when the first event is decoded, not with the event log: a
    # process that opens a desk imports this module before it reads or writes any referral.
    from referralkit.model.records import Actor

    return Actor


def _actor_dict(actor: Actor) -> dict[str, Any]:
    # Built by hand: model_dump costs more than the rest of the event together.
    return {
        "kind": actor.kind.value,
        "id": actor.id,
        "role": actor.role.value,
        "display_name": actor.display_name,
    }


_quote = json.encoder.encode_basestring  # how JSON encodes a str with ensure_ascii off


def _unencodable(value: object) -> Any:
    raise TypeError(f"event data must be JSON-compatible, not {type(value).__name__}")


# Built once and reused: json.dumps with non-default options builds a new encoder per call,
# which costs more than encoding a small event. Same output as
# json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).
_make_c_encoder = getattr(json.encoder, "c_make_encoder", None)  # absent from the stubs
_c_encoder: Any = (
    _make_c_encoder(None, _unencodable, _quote, None, ":", ",", True, False, True)
    if _make_c_encoder is not None
    else None
)
_py_encoder = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_unencodable
).encode


def _canonical(payload: Mapping[str, Any]) -> str:
    if _c_encoder is None:  # pragma: no cover - CPython always has the C accelerator
        return _py_encoder(payload)
    return "".join(_c_encoder(payload, 0))


def _actor_json(actor: Actor) -> str:
    # Keyed by the field values: hashing the pydantic model itself costs more than encoding.
    return _actor_json_cached(actor.kind._value_, actor.id, actor.role._value_, actor.display_name)


@functools.lru_cache(maxsize=1024)
def _actor_json_cached(kind: str, id_: str, role: str, display_name: str | None) -> str:
    return _canonical({"kind": kind, "id": id_, "role": role, "display_name": display_name})


def _state_json(state: ReferralStatus | None) -> str:
    # _value_ is the plain attribute behind .value (a slower descriptor on the hot path).
    return "null" if state is None else f'"{state._value_}"'


class _LastText:
    # The text of the object seen last, kept with the object itself so an identity check is
    # sound (a held object's id cannot be reused). Successive events of one referral share the
    # referral's UUID object, and the desk stamps one commit's event and referral with one
    # instant, so most events format neither again. One (object, text) pair, swapped whole:
    # safe to read from several threads.
    __slots__ = ("_format", "_last")

    def __init__(self, format_: Callable[[Any], str]) -> None:
        self._format = format_
        self._last: tuple[object, str] = (object(), "")

    def __call__(self, value: object) -> str:
        last = self._last
        if last[0] is value:
            return last[1]
        text = self._format(value)
        self._last = (value, text)
        return text


_uuid_text: Final = _LastText(str)
_instant_text: Final = _LastText(datetime.isoformat)


def encode_event(
    referral_id: UUID,
    seq: int,
    at: datetime,
    actor: Actor,
    kind: str,
    from_state: ReferralStatus | None,
    to_state: ReferralStatus | None,
    data: Mapping[str, Any],
    prev_hash: str,
    changes: Mapping[str, Any] | None = None,
) -> str:
    """Return an event's canonical JSON: the bytes its hash covers.

    The one encoder of events, used to build them (:func:`make_event`) and to check them
    (:meth:`Event.compute_hash`). The output is exactly
    ``json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` of
    :meth:`Event.payload`, built without sorting or re-encoding the fixed part; stored
    histories hash as they always have (a golden hash in the tests pins it).

    :raises TypeError: *data* holds a value JSON cannot encode.
    """
    data_json = _canonical(data) if data else "{}"
    set_json = "" if changes is None else f',"set":{_canonical(changes)}'
    return (
        f'{{"actor":{_actor_json(actor)},"at":"{_instant_text(at)}","data":{data_json},'
        f'"from":{_state_json(from_state)},"kind":{_quote(kind)},"prev":{_quote(prev_hash)},'
        f'"referral_id":"{_uuid_text(referral_id)}","seq":{seq}{set_json},"to":{_state_json(to_state)}}}'
    )


_HASH_SUFFIX_LENGTH: Final = len(',"hash":""}') + 64


def _stored_body(text: str, digest: str) -> str:
    # The hashed body is the stored text without its trailing ',"hash":"..."}'. Anything else
    # (the hash key elsewhere, extra spaces) keeps the whole text, which then cannot hash right.
    suffix = f',"hash":"{digest}"}}'
    if len(suffix) == _HASH_SUFFIX_LENGTH and text.endswith(suffix):
        return text[: -len(suffix)] + "}"
    return text


@attrs.frozen(repr=False)
class Event:
    """One committed change of a referral.

    :ivar kind: the lifecycle trigger that caused it, or ``"created"``.
    :ivar data: JSON-compatible details (the validated trigger data); may hold PHI, so it is
        left out of ``repr()``.
    :ivar changes: JSON-compatible field values the event set on the referral beyond what its
        kind determines (see the module docstring), or ``None``; may hold PHI.

    .. versionchanged:: 0.2
       ``changes``; a decoded event keeps the text it was stored as.
    """

    referral_id: UUID
    seq: int
    at: datetime
    actor: Actor
    kind: str
    from_state: ReferralStatus | None
    to_state: ReferralStatus | None
    data: Mapping[str, Any]
    prev_hash: str
    hash: str
    changes: Mapping[str, Any] | None = attrs.field(default=None, kw_only=True)
    # The exact text hashed (built, or as stored). Not an __init__ argument, so attrs.evolve
    # never carries the old text onto an event with other fields.
    _canonical_json: str = attrs.field(default="", eq=False, init=False)

    def __repr__(self) -> str:
        from_state = self.from_state.value if self.from_state else None
        to_state = self.to_state.value if self.to_state else None
        return (
            f"Event(referral_id={self.referral_id}, seq={self.seq}, at={self.at.isoformat()}, "
            f"kind={self.kind!r}, from={from_state!r}, to={to_state!r}, "
            f"actor={self.actor.kind.value}:{self.actor.id})"
        )

    def payload(self) -> dict[str, Any]:
        """Return the canonical fields the hash covers (everything but ``hash``)."""
        return {
            "referral_id": str(self.referral_id),
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": _actor_dict(self.actor),
            "kind": self.kind,
            "from": self.from_state.value if self.from_state else None,
            "to": self.to_state.value if self.to_state else None,
            "data": self.data,
            "prev": self.prev_hash,
        } | ({} if self.changes is None else {"set": self.changes})

    def stored_body(self) -> str:
        """Return the exact text the hash covers: as stored if decoded, else canonical.

        .. versionadded:: 0.2
        """
        return self._canonical_json or _canonical(self.payload())

    def canonical_json(self) -> str:
        """Return the canonical JSON the hash covers (:func:`encode_event` of the fields)."""
        return encode_event(
            self.referral_id,
            self.seq,
            self.at,
            self.actor,
            self.kind,
            self.from_state,
            self.to_state,
            self.data,
            self.prev_hash,
            self.changes,
        )

    def compute_hash(self) -> str:
        """Return the sha256 of the canonical payload (what ``hash`` should be).

        Always re-encoded from the fields, never taken from the text kept at build time, so an
        edited field shows.
        """
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def is_canonical(self) -> bool:
        """Tell whether the stored text is exactly the canonical encoding of the fields.

        Always true for an event built by :func:`make_event`; false for a decoded event whose
        stored text has a duplicated key, another key order or other spacing.

        .. versionadded:: 0.2
        """
        return not self._canonical_json or self._canonical_json == _canonical(self.payload())

    def to_json(self) -> str:
        """Serialise for storage: the canonical payload with the hash added."""
        body = self._canonical_json or self.canonical_json()
        return f'{body[:-1]},"hash":"{self.hash}"}}'

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        """Decode a stored event; raises ``ValueError``/``KeyError``/``TypeError`` if malformed.

        The hash is *not* checked here: :func:`verify_history` does that for the whole chain,
        over the text given here (kept on the event).
        """
        if isinstance(text, bytes):
            text = text.decode()
        raw = json.loads(text)
        actor = raw["actor"]
        digest = str(raw["hash"])
        changes = raw.get("set")
        event = cls(
            referral_id=UUID(raw["referral_id"]),
            seq=int(raw["seq"]),
            at=datetime.fromisoformat(raw["at"]),
            actor=_actor_type()(
                kind=ActorKind(actor["kind"]),
                id=actor["id"],
                role=Role(actor["role"]),
                display_name=actor["display_name"],
            ),
            kind=str(raw["kind"]),
            from_state=ReferralStatus(raw["from"]) if raw["from"] else None,
            to_state=ReferralStatus(raw["to"]) if raw["to"] else None,
            data=dict(raw["data"]),
            prev_hash=str(raw["prev"]),
            hash=digest,
            changes=None if changes is None else dict(changes),
        )
        object.__setattr__(event, "_canonical_json", _stored_body(text, digest))
        return event


def make_event(
    *,
    referral_id: UUID,
    seq: int,
    at: datetime,
    actor: Actor,
    kind: str,
    from_state: ReferralStatus | None,
    to_state: ReferralStatus | None,
    data: Mapping[str, Any],
    prev_hash: str,
    changes: Mapping[str, Any] | None = None,
) -> Event:
    """Build the next event of a chain, computing its hash.

    :param changes: field values the event sets beyond what *kind* determines (JSON-compatible).

    .. versionchanged:: 0.2
       *changes*.
    """
    body = encode_event(
        referral_id, seq, at, actor, kind, from_state, to_state, data, prev_hash, changes
    )
    digest = hashlib.sha256(body.encode()).hexdigest()
    event = Event(
        referral_id,
        seq,
        at,
        actor,
        kind,
        from_state,
        to_state,
        data,
        prev_hash,
        digest,
        changes=changes,
    )
    object.__setattr__(event, "_canonical_json", body)  # frozen: set once, before anyone sees it
    return event


def verify_history(
    events: Sequence[Event],
    *,
    expected_count: int | None = None,
    expected_head: str | None = None,
    referral_id: UUID | None = None,
) -> None:
    """Check a referral's events form one unbroken, untampered chain.

    Each event's hash is checked over the text it was stored as (when decoded from storage),
    and that text must be the canonical encoding of the event's fields.

    :param events: the referral's events in stored order.
    :param expected_count: the referral's ``version``; catches deletion of trailing events.
    :param expected_head: the referral's ``history_hash``; catches a replaced last event.
    :param referral_id: the referral asked for; every event must name it (without it, the
        first event's id is used, which cannot catch a whole history moved onto another
        referral).
    :raises HistoryTamperedError: naming the first event that fails and why.

    .. versionchanged:: 0.2
       *referral_id*; the stored text is hashed, not a re-encoding of it.
    """
    if referral_id is None:
        referral_id = events[0].referral_id if events else None
    prev = GENESIS_HASH
    for index, event in enumerate(events):
        seq = index + 1
        if event.referral_id != referral_id:
            raise HistoryTamperedError(referral_id, seq, "event belongs to another referral")
        if event.seq != seq:
            raise HistoryTamperedError(
                referral_id, seq, f"sequence number {event.seq} out of order (deleted/reordered)"
            )
        if event.prev_hash != prev:
            raise HistoryTamperedError(referral_id, seq, "chain link broken (deleted/reordered)")
        if hashlib.sha256(event.stored_body().encode()).hexdigest() != event.hash:
            raise HistoryTamperedError(
                referral_id, seq, "content does not match its hash (edited)"
            )
        if not event.is_canonical():
            raise HistoryTamperedError(
                referral_id, seq, "stored text is not the canonical encoding of its fields"
            )
        prev = event.hash
    if expected_count is not None and len(events) != expected_count:
        raise HistoryTamperedError(
            referral_id, len(events), f"{len(events)} events for version {expected_count}"
        )
    if expected_head is not None and prev != expected_head:
        raise HistoryTamperedError(referral_id, len(events), "last event is not the recorded head")
