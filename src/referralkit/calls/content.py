"""Visit-preparation content: what a practice tells patients before a specialist visit.

The content is written and approved by the receiving practice, never generated: what to bring,
when to arrive, where to go and park, how to prepare (fasting, stopping a medication), how
long the visit takes, cost and copay guidance, and how to reschedule. It is kept per receiving
practice and specialty, optionally per visit type, in English and Spanish, in TOML or Python,
and validated when loaded::

    [[visit]]
    practice = "1245319599"          # the receiving practice's NPI or id
    specialty = "Cardiology"
    visit_type = "new_patient"       # optional: the most specific guide wins
    arrive_minutes_early = 20
    duration_minutes = 60
    time_zone = "America/Chicago"    # for appointment times when the patient's zone is unknown
    approved_by = "Dr. Maya Lee, medical director"
    approved_on = 2026-01-15

    [visit.en]
    bring = ["your insurance card", "a photo ID", "a list of your medicines"]
    location = "Lakeside Medical Tower, 120 Lake Street, third floor"
    parking = "Free parking in the garage on Lake Street."
    preparation = "Do not drink coffee on the day of the visit."
    cost = "Your usual specialist copay applies."
    reschedule = "Call 312 555 0100 at least one day before."

    [visit.es]
    bring = ["su tarjeta del seguro", "una identificación con foto"]

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import attrs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from referralkit.config import read_toml
from referralkit.errors import ConfigError, ContentError
from referralkit.model import Referral
from referralkit.model.types import TimeZoneName

__all__ = ["VisitContent", "VisitGuide", "VisitText"]

Text = Annotated[str, Field(min_length=1, max_length=1000)]


class VisitText(BaseModel):
    """One language's visit-preparation text; a topic left out is answered by a person.

    .. versionadded:: 0.1
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    bring: tuple[Annotated[str, Field(min_length=1, max_length=200)], ...] = ()
    location: Text | None = None
    parking: Text | None = None
    preparation: Text | None = None
    cost: Text | None = None
    reschedule: Text | None = None


class VisitGuide(BaseModel):
    """The visit-preparation content of one practice, specialty and (optionally) visit type.

    :ivar practice: the receiving practice's NPI or id (as on ``Referral.receiving_practice``).
    :ivar approved_by: who at the practice approved the content (preparation instructions are
        clinical: they are never answered from unapproved text).

    .. versionadded:: 0.1
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    practice: Annotated[str, Field(min_length=1, max_length=100)]
    specialty: Annotated[str, Field(min_length=1, max_length=100)]
    visit_type: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    arrive_minutes_early: Annotated[int, Field(ge=0, le=240)] | None = None
    duration_minutes: Annotated[int, Field(gt=0, le=24 * 60)] | None = None
    time_zone: TimeZoneName | None = None
    approved_by: Annotated[str, Field(min_length=1, max_length=200)]
    approved_on: date
    en: VisitText | None = None
    es: VisitText | None = None

    @model_validator(mode="after")
    def _has_some_language(self) -> VisitGuide:
        if self.en is None and self.es is None:
            raise ValueError("a guide needs text in at least one language (en or es)")
        return self

    def text(self, language: str) -> VisitText | None:
        """Return the text in *language* (``"en"`` or ``"es"``), or ``None``."""
        return self.es if language == "es" else self.en

    @property
    def key(self) -> tuple[str, str, str | None]:
        """``(practice, specialty, visit_type)``, compared case-insensitively."""
        return (
            self.practice.casefold(),
            self.specialty.strip().casefold(),
            self.visit_type.casefold() if self.visit_type else None,
        )


class _ContentFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    visit: tuple[VisitGuide, ...] = ()


@attrs.frozen
class VisitContent:
    """Every visit-preparation guide a desk answers from; build with a loader.

    .. versionadded:: 0.1
    """

    guides: tuple[VisitGuide, ...] = ()

    @classmethod
    def from_guides(cls, guides: Iterable[VisitGuide | Mapping[str, Any]]) -> VisitContent:
        """Build content from guides (or their mappings), validated like a TOML file.

        :raises ContentError: a guide is invalid, or two guides share practice, specialty and
            visit type.
        """
        return cls.from_mapping(
            {"visit": [g.model_dump() if isinstance(g, VisitGuide) else dict(g) for g in guides]}
        )

    @classmethod
    def from_toml(cls, source: str | bytes | Path) -> VisitContent:
        """Load content from TOML text or a ``.toml`` file (``[[visit]]`` tables).

        :raises ContentError: unreadable TOML or invalid content; ``errors()`` names each
            problem by its path (``visit.0.en.bring``).
        """
        problem = ""
        try:
            data = read_toml(source, name="visit content")
        except ConfigError as exc:
            problem = exc.reason
        if problem:  # raised outside the handler: no chain
            raise ContentError(f"The visit content is not readable TOML ({problem}).")
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: object) -> VisitContent:
        """Build content from the mapping a TOML file parses to.

        :raises ContentError: invalid content.
        """
        try:
            parsed = _ContentFile.model_validate(data)
        except ValidationError as exc:
            problems = [
                {"loc": tuple(e["loc"]), "type": e["type"], "msg": e["msg"]}
                for e in exc.errors(include_input=False, include_url=False)
            ]
            raise ContentError(_summary(problems), problems) from None
        seen: dict[tuple[str, str, str | None], int] = {}
        problems = []
        for index, guide in enumerate(parsed.visit):
            if guide.key in seen:
                problems.append(
                    {
                        "loc": ("visit", index),
                        "type": "duplicate_guide",
                        "msg": f"Repeats the practice, specialty and visit type of visit "
                        f"{seen[guide.key]}.",
                    }
                )
            seen.setdefault(guide.key, index)
        if problems:
            raise ContentError(_summary(problems), problems)
        return cls(parsed.visit)

    def find(self, referral: Referral, visit_type: str | None = None) -> VisitGuide | None:
        """Return the guide for *referral*'s receiving practice and specialty.

        A guide for *visit_type* wins over one for any visit type; ``None`` if none matches.
        """
        practice = referral.receiving_practice
        if practice is None or not referral.specialty:
            return None
        names = {k.casefold() for k in (practice.npi, practice.id) if k}
        specialty = referral.specialty.strip().casefold()
        wanted = visit_type.casefold() if visit_type else None
        general: VisitGuide | None = None
        for guide in self.guides:
            g_practice, g_specialty, g_type = guide.key
            if g_practice not in names or g_specialty != specialty:
                continue
            if g_type is None:
                general = general or guide
            elif g_type == wanted:
                return guide
        return general


def _summary(problems: list[dict[str, Any]]) -> str:
    return f"The visit content has {len(problems)} problem(s): " + "; ".join(
        f"{'.'.join(map(str, p['loc'])) or '<content>'}: {p['msg']}" for p in problems[:10]
    )
