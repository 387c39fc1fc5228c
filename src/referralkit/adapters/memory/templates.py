""":class:`MemoryTemplate`: a ``str.format`` outreach template, and the default set."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from referralkit.model import Channel
from referralkit.ports import OutreachTemplate

__all__ = ["MemoryTemplate"]


@attrs.frozen
class MemoryTemplate:
    """A simple :class:`~referralkit.ports.OutreachTemplate`: ``str.format`` over fields.

    Unknown placeholders render as empty text rather than failing.

    .. versionadded:: 0.1
    """

    template_id: str
    channel: Channel
    language: str
    text: str

    def render(self, fields: Mapping[str, str]) -> str:
        """Return the text with *fields* filled in."""
        return self.text.format_map(_Blank(fields))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def default_templates() -> list[OutreachTemplate]:
    return [
        MemoryTemplate(
            "memory-reminder",
            Channel.SMS,
            "en",
            "{practice} would like to book your appointment. Call {callback}."
            " Reply STOP to opt out.",
        )
    ]
