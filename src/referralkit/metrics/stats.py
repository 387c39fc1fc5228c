"""Order statistics over durations: the median and the 90th percentile.

A report keeps durations as :class:`DurationCounts`, counts per whole
:data:`RESOLUTION_SECONDS`, so its memory is bounded by the number of distinct quantised
durations (at most the window's length in minutes), never by the number of referrals.
The median and percentile computed from the counts are exactly those of the quantised values.

.. versionadded:: 0.2
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from typing import Final

import attrs

__all__ = [
    "RESOLUTION_SECONDS",
    "DurationCounts",
    "DurationStats",
    "nearest_rank",
    "quantise",
    "summarise_durations",
]

RESOLUTION_SECONDS: Final = 60
"""The resolution of a report's durations: each is rounded down to a whole minute.

.. versionadded:: 0.4
"""


def quantise(seconds: float) -> int:
    """Return *seconds* rounded down to a multiple of :data:`RESOLUTION_SECONDS`.

    .. versionadded:: 0.4
    """
    return int(seconds // RESOLUTION_SECONDS) * RESOLUTION_SECONDS


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


@attrs.define
class DurationCounts:
    """Durations kept as counts per quantised value (see :func:`quantise`): bounded memory.

    :meth:`summary` equals :func:`summarise_durations` over the quantised values.

    .. versionadded:: 0.4
    """

    _counts: dict[int, int] = attrs.field(factory=dict, init=False)
    count: int = attrs.field(default=0, init=False)

    @property
    def distinct(self) -> int:
        """The number of distinct quantised values held: what the memory grows with."""
        return len(self._counts)

    def add(self, seconds: float) -> None:
        """Count one duration, in seconds (rounded down to the resolution)."""
        key = int(seconds // RESOLUTION_SECONDS)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        self.count += 1

    def extend(self, values: Iterable[float]) -> None:
        """Count several durations."""
        for seconds in values:
            self.add(seconds)

    def _kth(self, ordered: list[tuple[int, int]], rank: int) -> float:
        # rank is 1-based; walk the sorted distinct values until the cumulative count reaches it
        seen = 0
        for key, n in ordered:
            seen += n
            if seen >= rank:
                return float(key * RESOLUTION_SECONDS)
        raise AssertionError("rank beyond count")  # pragma: no cover - rank <= count

    def summary(self) -> DurationStats:
        """Return the count, median (mean of the middle pair when even) and nearest-rank p90."""
        n = self.count
        if n == 0:
            return DurationStats(0, None, None)
        ordered = sorted(self._counts.items())
        if n % 2:
            median = self._kth(ordered, n // 2 + 1)
        else:
            median = (self._kth(ordered, n // 2) + self._kth(ordered, n // 2 + 1)) / 2
        return DurationStats(n, median, self._kth(ordered, max(1, math.ceil(0.9 * n))))
