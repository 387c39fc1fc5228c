"""Regular expressions a practice configures (member-id formats), run with a bounded cost.

A pattern from configuration meets caller input, and some patterns backtrack exponentially
(``(A+)+B`` on ``AAAA...!`` doubles its work with each character). Python's ``re`` cannot be
interrupted, so these patterns run on the ``regex`` package with a timeout
(:data:`PATTERN_TIMEOUT`): a match that runs out of time is reported as unchecked, never waited
for. A pattern is also tried on adversarial probes when the configuration is loaded, so one
that is catastrophic on short input is refused up front with a configuration problem.
"""

from __future__ import annotations

import re
from typing import Final

import attrs
import regex

__all__ = ["MAX_PATTERN_LENGTH", "PATTERN_TIMEOUT", "BoundedPattern", "PatternTimeoutError"]

PATTERN_TIMEOUT: Final = 0.05
"""Seconds one configured pattern may run on one input before it is abandoned."""
MAX_PATTERN_LENGTH: Final = 200
"""The longest pattern a configuration may hold."""

# Inputs that make backtracking patterns blow up: long runs of one class, then a mismatch.
# A member id is at most 40 of [A-Z0-9], so those are the runs tried.
_PROBES: Final = tuple(
    run * (40 // len(run)) + tail
    for run in (*"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "A1")
    for tail in ("!", "")
)


class PatternTimeoutError(Exception):
    """A configured pattern ran out of time on one input (internal; never leaves intake)."""


@attrs.frozen(repr=False)
class BoundedPattern:
    """A configured regular expression whose every match is bounded in time.

    :param source: the pattern text (``regex`` syntax, a superset of ``re``'s).
    :raises ValueError: the pattern is too long, invalid, or runs out of time on a probe.

    .. versionadded:: 0.2
    """

    source: str
    _compiled: regex.Pattern[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        if len(self.source) > MAX_PATTERN_LENGTH:
            raise ValueError("pattern is too long")
        compiled: regex.Pattern[str] | None = None
        try:
            compiled = regex.compile(self.source)
        except (regex.error, RecursionError, OverflowError):
            compiled = None
        if compiled is None:
            raise ValueError("pattern is not a valid regular expression")
        object.__setattr__(self, "_compiled", compiled)
        for probe in _PROBES:
            try:
                self.fullmatch(probe)
            except PatternTimeoutError:
                raise ValueError("pattern backtracks too much (nested repetition?)") from None

    @classmethod
    def of(cls, pattern: BoundedPattern | re.Pattern[str] | str) -> BoundedPattern:
        """Return *pattern* as a :class:`BoundedPattern` (compiling a ``re`` pattern's text)."""
        if isinstance(pattern, BoundedPattern):
            return pattern
        return cls(pattern.pattern if isinstance(pattern, re.Pattern) else pattern)

    def fullmatch(self, text: str) -> bool:
        """Tell whether the whole of *text* matches.

        :raises PatternTimeoutError: the match ran longer than :data:`PATTERN_TIMEOUT`.
        """
        try:
            return self._compiled.fullmatch(text, timeout=PATTERN_TIMEOUT) is not None
        except TimeoutError:
            pass
        raise PatternTimeoutError  # outside the handler: no chain

    def __repr__(self) -> str:
        return f"BoundedPattern({self.source!r})"
