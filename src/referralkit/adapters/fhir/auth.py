"""Bearer tokens for a FHIR server: the pluggable token source and a static one.

SMART backend services (the OAuth 2.0 client-credentials flow with a signed JWT assertion)
is :class:`SmartBackendServices`: it builds the assertion's claims, has the host sign them
(referralkit holds no keys: the host passes its key store's or JWT library's signing
function), posts the assertion to the token endpoint and caches the access token until it
expires. Any other callable with the :class:`TokenSource` shape works too. The adapter asks
for a token before each request and once more, with ``refresh=True``, when the server
answers 401.

.. versionadded:: 0.2
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, runtime_checkable
from uuid import uuid4

import attrs
import httpx

from referralkit.clock import Clock, SystemClock
from referralkit.errors import PermanentAdapterError, TransientAdapterError

__all__ = ["AssertionSigner", "SmartBackendServices", "StaticToken", "TokenSource"]


@runtime_checkable
class TokenSource(Protocol):
    """Returns the bearer token for the next request.

    .. versionadded:: 0.2
    """

    def __call__(self, *, refresh: bool = False) -> str:
        """Return an access token.

        :param refresh: the server refused the last token (401): get a new one, do not
            return the cached one.
        :raises TransientAdapterError: the token endpoint is unavailable for now.
        :raises PermanentAdapterError: the credentials are refused.
        """
        ...


@attrs.frozen
class StaticToken:
    """A token source that always returns the same token (tests, sandboxes, API keys).

    .. versionadded:: 0.2
    """

    token: str = attrs.field(repr=False)

    def __call__(self, *, refresh: bool = False) -> str:
        """Return the token."""
        return self.token


AssertionSigner = Callable[[Mapping[str, Any]], str]
"""Signs JWT claims with the host's private key (RS384 or ES384) and returns the compact JWT."""

_JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@attrs.define
class SmartBackendServices:
    """A :class:`TokenSource` for SMART backend services (client credentials, JWT assertion).

    Each new token is requested with a fresh assertion (``iss`` and ``sub`` the client id,
    ``aud`` the token URL, a unique ``jti``, five minutes to live) signed by *sign*, the
    host's own key and JWT library. The token is cached until a minute before it expires, or
    until the FHIR server refuses it (``refresh=True``).

    :ivar token_url: the authorization server's token endpoint.
    :ivar sign: signs the claims; referralkit never sees the key.

    .. versionadded:: 0.2
    """

    token_url: str
    client_id: str
    sign: AssertionSigner = attrs.field(repr=False)
    scope: str = "system/*.read system/*.write"
    timeout: float = 10.0
    clock: Clock = attrs.field(factory=SystemClock)
    transport: httpx.BaseTransport | None = attrs.field(default=None, repr=False)
    _token: str | None = attrs.field(default=None, init=False, repr=False)
    _expires: datetime | None = attrs.field(default=None, init=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    def __call__(self, *, refresh: bool = False) -> str:
        """Return the cached token, or a new one when it is near expiry or *refresh* is set.

        :raises TransientAdapterError: the token endpoint timed out, was unreachable or
            answered 429 or 5xx.
        :raises PermanentAdapterError: the client or its assertion was refused.
        """
        with self._lock:
            now = self.clock.now()
            if (
                not refresh
                and self._token is not None
                and self._expires is not None
                and now < self._expires
            ):
                return self._token
            token, lifetime = self._request(now)
            self._token = token
            self._expires = now + timedelta(seconds=max(lifetime - 60, 0))
            return token

    def _request(self, now: datetime) -> tuple[str, int]:
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "exp": int((now + timedelta(minutes=5)).timestamp()),
            "jti": str(uuid4()),
        }
        form = {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": _JWT_BEARER,
            "client_assertion": self.sign(claims),
        }
        operation = "token"
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = client.post(self.token_url, data=form)
        except httpx.TimeoutException as exc:
            raise TransientAdapterError(
                "token endpoint timed out", adapter="smart", operation=operation
            ) from exc
        except httpx.TransportError as exc:
            raise TransientAdapterError(
                f"token endpoint unreachable ({type(exc).__name__})",
                adapter="smart",
                operation=operation,
            ) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientAdapterError(
                f"token endpoint answered {response.status_code}",
                adapter="smart",
                operation=operation,
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise PermanentAdapterError(
                f"token endpoint refused the client ({response.status_code})",
                adapter="smart",
                operation=operation,
            )
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        return token, lifetime if isinstance(lifetime, int) and lifetime > 0 else 300
