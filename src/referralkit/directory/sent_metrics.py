"""Figures from the referring side that need the directory: out-of-network rate, standings.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

import attrs

from referralkit.directory.entries import Directory, NetworkStatus
from referralkit.directory.track import SentReferralFacts, TrackRecord

__all__ = [
    "OutOfNetworkRate",
    "Standing",
    "StandingBy",
    "out_of_network_rate",
    "standings",
]

StandingBy = Literal["acceptance", "wait", "report_return", "report_time"]
"""What receivers can be ranked by: acceptance and report-return rates (higher first), the
median wait to a first appointment and the median time to the report (shorter first)."""


@attrs.frozen
class OutOfNetworkRate:
    """Referrals sent in a window by the network status of their receiver.

    :ivar sent: referrals sent in the window.
    :ivar in_network: sent to a receiver the directory lists as in network.
    :ivar out_of_network: sent to one it lists as out of network.
    :ivar not_in_directory: sent to a receiver id the directory does not list.
    :ivar out_of_network_by_receiver: out-of-network referrals per receiver id.
    """

    sent: int
    in_network: int
    out_of_network: int
    not_in_directory: int
    out_of_network_by_receiver: Mapping[str, int]

    @property
    def rate(self) -> float | None:
        """``out_of_network / (in_network + out_of_network)``; ``None`` when both are zero."""
        known = self.in_network + self.out_of_network
        return self.out_of_network / known if known else None


def out_of_network_rate(
    sent: Iterable[SentReferralFacts], directory: Directory, *, since: datetime, until: datetime
) -> OutOfNetworkRate:
    """Count the referrals sent in ``[since, until)`` by their receiver's network status.

    The status is the directory's (with its source and date), not a history of it: a receiver
    that joined the network since counts as in network.
    """
    counts = {NetworkStatus.IN: 0, NetworkStatus.OUT: 0}
    total = unknown = 0
    by_receiver: dict[str, int] = {}
    for facts in sent:
        if not since <= facts.sent_at < until:
            continue
        total += 1
        receiver = directory.get(facts.receiver_id)
        if receiver is None:
            unknown += 1
            continue
        status = receiver.network.status
        counts[status] += 1
        if status is NetworkStatus.OUT:
            by_receiver[receiver.id] = by_receiver.get(receiver.id, 0) + 1
    return OutOfNetworkRate(
        sent=total,
        in_network=counts[NetworkStatus.IN],
        out_of_network=counts[NetworkStatus.OUT],
        not_in_directory=unknown,
        out_of_network_by_receiver=dict(sorted(by_receiver.items())),
    )


@attrs.frozen
class Standing:
    """A receiver's place when receivers are ranked by one figure.

    :ivar value: the figure (a rate, or days); :ivar over: how many referrals it is over.
    """

    rank: int
    receiver_id: str
    value: float
    over: int


def _figure(track: TrackRecord, by: StandingBy) -> tuple[float | None, int]:
    match by:
        case "acceptance":
            return track.acceptance_rate, track.decided
        case "wait":
            return track.median_wait_days, track.wait_to_first_appointment.count
        case "report_return":
            return track.report_return_rate, track.seen
        case "report_time":
            return track.median_report_days, track.report_time.count


def standings(
    track: Mapping[str, TrackRecord], *, by: StandingBy, min_history: int = 1
) -> tuple[Standing, ...]:
    """Rank receivers by one figure of their track record, best first.

    Receivers with fewer than *min_history* referrals behind the figure are left out. Equal
    figures share no rank: the one over more referrals comes first, then the lower id.
    """
    better_is_higher = by in ("acceptance", "report_return")
    rows: list[tuple[float, int, str]] = []
    for receiver_id, record in track.items():
        value, over = _figure(record, by)
        if value is None or over < min_history:
            continue
        rows.append((-value if better_is_higher else value, -over, receiver_id))
    rows.sort()
    return tuple(
        Standing(
            rank=i + 1, receiver_id=rid, value=-key if better_is_higher else key, over=-neg_over
        )
        for i, (key, neg_over, rid) in enumerate(rows)
    )
