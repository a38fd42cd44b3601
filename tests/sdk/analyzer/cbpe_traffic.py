"""Synthetic truth for CBPE through the real SDK: x ~ N(mean, std²), y ~ Bernoulli(sigmoid(2x - shift)), a model
scoring sigmoid(4x) (monotone but over-confident) whose ``predict_proba`` a real ``@modelspan.monitor`` records;
the spans become the documents a store holds, spread over ``WINDOW``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from opentelemetry.sdk.trace import ReadableSpan

import modelspan
from tests.sdk.analyzer.traffic import record
from tests.store.elasticsearch.traffic import WINDOW

MODEL, VERSION = "clf", "1"
BATCH = 250  # <= semconv.MAX_ROW_OUTPUTS: every row's label and score is on its span
__all__ = ["BATCH", "MODEL", "VERSION", "WINDOW", "Window", "expected_accuracy", "reference_baseline", "window"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def model_score(x: np.ndarray) -> np.ndarray:
    return sigmoid(4.0 * x)


def expected_accuracy(mean: float, std: float, shift: float = 0.0) -> float:
    """E[P(y = ŷ)] with ŷ = [x > 0], by the trapezoid rule on a fine grid."""
    x = np.linspace(mean - 12 * std, mean + 12 * std, 400_001)
    density = np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    p = sigmoid(2.0 * x - shift)
    y = np.where(x > 0, p, 1 - p) * density  # the rule written out: np.trapezoid is numpy 2 only
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


def reference_baseline(rows: int = 50_000, seed: int = 19) -> modelspan.Baseline:
    """A calibrated baseline learned on a labelled reference set drawn like the clean windows."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, rows)
    y = (rng.random(rows) < sigmoid(2.0 * x)).astype(int)
    score = model_score(x)
    data = {"x": x, "predicted": (score > 0.5).astype(int), "label": y, "score": score}
    return modelspan.Baseline.from_data(data, model=MODEL, version=VERSION, output="predicted",
                                        prediction="predicted", target="label", scores="score")


@dataclass
class Window:
    """One window of traffic: the documents, and each row's truth in call order."""

    documents: list[dict[str, Any]]
    score: np.ndarray
    """P(class 1) per row (what the model's ``predict_proba`` said)."""
    predicted: np.ndarray
    actual: np.ndarray
    prediction_ids: list[str]
    """``<call id>:<row>`` per row, for ``record_outcomes``."""
    spans: list[ReadableSpan]
    """The spans behind ``documents``, at the same times: for the real Elasticsearch exporter."""


def window(seed: int, rows: int = 2_000, mean: float = 0.0, std: float = 1.0, shift: float = 0.0,
           singles: int = 0, batch: int = BATCH,
           baseline: modelspan.Baseline | None = None) -> Window:
    """``rows`` rows in batches of ``batch`` (the first ``singles`` as single-row calls) through the SDK;
    with ``baseline`` the SDK has its calibration at call time (a batch records its CBPE sums)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(mean, std, rows)
    actual = (rng.random(rows) < sigmoid(2.0 * x - shift)).astype(int)

    def predict_proba(features: Any) -> np.ndarray:
        rows = features if isinstance(features, list) else [features]
        s = model_score(np.array([row["x"] for row in rows], dtype=float))
        matrix = np.column_stack([1.0 - s, s])
        return matrix if isinstance(features, list) else matrix[0]

    recorded = record(predict_proba, [{"x": value} for value in x.tolist()], rng, singles=singles,
                      batch=batch, monitor={"model": MODEL, "version": VERSION, "task": "classification"},
                      baselines=[baseline] if baseline else None)
    score = model_score(x)
    return Window(recorded.documents, score, (score > 0.5).astype(int), actual, recorded.prediction_ids,
                  recorded.spans)
