"""The directory: loading and validation, track records, the ranking, and sent-side figures."""

from __future__ import annotations

import itertools
import math
import random
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referralkit.directory import (
    Directory,
    GeoPoint,
    NetworkStatus,
    RankPolicy,
    Receiver,
    SentReferralFacts,
    distance_km,
    out_of_network_rate,
    rank_receivers,
    standings,
    track_records,
)
from referralkit.errors import DirectoryError
from referralkit.model import Priority

T0 = datetime(2026, 2, 2, 9, tzinfo=UTC)
DAY = timedelta(days=1)
CHICAGO = GeoPoint(41.8781, -87.6298)
KM_PER_DEGREE_LAT = math.pi / 180 * 6371.0088


def with_check_digit(nine: str) -> str:
    """An NPI from its first nine digits: Luhn over 80840 + the digits (computed here)."""
    total = 0
    for i, ch in enumerate(reversed("80840" + nine)):
        d = int(ch)
        if i % 2 == 0:  # these digits are doubled once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return nine + str((10 - total % 10) % 10)


def north(km: float) -> dict[str, float]:
    """A location *km* due north of Chicago."""
    return {"lat": CHICAGO.lat + km / KM_PER_DEGREE_LAT, "lon": CHICAGO.lon}


def receiver(rid: str, *, network: str = "in", km: float | None = 5.0, **extra: Any) -> dict:
    entry: dict[str, Any] = {
        "id": rid,
        "name": f"Receiver {rid}",
        "kind": "practice",
        "npi": with_check_digit(f"1{zlib.crc32(rid.encode()) % 10**8:08d}"),
        "specialties": ["Cardiology"],
        "network": {"status": network, "source": "Acme provider file", "as_of": date(2026, 1, 5)},
        "payers": ["Acme Health", "Medicare"],
        "locations": [north(km)] if km is not None else [],
    }
    entry.update(extra)
    return entry


TOML = """
[[receiver]]
id = "north-cardiology"
name = "North Cardiology"
kind = "practice"
npi = "1234567893"
specialties = ["Cardiology", "Electrophysiology"]
payers = ["Acme Health"]
network = { status = "in", source = "Acme provider file", as_of = 2026-01-05 }
locations = [{ name = "Main Street", lat = 41.90, lon = -87.63 }]

[[receiver]]
id = "dr-osei"
name = "Dr. Osei"
kind = "specialist"
npi = "1245319599"
specialties = ["cardiology"]
practice_id = "north-cardiology"
network = { status = "out", source = "contract list", as_of = 2025-11-30 }
"""


def test_a_toml_directory_loads_with_specialties_and_payers_compared_without_case() -> None:
    directory = Directory.from_toml(TOML)
    assert len(directory) == 2
    cardio = directory.get("north-cardiology")
    assert cardio is not None
    assert cardio.specialties == ("cardiology", "electrophysiology")
    assert cardio.offers(" CARDIOLOGY ")
    assert cardio.accepts("acme health")
    assert cardio.network.status is NetworkStatus.IN
    assert cardio.network.as_of == date(2026, 1, 5)
    assert "dr-osei" in directory
    assert directory.get("nobody") is None


def test_a_toml_file_loads_too(tmp_path: Path) -> None:
    path = tmp_path / "receivers.toml"
    path.write_text(TOML, encoding="utf-8")
    assert [r.id for r in Directory.from_toml(path)] == ["north-cardiology", "dr-osei"]


def test_every_problem_names_the_entry_and_field_never_the_value() -> None:
    bad_npi = receiver("north", npi="1234567890")  # check digit should be 3
    no_date = receiver("south")
    del no_date["network"]["as_of"]
    unnamed = receiver("x")
    del unnamed["id"]
    with pytest.raises(DirectoryError) as caught:
        Directory.of([bad_npi, no_date, unnamed, receiver("north")])
    error = caught.value
    assert error.problems == (
        ("north", "npi", "Value error, not a valid NPI (10 digits starting with 1 or 2, "
                         "Luhn check digit)"),
        ("south", "network.as_of", "Field required"),
        ("#2", "id", "Field required"),
    )  # fmt: skip
    assert "1234567890" not in str(error)
    assert str(error).startswith("<python>: receiver 'north', npi: Value error, not a valid NPI")


def test_duplicate_ids_and_unknown_keys_are_refused() -> None:
    with pytest.raises(DirectoryError, match="receiver 'a', id: another receiver has this id"):
        Directory.of([receiver("a"), receiver("a", km=9)])
    with pytest.raises(DirectoryError, match="directory, receivers: unknown key"):
        Directory.from_mapping({"receivers": []})
    with pytest.raises(DirectoryError, match=r"receiver 'a', locations\.0\.lat"):
        Directory.of([receiver("a", locations=[{"lat": 91, "lon": 0}])])


