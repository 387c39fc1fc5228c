"""A small FHIR R4 server on 127.0.0.1 for the adapter tests: real HTTP, real validation.

It stores resources in memory with versions, validates every resource it receives with
fhir.resources' R4B models (and the status codes fhir.resources leaves unchecked), honours
``If-Match`` and ``If-None-Exist``, answers searches (GET or POST ``_search``) by identifier
and by subject/beneficiary/patient reference, processes transaction Bundles (resolving
``urn:uuid`` references), and can be told to fail the next requests or to demand a token.
"""

from __future__ import annotations

import importlib
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

VALID_STATUS = {
    "Task": {
        "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
        "in-progress", "on-hold", "failed", "completed", "entered-in-error",
    },
    "ServiceRequest": {
        "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown",
    },
    "Appointment": {
        "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
        "entered-in-error", "checked-in", "waitlist",
    },
    "Coverage": {"active", "cancelled", "draft", "entered-in-error"},
    "DocumentReference": {"current", "superseded", "entered-in-error"},
}  # fmt: skip


class RefusedError(Exception):
    def __init__(self, status: int, code: str, text: str = "") -> None:
        super().__init__(text)
        self.status = status
        self.code = code


def outcome(code: str, text: str = "") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def validate(resource: Any) -> dict[str, Any]:
    """Validate with fhir.resources (R4B) and the status value sets; return the resource."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise RefusedError(400, "structure", "not a resource")
    kind = resource["resourceType"]
    try:
        module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
        getattr(module, kind).model_validate(resource)
    except (ImportError, AttributeError) as exc:
        raise RefusedError(400, "not-supported", kind) from exc
    except ValidationError as exc:
        raise RefusedError(400, "invalid", str(exc.errors(include_input=False))) from exc
    allowed = VALID_STATUS.get(kind)
    if allowed is not None and resource.get("status") not in allowed:
        raise RefusedError(400, "code-invalid", f"{kind}.status")
    return resource


def _identifiers(resource: dict[str, Any]) -> set[str]:
    return {
        f"{i.get('system', '')}|{i.get('value', '')}"
        for i in resource.get("identifier") or []
        if isinstance(i, dict)
    }


class FhirTestServer:
    """The store and its HTTP server (use :func:`running`)."""

    def __init__(self) -> None:
        self.resources: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, dict[str, str], str]] = []
        self.faults: list[tuple[int, str]] = []
        self.tokens: set[str] | None = None
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/fhir"

    # -- test helpers --

    def fail_next(self, status: int, code: str, count: int = 1) -> None:
        self.faults.extend([(status, code)] * count)

    def seed(self, resource: dict[str, Any]) -> str:
        validate(resource)
        with self.lock:
            return self._store(dict(resource), resource.get("id"))

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [r for (k, _), (_, r) in sorted(self.resources.items()) if k == kind]

    # -- storage --

    def _store(self, resource: dict[str, Any], resource_id: str | None = None) -> str:
        kind = resource["resourceType"]
        resource_id = resource_id or str(next(self._ids))
        version = self.resources.get((kind, resource_id), (0, {}))[0] + 1
        resource["id"] = resource_id
        resource["meta"] = {"versionId": str(version), "lastUpdated": "2026-03-02T14:00:00Z"}
        self.resources[(kind, resource_id)] = (version, resource)
        return resource_id

    def search(self, kind: str, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        found = []
        for resource in self.all(kind):
            ok = True
            for name, values in params.items():
                value = values[0]
                if name == "identifier":
                    ok = value in _identifiers(resource)
                elif name in ("subject", "beneficiary", "patient"):
                    field = "subject" if name == "patient" else name
                    ok = (resource.get(field) or {}).get("reference") == value
                elif name.startswith("_"):
                    continue
                else:
                    raise RefusedError(400, "not-supported", f"search parameter {name}")
                if not ok:
                    break
            if ok:
                found.append(resource)
        return found

    def transaction(self, bundle: dict[str, Any], base: str) -> dict[str, Any]:
        validate(bundle)
        if bundle.get("type") != "transaction":
            raise RefusedError(400, "invalid", "not a transaction")
        entries = bundle.get("entry") or []
        plan: list[tuple[dict[str, Any], str, bool]] = []
        urls: dict[str, str] = {}
        for entry in entries:
            resource = entry["resource"]
            request = entry.get("request") or {}
            kind = resource["resourceType"]
            if request.get("method") != "POST":
                raise RefusedError(400, "not-supported", "only POST entries")
            existing = None
            if request.get("ifNoneExist"):
                matches = self.search(kind, parse_qs(request["ifNoneExist"]))
                if len(matches) > 1:
                    raise RefusedError(412, "multiple-matches", kind)
                existing = matches[0] if matches else None
            resource_id = existing["id"] if existing else str(next(self._ids))
            urls[entry.get("fullUrl", "")] = f"{kind}/{resource_id}"
            plan.append((resource, resource_id, existing is None))
        response = []
        for resource, resource_id, new in plan:
            kind = resource["resourceType"]
            if new:
                resolved = json.loads(json.dumps(resource), object_hook=_rewrite(urls))
                self._store(resolved, resource_id)
            version = self.resources[(kind, resource_id)][0]
            response.append(
                {
                    "response": {
                        "status": "201 Created" if new else "200 OK",
                        "location": f"{kind}/{resource_id}/_history/{version}",
                    }
                }
            )
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": response}


def _rewrite(urls: dict[str, str]) -> Any:
    def hook(obj: dict[str, Any]) -> dict[str, Any]:
        ref = obj.get("reference")
        if isinstance(ref, str) and ref in urls:
            obj["reference"] = urls[ref]
        return obj

    return hook


def _handler(server: FhirTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the tests read server.requests instead

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            split = urlsplit(self.path)
            path = split.path.removeprefix("/fhir").strip("/")
            server.requests.append((method, self.path, dict(self.headers), raw))
            try:
                self._gate()
                with server.lock:
                    status, body, headers = self._route(method, path, split.query, raw)
            except RefusedError as refused:
                self._reply(refused.status, outcome(refused.code, str(refused)))
                return
            self._reply(status, body, headers)

        def _gate(self) -> None:
            if server.faults:
                status, code = server.faults.pop(0)
                raise RefusedError(status, code, "scripted fault")
            if server.tokens is not None:
                auth = self.headers.get("Authorization", "")
                if auth.removeprefix("Bearer ") not in server.tokens:
                    raise RefusedError(401, "login", "token refused")

        def _route(
            self, method: str, path: str, query: str, raw: str
        ) -> tuple[int, Any, dict[str, str]]:
            parts = path.split("/") if path else []
            if method == "POST" and not parts:
                return 200, server.transaction(json.loads(raw), server.url), {}
            if method == "POST" and len(parts) == 2 and parts[1] == "_search":
                found = server.search(parts[0], parse_qs(raw))
                return 200, _searchset(found), {}
            if method == "GET" and len(parts) == 1:
                return 200, _searchset(server.search(parts[0], parse_qs(query))), {}
            if method == "GET" and len(parts) == 2:
                stored = server.resources.get((parts[0], parts[1]))
                if stored is None:
                    raise RefusedError(404, "not-found", "no such resource")
                version, resource = stored
                return 200, resource, {"ETag": f'W/"{version}"'}
            if method == "POST" and len(parts) == 1:
                resource = validate(json.loads(raw))
                if resource["resourceType"] != parts[0]:
                    raise RefusedError(400, "invalid", "type mismatch")
                condition = self.headers.get("If-None-Exist")
                if condition:
                    matches = server.search(parts[0], parse_qs(condition))
                    if len(matches) > 1:
                        raise RefusedError(412, "multiple-matches", "conditional create")
                    if matches:
                        return 200, matches[0], _where(matches[0])
                resource.pop("id", None)
                server._store(resource)
                return 201, resource, _where(resource)
            if method == "PUT" and len(parts) == 2:
                resource = validate(json.loads(raw))
                if resource.get("id") != parts[1] or resource["resourceType"] != parts[0]:
                    raise RefusedError(400, "invalid", "id mismatch")
                stored = server.resources.get((parts[0], parts[1]))
                match = self.headers.get("If-Match")
                if match and (stored is None or match != f'W/"{stored[0]}"'):
                    raise RefusedError(412, "conflict", "version mismatch")
                server._store(resource, parts[1])
                return (200 if stored else 201), resource, _where(resource)
            raise RefusedError(400, "not-supported", f"{method} {path}")

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

    return Handler


def _where(resource: dict[str, Any]) -> dict[str, str]:
    version = resource["meta"]["versionId"]
    return {
        "Location": f"{resource['resourceType']}/{resource['id']}/_history/{version}",
        "ETag": f'W/"{version}"',
    }


def _searchset(found: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in found],
    }


@contextmanager
def running() -> Iterator[FhirTestServer]:
    server = FhirTestServer()
    thread = threading.Thread(
        target=server.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=5)


class TokenServer:
    """An OAuth 2.0 token endpoint for SMART backend services: records what it is sent."""

    def __init__(self, lifetime: int = 300) -> None:
        self.forms: list[dict[str, list[str]]] = []
        self.issued: list[str] = []
        self.fail_with: list[int] = []
        self.lifetime = lifetime
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                outer.forms.append(form)
                if outer.fail_with:
                    status, body = outer.fail_with.pop(0), {"error": "invalid_client"}
                else:
                    token = f"token-{len(outer.issued) + 1}"
                    outer.issued.append(token)
                    status = 200
                    body = {"access_token": token, "token_type": "bearer",
                            "expires_in": outer.lifetime}  # fmt: skip
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"


@contextmanager
def token_server(lifetime: int = 300) -> Iterator[TokenServer]:
    server = TokenServer(lifetime)
    thread = threading.Thread(
        target=server.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=5)
