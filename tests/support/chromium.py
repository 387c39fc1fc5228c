"""Drive Debian's headless Chromium over the DevTools protocol (no browser download).

:func:`open_page` loads a URL in a fresh profile and returns what a test checks: console
errors, uncaught exceptions, the value of a JavaScript expression and a PNG screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--remote-debugging-port=0",
)


def chromium_or_skip() -> str:
    """Return the Chromium executable, or skip the test saying how to get one."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on PATH: install Debian's package (apt-get install -y chromium)")
    raise AssertionError  # pragma: no cover - skip raises


@attrs.frozen
class Page:
    console_errors: list[str]
    exceptions: list[str]
    value: Any
    screenshot: bytes


def open_page(url: str, expression: str, *, timeout: float = 30.0) -> Page:
    """Load *url*, wait for its load event, evaluate *expression*, take a screenshot."""
    websocket = pytest.importorskip("websocket", reason="websocket-client missing (dev extra)")
    executable = chromium_or_skip()
    with tempfile.TemporaryDirectory(prefix="rk-chromium-") as profile:
        process = subprocess.Popen(  # noqa: S603 - fixed flags, a local file URL
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stderr=subprocess.PIPE,
            text=True,
        )
        drain = threading.Thread(target=process.stderr.read, daemon=True)  # type: ignore[union-attr]
        try:
            endpoint = _endpoint(process, timeout)
            # Keep reading stderr so a chatty browser never blocks on a full pipe.
            drain.start()
            conn = websocket.create_connection(endpoint, timeout=timeout)
            try:
                return _drive(conn, url, expression, timeout)
            finally:
                conn.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a wedged browser
                process.kill()
                process.wait()
            if drain.is_alive() or drain.ident is not None:
                drain.join(timeout=10)
            if process.stderr is not None:
                process.stderr.close()


def _endpoint(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        if found:
            return found.group(1)
    pytest.fail("chromium did not start its DevTools endpoint")
    raise AssertionError  # pragma: no cover


def _drive(conn: Any, url: str, expression: str, timeout: float) -> Page:
    ids = itertools.count(1)
    events: list[dict[str, Any]] = []

    def call(method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        message_id = next(ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        conn.send(json.dumps(message))
        while True:
            reply = json.loads(conn.recv())
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            events.append(reply)

    target = call("Target.createTarget", url="about:blank")["targetId"]
    session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        call(f"{domain}.enable", session)
    call("Page.navigate", session, url=url)
    deadline = time.monotonic() + timeout
    while not any(e.get("method") == "Page.loadEventFired" for e in events):
        if time.monotonic() > deadline:
            pytest.fail("the page did not finish loading")
        events.append(json.loads(conn.recv()))
    value = call("Runtime.evaluate", session, expression=expression, returnByValue=True)
    shot = call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
    console_errors = [
        " ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])
        for e in events
        if e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error"
    ] + [
        str(e["params"]["entry"].get("text"))
        for e in events
        if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
    ]
    exceptions = [
        str(e["params"]["exceptionDetails"].get("text"))
        for e in events
        if e.get("method") == "Runtime.exceptionThrown"
    ]
    return Page(
        console_errors=console_errors,
        exceptions=exceptions,
        value=value.get("result", {}).get("value"),
        screenshot=base64.b64decode(shot["data"]),
    )


def artifacts_dir() -> Path:
    """Return the CI artifacts directory ($REFERRALKIT_ARTIFACTS or build/artifacts)."""
    import os

    root = Path(os.environ.get("REFERRALKIT_ARTIFACTS", "build/artifacts"))
    root.mkdir(parents=True, exist_ok=True)
    return root
