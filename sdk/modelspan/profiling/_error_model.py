"""Direct loss estimation (DLE): a regression model's expected error, learned on a labelled reference.

Labels of a regressor arrive late or never; what a window's MAE and RMSE will be can still be
estimated when the size of the error depends on where the inputs fall (heteroscedastic noise,
regions the model fits badly). The error model learns, on a reference set that is not the
training set, E[|y - ŷ| | x, ŷ] and E[(y - ŷ)² | x, ŷ]; a window's estimated MAE is the mean of the
first over its rows, its estimated RMSE the square root of the mean of the second
(docs/estimation.md, "Regression").

The model is additive and piecewise constant: an intercept plus, per term (the prediction and each
numeric feature), a value per quantile bin of that term, fitted by gradient boosting where each
round adds the single term's binned means of the residual that lower the squared loss most (ridge
shrinkage ``LAMBDA`` per bin, learning rate ``RATE``). It is what boosted one-feature trees on
fixed bins converge to, needs numpy only, serialises into the baseline's JSON as a few lists, and
costs one binary search per term at call time. It cannot represent interactions between inputs
(NannyML's LightGBM can); the tests show where that suffices. A missing value falls in the term's
last bin (learned if the reference had missing values, else zero).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
PREDICTION = "_prediction"
"""The term of the model's own prediction (feature names come from the baseline's columns)."""
BINS = 32
ROUNDS = 200
RATE = 0.2
LAMBDA = 20.0
MIN_ROWS = 100
FOLDS = 10
"""Groups of the delete-a-group jackknife that measures the error model's own uncertainty."""


@dataclass
class ErrorModel:
    """Expected absolute and squared error of a regressor, as an additive binned model (JSON-ready).

    ``terms[j]`` is a feature name (or ``PREDICTION``); ``edges[j]`` its cut points; ``abs_tables[j]``
    and ``squared_tables[j]`` a value per bin (``len(edges[j]) + 1`` bins, then one for a missing value).
    ``reference``: realised MAE and RMSE on the reference; ``spread``: standard deviation of the per-row
    absolute error (``mae``) and squared error (``mse``) there, so a window of n rows has a sampling
    error of spread / √n, and the standard error of the model's own mean expected absolute
    (``model_mae``) and squared (``model_mse``) error over the reference's inputs (:func:`model_error`),
    what a finite reference leaves uncertain whatever the window's size (absent in older baselines: 0).
    """

    terms: list[str] = field(default_factory=list)
    edges: list[list[float]] = field(default_factory=list)
    abs_intercept: float = 0.0
    abs_tables: list[list[float]] = field(default_factory=list)
    squared_intercept: float = 0.0
    squared_tables: list[list[float]] = field(default_factory=list)
    rows: int = 0
    reference: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> ErrorModel:
        """From its JSON form (``dataclasses.asdict``); unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in body.items() if key in names})

    def bins(self, columns: Mapping[str, Any], prediction: npt.ArrayLike) -> list[npt.NDArray[np.int64]]:
        """The bin of every row in every term (a missing or non-numeric value: the missing bin)."""
        rows = np.asarray(prediction).shape[0]
        result = []
        for term, edges in zip(self.terms, self.edges, strict=True):
            values = numeric(prediction if term == PREDICTION else columns.get(term), rows)
            if values.shape != (rows,):  # a column that does not line up with the rows: missing
                values = np.full(rows, np.nan)
            result.append(bin_index(values, edges))
        return result

    def expected(self, columns: Mapping[str, Any], prediction: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(E|error|, E error²) per row of a batch: ``columns`` feature -> values, ``prediction`` ŷ.

        >>> m = ErrorModel([PREDICTION], [[1.0]], 0.0, [[1.0, 3.0, 0.0]], 0.0, [[2.0, 18.0, 0.0]])
        >>> [a.tolist() for a in m.expected({}, [0.5, 2.0])]
        [[1.0, 3.0], [2.0, 18.0]]
        """
        bins = self.bins(columns, prediction)
        return (_total(self.abs_intercept, self.abs_tables, bins),
                _total(self.squared_intercept, self.squared_tables, bins))

    def expected_row(self, row: Mapping[str, Any], prediction: float) -> tuple[float, float]:
        """(E|error|, E error²) of one row, without numpy (a single-row call stays cheap)."""
        absolute, squared = self.abs_intercept, self.squared_intercept
        for j, term in enumerate(self.terms):
            value = prediction if term == PREDICTION else row.get(term)
            edges = self.edges[j]
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                index = bisect_right(edges, value)
            else:
                index = len(edges) + 1
            absolute += self.abs_tables[j][index]
            squared += self.squared_tables[j][index]
        return max(absolute, 0.0), max(squared, 0.0)


def numeric(values: Any, rows: int) -> FloatArray:
    """Values as floats, NaN where missing or not a number (an absent column: all NaN)."""
    if values is None:
        return np.full(rows, np.nan)
    array = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    if array.dtype.kind in "fiu":
        return array.astype(np.float64)
    out = np.full(array.shape[0], np.nan)
    for i, item in enumerate(array.tolist()):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            out[i] = float(item)
    return out


def bin_index(values: FloatArray, edges: list[float]) -> npt.NDArray[np.int64]:
    """Bin of each value (``searchsorted`` right on the edges), ``len(edges) + 1`` when not finite."""
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    return np.where(np.isfinite(values), index, len(edges) + 1).astype(np.int64)


