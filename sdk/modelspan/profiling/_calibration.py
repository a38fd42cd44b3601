"""Calibration of a binary classifier's scores, learned on a labelled reference set.

Confidence-based performance estimation (``modelspan.analyzer.estimation``, docs/estimation.md)
needs calibrated probabilities p̂ = P(y=1 | score). This module learns the map score -> p̂ by
isotonic regression (pool-adjacent-violators) and keeps it only if it lowers the expected
calibration error on held-out stratified splits; otherwise the map is the identity. The map is
piecewise linear between knots and constant beyond them (scikit-learn's ``IsotonicRegression``
with ``out_of_bounds="clip"``), so counts and score sums per knot interval give Σp̂ exactly.

It also records what the estimates' uncertainty needs from the reference: the realised metrics,
the spread of each per-row metric and the rates that scale it to a window of n rows. It sits here,
below ``modelspan.baseline``, because a baseline learns it (docs/architecture.md, the layers).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
FOLDS = 5
ECE_BINS = 10


@dataclass
class Calibration:
    """A binary classifier's calibration map and reference statistics (JSON-ready).

    ``knots_x``/``knots_y``: the map, linear between knots, constant outside them; ``[0, 1]`` ->
    ``[0, 1]`` is the identity (kept when isotonic regression did not lower the held-out ECE,
    ``isotonic`` False). ``reference``: the realised metrics on the reference; ``spread``: the
    standard deviation of each per-row metric there (accuracy over all rows, precision over the
    rows predicted positive, recall over the positive rows, F1 over the rows positive in either).
    """

    knots_x: list[float] = field(default_factory=lambda: [0.0, 1.0])
    knots_y: list[float] = field(default_factory=lambda: [0.0, 1.0])
    isotonic: bool = False
    ece_raw: float = 0.0
    ece_calibrated: float = 0.0
    rows: int = 0
    prevalence: float = 0.0
    positive_rate: float = 0.0
    union_rate: float = 0.0
    reference: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)

    def apply(self, scores: npt.ArrayLike) -> FloatArray:
        """p̂ for each raw score.

        >>> Calibration([0.2, 0.8], [0.1, 0.9]).apply([0.0, 0.5, 1.0]).tolist()
        [0.1, 0.5, 0.9]
        """
        return np.interp(np.asarray(scores, dtype=np.float64), self.knots_x, self.knots_y)

    @functools.cached_property
    def score_edges(self) -> FloatArray:
        """Edges of the intervals of the *recorded* score (the probability of the predicted label): the
        knots and their mirror images (1 - knot), so that each interval lies inside one knot interval of
        P(class 1) for either label (what ``Store.score_sums`` is asked with; docs/estimation.md).

        >>> Calibration([0.2, 0.7], [0.1, 0.9]).score_edges.tolist()
        [0.2, 0.3, 0.7, 0.8]
        """
        return np.array(sorted({*self.knots_x, *(round(1.0 - k, 15) for k in self.knots_x)}), dtype=np.float64)

    @functools.cached_property
    def fingerprint(self) -> str:
        """A short hash of the map (knots), recorded with a batch's sums so that a store pairs them with the
        calibration they were computed with.

        >>> len(Calibration().fingerprint)
        16
        """
        text = json.dumps([list(map(float, self.knots_x)), list(map(float, self.knots_y))])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Calibration:
        """From its JSON form (``dataclasses.asdict``); unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in body.items() if key in names})


