from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from referralkit.adapters.hl7v2 import Hl7Inbox, MllpListener, MllpSender, frame, unframe
from referralkit.clock import ManualClock
from referralkit.errors import Hl7MessageError, TransientAdapterError

DATA = Path(__file__).parent / "data" / "hl7v2"
NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def ref_i12(control_id: str = "MSG00112") -> bytes:
    raw = (DATA / "REF-I12-01.hl7").read_bytes()
    return raw.replace(b"MSG00112", control_id.encode())


def test_frame_and_unframe_are_inverse():
    assert unframe(frame("MSH|x")) == b"MSH|x"
    with pytest.raises(Hl7MessageError):
        unframe(b"MSH|x")


def test_inbox_over_a_real_socket_answers_each_message():
    delivered: list[object] = []
    inbox = Hl7Inbox(deliver=delivered.append, clock=ManualClock(NOW))
    with MllpListener(inbox.handle) as listener:
        host, port = listener.address
        sender = MllpSender(host, port, ack_timeout=5.0)
        try:
            first = sender.send(ref_i12("C-1"))
            second = sender.send(ref_i12("C-2"))
            bad = sender.send(b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|C-3|P|2.5")
        finally:
            sender.close()
    assert (first.value("MSA", 1), first.value("MSA", 2)) == ("AA", "C-1")
    assert (second.value("MSA", 1), second.value("MSA", 2)) == ("AA", "C-2")
    assert (bad.value("MSA", 1), bad.value("ERR", 3, 1)) == ("AR", "200")
    assert len(delivered) == 2


def test_one_sender_keeps_one_connection():
    accepted: list[str] = []
    inbox = Hl7Inbox(deliver=lambda _m: None, clock=ManualClock(NOW))

    def handler(raw: bytes) -> str:
        accepted.append(str(threading.get_ident()))
        return inbox.handle(raw)

    with MllpListener(handler) as listener:
        sender = MllpSender(*listener.address)
        try:
            for n in range(5):
                assert sender.send(ref_i12(f"K-{n}")).value("MSA", 1) == "AA"
        finally:
            sender.close()
    # Every message was served on the same connection thread.
    assert len(accepted) == 5
    assert len(set(accepted)) == 1


def test_frames_split_across_reads_and_noise_between_them_are_handled():
    inbox = Hl7Inbox(deliver=lambda _m: None, clock=ManualClock(NOW))
    with (
        MllpListener(inbox.handle) as listener,
        socket.create_connection(listener.address, timeout=5) as sock,
    ):
        data = b"noise" + frame(ref_i12("S-1")) + frame(ref_i12("S-2"))
        for i in range(0, len(data), 100):
            sock.sendall(data[i : i + 100])
        received = b""
        while received.count(b"\x1c\r") < 2:
            chunk = sock.recv(65536)
            assert chunk
            received += chunk
    assert b"MSA|AA|S-1" in received
    assert b"MSA|AA|S-2" in received


def test_ack_timeout_is_transient_and_retried_with_backoff():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)  # so the thread notices stop promptly
    connections: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_stay_silent() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connections.append(conn)

    thread = threading.Thread(target=accept_and_stay_silent, daemon=True)
    thread.start()
    pauses: list[float] = []
    sender = MllpSender(
        *server.getsockname()[:2], ack_timeout=0.2, attempts=3, backoff=0.5, sleep=pauses.append
    )
    try:
        with pytest.raises(TransientAdapterError, match="3 attempts"):
            sender.send(ref_i12())
    finally:
        stop.set()
        server.close()
        thread.join(5)
        for conn in connections:
            conn.close()
    assert pauses == [0.5, 1.0]
    assert len(connections) == 3, "each retry reconnects"


def test_refused_connection_is_transient():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    sender = MllpSender("127.0.0.1", port, attempts=2, sleep=lambda _s: None)
    with pytest.raises(TransientAdapterError):
        sender.send(ref_i12())


def test_sender_reconnects_after_the_listener_restarts():
    inbox = Hl7Inbox(deliver=lambda _m: None, clock=ManualClock(NOW))
    listener = MllpListener(inbox.handle).start()
    host, port = listener.address
    sender = MllpSender(host, port, ack_timeout=2.0, attempts=5, sleep=lambda _s: None)
    try:
        assert sender.send(ref_i12("R-1")).value("MSA", 1) == "AA"
        listener.stop()
        listener = MllpListener(inbox.handle, host=host, port=port).start()
        assert sender.send(ref_i12("R-2")).value("MSA", 1) == "AA"
    finally:
        sender.close()
        listener.stop()


def test_a_raising_handler_closes_the_connection_without_logging_the_message(caplog):
    def handler(raw: bytes) -> str:
        raise ValueError(raw.decode())  # a careless handler quoting the message

    with MllpListener(handler) as listener:
        sender = MllpSender(*listener.address, ack_timeout=1.0, attempts=1)
        with pytest.raises(TransientAdapterError):
            sender.send(ref_i12("X-1"))
    assert "EVERYMAN" not in caplog.text
    assert "ValueError" in caplog.text
