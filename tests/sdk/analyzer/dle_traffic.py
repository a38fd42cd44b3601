"""Synthetic truth for direct loss estimation through the real SDK: x ~ U(low, high), y = 2x + noise·x·ε with
ε ~ N(0, 1) (heteroscedastic: the error grows with x), a model predicting 2x (the conditional mean, so its
error is the noise alone) whose ``predict`` a real ``@modelspan.monitor`` records with the baseline's error
model; the spans become the documents a store holds, spread over ``WINDOW``.

The true expected absolute error of a row is √(2/π)·noise·x, so a window's expected MAE is
√(2/π)·noise·(low + high)/2 and its expected MSE noise²·(low² + low·high + high²)/3."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from opentelemetry.sdk.trace import ReadableSpan

import modelspan
from tests.sdk.analyzer.traffic import record
from tests.store.elasticsearch.traffic import WINDOW

MODEL, VERSION = "reg", "1"
LOW, HIGH = 0.0, 2.0
__all__ = ["MODEL", "VERSION", "WINDOW", "Traffic", "draw", "expected_mae", "reference_baseline", "traffic"]


def draw(rng: np.random.Generator, rows: int, low: float = LOW, high: float = HIGH,
         noise: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, prediction 2x, target) of ``rows`` rows."""
    x = rng.uniform(low, high, rows)
    return x, 2.0 * x, 2.0 * x + noise * x * rng.normal(0.0, 1.0, rows)


def expected_mae(low: float = LOW, high: float = HIGH, noise: float = 1.0) -> float:
    return math.sqrt(2 / math.pi) * noise * (low + high) / 2


def reference_baseline(rows: int = 100_000, seed: int = 19) -> modelspan.Baseline:
    """A baseline with an error model, learned on a labelled reference set drawn like the clean windows."""
    x, prediction, target = draw(np.random.default_rng(seed), rows)
    data = {"x": x, "predicted": prediction, "target": target}
    return modelspan.Baseline.from_data(data, model=MODEL, version=VERSION, output="predicted",
                                        prediction="predicted", target="target")


@dataclass
class Traffic:
    """One window of traffic: the documents, and each row's inputs and truth in call order."""

    documents: list[dict[str, Any]]
    x: np.ndarray
    predicted: np.ndarray
    actual: np.ndarray
    prediction_ids: list[str]
    """The call id (single rows) or ``<call id>:<row>`` per row, for ``record_outcomes``."""
    spans: list[ReadableSpan]


def traffic(baseline: modelspan.Baseline, seed: int, rows: int = 2_000, low: float = LOW, high: float = HIGH,
            noise: float = 1.0, singles: int = 0, batch: int = 250) -> Traffic:
    """``rows`` rows in batches of ``batch`` (the first ``singles`` as single-row calls) through the SDK."""
    rng = np.random.default_rng(seed)
    x, predicted, actual = draw(rng, rows, low, high, noise)

    def predict(features: Any) -> Any:
        if isinstance(features, dict):
            return 2.0 * float(features["x"])
        return 2.0 * np.array([row["x"] for row in features], dtype=float)

    recorded = record(predict, [{"x": value} for value in x.tolist()], rng, singles=singles, batch=batch,
                      monitor={"model": MODEL, "version": VERSION, "task": "regression"},
                      baselines=[baseline], flush_each_batch=False)
    return Traffic(recorded.documents, x, predicted, actual, recorded.prediction_ids, recorded.spans)
