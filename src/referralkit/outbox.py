"""Calling adapters: the retry policy, the invoker, and what a dispatched action became.

The ledger of outbound actions (event kinds, ``OutboxEntry``, the fold) is
:mod:`referralkit.outreach.ledger`; the desk's outbox service
(:mod:`referralkit.desk.outbox`) records actions there and calls adapters through
:class:`Invoker`.

This module is the only user of tenacity (with :mod:`referralkit.desk`, which owns it).

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Literal, TypeVar
from uuid import UUID

import attrs
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
    NoBackendError,
    PermanentAdapterError,
    TransientAdapterError,
)
from referralkit.plugins import Hooks
from referralkit.ports import (
    BookAppointmentRequest,
    CallRequest,
    CancelAppointmentRequest,
    Capability,
    DocumentPushRequest,
    EhrDocumentPush,
    EhrWorkMirror,
    FaxRequest,
    InteractionMirrorRequest,
    LetterRequest,
    OutboundRequest,
    PatientEmailRequest,
    PracticeUpdateRequest,
    Receipt,
    SmsRequest,
    StaffAlertRequest,
    StatusPushRequest,
    TaskMirrorRequest,
    supported_operations,
)

__all__ = ["DispatchOutcome", "DispatchStatus", "Invoker", "PluginFault", "RetryPolicy"]

_log = logging.getLogger("referralkit.outbox")

_R = TypeVar("_R")
_T = TypeVar("_T")


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

    def send(
        self,
        bound: Callable[[], Receipt],
        request: OutboundRequest,
        *,
        before_attempt: Callable[[], None] | None = None,
    ) -> Receipt:
        """Call *bound* (from :meth:`bind`) with the retry policy; see :meth:`call`.

        :param before_attempt: called before every attempt, the first and each retry; what it
            raises (other than :class:`~referralkit.errors.TransientAdapterError`) stops the
            retries and reaches the caller. The outbox checks consent and the contact window
            there, so a back-off never outlives an opt-out.
        """
        if before_attempt is None:
            return self.retrying(lambda: _classified(bound, request))
        check = before_attempt

        def attempt() -> Receipt:
            check()
            return _classified(bound, request)

        return self.retrying(attempt)

    def retry(self, fn: Callable[[], _R], *, operation: str) -> _R:
        """Call *fn* (an adapter read) with the retry policy and the same classification."""
        return self.retrying(lambda: _classified_call(fn, operation))

    def _name(self, capability: Capability) -> str | None:
        return self.backends.get(capability)

    def _mirror(self) -> EhrWorkMirror:
        # Mirroring is optional on an EHR adapter: one without it is no backend for it.
        name = self._name("ehr")
        ehr = self.hooks.ehr(name)
        if not isinstance(ehr, EhrWorkMirror):
            raise NoBackendError("referralkit_register_ehr_adapters", "ehr", name, [])
        return ehr

    @staticmethod
    def supporting(adapter: _T, capability: Capability, operation: str) -> _T:
        """Return *adapter* if it supports *operation*.

        :raises NoBackendError: it does not (a backend named for an operation it does not do
            is a configuration error, not an AttributeError mid-send).
        """
        if operation not in supported_operations(adapter, capability):
            raise NoBackendError(
                f"referralkit_register_{capability}_adapters",
                capability,
                getattr(adapter, "name", None),
                [],
            )
        return adapter

    def bind(self, request: OutboundRequest) -> Callable[[], Receipt]:
        """Resolve the adapter for *request* and return the call to make.

        :raises NoBackendError: no adapter provides the capability.
        """
        # The adapter is resolved once, outside the retry loop: a missing backend is a
        # configuration error, not a fault worth retrying.
        match request:
            case CallRequest():
                # "voice" and "sms" name separate backends; "telephony" names one for both.
                voice = self.backends.get("voice") or self._name("telephony")
                telephony = self.supporting(
                    self.hooks.telephony(voice, "place_call"), "telephony", "place_call"
                )
                return lambda: telephony.place_call(request)
            case SmsRequest():
                texting = self.backends.get("sms") or self._name("telephony")
                sms = self.supporting(
                    self.hooks.telephony(texting, "send_sms"), "telephony", "send_sms"
                )
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
                status_ehr = self.supporting(
                    self.hooks.ehr(self._name("ehr"), "push_status"), "ehr", "push_status"
                )
                return lambda: status_ehr.push_status(request)
            case BookAppointmentRequest():
                book_ehr = self.supporting(
                    self.hooks.ehr(self._name("ehr"), "book_appointment"),
                    "ehr",
                    "book_appointment",
                )
                return lambda: book_ehr.book_appointment(request)
            case CancelAppointmentRequest():
                cancel_ehr = self.supporting(
                    self.hooks.ehr(self._name("ehr"), "cancel_appointment"),
                    "ehr",
                    "cancel_appointment",
                )
                return lambda: cancel_ehr.cancel_appointment(request)
            case DocumentPushRequest():
                push_ehr = self.supporting(
                    self.hooks.ehr(self._name("ehr"), "push_document"), "ehr", "push_document"
                )
                if not isinstance(push_ehr, EhrDocumentPush):
                    raise NoBackendError(
                        "referralkit_register_ehr_adapters", "ehr", self._name("ehr"), []
                    )
                return lambda: push_ehr.push_document(request)
            case InteractionMirrorRequest():
                log_ehr = self._mirror()
                return lambda: log_ehr.log_interaction(request)
            case TaskMirrorRequest():
                task_ehr = self._mirror()
                return lambda: task_ehr.push_task(request)
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


DispatchStatus = Literal["queued", "sent", "failed", "unknown", "cancelled", "skipped"]
"""What a dispatch came to: a ledger status, or ``skipped`` (refused before anything was
recorded)."""


@attrs.frozen
class DispatchOutcome:
    """What became of one dispatched action.

    :ivar status: ``sent``, ``failed``, ``unknown``, ``cancelled`` (refused before the adapter:
        consent withdrawn, the referral moved on), or ``queued`` (not sent now: the contact
        window is closed, or recording crashed).
    :ivar receipt: the adapter's receipt when sent in this call.
    :ivar task_id: the human task opened when it failed or its fate is unknown.
    :ivar reason: a PHI-free code: ``permanent``, ``retries_exhausted``, ``unexpected``,
        ``crash_recovery``, ``consent``, ``state_changed``, ``window_closed``.

    .. versionadded:: 0.1
    """

    key: str
    referral_id: UUID
    status: DispatchStatus
    receipt: Receipt | None = None
    task_id: UUID | None = None
    reason: str | None = None
    replayed: bool = False