def test_unreadable_toml_names_the_line_not_the_text() -> None:
    with pytest.raises(DirectoryError, match=r"not valid TOML.*line 2") as caught:
        Directory.from_toml('[[receiver]]\nid = "unterminated\n')
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


@given(st.integers(min_value=1, max_value=2), st.text("0123456789", min_size=8, max_size=8))
def test_an_npi_with_its_luhn_check_digit_loads_and_any_single_digit_change_is_refused(
    first: int, rest: str
) -> None:
    npi = with_check_digit(f"{first}{rest}")
    assert Directory.of([receiver("r", npi=npi)]).receivers[0].npi == npi
    for position in range(10):
        for digit in "0123456789":
            if digit == npi[position]:
                continue
            changed = npi[:position] + digit + npi[position + 1 :]
            with pytest.raises(DirectoryError, match="receiver 'r', npi"):
                Directory.of([receiver("r", npi=changed)])


def sent(
    rid: str,
    *,
    accepted: float | None = None,
    declined: float | None = None,
    appointment: float | None = None,
    seen: float | None = None,
    report: float | None = None,
    redirected_to: str | None = None,
    at: datetime = T0,
    specialty: str = "cardiology",
) -> SentReferralFacts:
    """A sent referral; each step given in days after sending."""

    def when(days: float | None) -> datetime | None:
        return at + days * DAY if days is not None else None

    return SentReferralFacts(
        referral_id=uuid4(),
        receiver_id=rid,
        specialty=specialty,
        sent_at=at,
        delivered_at=at + timedelta(minutes=2),
        accepted_at=when(accepted),
        declined_at=when(declined),
        decline_reason="no_capacity" if declined is not None else None,
        first_appointment_at=when(appointment),
        seen_at=when(seen),
        report_received_at=when(report),
        redirected_to=redirected_to,
    )


def test_track_record_by_hand() -> None:
    records = track_records(
        [
            sent("a", accepted=1, appointment=10, seen=10, report=13),
            sent("a", accepted=2, appointment=20, seen=20),
            sent("a", declined=1, redirected_to="b"),
            sent("a", redirected_to="b"),  # never answered
            sent("a"),  # still waiting: not decided
            sent("b", accepted=0.5, specialty="Dermatology"),
        ]
    )
    a = records["a"]
    assert (a.sent, a.accepted, a.declined, a.unanswered_redirects, a.decided) == (5, 2, 1, 1, 4)
    assert a.acceptance_rate == 0.5
    assert a.wait_to_first_appointment.count == 2
    assert (a.median_wait_days, a.p90_wait_days) == (15.0, 20.0)
    assert (a.seen, a.reports_returned, a.report_return_rate) == (2, 1, 0.5)
    assert a.median_report_days == 3.0
    assert records["b"].report_return_rate is None
    assert set(track_records([sent("b", specialty="Dermatology")], specialty="dermatology"))


def test_track_records_filter_by_specialty() -> None:
    facts = [sent("a", specialty="Cardiology"), sent("b", specialty="dermatology")]
    assert list(track_records(facts, specialty="cardiology")) == ["a"]


def test_sent_facts_need_aware_instants() -> None:
    with pytest.raises(ValueError, match="sent_at must be timezone-aware"):
        SentReferralFacts(uuid4(), "a", "cardiology", datetime(2026, 1, 1))


def four_receivers() -> Directory:
    return Directory.of(
        [
            receiver("a-in-near", km=2),
            receiver("b-in-far", km=25),
            receiver("c-out-near", network="out", km=1),
            receiver("d-other-payer", km=1, payers=["Medicare"]),
            receiver("e-dermatology", km=1, specialties=["dermatology"]),
        ]
    )


def test_a_routine_referral_ranks_network_then_distance() -> None:
    ranking = rank_receivers(
        four_receivers(),
        specialty="cardiology",
        urgency=Priority.ROUTINE,
        payer="Acme Health",
        patient=CHICAGO,
    )
    assert [(r.rank, r.receiver.id, r.decided_by) for r in ranking.ranked] == [
        (1, "a-in-near", None),
        (2, "b-in-far", "distance"),
        (3, "c-out-near", "network"),
    ]
    assert [(e.receiver_id, e.factor) for e in ranking.excluded] == [("d-other-payer", "payer")]
    best = ranking.best
    assert best is not None
    assert best.distance_km == pytest.approx(2.0)
    texts = {r.factor: r.text for r in best.reasons}
    assert texts["network"] == "in network (Acme provider file, as of 2026-01-05)"
    assert texts["payer"] == "accepts Acme Health"
    assert texts["distance"] == "nearest location 2.0 km away, in the 0-10 km band"
    assert texts["acceptance"].startswith("acceptance unknown (fewer than 5 decided")


