"""Chi-square: scipy.stats.chisquare with expected counts from the reference, Evidently's p-value."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelspan.analyzer.drift import Categories, run
from modelspan.analyzer.drift._core import EPSILON
from tests.sdk.analyzer.drift._data import rng_for
from tests.sdk.analyzer.drift._peer import categories, evidently

LEVELS = np.array(["red", "green", "blue", "black", "white"])


@pytest.mark.parametrize("n", [250, 1000, 50_000])
@pytest.mark.parametrize("tilt", [0.0, 0.05, 0.3])
def test_matches_scipy_and_evidently_when_every_category_was_seen(n: int, tilt: float) -> None:
    rng = rng_for(n, tilt, "chi")
    base = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
    moved = base + tilt * np.array([-1, 0, 0, 0, 1]) * base[-1]
    ref = rng.choice(LEVELS, n, p=base)
    cur = rng.choice(LEVELS, n // 2, p=moved / moved.sum())
    ours = run("chi_square", categories(ref), categories(cur))
    keys = sorted(set(ref))
    ref_counts = np.array([np.sum(ref == k) for k in keys], dtype=float)
    cur_counts = np.array([np.sum(cur == k) for k in keys], dtype=float)
    expected = stats.chisquare(cur_counts, ref_counts / ref_counts.sum() * cur_counts.sum())
    assert ours.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert ours.p_value == pytest.approx(evidently("chi_square", ref, cur, categorical=True), rel=1e-9, abs=1e-300)
    assert ours.score == pytest.approx(np.sqrt(expected.statistic / cur_counts.sum() / (len(keys) - 1)))
    assert ours.drifted == (ours.p_value is not None and ours.p_value < 0.05)


def test_unseen_categories_are_smoothed_not_infinite() -> None:
    ref = Categories({"a": 600, "b": 400})
    cur = Categories({"a": 300, "b": 200, "c": 5})
    result = run("chi_square", ref, cur)
    share = np.array([0.6, 0.4, EPSILON])
    expected = stats.chisquare([300, 200, 5], share / share.sum() * 505)
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-300)
    assert np.isfinite(result.score) and result.drifted


def test_the_same_shares_give_p_one() -> None:
    result = run("chi_square", Categories({"a": 600, "b": 400}), Categories({"a": 300, "b": 200}))
    assert result.p_value == pytest.approx(1.0) and result.score == pytest.approx(0.0) and not result.drifted
