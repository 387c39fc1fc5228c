"""Configuration: the one duration grammar, the one TOML reader, and ``referralkit.toml``.

Every configuration file referralkit reads (intake settings, routing rules, outreach policies,
visit content, the command line's ``referralkit.toml``) is read by :func:`read_toml`, and every
duration in them is written in one grammar (:func:`parse_duration`, documented in
``docs/concepts.md``): an optional ``-``, then one or more terms of a number and a unit,
``m`` (minutes), ``h`` (hours), ``d`` (calendar days) or, alone, ``bd`` (business days):
``30m``, ``4h``, ``1d12h``, ``1.5h``, ``2bd``, ``-3d``.

The command line's configuration file names the store, the routing rules and the outreach
policy:

A config file names the store, the routing rules and the outreach policy, so commands need no
long flags::

    [store]
    url = "sqlite:///referralkit.db"      # or postgresql://..., memory://

    [routing]
    rules = "rules.toml"                  # a routing rules file (docs/routing.md)

    [outreach]
    enabled = true
    policy = "outreach.toml"              # an outreach policy file (docs/outreach.md)

    [report]
    unbooked_sla_days = 30
    value_per_visit = "180.00"            # estimated revenue per completed visit

Relative paths are relative to the config file. Every key is optional.

.. versionadded:: 0.2
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import attrs

from referralkit.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_STORE_URL",
    "MAX_DURATION",
    "DurationTerms",
    "Settings",
    "load_settings",
    "parse_duration",
    "parse_timedelta",
    "read_toml",
]

MAX_DURATION: Final = timedelta(days=3660)
"""The longest duration any setting may name: ten years keeps every use finite and cheap."""

_TERM: Final = re.compile(r"(\d+(?:\.\d+)?)(bd|d|h|m)")
_DURATION_TEXT: Final = re.compile(r"-?(?:\d+(?:\.\d+)?(?:bd|d|h|m))+")
_UNIT_SECONDS: Final = {"m": 60.0, "h": 3600.0, "d": 86_400.0, "bd": 86_400.0}


@attrs.frozen
class DurationTerms:
    """A parsed duration: its sign, and its terms as (amount, unit) pairs.

    :ivar negative: written with a leading ``-`` (outreach offsets before an anchor).
    :ivar terms: one or more ``(amount, unit)``; a ``bd`` term stands alone.

    .. versionadded:: 0.2
    """

    negative: bool
    terms: tuple[tuple[float, str], ...]

    @property
    def business_days(self) -> bool:
        """Whether the duration counts business days (``bd``)."""
        return self.terms[0][1] == "bd"

    def seconds(self) -> float:
        """Return the wall-clock length in seconds (a business day counted as a day)."""
        return sum(amount * _UNIT_SECONDS[unit] for amount, unit in self.terms)


def parse_duration(text: str) -> DurationTerms:
    """Parse a duration in the one grammar (see the module docstring).

    :raises ValueError: not a duration, a ``bd`` mixed with other units, or longer than
        :data:`MAX_DURATION` (the message never repeats the text).

    .. versionadded:: 0.2
    """
    # Hosts pass anything here from parsed TOML: a non-string is refused, not an AttributeError.
    compact = "".join(text.split()) if isinstance(text, str) else ""  # type: ignore[redundant-expr]
    if not _DURATION_TEXT.fullmatch(compact):
        raise ValueError(
            "bad duration: write a number and a unit m, h, d or bd, e.g. 30m, 4h, 1d12h or 2bd"
        )
    terms = tuple((float(a), u) for a, u in _TERM.findall(compact))
    if len(terms) > 1 and any(unit == "bd" for _, unit in terms):
        raise ValueError("bad duration: business days (bd) cannot be combined with other units")
    parsed = DurationTerms(compact.startswith("-"), terms)
    if parsed.seconds() > MAX_DURATION.total_seconds():
        raise ValueError("duration too long: at most 3660 days")
    return parsed


def parse_timedelta(text: str, *, negative: bool = True) -> timedelta:
    """Parse a wall-clock duration (no ``bd``) into a :class:`~datetime.timedelta`.

    :param negative: whether a leading ``-`` is allowed.
    :raises ValueError: as :func:`parse_duration`, or business days, or a sign not allowed.

    .. versionadded:: 0.2
    """
    parsed = parse_duration(text)
    if parsed.business_days:
        raise ValueError("bad duration: business days (bd) are not allowed here")
    if parsed.negative and not negative:
        raise ValueError("bad duration: must not be negative")
    value = timedelta(seconds=parsed.seconds())
    return -value if parsed.negative else value


@attrs.frozen
class _TomlProblem:
    reason: str
    line: int | None = None


def read_toml(source: str | bytes | Path, *, name: str = "<string>") -> Mapping[str, Any]:
    """Read TOML text, bytes or a file into a mapping: the one reader of every config file.

    :param name: how errors name the source (a file name; never its content).
    :raises ConfigError: the file is missing or unreadable, not UTF-8, not valid TOML (with
        its line), or nested too deeply; raised without a cause that could carry the text.

    .. versionadded:: 0.2
    """
    problem: _TomlProblem | None = None
    text = ""
    try:
        if isinstance(source, Path):
            name = source.name if name == "<string>" else name
            text = source.read_text(encoding="utf-8")
        elif isinstance(source, bytes | bytearray):
            text = bytes(source).decode("utf-8")
        else:
            text = source
    except (OSError, UnicodeDecodeError) as exc:
        problem = _TomlProblem(f"cannot read it ({type(exc).__name__})")
    document: Mapping[str, Any] | None = None
    if problem is None:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = _TOML_LINE.search(str(exc))
            line = int(found.group(1)) if found else None
            problem = _TomlProblem("not valid TOML: " + _TOML_LINE.sub("", str(exc)).strip(), line)
        except RecursionError:
            problem = _TomlProblem("not valid TOML: nested too deeply")
    if problem is not None or document is None:  # raised outside the handlers: no chain
        reason = problem.reason if problem is not None else "not valid TOML"
        raise ConfigError(name, reason, line=problem.line if problem is not None else None)
    return document


_TOML_LINE: Final = re.compile(r"line (\d+)")

DEFAULT_CONFIG_NAME: Final = "referralkit.toml"
"""The file looked for in the working directory when no ``--config`` is given."""
DEFAULT_STORE_URL: Final = "sqlite:///referralkit.db"

_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "store": frozenset({"url"}),
    "routing": frozenset({"rules"}),
    "outreach": frozenset({"enabled", "policy"}),
    "report": frozenset({"unbooked_sla_days", "value_per_visit"}),
}


@attrs.frozen
class Settings:
    """What a config file says (defaults where it says nothing).

    :ivar source: the file read, or ``None`` when none was.
    """

    store_url: str = DEFAULT_STORE_URL
    rules: Path | None = None
    outreach_enabled: bool = False
    outreach_policy: Path | None = None
    unbooked_sla: timedelta = timedelta(days=30)
    value_per_visit: Decimal | None = None
    source: Path | None = None


def _table(document: Mapping[str, Any], name: str, source: str) -> Mapping[str, Any]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(source, "must be a table", key=name)
    unknown = sorted(set(table) - _KEYS[name])
    if unknown:
        raise ConfigError(source, f"unknown key (known: {sorted(_KEYS[name])})", key=unknown[0])
    return table


def _path(value: object, base: Path, source: str, key: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(source, "must be a file path", key=key)
    path = Path(value)
    return path if path.is_absolute() else base / path


def load_settings(path: Path | None = None, *, cwd: Path | None = None) -> Settings:
    """Read the config file at *path*, or ``referralkit.toml`` in *cwd* if it exists.

    :raises ConfigError: *path* is missing or unreadable, or a key is unknown or invalid.
    """
    if path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG_NAME
        if not candidate.is_file():
            return Settings()
        path = candidate
    source = path.name
    try:
        document = dict(read_toml(path))
    except FileNotFoundError:
        raise ConfigError(source, "no such file; pass --config with an existing file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, f"cannot read file ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"not valid TOML ({exc})") from None
    unknown = sorted(set(document) - set(_KEYS))
    if unknown:
        raise ConfigError(source, f"unknown table (known: {sorted(_KEYS)})", key=unknown[0])
    base = path.parent
    store = _table(document, "store", source)
    routing = _table(document, "routing", source)
    outreach = _table(document, "outreach", source)
    report = _table(document, "report", source)
    url = store.get("url", DEFAULT_STORE_URL)
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(source, "must be a store URL such as sqlite:///x.db", key="store.url")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        # A relative SQLite path is relative to the config file, like every other path here.
        url = f"sqlite:///{(base / url.removeprefix('sqlite:///')).as_posix()}"
    enabled = outreach.get("enabled", "policy" in outreach)
    if not isinstance(enabled, bool):
        raise ConfigError(source, "must be true or false", key="outreach.enabled")
    days = report.get("unbooked_sla_days", 30)
    if not isinstance(days, int | float) or isinstance(days, bool) or days <= 0:
        raise ConfigError(source, "must be a positive number", key="report.unbooked_sla_days")
    value = report.get("value_per_visit")
    try:
        money = Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        raise ConfigError(source, "must be a number", key="report.value_per_visit") from None
    return Settings(
        store_url=url,
        rules=_path(routing.get("rules"), base, source, "routing.rules"),
        outreach_enabled=enabled,
        outreach_policy=_path(outreach.get("policy"), base, source, "outreach.policy"),
        unbooked_sla=timedelta(days=days),
        value_per_visit=money,
        source=path,
    )
