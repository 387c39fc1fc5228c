"""The outbox: side effects after commit, with retries, idempotency keys and human fallbacks.

An outbound action moves through events on the referral's own log, so every store keeps it
and the history shows it::

    action_queued  --send-->  action_sent                      (status "sent")
                   `--fail-->  task_opened {"action": failed}   (status "failed", a human task)
    (crash)        --recover--> re-send with the same key, or task_opened {"action": unknown}

``action_queued`` is committed before the adapter is called, and the outcome after; a crash in
between leaves the action ``queued``, and :meth:`~referralkit.desk.ReferralDesk.recover`
re-sends it with the same idempotency key (the adapter returns the first receipt, so nobody is
contacted twice) or, with ``resend=False``, records it as ``unknown`` for a human to check.

This module is the only user of tenacity (with :mod:`referralkit.desk`, which owns it).

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal, TypeVar
from uuid import UUID

import attrs
from pydantic import ValidationError
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_none,
    wait_random,
)

from referralkit.errors import (
    AdapterError,
    CorruptRecordError,
    PermanentAdapterError,
    TransientAdapterError,
)
from referralkit.events import Event
from referralkit.plugins import Hooks
from referralkit.ports import (
    BookAppointmentRequest,
    CallRequest,
    CancelAppointmentRequest,
    Capability,
    FaxRequest,
    LetterRequest,
    OutboundRequest,
    PatientEmailRequest,
    PracticeUpdateRequest,
    Receipt,
    SmsRequest,
    StaffAlertRequest,
    StatusPushRequest,
)

__all__ = [
    "ACTION_QUEUED",
    "ACTION_SENT",
    "REQUEST_TYPES",
    "TASK_OPENED",
    "ActionStatus",
    "DispatchOutcome",
    "Invoker",
    "OutboxEntry",
    "PluginFault",
    "RetryPolicy",
    "outbox_entries",
]

_log = logging.getLogger("referralkit.outbox")

ACTION_QUEUED: Final = "action_queued"
ACTION_SENT: Final = "action_sent"
TASK_OPENED: Final = "task_opened"

ActionStatus = Literal["queued", "sent", "failed", "unknown"]
"""Where an outbound action stands; only ``queued`` is not final."""

REQUEST_TYPES: Final[Mapping[str, type[OutboundRequest]]] = {
    cls.operation: cls
    for cls in (
        CallRequest,
        SmsRequest,
        FaxRequest,
        StaffAlertRequest,
        PracticeUpdateRequest,
        PatientEmailRequest,
        LetterRequest,
        StatusPushRequest,
        BookAppointmentRequest,
        CancelAppointmentRequest,
    )
}
"""Every outbound request type, by the port method that carries it."""

_R = TypeVar("_R")


@attrs.frozen
class RetryPolicy:
    """How adapter calls are retried: exponential backoff with jitter, bounded twice.

    :ivar attempts: tries in all, the first included.
    :ivar initial: the first wait, in seconds; it doubles up to *max_wait*.
    :ivar max_wait: the longest single wait, in seconds.
    :ivar jitter: up to this many random seconds added to each wait.
    :ivar max_total: stop retrying once this many seconds have passed since the first try.

    .. versionadded:: 0.1
    """

    attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    initial: float = 0.5
    max_wait: float = 10.0
    jitter: float = 1.0
    max_total: float = 30.0

    def build(self, *, sleep: Callable[[float], None] = time.sleep) -> Retrying:
        """Return a prebuilt :class:`tenacity.Retrying` for this policy."""
        return Retrying(
            retry=retry_if_exception_type(TransientAdapterError),
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.max_total),
            # Not wait_exponential_jitter: its "initial" is deprecated in tenacity 9.2 and its
            # "multiplier" missing before; this sum means the same in every supported version.
            wait=wait_exponential(multiplier=self.initial, max=self.max_wait)
            + wait_random(0, self.jitter),
            sleep=sleep,
            reraise=True,
        )

    @staticmethod
    def no_wait(attempts: int = 3) -> Retrying:
        """Return a policy that retries *attempts* times without waiting (for tests)."""
        return Retrying(
            retry=retry_if_exception_type(TransientAdapterError),
            stop=stop_after_attempt(attempts),
            wait=wait_none(),
            sleep=lambda _seconds: None,
            reraise=True,
        )


@attrs.frozen
class Invoker:
    """Calls one adapter method with the retry policy and classifies what it raises.

    :ivar backends: the adapter name to use per capability; a capability not named takes the
        only adapter registered for it.

    .. versionadded:: 0.1
    """

    hooks: Hooks
    retrying: Retrying
    backends: Mapping[str, str] = attrs.field(factory=dict)

    def call(self, request: OutboundRequest) -> Receipt:
        """Send *request* through the chosen adapter, retrying transient faults.

        The same request, and so the same idempotency key, goes out on every try.

        :raises NoBackendError: no adapter provides the capability.
        :raises TransientAdapterError: transient faults outlasted the retry budget.
        :raises PermanentAdapterError: the adapter refused, or raised anything unexpected.
        """
        return self.send(self.bind(request), request)

    def send(self, bound: Callable[[], Receipt], request: OutboundRequest) -> Receipt:
        """Call *bound* (from :meth:`bind`) with the retry policy; see :meth:`call`."""
        return self.retrying(lambda: _classified(bound, request))

    def retry(self, fn: Callable[[], _R], *, operation: str) -> _R:
        """Call *fn* (an adapter read) with the retry policy and the same classification."""
        return self.retrying(lambda: _classified_call(fn, operation))

    def _name(self, capability: Capability) -> str | None:
        return self.backends.get(capability)

    def bind(self, request: OutboundRequest) -> Callable[[], Receipt]:
        """Resolve the adapter for *request* and return the call to make.

        :raises NoBackendError: no adapter provides the capability.
        """
        # The adapter is resolved once, outside the retry loop: a missing backend is a
        # configuration error, not a fault worth retrying.
        match request:
            case CallRequest():
                telephony = self.hooks.telephony(self._name("telephony"))
                return lambda: telephony.place_call(request)
            case SmsRequest():
                sms = self.hooks.telephony(self._name("telephony"))
                return lambda: sms.send_sms(request)
            case FaxRequest():
                fax = self.hooks.fax(self._name("fax"))
                return lambda: fax.send_fax(request)
            case StaffAlertRequest():
                staff = self.hooks.notification(self._name("notification"))
                return lambda: staff.alert_staff(request)
            case PracticeUpdateRequest():
                practice = self.hooks.notification(self._name("notification"))
                return lambda: practice.update_practice(request)
            case PatientEmailRequest():
                email = self.hooks.notification(self._name("notification"))
                return lambda: email.email_patient(request)
            case LetterRequest():
                letter = self.hooks.notification(self._name("notification"))
                return lambda: letter.send_letter(request)
            case StatusPushRequest():
                status_ehr = self.hooks.ehr(self._name("ehr"))
                return lambda: status_ehr.push_status(request)
            case BookAppointmentRequest():
                book_ehr = self.hooks.ehr(self._name("ehr"))
                return lambda: book_ehr.book_appointment(request)
            case CancelAppointmentRequest():
                cancel_ehr = self.hooks.ehr(self._name("ehr"))
                return lambda: cancel_ehr.cancel_appointment(request)
        raise TypeError(f"not an outbound request type: {type(request).__name__}")


def _classified(send: Callable[[], Receipt], request: OutboundRequest) -> Receipt:
    receipt = _classified_call(send, request.operation)
    # A receipt for another key (or no receipt) means the vendor broke the contract.
    if getattr(receipt, "idempotency_key", None) != request.idempotency_key:
        raise PermanentAdapterError(
            "adapter returned no matching receipt", operation=request.operation
        )
    return receipt


def _classified_call(fn: Callable[[], _R], operation: str) -> _R:
    # Anything but an AdapterError a plugin raises is treated as permanent: retrying an
    # unknown fault could contact a patient twice. Only its type is kept: its message may hold
    # PHI, so the error is raised outside the handler (neither cause nor context).
    unexpected = ""
    try:
        return fn()
    except AdapterError:
        raise
    except Exception as exc:  # noqa: BLE001 - any plugin fault, classified below
        unexpected = type(exc).__name__
    _log.warning("adapter %s raised %s; treated as permanent", operation, unexpected)
    raise PermanentAdapterError(f"unexpected {unexpected}", operation=operation) from PluginFault(
        unexpected
    )


class PluginFault(Exception):  # noqa: N818 - a stand-in, not an error referralkit raises
    """Stands in, as the cause, for an exception a plugin raised: its type name only.

    The plugin's own exception is dropped (its message or attributes may hold PHI).

    .. versionadded:: 0.2
    """


@attrs.frozen
class OutboxEntry:
    """One outbound action as the referral's event log records it.

    .. versionadded:: 0.1
    """

    key: str
    referral_id: UUID
    operation: str
    adapter: str | None
    status: ActionStatus
    request: Mapping[str, Any] = attrs.field(repr=False)
    provider_ref: str | None = None
    task_id: UUID | None = None
    reason: str | None = None
    queued_seq: int = 0

    def rebuild(self) -> OutboundRequest:
        """Return the queued request, exactly as first sent (same idempotency key).

        :raises CorruptRecordError: the recorded request no longer validates (its values,
            which are PHI, are in neither the message nor the exception's context).

        .. versionchanged:: 0.2
           Raises :class:`~referralkit.errors.CorruptRecordError` instead of pydantic's error.
        """
        try:
            return REQUEST_TYPES[self.operation].model_validate(self.request, strict=False)
        except (ValidationError, KeyError):
            pass
        raise CorruptRecordError(self.referral_id, "outbound request")


@attrs.frozen
class DispatchOutcome:
    """What became of one dispatched action.

    :ivar status: ``sent``, ``failed`` or ``unknown`` (``queued`` only if recording crashed).
    :ivar receipt: the adapter's receipt when sent in this call.
    :ivar task_id: the human task opened when it failed or its fate is unknown.
    :ivar reason: a PHI-free code: ``permanent``, ``retries_exhausted``, ``unexpected``,
        ``crash_recovery``.

    .. versionadded:: 0.1
    """

    key: str
    referral_id: UUID
    status: ActionStatus
    receipt: Receipt | None = None
    task_id: UUID | None = None
    reason: str | None = None
    replayed: bool = False


def outbox_entries(events: Iterable[Event]) -> dict[str, OutboxEntry]:
    """Fold a referral's events into its outbox, by idempotency key, in queue order.

    .. versionadded:: 0.1
    """
    entries: dict[str, OutboxEntry] = {}
    for event in events:
        if event.kind == ACTION_QUEUED:
            key = str(event.data["key"])
            if key not in entries:
                entries[key] = OutboxEntry(
                    key=key,
                    referral_id=event.referral_id,
                    operation=str(event.data["operation"]),
                    adapter=event.data.get("adapter"),
                    status="queued",
                    request=event.data["request"],
                    queued_seq=event.seq,
                )
        elif event.kind == ACTION_SENT:
            key = str(event.data["key"])
            if key in entries:
                entries[key] = attrs.evolve(
                    entries[key], status="sent", provider_ref=event.data.get("provider_ref")
                )
        elif event.kind == TASK_OPENED and "action" in event.data:
            action = event.data["action"]
            key = str(action["key"])
            if key in entries and entries[key].status == "queued":
                entries[key] = attrs.evolve(
                    entries[key],
                    status=action["status"],
                    reason=action.get("reason"),
                    task_id=UUID(str(event.data["task_id"])),
                )
    return entries
