"""Chi-square: the two-sample homogeneity test (scipy), and Evidently's goodness of fit for comparison."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelspan.analyzer.drift import REGISTRY, Categories, run
from modelspan.analyzer.drift._core import EPSILON
from modelspan.analyzer.drift.chi_square import goodness_of_fit
from tests.sdk.analyzer.drift._data import rng_for
from tests.sdk.analyzer.drift._peer import categories, evidently

LEVELS = np.array(["red", "green", "blue", "black", "white"])
BASE = np.array([0.3, 0.25, 0.2, 0.15, 0.1])


def _samples(n: int, tilt: float, tag: str) -> tuple[np.ndarray, np.ndarray]:
    rng = rng_for(n, tilt, tag)
    moved = BASE + tilt * np.array([-1, 0, 0, 0, 1]) * BASE[-1]
    return rng.choice(LEVELS, n, p=BASE), rng.choice(LEVELS, n // 2, p=moved / moved.sum())


def _counts(values: np.ndarray, keys: list[str]) -> np.ndarray:
    return np.array([np.sum(values == k) for k in keys], dtype=float)


@pytest.mark.parametrize("n", [250, 1000, 50_000])
@pytest.mark.parametrize("tilt", [0.0, 0.05, 0.3])
def test_registered_test_is_scipys_homogeneity_test(n: int, tilt: float) -> None:
    ref, cur = _samples(n, tilt, "chi")
    ours = run("chi_square", categories(ref), categories(cur))
    keys = sorted(set(ref) | set(cur))
    table = [_counts(ref, keys), _counts(cur, keys)]
    expected = stats.chi2_contingency(table, correction=False)
    assert ours.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert ours.score == pytest.approx(np.sqrt(expected.statistic / (ref.size + cur.size)), rel=1e-12)
    assert ours.drifted == (expected.pvalue < 0.05)


@pytest.mark.parametrize("n", [250, 1000, 50_000])
@pytest.mark.parametrize("tilt", [0.0, 0.05, 0.3])
def test_goodness_of_fit_matches_scipy_and_evidently(n: int, tilt: float) -> None:
    ref, cur = _samples(n, tilt, "gof")
    ours = goodness_of_fit(categories(ref), categories(cur))
    keys = sorted(set(ref))
    ref_counts, cur_counts = _counts(ref, keys), _counts(cur, keys)
    expected = stats.chisquare(cur_counts, ref_counts / ref_counts.sum() * cur_counts.sum())
    assert ours.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert ours.p_value == pytest.approx(evidently("chi_square", ref, cur, categorical=True), rel=1e-9, abs=1e-300)


def test_goodness_of_fit_is_anti_conservative_for_two_samples_and_homogeneity_is_not() -> None:
    """Same distribution, 800 vs 600 rows: rejections at 0.05 over 1,000 pairs."""
    rng = rng_for("null")
    homogeneity, fit = 0, 0
    for _ in range(1000):
        ref, cur = categories(rng.choice(LEVELS, 800, p=BASE)), categories(rng.choice(LEVELS, 600, p=BASE))
        homogeneity += run("chi_square", ref, cur).drifted
        p_value = goodness_of_fit(ref, cur).p_value
        fit += p_value is not None and p_value < 0.05
    assert 0.03 < homogeneity / 1000 < 0.07
    assert fit / 1000 > 0.12  # the reference's own noise is ignored: about 1 + 600/800 times the statistic


def test_unseen_categories() -> None:
    ref, cur = Categories({"a": 600, "b": 400}), Categories({"a": 300, "b": 200, "c": 5})
    result = run("chi_square", ref, cur)
    expected = stats.chi2_contingency([[600, 400, 0], [300, 200, 5]], correction=False)
    assert result.p_value == pytest.approx(expected.pvalue) and result.drifted
    share = np.array([0.6, 0.4, EPSILON])  # goodness of fit: smoothed, not an infinite statistic
    fit = goodness_of_fit(ref, cur)
    assert fit.p_value == pytest.approx(stats.chisquare([300, 200, 5], share / share.sum() * 505).pvalue, abs=1e-300)
    assert np.isfinite(fit.score)


def test_the_same_shares_give_p_one() -> None:
    result = run("chi_square", Categories({"a": 600, "b": 400}), Categories({"a": 300, "b": 200}))
    assert result.p_value == pytest.approx(1.0) and result.score == pytest.approx(0.0) and not result.drifted


def test_two_categories_score_cramers_v_of_the_uncorrected_2x2_table() -> None:
    """2 x 2 is the one table scipy would Yates-correct by default; the test never corrects."""
    ref, cur = Categories({"yes": 120, "no": 80}), Categories({"yes": 90, "no": 110})
    expected = stats.chi2_contingency([[80, 120], [110, 90]], correction=False)
    result = run("chi_square", ref, cur)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert result.score == pytest.approx(np.sqrt(expected.statistic / 400), rel=1e-12)
    assert result.drifted  # p = 0.0027


def test_one_category_or_an_empty_side_has_nothing_to_compare() -> None:
    """Called directly (run() gives no verdict below MIN_SAMPLES): no statistic, not an error."""
    assert run("chi_square", Categories({"a": 500}), Categories({"a": 300})).p_value == 1.0
    for ref, cur in [(Categories({"a": 0, "b": 0}), Categories({"a": 5, "b": 5})),
                     (Categories({"a": 5, "b": 5}), Categories({"a": 0, "b": 0}))]:
        result = REGISTRY["chi_square"].function(ref, cur)
        assert (result.score, result.p_value) == (0.0, 1.0)


def test_goodness_of_fit_score_and_its_empty_cases() -> None:
    ref, cur = Categories({"yes": 120, "no": 80}), Categories({"yes": 90, "no": 110})
    expected = stats.chisquare([110, 90], np.array([0.4, 0.6]) * 200)
    fit = goodness_of_fit(ref, cur)
    assert fit.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert fit.score == pytest.approx(np.sqrt(expected.statistic / 200 / 1), rel=1e-12)
    three = goodness_of_fit(Categories({"a": 50, "b": 30, "c": 20}), Categories({"a": 20, "b": 30, "c": 50}))
    statistic = stats.chisquare([20, 30, 50], [50, 30, 20]).statistic
    assert three.score == pytest.approx(np.sqrt(statistic / 100 / 2), rel=1e-12)
    for one_side, other in [(Categories({"a": 5}), Categories({"a": 5})), (ref, Categories({"yes": 0, "no": 0}))]:
        result = goodness_of_fit(one_side, other)
        assert (result.score, result.p_value) == (0.0, 1.0)


def test_categories_empty_in_both_are_dropped_and_one_seen_once_is_kept() -> None:
    ref, cur = Categories({"a": 600, "b": 400, "c": 1}), Categories({"a": 300, "b": 200, "c": 0, "d": 0})
    expected = stats.chi2_contingency([[600, 400, 1], [300, 200, 0]], correction=False)
    result = run("chi_square", ref, cur)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert result.score == pytest.approx(np.sqrt(expected.statistic / 1501), rel=1e-12)
