"""The expected error of a regressor's call, for direct loss estimation (docs/estimation.md, "Regression").

When the call's baseline carries an :class:`~modelspan.profiling._error_model.ErrorModel`, the span gets
the sums over the call's rows of the expected absolute and squared error and the number of rows they
cover (``ml.estimation.*``); a store adds them up over a window, whatever its traffic. Calls whose
baseline has no error model never reach this module (one attribute test in ``_monitor.finish``).
A single row is looked up without numpy; a batch with one ``searchsorted`` per term over all its rows
(not only the first ``MAX_ROW_OUTPUTS``). Rows without a finite prediction are left out of the sums.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelspan import semconv
from modelspan.instrumentation._outputs import Outputs
from modelspan.profiling import _inputs
from modelspan.profiling._error_model import ErrorModel


def add(model: ErrorModel, shaped: Any, outputs: Outputs | None, result: Any, attributes: dict[str, Any]) -> None:
    """Write the call's expected-error sums into ``attributes`` (nothing without a usable prediction)."""
    values = outputs.values if outputs is not None else None
    if values is None and type(result) is float:
        values = np.array([result])
    if values is None or values.size == 0:
        return
    if type(shaped) is _inputs.Batch:
        columns = shaped.columns
        finite = np.isfinite(values)
        if not finite.all():
            columns = {name: np.asarray(column, dtype=object)[finite] for name, column in columns.items()
                       if len(column) == values.size}
            values = values[finite]
        absolute, squared = model.expected(columns, values)
        rows, total_abs, total_squared = int(values.size), float(absolute.sum()), float(squared.sum())
    else:
        prediction = float(values[0])
        if not math.isfinite(prediction):
            return
        row = shaped.values if type(shaped) is _inputs.Row else {}
        total_abs, total_squared = model.expected_row(row, prediction)
        rows = 1
    if rows:
        attributes[semconv.ESTIMATION_ROWS] = rows
        attributes[semconv.ESTIMATION_ABS_ERROR] = total_abs
        attributes[semconv.ESTIMATION_SQUARED_ERROR] = total_squared
