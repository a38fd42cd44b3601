"""Model performance from labelled predictions, and a test for a drop in a proportion.

This is how good the *predictions* are (accuracy, MAE, ...); how good the *inputs* are (nulls,
out-of-range values, ...) is data quality, in ``_data_quality``.

Conventions (all checked against scikit-learn in tests/sdk/analyzer/test_performance.py):

- Labels are compared as strings, in a fixed order: sorted, unless ``labels`` is given. The confusion
  matrix has actual labels as rows and predicted labels as columns (scikit-learn's layout).
- Binary (at most two labels): precision, recall, F1, specificity and NPV of the ``positive`` label
  (default: ``"1"``, ``"true"``, ``"yes"`` or ``"positive"`` if present, else the last label); a
  metric whose denominator is 0 is None. Multiclass: macro averages of the one-vs-rest values, an
  undefined class counting 0 (scikit-learn's ``zero_division=0``).
- ``scores``: 1-D, the probability of the *predicted* label (modelspan's ``ml.output.score``), or
  with ``scores_for="positive"`` the probability of the positive label; 2-D, one column per label
  in label order. ROC-AUC: binary from either form; multiclass one-vs-rest macro only from 2-D
  scores (classes absent from ``actual`` are skipped), else None. Log loss: probabilities clipped to
  ``[1e-15, 1 - 1e-15]`` (2-D rows renormalised first); None for multiclass with 1-D scores.
- Regression: non-finite pairs are dropped; MAPE is a fraction (not percent) averaged over the rows
  whose actual value is not 0 (None if there are none); R² is None when the actual values are constant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]
CLIP = 1e-15
POSITIVE_NAMES = ("1", "true", "True", "TRUE", "yes", "positive", "1.0")


@dataclass(frozen=True)
class ClassificationQuality:
    count: int
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    specificity: float | None
    npv: float | None
    roc_auc: float | None
    log_loss: float | None
    labels: tuple[str, ...]
    confusion: list[list[int]]
    positive: str | None = None
    """The positive label of a binary problem (None for multiclass)."""


@dataclass(frozen=True)
class RegressionQuality:
    count: int
    mae: float | None
    rmse: float | None
    mape: float | None
    r2: float | None


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _label_order(actual: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None,
                 positive: str | None) -> tuple[str, ...]:
    if labels is not None:
        return tuple(str(label) for label in labels)
    seen = set(actual) | set(predicted)
    if positive is not None:
        seen.add(positive)
    return tuple(sorted(seen))


def _positive(labels: tuple[str, ...], positive: str | None) -> str | None:
    if len(labels) > 2:
        return None
    if positive is not None:
        return positive
    return next((name for name in POSITIVE_NAMES if name in labels), labels[-1] if labels else None)


def confusion_matrix(actual: npt.NDArray[np.intp], predicted: npt.NDArray[np.intp], k: int) -> npt.NDArray[np.int64]:
    """Counts of (actual, predicted) label indexes, actual as rows."""
    return np.bincount(actual * k + predicted, minlength=k * k).reshape(k, k).astype(np.int64)


def _one_vs_rest(confusion: npt.NDArray[np.int64]) -> dict[str, FloatArray]:
    tp = np.diag(confusion).astype(np.float64)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    tn = confusion.sum() - tp - fp - fn
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def _rates(counts: dict[str, FloatArray], index: int | None) -> dict[str, float | None]:
    """Precision/recall/F1/specificity/NPV of one class (binary) or their macro average."""
    def per_class(num: FloatArray, den: FloatArray) -> FloatArray:
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    if index is not None:
        t, f_p, f_n, t_n = (float(a[index]) for a in (tp, fp, fn, tn))
        return {"precision": _ratio(t, t + f_p), "recall": _ratio(t, t + f_n), "f1": _ratio(2 * t, 2 * t + f_p + f_n),
                "specificity": _ratio(t_n, t_n + f_p), "npv": _ratio(t_n, t_n + f_n)}
    return {
        "precision": float(per_class(tp, tp + fp).mean()),
        "recall": float(per_class(tp, tp + fn).mean()),
        "f1": float(per_class(2 * tp, 2 * tp + fp + fn).mean()),
        "specificity": float(per_class(tn, tn + fp).mean()),
        "npv": float(per_class(tn, tn + fn).mean()),
    }


def roc_auc_binary(is_positive: npt.NDArray[np.bool_], score: FloatArray) -> float | None:
    """Mann-Whitney form of the ROC-AUC (ties count half); None without both classes.

    One unstable sort and group sums instead of ``scipy.stats.rankdata`` (a stable sort per call),
    which is several times faster on a million rows.
    """
    n_pos = int(is_positive.sum())
    n_neg = is_positive.size - n_pos
    if not n_pos or not n_neg:
        return None
    order = np.argsort(score)
    ordered = score[order]
    starts = np.concatenate([[0], np.flatnonzero(ordered[1:] != ordered[:-1]) + 1])
    sizes = np.diff(np.concatenate([starts, [ordered.size]]))
    positives = np.add.reduceat(is_positive[order].astype(np.float64), starts)
    mean_rank = starts + (sizes + 1) / 2.0  # 1-based average rank of each group of ties
    rank_sum = float(np.dot(positives, mean_rank))
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _probabilities(scores: npt.ArrayLike | None, predicted_idx: npt.NDArray[np.intp], pos: int | None,
                   k: int, scores_for: str) -> FloatArray | None:
    """Per-label probabilities (n, k) when they can be known, else None."""
    if scores is None:
        return None
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 2:
        if s.shape != (predicted_idx.size, k):
            raise ValueError(f"2-D scores must have shape (rows, labels) = {(predicted_idx.size, k)}, got {s.shape}")
        total = s.sum(axis=1, keepdims=True)
        out: FloatArray = np.divide(s, total, out=np.full_like(s, 1.0 / k), where=total > 0)
        return out
    if s.shape != predicted_idx.shape:
        raise ValueError(f"1-D scores need one value per row, got {s.shape[0]} for {predicted_idx.size}")
    if pos is None or k != 2:
        return None
    p_pos = s if scores_for == "positive" else np.where(predicted_idx == pos, s, 1.0 - s)
    p_pos = np.clip(p_pos, 0.0, 1.0)
    return np.column_stack([1.0 - p_pos, p_pos]) if pos == 1 else np.column_stack([p_pos, 1.0 - p_pos])


def _auc_and_log_loss(probs: FloatArray | None, actual_idx: npt.NDArray[np.intp],
                      pos: int | None) -> tuple[float | None, float | None]:
    """Rows with a non-finite probability are left out of both."""
    if probs is None:
        return None, None
    finite = np.all(np.isfinite(probs), axis=1)
    probs, actual_idx = probs[finite], actual_idx[finite]
    if not actual_idx.size:
        return None, None
    rows = np.arange(actual_idx.size)
    log_loss = float(-np.mean(np.log(np.clip(probs[rows, actual_idx], CLIP, 1 - CLIP))))
    if pos is not None:
        return roc_auc_binary(actual_idx == pos, probs[:, pos]), log_loss
    aucs = [roc_auc_binary(actual_idx == c, probs[:, c]) for c in range(probs.shape[1])]
    defined = [auc for auc in aucs if auc is not None]
    return (float(np.mean(defined)) if defined else None), log_loss


def _strings(values: Sequence[Any] | npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Labels as a numpy string array (``str()`` of each value), converted in C rather than per row."""
    array = np.asarray(values)
    if array.dtype.kind != "U":
        array = np.asarray(values, dtype=object).astype(str)
    return array.reshape(-1)


