from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from uuid import UUID

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referralkit.adapters.webhook import (
    SIGNATURE_HEADER,
    WebhookNotification,
    WebhookPlugin,
    sign,
    verify_signature,
)
from referralkit.clock import ManualClock
from referralkit.errors import (
    PermanentAdapterError,
    TransientAdapterError,
    WebhookSignatureError,
)
from referralkit.model import Channel, ReferralStatus
from referralkit.outbox import Invoker, RetryPolicy
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import (
    Capability,
    PatientEmailRequest,
    PracticeUpdateRequest,
    idempotency_key,
)
from referralkit.testing.conformance import PluginConformance

SECRET = b"0123456789abcdef-webhook-secret"
NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
RID = UUID("00000000-0000-4000-8000-000000000009")


@attrs.define
class Receiver:
    """A webhook receiver on 127.0.0.1 that verifies signatures and dedupes by key."""

    clock: ManualClock
    statuses: list[int] = attrs.field(factory=list)
    received: list[tuple[dict[str, str], bytes]] = attrs.field(factory=list)
    applied: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    rejected: list[str] = attrs.field(factory=list)
    url: str = ""


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.received.append((dict(self.headers), body))
            if receiver.statuses:
                self._answer(receiver.statuses.pop(0), {})
                return
            try:
                verify_signature(
                    SECRET, self.headers.get(SIGNATURE_HEADER), body, now=receiver.clock.now()
                )
            except WebhookSignatureError as exc:
                receiver.rejected.append(exc.reason)
                self._answer(401, {})
                return
            key = self.headers["Idempotency-Key"]
            replayed = key in receiver.applied
            receiver.applied.setdefault(key, json.loads(body))
            self._answer(200, {"id": f"evt-{len(receiver.applied)}", "replayed": replayed})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep request lines out of the test output

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(clock=ManualClock(NOW))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/referralkit"
    yield rec
    server.shutdown()
    server.server_close()
    thread.join(5)


def adapter(receiver: Receiver, **kwargs: Any) -> WebhookNotification:
    return WebhookNotification(receiver.url, SECRET, clock=receiver.clock, **kwargs)


def update(n: int = 1) -> PracticeUpdateRequest:
    return PracticeUpdateRequest(
        idempotency_key=idempotency_key(RID, "update", n),
        referral_id=RID,
        practice_name="Maple Family Medicine",
        channel=Channel.PORTAL,
        destination="maple",
        referral_number="R-9",
        status=ReferralStatus.ACCEPTED,
    )


def test_event_is_signed_and_carries_the_idempotency_key(receiver: Receiver):
    receipt = adapter(receiver).update_practice(update())
    [(headers, body)] = receiver.received
    assert headers["Idempotency-Key"] == update().idempotency_key
    assert verify_signature(SECRET, headers[SIGNATURE_HEADER], body, now=NOW) == int(
        NOW.timestamp()
    )
    event = json.loads(body)
    assert event["type"] == "update_practice"
    assert event["data"]["status"] == "accepted"
    assert receipt.provider_ref == "evt-1"
    assert not receipt.duplicate


def test_retryable_statuses_are_transient_and_the_retry_reuses_the_key(receiver: Receiver):
    receiver.statuses = [503, 429]
    hooks = Hooks(make_plugin_manager([WebhookPlugin(adapter(receiver))], load_entrypoints=False))
    invoker = Invoker(hooks, RetryPolicy.no_wait(3))
    receipt = invoker.call(update(2))
    keys = [headers["Idempotency-Key"] for headers, _ in receiver.received]
    assert keys == [update(2).idempotency_key] * 3
    assert len(receiver.applied) == 1
    assert receipt.provider_ref == "evt-1"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, TransientAdapterError),
        (502, TransientAdapterError),
        (408, TransientAdapterError),
        (400, PermanentAdapterError),
        (401, PermanentAdapterError),
        (410, PermanentAdapterError),
    ],
)
def test_http_statuses_are_classified(receiver: Receiver, status: int, error: type[Exception]):
    receiver.statuses = [status]
    with pytest.raises(error, match=str(status)):
        adapter(receiver).update_practice(update(3))


def test_a_repeat_is_not_a_second_delivery(receiver: Receiver):
    hook = adapter(receiver)
    first = hook.update_practice(update(4))
    again = hook.update_practice(update(4))
    assert again.duplicate
    assert again.provider_ref == first.provider_ref
    assert len(receiver.received) == 1


