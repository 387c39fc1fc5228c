"""Bearer tokens for a FHIR server: the pluggable token source and a static one.

SMART backend services (the OAuth 2.0 client-credentials flow with a signed JWT assertion)
is one implementation of :class:`TokenSource`: it signs an assertion with the host's key,
posts it to the token endpoint and caches the access token until it expires. referralkit does
not hold keys, so the host provides that callable (its key store, its JWT library); the
adapter asks it for a token before each request and once more, with ``refresh=True``, when
the server answers 401.

.. versionadded:: 0.2
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

__all__ = ["StaticToken", "TokenSource"]


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
