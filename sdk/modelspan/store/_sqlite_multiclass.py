"""The SQLite store's answer to ``class_score_sums``: a multiclass window's probability sums per class.

One SQL query reads each single-row span's recorded probabilities (``ml.output.probability.<k>`` for
the asked classes, and ``ml.output.class``) and each batch span's flat ``ml.output.probabilities``
with its size; numpy bins them per class (``searchsorted`` on that class's edges, ``bincount`` per
predicted-or-not). Rows without a full vector, and a batch's rows past its recorded vectors, are
counted as unscored (docs/estimation.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelspan import semconv
from modelspan.store._sqlite_extras import window_ns
from modelspan.store.types import ClassScoreSums, Window

_SPANS = ("ml_kind = ? AND model_name = ? AND model_version = ? AND start_ns >= ? AND start_ns < ?")


def _path(name: str) -> str:
    return f"'$.attributes.\"{name}\"'"


def class_score_sums(connection: sqlite3.Connection, window: Window, model: str, version: str,
                     edges: Sequence[Sequence[float]]) -> ClassScoreSums:
    """Rows and probability sums per (class column, predicted it, interval of ``edges[column]``)."""
    classes = len(edges)
    start, end = window_ns(window)
    columns = ", ".join(f"json_extract(document, {_path(f'{semconv.OUTPUT_PROBABILITY_PREFIX}{k}')})"
                        for k in range(classes))
    sql = f"""SELECT json_extract(document, {_path(semconv.OUTPUT_PROBABILITIES)}),
                     json_extract(document, {_path(semconv.BATCH_SIZE)}), {columns}
              FROM spans WHERE {_SPANS}"""
    vectors: list[list[Any]] = []
    unscored = 0
    for flat, size, *single in connection.execute(sql, (semconv.SPAN_KIND_MODEL, model, version, start, end)):
        if flat is None and any(p is not None for p in single):  # a single-row call's vector
            vectors.append(single)
            continue
        values = json.loads(flat) if isinstance(flat, str) else []  # none: a call without a vector
        rows = [values[i:i + classes] for i in range(0, len(values) - len(values) % classes, classes)]
        vectors.extend(rows)
        unscored += max(int(size if isinstance(size, int) else 1) - len(rows), 0)
    matrix, dropped = _usable(vectors, classes)
    return ClassScoreSums(tuple(tuple(float(e) for e in per_class) for per_class in edges),
                          bin_classes(matrix, edges), int(matrix.shape[0]), unscored + dropped)


def _usable(vectors: list[list[Any]], classes: int) -> tuple[npt.NDArray[np.float64], int]:
    """The vectors whose every probability is a number in [0, 1], and how many were not."""
    kept = [v for v in vectors if len(v) == classes and all(
        isinstance(p, (int, float)) and not isinstance(p, bool) and 0.0 <= p <= 1.0 for p in v)]
    matrix = np.array(kept, dtype=np.float64).reshape(len(kept), classes)
    return matrix, len(vectors) - len(kept)


def bin_classes(matrix: npt.NDArray[np.float64], edges: Sequence[Sequence[float]]
                ) -> dict[tuple[int, bool, int], tuple[int, float]]:
    """(class, predicted it, interval) -> (rows, probability sum); the prediction is the highest
    probability's column (the first on ties, as ``ml.output.class``).

    >>> bin_classes(np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2]]), [[0.5], [0.5], [0.5]])[(0, True, 1)]
    (1, 0.7)
    """
    cells: dict[tuple[int, bool, int], tuple[int, float]] = {}
    if matrix.shape[0] == 0:
        return cells
    predicted = np.argmax(matrix, axis=1)
    for k, per_class in enumerate(edges):
        interval = np.searchsorted(np.asarray(per_class, dtype=np.float64), matrix[:, k], side="right")
        size = len(per_class) + 1
        for flag in (False, True):
            rows = (predicted == k) == flag
            counts = np.bincount(interval[rows], minlength=size)
            sums = np.bincount(interval[rows], weights=matrix[rows, k], minlength=size)
            for i in np.flatnonzero(counts):
                cells[(k, flag, int(i))] = (int(counts[i]), float(sums[i]))
    return cells
