"""Data-quality findings compared with their rate under no change, with severity (issue 12, items 4, 8).

Windows are given as the sufficient statistics a store returns (``ColumnStats``), against real
baseline profiles built by ``Baseline.from_data``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

import modelspan
from modelspan import findings
from modelspan.analyzer._data_quality import data_quality_findings
from modelspan.analyzer._documents import Context
from modelspan.store import ColumnStats, ModelStats, Operations, Window

WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
CONTEXT = Context(WINDOW, "baseline", None, "2026-11-22T11:00:05.000Z")


def _baseline(m: int, features: int = 1, categories: list[str] | None = None) -> modelspan.Baseline:
    rng = np.random.default_rng(3)
    data: dict[str, Any] = {f"x{j}": rng.standard_normal(m) for j in range(features)}
    if categories is not None:
        data["c"] = [categories[i % len(categories)] for i in range(m)]
    return modelspan.Baseline.from_data(data, model="m", version="1", categorical=["c"] if categories else [])


def _window(columns: dict[str, ColumnStats]) -> ModelStats:
    return ModelStats("m", "1", Operations(), {}, {}, 0, {}, columns)


def _by_check(docs: list[dict[str, Any]], check: str) -> list[dict[str, Any]]:
    return [d for d in docs if d[findings.METRIC_NAME] == f"{check}_rate"]


def test_out_of_range_at_its_expected_rate_is_not_flagged() -> None:
    """A 200-row baseline leaves about 2/201 = 1% of fresh values outside its min/max: 30 of 2,000
    is usual (the old rule compared with 0% and flagged it)."""
    docs = data_quality_findings(CONTEXT, _window({"x0": ColumnStats("x0", "numeric", count=2000,
                                                                    out_of_range_count=30)}), None, _baseline(200))
    (doc,) = _by_check(docs, "out_of_range")
    assert not doc[findings.FLAGGED] and doc[findings.SEVERITY] == "info"
    assert doc[findings.METRIC_REFERENCE_VALUE] == pytest.approx(2 / 201)
    assert doc[findings.TEST_P_VALUE] == pytest.approx(float(stats.betabinom.sf(29, 2000, 2, 199)))
    assert doc[findings.TEST_NAME] == "beta_binomial"


def test_severity_grows_with_the_effect() -> None:
    """1.5% out of range is a warning, 100% is critical (both were 'warning')."""
    baseline = _baseline(10_000)
    for failed, level in ((150, "warning"), (10_000, "critical")):
        window = _window({"x0": ColumnStats("x0", "numeric", count=10_000, out_of_range_count=failed)})
        (doc,) = _by_check(data_quality_findings(CONTEXT, window, None, baseline), "out_of_range")
        assert doc[findings.FLAGGED] and doc[findings.SEVERITY] == level, doc[findings.SUMMARY]
        assert doc[findings.TEST_SCORE] == pytest.approx(failed / 10_000 - 2 / 10_001)


def test_too_few_values_give_no_verdict() -> None:
    window = _window({"x0": ColumnStats("x0", "numeric", count=0, null_count=60)})
    (doc,) = _by_check(data_quality_findings(CONTEXT, window, None, _baseline(1000)), "null")
    assert not doc[findings.FLAGGED] and "too few values" in doc[findings.SUMMARY]


def test_corrected_across_features() -> None:
    """Out-of-range p = 0.002 flags one feature alone, but not when it is one of 50 such features
    (Benjamini-Hochberg at 1%), exactly as scipy's false_discovery_control says."""
    n, m = 2000, 200
    failed = next(k for k in range(20, 2000) if stats.betabinom.sf(k - 1, n, 2, m - 1) < 0.002)
    p = float(stats.betabinom.sf(failed - 1, n, 2, m - 1))
    one = data_quality_findings(CONTEXT, _window({"x0": ColumnStats("x0", "numeric", count=n,
                                                                   out_of_range_count=failed)}), None, _baseline(m))
    assert _by_check(one, "out_of_range")[0][findings.FLAGGED]
    columns = {f"x{j}": ColumnStats(f"x{j}", "numeric", count=n, out_of_range_count=failed if j == 0 else 25)
               for j in range(50)}
    many = _by_check(data_quality_findings(CONTEXT, _window(columns), None, _baseline(m, 50)), "out_of_range")
    ps = [d[findings.TEST_P_VALUE] for d in many]
    assert many[0][findings.TEST_P_VALUE] == pytest.approx(p)
    expected = stats.false_discovery_control(ps, method="bh")
    assert [d[findings.TEST_P_VALUE_ADJUSTED] for d in many] == pytest.approx(list(expected))
    assert not any(d[findings.FLAGGED] for d in many)


def test_missing_values_against_the_baselines_own_share() -> None:
    baseline = modelspan.Baseline.from_data({"x0": [None if i % 10 == 0 else float(i) for i in range(1000)]},
                                            model="m", version="1")
    usual = _window({"x0": ColumnStats("x0", "numeric", count=900, null_count=100)})
    (doc,) = _by_check(data_quality_findings(CONTEXT, usual, None, baseline), "null")
    assert not doc[findings.FLAGGED] and doc[findings.METRIC_REFERENCE_VALUE] == pytest.approx(0.1)
    worse = _window({"x0": ColumnStats("x0", "numeric", count=690, null_count=310)})
    (doc,) = _by_check(data_quality_findings(CONTEXT, worse, None, baseline), "null")
    table = [[310, 690], [100, 900]]
    assert doc[findings.FLAGGED] and doc[findings.SEVERITY] == "critical"
    assert doc[findings.TEST_P_VALUE] == pytest.approx(stats.fisher_exact(table, alternative="greater").pvalue)


def test_unseen_categories_expected_from_the_baselines_rare_ones() -> None:
    """A baseline that saw 300 categories once each (beyond its top 50) expects about 300/m new
    ones in fresh traffic; a feature whose categories are all frequent expects none."""
    rare = [f"r{i}" for i in range(300)]
    data = {"c": ["a"] * 1700 + rare}
    baseline = modelspan.Baseline.from_data(data, model="m", version="1", categorical=["c"])
    usual = _window({"c": ColumnStats("c", "categorical", count=2000, unseen_count=290)})
    (doc,) = _by_check(data_quality_findings(CONTEXT, usual, None, baseline), "unseen_category")
    assert not doc[findings.FLAGGED]
    assert doc[findings.METRIC_REFERENCE_VALUE] == pytest.approx(0.15, abs=0.03)
    frequent = _baseline(2000, categories=["a", "b", "c"])
    novel = _window({"c": ColumnStats("c", "categorical", count=2000, unseen_count=60)})
    (doc,) = _by_check(data_quality_findings(CONTEXT, novel, None, frequent), "unseen_category")
    assert doc[findings.FLAGGED]


def test_listings_most_severe_then_most_recent() -> None:
    docs = [{findings.ID: "a", findings.SEVERITY: "warning", findings.TIMESTAMP: "2026-11-22T10:00:00.000Z"},
            {findings.ID: "b", findings.SEVERITY: "info", findings.TIMESTAMP: "2026-11-22T12:00:00.000Z"},
            {findings.ID: "c", findings.SEVERITY: "critical", findings.TIMESTAMP: "2026-11-22T09:00:00.000Z"},
            {findings.ID: "d", findings.SEVERITY: "warning", findings.TIMESTAMP: "2026-11-22T11:00:00.000Z"}]
    assert [d[findings.ID] for d in findings.ordered(docs)] == ["c", "d", "a", "b"]
