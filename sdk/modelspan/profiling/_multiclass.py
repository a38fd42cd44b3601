"""Calibration of a multiclass classifier's probability vector, one class against the rest.

Multiclass CBPE (docs/estimation.md) treats each class c as a binary problem: the score is the
model's probability of c, the label "is c", the prediction "predicted c". Each class gets the binary
:class:`~modelspan.profiling._calibration.Calibration` of that problem (isotonic map kept only where
it lowers the held-out expected calibration error over stratified splits, and the per-class
reference statistics that scale the sampling errors); the multiclass calibration adds the classes'
order (the columns of the probability vector), the realised macro metrics of the reference and the
spread of per-row correctness for accuracy.

The maps are not renormalised across classes, so each class's Σp̂ is a sum over its own column and a
window's estimate follows exactly from per-class counts and score sums per knot interval.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from modelspan.profiling._calibration import Calibration, fit_calibration, roc_auc

FloatArray = npt.NDArray[np.float64]
MAX_CLASSES = 32
GRID = 100
"""Equal steps over [0, 1] that refine each class's knots into the store's intervals (ROC-AUC's bound)."""
"""Most classes a multiclass calibration (and what the SDK records per row) carries."""


@dataclass
class MulticlassCalibration:
    """Per-class calibrations of a multiclass classifier and its reference statistics (JSON-ready).

    ``classes``: the class labels in the order of the probability vector's columns; ``per_class``:
    one binary calibration per class (one against the rest); ``reference``: the realised accuracy and
    macro precision, recall, F1 and one-vs-rest ROC-AUC on the reference; ``accuracy_spread``: the
    standard deviation of per-row correctness there; ``rows``: the reference's size.
    """

    classes: list[str] = field(default_factory=list)
    per_class: list[Calibration] = field(default_factory=list)
    reference: dict[str, float] = field(default_factory=dict)
    accuracy_spread: float = 0.0
    rows: int = 0

    @functools.cached_property
    def class_edges(self) -> list[FloatArray]:
        """Per class, the edges of the intervals ``Store.class_score_sums`` is asked with: the class's knots and
        a grid of ``GRID`` equal steps over [0, 1] (docs/estimation.md, "Multiclass").

        >>> [e.size for e in MulticlassCalibration(["a", "b"], [Calibration(), Calibration()]).class_edges]
        [101, 101]
        """
        grid = np.linspace(0.0, 1.0, GRID + 1).round(12)
        return [np.array(sorted({*(float(k) for k in cal.knots_x), *grid.tolist()}), dtype=np.float64)
                for cal in self.per_class]

    @functools.cached_property
    def fingerprint(self) -> str:
        """A short hash of every class's map, recorded with a batch's sums (as ``Calibration.fingerprint``)."""
        return hashlib.sha256("".join(cal.fingerprint for cal in self.per_class).encode()).hexdigest()[:16]

    def apply(self, probabilities: npt.ArrayLike) -> FloatArray:
        """Calibrated p̂ per row and class (each column through its class's map, not renormalised).

        >>> c = MulticlassCalibration(["a", "b"], [Calibration(), Calibration([0.2, 0.6], [0.0, 1.0])])
        >>> c.apply([[0.3, 0.3], [0.7, 0.7]]).round(6).tolist()
        [[0.3, 0.25], [0.7, 1.0]]
        """
        p = probability_matrix(probabilities, len(self.classes))
        return np.column_stack([cal.apply(p[:, k]) for k, cal in enumerate(self.per_class)])

    def class_index(self, labels: Any) -> npt.NDArray[np.int64]:
        """Column of each label (compared as text); an unknown label is a clear error."""
        position = {label: k for k, label in enumerate(self.classes)}
        values = [str(v) for v in _values(labels)]
        unknown = sorted({v for v in values if v not in position})
        if unknown:
            raise ValueError(f"labels {unknown[:5]} are not among the calibration's classes {self.classes}")
        return np.array([position[v] for v in values], dtype=np.int64)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> MulticlassCalibration:
        """From its JSON form (``dataclasses.asdict``); unknown keys are ignored."""
        return cls(classes=[str(c) for c in body.get("classes", [])],
                   per_class=[Calibration.from_dict(item) for item in body.get("per_class", [])],
                   reference={str(k): float(v) for k, v in body.get("reference", {}).items()},
                   accuracy_spread=float(body.get("accuracy_spread", 0.0)), rows=int(body.get("rows", 0)))


def probability_matrix(values: Any, classes: int | None = None) -> FloatArray:
    """Probabilities as a finite (rows, classes) matrix in [0, 1]; anything else is a clear error."""
    array = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values, dtype=np.float64)
    if array.ndim != 2 or not np.all(np.isfinite(array)) or np.any((array < 0) | (array > 1)):
        raise ValueError("multiclass scores must be a 2-D matrix of finite probabilities in [0, 1], "
                         "one column per class")
    if classes is not None and array.shape[1] != classes:
        raise ValueError(f"scores have {array.shape[1]} columns for {classes} classes")
    return array


def _values(labels: Any) -> list[Any]:
    array = np.asarray(labels.to_numpy() if hasattr(labels, "to_numpy") else labels, dtype=object)
    if array.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {array.shape}")
    return list(array)


def fit_multiclass_calibration(
    scores: Any, target: Any, prediction: Any, *, classes: Sequence[Any] | None = None, seed: int = 0
) -> MulticlassCalibration:
    """Learn per-class calibrations and the reference statistics from a labelled reference set.

    ``scores``: the probability vector per row, its columns in the order of ``classes`` (default:
    the sorted distinct labels of ``target`` and ``prediction``, scikit-learn's ``classes_`` order).
    The reference must not be the model's training set.
    """
    y_values, yhat_values = _values(target), _values(prediction)
    names = [str(c) for c in (classes if classes is not None else sorted({*y_values, *yhat_values}))]
    if len(set(names)) != len(names) or not 3 <= len(names) <= MAX_CLASSES:
        raise ValueError(f"multiclass calibration needs 3 to {MAX_CLASSES} distinct classes, got {names}")
    calibration = MulticlassCalibration(classes=names)
    p = probability_matrix(scores, len(names))
    y, yhat = calibration.class_index(y_values), calibration.class_index(yhat_values)
    if not p.shape[0] == y.size == yhat.size:
        raise ValueError(f"scores, target and prediction differ in length: {p.shape[0]}, {y.size}, {yhat.size}")
    calibration.per_class = [
        fit_calibration(p[:, k], (y == k).astype(np.int64), (yhat == k).astype(np.int64), seed=seed + k)
        for k in range(len(names))
    ]
    correct = (y == yhat).astype(np.float64)
    calibration.rows, calibration.accuracy_spread = int(y.size), float(correct.std())
    reference = {"accuracy": float(correct.mean())}
    for metric in ("precision", "recall", "f1"):
        reference[metric] = float(np.mean([cal.reference.get(metric, np.nan) for cal in calibration.per_class]))
    reference["roc_auc"] = float(np.mean([roc_auc(p[:, k], (y == k).astype(np.float64))
                                          for k in range(len(names))]))
    calibration.reference = {k: v for k, v in reference.items() if not np.isnan(v)}
    return calibration
