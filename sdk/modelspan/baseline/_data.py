"""How ``Baseline.from_data`` reads its input: the columns of the training data, and the labelled
reference set (predictions, targets and scores, by column name or as values) it learns from.

Named columns used as predictions, targets or scores are taken out of the features here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelspan.profiling import _inputs, _profile
from modelspan.profiling._calibration import Calibration, fit_calibration
from modelspan.profiling._multiclass import MulticlassCalibration, fit_multiclass_calibration

Given = str | Sequence[Any] | np.ndarray | None


def as_values(values: Any) -> Any:
    """An array as it is, a pandas column as an array, anything else as a list."""
    if isinstance(values, np.ndarray):
        return values
    to_numpy = getattr(values, "to_numpy", None)
    return to_numpy() if callable(to_numpy) else list(values)


def columns(data: Any, features: Sequence[str] | None) -> tuple[dict[str, Any], int]:
    """Columns of the data set and its row count."""
    if isinstance(data, Mapping) and all(
        isinstance(value, (list, tuple, np.ndarray)) or hasattr(value, "to_numpy")
        for value in data.values()
    ):
        named = {_profile.safe_name(name): as_values(values) for name, values in data.items()}
        lengths = {len(column) for column in named.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns have different lengths: {sorted(lengths)}")
        return named, lengths.pop() if lengths else 0
    shaped = _inputs.normalise(data, features, "value")
    if isinstance(shaped, _inputs.Batch):
        return dict(shaped.columns), shaped.size
    raise ValueError(
        "data must be a DataFrame, a dict of columns, a list of dicts or a 2-D array, "
        f"got {type(data).__name__}"
    )


def labelled(
    columns: dict[str, Any], output_values: Any, output: str | None, prediction: Given, target: Given, scores: Given
) -> tuple[Calibration | MulticlassCalibration | None, list[Any] | None]:
    """What the labelled reference set teaches: a classifier's calibration, or (prediction and target
    without scores) a regressor's predicted and true values for its error model."""
    if scores is None and prediction is not None and target is not None:
        return None, resolved(columns, output_values, output, [prediction, target])
    return calibration(columns, output_values, output, prediction, target, scores), None


def calibration(
    columns: dict[str, Any],
    output_values: Any,
    output: str | None,
    *given: Given,
) -> Calibration | MulticlassCalibration | None:
    """The calibration learned from (prediction, target, scores), each a column name or values;
    named columns are taken out of the features. Scores with one column per class (a 2-D
    ``predict_proba`` matrix, columns in the sorted order of the labels) give a multiclass one."""
    if all(item is None for item in given):
        return None
    if any(item is None for item in given):
        raise ValueError("prediction, target and scores are given together or not at all")
    prediction, target, scores = resolved(columns, output_values, output, given)
    if np.ndim(np.asarray(scores, dtype=object)) == 2:
        return fit_multiclass_calibration(scores, target, prediction)
    return fit_calibration(scores, target, prediction)


def resolved(columns: dict[str, Any], output_values: Any, output: str | None, given: Sequence[Any]) -> list[Any]:
    """Each of ``given`` as values: a column name is taken out of the features (the output's stays)."""
    values = []
    for item in given:
        if isinstance(item, str):
            if item == output and output_values is not None:
                values.append(output_values)
            elif item in columns:
                values.append(columns.pop(item))
            else:
                raise ValueError(f"column {item!r} is not in the data")
        else:
            values.append(as_values(item))
    return values
