"""Expected failure rates under no change, checked against scipy and against simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelspan.analyzer import rates


def test_out_of_range_is_beta_binomial_by_simulation() -> None:
    """Draw a baseline of m values and a window of n; count values outside the baseline's min/max."""
    rng = np.random.default_rng(5)
    m, n, runs = 200, 1000, 4000
    counts = np.empty(runs, dtype=int)
    for i in range(runs):
        reference = rng.standard_normal(m)
        window = rng.standard_normal(n)
        counts[i] = np.count_nonzero((window < reference.min()) | (window > reference.max()))
    assert counts.mean() == pytest.approx(n * rates.expected_out_of_range(m), rel=0.05)
    for k in (5, 10, 20, 30):  # the tail the test uses matches the simulated one
        simulated = float(np.mean(counts >= k))
        assert rates.out_of_range_p_value(k, n, m) == pytest.approx(simulated, abs=0.02)
    # what the old rule did: a binomial against 2/(m+1) (or against 0) is far too small in the tail
    assert stats.binom.sf(29, n, 2 / (m + 1)) < 0.2 * float(np.mean(counts >= 30))


def test_out_of_range_p_value_equals_scipy() -> None:
    assert rates.out_of_range_p_value(12, 5000, 800) == float(stats.betabinom.sf(11, 5000, 2, 799))
    assert rates.out_of_range_p_value(0, 10, 10) == 1.0
    with pytest.raises(ValueError):
        rates.out_of_range_p_value(1, 10, 1)


def test_excess_p_value_equals_scipy_fisher() -> None:
    expected = stats.fisher_exact([[30, 970], [10, 990]], alternative="greater").pvalue
    assert rates.excess_p_value(30, 1000, 10, 1000) == pytest.approx(expected, rel=1e-12)


def test_unseen_reference_count_bounds_good_turing() -> None:
    """On a real sample the bound is at least the true number of singletons."""
    rng = np.random.default_rng(1)
    values = rng.zipf(1.5, 3000)
    levels, counts = np.unique(values, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    named = counts[order][:50].tolist()
    other = int(counts[order][50:].sum())
    singletons = int(np.count_nonzero(counts == 1))
    bound = rates.unseen_reference_count(named, len(levels), other)
    assert singletons <= bound <= len(levels)
