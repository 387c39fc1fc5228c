"""Hook facade + retry policy vs bare pluggy + bare tenacity: ``python benchmarks/bench_hooks.py``.

Measures one outbound call to the in-memory fax adapter:

* referralkit: ``ReferralDesk.call(request)``: the typed ``Hooks`` facade picks the adapter by
  name, then the desk's prebuilt ``Retrying`` calls it with error classification;
* baseline: a bare ``pm.hook.referralkit_register_fax_adapters()`` call, then a bare prebuilt
  tenacity ``Retrying`` calling ``fax.send_fax(request)`` on the same adapter.

Goal: ratio <= 1.3x (referralkit adds little on top of its dependencies).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

from common import compare, report
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_none

from referralkit import ManualClock, MemoryStore, ReferralDesk, TransientAdapterError
from referralkit.adapters.memory import InMemoryPlugin
from referralkit.outbox import RetryPolicy
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.ports import FaxRequest, idempotency_key

GOAL = 1.3


def _loop(fn: Callable[[], object], loops: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(loops):
            fn()

    return run


def main(quick: bool = False) -> float:
    loops, repeats = (2_000, 9) if quick else (20_000, 9)
    clock = ManualClock(datetime(2025, 1, 6, 9, tzinfo=UTC))
    plugin = InMemoryPlugin.with_clock(clock)
    pm = make_plugin_manager([plugin], load_entrypoints=False)
    desk = ReferralDesk(
        store=MemoryStore(),
        clock=clock,
        hooks=Hooks(pm),
        retrying=RetryPolicy(attempts=3).build(),
        backends={"fax": "memory"},
    )
    referral_id = uuid4()
    request = FaxRequest(
        idempotency_key=idempotency_key(referral_id, "bench", 1),
        referral_id=referral_id,
        to="+15550001111",
        purpose="status_letter",
        recipient_name="Referring Family Medicine",
    )
    bare_retrying = Retrying(
        retry=retry_if_exception_type(TransientAdapterError),
        stop=stop_after_attempt(3),
        wait=wait_none(),
        reraise=True,
    )
    fax = plugin.fax

    def baseline() -> object:
        pm.hook.referralkit_register_fax_adapters()
        return bare_retrying(lambda: fax.send_fax(request))

    def referralkit() -> object:
        return desk.call(request)

    referralkit()  # warm up (first send records the contact; later ones are replays)
    baseline()
    # Interleaved rounds with the collector paused (common.compare): a noisy machine slows
    # both sides of a round alike.
    ours, base = compare(_loop(referralkit, loops), _loop(baseline, loops), loops, rounds=repeats)
    print("bench_hooks: one call to the in-memory fax adapter")
    return report(
        "Hooks facade + desk retry vs bare pluggy hook + Retrying", ours, base, goal=GOAL
    )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
