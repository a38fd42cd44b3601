"""KS: exact on raw values (scipy, Evidently); from bins within the derived bound of the exact D."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelspan.analyzer.drift import Binned, Raw, run
from modelspan.analyzer.drift.ks import binned_statistic
from modelspan.baseline import FeatureProfile
from tests.sdk.analyzer.drift._data import SHAPES, quantile_edges, rng_for, sample
from tests.sdk.analyzer.drift._peer import evidently


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("n", "m"), [(300, 200), (5000, 4000), (20_000, 15_000)])
def test_raw_matches_scipy_and_evidently(shape: str, n: int, m: int) -> None:
    rng = rng_for(shape, n, "ks")
    ref, cur = sample(rng, shape, n), sample(rng, shape, m, 0.1)
    ours = run("ks", Raw(ref), Raw(cur))
    exact = stats.ks_2samp(ref, cur)
    assert ours.score == exact.statistic and ours.p_value == exact.pvalue and ours.bound is None
    assert ours.p_value == pytest.approx(evidently("ks", ref, cur), abs=1e-12)
    assert ours.drifted == (exact.pvalue < 0.05)


@pytest.mark.parametrize("shape", SHAPES)
def test_binned_statistic_brackets_the_exact_one(shape: str) -> None:
    """D_b <= D <= D_b + bound <= D_b + max bin mass, over many random samples and bin counts."""
    rng = rng_for(shape, "bound")
    for trial in range(60):
        n, m = rng.integers(50, 3000, size=2)
        ref, cur = sample(rng, shape, int(n)), sample(rng, shape, int(m), float(rng.uniform(0, 1)))
        edges = quantile_edges(ref, int(rng.integers(2, 30)))
        if trial % 3 == 0:  # also edges that are not the reference's quantiles
            edges = np.unique(np.round(rng.uniform(ref.min(), ref.max(), int(rng.integers(1, 20))), 1))
        reference, current = Binned.from_values(ref, edges), Binned.from_values(cur, edges)
        d_binned, bound = binned_statistic(reference, current)
        exact = stats.ks_2samp(ref, cur).statistic
        mass = max((reference.counts / n).max(), (current.counts / m).max())
        assert d_binned <= exact + 1e-12
        assert exact <= d_binned + bound + 1e-12
        assert bound <= mass + 1e-12


def test_binned_equals_exact_when_every_value_sits_in_its_own_bin() -> None:
    rng = rng_for("fine")
    ref, cur = rng.integers(0, 50, 800).astype(float), rng.integers(5, 55, 600).astype(float)
    edges = np.arange(0.5, 55, 1.0)  # one distinct value per bin: the ECDF is known everywhere
    result = run("ks", Binned.from_values(ref, edges), Binned.from_values(cur, edges))
    assert result.score == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)


def test_binned_p_value_is_smirnovs_asymptotic_at_the_binned_statistic() -> None:
    rng = rng_for("p")
    ref, cur = rng.normal(0, 1, 4000), rng.normal(0.1, 1, 3000)
    result = run("ks", Binned.from_values(ref, quantile_edges(ref)), Binned.from_values(cur, quantile_edges(ref)))
    en = np.round(4000 * 3000 / 7000)
    assert result.p_value == pytest.approx(stats.kstwo.sf(result.score, en), rel=1e-12)
    # D_b <= D, so the binned p-value is never smaller than the asymptotic p-value at the exact D.
    exact = stats.ks_2samp(ref, cur, method="asymp")
    assert result.p_value >= exact.pvalue - 1e-15


def test_from_a_baseline_profile() -> None:
    rng = rng_for("profile")
    ref, cur = rng.lognormal(0, 1, 5000), rng.lognormal(0.3, 1, 5000)
    profile = FeatureProfile.from_values("x", ref.tolist())
    edges = np.asarray(profile.edges)
    reference = Binned(np.asarray(profile.bin_counts, dtype=float), edges, profile.min, profile.max, profile.std)
    result = run("ks", reference, Binned.from_values(cur, edges))
    exact = stats.ks_2samp(ref, cur).statistic
    assert result.bound is not None and result.score <= exact <= result.score + result.bound
    assert result.drifted


def test_binned_statistic_and_bound_by_hand() -> None:
    """Shares r = (.1, .2, .3, .4), c = (.1, .1, .2, .6): ECDF gaps at the three edges 0, .1, .2, so
    D_b = .2 (at the last edge); per bin max(g + r_i, c_i - g) = .1, .2, .4, .6, so D <= .6 and the
    bound is .6 - .2 = .4 (the last bin: F_r can reach 1 while F_c is still at .4)."""
    edges = np.array([0.0, 1.0, 2.0])
    reference, current = Binned([10, 20, 30, 40], edges), Binned([20, 20, 40, 120], edges)
    assert binned_statistic(reference, current) == pytest.approx((0.2, 0.4), abs=1e-12)
    result = run("ks", reference, current)
    assert (result.score, result.bound) == pytest.approx((0.2, 0.4), abs=1e-12)
    assert result.p_value == pytest.approx(stats.kstwo.sf(0.2, 67), rel=1e-12)  # round(100 * 200 / 300)


def test_one_bin_holds_no_evidence_of_a_difference_and_bounds_nothing() -> None:
    result = run("ks", Binned([150], []), Binned([400], []))
    assert (result.score, result.bound, result.p_value) == (0.0, 1.0, 1.0)
