"""Baselines learn the CBPE calibration from predictions, labels and scores, and save it as JSON;
baselines without one load and keep their ids as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import modelspan
from modelspan.analyzer import estimation


def reference(rows: int = 5_000, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    score = 1 / (1 + np.exp(-4 * x))
    return {
        "x": x,
        "score": score,
        "predicted": (score > 0.5).astype(np.int64),
        "label": (rng.random(rows) < 1 / (1 + np.exp(-2 * x))).astype(np.int64),
    }


def test_from_data_learns_the_calibration_from_named_columns(tmp_path: Path) -> None:
    data = reference()
    baseline = modelspan.Baseline.from_data(
        data, model="churn", version="3", output="predicted",
        prediction="predicted", target="label", scores="score",
    )
    assert sorted(baseline.features) == ["x"]  # label and score are not features
    calibration = baseline.calibration
    assert calibration is not None and calibration.isotonic and calibration.rows == 5_000
    assert calibration.reference["accuracy"] == pytest.approx(np.mean(data["label"] == data["predicted"]))
    path = tmp_path / "churn-3.json"
    baseline.save(path)
    loaded = modelspan.Baseline.load(path)
    assert loaded == baseline and loaded.id == baseline.id
    assert loaded.calibration is not None
    window = reference(2_000, seed=8)
    assert estimation.estimate(loaded.calibration, window["score"], window["predicted"]) == \
        estimation.estimate(calibration, window["score"], window["predicted"])


def test_from_data_takes_values_as_well_as_names() -> None:
    data = reference()
    by_value = modelspan.Baseline.from_data(
        {"x": data["x"]}, model="m", version="1",
        prediction=data["predicted"], target=list(data["label"]), scores=data["score"],
    )
    by_name = modelspan.Baseline.from_data(
        data, model="m", version="1", prediction="predicted", target="label", scores="score",
    )
    assert by_value.calibration == by_name.calibration
    assert "predicted" not in by_name.features


def test_a_baseline_without_calibration_keeps_its_json_and_id() -> None:
    baseline = modelspan.Baseline.from_data({"x": [1.0, 2.0, 3.0]}, model="m", version="1")
    body = baseline.to_dict()
    assert "calibration" not in body
    old = json.loads(json.dumps(body))  # what a baseline saved before calibration existed holds
    loaded = modelspan.Baseline.from_dict(old)
    assert loaded.calibration is None and loaded.id == baseline.id == loaded.content_id()


def test_calibration_arguments_come_together_and_must_be_binary() -> None:
    data = reference(200)
    with pytest.raises(ValueError, match="together"):
        modelspan.Baseline.from_data(data, model="m", version="1", prediction="predicted")
    with pytest.raises(ValueError, match="not in the data"):
        modelspan.Baseline.from_data(data, model="m", version="1", prediction="predicted",
                                     target="nope", scores="score")
    with pytest.raises(ValueError, match="binary"):
        modelspan.Baseline.from_data(data, model="m", version="1", prediction="predicted",
                                     target=np.full(200, 2), scores="score")
    with pytest.raises(ValueError, match="probabilities"):
        modelspan.Baseline.from_data(data, model="m", version="1", prediction="predicted",
                                     target="label", scores=data["x"])
