"""The ``referralkit.toml`` configuration file the command line reads.

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

import tomllib
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import attrs

from referralkit.errors import ConfigError

__all__ = ["DEFAULT_CONFIG_NAME", "DEFAULT_STORE_URL", "Settings", "load_settings"]

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
        document = tomllib.loads(path.read_text(encoding="utf-8"))
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
