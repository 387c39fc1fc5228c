"""Consent: opt-out keywords, opt-outs per channel and overall, and frequency caps.

An inbound STOP (or QUIT, END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE, or Spanish ALTO, BASTA,
PARAR), in any case and with any punctuation, is an opt-out; the desk commits it at once, and
since the planner reads consent from the referral, every pending attempt on that channel is
gone from the next plan.

.. versionadded:: 0.1
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from referralkit.model import Channel, ContactConsent
from referralkit.outreach.policy import FrequencyCap

__all__ = [
    "OPT_OUT_KEYWORDS",
    "cap_violations",
    "earliest_allowed",
    "is_opt_out",
    "normalize_reply",
    "withdraw",
]

OPT_OUT_KEYWORDS: Final = frozenset(
    {
        "STOP",
        "STOPALL",
        "STOP ALL",
        "QUIT",
        "END",
        "REVOKE",
        "OPT OUT",
        "OPTOUT",
        "CANCEL",
        "UNSUBSCRIBE",
        "ALTO",
        "BASTA",
        "PARAR",
    }
)
"""Replies that opt a patient out (CTIA keywords plus Spanish), after normalisation."""

# Words that may surround a keyword without changing its meaning ("STOP please", "ALTO YA").
_FILLERS: Final = frozenset({"PLEASE", "PLS", "NOW", "ALL", "POR", "FAVOR", "YA", "ME"})
_NON_WORD: Final = re.compile(r"[^A-Z0-9]+")


def normalize_reply(text: str) -> str:
    """Return *text* upper-cased, accents stripped, punctuation turned into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", letters.upper()).strip()


def is_opt_out(text: str) -> bool:
    """Return whether an inbound reply is an opt-out keyword.

    The whole reply must be the keyword, optionally with filler words around it
    (``"Stop!"``, ``"stop please"``, ``"OPT-OUT"``, ``"Alto, por favor"``); a sentence that
    merely contains the word (``"don't stop my appointment"``) is not an opt-out.
    """
    normal = normalize_reply(text)
    if normal in OPT_OUT_KEYWORDS:
        return True
    words = normal.split()
    core = [w for w in words if w not in _FILLERS]
    if not core or len(words) > 5:
        return False
    return " ".join(core) in OPT_OUT_KEYWORDS


def withdraw(consent: ContactConsent, channel: Channel | None, now: datetime) -> ContactConsent:
    """Return *consent* with *channel* opted out, or all automated contact if ``None``."""
    if channel is None:
        return ContactConsent(
            contact_allowed=False, opted_out_channels=consent.opted_out_channels, updated_at=now
        )
    channels = consent.opted_out_channels
    if channel not in channels:
        channels = (*channels, channel)
    return ContactConsent(
        contact_allowed=consent.contact_allowed, opted_out_channels=channels, updated_at=now
    )


def earliest_allowed(
    contacts: Sequence[datetime], at: datetime, caps: Iterable[FrequencyCap]
) -> datetime:
    """Return the earliest instant at or after *at* when one more contact stays within *caps*.

    :param contacts: instants of earlier automated contacts (any channel, none after *at*'s
        search start is assumed: contacts are in the past).
    """
    caps = tuple(caps)
    ordered = sorted(contacts)
    current = at
    for _ in range(len(ordered) * len(caps) + 1):
        moved = False
        for cap in caps:
            recent = [c for c in ordered if current - cap.period < c <= current]
            if len(recent) >= cap.limit:
                # The contact that must age out of the window for one more to fit.
                current = recent[len(recent) - cap.limit] + cap.period
                moved = True
        if not moved:
            return current
    return current  # pragma: no cover - each pass moves past at least one contact


def cap_violations(contacts: Sequence[datetime], caps: Iterable[FrequencyCap]) -> int:
    """Count contacts that exceed a cap counting themselves and those before (for tests)."""
    ordered = sorted(contacts)
    violations = 0
    for cap in caps:
        for index, instant in enumerate(ordered):
            window = [c for c in ordered[: index + 1] if instant - cap.period < c]
            if len(window) > cap.limit:
                violations += 1
    return violations
