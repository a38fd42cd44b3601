"""Thresholds learned from reference windows."""

from __future__ import annotations

import numpy as np
import pytest

from modelspan.analyzer import drift
from modelspan.analyzer.thresholds import MIN_WINDOWS, learn


def test_quantile_floor_and_margin() -> None:
    scores = [0.01, 0.02, 0.03, 0.04, 0.05, float("nan")]
    assert learn(scores, quantile=1.0) == pytest.approx(0.05)
    assert learn(scores, quantile=0.5) == pytest.approx(np.quantile([0.01, 0.02, 0.03, 0.04, 0.05], 0.5))
    assert learn(scores, quantile=1.0, margin=1.5) == pytest.approx(0.075)
    assert learn(scores, floor=0.2) == 0.2


def test_learned_psi_threshold_separates_quiet_windows_from_a_shift() -> None:
    """Score quiet daily windows against the baseline; the learned threshold passes the next quiet day."""
    rng = np.random.default_rng(11)
    base = rng.normal(0, 1, 20_000)
    edges = np.quantile(base, np.linspace(0, 1, 11)[1:-1])
    reference = drift.Binned.from_values(base, edges)

    def psi(values: np.ndarray) -> float:
        return drift.run("psi", reference, drift.Binned.from_values(values, edges)).score

    quiet = [psi(rng.normal(0, 1, 2000)) for _ in range(30)]
    threshold = learn(quiet, quantile=0.99, floor=0.01, margin=1.2)
    assert threshold >= max(quiet) * 0.99
    assert psi(rng.normal(0, 1, 2000)) < threshold
    assert psi(rng.normal(0.3, 1, 2000)) > threshold


def test_too_few_windows_or_bad_arguments_are_errors() -> None:
    with pytest.raises(ValueError, match="at least"):
        learn([0.1] * (MIN_WINDOWS - 1) + [float("inf")])
    with pytest.raises(ValueError, match="quantile"):
        learn([0.1] * 10, quantile=1.5)
    with pytest.raises(ValueError, match="margin"):
        learn([0.1] * 10, margin=0)
