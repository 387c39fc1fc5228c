"""Exact order statistics over durations: the median and the 90th percentile.

.. versionadded:: 0.2
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

import attrs

__all__ = ["DurationStats", "nearest_rank", "summarise_durations"]


def nearest_rank(ordered: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile: the ``ceil(fraction * n)``-th smallest value.

    :raises ValueError: *ordered* is empty.
    """
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@attrs.frozen
class DurationStats:
    """How long something took, in seconds, over ``count`` referrals (``None`` when none)."""

    count: int
    median_seconds: float | None
    p90_seconds: float | None

    def as_json(self) -> dict[str, float | int | None]:
        """Return the JSON form (the ``--json`` schema's ``duration``)."""
        return {
            "count": self.count,
            "median_seconds": self.median_seconds,
            "p90_seconds": self.p90_seconds,
        }


def summarise_durations(values: array[float] | Sequence[float]) -> DurationStats:
    """Return the count, median (mean of the middle pair when even) and nearest-rank p90."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return DurationStats(0, None, None)
    middle = n // 2
    median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return DurationStats(n, median, nearest_rank(ordered, 0.9))
