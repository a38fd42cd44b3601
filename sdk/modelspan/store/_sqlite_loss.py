"""The SQLite store's answer to ``loss_sums``: a regressor's expected-error sums over a window, one query.

The SDK writes per call the sums of E|y - ŷ| and E(y - ŷ)² over its rows and how many rows they cover
(``ml.estimation.*``, docs/estimation.md "Regression"); one aggregate query adds them up over the
window's model spans (the cost follows the spans, not the rows of their batches). Rows of spans without
them are counted as unestimated (``1`` for a single-row call, ``ml.batch.size`` for a batch).
"""

from __future__ import annotations

import sqlite3

from modelspan import semconv
from modelspan.store.types import LossSums


def loss_sums(connection: sqlite3.Connection, model: str, version: str, window_ns: tuple[int, int]) -> LossSums:
    """``LossSums`` of the window's model spans in the SQLite store (one aggregate query)."""
    rows, absolute, squared, size = (
        f"json_extract(document, '$.attributes.\"{name}\"')"
        for name in (semconv.ESTIMATION_ROWS, semconv.ESTIMATION_ABS_ERROR, semconv.ESTIMATION_SQUARED_ERROR,
                     semconv.BATCH_SIZE))
    sql = f"""SELECT total({rows}), total({absolute}), total({squared}),
                     total(CASE WHEN {rows} IS NULL THEN COALESCE({size}, 1) ELSE 0 END)
              FROM spans WHERE ml_kind = ? AND model_name = ? AND model_version = ?
              AND start_ns >= ? AND start_ns < ?"""
    start, end = window_ns
    found = connection.execute(sql, (semconv.SPAN_KIND_MODEL, model, version, start, end)).fetchone()
    return LossSums(int(found[0]), float(found[1]), float(found[2]), int(found[3]))
