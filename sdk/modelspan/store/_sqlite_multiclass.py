"""The SQLite store's answer to ``class_score_sums``: a multiclass window's probability sums per class.

One SQL query reads each single-row span's recorded probabilities (``ml.output.probability.<k>`` for
the asked classes, and ``ml.output.class``) and each batch span's flat ``ml.output.probabilities``
with its size; numpy bins them per class (``searchsorted`` on that class's edges, ``bincount`` per
predicted-or-not). Rows without a full vector, and a batch's rows past its recorded vectors, are
counted as unscored, unless the batch recorded its class cells over every row with the asked calibration
(``instrumentation/_expected_performance.py``): those are added as they are (docs/estimation.md).
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
                     edges: Sequence[Sequence[float]], calibration: str | None = None) -> ClassScoreSums:
    """Rows and probability sums per (class column, predicted it, interval of ``edges[column]``); a batch
    that recorded its class cells with ``calibration`` (``ml.estimation.cbpe.*``) gives them, every row."""
    classes = len(edges)
    start, end = window_ns(window)
    columns = ", ".join(f"json_extract(document, {_path(f'{semconv.OUTPUT_PROBABILITY_PREFIX}{k}')})"
                        for k in range(classes))
    recorded = ", ".join(f"json_extract(document, {_path(name)})" for name in (
        semconv.CBPE_CALIBRATION, semconv.CBPE_CLASS_CELLS, semconv.CBPE_CLASS_CELL_ROWS,
        semconv.CBPE_CLASS_CELL_SUMS, semconv.CBPE_VECTORS, semconv.CBPE_UNUSABLE))
    sql = f"""SELECT {recorded}, json_extract(document, {_path(semconv.OUTPUT_PROBABILITIES)}),
                     json_extract(document, {_path(semconv.BATCH_SIZE)}), {columns}
              FROM spans WHERE {_SPANS}"""
    vectors: list[list[Any]] = []
    cells: dict[tuple[int, bool, int], tuple[int, float]] = {}
    unscored = summed = 0
    for fingerprint, codes, counts, sums, kept, unusable, flat, size, *single in connection.execute(
            sql, (semconv.SPAN_KIND_MODEL, model, version, start, end)):
        if calibration is not None and fingerprint == calibration and isinstance(codes, str):
            _add_cells(cells, edges, json.loads(codes), json.loads(counts), json.loads(sums))
            summed += int(kept or 0)
            unscored += int(unusable or 0)
        elif flat is None and any(p is not None for p in single):  # a single-row call's vector
            vectors.append(single)
        else:
            values = json.loads(flat) if isinstance(flat, str) else []  # none: a call without a vector
            rows = [values[i:i + classes] for i in range(0, len(values) - len(values) % classes, classes)]
            vectors.extend(rows)
            unscored += max(int(size if isinstance(size, int) else 1) - len(rows), 0)
    matrix, dropped = _usable(vectors, classes)
    for key, (count, total) in bin_classes(matrix, edges).items():
        held = cells.get(key, (0, 0.0))
        cells[key] = (held[0] + count, held[1] + total)
    return ClassScoreSums(tuple(tuple(float(e) for e in per_class) for per_class in edges),
                          cells, int(matrix.shape[0]) + summed, unscored + dropped)


def _add_cells(cells: dict[tuple[int, bool, int], tuple[int, float]], edges: Sequence[Sequence[float]],
               codes: list[int], counts: list[int], sums: list[float]) -> None:
    """A batch's recorded class cells into ``cells`` (codes as ``_expected_performance.add_multiclass``
    writes them: per class, its cells not predicted then predicted, classes one after another)."""
    bounds = np.cumsum([2 * (len(per_class) + 1) for per_class in edges])
    for code, count, total in zip(codes, counts, sums, strict=True):
        k = int(np.searchsorted(bounds, code, side="right"))
        local = code - (int(bounds[k - 1]) if k else 0)
        size = len(edges[k]) + 1
        key = (k, bool(local // size), local % size)
        held = cells.get(key, (0, 0.0))
        cells[key] = (held[0] + int(count), held[1] + float(total))


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
