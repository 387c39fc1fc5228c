"""Names imported on first use, so a module can name what it only sometimes needs.

A facade such as :class:`~referralkit.ReferralDesk` names every service, but a process that
opens a desk to run one command uses few of them; importing them all is most of its start-up.
The module binds the real name under ``TYPE_CHECKING`` (so type checkers and the architecture
test's import graph see it) and, at run time, ``lazy("module", "Name")``, which imports the
module when the name is first called or an attribute of it is read.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["exports", "lazy"]


_UNSET: Final = object()


class _Lazy:
    __slots__ = ("_module", "_name", "_value")

    def __init__(self, module: str, name: str | None) -> None:
        self._module: Final = module
        self._name: Final = name
        self._value: Any = _UNSET

    def _resolve(self) -> Any:
        if self._value is _UNSET:
            # Resolving twice from two threads is harmless: the import system has its own lock.
            module = importlib.import_module(self._module)
            self._value = module if self._name is None else getattr(module, self._name)
        return self._value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._resolve(), attribute)

    def __repr__(self) -> str:
        return f"<lazy {self._module}{'' if self._name is None else '.' + self._name}>"


def lazy(module: str, name: str | None = None) -> Any:
    """Return a stand-in for ``module.name`` (the module itself when *name* is ``None``).

    The stand-in imports *module* when first used.
    Calling the stand-in calls the real object; reading an attribute reads the real one's.
    It is not the object itself: use the real import wherever identity matters
    (``isinstance``, ``is``, pattern matching).
    """
    return _Lazy(module, name)


def exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """Return a package's module ``__getattr__`` that imports each public name on first use.

    *names* maps each name to the module that defines it (``"module:attribute"`` when the
    package renames it). The package binds the names under ``TYPE_CHECKING`` for type checkers;
    at run time a name is imported when first read, then cached in the package.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - a module's __getattr__ (PEP 562)
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = where.partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
