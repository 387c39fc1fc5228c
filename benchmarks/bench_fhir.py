"""FHIR export (and import) vs a bare fhir.resources construction of the same resources.

Ours: ``export_referral`` of a complete referral (patient, two practices, a provider,
coverage, an appointment on every other referral): building the transaction Bundle's JSON
(crosswalk, identifiers, conditional-create keys, references) and validating it with
fhir.resources' R4B models.

Baseline, measured in the same run: ``Bundle.model_validate`` of the very same bundle JSON,
prepared beforehand: what fhir.resources alone costs to construct those resources. Goal:
ratio <= 2x per referral.

A second figure reads the bundles back (``read_service_request``: validation, reference
resolution, then the phone intake's normalisation of every field) against the same bare
validation; it has no goal, and shows what intake's checks add.

Run: ``python benchmarks/bench_fhir.py [--quick]`` (10,000 referrals; 3,000 with --quick).
"""

from __future__ import annotations

import statistics
import sys
from datetime import timedelta

from common import START, compare, report, sample_referral

from referralkit.adapters.fhir import export_referral, read_service_request
from referralkit.adapters.fhir._validate import model_class
from referralkit.adapters.fhir.export import build_bundle
from referralkit.clock import ManualClock
from referralkit.model import Appointment, Referral, ReferralStatus


def _referrals(count: int) -> list[Referral]:
    referrals = []
    for i in range(count):
        referral = sample_referral(
            i, ReferralStatus.SCHEDULED if i % 2 else ReferralStatus.ACCEPTED
        )
        if i % 2:
            appointment = Appointment(start=START + timedelta(days=3 + i % 20))
            referral = referral.model_copy(update={"appointments": (appointment,)})
        referrals.append(referral)
    return referrals


def main(quick: bool = False) -> None:
    count = 3_000 if quick else 10_000
    referrals = _referrals(count)
    bundles = [build_bundle(r, recorded_at=START) for r in referrals]
    bundle_model = model_class("Bundle")

    # fhir.resources validates ~100 bundles/s here, so each side runs every referral once:
    # in chunks of 1,000, interleaved (ours, baseline, next chunk...), and the figure is the
    # median over chunks. Interleaving keeps both sides under the same load on a shared box.
    chunk = 1_000 if count >= 1_000 else count
    rounds = count // chunk
    turn = {"ours": 0, "bare": 0}

    def ours() -> None:
        start = (turn["ours"] % rounds) * chunk
        turn["ours"] += 1
        for referral in referrals[start : start + chunk]:
            export_referral(referral, recorded_at=START)

    def bare() -> None:
        start = (turn["bare"] % rounds) * chunk
        turn["bare"] += 1
        for bundle in bundles[start : start + chunk]:
            bundle_model.model_validate(bundle)

    print(f"FHIR export of {count:,} referrals ({len(bundles[1]['entry'])} resources each)")
    mine, base = compare(ours, bare, chunk, rounds=max(rounds, 3))
    report("export_referral vs bare Bundle.model_validate", mine, base, goal=2.0)
    print(f"  {1 / statistics.median(mine):,.0f} referrals/s exported on one core")

    clock = ManualClock(START)
    sample = bundles[: max(count // 10, 100)]

    def read() -> None:
        for bundle in sample:
            read_service_request(bundle, clock=clock)

    def bare_sample() -> None:
        for bundle in sample:
            bundle_model.model_validate(bundle)

    mine, base = compare(read, bare_sample, len(sample), rounds=3)
    report("read_service_request (intake included) vs bare validation", mine, base)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
