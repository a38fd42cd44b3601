"""Synthetic truth for multiclass CBPE through the real SDK: x ~ N(mean, std²) in 2-D, y ~ softmax(Wx), a model
whose ``predict_proba`` says softmax(2Wx) (over-confident), recorded by a real ``@modelspan.monitor``; the spans
become the documents a store holds, spread over ``WINDOW``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from opentelemetry.sdk.trace import ReadableSpan

import modelspan
from tests.sdk.analyzer.traffic import record
from tests.store.elasticsearch.traffic import WINDOW

MODEL, VERSION = "triage", "1"
CLASSES = ["cat", "dog", "fox"]
WEIGHTS = np.array([[1.5, 0.0], [-0.8, 1.3], [-0.8, -1.3]])
__all__ = ["CLASSES", "MODEL", "VERSION", "WINDOW", "Traffic", "draw", "reference_baseline", "traffic"]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def draw(rng: np.random.Generator, rows: int, mean: float = 0.0, std: float = 1.0
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, model scores, true labels)."""
    x = rng.normal(mean, std, (rows, 2))
    truth = softmax(x @ WEIGHTS.T)
    y = (rng.random((rows, 1)) > truth.cumsum(axis=1)).sum(axis=1)
    return x, softmax(2.0 * x @ WEIGHTS.T), np.array(CLASSES)[y]


def reference_baseline(rows: int = 30_000, seed: int = 19) -> modelspan.Baseline:
    """A baseline with a multiclass calibration, learned on a labelled reference set like the clean windows."""
    x, scores, y = draw(np.random.default_rng(seed), rows)
    predicted = np.array(CLASSES)[scores.argmax(axis=1)]
    return modelspan.Baseline.from_data({"x0": x[:, 0], "x1": x[:, 1]}, model=MODEL, version=VERSION,
                                        outputs=predicted, prediction=predicted, target=y, scores=scores)


@dataclass
class Traffic:
    """One window of traffic: the documents, and each row's scores and truth in call order."""

    documents: list[dict[str, Any]]
    scores: np.ndarray
    predicted: np.ndarray
    actual: np.ndarray
    prediction_ids: list[str]
    spans: list[ReadableSpan]


def traffic(seed: int, rows: int = 2_000, mean: float = 0.0, std: float = 1.0, singles: int = 0,
            batch: int = 200, baseline: modelspan.Baseline | None = None) -> Traffic:
    """``rows`` rows in batches of ``batch`` (the first ``singles`` as single-row calls) through the SDK;
    with ``baseline`` the SDK has its calibration at call time (a batch records its class cells)."""
    rng = np.random.default_rng(seed)
    x, scores, actual = draw(rng, rows, mean, std)

    def predict_proba(features: Any) -> np.ndarray:
        rows = features if isinstance(features, list) else [features]
        matrix = softmax(2.0 * np.array([[r["x0"], r["x1"]] for r in rows]) @ WEIGHTS.T)
        return matrix if isinstance(features, list) else matrix[0]

    recorded = record(predict_proba, [{"x0": a, "x1": b} for a, b in x.tolist()], rng, singles=singles,
                      batch=batch, monitor={"model": MODEL, "version": VERSION, "task": "classification",
                                        "classes": CLASSES},
                      baselines=[baseline] if baseline else None)
    return Traffic(recorded.documents, scores, np.array(CLASSES)[scores.argmax(axis=1)], actual,
                   recorded.prediction_ids, recorded.spans)
