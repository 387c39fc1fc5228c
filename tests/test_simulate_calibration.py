"""The calibrated baseline: no outreach reproduces the funnel it was fitted to."""

from __future__ import annotations

from referralkit.simulate import CALIBRATION_TOLERANCE, FUNNELS, calibrate


def test_the_no_outreach_baseline_reproduces_its_fitted_funnel_within_tolerance():
    calibration = calibrate(runs=2, seed=0)
    fitted = [check for check in calibration.checks if check.funnel.fitted]
    assert [check.funnel.source for check in fitted] == ["weiner2010"]
    (check,) = fitted
    assert abs(check.booked_gap) <= CALIBRATION_TOLERANCE
    assert abs(check.seen_gap) <= CALIBRATION_TOLERANCE
    assert calibration.result.estimate("contacts_per_booking").mean == 0


def test_the_baseline_is_checked_against_a_funnel_it_was_not_fitted_to():
    assert [f.source for f in FUNNELS if not f.fitted] == ["patel2018"]
