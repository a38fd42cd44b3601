"""Understanding a model's output: class label, score/probabilities (confidence, margin), value.

Single row: a string/bool/int is a label, a float a regression value, a probability vector gives
the label (``classes=`` names them), its score and the margin top-1 minus top-2, a dict with
``label``/``score``/``value``/``probabilities`` keys or a ``(label, score)`` pair is read as such.
A batch's outputs (one per row, or an ``n x k`` probability matrix) go on the span as bounded
per-row arrays plus summaries of the pseudo-features ``_output`` and ``_score``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelspan import semconv
from modelspan.instrumentation import _profile
from modelspan.instrumentation._checks import Quality
from modelspan.instrumentation._summaries import categorical_summary, numeric_summary

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

_PROBA_KEYS = ("probabilities", "probability", "proba", "probs")


@dataclass
class Outputs:
    """Per-row outputs of one call (any of them may be missing)."""

    labels: list[str] | None = None
    values: np.ndarray | None = None
    scores: np.ndarray | None = None
    margins: np.ndarray | None = None

    def keys(self) -> list[str]:
        """Per-row keys for module-path frequencies: the label, or ``"*"`` without one."""
        if self.labels is not None:
            return self.labels
        size = self.values.size if self.values is not None else 1
        return ["*"] * size


def interpret(
    result: Any, rows: int | None, task: str | None, classes: Sequence[str] | None
) -> Outputs:
    """Outputs of a call; ``rows`` is the batch size, or ``None`` for a single-row call.

    >>> interpret([0.2, 0.7, 0.1], None, None, ["a", "b", "c"]).labels
    ['b']
    >>> interpret(3.5, None, None, None).values.tolist()
    [3.5]
    """
    if rows is None:
        return _single(result, task, classes)
    return _batch(result, rows, task, classes)


def _single(result: Any, task: str | None, classes: Sequence[str] | None) -> Outputs:
    if isinstance(result, Mapping):
        return _from_mapping(result, task, classes)
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], str):
        score = _profile.to_float(result[1]) if _profile.is_number(result[1]) else None
        return Outputs([result[0]], scores=None if score is None else np.array([score]))
    if isinstance(result, (list, tuple, np.ndarray)):
        array = _numeric_array(result)
        if array is None or array.size == 0:
            return Outputs()
        if array.ndim == 2 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 1:
            return Outputs()
        if array.size == 1:
            return _scalar(array[0].item(), task)
        return _probabilities(array[np.newaxis, :], classes)
    return _scalar(result, task)


def _scalar(value: Any, task: str | None) -> Outputs:
    if isinstance(value, str):
        return Outputs([value[: semconv.MAX_STRING_LENGTH]])
    if isinstance(value, (bool, np.bool_)):
        return Outputs([str(bool(value)).lower()])
    if isinstance(value, (int, np.integer)) and task != "regression":
        return Outputs([str(int(value))])
    if _profile.is_number(value):
        number = _profile.to_float(value)
        if task == "classification":
            return Outputs([str(value)])
        return Outputs(values=np.array([number]))
    return Outputs()


def _from_mapping(result: Mapping[Any, Any], task: str | None, classes: Sequence[str] | None) -> Outputs:
    for key in _PROBA_KEYS:
        if key in result:
            found = _single(result[key], task, classes)
            if "label" in result and found.labels is not None:
                found.labels = [str(result["label"])[: semconv.MAX_STRING_LENGTH]]
            return found
    outputs = Outputs()
    if "label" in result and result["label"] is not None:
        outputs.labels = [str(result["label"])[: semconv.MAX_STRING_LENGTH]]
    for key, attr in (("score", "scores"), ("value", "values")):
        value = result.get(key)
        if _profile.is_number(value):
            setattr(outputs, attr, np.array([_profile.to_float(value)]))
    return outputs


def _numeric_array(value: Any) -> np.ndarray | None:
    array = _array(value)
    if array is None or array.dtype.kind not in "biuf":
        return None  # strings, objects, complex numbers: not probabilities
    return array.astype(np.float64)


def _probabilities(matrix: np.ndarray, classes: Sequence[str] | None) -> Outputs:
    with np.errstate(all="ignore"):  # rows of NaN/inf are data, not a reason to warn
        return _probabilities_of(matrix, classes)


def _probabilities_of(matrix: np.ndarray, classes: Sequence[str] | None) -> Outputs:
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        return Outputs()
    matrix = np.where(np.isfinite(matrix), matrix, -np.inf)
    best = np.argmax(matrix, axis=1)
    rows = np.arange(matrix.shape[0])
    scores = matrix[rows, best]
    names = list(classes) if classes is not None and len(classes) == matrix.shape[1] else None
    labels = [str(names[i]) if names else str(i) for i in best.tolist()]
    margins = None
    if matrix.shape[1] >= 2:
        top2 = np.partition(matrix, -2, axis=1)[:, -2]
        margins = scores - top2
    return Outputs(labels, scores=np.where(np.isfinite(scores), scores, np.nan), margins=margins)


def _batch(result: Any, rows: int, task: str | None, classes: Sequence[str] | None) -> Outputs:
    if isinstance(result, Sequence) and not isinstance(result, str) and result and all(
        isinstance(item, Mapping) for item in result[: semconv.MAX_ROW_OUTPUTS]
    ):
        parts = [_from_mapping(item, task, classes) for item in result]
        labels = [p.labels[0] if p.labels else "" for p in parts] if parts[0].labels else None
        return Outputs(labels, _column(parts, "values"), _column(parts, "scores"))
    if _profile.is_number(result) or isinstance(result, (str, Mapping)) or result is None:
        return _single(result, task, classes) if rows == 1 else Outputs()
    array = _array(result) if isinstance(result, (list, tuple, np.ndarray)) else None
    if array is None or array.dtype == object or array.ndim == 0 or array.shape[0] == 0:
        return Outputs()
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2 and array.dtype.kind in "biuf":
        return _probabilities(array.astype(np.float64), classes)
    if array.ndim != 1:
        return Outputs()
    if array.dtype.kind in "US" or (array.dtype.kind in "biu" and task != "regression"):
        return Outputs([str(v)[: semconv.MAX_STRING_LENGTH] for v in array.tolist()])
    if array.dtype.kind == "f" and task == "classification":
        return Outputs([str(v) for v in array.tolist()])
    if array.dtype.kind in "biuf":  # a regression's integer predictions are values too, as for one row
        return Outputs(values=array.astype(np.float64))
    return Outputs()


def _array(value: Any) -> np.ndarray | None:
    try:
        return np.asarray(value)
    except (TypeError, ValueError, OverflowError):  # ragged or odd sequences: not an output
        return None


def _column(parts: list[Outputs], attr: str) -> np.ndarray | None:
    if getattr(parts[0], attr) is None:
        return None
    cells = [getattr(p, attr) for p in parts]
    return np.array([c[0] if c is not None and c.size else np.nan for c in cells])


def output_attributes(
    outputs: Outputs,
    batch: bool,
    baseline: Baseline | None,
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    """Single-row output attributes, or bounded per-row arrays plus summaries for a batch."""
    if not batch:
        if outputs.labels:
            attributes[semconv.OUTPUT_LABEL] = outputs.labels[0]
        for key, array in (
            (semconv.OUTPUT_VALUE, outputs.values),
            (semconv.OUTPUT_SCORE, outputs.scores),
            (semconv.OUTPUT_MARGIN, outputs.margins),
        ):
            if array is not None and array.size and np.isfinite(array[0]):
                attributes[key] = float(array[0])
        return
    limit = semconv.MAX_ROW_OUTPUTS
    profile = baseline.output if baseline is not None else None
    if outputs.labels is not None:
        attributes[semconv.OUTPUT_LABELS] = outputs.labels[:limit]
        categorical_summary(semconv.OUTPUT_FEATURE, outputs.labels, profile, attributes, quality,
                            0, 0)
    if outputs.values is not None:
        attributes[semconv.OUTPUT_VALUES] = _finite_list(outputs.values[:limit])
        numeric_summary(semconv.OUTPUT_FEATURE, outputs.values, profile, attributes, quality)
    if outputs.scores is not None:
        attributes[semconv.OUTPUT_SCORES] = _finite_list(outputs.scores[:limit])
        numeric_summary(semconv.OUTPUT_SCORE_FEATURE, outputs.scores, None, attributes, quality)


def _finite_list(values: np.ndarray) -> list[float | None]:
    # JSON cannot carry NaN: a row without a finite output is null (OTel arrays allow None).
    return [value if np.isfinite(value) else None for value in values.tolist()]
