"""What a metrics run is asked for: the window, the SLA for booking, revenue per visit.

.. versionadded:: 0.2
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, Literal, get_args

import attrs

__all__ = ["DIMENSIONS", "Dimension", "MetricsConfig"]

Dimension = Literal["practice", "specialty", "priority", "payer", "channel", "call_type"]
"""What a report can be grouped by (see ``docs/metrics.md``)."""
DIMENSIONS: Final[tuple[Dimension, ...]] = get_args(Dimension)


def _aware(_instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{attribute.name} must be timezone-aware")


@attrs.frozen
class MetricsConfig:
    """The window and the practice's settings a report is computed with.

    :ivar since: the first instant of the window (included).
    :ivar until: the end of the window (excluded); outcomes are observed as of this instant.
    :ivar unbooked_sla: a referral not booked this long after receipt (time on hold not
        counted) counts as leakage (``unbooked_past_sla``).
    :ivar value_per_visit: what the practice counts per completed visit, for the estimated
        revenue captured; ``None`` leaves revenue out.
    """

    since: datetime = attrs.field(validator=_aware)
    until: datetime = attrs.field(validator=_aware)
    unbooked_sla: timedelta = timedelta(days=30)
    value_per_visit: Decimal | None = None

    def __attrs_post_init__(self) -> None:
        if self.until <= self.since:
            raise ValueError("until must be after since")
