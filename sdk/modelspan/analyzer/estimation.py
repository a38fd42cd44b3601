"""Confidence-based performance estimation (CBPE): a binary classifier's performance without labels.

NannyML's method (docs/estimation.md). With calibrated p̂ = P(y=1 | score), from the baseline's
:class:`~modelspan.profiling._calibration.Calibration`, the expected confusion counts of a window are

    TP = Σ_{ŷ=1} p̂,  FP = Σ_{ŷ=1} (1 - p̂),  TN = Σ_{ŷ=0} (1 - p̂),  FN = Σ_{ŷ=0} p̂

and accuracy, precision, recall and F1 follow; ROC-AUC ranks rows by the raw score and cumulates
p̂ as the positive weight. The sampling error of a metric over n rows is the standard deviation of
its per-row form on the reference divided by √(n·rate) (the rate of the rows it averages over);
ROC-AUC's is Hanley and McNeil's. The band is ±3 sampling errors around the reference value; an
estimate outside it is flagged.

The map p̂(score) is linear between knots, so a window's Σp̂ needs only a count and a score sum
per (ŷ, knot interval) — :func:`interval_sums`, mergeable by addition across batches and windows —
and :func:`estimate_from_sums` gives exactly what the per-row :func:`estimate` gives (ROC-AUC
needs the order of the rows, so only the per-row path has it).

What cannot be estimated: concept drift (P(y | x) changing) is invisible, since p̂ is learned
before it; only realised performance from labels shows it, so :func:`estimation_gap` compares them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelspan.profiling._calibration import (
    Calibration,
    binary_array,
    confusion_metrics,
    roc_auc,
    score_array,
)

FloatArray = npt.NDArray[np.float64]
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
BAND_WIDTH = 3.0


@dataclass(frozen=True)
class Estimate:
    """One metric's estimate for a window of ``rows`` rows, with its sampling error and band."""

    metric: str
    value: float
    sampling_error: float
    reference: float
    rows: int

    @property
    def lower(self) -> float:
        """Lower edge of the reference band (reference - 3 SE)."""
        return self.reference - BAND_WIDTH * self.sampling_error

    @property
    def upper(self) -> float:
        """Upper edge of the reference band (reference + 3 SE)."""
        return self.reference + BAND_WIDTH * self.sampling_error

    @property
    def flagged(self) -> bool:
        """The estimate left the reference band (never for an undefined estimate)."""
        return not math.isnan(self.value) and not self.lower <= self.value <= self.upper


def sampling_error(calibration: Calibration, metric: str, rows: int) -> float:
    """Standard error of ``metric`` over ``rows`` rows, from the reference's per-row spread.

    >>> c = Calibration(rows=100, prevalence=0.5, positive_rate=0.5, union_rate=0.75,
    ...                 spread={"accuracy": 0.4}, reference={"roc_auc": 0.8})
    >>> round(sampling_error(c, "accuracy", 400), 3)
    0.02
    """
    if rows <= 0:
        return float("nan")
    if metric == "roc_auc":
        return _hanley_mcneil(calibration.reference.get("roc_auc", float("nan")),
                              rows * calibration.prevalence, rows * (1 - calibration.prevalence))
    rate = {"accuracy": 1.0, "precision": calibration.positive_rate,
            "recall": calibration.prevalence, "f1": calibration.union_rate}[metric]
    effective = rows * rate
    return calibration.spread.get(metric, float("nan")) / math.sqrt(effective) if effective > 0 else float("nan")


def _hanley_mcneil(auc: float, positives: float, negatives: float) -> float:
    """Hanley & McNeil (1982) standard error of an AUC with these class sizes."""
    if positives <= 0 or negatives <= 0 or math.isnan(auc):
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc)
                + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


def estimate(calibration: Calibration, scores: Any, prediction: Any) -> dict[str, Estimate]:
    """CBPE estimates of a window from its rows' raw scores and predicted labels (0/1)."""
    s, yhat = score_array(scores), binary_array(prediction, "prediction")
    if s.size != yhat.size:
        raise ValueError(f"scores and prediction differ in length: {s.size}, {yhat.size}")
    p = calibration.apply(s)
    values = confusion_metrics(float(p[yhat == 1].sum()), float((1 - p[yhat == 1]).sum()),
                               float(p[yhat == 0].sum()), float(s.size))
    values["roc_auc"] = roc_auc(s, p)
    return _estimates(calibration, values, int(s.size))


def positive_scores(scores: Any, prediction: Any) -> FloatArray:
    """Probabilities of class 1 from the probability of the *predicted* label (what modelspan
    records as ``ml.output.score``).

    >>> positive_scores([0.9, 0.8], [1, 0]).round(3).tolist()
    [0.9, 0.2]
    """
    s, yhat = score_array(scores), binary_array(prediction, "prediction")
    return np.where(yhat == 1, s, 1.0 - s)


