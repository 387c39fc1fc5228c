"""MLLP (minimal lower layer protocol): the TCP framing HL7 v2 feeds use.

A message travels as ``0x0B`` + message + ``0x1C 0x0D``. :class:`MllpListener` accepts
connections on a thread each and answers every frame with what its handler returns (an
:class:`~referralkit.adapters.hl7v2.Hl7Inbox` answers with the ACK). :class:`MllpSender` keeps
one connection to one peer, sends one message at a time, waits for the ACK with a timeout,
and reconnects with exponential back-off; a timeout or a dropped connection is a
:class:`~referralkit.errors.TransientAdapterError`, so the desk's retry policy can retry it
(the receiver answers a repeated MSH-10 without applying it twice).

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Final

import attrs

from referralkit.adapters.hl7v2.message import Hl7Message, parse_message
from referralkit.errors import Hl7MessageError, PermanentAdapterError, TransientAdapterError

__all__ = ["END_BLOCK", "START_BLOCK", "MllpListener", "MllpSender", "frame", "unframe"]

START_BLOCK: Final = b"\x0b"
"""The byte that opens an MLLP frame."""
END_BLOCK: Final = b"\x1c\r"
"""The two bytes that close an MLLP frame."""
MAX_FRAME_BYTES: Final = 4_000_000
_log = logging.getLogger("referralkit.hl7v2.mllp")


def frame(message: str | bytes) -> bytes:
    """Return *message* framed for MLLP (text is encoded as UTF-8)."""
    body = message.encode("utf-8") if isinstance(message, str) else message
    return START_BLOCK + body + END_BLOCK


def unframe(data: bytes) -> bytes:
    """Return the message inside one complete MLLP frame.

    :raises Hl7MessageError: ``AR`` when *data* is not exactly one frame.
    """
    if not data.startswith(START_BLOCK) or not data.endswith(END_BLOCK):
        raise Hl7MessageError("not an MLLP frame", ack_code="AR", error_code=100)
    return data[1:-2]


@attrs.define
class _Frames:
    """Collects bytes from a stream and cuts them into frames."""

    limit: int = MAX_FRAME_BYTES
    buffer: bytearray = attrs.field(factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        frames: list[bytes] = []
        while True:
            start = self.buffer.find(START_BLOCK)
            if start < 0:
                self.buffer.clear()  # bytes outside a frame are noise: drop them
                return frames
            end = self.buffer.find(END_BLOCK, start + 1)
            if end < 0:
                if len(self.buffer) - start > self.limit:
                    raise Hl7MessageError("the frame is too large", ack_code="AR")
                del self.buffer[:start]
                return frames
            frames.append(bytes(self.buffer[start + 1 : end]))
            del self.buffer[: end + 2]


@attrs.define
class MllpListener:
    """Accept MLLP connections and answer each framed message with ``handler(message)``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. Each connection gets a
    thread; a connection idle for *idle_timeout* seconds is closed.

    :ivar handler: takes the unframed message bytes and returns the answer (the ACK).
    :ivar port: ``0`` picks a free port; :attr:`address` tells which.

    .. versionadded:: 0.1
    """

    handler: Callable[[bytes], str | bytes]
    host: str = "127.0.0.1"
    port: int = 0
    idle_timeout: float = 60.0
    max_frame_bytes: int = MAX_FRAME_BYTES
    _server: socket.socket | None = attrs.field(default=None, init=False)
    _threads: list[threading.Thread] = attrs.field(factory=list, init=False)
    _connections: set[socket.socket] = attrs.field(factory=set, init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)
    _stopping: threading.Event = attrs.field(factory=threading.Event, init=False)

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)``.

        :raises RuntimeError: the listener is not started.
        """
        if self._server is None:
            raise RuntimeError("the listener is not started")
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> MllpListener:
        """Bind, listen and start accepting on a background thread; return ``self``."""
        server = socket.create_server((self.host, self.port))
        server.settimeout(0.2)  # so the accept loop notices stop() promptly
        self._server = server
        self._stopping.clear()
        thread = threading.Thread(target=self._accept_loop, name="mllp-accept", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection and wait for the threads to end."""
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        with self._lock:
            for conn in list(self._connections):
                _close(conn)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self._server = None

    def __enter__(self) -> MllpListener:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        server = self._server
        assert server is not None  # noqa: S101 - set by start() before this thread runs
        while not self._stopping.is_set():
            try:
                conn, _peer = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the socket was closed by stop()
            conn.settimeout(self.idle_timeout)
            with self._lock:
                self._connections.add(conn)
            thread = threading.Thread(
                target=self._serve, args=(conn,), name="mllp-conn", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        frames = _Frames(self.max_frame_bytes)
        try:
            while not self._stopping.is_set():
                data = conn.recv(65536)
                if not data:
                    return
                for message in frames.feed(data):
                    answer = self.handler(message)
                    conn.sendall(frame(answer))
        except (OSError, Hl7MessageError) as exc:
            _log.info("MLLP connection closed: %s", type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - one bad handler call must not kill the thread
            # By type only: the handler's message may quote the HL7 message (PHI). The peer
            # gets no ACK, times out and retries, which is what it would do if we crashed.
            _log.error("MLLP handler raised %s; connection closed", type(exc).__name__)
        finally:
            with self._lock:
                self._connections.discard(conn)
            _close(conn)


def _close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()


@attrs.define
class MllpSender:
    """Send messages to one peer over one MLLP connection, waiting for each ACK.

    Keep one sender per peer: it holds exactly one connection and sends one message at a time
    (a lock orders concurrent callers), as MLLP peers expect.

    :ivar ack_timeout: seconds to wait for the ACK before the try counts as failed.
    :ivar attempts: tries per message (connection, send and ACK), with back-off between.
    :ivar backoff: the first pause in seconds; it doubles up to *max_backoff*.
    :ivar sleep: how to pause (tests pass a recorder that does not wait).

    .. versionadded:: 0.1
    """

    host: str
    port: int
    ack_timeout: float = 10.0
    connect_timeout: float = 5.0
    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    name: str = "mllp"
    _sock: socket.socket | None = attrs.field(default=None, init=False)
    _frames: _Frames = attrs.field(factory=_Frames, init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def send(self, message: str | bytes) -> Hl7Message:
        """Send one message and return its parsed ACK.

        :raises TransientAdapterError: no ACK after every attempt (refused connection,
            dropped connection, ACK timeout); the message may or may not have arrived.
        :raises PermanentAdapterError: the answer is not an HL7 message.
        """
        data = frame(message)
        with self._lock:
            for attempt in range(1, self.attempts + 1):
                try:
                    answer = self._exchange(data)
                except OSError as exc:
                    self._disconnect()
                    _log.info("MLLP send attempt %d failed: %s", attempt, type(exc).__name__)
                    if attempt == self.attempts:
                        raise TransientAdapterError(
                            f"no ACK from the peer after {attempt} attempts "
                            f"({type(exc).__name__})",
                            adapter=self.name,
                            operation="send",
                        ) from None
                    self.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
                    continue
                try:
                    return parse_message(answer)
                except Hl7MessageError as exc:
                    raise PermanentAdapterError(
                        f"the peer's answer is not an HL7 message ({exc.reason})",
                        adapter=self.name,
                        operation="send",
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def close(self) -> None:
        """Close the connection (the next send reconnects)."""
        with self._lock:
            self._disconnect()

    def _exchange(self, data: bytes) -> bytes:
        if self._sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
            self._sock = sock
            self._frames = _Frames()
        sock = self._sock
        sock.settimeout(self.ack_timeout)
        sock.sendall(data)
        deadline = time.monotonic() + self.ack_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("ACK timeout")
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("the peer closed the connection")
            try:
                frames = self._frames.feed(chunk)
            except Hl7MessageError:
                raise ConnectionAbortedError("oversized frame") from None
            if frames:
                return frames[0]

    def _disconnect(self) -> None:
        if self._sock is not None:
            _close(self._sock)
            self._sock = None
