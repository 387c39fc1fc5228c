"""Integrity: what full verification and recorded creations cost, as ratios.

* ``verify_referral`` (row columns, stored-bytes chain, replay through the lifecycle, seal) on
  SQLite, against the chain-only check it replaced (decode the row and events, check hashes).
* ``created()`` with the new referral recorded in its event, against building the same event
  without it (what 0.1 wrote).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import START, SYSTEM, compare, report, sample_referral

from referralkit.adapters.sqlite import SQLiteStore
from referralkit.desk import ReferralDesk
from referralkit.events import GENESIS_HASH, make_event, verify_history
from referralkit.integrity import Keyring, verify_referral
from referralkit.lifecycle import created
from referralkit.model import Actor, ActorKind, Role

CLINICIAN = Actor(kind=ActorKind.HUMAN, id="dr", role=Role.CLINICIAN)
SCHEDULER = Actor(kind=ActorKind.HUMAN, id="sched", role=Role.SCHEDULER)


def verify_costs(n: int, tmp: Path, keyring: Keyring | None) -> tuple[float, float]:
    store = SQLiteStore(tmp / f"verify-{keyring is not None}.db", keyring=keyring)
    ids = []
    with ReferralDesk(store=store) as desk:
        for i in range(n):
            rid = desk.create(sample_referral(i), actor=SYSTEM).id
            desk.fire(rid, "accept", actor=CLINICIAN)
            desk.fire(rid, "require_auth", actor=SCHEDULER)
            desk.amend(rid, "note_added", actor=SCHEDULER, update={"flags": ("n",)})
            ids.append(rid)
        reader = SQLiteStore(tmp / f"verify-{keyring is not None}.db")

        def ours() -> None:
            for rid in ids:
                verify_referral(reader, rid, keyring=keyring)

        def baseline() -> None:
            for rid in ids:
                referral = reader.get(rid)
                verify_history(
                    reader.events(rid),
                    expected_count=referral.version,
                    expected_head=referral.history_hash,
                )

        result = compare(ours, baseline, n, rounds=5)
        reader.close()
    return result


def created_costs(n: int) -> tuple[float, float]:
    referrals = [sample_referral(i) for i in range(n)]

    def ours() -> None:
        for referral in referrals:
            created(referral, SYSTEM, START)

    def baseline() -> None:
        for referral in referrals:
            event = make_event(
                referral_id=referral.id,
                seq=1,
                at=START,
                actor=SYSTEM,
                kind="created",
                from_state=None,
                to_state=referral.status,
                data={},
                prev_hash=GENESIS_HASH,
            )
            referral.model_copy(
                update={
                    "version": 1,
                    "created_at": START,
                    "updated_at": START,
                    "history_hash": event.hash,
                }
            )

    return compare(ours, baseline, n)


def main(quick: bool = False) -> dict[str, float]:
    """Run the integrity benchmarks and print ratios; return them by name."""
    n = 200 if quick else 1_000
    print(f"== integrity ({'quick' if quick else 'full'}) ==")
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ours, base = verify_costs(n, tmp, None)
        results["verify"] = report("verify_referral (4 events, SQLite) vs chain-only", ours, base)
        keyring = Keyring({"k": b"k" * 32}, current="k")
        ours, base = verify_costs(n, tmp, keyring)
        results["verify_keyed"] = report(
            "  with a keyring (seal checked) vs chain-only", ours, base
        )
    ours, base = created_costs(n * 5)
    results["created"] = report("created() recording the referral vs without", ours, base)
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
