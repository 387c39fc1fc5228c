"""A directory to choose where to refer: receivers, track records and a ranking with reasons.

::

    directory = Directory.from_toml(Path("receivers.toml"))
    track = track_records(sent_facts)  # SentReferralFacts from past sent referrals
    ranking = rank_receivers(directory, specialty="cardiology", urgency=Priority.ROUTINE,
                             payer="Acme Health", patient=GeoPoint(41.88, -87.63), track=track)

``docs/directory.md`` defines every figure and the order.

.. versionadded:: 0.4
"""

from __future__ import annotations

from referralkit.directory.entries import (
    EARTH_RADIUS_KM,
    Directory,
    GeoPoint,
    Location,
    NetworkInfo,
    NetworkStatus,
    Receiver,
    ReceiverKind,
    distance_km,
)
from referralkit.directory.ranking import (
    URGENT_PRIORITIES,
    Exclusion,
    RankedReceiver,
    RankFactor,
    Ranking,
    RankPolicy,
    RankReason,
    rank_receivers,
)
from referralkit.directory.sent_metrics import (
    OutOfNetworkRate,
    Standing,
    StandingBy,
    out_of_network_rate,
    standings,
)
from referralkit.directory.track import (
    SECONDS_PER_DAY,
    SentReferralFacts,
    TrackRecord,
    track_records,
)

__all__ = [
    "EARTH_RADIUS_KM",
    "SECONDS_PER_DAY",
    "URGENT_PRIORITIES",
    "Directory",
    "Exclusion",
    "GeoPoint",
    "Location",
    "NetworkInfo",
    "NetworkStatus",
    "OutOfNetworkRate",
    "RankFactor",
    "RankPolicy",
    "RankReason",
    "RankedReceiver",
    "Ranking",
    "Receiver",
    "ReceiverKind",
    "SentReferralFacts",
    "Standing",
    "StandingBy",
    "TrackRecord",
    "distance_km",
    "out_of_network_rate",
    "rank_receivers",
    "standings",
    "track_records",
]
