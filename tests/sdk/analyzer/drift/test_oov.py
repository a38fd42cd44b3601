"""OOV rate: the rise of the current out-of-vocabulary rate over the reference's."""

from __future__ import annotations

import pytest

from modelspan.analyzer.drift import Rate, run


def test_a_rise_beyond_the_threshold_is_drift_and_a_fall_is_not() -> None:
    assert run("oov_rate", Rate(0.02, 1000), Rate(0.10, 1000)).drifted
    assert run("oov_rate", Rate(0.02, 1000), Rate(0.10, 1000)).score == pytest.approx(0.08)
    assert not run("oov_rate", Rate(0.02, 1000), Rate(0.05, 1000)).drifted
    assert not run("oov_rate", Rate(0.30, 1000), Rate(0.0, 1000)).drifted


def test_few_rows_give_no_verdict() -> None:
    result = run("oov_rate", Rate(0.0, 1000), Rate(0.9, 20))
    assert not result.enough_data and not result.drifted
