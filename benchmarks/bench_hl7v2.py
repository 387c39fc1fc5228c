"""Reading REF^I12 messages vs a bare python-hl7 parse of the same messages.

Ours: :func:`referralkit.adapters.hl7v2.read_message` of a REF^I12 (envelope checks, the
python-hl7 parse, mapping PID/PRD/RF1/DG1/IN1 into an intake payload, and the same intake
validation a phone call gets, ending in a :class:`~referralkit.Referral`), and the whole
:class:`~referralkit.adapters.hl7v2.Hl7Inbox` round (read, deliver, build the ACK).

Baseline, measured in the same run: ``hl7.parse`` of the same text. Goal: read_message <= 2x.

The messages are distinct (built from distinct synthetic referrals), so no cache helps.

Run: ``python benchmarks/bench_hl7v2.py [--quick]``.
"""

from __future__ import annotations

import statistics
import sys
from datetime import UTC, datetime

import hl7
from common import compare, report, sample_referral

from referralkit.adapters.hl7v2 import Endpoint, Hl7Inbox, ReferralRequest, build_ref, read_message
from referralkit.clock import ManualClock

CLOCK = ManualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
SENDER, RECEIVER = Endpoint("EHR", "MAPLE"), Endpoint("REFERRALKIT", "LAKESIDE")


def messages(n: int) -> list[str]:
    return [
        build_ref(
            sample_referral(i),
            sender=SENDER,
            receiver=RECEIVER,
            now=CLOCK.now(),
            control_id=f"B{i}",
        )
        for i in range(n)
    ]


def main(quick: bool = False) -> dict[str, float]:
    # python-hl7 parses a ~530-character REF^I12 in ~1-2 ms, so 10,000 messages take a while.
    n, rounds = (1000, 5) if quick else (10_000, 3)
    items = messages(n)
    for text in items:  # every message reads to a complete referral, outside the timing
        message = read_message(text, clock=CLOCK)
        assert isinstance(message, ReferralRequest)
        assert message.complete, (message.result.missing, message.result.issues)

    def ours() -> None:
        for text in items:
            read_message(text, clock=CLOCK)

    def baseline() -> None:
        for text in items:
            hl7.parse(text)

    inbox = Hl7Inbox(deliver=lambda _m: None, clock=CLOCK, remember=0)

    few = items[:1000]

    def inbox_round() -> None:
        for text in few:
            inbox.handle(text)

    def baseline_few() -> None:
        for text in few:
            hl7.parse(text)

    mine, base = compare(ours, baseline, n, rounds)
    print(f"hl7v2: {n} distinct REF^I12 messages (~{sum(map(len, items)) // n} chars each)")
    ratio = report("read_message (parse+map+intake) vs hl7.parse", mine, base, goal=2.0)
    full, base2 = compare(inbox_round, baseline_few, len(few), rounds)
    report("Hl7Inbox.handle (read+deliver+ACK) vs hl7.parse", full, base2)
    return {
        "ratio": ratio,
        "ours_us": statistics.median(mine) * 1e6,
        "baseline_us": statistics.median(base) * 1e6,
    }


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
