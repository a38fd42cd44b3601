"""The shared pieces every drift test relies on, each at its edge: the types, smoothing, the p-value."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from modelspan.analyzer.drift import EPSILON, REGISTRY, Binned, Categories, Measure, Rate, Raw, run
from modelspan.analyzer.drift._core import aligned_counts, homogeneity_p_value, shares, smoothed

EDGES = np.array([-1.0, 0.0, 1.0])


@pytest.mark.parametrize(
    ("value", "field"),
    [(Binned([1, 2, 3, 4], EDGES), "counts"), (Raw([1.0, 2.0]), "values"), (Categories({"a": 1}), "counts"),
     (Rate(0.1, 200), "rate"), (Measure(0.5, 0.01), "score"),
     (run("oov_rate", Rate(0.1, 200), Rate(0.2, 200)), "drifted"), (REGISTRY["psi"], "default_threshold")],
)
def test_samples_results_and_registered_tests_cannot_be_changed_afterwards(value: object, field: str) -> None:
    """__post_init__ validates once (counts non-negative, edges increasing, values finite), and a
    registered test is shared by every caller of run(): being frozen is what keeps both true (a later
    assignment would skip the validation, or change a threshold for everyone)."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, np.array([-1.0]))


def test_counts_are_aligned_only_for_two_samples_of_one_kind() -> None:
    with pytest.raises(TypeError, match="expected two Binned or two Categories, got Binned, Categories"):
        aligned_counts(Binned([1, 2, 3, 4], EDGES), Categories({"a": 1}))
    with pytest.raises(TypeError, match="got Categories, Binned"):
        aligned_counts(Categories({"a": 1}), Binned([1, 2, 3, 4], EDGES))


def test_categories_are_aligned_over_the_sorted_union_with_zero_for_the_missing() -> None:
    ref, cur = aligned_counts(Categories({"b": 3, "a": 1}), Categories({"c": 5, "a": 2}))
    assert ref.tolist() == [1.0, 3.0, 0.0] and cur.tolist() == [2.0, 0.0, 5.0]


def test_from_values_keeps_a_bin_for_every_edge_when_the_top_bins_are_empty() -> None:
    binned = Binned.from_values([-3.0, -2.0], EDGES)
    assert binned.counts.tolist() == [2.0, 0.0, 0.0, 0.0]
    assert (binned.min, binned.max, binned.std) == (-3.0, -2.0, 0.5)


def test_empty_shares_get_epsilon_when_the_smallest_share_is_above_it() -> None:
    share = np.array([0.0, 0.5, 0.5])
    assert smoothed(share).tolist() == [EPSILON, 0.5, 0.5]
    assert share.tolist() == [0.0, 0.5, 0.5]  # a copy: the caller's shares are left alone


def test_a_smallest_share_of_exactly_epsilon_gives_the_empty_bins_a_millionth_of_it() -> None:
    """Evidently's rule: ``smallest / 1e6 if smallest <= EPSILON`` — at equality the millionth."""
    share = np.array([0.0, 1.0, 9999.0]) / 10_000
    assert share[1] == EPSILON
    assert smoothed(share)[0] == pytest.approx(EPSILON / 1e6, rel=1e-12, abs=0)  # approx's abs 1e-12 is huge here
    below = np.array([0.0, 0.5e-4, 1 - 0.5e-4])
    assert smoothed(below)[0] == pytest.approx(0.5e-10, rel=1e-12, abs=0)


def test_all_empty_or_none_empty_shares_are_left_as_they_are() -> None:
    assert smoothed(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    assert smoothed(np.array([0.25, 0.75])).tolist() == [0.25, 0.75]


def test_homogeneity_p_value_of_two_bins_is_pearsons_without_continuity_correction() -> None:
    """A 2 x 2 table is where scipy's default Yates correction applies; ours is never corrected."""
    ref, cur = np.array([60.0, 40.0]), np.array([45.0, 55.0])
    expected = stats.chi2_contingency([ref, cur], correction=False).pvalue
    assert homogeneity_p_value(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert homogeneity_p_value(ref, cur) != pytest.approx(stats.chi2_contingency([ref, cur]).pvalue, rel=1e-3)


def test_homogeneity_drops_bins_empty_in_both_and_needs_two_bins_left() -> None:
    ref, cur = np.array([0.0, 60.0, 0.0, 40.0]), np.array([0.0, 45.0, 0.0, 55.0])
    expected = stats.chi2_contingency([[60, 40], [45, 55]], correction=False).pvalue
    assert homogeneity_p_value(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert homogeneity_p_value(np.array([0.0, 60.0]), np.array([0.0, 45.0])) is None
    assert homogeneity_p_value(np.array([0.0, 0.0]), np.array([10.0, 45.0])) is None  # one side empty


def test_shares_of_a_single_value_and_of_nothing() -> None:
    assert shares(np.array([0.0, 1.0, 0.0])).tolist() == [0.0, 1.0, 0.0]
    assert shares(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
