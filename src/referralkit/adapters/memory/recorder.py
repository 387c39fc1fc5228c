"""What every vendor-port fake shares: request recording, idempotency, scripted faults."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Literal, TypeVar

import attrs
from pydantic import BaseModel

from referralkit.clock import Clock, SystemClock
from referralkit.errors import PermanentAdapterError, TransientAdapterError
from referralkit.ports import Receipt

__all__ = ["Fault"]

FaultKind = Literal["transient", "permanent", "unexpected", "delay"]

_R = TypeVar("_R", bound=Receipt)


@attrs.frozen
class Fault:
    """One scripted fault for the next call of a fake adapter.

    ``transient`` raises :class:`~referralkit.errors.TransientAdapterError` and ``permanent``
    :class:`~referralkit.errors.PermanentAdapterError`, both before anything is sent;
    ``unexpected`` raises :class:`RuntimeError` (as a buggy plugin would); ``delay`` sleeps
    *seconds* and then serves the call.

    .. versionadded:: 0.1
    """

    kind: FaultKind
    seconds: float = 0.0


@attrs.define
class Recorder:
    """What every fake shares: recording, idempotency, scripted faults."""

    name: str = "memory"
    clock: Clock = attrs.field(factory=SystemClock)
    sleep: Callable[[float], None] = attrs.field(default=time.sleep)
    requests: list[BaseModel] = attrs.field(factory=list)
    """Every request received, in order: failed tries and repeated keys included."""
    contacts: dict[str, BaseModel] = attrs.field(factory=dict)
    """The requests that took effect, by idempotency key: at most one per key."""
    receipts: dict[str, Receipt] = attrs.field(factory=dict)
    faults: deque[Fault] = attrs.field(factory=deque)
    supported_operations: frozenset[str] | None = attrs.field(default=None, kw_only=True)
    """The operations this fake declares (``None``: its whole port), to stand in for an
    SMS-only vendor or a read-only EHR.

    .. versionadded:: 0.3"""
    _counter: Iterator[int] = attrs.field(factory=lambda: itertools.count(1), repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def fail_next(
        self, count: int = 1, kind: FaultKind = "transient", *, seconds: float = 0.0
    ) -> None:
        """Make the next *count* calls fail (or be delayed) with *kind*."""
        self.faults.extend(Fault(kind, seconds) for _ in range(count))

    def script(self, *faults: Fault) -> None:
        """Queue *faults* for the next calls, one each; calls after them succeed."""
        self.faults.extend(faults)

    def _fault(self, operation: str, request: BaseModel) -> None:
        with self._lock:
            self.requests.append(request)
            fault = self.faults.popleft() if self.faults else None
        if fault is None:
            return
        if fault.kind == "delay":
            self.sleep(fault.seconds)
        elif fault.kind == "transient":
            raise TransientAdapterError(
                "scripted transient fault", adapter=self.name, operation=operation
            )
        elif fault.kind == "permanent":
            raise PermanentAdapterError(
                "scripted permanent fault", adapter=self.name, operation=operation
            )
        else:
            raise RuntimeError("scripted unexpected fault")

    def _serve(
        self,
        operation: str,
        key: str,
        request: BaseModel,
        make: Callable[[str, datetime], _R],
    ) -> _R:
        self._fault(operation, request)
        with self._lock:
            first = self.receipts.get(key)
            if first is not None:
                # A repeated key is not a second contact: answer with the first receipt.
                return first.model_copy(update={"duplicate": True})  # type: ignore[return-value]
            receipt = make(f"{self.name}-{next(self._counter)}", self.clock.now())
            self.receipts[key] = receipt
            self.contacts[key] = request
            return receipt


def receipt_for(key: str) -> Callable[[str, datetime], Receipt]:
    return lambda ref, now: Receipt(idempotency_key=key, provider_ref=ref, accepted_at=now)
