"""Every rendering of an exception or a model that a PHI canary test must search."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

__all__ = ["exception_texts", "model_texts"]


def exception_texts(exc: BaseException) -> Iterator[str]:
    """str, repr, notes and .errors() of the exception and of every exception chained to it
    (causes and contexts both), and the whole chain as ``traceback`` formats it."""
    yield "".join(traceback.format_exception(exc))
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        yield from (str(note) for note in getattr(current, "__notes__", ()))
        errors = getattr(current, "errors", None)
        if callable(errors):
            yield repr(errors())
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]


def model_texts(value: Any) -> Iterator[str]:
    """repr and str of a model and of every sub-record inside it."""
    if isinstance(value, BaseModel):
        yield repr(value)
        yield str(value)
        for name in type(value).model_fields:
            yield from model_texts(getattr(value, name))
    elif isinstance(value, tuple):  # a tuple of sub-records; plain values are not renderings
        for item in value:
            yield from model_texts(item)