def classification(
    actual: Sequence[Any] | npt.ArrayLike,
    predicted: Sequence[Any] | npt.ArrayLike,
    scores: npt.ArrayLike | None = None,
    positive: Any = None,
    *,
    labels: Sequence[Any] | None = None,
    scores_for: Literal["predicted", "positive"] = "predicted",
) -> ClassificationQuality:
    """Quality of predicted labels against actual ones (see the module docstring for conventions).

    >>> q = classification(["1", "0", "1", "1"], ["1", "0", "0", "1"])
    >>> q.accuracy, q.recall, q.specificity, q.confusion
    (0.75, 0.6666666666666666, 1.0, [[1, 0], [1, 2]])
    """
    truth, guess = _strings(actual), _strings(predicted)
    if truth.shape != guess.shape:
        raise ValueError(f"actual and predicted differ in length: {truth.size} vs {guess.size}")
    wanted = None if positive is None else str(positive)
    seen, codes = np.unique(np.concatenate([truth, guess]), return_inverse=True)
    order = _label_order(seen.tolist(), [], labels, wanted)
    index = {label: i for i, label in enumerate(order)}
    unknown = set(seen.tolist()) - set(index)
    if unknown:
        raise ValueError(f"labels {sorted(unknown)[:5]} are not in the given label order")
    remap = np.asarray([index[label] for label in seen.tolist()], dtype=np.intp)  # sorted -> label order
    codes = remap[codes.reshape(-1)] if remap.size else codes.reshape(-1).astype(np.intp)
    actual_idx, predicted_idx = codes[: truth.size], codes[truth.size :]
    k = len(order)
    confusion = confusion_matrix(actual_idx, predicted_idx, k)
    pos_label = _positive(order, wanted)
    pos = index.get(pos_label) if pos_label is not None else None
    rates = _rates(_one_vs_rest(confusion), pos) if k else dict.fromkeys(("precision", "recall", "f1",
                                                                            "specificity", "npv"))
    probs = _probabilities(scores, predicted_idx, pos, k, scores_for)
    roc_auc, log_loss = _auc_and_log_loss(probs, actual_idx, pos)
    n = int(truth.size)
    return ClassificationQuality(
        count=n, accuracy=_ratio(float(np.trace(confusion)), n), roc_auc=roc_auc, log_loss=log_loss,
        labels=order, confusion=confusion.tolist(), positive=pos_label, **rates,
    )


