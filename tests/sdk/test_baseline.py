"""Baselines: quantile edges robust to ties, profiles of each kind, JSON round trip, capture."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelspan
from modelspan.baseline import Baseline, FeatureProfile
from modelspan.profiling import _profile
from tests.sdk.conftest import Spans


def test_edges_strictly_increasing_for_ties_and_constants() -> None:
    cases = [
        np.zeros(100),
        np.array([1.0] * 95 + [2.0] * 5),
        np.concatenate([np.zeros(900), np.arange(100.0)]),
        np.array([3.0]),
        np.random.default_rng(0).integers(0, 3, 1000).astype(float),
    ]
    for values in cases:
        edges = _profile.quantile_edges(values, 10)
        assert edges and all(a < b for a, b in itertools.pairwise(edges)), edges
        counts = _profile.bin_counts(values, edges)
        assert counts.sum() == values.size


def test_constant_column_has_its_own_bin() -> None:
    profile = FeatureProfile.from_values("c", [7.0] * 10)
    assert profile.edges[0] == 7.0 and profile.bin_counts == [0, 10, 0]


def test_point_mass_gets_its_own_bin() -> None:
    values = np.concatenate([np.zeros(900), np.linspace(1, 100, 100)])
    edges = _profile.quantile_edges(values, 10)
    counts = _profile.bin_counts(values, edges).tolist()
    assert 900 in counts  # the zeros are not lumped with anything else


def test_empty_and_all_null_columns() -> None:
    profile = FeatureProfile.from_values("x", [None, None], kind="numeric")
    assert (profile.count, profile.null_count, profile.edges, profile.bin_counts) == (0, 2, [], [0])
    assert FeatureProfile.from_values("y", np.array([], dtype=float)).count == 0


def test_numeric_profile_statistics() -> None:
    values = np.arange(1, 101, dtype=float)
    profile = FeatureProfile.from_values("x", values, sample_size=10)
    assert profile.kind == "numeric" and profile.count == 100
    assert profile.mean == pytest.approx(50.5) and profile.std == pytest.approx(np.std(values))
    assert (profile.min, profile.max) == (1.0, 100.0)
    assert len(profile.sample) == 10 and set(profile.sample) <= set(values.tolist())
    assert sum(profile.bin_counts) == 100 and len(profile.bin_counts) == len(profile.edges) + 1


def test_categorical_and_text_profiles() -> None:
    cities = ["rome"] * 5 + ["oslo"] * 3 + ["lima"]
    profile = FeatureProfile.from_values("city", [*cities, None])
    assert profile.categories == ["rome", "oslo", "lima"] and profile.category_counts == [5, 3, 1]
    assert profile.null_count == 1 and profile.other_count == 0
    text = FeatureProfile.from_values("review", ["good food and nice staff", "bad food", "ok"], kind="text")
    assert text.kind == "text" and "food" in text.vocabulary
    assert (text.min, text.max) == (2.0, 24.0)


def test_from_data_shapes_and_output_column() -> None:
    rows = [{"a": 1.0, "b": "x", "y": 0}, {"a": 2.0, "b": "y", "y": 1}]
    from_rows = Baseline.from_data(rows, model="m", version="1", output="y")
    from_columns = Baseline.from_data({"a": [1.0, 2.0], "b": ["x", "y"], "y": [0, 1]}, model="m", version="1",
                                      output="y")
    assert from_rows.features.keys() == from_columns.features.keys() == {"a", "b"}
    assert from_rows.id == from_columns.id  # the id is a digest of the content
    array = Baseline.from_data(np.arange(6.0).reshape(3, 2), model="m", version="1", features=["p", "q"])
    assert list(array.features) == ["p", "q"] and array.row_count == 3
    with pytest.raises(ValueError):
        Baseline.from_data({"a": [1.0]}, model="m", version="1", output="missing")
    with pytest.raises(ValueError):
        Baseline.from_data({"a": [1.0], "b": [1.0, 2.0]}, model="m", version="1")
    with pytest.raises(ValueError):
        Baseline.from_data(42, model="m", version="1")


def test_json_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    baseline = Baseline.from_data(
        {"x": rng.normal(size=200), "k": rng.choice(["a", "b"], 200).tolist(), "label": rng.integers(0, 2, 200)},
        model="m",
        version="7",
        output="label",
        latency_ms=rng.exponential(5, 200).tolist(),
    )
    path = tmp_path / "baseline.json"
    baseline.save(path)
    loaded = Baseline.load(path)
    assert loaded == baseline
    assert loaded.content_id() == baseline.id
    body = json.loads(path.read_text())
    assert body["format_version"] == 1 and body["model"] == "m"
    assert Baseline.from_dict({**body, "future_field": 1}) == baseline


def test_pandas_and_parquet_friendly_input() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1.0, 2.0, math.nan], "c": pd.Series(["a", None, "b"], dtype="string")})
    baseline = Baseline.from_data(frame, model="m", version="1")
    assert baseline.features["x"].kind == "numeric" and baseline.features["x"].null_count == 1
    assert baseline.features["c"].kind == "categorical" and baseline.features["c"].null_count == 1


def test_capture_records_module_paths_per_output(spans: Spans) -> None:
    @modelspan.monitor(model="router", version="1")
    def predict(row: dict[str, Any]) -> str:
        with modelspan.module("gate"):
            pass
        if row["x"] > 0:
            with modelspan.module("positive"):
                return "up"
        with modelspan.module("negative"):
            return "down"

    with Baseline.capture(model="router", version="1") as cap:
        for x in [1.0, 2.0, -1.0, 3.0]:
            predict({"x": x})
    baseline = cap.baseline
    assert baseline is not None
    assert baseline.module_paths == {"up": {"gate>positive": 3}, "down": {"gate>negative": 1}}
    assert baseline.features["x"].count == 4
    assert baseline.output is not None and baseline.output.categories == ["up", "down"]
    assert baseline.latency_ms is not None and baseline.latency_ms.count == 4
    assert len(spans.models()) == 4  # capturing does not stop normal export


def test_capture_onto_existing_baseline_and_batches(spans: Spans) -> None:
    base = Baseline.from_data({"x": [1.0, 2.0]}, model="m", version="2")

    @modelspan.monitor(model="m", version="2", sample_rate=0.01)
    def predict(batch: np.ndarray) -> np.ndarray:
        with modelspan.module("only"):
            return np.array([1.5] * len(batch))

    with Baseline.capture(model="m", baseline=base) as cap:
        predict(np.ones((3, 1)))
        predict(np.ones((2, 1)))
    captured = cap.baseline
    assert captured is not None and captured.features == base.features
    assert captured.module_paths == {"*": {"only": 5}}  # per row, never sampled out
    assert captured.id != base.id
    predict(np.ones((1, 1)))
    assert cap.calls == 2  # the capture stopped at the end of the block



def test_columns_at_the_float_limit_get_finite_edges_without_warnings() -> None:
    import sys

    largest = sys.float_info.max
    for column in ([largest] * 5, [largest, largest, largest, -largest, 0.0], [-largest] * 3):
        profile = modelspan.Baseline.from_data({"x": column}, model="m", version="1").features["x"]
        assert profile.edges and all(math.isfinite(edge) for edge in profile.edges)
        assert profile.edges == sorted(set(profile.edges))
        assert sum(profile.bin_counts) == len(column)
