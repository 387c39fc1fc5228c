"""Signed webhooks: a :class:`~referralkit.ports.NotificationAdapter` that POSTs JSON.

Each notification is one ``POST`` of a JSON event to the configured URL, with headers:

* ``Referralkit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``;
* ``Idempotency-Key``: the request's key, the same on every retry, so the receiver applies an
  event once however often it arrives;
* ``Content-Type: application/json``.

A receiver checks the header with :func:`verify_signature`, which also refuses a timestamp
outside the replay window. HTTP 408, 425, 429 and 5xx answers and network faults raise
:class:`~referralkit.errors.TransientAdapterError` (the desk's retry policy retries with the
same key); other non-2xx answers raise :class:`~referralkit.errors.PermanentAdapterError`.

Staff alerts and practice updates carry no PHI. Patient emails and letters do, so they are
only sent when listed in ``operations`` and the URL is HTTPS (or loopback, for tests).

.. versionadded:: 0.1
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import attrs

from referralkit.clock import Clock, SystemClock
from referralkit.errors import PermanentAdapterError, TransientAdapterError, WebhookSignatureError
from referralkit.plugins import hookimpl
from referralkit.ports import (
    LetterRequest,
    NotificationAdapter,
    OutboundRequest,
    PatientEmailRequest,
    PracticeUpdateRequest,
    Receipt,
    StaffAlertRequest,
)

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookNotification",
    "WebhookPlugin",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER: Final = "Referralkit-Signature"
"""The header carrying ``t=<unix seconds>,v1=<hex digest>``."""

_PHI_OPERATIONS: Final = frozenset({"email_patient", "send_letter"})
_TRANSIENT_STATUS: Final = frozenset({408, 425, 429})
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """Return the signature header value for *body* sent at *timestamp* (unix seconds)."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: bytes,
    header: str | None,
    body: bytes,
    *,
    now: datetime,
    tolerance_seconds: int = 300,
) -> int:
    """Check a received webhook's signature header against its raw body.

    :param header: the ``Referralkit-Signature`` header as received.
    :param body: the raw request body, exactly as received (before any JSON parsing).
    :param now: the receiver's current time (from its clock).
    :param tolerance_seconds: the replay window: how far the signed timestamp may be from
        *now*, either way.
    :returns: the signed timestamp.
    :raises WebhookSignatureError: ``missing``, ``malformed``, ``mismatch`` or ``expired``.

    .. versionadded:: 0.1
    """
    if not header:
        raise WebhookSignatureError("missing")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise WebhookSignatureError("malformed")
        parts.setdefault(name, []).append(value)
    stamps = parts.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit() or not parts.get("v1"):
        raise WebhookSignatureError("malformed")
    timestamp = int(stamps[0])
    expected = sign(secret, timestamp, body).rpartition("v1=")[2]
    # Compare every v1 in constant time: a sender rotating secrets may send two.
    if not any(hmac.compare_digest(expected, given) for given in parts["v1"]):
        raise WebhookSignatureError("mismatch")
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise WebhookSignatureError("expired")
    return timestamp


def _check_url(url: str, operations: frozenset[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the webhook URL must be http or https with a host")
    phi = operations & _PHI_OPERATIONS
    if phi and parts.scheme != "https" and parts.hostname not in _LOOPBACK:
        raise ValueError("patient emails and letters carry PHI: the webhook URL must be https")


@attrs.define
class WebhookNotification:
    """POST each notification as a signed JSON event.

    :ivar operations: the port methods this webhook accepts; the others raise
        :class:`~referralkit.errors.PermanentAdapterError`. Patient emails and letters (PHI)
        are off unless listed, and then need an https URL.

    .. versionadded:: 0.1
    """

    url: str
    secret: bytes = attrs.field(repr=False)
    name: str = "webhook"
    clock: Clock = attrs.field(factory=SystemClock)
    timeout: float = 10.0
    operations: frozenset[str] = frozenset({"alert_staff", "update_practice"})
    _sent: dict[str, Receipt] = attrs.field(factory=dict, init=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _check_url(self.url, self.operations)
        if len(self.secret) < 16:
            raise ValueError("the webhook secret must be at least 16 bytes")

    def alert_staff(self, request: StaffAlertRequest) -> Receipt:
        """POST a ``alert_staff`` event."""
        return self._post(request)

    def update_practice(self, request: PracticeUpdateRequest) -> Receipt:
        """POST an ``update_practice`` event."""
        return self._post(request)

    def email_patient(self, request: PatientEmailRequest) -> Receipt:
        """POST an ``email_patient`` event (only when enabled in ``operations``)."""
        return self._post(request)

    def send_letter(self, request: LetterRequest) -> Receipt:
        """POST a ``send_letter`` event (only when enabled in ``operations``)."""
        return self._post(request)

    def _post(self, request: OutboundRequest) -> Receipt:
        operation = request.operation
        if operation not in self.operations:
            raise PermanentAdapterError(
                f"this webhook does not accept {operation}", adapter=self.name, operation=operation
            )
        key = request.idempotency_key
        with self._lock:
            first = self._sent.get(key)
            if first is not None:
                return first.model_copy(update={"duplicate": True})
            now = self.clock.now()
            event: dict[str, Any] = {
                "type": operation,
                "idempotency_key": key,
                "referral_id": str(request.referral_id),
                "created_at": now.astimezone(UTC).isoformat(),
                "data": request.model_dump(mode="json", exclude={"idempotency_key"}),
            }
            body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
            answer = self._send(body, key, int(now.timestamp()), operation)
            replayed = answer.get("replayed") is True
            ref = answer.get("id")
            receipt = Receipt(
                idempotency_key=key,
                provider_ref=str(ref)[:200] if isinstance(ref, str | int) and ref else key[:32],
                accepted_at=now,
                duplicate=replayed,
            )
            self._sent[key] = receipt.model_copy(update={"duplicate": False})
            return receipt

    def _send(self, body: bytes, key: str, timestamp: int, operation: str) -> dict[str, Any]:
        http_request = urllib.request.Request(  # noqa: S310 - scheme checked in __attrs_post_init__
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": key,
                SIGNATURE_HEADER: sign(self.secret, timestamp, body),
                "User-Agent": "referralkit-webhook",
            },
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:  # noqa: S310 - scheme checked
                raw = response.read(65536)
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
            kind = (
                TransientAdapterError
                if status in _TRANSIENT_STATUS or status >= 500
                else PermanentAdapterError
            )
            raise kind(
                f"the webhook answered HTTP {status}", adapter=self.name, operation=operation
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise TransientAdapterError(
                f"the webhook could not be reached ({type(exc).__name__})",
                adapter=self.name,
                operation=operation,
            ) from None
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}


@attrs.define
class WebhookPlugin:
    """A plugin providing one :class:`WebhookNotification` through the provider hook.

    .. versionadded:: 0.1
    """

    adapter: WebhookNotification

    @hookimpl
    def referralkit_register_notification_adapters(self) -> Sequence[NotificationAdapter]:
        """Provide the webhook adapter."""
        return [self.adapter]
