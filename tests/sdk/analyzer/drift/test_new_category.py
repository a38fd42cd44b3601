"""New-category rate: share of current values in categories with no reference count."""

from __future__ import annotations

import pytest

from modelspan.analyzer.drift import OTHER, REGISTRY, Categories, run


def test_rate_counts_categories_the_reference_never_saw() -> None:
    ref = Categories({"a": 500, "b": 500, "c": 0})
    cur = Categories({"a": 400, "b": 400, "c": 100, "d": 100})
    result = run("new_category_rate", ref, cur)
    assert result.score == pytest.approx(0.2) and result.drifted and result.p_value is None


def test_other_is_new_only_when_the_reference_had_no_other() -> None:
    cur = Categories({"a": 990, OTHER: 10})
    assert run("new_category_rate", Categories({"a": 1000}), cur).score == pytest.approx(0.01)
    assert run("new_category_rate", Categories({"a": 900, OTHER: 100}), cur).score == 0.0


def test_below_the_threshold_is_not_drift() -> None:
    result = run("new_category_rate", Categories({"a": 1000}), Categories({"a": 999, "z": 1}))
    assert result.score == pytest.approx(0.001) and not result.drifted


def test_a_category_the_reference_saw_once_is_not_new() -> None:
    result = run("new_category_rate", Categories({"a": 999, "b": 1}), Categories({"a": 500, "b": 500}))
    assert result.score == 0.0 and not result.drifted


def test_an_empty_current_window_has_no_new_categories() -> None:
    """Called directly (run() gives no verdict below MIN_SAMPLES): a rate of nothing, not a division by 0."""
    assert REGISTRY["new_category_rate"].function(Categories({"a": 10}), Categories({})).score == 0.0
