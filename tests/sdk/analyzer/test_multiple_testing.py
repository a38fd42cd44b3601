"""Benjamini-Hochberg against scipy.stats.false_discovery_control."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelspan.analyzer.multiple_testing import benjamini_hochberg


@pytest.mark.parametrize("seed", range(20))
def test_adjusted_p_values_equal_scipys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 200))
    p = np.concatenate([rng.uniform(size=m), rng.uniform(0, 0.001, size=int(rng.integers(0, 10)))])
    p[rng.random(p.size) < 0.1] = rng.choice([0.0, 1.0, 0.05])  # ties and the ends
    rejected, adjusted = benjamini_hochberg(p, alpha=0.1)
    expected = stats.false_discovery_control(p, method="bh")
    np.testing.assert_allclose(adjusted, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(rejected, expected <= 0.1)


def test_missing_p_values_are_never_rejected_and_do_not_count() -> None:
    p = [0.001, None, 0.02, float("nan"), 0.04]
    rejected, adjusted = benjamini_hochberg(p)
    valid = stats.false_discovery_control([0.001, 0.02, 0.04], method="bh")
    assert rejected.tolist() == [True, False, True, False, True]
    np.testing.assert_allclose(adjusted[[0, 2, 4]], valid)
    assert np.isnan(adjusted[[1, 3]]).all()


def test_fifty_null_features_rarely_flag_anything() -> None:
    """Under the global null BH at 0.05 flags any feature in about 5% of runs, not 2.5 features per run."""
    rng = np.random.default_rng(7)
    runs = [benjamini_hochberg(rng.uniform(size=50))[0].sum() for _ in range(2000)]
    assert np.mean(np.asarray(runs) > 0) < 0.07


def test_edge_cases() -> None:
    rejected, adjusted = benjamini_hochberg([])
    assert rejected.size == 0 and adjusted.size == 0
    assert benjamini_hochberg([None, None])[0].tolist() == [False, False]
    with pytest.raises(ValueError, match="alpha"):
        benjamini_hochberg([0.1], alpha=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg([1.5])
