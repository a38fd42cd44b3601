"""The two sides a drift test compares, built from a baseline profile and from a window's statistics."""

from __future__ import annotations

import math

import modelspan
from modelspan.analyzer import _drift_findings
from modelspan.analyzer._drift_findings import UNSEEN, current_histogram, profile_histogram
from modelspan.analyzer.drift import OTHER, Binned, Categories
from modelspan.store import ColumnStats, ModelStats, Operations

# 60 categories, c0 seen 61 times ... c59 twice: the baseline names the 50 most frequent
VALUES = [f"c{k}" for k in range(60) for _ in range(61 - k)]
BASELINE = modelspan.Baseline.from_data({"c": VALUES, "x": [float(v % 7) for v in range(len(VALUES))]},
                                        model="m", version="1", categorical=["c"])


def _window(**columns: ColumnStats) -> ModelStats:
    return ModelStats("m", "1", Operations(), {}, {}, 0, {}, dict(columns))


def test_the_baseline_side_keeps_the_values_outside_its_50_categories_under_other() -> None:
    side = profile_histogram(BASELINE.features["c"])
    assert isinstance(side, Categories)
    assert {k: side.counts[k] for k in ("c0", "c49")} == {"c0": 61, "c49": 12} and len(side.counts) == 51
    assert side.counts[OTHER] == sum(range(2, 12))  # c50 .. c59: 11 .. 2 values each
    # none of the 60 was seen once: no singleton, and at most min(60 - 50, 65) unnamed ones
    assert side.expected_new == 10 / len(VALUES)


def test_the_window_side_names_unseen_values_up_to_their_count_and_keeps_the_rest() -> None:
    profile = BASELINE.features["c"]
    stats = ColumnStats("c", "categorical", count=100, category_counts=[40, 20], other_count=5, unseen_count=12,
                        unseen_examples={"new_a": 7, "c0": 3, "new_b": 9, "new_c": 2})
    side = current_histogram(stats, profile)
    assert isinstance(side, Categories)
    # "c0" is a named category already; "new_b" (9) would exceed the 12 unseen values with "new_a" (7),
    # "new_c" fits; the 3 unseen values left unnamed are one bucket; the 100 - 77 values counted in no
    # bucket (a store that lost a batch's remainder) join "other", never dropped
    assert side.counts == {"c0": 40, "c1": 20, OTHER: 5 + 23, "new_a": 7, "new_c": 2, UNSEEN: 3}
    assert side.expected_new == 12 / 100


def test_an_empty_window_side_expects_no_new_categories() -> None:
    side = current_histogram(ColumnStats("c", "categorical"), BASELINE.features["c"])
    assert isinstance(side, Categories) and side.counts == {} and side.expected_new == 0.0


def test_the_window_std_comes_from_its_sums_and_is_unknown_below_two_values_or_without_spread() -> None:
    profile = BASELINE.features["x"]
    edges = len(profile.edges)
    spread = current_histogram(ColumnStats("x", "numeric", count=4, sum=10.0, sum_sq=30.0), profile)
    assert isinstance(spread, Binned) and spread.std == math.sqrt(30 / 4 - 2.5**2)
    assert spread.counts.tolist() == [0.0] * (edges + 1)  # no bin counts stored: empty bins, not an error
    for stats in (ColumnStats("x", "numeric", count=1, sum=3.0, sum_sq=9.0),
                  ColumnStats("x", "numeric", count=3, sum=6.0, sum_sq=12.0)):  # one value; three 2.0s
        side = current_histogram(stats, profile)
        assert isinstance(side, Binned) and side.std is None


def test_a_column_missing_on_either_side_is_not_tested() -> None:
    x = ColumnStats("x", "numeric", count=200, sum=600.0, sum_sq=2400.0, bin_counts=[20] * (len(
        BASELINE.features["x"].edges) + 1))
    only_x = _window(x=x)
    assert [c.name for c in _drift_findings.tested_columns(only_x, None, BASELINE)] == ["x"]  # "c" has no values here
    assert _drift_findings.tested_columns(only_x, _window(), BASELINE) == []  # nor "x" in the reference window
    assert [c.name for c in _drift_findings.tested_columns(only_x, only_x, BASELINE)] == ["x"]