def test_the_receiver_reports_a_replay_after_a_restart(receiver: Receiver):
    adapter(receiver).update_practice(update(5))
    restarted = adapter(receiver)  # a new process: its memory of sent keys is empty
    assert restarted.update_practice(update(5)).duplicate
    assert len(receiver.applied) == 1


def test_unreachable_receiver_is_transient():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    hook = WebhookNotification(f"http://127.0.0.1:{port}/x", SECRET, timeout=2)
    with pytest.raises(TransientAdapterError):
        hook.update_practice(update())


def test_patient_emails_are_off_unless_enabled_and_need_https(receiver: Receiver):
    request = PatientEmailRequest(
        idempotency_key=idempotency_key(RID, "email"),
        referral_id=RID,
        to="maria@example.org",
        template_id="t1",
        subject="Your visit",
        body="Hello",
    )
    with pytest.raises(PermanentAdapterError, match="email_patient"):
        adapter(receiver).email_patient(request)
    with pytest.raises(ValueError, match="https"):
        WebhookNotification(
            "http://hooks.example.org/x", SECRET, operations=frozenset({"email_patient"})
        )
    enabled = adapter(receiver, operations=frozenset({"email_patient"}))
    assert enabled.email_patient(request).provider_ref == "evt-1"


def test_secret_and_scheme_are_checked():
    with pytest.raises(ValueError, match="16 bytes"):
        WebhookNotification("https://hooks.example.org/x", b"short")
    with pytest.raises(ValueError, match="http or https"):
        WebhookNotification("file:///etc/passwd", SECRET)
    assert "0123456789" not in repr(WebhookNotification("https://hooks.example.org/x", SECRET))


# -- verify_signature -------------------------------------------------------------------------


def test_signature_outside_the_replay_window_is_expired():
    body = b'{"a":1}'
    header = sign(SECRET, int(NOW.timestamp()), body)
    verify_signature(SECRET, header, body, now=NOW + timedelta(seconds=299))
    with pytest.raises(WebhookSignatureError) as caught:
        verify_signature(SECRET, header, body, now=NOW + timedelta(seconds=301))
    assert caught.value.reason == "expired"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("garbage", "malformed"),
        ("t=abc,v1=00", "malformed"),
        ("v1=00", "malformed"),
        ("t=1,t=2,v1=00", "malformed"),
    ],
)
def test_bad_headers_are_refused(header: str | None, reason: str):
    with pytest.raises(WebhookSignatureError) as caught:
        verify_signature(SECRET, header, b"{}", now=NOW)
    assert caught.value.reason == reason


def test_a_rotated_secret_may_send_two_signatures():
    body = b"{}"
    t = int(NOW.timestamp())
    old = sign(b"an-older-secret-0000", t, body).rpartition("v1=")[2]
    header = f"{sign(SECRET, t, body)},v1={old}"
    assert verify_signature(SECRET, header, body, now=NOW) == t


@given(body=st.binary(max_size=200), tamper=st.binary(min_size=1, max_size=20))
@settings(max_examples=100, deadline=None)
def test_any_change_to_the_body_breaks_the_signature(body: bytes, tamper: bytes):
    header = sign(SECRET, int(NOW.timestamp()), body)
    assert verify_signature(SECRET, header, body, now=NOW)
    with pytest.raises(WebhookSignatureError, match="mismatch"):
        verify_signature(SECRET, header, body + tamper, now=NOW)


# -- Conformance ----------------------------------------------------------------------------------


@attrs.define
class WebhookFaults:
    receiver: Receiver

    def inject(self, capability: Capability, kind: Literal["transient", "permanent"]) -> None:
        assert capability == "notification"
        self.receiver.statuses.append(503 if kind == "transient" else 422)


class TestWebhookConforms(PluginConformance):
    @pytest.fixture
    def conformance_receiver(self) -> Iterator[Receiver]:
        rec = Receiver(clock=ManualClock(NOW))
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        yield rec
        server.shutdown()
        server.server_close()
        thread.join(5)

    @pytest.fixture
    def conformance_plugin(self, conformance_receiver: Receiver) -> WebhookPlugin:
        # Every operation enabled (loopback is allowed to carry PHI in tests).
        operations = frozenset({"alert_staff", "update_practice", "email_patient", "send_letter"})
        return WebhookPlugin(
            WebhookNotification(
                conformance_receiver.url,
                SECRET,
                clock=conformance_receiver.clock,
                operations=operations,
            )
        )

    @pytest.fixture
    def conformance_faults(self, conformance_receiver: Receiver) -> WebhookFaults:
        return WebhookFaults(conformance_receiver)
