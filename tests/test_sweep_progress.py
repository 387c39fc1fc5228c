"""Sweeps report progress and leave one PHI-free structured log record."""

from __future__ import annotations

import logging

import pytest

from referralkit.outreach.dispatch import Dispatcher
from tests.support.outreach_world import outreach_desk, ready_referral


def test_outreach_sweep_reports_progress_per_referral(caplog: pytest.LogCaptureFixture) -> None:
    desk, plugin, _ = outreach_desk(
        page_size=2
    )  # pages smaller than the work: progress spans pages
    for _ in range(3):
        ready_referral(desk)
    calls: list[tuple[int, int | None]] = []
    assert desk.outreach is not None
    with caplog.at_level(logging.INFO, logger="referralkit.outreach"):
        report = Dispatcher(desk, desk.outreach).sweep(
            desk.clock.now(), progress=lambda done, total: calls.append((done, total))
        )
    assert calls == [(1, None), (2, None), (3, None), (3, 3)]
    assert report.claimed == 3
    assert len(plugin.telephony.calls) == 3
    (record,) = [r for r in caplog.records if r.getMessage().startswith("outreach sweep")]
    fields = record.referralkit  # type: ignore[attr-defined]
    assert fields["operation"] == "outreach_sweep"
    assert fields["claimed"] == 3
    assert fields["dispatched"] == 3
    assert fields["seconds"] >= 0
    assert "Ada" not in record.getMessage()
    assert "+1555" not in repr(fields)


def test_a_sweep_without_a_callback_still_works() -> None:
    desk, _, _ = outreach_desk()
    ready_referral(desk)
    assert desk.outreach is not None
    assert Dispatcher(desk, desk.outreach).sweep(desk.clock.now()).claimed == 1