def isotonic_fit(
    x: npt.ArrayLike, y: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """Knots of the non-decreasing least-squares fit of ``y`` on ``x`` (pool-adjacent-violators).

    Equal ``x`` are pooled first (weighted mean of ``y``); each block of the fit keeps its first and
    last ``x``, so interpolating between knots reproduces scikit-learn's ``IsotonicRegression``.

    >>> kx, ky = isotonic_fit([1, 2, 3, 4], [1, 3, 2, 4])
    >>> kx.tolist(), ky.tolist()
    ([1.0, 2.0, 3.0, 4.0], [1.0, 2.5, 2.5, 4.0])
    """
    xs = np.asarray(x, dtype=np.float64)
    w = np.ones_like(xs) if weights is None else np.asarray(weights, dtype=np.float64)
    unique, inverse = np.unique(xs, return_inverse=True)
    weight = np.bincount(inverse, weights=w)
    mean = np.bincount(inverse, weights=w * np.asarray(y, dtype=np.float64)) / weight
    values: list[float] = []  # block means, weights and first/last index into ``unique``
    block_w: list[float] = []
    starts: list[int] = []
    for i in range(unique.size):
        value, wt, start = float(mean[i]), float(weight[i]), i
        while values and values[-1] >= value:  # pool while the previous block violates order
            prev_w = block_w.pop()
            value = (values.pop() * prev_w + value * wt) / (prev_w + wt)
            wt += prev_w
            start = starts.pop()
        values.append(value)
        block_w.append(wt)
        starts.append(start)
    ends = [*starts[1:], unique.size]
    knots = [(unique[i], v) for s, e, v in zip(starts, ends, values, strict=True) for i in sorted({s, e - 1})]
    return (np.array([k for k, _ in knots], dtype=np.float64),
            np.array([v for _, v in knots], dtype=np.float64))


def expected_calibration_error(p: npt.ArrayLike, y: npt.ArrayLike, bins: int = ECE_BINS) -> float:
    """Σ_b (n_b / n)·|mean p̂_b - mean y_b| over ``bins`` equal-width bins of p̂ in [0, 1].

    >>> expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 1, 0, 0])
    0.1
    """
    probabilities = np.asarray(p, dtype=np.float64)
    labels = np.asarray(y, dtype=np.float64)
    index = np.clip((probabilities * bins).astype(np.int64), 0, bins - 1)
    gap = np.bincount(index, weights=probabilities - labels, minlength=bins)
    return round(float(np.abs(gap).sum() / max(probabilities.size, 1)), 15)


def binary_array(values: Any, name: str) -> npt.NDArray[np.int64]:
    """0/1 labels from 0/1, booleans or their float forms; anything else is a clear error."""
    array = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    try:
        numbers = array.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold binary 0/1 labels, got {array.dtype}") from None
    if not np.all((numbers == 0) | (numbers == 1)):
        raise ValueError(f"{name} must hold binary 0/1 labels (estimation is binary only)")
    return numbers.astype(np.int64)


def score_array(values: Any) -> FloatArray:
    """Scores as probabilities of the positive class: finite, in [0, 1]."""
    array = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    scores = array.astype(np.float64)
    if scores.ndim != 1 or not np.all(np.isfinite(scores)) or np.any((scores < 0) | (scores > 1)):
        raise ValueError("scores must be 1-D finite probabilities of the positive class in [0, 1]")
    return scores


def stratified_folds(y: npt.NDArray[np.int64], folds: int, seed: int) -> npt.NDArray[np.int64]:
    """A fold number per row, each class spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    fold = np.empty(y.size, dtype=np.int64)
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == label))
        fold[rows] = np.arange(rows.size) % folds
    return fold


def fit_calibration(
    scores: Sequence[float] | FloatArray | Any,
    target: Any,
    prediction: Any,
    *,
    folds: int = FOLDS,
    seed: int = 0,
) -> Calibration:
    """Learn the calibration and the reference statistics from a labelled reference set.

    The isotonic map is kept only if its mean held-out ECE over ``folds`` stratified splits is
    lower than that of the raw scores. The reference must not be the model's training set.
    """
    s, y, yhat = score_array(scores), binary_array(target, "target"), binary_array(prediction, "prediction")
    if not s.size == y.size == yhat.size:
        raise ValueError(f"scores, target and prediction differ in length: {s.size}, {y.size}, {yhat.size}")
    if np.unique(y).size < 2 or s.size < 2 * folds:
        raise ValueError(f"calibration needs both classes and at least {2 * folds} labelled rows")
    fold = stratified_folds(y, folds, seed)
    raw, calibrated = [], []
    for k in range(folds):
        train, test = fold != k, fold == k
        kx, ky = isotonic_fit(s[train], y[train])
        raw.append(expected_calibration_error(s[test], y[test]))
        calibrated.append(expected_calibration_error(np.interp(s[test], kx, ky), y[test]))
    ece_raw, ece_cal = float(np.mean(raw)), float(np.mean(calibrated))
    calibration = Calibration(isotonic=ece_cal < ece_raw, ece_raw=ece_raw, ece_calibrated=ece_cal)
    if calibration.isotonic:
        kx, ky = isotonic_fit(s, y)
        calibration.knots_x, calibration.knots_y = kx.tolist(), ky.tolist()
    _reference_statistics(calibration, s, y, yhat)
    return calibration


def _reference_statistics(
    calibration: Calibration, s: FloatArray, y: npt.NDArray[np.int64], yhat: npt.NDArray[np.int64]
) -> None:
    correct = (y == yhat).astype(np.float64)
    groups = {"accuracy": np.ones(y.size, dtype=bool), "precision": yhat == 1,
              "recall": y == 1, "f1": (y == 1) | (yhat == 1)}
    calibration.rows = int(y.size)
    calibration.prevalence = float(y.mean())
    calibration.positive_rate = float(yhat.mean())
    calibration.union_rate = float(groups["f1"].mean())
    calibration.spread = {
        metric: float(correct[rows].std()) if rows.any() else 0.0 for metric, rows in groups.items()
    }
    tp = float(np.sum((y == 1) & (yhat == 1)))
    reference = confusion_metrics(tp, float(np.sum(yhat == 1)) - tp, float(np.sum(y == 1)) - tp,
                                  float(y.size))
    reference["roc_auc"] = roc_auc(s, y.astype(np.float64))
    # JSON has no NaN: a metric undefined on the reference (no predicted positives) is absent.
    calibration.reference = {k: v for k, v in reference.items() if not np.isnan(v)}


def confusion_metrics(tp: float, fp: float, fn: float, n: float) -> dict[str, float]:
    """Accuracy, precision, recall and F1 from (expected) confusion counts; NaN when undefined.

    >>> confusion_metrics(3, 1, 1, 10)
    {'accuracy': 0.8, 'precision': 0.75, 'recall': 0.75, 'f1': 0.75}
    """
    tn = n - tp - fp - fn
    return {
        "accuracy": _ratio(tp + tn, n),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def roc_auc(scores: npt.ArrayLike, positive: npt.ArrayLike) -> float:
    """ROC-AUC ranking by ``scores`` with per-row positive weights ``positive`` (labels give the
    realised AUC, calibrated p̂ the CBPE estimate); tied scores form one step of the curve.

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    pos = np.asarray(positive, dtype=np.float64)[order]
    last = np.r_[np.flatnonzero(np.diff(s[order])), s.size - 1]  # last row of each distinct score
    tps, fps = np.cumsum(pos)[last], np.cumsum(1.0 - pos)[last]
    if s.size == 0 or tps[-1] <= 0 or fps[-1] <= 0:
        return float("nan")
    tpr, fpr = np.r_[0.0, tps / tps[-1]], np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")
