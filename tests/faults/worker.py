"""One sweeping worker for the fault-injection harness (run as a process, never imported).

    python tests/faults/worker.py CONFIG_JSON

It sweeps the shared store until the stop file appears, on a clock read from the shared time
file before every sweep, with a telephony adapter that appends every call it receives to the
shared contact log (one JSON line each, written with O_APPEND so lines never interleave). The
driver SIGKILLs it at random moments.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from referralkit import ManualClock, ReferralDesk
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.outbox import RetryPolicy
from referralkit.outreach.dispatch import OutreachSettings
from referralkit.plugins import Hooks, hookimpl, make_plugin_manager
from referralkit.ports import CallRequest, Receipt, SmsRequest
from referralkit.store import Store


def shared_now(path: Path) -> datetime:
    return datetime.fromtimestamp(int(path.read_text(encoding="ascii")), tz=UTC)


def open_store(config: dict[str, Any]) -> Store:
    if config["backend"] == "sqlite":
        from referralkit import SQLiteStore

        return SQLiteStore(config["db"])
    from referralkit.adapters.postgres import PostgresStore

    return PostgresStore(config["dsn"], schema=config["schema"])


class RecordingTelephony:
    """Logs every call it receives; with *dedupe*, a key seen before contacts nobody."""

    name = "rec"

    def __init__(self, config: dict[str, Any], clock: ManualClock, store: Store) -> None:
        self.log = config["log"]
        self.keys = config["keys_db"] if config["dedupe"] else None
        self.clock = clock
        self.store = store

    def _claim_seq(self, referral_id: Any, key: str) -> int:
        # Test-only: the queue or claim event this send follows (the latest one visible now).
        kinds = ("action_queued", "action_claimed")
        return max(
            (
                e.seq
                for e in self.store.events(referral_id)
                if e.kind in kinds and e.data.get("key") == key
            ),
            default=0,
        )

    def _record(self, request: CallRequest | SmsRequest) -> Receipt:
        duplicate = False
        if self.keys is not None:
            with sqlite3.connect(self.keys, timeout=30) as conn:
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO keys (key) VALUES (?)", (request.idempotency_key,)
                ).rowcount
            duplicate = inserted == 0
        line = {
            "key": request.idempotency_key,
            "referral": str(request.referral_id),
            "op": request.operation,
            "to": request.to,
            "at": self.clock.now().isoformat(),
            "claim_seq": self._claim_seq(request.referral_id, request.idempotency_key),
            "duplicate": duplicate,
            "pid": os.getpid(),
        }
        data = (json.dumps(line) + "\n").encode()
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return Receipt(
            idempotency_key=request.idempotency_key,
            provider_ref=f"rec-{os.getpid()}-{time.monotonic_ns()}",
            accepted_at=self.clock.now(),
            duplicate=duplicate,
        )

    def place_call(self, request: CallRequest) -> Receipt:
        return self._record(request)

    def send_sms(self, request: SmsRequest) -> Receipt:
        return self._record(request)


class RecordingPlugin:
    def __init__(self, telephony: RecordingTelephony) -> None:
        self.telephony = telephony

    @hookimpl
    def referralkit_register_telephony_adapters(self) -> list[RecordingTelephony]:
        return [self.telephony]


def main() -> None:
    config = json.loads(sys.argv[1])
    time_file = Path(config["time"])
    stop = Path(config["stop"])
    clock = ManualClock(shared_now(time_file))
    store = open_store(config)
    memory = InMemoryPlugin.with_clock(clock, sleep=lambda _s: None)
    recorder = RecordingPlugin(RecordingTelephony(config, clock, store))
    desk = ReferralDesk(
        store=store,
        clock=clock,
        hooks=Hooks(make_plugin_manager([memory, recorder], load_entrypoints=False)),
        retrying=RetryPolicy.no_wait(2),
        backends={"telephony": "rec", "notification": "memory", "fax": "memory"},
        outreach=OutreachSettings(
            worker=f"{config['name']}-{os.getpid()}",
            lease=timedelta(minutes=config["lease_minutes"]),
            non_deduping=frozenset() if config["dedupe"] else frozenset({"telephony"}),
        ),
    )
    Path(config["ready"]).touch()
    while not stop.exists():
        clock.set(shared_now(time_file))
        desk.sweep(routing=False)
        time.sleep(0.005)
    desk.close()


if __name__ == "__main__":
    main()