def _total(intercept: float, tables: list[list[float]], bins: list[npt.NDArray[np.int64]]) -> FloatArray:
    size = bins[0].size if bins else 0
    total: FloatArray = np.full(size, intercept, dtype=np.float64)
    for table, index in zip(tables, bins, strict=True):
        total += np.asarray(table, dtype=np.float64)[index]
    return np.maximum(total, 0.0, out=total)


def quantile_edges(values: FloatArray, bins: int = BINS) -> list[float]:
    """Distinct interior quantile cut points of the finite values (none for a constant column)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return []
    cuts = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
    return [float(c) for c in cuts if c > finite.min()]


def boost(target: FloatArray, bins: list[npt.NDArray[np.int64]], sizes: list[int],
          rounds: int = ROUNDS, rate: float = RATE, penalty: float = LAMBDA) -> tuple[float, list[FloatArray]]:
    """Intercept and per-term tables minimising the squared loss to ``target``: each round adds, shrunk
    by ``rate``, the binned means (ridge ``penalty``) of the residual of the term that lowers the loss most."""
    intercept = float(target.mean())
    fitted = np.full(target.size, intercept)
    tables = [np.zeros(size) for size in sizes]
    for _ in range(rounds):
        residual = target - fitted
        best, best_gain, best_step = -1, 0.0, np.zeros(0)
        for j, index in enumerate(bins):
            sums = np.bincount(index, weights=residual, minlength=sizes[j])
            counts = np.bincount(index, minlength=sizes[j])
            gain = float(np.sum(sums * sums / (counts + penalty)))
            if gain > best_gain:
                best, best_gain, best_step = j, gain, sums / (counts + penalty)
        if best < 0 or best_gain <= 1e-12 * max(float(np.sum(target * target)), 1e-300):
            break
        tables[best] += rate * best_step
        fitted += rate * best_step[bins[best]]
    return intercept, tables


def model_error(absolute: FloatArray, squared: FloatArray, bins: list[npt.NDArray[np.int64]],
                sizes: list[int], folds: int = FOLDS) -> dict[str, float]:
    """Standard errors of the fitted model's mean E|error| and E error² over the reference's inputs.

    Delete-a-group jackknife: the model is refitted ``folds`` times (same bins), each time without
    one group of rows (row i in group i mod ``folds``), and T_k is refit k's mean over all the
    reference's rows; Var(T) ≈ (K - 1)/K · Σ(T_k - T̄)². This is the error the estimate of a window
    drawn like the reference carries because the model was learned from finitely many rows (about
    spread / √rows, the intercept's, plus what the bins' values add); it does not shrink with the
    window's size, unlike the sampling error.
    """
    group = np.arange(absolute.size) % folds
    means = np.zeros((folds, 2))
    for k in range(folds):
        keep = group != k
        kept = [index[keep] for index in bins]
        for j, target in enumerate((absolute, squared)):
            intercept, tables = boost(target[keep], kept, sizes)
            means[k, j] = float(_total(intercept, [t.tolist() for t in tables], bins).mean())
    variance = (folds - 1) / folds * np.sum((means - means.mean(axis=0)) ** 2, axis=0)
    return {"model_mae": float(math.sqrt(variance[0])), "model_mse": float(math.sqrt(variance[1]))}


def fit_error_model(columns: Mapping[str, Any], prediction: Any, target: Any) -> ErrorModel:
    """Learn the error model of a regressor from a labelled reference set (not its training set).

    ``columns``: the numeric features (name -> values); ``prediction``/``target``: ŷ and y per row.
    """
    yhat, y = _values(prediction, "prediction"), _values(target, "target")
    if yhat.size != y.size:
        raise ValueError(f"prediction and target differ in length: {yhat.size}, {y.size}")
    if y.size < MIN_ROWS:
        raise ValueError(f"the error model needs at least {MIN_ROWS} labelled rows, got {y.size}")
    terms = [PREDICTION, *sorted(columns)]
    values = [yhat, *(numeric(columns[name], y.size) for name in terms[1:])]
    edges = [quantile_edges(v) for v in values]
    bins = [bin_index(v, e) for v, e in zip(values, edges, strict=True)]
    sizes = [len(e) + 2 for e in edges]
    error = y - yhat
    absolute, squared = np.abs(error), error * error
    abs_intercept, abs_tables = boost(absolute, bins, sizes)
    squared_intercept, squared_tables = boost(squared, bins, sizes)
    return ErrorModel(
        terms, edges, abs_intercept, [t.tolist() for t in abs_tables], squared_intercept,
        [t.tolist() for t in squared_tables], rows=int(y.size),
        reference={"mae": float(absolute.mean()), "rmse": float(math.sqrt(squared.mean()))},
        spread={"mae": float(absolute.std()), "mse": float(squared.std()),
                **model_error(absolute, squared, bins, sizes)},
    )


def _values(values: Any, name: str) -> FloatArray:
    array = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    try:
        numbers = array.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers for a regression error model, got {array.dtype}") from None
    if numbers.ndim != 1 or not np.all(np.isfinite(numbers)):
        raise ValueError(f"{name} must be 1-D finite numbers for a regression error model")
    return numbers