def test_an_urgent_referral_weighs_the_wait_before_the_distance() -> None:
    history = [sent("b-in-far", accepted=1, appointment=3, seen=3, report=5)] * 5
    history += [sent("a-in-near", accepted=1, appointment=20, seen=20, report=21)] * 5
    track = track_records(history)
    kwargs: dict[str, Any] = {"specialty": "cardiology", "payer": "Acme Health"}
    kwargs.update(patient=CHICAGO, track=track)
    urgent = rank_receivers(four_receivers(), urgency=Priority.URGENT, **kwargs)
    assert [(r.receiver.id, r.decided_by) for r in urgent.ranked] == [
        ("b-in-far", None),
        ("a-in-near", "wait"),
        ("c-out-near", "network"),
    ]
    waits = [r.text for r in urgent.ranked[0].reasons if r.factor == "wait"]
    assert waits == [
        "median wait to a first appointment 3.0 days over 5 referrals, in the 0-7 day band",
        "urgent: the wait is weighed before the distance",
    ]
    routine = rank_receivers(four_receivers(), urgency=Priority.ROUTINE, **kwargs)
    assert [r.receiver.id for r in routine.ranked] == ["a-in-near", "b-in-far", "c-out-near"]


def test_within_the_same_bands_acceptance_then_report_return_then_distance_then_id() -> None:
    directory = Directory.of(
        [receiver("p", km=3), receiver("q", km=4), receiver("r", km=4), receiver("s", km=4)]
    )
    history = [sent("q", accepted=1)] * 4 + [sent("q", declined=1)]  # 80%
    history += [sent("p", accepted=1)] * 3 + [sent("p", declined=1)] * 2  # 60%
    ranking = rank_receivers(
        directory,
        specialty="cardiology",
        urgency=Priority.ROUTINE,
        patient=CHICAGO,
        track=track_records(history),
    )
    assert [(r.receiver.id, r.decided_by) for r in ranking.ranked] == [
        ("q", None),
        ("p", "acceptance"),  # 60% is above the 50% assumed for r and s
        ("r", "acceptance"),
        ("s", "id"),  # same place, no history: the id decides
    ]


def test_without_a_patient_location_distances_are_unknown_and_a_maximum_excludes() -> None:
    directory = four_receivers()
    ranking = rank_receivers(directory, specialty="cardiology", urgency=Priority.ROUTINE,
                             patient=None)  # fmt: skip
    assert all(r.distance_km is None for r in ranking.ranked)
    assert [r.receiver.id for r in ranking.ranked][:3] == [
        "a-in-near",
        "b-in-far",
        "d-other-payer",
    ]
    near = rank_receivers(directory, specialty="cardiology", urgency=Priority.ROUTINE,
                          patient=CHICAGO, max_distance_km=10)  # fmt: skip
    assert [e.receiver_id for e in near.excluded] == ["b-in-far"]


def test_a_patient_location_never_shows_in_a_repr() -> None:
    assert repr(CHICAGO) == "GeoPoint(<masked>)"
    ranking = rank_receivers(
        four_receivers(), specialty="cardiology", urgency=Priority.ROUTINE, patient=CHICAGO
    )
    assert "41.87" not in repr(ranking)


def test_distance_is_the_great_circle_distance() -> None:
    assert distance_km(CHICAGO, GeoPoint(CHICAGO.lat + 1, CHICAGO.lon)) == pytest.approx(
        KM_PER_DEGREE_LAT
    )
    with pytest.raises(ValueError, match="latitude"):
        GeoPoint(90.5, 0)


@st.composite
def directories_and_history(draw: st.DrawFn) -> tuple[list[dict], list[SentReferralFacts]]:
    n = draw(st.integers(min_value=0, max_value=12))
    entries = []
    for i in range(n):
        km = draw(st.one_of(st.none(), st.floats(min_value=0, max_value=80)))
        entry = receiver(
            f"r{i:02d}",
            km=km,
            network=draw(st.sampled_from(["in", "out"])),
            payers=draw(st.sampled_from([["Acme Health"], ["Medicare"], ["Acme Health", "X"]])),
            specialties=draw(st.sampled_from([["cardiology"], ["dermatology", "cardiology"]])),
        )
        entries.append(entry)
    history = []
    for entry in entries:
        for _ in range(draw(st.integers(min_value=0, max_value=7))):
            outcome = draw(st.sampled_from(["accepted", "declined", "silent"]))
            wait = draw(st.integers(min_value=1, max_value=40))
            history.append(
                sent(
                    entry["id"],
                    accepted=1 if outcome == "accepted" else None,
                    declined=1 if outcome == "declined" else None,
                    redirected_to="x" if outcome == "silent" else None,
                    appointment=wait if outcome == "accepted" else None,
                    seen=wait if outcome == "accepted" else None,
                    report=wait + 2 if outcome == "accepted" and wait % 2 else None,
                )
            )
    return entries, history


