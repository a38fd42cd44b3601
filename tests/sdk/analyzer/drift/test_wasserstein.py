"""Wasserstein (normalised): exact on raw values (scipy, Evidently); from bins within the stated bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from modelspan.analyzer.drift import Binned, Raw, run
from modelspan.analyzer.drift.wasserstein import NORM_FLOOR, binned_distance, wasserstein
from tests.sdk.analyzer.drift._data import SHAPES, quantile_edges, rng_for, sample
from tests.sdk.analyzer.drift._peer import evidently


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_raw_matches_scipy_and_evidently(shape: str, shift: float) -> None:
    rng = rng_for(shape, shift, "wasserstein")
    ref, cur = sample(rng, shape, 4000), sample(rng, shape, 3000, shift)
    ours = run("wasserstein", Raw(ref), Raw(cur))
    assert ours.score == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), abs=1e-12)
    assert ours.score == pytest.approx(evidently("wasserstein", ref, cur), abs=1e-12)
    assert ours.bound is None and ours.p_value is None


def test_constant_reference_uses_evidentlys_norm_floor() -> None:
    ref, cur = np.full(500, 3.0), np.full(500, 3.01)
    assert run("wasserstein", Raw(ref), Raw(cur)).score == pytest.approx(evidently("wasserstein", ref, cur))


@pytest.mark.parametrize("shape", SHAPES)
def test_binned_is_within_the_bound_of_the_exact_value(shape: str) -> None:
    rng = rng_for(shape, "bound")
    for _ in range(40):
        n, m = rng.integers(200, 5000, size=2)
        ref, cur = sample(rng, shape, int(n)), sample(rng, shape, int(m), float(rng.uniform(0, 0.5)))
        edges = quantile_edges(ref, int(rng.integers(3, 25)))
        score, bound = binned_distance(Binned.from_values(ref, edges), Binned.from_values(cur, edges))
        exact = stats.wasserstein_distance(ref, cur) / np.std(ref)
        assert abs(score - exact) <= bound + 1e-9


@pytest.mark.parametrize("shape", SHAPES)
def test_with_ten_quantile_bins_the_estimate_errs_low_and_within_the_stated_figures(shape: str) -> None:
    """The figures the module docstring states: over by < 0.03, under by < 0.3 (ten bins, 3-5k rows)."""
    rng = rng_for(shape, "ten bins")
    for trial in range(30):
        shift = float(rng.uniform(0, 0.5)) if trial % 2 else 0.0
        ref, cur = sample(rng, shape, 5000), sample(rng, shape, 3000, shift)
        edges = quantile_edges(ref, 10)
        score, bound = binned_distance(Binned.from_values(ref, edges), Binned.from_values(cur, edges))
        error = score - stats.wasserstein_distance(ref, cur) / np.std(ref)
        assert -0.3 < error < 0.03 and abs(error) <= bound


def test_clean_traffic_stays_below_the_threshold_and_a_shift_does_not() -> None:
    """Ten quantile bins, 5,000 rows: same distribution < 0.1 in every shape; a 0.5 sd shift > 0.1."""
    for shape in ("normal", "lognormal", "student", "mixture"):
        rng = rng_for(shape, "clean")
        ref = sample(rng, shape, 5000)
        edges = quantile_edges(ref)
        reference = Binned.from_values(ref, edges)
        for _ in range(10):
            assert not run("wasserstein", reference, Binned.from_values(sample(rng, shape, 5000), edges)).drifted
    ref = rng_for("shift").normal(0, 1, 5000)
    shifted = Binned.from_values(rng_for("shifted").normal(0.5, 1, 5000), quantile_edges(ref))
    assert run("wasserstein", Binned.from_values(ref, quantile_edges(ref)), shifted).drifted


def test_a_unit_change_is_found_from_bins() -> None:
    ref = rng_for("celsius").normal(20, 5, 5000)
    cur = rng_for("fahrenheit").normal(20, 5, 5000) * 1.8 + 32
    edges = quantile_edges(ref)
    result = run("wasserstein", Binned.from_values(ref, edges), Binned.from_values(cur, edges))
    exact = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert run("wasserstein", Raw(ref), Raw(cur)).score == pytest.approx(exact, rel=1e-12)
    # Every current value lies beyond the baseline's last edge, whose width is capped (one outlier must
    # not decide): the estimate errs low, as documented, yet is far above the threshold.
    assert result.drifted and result.bound is not None
    assert 10 * result.threshold < result.score < exact <= result.score + result.bound


@pytest.mark.parametrize(("bins", "error", "bound"), [(10, 0.01, 5.0), (20, 0.005, 2.2), (50, 0.001, 0.9)])
def test_edges_covering_both_samples_give_the_exact_value_closely(bins: int, error: float, bound: float) -> None:
    ref = rng_for("celsius").normal(20, 5, 5000)
    cur = rng_for("fahrenheit").normal(20, 5, 5000) * 1.8 + 32
    exact = stats.wasserstein_distance(ref, cur) / np.std(ref)
    edges = np.linspace(min(ref.min(), cur.min()), max(ref.max(), cur.max()), bins)[1:-1]
    result = run("wasserstein", Binned.from_values(ref, edges), Binned.from_values(cur, edges))
    assert result.bound is not None and abs(result.score - exact) <= min(error, result.bound)
    assert result.bound < bound  # the bound shrinks with the bin width


def test_one_outlier_does_not_decide_the_distance() -> None:
    ref = rng_for("outlier").normal(0, 1, 5000)
    cur = np.concatenate([rng_for("outlier2").normal(0, 1, 4999), [1e6]])
    edges = quantile_edges(ref)
    binned = run("wasserstein", Binned.from_values(ref, edges), Binned.from_values(cur, edges))
    assert not binned.drifted
    assert run("wasserstein", Raw(ref), Raw(cur)).drifted  # the exact value is dominated by the outlier
    assert binned.bound is not None and binned.bound > 100


def test_unknown_extremes_make_the_bound_infinite_and_std_is_estimated() -> None:
    edges = np.array([-1.0, 0.0, 1.0])
    score, bound = binned_distance(Binned([100, 400, 400, 100], edges), Binned([100, 100, 400, 400], edges))
    assert math.isinf(bound) and score > 0.1


def _spread_uniformly(outer: tuple[float, float], edges: list[float], r: list[float], c: list[float]) -> float:
    """W between two histograms whose mass is spread uniformly in each bin, the open-ended bins given the
    widths ``outer``: the integral of |F_r - F_c| on a fine grid (an oracle independent of the module)."""
    knots = np.array([edges[0] - outer[0], *edges, edges[-1] + outer[1]])
    x = np.linspace(knots[0], knots[-1], 400_001)
    reference_cdf = np.interp(x, knots, np.cumsum([0.0, *r]) / sum(r))
    gap = np.abs(reference_cdf - np.interp(x, knots, np.cumsum([0.0, *c]) / sum(c)))
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(x)))


EXACT_EDGES = [0.0, 1.0, 3.0, 6.0]  # inner widths 1, 2, 3: the open-ended bins' guesses are 2 and 6
REF_COUNTS, CUR_COUNTS = [20, 40, 20, 10, 10], [0, 10, 40, 20, 30]


@pytest.mark.parametrize(
    ("extremes", "outer"),
    [
        ((-10.0, 50.0, -9.0, 40.0), (2.0, 6.0)),  # far extremes: twice the neighbour's width
        ((-0.5, 6.5, -0.25, 6.4), (0.5, 0.5)),  # near extremes: capped at the distance to min / max
        ((-0.5, 50.0, -9.0, 7.0), (2.0, 6.0)),  # the cap is the extreme of both samples together
        ((-0.5, 7.0, -0.25, 6.25), (0.5, 1.0)),
    ],
)
def test_binned_distance_is_exact_for_mass_spread_uniformly_in_bins_of_the_stated_widths(
    extremes: tuple[float, float, float, float], outer: tuple[float, float]
) -> None:
    ref_min, ref_max, cur_min, cur_max = extremes
    reference = Binned(REF_COUNTS, EXACT_EDGES, ref_min, ref_max, std=2.0)
    current = Binned(CUR_COUNTS, EXACT_EDGES, cur_min, cur_max)
    score, _ = binned_distance(reference, current)
    assert score == pytest.approx(_spread_uniformly(outer, EXACT_EDGES, REF_COUNTS, CUR_COUNTS) / 2.0, abs=1e-9)


def test_extremes_known_on_one_end_only_cap_nothing() -> None:
    """Without a max the high end has no true width to cap with: both guesses are used as they are,
    and the bound, which needs the true widths, is infinite."""
    reference = Binned(REF_COUNTS, EXACT_EDGES, -0.5, None, std=2.0)
    current = Binned(CUR_COUNTS, EXACT_EDGES, -0.25, None)
    score, bound = binned_distance(reference, current)
    assert score == pytest.approx(_spread_uniformly((2.0, 6.0), EXACT_EDGES, REF_COUNTS, CUR_COUNTS) / 2.0, abs=1e-9)
    assert math.isinf(bound)


def test_where_the_ecdfs_cross_inside_a_bin_the_integral_is_exact() -> None:
    """Shares (.6, 0, .4) vs (0, 1, 0) over edges (0, 1): the gap runs from .6 to -.4 across the middle
    bin, where the integral of |.6 - t| is .6²/2 + .4²/2 = .26."""
    reference = Binned([60, 0, 40], [0.0, 1.0], -1.0, 2.0, std=1.0)
    current = Binned([0, 100, 0], [0.0, 1.0], 0.1, 0.9)
    score, _ = binned_distance(reference, current)
    # outer bins: width min(2, 1) = 1 each, the gap going 0 -> .6 and -.4 -> 0 in them: .3 + .26 + .2
    assert score == pytest.approx(0.3 + 0.26 + 0.2, abs=1e-12)
    assert score == pytest.approx(_spread_uniformly((1.0, 1.0), [0.0, 1.0], [60, 0, 40], [0, 100, 0]), abs=1e-9)


def test_bound_by_hand() -> None:
    """Edges (0, 1, 3), shares r = (.2, .4, .2, .2), c = (0, .1, .4, .5); widths used (.5, 1, 2, 4),
    true (.5, 1, 2, 7). Gaps at the lower edges g = (0, .2, .5, .3); the exact gap in bin i lies in
    [g - c_i, g + r_i] = [0, .2], [.1, .6], [.1, .7], [-.2, .5]: U = (.2, .6, .7, .5), L = (0, .1, .1, 0).
    Bound: .5 * .2 + 1 * (.6 - .1) + 2 * (.7 - .1) + max(7 * .5 - 4 * 0, 4 * .5 - 7 * 0) = 5.3, over std 2.
    Distance: .5 * .1 + 1 * .35 + 2 * .4 + 4 * .15 = 1.8, over std 2."""
    edges = [0.0, 1.0, 3.0]
    reference = Binned([2, 4, 2, 2], edges, -0.5, 10.0, std=2.0)
    current = Binned([0, 1, 4, 5], edges, -0.25, 5.0)
    assert binned_distance(reference, current) == pytest.approx((0.9, 2.65), abs=1e-12)


def test_reference_std_is_estimated_from_bin_middles_without_a_std() -> None:
    """Widths (.5, 1, 2, 4) as above, so the middles are (-.25, .5, 2, 5) with shares (.2, .4, .2, .2):
    mean 1.55, variance .2 * 1.8² + .4 * 1.05² + .2 * .45² + .2 * 3.45² = 3.51."""
    edges = [0.0, 1.0, 3.0]
    reference = Binned([2, 4, 2, 2], edges, -0.5, 10.0)
    current = Binned([0, 1, 4, 5], edges, -0.25, 5.0)
    score, bound = binned_distance(reference, current)
    assert score == pytest.approx(1.8 / math.sqrt(3.51), rel=1e-12)
    assert bound == pytest.approx(5.3 / math.sqrt(3.51), rel=1e-12)


def test_one_edge_gives_each_open_bin_twice_the_std_capped_at_the_extremes() -> None:
    reference = Binned([50, 50], [0.0], -10.0, 0.5, std=1.5)
    current = Binned([10, 90], [0.0], -10.0, 0.5)
    # widths (3, .5): the gap rises 0 -> .4 over the first and falls back over the second
    assert binned_distance(reference, current)[0] == pytest.approx((3 * 0.2 + 0.5 * 0.2) / 1.5, abs=1e-12)


def test_one_edge_without_a_std_leaves_the_estimate_to_the_bound() -> None:
    """Nothing gives the two open bins a width: the estimate is 0 and the bound, from the true widths
    (10, .5) and the gap ranges [-.1, .5] and [-.5, .9], is 10 * .5 + .5 * .9 over the norm floor."""
    reference = Binned([50, 50], [0.0], -10.0, 0.5)
    current = Binned([10, 90], [0.0], -10.0, 0.5)
    assert binned_distance(reference, current) == pytest.approx((0.0, 5.45 / NORM_FLOOR), abs=1e-9)


def test_no_edges_or_an_empty_side_give_no_distance() -> None:
    """One bin holds no information on where the values lie; run() gives no verdict below MIN_SAMPLES."""
    assert binned_distance(Binned([100], []), Binned([100], [])) == (0.0, math.inf)
    for reference, current in [(Raw([]), Raw([1.0, 2.0])), (Raw([1.0, 2.0]), Raw([]))]:
        assert wasserstein(reference, current).score == 0.0
