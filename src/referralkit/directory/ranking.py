"""Where to refer: rank the directory's receivers for one referral, with the reasons.

Candidates are the receivers that offer the specialty and accept the payer (and, if asked,
lie within a distance). They are ordered by one key, compared factor by factor:

1. **network**: in network before out of network;
2. for an urgent referral (``urgent``, ``asap``, ``stat``) the **wait** band, then the
   **distance** band; for a routine one the distance band, then the wait band;
3. **acceptance** rate, higher first; 4. **report return** rate, higher first;
5. exact distance, nearer first; 6. the receiver's id (so the order is total).

Bands (``RankPolicy``) keep small differences from overriding later factors: 9 km and 11 km
are both "within 10-20 km" only if they fall in the same band. A rate counts once the receiver
has ``min_history`` referrals behind it; before that it is taken as ``unknown_rate``. Each
ranked receiver carries its reasons and the factor that put it below the one above.

.. versionadded:: 0.4
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, Literal

import attrs

from referralkit.directory.entries import (
    Directory,
    GeoPoint,
    Location,
    NetworkStatus,
    Receiver,
    distance_km,
)
from referralkit.directory.track import TrackRecord
from referralkit.model import Priority

__all__ = [
    "URGENT_PRIORITIES",
    "Exclusion",
    "RankFactor",
    "RankPolicy",
    "RankReason",
    "RankedReceiver",
    "Ranking",
    "rank_receivers",
]

RankFactor = Literal["network", "payer", "distance", "wait", "acceptance", "report_return", "id"]
"""A factor in the ranking key (``payer`` only appears in reasons and exclusions)."""

URGENT_PRIORITIES: Final = frozenset({Priority.URGENT, Priority.ASAP, Priority.STAT})
"""Priorities for which the wait to an appointment is weighed before the distance."""

_INF: Final = math.inf


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive")


def _rate(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{attribute.name} must be within 0..1")


@attrs.frozen
class RankPolicy:
    """How coarse the bands are and when a track record counts.

    :ivar distance_band_km: width of a distance band.
    :ivar wait_band_days: width of a wait band (median wait to the first appointment).
    :ivar min_history: referrals a rate needs behind it (decided ones for acceptance, seen
        ones for report return, booked ones for the wait) before it counts.
    :ivar unknown_rate: the rate assumed before then (neither rewarded nor punished much).
    """

    distance_band_km: float = attrs.field(default=10.0, validator=_positive)
    wait_band_days: float = attrs.field(default=7.0, validator=_positive)
    min_history: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    unknown_rate: float = attrs.field(default=0.5, validator=_rate)


@attrs.frozen
class RankReason:
    """One factor's part in a receiver's rank, in words (PHI-free)."""

    factor: RankFactor
    text: str


@attrs.frozen
class Exclusion:
    """A receiver offering the specialty that was left out, and why."""

    receiver_id: str
    factor: Literal["payer", "distance"]
    text: str


@attrs.frozen
class RankedReceiver:
    """A receiver in the ranking.

    :ivar rank: 1 for the best.
    :ivar location: its nearest location to the patient (``None`` without locations or
        without a patient location).
    :ivar decided_by: the first factor on which it differs from the receiver ranked just above
        (``None`` for the first).
    :ivar key: the sort key, factor by factor (smaller ranks first).
    """

    rank: int
    receiver: Receiver
    distance_km: float | None
    location: Location | None
    track: TrackRecord | None
    reasons: tuple[RankReason, ...]
    decided_by: RankFactor | None
    key: tuple[float | str, ...] = attrs.field(repr=False)


@attrs.frozen
class Ranking:
    """The ranked candidates, best first, and the receivers left out with the reason."""

    ranked: tuple[RankedReceiver, ...]
    excluded: tuple[Exclusion, ...]

    @property
    def best(self) -> RankedReceiver | None:
        """The first-ranked receiver, if any."""
        return self.ranked[0] if self.ranked else None


def _nearest(receiver: Receiver, patient: GeoPoint | None) -> tuple[Location | None, float]:
    if patient is None or not receiver.locations:
        return None, _INF
    # min over (distance, index): two locations at the same distance resolve to the first
    distance, index = min(
        (distance_km(patient, loc), i) for i, loc in enumerate(receiver.locations)
    )
    return receiver.locations[index], distance


def _pct(rate: float) -> str:
    return f"{rate:.0%}"


@attrs.frozen
class _Scored:
    receiver: Receiver
    location: Location | None
    distance: float
    track: TrackRecord | None
    key: tuple[float | str, ...]
    factors: tuple[RankFactor, ...]
    reasons: tuple[RankReason, ...]


def _score(
    receiver: Receiver,
    location: Location | None,
    distance: float,
    track: TrackRecord | None,
    *,
    urgent: bool,
    payer: str | None,
    policy: RankPolicy,
) -> _Scored:
    network = receiver.network
    in_network = network.status is NetworkStatus.IN
    reasons = [
        RankReason(
            "network",
            f"{'in' if in_network else 'out of'} network ({network.source}, as of "
            f"{network.as_of.isoformat()})",
        ),
        RankReason(
            "payer",
            f"accepts {payer}" if payer is not None else "no payer given: payers not checked",
        ),
    ]
    distance_band = math.floor(distance / policy.distance_band_km) if distance < _INF else _INF
    if distance < _INF:
        place = f" ({location.name})" if location is not None and location.name else ""
        low = distance_band * policy.distance_band_km
        reasons.append(
            RankReason(
                "distance",
                f"nearest location {distance:.1f} km away{place}, in the "
                f"{low:g}-{low + policy.distance_band_km:g} km band",
            )
        )
    else:
        reasons.append(RankReason("distance", "distance unknown: ranked after known distances"))
    waits = track.wait_to_first_appointment if track is not None else None
    if waits is not None and waits.count >= policy.min_history and track is not None:
        days = track.median_wait_days
        assert days is not None  # noqa: S101 - a non-empty count has a median
        wait_band: float = math.floor(days / policy.wait_band_days)
        low = wait_band * policy.wait_band_days
        reasons.append(
            RankReason(
                "wait",
                f"median wait to a first appointment {days:.1f} days over {waits.count} "
                f"referrals, in the {low:g}-{low + policy.wait_band_days:g} day band",
            )
        )
    else:
        wait_band = _INF
        reasons.append(
            RankReason(
                "wait",
                f"wait unknown (fewer than {policy.min_history} booked referrals): "
                "ranked after known waits",
            )
        )
    acceptance = policy.unknown_rate
    if track is not None and track.decided >= policy.min_history:
        acceptance = track.acceptance_rate or 0.0
        reasons.append(
            RankReason(
                "acceptance",
                f"accepted {_pct(acceptance)} of {track.decided} decided referrals",
            )
        )
    else:
        reasons.append(
            RankReason(
                "acceptance",
                f"acceptance unknown (fewer than {policy.min_history} decided referrals): "
                f"taken as {_pct(policy.unknown_rate)}",
            )
        )
    returned = policy.unknown_rate
    if track is not None and track.seen >= policy.min_history:
        returned = track.report_return_rate or 0.0
        reasons.append(
            RankReason(
                "report_return",
                f"consult report returned for {_pct(returned)} of {track.seen} patients seen",
            )
        )
    else:
        reasons.append(
            RankReason(
                "report_return",
                f"report return unknown (fewer than {policy.min_history} patients seen): "
                f"taken as {_pct(policy.unknown_rate)}",
            )
        )
    factors: tuple[RankFactor, ...]
    if urgent:
        factors = ("network", "wait", "distance", "acceptance", "report_return", "distance", "id")
        key = (float(not in_network), wait_band, distance_band, -acceptance, -returned)
        reasons.append(RankReason("wait", "urgent: the wait is weighed before the distance"))
    else:
        factors = ("network", "distance", "wait", "acceptance", "report_return", "distance", "id")
        key = (float(not in_network), distance_band, wait_band, -acceptance, -returned)
    return _Scored(
        receiver,
        location,
        distance,
        track,
        (*key, distance, receiver.id),
        factors,
        tuple(reasons),
    )


def _decided_by(above: _Scored, below: _Scored) -> RankFactor:
    for factor, a, b in zip(below.factors, above.key, below.key, strict=True):
        if a != b:
            return factor
    raise AssertionError("two receivers share an id")  # pragma: no cover - ids are unique


def rank_receivers(
    directory: Directory,
    *,
    specialty: str,
    urgency: Priority,
    patient: GeoPoint | None,
    payer: str | None = None,
    track: Mapping[str, TrackRecord] | None = None,
    policy: RankPolicy | None = None,
    max_distance_km: float | None = None,
) -> Ranking:
    """Rank where to refer a patient for *specialty* (see the module docstring for the order).

    :param urgency: the referral's priority; urgent ones weigh the wait before the distance.
    :param patient: the patient's location, geocoded by the host (``None`` if unknown: every
        distance is then unknown).
    :param payer: the patient's payer; receivers that do not accept it are excluded.
    :param track: track records by receiver id (:func:`~referralkit.directory.track_records`).
    :param max_distance_km: exclude receivers farther than this (or of unknown distance).
    :returns: the ranking, and the receivers offering the specialty that were excluded.
    """
    rules = policy if policy is not None else RankPolicy()
    records = track if track is not None else {}
    urgent = urgency in URGENT_PRIORITIES
    scored: list[_Scored] = []
    excluded: list[Exclusion] = []
    for receiver in sorted(directory, key=lambda r: r.id):
        if not receiver.offers(specialty):
            continue
        if payer is not None and not receiver.accepts(payer):
            excluded.append(Exclusion(receiver.id, "payer", "does not accept the patient's payer"))
            continue
        location, distance = _nearest(receiver, patient)
        if max_distance_km is not None and distance > max_distance_km:
            text = (
                f"farther than {max_distance_km:g} km"
                if distance < _INF
                else "distance unknown, and a maximum distance was asked for"
            )
            excluded.append(Exclusion(receiver.id, "distance", text))
            continue
        scored.append(
            _score(
                receiver,
                location,
                distance,
                records.get(receiver.id),
                urgent=urgent,
                payer=payer,
                policy=rules,
            )
        )
    scored.sort(key=lambda s: s.key)
    ranked = tuple(
        RankedReceiver(
            rank=index + 1,
            receiver=s.receiver,
            distance_km=s.distance if s.distance < _INF else None,
            location=s.location,
            track=s.track,
            reasons=s.reasons,
            decided_by=_decided_by(scored[index - 1], s) if index else None,
            key=s.key,
        )
        for index, s in enumerate(scored)
    )
    return Ranking(ranked, tuple(excluded))