@given(
    directories_and_history(),
    st.sampled_from(list(Priority)),
    st.sampled_from([None, "Acme Health"]),
    st.randoms(use_true_random=False),
)
def test_the_ranking_is_a_total_deterministic_order(
    drawn: tuple[list[dict], list[SentReferralFacts]],
    urgency: Priority,
    payer: str | None,
    rnd: random.Random,
) -> None:
    entries, history = drawn
    track = track_records(history)
    kwargs: dict[str, Any] = {"specialty": "cardiology", "urgency": urgency, "payer": payer}
    kwargs.update(patient=CHICAGO, track=track, policy=RankPolicy(min_history=2))
    first = rank_receivers(Directory.of(entries), **kwargs)
    shuffled = entries[:]
    rnd.shuffle(shuffled)
    history_shuffled = history[:]
    rnd.shuffle(history_shuffled)
    kwargs["track"] = track_records(history_shuffled)
    again = rank_receivers(Directory.of(shuffled), **kwargs)
    assert [r.receiver.id for r in again.ranked] == [r.receiver.id for r in first.ranked]
    assert [r.rank for r in first.ranked] == list(range(1, len(first.ranked) + 1))
    keys = [r.key for r in first.ranked]
    assert all(a < b for a, b in itertools.pairwise(keys))  # strictly: a total order
    networks = [r.receiver.network.status for r in first.ranked]
    assert networks == sorted(networks, key=lambda s: s is NetworkStatus.OUT)
    offered = {e["id"] for e in entries if "cardiology" in e["specialties"]}
    placed = [r.receiver.id for r in first.ranked] + [e.receiver_id for e in first.excluded]
    assert sorted(placed) == sorted(offered)
    for ranked in first.ranked:
        assert {reason.factor for reason in ranked.reasons} >= {
            "network", "payer", "distance", "wait", "acceptance", "report_return"
        }  # fmt: skip
        if payer is not None:
            assert ranked.receiver.accepts(payer)


def test_out_of_network_rate_by_hand() -> None:
    directory = Directory.of([receiver("in1"), receiver("out1", network="out")])
    facts = [
        sent("in1"),
        sent("in1"),
        sent("out1"),
        sent("gone"),  # not in the directory
        sent("out1", at=T0 + 40 * DAY),  # after the window
    ]
    figure = out_of_network_rate(facts, directory, since=T0, until=T0 + 30 * DAY)
    assert (figure.sent, figure.in_network, figure.out_of_network) == (4, 2, 1)
    assert figure.not_in_directory == 1
    assert figure.rate == pytest.approx(1 / 3)
    assert figure.out_of_network_by_receiver == {"out1": 1}
    empty = out_of_network_rate([], directory, since=T0, until=T0 + DAY)
    assert empty.rate is None


def test_standings_rank_receivers_by_each_figure() -> None:
    history = [sent("a", accepted=1, appointment=9, seen=9, report=10)] * 2
    history += [sent("b", accepted=1, appointment=4, seen=4)] * 2 + [sent("b", declined=1)]
    history += [sent("c", accepted=1, appointment=4, seen=4, report=8)]
    track = track_records(history)
    by_acceptance = standings(track, by="acceptance")
    assert [(s.receiver_id, s.value, s.over) for s in by_acceptance] == [
        ("a", 1.0, 2),  # 100% over 2 comes before 100% over 1
        ("c", 1.0, 1),
        ("b", pytest.approx(2 / 3), 3),
    ]
    assert [s.receiver_id for s in standings(track, by="wait")] == ["b", "c", "a"]
    assert [(s.receiver_id, s.value) for s in standings(track, by="report_return")] == [
        ("a", 1.0),
        ("c", 1.0),
        ("b", 0.0),
    ]
    assert [s.receiver_id for s in standings(track, by="report_time")] == ["a", "c"]
    assert [s.receiver_id for s in standings(track, by="acceptance", min_history=2)] == ["a", "b"]


def test_a_receiver_model_validates_from_python_too() -> None:
    made = Receiver.model_validate(receiver("z"))
    assert Directory.of([made]).get("z") == made