def interval_sums(calibration: Calibration, scores: Any, prediction: Any) -> FloatArray:
    """Counts and score sums per (ŷ, knot interval): shape ``(2, K + 1, 2)`` for K knots.

    Interval 0 lies below the first knot, interval K at or above the last; between them p̂ is
    linear. Sums of windows add up to the sums of their union.
    """
    s, yhat = score_array(scores), binary_array(prediction, "prediction")
    interval = np.searchsorted(np.asarray(calibration.knots_x), s, side="right")
    size = len(calibration.knots_x) + 1
    sums = np.zeros((2, size, 2), dtype=np.float64)
    for label in (0, 1):
        rows = yhat == label
        sums[label, :, 0] = np.bincount(interval[rows], minlength=size)
        sums[label, :, 1] = np.bincount(interval[rows], weights=s[rows], minlength=size)
    return sums


def expected_positives(calibration: Calibration, sums: FloatArray) -> tuple[float, float]:
    """(Σ_{ŷ=1} p̂, Σ_{ŷ=0} p̂) from :func:`interval_sums`, exactly: per interval p̂ = a + b·score,
    so Σp̂ = a·count + b·Σscore."""
    a, b = knot_coefficients(calibration)
    totals = sums[:, :, 0] @ a + sums[:, :, 1] @ b
    return float(totals[1]), float(totals[0])


def estimate_from_sums(calibration: Calibration, sums: FloatArray) -> dict[str, Estimate]:
    """The confusion-matrix estimates (not ROC-AUC) of a window from its :func:`interval_sums`."""
    positive_p, negative_p = expected_positives(calibration, sums)
    predicted_positive = float(sums[1, :, 0].sum())
    rows = float(sums[:, :, 0].sum())
    values = confusion_metrics(positive_p, predicted_positive - positive_p, negative_p, rows)
    return _estimates(calibration, values, int(rows))


def knot_coefficients(calibration: Calibration) -> tuple[FloatArray, FloatArray]:
    """(a, b) per knot interval (K + 1 of them): p̂ = a + b·score there (constant outside the knots)."""
    kx, ky = np.asarray(calibration.knots_x), np.asarray(calibration.knots_y)
    slope = np.diff(ky) / np.diff(kx)
    return np.r_[ky[0], ky[:-1] - slope * kx[:-1], ky[-1]], np.r_[0.0, slope, 0.0]


def roc_auc_from_groups(positive: npt.ArrayLike, negative: npt.ArrayLike, counts: npt.ArrayLike,
                        spread: npt.ArrayLike) -> tuple[float, float]:
    """Estimated ROC-AUC of score-ordered groups of rows, and the most it can differ from the per-row value.

    ``positive``/``negative``: each group's Σp̂ and Σ(1 - p̂), groups in ascending score order;
    ``counts``: rows per group; ``spread``: the range of p̂ inside each group. Rows of one group are
    taken as tied; a pair inside a group then counts (p_i(1-p_j) + p_j(1-p_i))/2 instead of the
    p_hi(1-p_lo) its order gives, (p_hi - p_lo)/2 less. The value returned is the midpoint of what
    is possible, the bound half its width (0 where p̂ is constant inside each group).

    >>> [round(x, 6) for x in roc_auc_from_groups([0.1, 0.9], [0.9, 0.1], [1, 1], [0.0, 0.0])]
    [0.9, 0.0]
    """
    w, v = np.asarray(positive, dtype=np.float64), np.asarray(negative, dtype=np.float64)
    total_w, total_v = float(w.sum()), float(v.sum())
    if total_w <= 0 or total_v <= 0:
        return float("nan"), float("nan")
    above = np.cumsum(w[::-1])[::-1] - w  # positive weight of the groups scored higher
    tied = float(np.sum(v * (above + w / 2))) / (total_w * total_v)
    n = np.asarray(counts, dtype=np.float64)
    width = float(np.sum(n * (n - 1) / 4 * np.asarray(spread, dtype=np.float64))) / (total_w * total_v)
    return tied + width / 2, width / 2


def realised(target: Any, prediction: Any, scores: Any | None = None) -> dict[str, float]:
    """The realised metrics of a labelled window (ROC-AUC only with scores)."""
    y, yhat = binary_array(target, "target"), binary_array(prediction, "prediction")
    tp = float(np.sum((y == 1) & (yhat == 1)))
    values = confusion_metrics(tp, float(np.sum(yhat == 1)) - tp, float(np.sum(y == 1)) - tp,
                               float(y.size))
    if scores is not None:
        values["roc_auc"] = roc_auc(score_array(scores), y.astype(np.float64))
    return values


def estimation_gap(estimated: Estimate, realised_value: float) -> bool:
    """Whether the realised value differs from the estimate by more than 3 sampling errors: what
    estimation cannot see (concept drift, a region the reference never saw) has happened."""
    if math.isnan(realised_value) or math.isnan(estimated.value):
        return False
    return abs(realised_value - estimated.value) > BAND_WIDTH * estimated.sampling_error


def estimates(calibration: Calibration, values: dict[str, float], rows: int) -> dict[str, Estimate]:
    """Each metric of ``values`` as an :class:`Estimate` over ``rows`` rows (sampling error, reference)."""
    return _estimates(calibration, values, rows)


def _estimates(calibration: Calibration, values: dict[str, float], rows: int) -> dict[str, Estimate]:
    return {
        metric: Estimate(metric, value, sampling_error(calibration, metric, rows),
                         calibration.reference.get(metric, float("nan")), rows)
        for metric, value in values.items()
    }
