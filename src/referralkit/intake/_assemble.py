"""Assemble pydantic records from values intake has already validated, without validating again.

``Referral.model_validate`` of a finished intake's values re-checks every field the intake
validators just normalised (patterns, NPI check digits, time zones). pydantic's own
``model_construct`` skips that but costs more than validating (it resolves every default on
each call: measured 3-4x ``model_validate`` on a referral). :func:`assembler` compiles, once
per class, what ``model_construct`` does with the defaults already resolved, which measured
faster than validating. It is only for values a validator has already passed: the intake
tests prove that the assembled referral equals the validated one for generated payloads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from pydantic import BaseModel

__all__ = ["assemble", "assembler"]

_M = TypeVar("_M", bound=BaseModel)

# The four slots every pydantic model instance has (BaseModel.__slots__), set through their
# descriptors: object.__setattr__ looks each name up on the class first (about 0.2 us each on
# a model class, against 0.1 us for the descriptor).
_SLOTS: Final = BaseModel.__dict__
_set_dict: Final = _SLOTS["__dict__"].__set__
_set_fields_set: Final = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra: Final = _SLOTS["__pydantic_extra__"].__set__
_set_private: Final = _SLOTS["__pydantic_private__"].__set__
_new: Final = object.__new__  # no record class defines __new__
_ASSEMBLERS: dict[type[BaseModel], Callable[[Mapping[str, Any]], Any]] = {}


def assembler(cls: type[_M]) -> Callable[[Mapping[str, Any]], _M]:
    """Return the function that assembles a *cls* from already valid values (see :func:`assemble`).

    Compiled once per class: its plain defaults are read here, not on each call (even
    ``cls.model_fields`` costs about a microsecond per access).
    """
    found = _ASSEMBLERS.get(cls)
    if found is not None:
        return found
    fields = cls.model_fields
    # Plain defaults only, shared between instances: every record is frozen, so a shared
    # default (an empty tuple, a default sub-record) cannot be changed through one of them.
    # Fields with a default factory (ids) must be given by the caller.
    defaults = {
        name: field.default
        for name, field in fields.items()
        if not field.is_required() and field.default_factory is None
    }
    count = len(fields)

    def make(values: Mapping[str, Any]) -> _M:
        merged = {**defaults, **values}
        if len(merged) != count:
            missing = sorted(set(fields) - set(merged))
            raise TypeError(f"{cls.__name__} needs {missing}")
        record = _new(cls)
        _set_dict(record, merged)
        _set_fields_set(record, set(values))
        _set_extra(record, None)
        _set_private(record, None)
        return record

    _ASSEMBLERS[cls] = make
    return make


def assemble(cls: type[_M], values: Mapping[str, Any]) -> _M:
    """Return an instance of *cls* holding *values* (already valid) and its other defaults.

    The same instance ``model_construct`` would build: ``values`` are the fields set, the rest
    take their defaults. Nothing is validated.

    :raises TypeError: a required field, or a field whose default is a factory, is missing.
    """
    return assembler(cls)(values)
