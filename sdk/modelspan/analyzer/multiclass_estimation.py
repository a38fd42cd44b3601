"""Multiclass CBPE: a multiclass classifier's performance without labels, one class against the rest.

NannyML's method (docs/estimation.md). With the calibrated p̂_c of each class from the baseline's
:class:`~modelspan.profiling._multiclass.MulticlassCalibration`, the expected one-vs-rest confusion
counts of class c over a window are

    TP_c = Σ_{ŷ=c} p̂_c,  FP_c = Σ_{ŷ=c} (1 - p̂_c),  FN_c = Σ_{ŷ≠c} p̂_c

so the expected accuracy is Σ_c TP_c / n, and macro precision, recall and F1 are the means over the
classes of TP_c/(TP_c+FP_c), TP_c/(TP_c+FN_c) and 2TP_c/(2TP_c+FP_c+FN_c). ROC-AUC is the mean over
the classes of the binary estimate (rank by the raw p_c, cumulate p̂_c).

Aggregated path: each class's map is linear inside each of its knot intervals, so per class a count
and a sum of p_c per (predicted c or not, interval between ``class_edges``) give every Σp̂_c exactly
(:func:`class_sums`, mergeable by addition; :func:`estimate_from_sums`). The edges refine the knots
with a fixed grid, which bounds what ROC-AUC loses by taking an interval's rows as tied.

Sampling errors: accuracy's is the reference's per-row spread over √n; a macro metric's is
√(Σ_c SE_c²)/C with each class's binary sampling error (classes taken as independent).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelspan.analyzer import estimation
from modelspan.analyzer.estimation import Estimate
from modelspan.profiling import _multiclass
from modelspan.profiling._calibration import Calibration, confusion_metrics, roc_auc
from modelspan.profiling._multiclass import MulticlassCalibration, probability_matrix

FloatArray = npt.NDArray[np.float64]
GRID = _multiclass.GRID
"""Equal-width intervals of [0, 1] the store's edges hold besides the knots (ROC-AUC's resolution)."""
MACRO = ("precision", "recall", "f1")


def class_edges(calibration: Calibration) -> list[float]:
    """One class's interval edges: its knots and a grid of ``GRID`` steps over [0, 1]
    (``MulticlassCalibration.class_edges`` gives every class's, cached).

    >>> len(class_edges(Calibration()))
    101
    """
    edges: list[float] = MulticlassCalibration(["c"], [calibration]).class_edges[0].tolist()
    return edges


def class_sums(calibration: MulticlassCalibration, scores: Any, prediction: Any) -> list[FloatArray]:
    """Per class, counts and sums of p_c per (ŷ is c, interval of ``class_edges``): each of shape
    ``(2, E + 1, 2)`` (index 1 of the first axis: rows predicted c). Sums of windows add up."""
    p = probability_matrix(scores, len(calibration.classes))
    yhat = calibration.class_index(prediction)
    if p.shape[0] != yhat.size:
        raise ValueError(f"scores and prediction differ in length: {p.shape[0]}, {yhat.size}")
    result = []
    for k, cal in enumerate(calibration.per_class):
        edges = np.asarray(class_edges(cal))
        interval = np.searchsorted(edges, p[:, k], side="right")
        sums = np.zeros((2, edges.size + 1, 2), dtype=np.float64)
        for flag in (0, 1):
            rows = (yhat == k) == bool(flag)
            sums[flag, :, 0] = np.bincount(interval[rows], minlength=edges.size + 1)
            sums[flag, :, 1] = np.bincount(interval[rows], weights=p[rows, k], minlength=edges.size + 1)
        result.append(sums)
    return result


def interval_coefficients(
    calibration: Calibration, edges: Sequence[float]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(a, b, spread) per interval between ``edges`` (which refine the knots): p̂ = a + b·score there,
    and the most p̂ varies inside it."""
    a, b = estimation.knot_coefficients(calibration)
    e = np.asarray(edges, dtype=np.float64)
    lows, highs = np.r_[e[0] - 1.0, e], np.r_[e, e[-1] + 1.0]
    knot = np.searchsorted(np.asarray(calibration.knots_x), (lows + highs) / 2, side="right")
    inside = np.clip(np.c_[lows, highs], 0.0, 1.0)
    spread = np.abs(calibration.apply(inside[:, 1]) - calibration.apply(inside[:, 0]))
    return a[knot], b[knot], spread


def estimate(calibration: MulticlassCalibration, scores: Any, prediction: Any) -> dict[str, Estimate]:
    """Multiclass CBPE estimates of a window from its rows' probability vectors and predicted labels."""
    p = probability_matrix(scores, len(calibration.classes))
    yhat = calibration.class_index(prediction)
    if p.shape[0] != yhat.size:
        raise ValueError(f"scores and prediction differ in length: {p.shape[0]}, {yhat.size}")
    calibrated = calibration.apply(p)
    counts = [(float(calibrated[yhat == k, k].sum()), float(np.sum(yhat == k)), float(calibrated[yhat != k, k].sum()))
              for k in range(len(calibration.classes))]
    values = _confusion_values(counts, p.shape[0])
    values["roc_auc"] = float(np.mean([roc_auc(p[:, k], calibrated[:, k]) for k in range(p.shape[1])]))
    return _estimates(calibration, values, p.shape[0])


def estimate_from_sums(
    calibration: MulticlassCalibration, sums: Sequence[FloatArray],
    expected: Mapping[int, tuple[int, float, float]] | None = None, ungrouped: int = 0,
) -> tuple[dict[str, Estimate], float]:
    """Every estimate of a window from its :func:`class_sums`, and the bound of ROC-AUC (the most the
    grouped value can differ from the per-row one). ``ungrouped`` rows known by their per-class sums only
    (``expected``: class -> (rows predicted it, Σp̂_c over them, Σp̂_c over all)) count in accuracy and the
    macro metrics; with any, ROC-AUC (which needs their order) is left out."""
    counts, aucs, bounds = [], [], []
    for k, (cal, cells) in enumerate(zip(calibration.per_class, sums, strict=True)):
        a, b, spread = interval_coefficients(cal, class_edges(cal))
        p_hat = cells[:, :, 0] * a + cells[:, :, 1] * b  # Σp̂ per (predicted c or not, interval)
        rows_k, predicted_sum, total = (expected or {}).get(k, (0, 0.0, 0.0))
        counts.append((float(p_hat[1].sum()) + predicted_sum, float(cells[1, :, 0].sum()) + rows_k,
                       float(p_hat[0].sum()) + total - predicted_sum))
        rows = cells[0, :, 0] + cells[1, :, 0]
        positive = p_hat.sum(axis=0)
        auc, bound = estimation.roc_auc_from_groups(positive, rows - positive, rows, spread)
        aucs.append(auc)
        bounds.append(bound)
    n = (int(sums[0][:, :, 0].sum()) if sums else 0) + ungrouped
    values = _confusion_values(counts, n)
    if not ungrouped:
        values["roc_auc"] = float(np.mean(aucs)) if aucs else float("nan")
    return _estimates(calibration, values, n), float(np.mean(bounds)) if bounds else float("nan")


def _confusion_values(counts: Sequence[tuple[float, float, float]], rows: int) -> dict[str, float]:
    """Accuracy and macro metrics from per-class (TP, rows predicted c, FN) expected counts."""
    per_class = [confusion_metrics(tp, predicted - tp, fn, float(rows)) for tp, predicted, fn in counts]
    values = {"accuracy": sum(tp for tp, _, _ in counts) / rows if rows else float("nan")}
    for metric in MACRO:
        values[metric] = float(np.mean([m[metric] for m in per_class])) if per_class else float("nan")
    return values


def sampling_error(calibration: MulticlassCalibration, metric: str, rows: int) -> float:
    """Standard error of ``metric`` over ``rows`` rows: accuracy's from the per-row spread, a macro
    metric's from the classes' binary ones, √(Σ SE_c²)/C.

    >>> c = MulticlassCalibration(["a", "b", "c"], accuracy_spread=0.4)
    >>> round(sampling_error(c, "accuracy", 400), 3)
    0.02
    """
    if rows <= 0:
        return float("nan")
    if metric == "accuracy":
        return calibration.accuracy_spread / math.sqrt(rows)
    errors = [estimation.sampling_error(cal, metric, rows) for cal in calibration.per_class]
    return math.sqrt(sum(e * e for e in errors)) / len(errors) if errors else float("nan")


def realised(calibration: MulticlassCalibration, target: Any, prediction: Any,
             scores: Any | None = None) -> dict[str, float]:
    """The realised accuracy and macro metrics of a labelled window (ROC-AUC only with scores)."""
    y, yhat = calibration.class_index(target), calibration.class_index(prediction)
    counts = [(float(np.sum((y == k) & (yhat == k))), float(np.sum(yhat == k)),
               float(np.sum((y == k) & (yhat != k)))) for k in range(len(calibration.classes))]
    values = _confusion_values(counts, int(y.size))
    if scores is not None:
        p = probability_matrix(scores, len(calibration.classes))
        values["roc_auc"] = float(np.mean([roc_auc(p[:, k], (y == k).astype(np.float64))
                                           for k in range(p.shape[1])]))
    return values


def roc_auc_pair(calibration: MulticlassCalibration, scores: Any, actual: Any) -> tuple[float, float]:
    """(realised, estimated) one-vs-rest macro ROC-AUC of the same labelled rows, over the classes that
    have both positive and negative rows among them (a class the labels never name has no realised AUC;
    scikit-learn refuses such a set, NannyML too). Realised: rank by p_c, the label as the positive
    weight; estimated: the same ranking, the calibrated p̂_c as the weight (the CBPE estimate).

    >>> c = MulticlassCalibration(["a", "b", "c"], [Calibration(), Calibration(), Calibration()])
    >>> p = [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.5, 0.1, 0.4]]
    >>> [round(v, 4) for v in roc_auc_pair(c, p, ["a", "b", "c", "c"])]
    [1.0, 0.7348]
    """
    p = probability_matrix(scores, len(calibration.classes))
    y = calibration.class_index(actual)
    if p.shape[0] != y.size:
        raise ValueError(f"scores and actual differ in length: {p.shape[0]}, {y.size}")
    calibrated = calibration.apply(p)
    realised, estimated = [], []
    for k in range(p.shape[1]):
        positive = y == k
        if positive.any() and not positive.all():
            realised.append(roc_auc(p[:, k], positive.astype(np.float64)))
            estimated.append(roc_auc(p[:, k], calibrated[:, k]))
    if not realised:
        return float("nan"), float("nan")
    return float(np.mean(realised)), float(np.mean(estimated))


def _estimates(calibration: MulticlassCalibration, values: dict[str, float], rows: int) -> dict[str, Estimate]:
    return {
        metric: Estimate(metric, value, sampling_error(calibration, metric, rows),
                         calibration.reference.get(metric, float("nan")), rows)
        for metric, value in values.items()
    }
