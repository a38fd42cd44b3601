"""Batch summaries: exact against a hand count, mergeable, over the baseline's bins."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

import modelspan
from modelspan import semconv
from modelspan.baseline import Baseline
from modelspan.instrumentation._checks import Quality
from modelspan.instrumentation._summaries import batch_attributes
from modelspan.profiling import _inputs, _profile
from tests.sdk.conftest import Spans


def _summarise(batch: _inputs.Batch, baseline: Baseline | None = None) -> tuple[dict[str, Any], Quality]:
    attributes: dict[str, Any] = {}
    quality = Quality()
    batch_attributes(batch, baseline, {}, attributes, quality)
    return attributes, quality


def test_bins_follow_elasticsearch_range_semantics() -> None:
    baseline = Baseline.from_data({"x": np.arange(100.0)}, model="m", version="1")
    edges = baseline.features["x"].edges
    values = np.array([-1.0, edges[0], edges[0] - 1e-9, edges[-1], 1e6, *np.linspace(0, 99, 50)])
    attributes, _ = _summarise(_inputs.Batch(values.size, {"x": values}), baseline)
    expected = [0] * (len(edges) + 1)
    for value in values:  # the definition, one value at a time
        index = sum(1 for edge in edges if value >= edge)
        expected[index] += 1
    got = [attributes[semconv.batch_bin("x", i)] for i in range(len(edges) + 1)]
    assert got == expected
    assert attributes[semconv.batch_stat("x", "out_of_range_count")] == 2


def test_numeric_stats_with_nulls_nan_and_wrong_types() -> None:
    column = [1.0, None, float("nan"), float("inf"), "text", [1], 3.0]
    attributes, quality = _summarise(_inputs.Batch(7, {"x": column}))
    stat = semconv.batch_stat
    assert attributes[stat("x", "count")] == 2
    assert attributes[stat("x", "null_count")] == 1
    assert attributes[stat("x", "nan_count")] == 2
    assert attributes[stat("x", "sum")] == 4.0 and attributes[stat("x", "sum_sq")] == 10.0
    assert (attributes[stat("x", "min")], attributes[stat("x", "max")]) == (1.0, 3.0)
    assert quality.counts[semconv.CHECK_NAN] == 2


def test_summaries_merge_across_batches() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(size=1000)
    baseline = Baseline.from_data({"x": data}, model="m", version="1")
    whole, _ = _summarise(_inputs.Batch(1000, {"x": data}), baseline)
    parts = [_summarise(_inputs.Batch(250, {"x": data[i : i + 250]}), baseline)[0] for i in range(0, 1000, 250)]
    for key in whole:
        if key.endswith((".count", ".sum")) or ".bin." in key:
            assert sum(part[key] for part in parts) == pytest.approx(whole[key]), key


def test_categorical_counts_other_unseen_and_top() -> None:
    train = ["a"] * 60 + [f"c{i}" for i in range(60)]  # 61 categories: a top-50 list plus others
    baseline = Baseline.from_data({"city": train}, model="m", version="1")
    profile = baseline.features["city"]
    assert profile.kind == "categorical" and profile.categories[0] == "a"
    beyond_top = next(c for c in profile.vocabulary if c not in profile.categories)
    batch = ["a", "a", "c1", beyond_top, "new", None, 5]
    attributes, quality = _summarise(_inputs.Batch(len(batch), {"city": batch}), baseline)
    stat = semconv.batch_stat
    assert attributes[semconv.batch_category("city", 0)] == 2
    assert attributes[semconv.batch_category("city", profile.categories.index("c1"))] == 1
    assert attributes[stat("city", "cat.other")] == 1
    assert attributes[stat("city", "unseen_count")] == 2  # "new" and "5"
    assert attributes[stat("city", "null_count")] == 1
    assert attributes[stat("city", "top.values")][0] == "a"
    assert attributes[stat("city", "top.counts")][0] == 2
    assert quality.features[semconv.CHECK_UNSEEN_CATEGORY] == ["city"]


def test_text_length_and_oov_rate() -> None:
    train = ["the cat sat on the mat", "a dog ran in the park", "the bird sang a song today"]
    baseline = Baseline.from_data({"review": train}, model="m", version="1")
    assert baseline.features["review"].kind == "text"
    batch = ["the cat ran", "zebra quantum flux"]
    attributes, _ = _summarise(_inputs.Batch(2, {"review": batch}), baseline)
    stat = semconv.batch_stat
    assert attributes[stat("review", "oov_rate")] == pytest.approx(3 / 6)
    assert attributes[stat("review", "length_mean")] == pytest.approx((11 + 18) / 2)
    edges = baseline.features["review"].edges
    bins = [attributes[semconv.batch_bin("review", i)] for i in range(len(edges) + 1)]
    assert sum(bins) == 2


def test_missing_feature_in_batch_counts_nulls() -> None:
    baseline = Baseline.from_data({"x": [1.0, 2.0], "y": [3.0, 4.0]}, model="m", version="1")
    attributes, quality = _summarise(_inputs.Batch(3, {"x": np.array([1.0, 2.0, 3.0])}), baseline)
    assert attributes[semconv.batch_stat("y", "null_count")] == 3
    assert quality.counts[semconv.CHECK_NULL] == 3


def test_bin_counts_matches_numpy_histogram_interior() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=5000)
    edges = np.quantile(values, [0.1, 0.3, 0.5, 0.7, 0.9])
    counts = _profile.bin_counts(values, edges)
    # numpy's histogram counts e[i] <= x < e[i+1] for interior bins: the same semantics.
    interior, _ = np.histogram(values, bins=edges)
    assert counts[1:-2].tolist() == interior[:-1].tolist()
    assert counts[0] == np.count_nonzero(values < edges[0])
    assert counts[-1] == np.count_nonzero(values >= edges[-1])


def test_batch_of_dicts_end_to_end_with_baseline(spans: Spans) -> None:
    rows = [{"age": 30 + i, "plan": "pro" if i % 2 else "free"} for i in range(20)]
    baseline = Baseline.from_data(rows, model="churn", version="3", outputs=[0, 1] * 10)

    @modelspan.monitor(model="churn", version="3", baseline=baseline)
    def predict(batch: list[dict[str, Any]]) -> list[int]:
        return [1 if row["plan"] == "pro" else 0 for row in batch]

    predict([*rows[:6], {"age": 1000, "plan": "enterprise"}])
    attributes = spans.one()
    stat = semconv.batch_stat
    assert attributes[semconv.BASELINE_ID] == baseline.id
    assert attributes[stat("age", "out_of_range_count")] == 1
    assert attributes[stat("plan", "unseen_count")] == 1
    out = baseline.output
    assert out is not None and out.kind == "categorical" and out.categories == ["0", "1"]
    labels = Counter(attributes[semconv.OUTPUT_LABELS])
    assert labels == {"0": 4, "1": 3}
    assert attributes[semconv.batch_category(semconv.OUTPUT_FEATURE, 0)] == 4
    assert attributes[semconv.quality_count(semconv.CHECK_OUT_OF_RANGE)] == 1


def test_pandas_dataframe_and_series(spans: Spans) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1.0, 2.0, None], "kind": ["a", "b", None]})

    @modelspan.monitor(model="m")
    def predict(data: Any) -> Any:
        return np.zeros(len(data)) if isinstance(data, pd.DataFrame) else 0.0

    predict(frame)
    predict(frame.iloc[0])
    first, second = (dict(s.attributes or {}) for s in spans.models())
    assert first[semconv.BATCH_SIZE] == 3
    assert first[semconv.batch_stat("x", "nan_count")] == 1
    assert first[semconv.batch_stat("kind", "null_count")] == 1
    assert second[semconv.feature_value("x")] == 1.0 and second[semconv.feature_value("kind")] == "a"
