"""An example referralkit vendor plugin: faxes through the (imaginary) Acme Fax API.

The entry point ``acme_fax = "acme_fax"`` (group ``referralkit``) makes referralkit load this
module, whose module-level :func:`referralkit_register_fax_adapters` hook provides one
:class:`AcmeFax`. The adapter talks to the vendor through a *transport*; the default is an
in-process sandbox, so the example runs and tests without a network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from referralkit import PermanentAdapterError, TransientAdapterError, hookimpl
from referralkit.ports import FaxAdapter, FaxRequest, Receipt

__all__ = ["AcmeApiError", "AcmeFax", "SandboxTransport", "referralkit_register_fax_adapters"]

Transport = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]
"""``transport(path, json_body) -> json_response``; raises :class:`AcmeApiError`."""


class AcmeApiError(Exception):
    """What the Acme API returns on failure: an HTTP-like status code."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"acme api status {status}")


@attrs.define
class SandboxTransport:
    """Acme's sandbox, in process: honours ``Idempotency-Key`` like the real API."""

    sent: dict[str, Mapping[str, Any]] = attrs.field(factory=dict)
    fail_with: list[int] = attrs.field(factory=list)

    def __call__(self, path: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.fail_with:
            raise AcmeApiError(self.fail_with.pop(0))
        key = str(body["idempotency_key"])
        first = key not in self.sent
        if first:
            self.sent[key] = body
        return {"fax_id": f"acme-{list(self.sent).index(key) + 1}", "replayed": not first}


@attrs.define
class AcmeFax:
    """A :class:`~referralkit.ports.FaxAdapter` for Acme Fax."""

    name: str = "acme"
    transport: Transport = attrs.field(factory=SandboxTransport)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def send_fax(self, request: FaxRequest) -> Receipt:
        """Send the fax; map Acme's errors to transient (429, 5xx) or permanent."""
        body = {
            "idempotency_key": request.idempotency_key,
            "to": request.to,
            "cover": {"purpose": request.purpose, "attention": request.recipient_name},
            "documents": [d.document_id for d in request.documents],
        }
        try:
            response = self.transport("/v1/faxes", body)
        except AcmeApiError as exc:
            # The message names the status only: the request's number never reaches an error.
            if exc.status == 429 or exc.status >= 500:
                raise TransientAdapterError(
                    f"acme status {exc.status}", adapter=self.name, operation="send_fax"
                ) from exc
            raise PermanentAdapterError(
                f"acme status {exc.status}", adapter=self.name, operation="send_fax"
            ) from exc
        return Receipt(
            idempotency_key=request.idempotency_key,
            provider_ref=str(response["fax_id"]),
            accepted_at=self.now(),
            duplicate=bool(response["replayed"]),
        )


@hookimpl
def referralkit_register_fax_adapters() -> Sequence[FaxAdapter]:
    """Provide the Acme fax adapter (configured from defaults in this example)."""
    return [AcmeFax()]