def regression(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> RegressionQuality:
    """MAE, RMSE, MAPE (fraction, zero actuals skipped) and R² over the finite pairs.

    >>> q = regression([1.0, 2.0, 0.0, 4.0], [1.5, 2.0, 1.0, 3.0])
    >>> q.mae, q.mape
    (0.625, 0.25)
    """
    a = np.asarray(actual, dtype=np.float64).reshape(-1)
    p = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if a.shape != p.shape:
        raise ValueError(f"actual and predicted differ in length: {a.size} vs {p.size}")
    keep = np.isfinite(a) & np.isfinite(p)
    a, p = a[keep], p[keep]
    if not a.size:
        return RegressionQuality(0, None, None, None, None)
    error = p - a
    nonzero = a != 0
    mape = float(np.mean(np.abs(error[nonzero]) / np.abs(a[nonzero]))) if nonzero.any() else None
    total = float(np.sum((a - a.mean()) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / total if total > 0 else None
    return RegressionQuality(int(a.size), float(np.mean(np.abs(error))), math.sqrt(float(np.mean(error**2))), mape, r2)


def proportion_drop(ref_hits: int, ref_n: int, cur_hits: int, cur_n: int) -> tuple[float, float | None]:
    """``(ref_rate - cur_rate, p-value)`` of the one-sided pooled two-proportion z-test for a drop.

    The p-value is ``P(Z >= z)`` with ``z = (p_ref - p_cur) / sqrt(p (1 - p) (1/n_ref + 1/n_cur))`` and
    ``p`` the pooled rate (statsmodels' ``proportions_ztest(alternative="larger")``). With an empty
    side nothing can be said: ``(0.0, None)``. Equal rates of 0 or 1 give ``p = 1``.

    >>> drop, p = proportion_drop(900, 1000, 850, 1000)
    >>> round(drop, 3), p < 0.001
    (0.05, True)
    """
    for hits, n in ((ref_hits, ref_n), (cur_hits, cur_n)):
        if n < 0 or hits < 0 or hits > n:
            raise ValueError(f"need 0 <= hits <= n, got hits={hits}, n={n}")
    if not ref_n or not cur_n:
        return 0.0, None
    ref_rate, cur_rate = ref_hits / ref_n, cur_hits / cur_n
    pooled = (ref_hits + cur_hits) / (ref_n + cur_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / ref_n + 1 / cur_n))
    drop = ref_rate - cur_rate
    if se == 0:
        return drop, 1.0
    return drop, float(stats.norm.sf(drop / se))
