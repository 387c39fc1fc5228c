"""Receivers a practice refers to: who they are, where, which payers, and whether in network.

A directory is data the referring practice keeps (from TOML or Python), validated on load:
every problem is reported at once, naming the receiver's ``id`` and the field, never the value.

.. versionadded:: 0.4
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Final

import attrs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from referralkit.config import read_toml
from referralkit.errors import ConfigError, DirectoryError
from referralkit.model import NonEmpty, Npi

__all__ = [
    "EARTH_RADIUS_KM",
    "Directory",
    "GeoPoint",
    "Location",
    "NetworkInfo",
    "NetworkStatus",
    "Receiver",
    "ReceiverKind",
    "distance_km",
]

EARTH_RADIUS_KM: Final = 6371.0088
"""The mean Earth radius the great-circle distances use."""

ReceiverId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class NetworkStatus(enum.Enum):
    """Whether a receiver is in the referring practice's network (for the patient's plan)."""

    IN = "in"
    OUT = "out"


class ReceiverKind(enum.Enum):
    """A receiving practice (an organisation) or an individual specialist."""

    PRACTICE = "practice"
    SPECIALIST = "specialist"


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class NetworkInfo(_Entry):
    """A network status with where it came from and when it was true.

    :ivar source: where the status was read (a payer's provider file, a contract list).
    :ivar as_of: the date the source stated it.
    """

    status: NetworkStatus
    source: NonEmpty
    as_of: date


class Location(_Entry):
    """A place a receiver sees patients, geocoded by the host (decimal degrees, WGS 84)."""

    lat: Latitude
    lon: Longitude
    name: NonEmpty | None = None


class Receiver(_Entry):
    """A receiving practice or specialist the referring practice may refer to.

    :ivar id: the host's id for the receiver (what sent referrals name).
    :ivar npi: the receiver's NPI, check digit verified (Luhn over ``80840`` + the 10 digits).
    :ivar specialties: what it takes referrals for, compared case-insensitively.
    :ivar payers: the payers it accepts, compared case-insensitively.
    :ivar practice_id: for a specialist, the id of the practice they work in, if listed.
    """

    id: ReceiverId
    name: NonEmpty
    kind: ReceiverKind
    npi: Npi
    specialties: tuple[NonEmpty, ...] = Field(min_length=1)
    network: NetworkInfo
    payers: tuple[NonEmpty, ...] = ()
    locations: tuple[Location, ...] = ()
    practice_id: ReceiverId | None = None

    @field_validator("specialties", "payers")
    @classmethod
    def _fold(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.strip().casefold() for v in values))

    def offers(self, specialty: str) -> bool:
        """Whether the receiver takes referrals for *specialty* (case-insensitive)."""
        return specialty.strip().casefold() in self.specialties

    def accepts(self, payer: str) -> bool:
        """Whether the receiver accepts *payer* (case-insensitive)."""
        return payer.strip().casefold() in self.payers


def _check_lat(_instance: object, _attribute: object, value: float) -> None:
    if not (-90 <= value <= 90):
        raise ValueError("latitude must be within -90..90")


def _check_lon(_instance: object, _attribute: object, value: float) -> None:
    if not (-180 <= value <= 180):
        raise ValueError("longitude must be within -180..180")


@attrs.frozen(repr=False)
class GeoPoint:
    """A point in decimal degrees: the patient's location as the host geocoded it.

    Its ``repr`` hides the coordinates: a patient's location is PHI.
    """

    lat: float = attrs.field(converter=float, validator=_check_lat)
    lon: float = attrs.field(converter=float, validator=_check_lon)

    def __repr__(self) -> str:
        return "GeoPoint(<masked>)"


def distance_km(a: GeoPoint | Location, b: GeoPoint | Location) -> float:
    """Return the great-circle (haversine) distance between two points, in kilometres."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _entry_name(raw: object, index: int) -> str:
    if isinstance(raw, Mapping):
        given = raw.get("id")
        if isinstance(given, str) and given.strip():
            return given
    if isinstance(raw, Receiver):
        return raw.id
    return f"#{index}"


@attrs.frozen
class Directory:
    """The receivers a practice refers to, by id; build it with a loader.

    .. versionadded:: 0.4
    """

    receivers: tuple[Receiver, ...]
    _by_id: Mapping[str, Receiver] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.id: r for r in self.receivers})

    @classmethod
    def of(cls, receivers: Iterable[Receiver | Mapping[str, Any]]) -> Directory:
        """Build a directory from receivers (or their mappings), validated like a TOML file.

        :raises DirectoryError: an entry is invalid or two share an id.
        """
        return cls._load(list(receivers), "<python>")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<python>") -> Directory:
        """Build a directory from the mapping a TOML file parses to (``receiver`` entries).

        :raises DirectoryError: the mapping is not a directory, or an entry is invalid.
        """
        unknown = sorted(set(data) - {"receiver"})
        if unknown:
            raise DirectoryError(source, [(None, unknown[0], "unknown key: use [[receiver]]")])
        entries = data.get("receiver", [])
        if not isinstance(entries, list):
            raise DirectoryError(source, [(None, "receiver", "must be a list of tables")])
        return cls._load(entries, source)

    @classmethod
    def from_toml(cls, source: str | bytes | Path) -> Directory:
        """Load a directory from TOML text or a ``.toml`` file (``[[receiver]]`` tables).

        :raises DirectoryError: unreadable TOML or an invalid entry.
        """
        name = source.name if isinstance(source, Path) else "<string>"
        problem: tuple[str, int | None] | None = None
        try:
            data = read_toml(source, name=name)
        except ConfigError as exc:
            problem = (exc.reason, exc.line)
        if problem is not None:  # raised outside the handler: no chain to the text
            reason, line = problem
            where = f" (line {line})" if line is not None else ""
            raise DirectoryError(name, [(None, None, reason + where)])
        return cls.from_mapping(data, source=name)

    @classmethod
    def _load(cls, entries: list[Any], source: str) -> Directory:
        problems: list[tuple[str | None, str | None, str]] = []
        receivers: list[Receiver] = []
        seen: set[str] = set()
        for index, raw in enumerate(entries):
            name = _entry_name(raw, index)
            try:
                receiver = raw if isinstance(raw, Receiver) else Receiver.model_validate(raw)
            except ValidationError as exc:
                for error in exc.errors(include_input=False, include_url=False):
                    field = ".".join(str(part) for part in error["loc"]) or None
                    problems.append((name, field, error["msg"]))
                continue
            if receiver.id in seen:
                problems.append((name, "id", "another receiver has this id"))
                continue
            seen.add(receiver.id)
            receivers.append(receiver)
        if problems:
            raise DirectoryError(source, problems)
        return cls(tuple(receivers))

    def get(self, receiver_id: str) -> Receiver | None:
        """Return the receiver with this id, or ``None``."""
        return self._by_id.get(receiver_id)

    def __contains__(self, receiver_id: object) -> bool:
        return receiver_id in self._by_id

    def __iter__(self) -> Iterator[Receiver]:
        return iter(self.receivers)

    def __len__(self) -> int:
        return len(self.receivers)
