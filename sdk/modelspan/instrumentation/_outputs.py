"""Understanding a model's output: class label, score/probabilities (confidence, margin), value.

Every shape scikit-learn, XGBoost/LightGBM-style and PyTorch-style models return is read, for a
single row and for a batch: Python and numpy scalars of any dtype, numpy arrays of str, object,
bool, int or float, pandas ``Series``/``DataFrame``, lists, tuples, objects with ``__array__``
(tensors), ``predict_proba``-style ``n x k`` matrices (``classes=`` names the columns: a sequence,
an array or a fitted model whose ``classes_`` is read at call time; a decorated method of a model
with ``classes_`` needs nothing), dicts with ``label``/``score``/``value``/``probabilities`` keys
and ``(label, score)`` pairs.

Integers, booleans and strings are class labels (unless ``task="regression"``), floats are values
(unless ``task="classification"``); labels take their canonical text (``semconv.category_value``),
so ``1``, ``np.int64(1)`` and ``1.0`` are the label ``"1"``. An output that cannot be read raises
:class:`UnreadableOutput` naming its shape; the monitor counts and logs it, never silently.
A batch's outputs go on the span as bounded per-row arrays plus summaries of the pseudo-features
``_output`` and ``_score``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelspan import semconv
from modelspan.instrumentation._checks import Quality
from modelspan.instrumentation._summaries import categorical_summary, numeric_summary
from modelspan.profiling import _profile

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

_PROBA_KEYS = ("probabilities", "probability", "proba", "probs")
_SCALARS = (str, bool, int, float, np.generic)


class UnreadableOutput(ValueError):
    """A model output modelspan cannot read; ``shape`` describes it (type, dtype, dimensions)."""

    def __init__(self, shape: str, why: str) -> None:
        super().__init__(f"cannot read the model output {shape}: {why}")
        self.shape = shape

    @property
    def kind(self) -> str:
        """The shape without its sizes (``numpy.ndarray complex128 3-D``): a bounded set of log keys.

        >>> UnreadableOutput("numpy.ndarray complex128 (5, 2, 2)", "why").kind
        'numpy.ndarray complex128 3-D'
        """
        head, _, sizes = self.shape.partition(" (")
        if sizes:
            return f"{head} {sizes.count(',') + 1 - sizes.endswith(',)')}-D"
        return head.partition(" of ")[0]


@dataclass
class Outputs:
    """Per-row outputs of one call (any of them may be missing)."""

    labels: list[str] | None = None
    values: np.ndarray | None = None
    scores: np.ndarray | None = None
    margins: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    """The probability vector per row (rows x classes), for 3 to ``MAX_CLASS_PROBABILITIES`` classes."""

    def keys(self) -> list[str]:
        """Per-row keys for module-path frequencies: the label, or ``"*"`` without one."""
        if self.labels is not None:
            return self.labels
        size = self.values.size if self.values is not None else 1
        return ["*"] * size

    def per_row(self) -> list[Any] | None:
        """The per-row outputs a baseline profiles: the labels, else the values."""
        if self.labels is not None:
            return self.labels
        return self.values.tolist() if self.values is not None else None


def describe(value: Any) -> str:
    """A short description of an output's shape, for error messages and log lines.

    >>> describe(np.zeros((2, 3)))
    'numpy.ndarray float64 (2, 3)'
    """
    kind = f"{type(value).__module__.partition('.')[0]}.{type(value).__name__}"
    dtype, shape = getattr(value, "dtype", None), getattr(value, "shape", None)
    if dtype is not None and isinstance(shape, tuple):
        return f"{kind} {dtype} {shape}"
    if isinstance(value, (list, tuple)):
        return f"{kind} of {len(value)}"
    return kind


def is_model(source: Any) -> bool:
    """A model (fitted or not) rather than a list of class names: its ``classes_`` is read per call."""
    return not isinstance(source, (str, list, tuple, np.ndarray)) and (
        hasattr(source, "classes_") or callable(getattr(source, "predict", None)))


def class_names(source: Any) -> list[str] | None:
    """Column names of a probability output from ``classes=``: a sequence, an array or a fitted model.

    >>> class_names(np.array([0, 1])), class_names(None)
    (['0', '1'], None)
    """
    if source is None:
        return None
    if is_model(source):
        source = getattr(source, "classes_", None)  # an unfitted model has none yet
        if source is None:
            return None
    try:
        return [semconv.category_value(name) or "" for name in list(source)]
    except TypeError:
        return None


def interpret(result: Any, rows: int | None, task: str | None, classes: Sequence[str] | None) -> Outputs:
    """Outputs of a call; ``rows`` is the batch size, or ``None`` for a single-row call.

    Raises :class:`UnreadableOutput` for an output of a shape no rule reads.

    >>> interpret([0.2, 0.7, 0.1], None, None, ["a", "b", "c"]).labels
    ['b']
    >>> interpret(3.5, None, None, None).values.tolist()
    [3.5]
    >>> interpret(np.array(["benign"], dtype=object), None, None, None).labels
    ['benign']
    """
    if result is None:
        return Outputs()  # the call gave no output: nothing to read, nothing wrong
    plain = _plain(result)
    if rows is None:
        return _single(plain, task, classes, result)
    return _batch(plain, rows, task, classes, result)


def _plain(result: Any) -> Any:
    """pandas objects, tensors and 0-d arrays as numpy arrays or Python scalars."""
    module = type(result).__module__.partition(".")[0]
    if module == "pandas":
        kind = type(result).__name__
        if kind == "DataFrame":
            return result
        if kind in ("Series", "Index", "Categorical"):
            return np.asarray(result.to_numpy() if hasattr(result, "to_numpy") else result)
    if isinstance(result, np.ndarray):
        return result.item() if result.ndim == 0 else result
    if isinstance(result, np.generic):
        return result.item()
    if not isinstance(result, (Mapping, list, tuple, str, bytes)) and hasattr(result, "__array__"):
        return _tensor(result)
    return result


def _tensor(result: Any) -> Any:
    try:
        array = np.asarray(result)
    except (TypeError, ValueError, RuntimeError):  # a tensor that needs grad or lives on a GPU
        array = np.asarray(result.detach().cpu().numpy())
    return array.item() if array.ndim == 0 else array


def _single(plain: Any, task: str | None, classes: Sequence[str] | None, result: Any) -> Outputs:
    if isinstance(plain, Mapping):
        return _from_mapping(plain, task, classes, result)
    if isinstance(plain, tuple) and len(plain) == 2 and isinstance(plain[0], str) and _profile.is_number(plain[1]):
        return Outputs([plain[0][: semconv.MAX_STRING_LENGTH]], scores=np.array([_profile.to_float(plain[1])]))
    if type(plain).__name__ == "DataFrame":
        return _batch(plain, 1, task, classes, result)
    if isinstance(plain, (list, tuple, np.ndarray)):
        array = _array(plain, result)
        if array.size == 0:
            raise UnreadableOutput(describe(result), "it is empty")
        if array.ndim == 2 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 1:
            raise UnreadableOutput(describe(result), "one row gave more than one row of outputs")
        if array.size == 1:
            return _scalar(array[0], task, result)
        return _probabilities(_numbers(array, result)[np.newaxis, :], classes)
    return _scalar(plain, task, result)


def _scalar(value: Any, task: str | None, result: Any) -> Outputs:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return Outputs([value[: semconv.MAX_STRING_LENGTH]])
    if isinstance(value, bool):
        return Outputs(["true" if value else "false"])
    if isinstance(value, int) and task != "regression":
        return Outputs([str(value)[: semconv.MAX_STRING_LENGTH]])
    if _profile.is_number(value):
        if task == "classification":
            label = semconv.category_value(value)
            return Outputs([label]) if label is not None else Outputs()
        return Outputs(values=np.array([_profile.to_float(value)]))
    if _profile.is_null(value):
        return Outputs()
    raise UnreadableOutput(describe(result), f"a {type(value).__name__} is neither a label nor a value")


def _from_mapping(result: Mapping[Any, Any], task: str | None, classes: Sequence[str] | None,
                  original: Any) -> Outputs:
    for key in _PROBA_KEYS:
        if key in result:
            found = _single(_plain(result[key]), task, classes, original)
            if result.get("label") is not None and found.labels is not None:
                found.labels = [_label(result["label"])]
            return found
    outputs = Outputs()
    if result.get("label") is not None:
        outputs.labels = [_label(result["label"])]
    for key, attr in (("score", "scores"), ("value", "values")):
        value = _plain(result.get(key))
        if _profile.is_number(value):
            setattr(outputs, attr, np.array([_profile.to_float(value)]))
    if outputs.labels is None and outputs.values is None and outputs.scores is None:
        raise UnreadableOutput(describe(original), f"a dict without label/score/value/probabilities keys "
                                                   f"({', '.join(sorted(map(str, result))[:5])})")
    return outputs


def _label(value: Any) -> str:
    return (semconv.category_value(_plain(value)) or "")[: semconv.MAX_STRING_LENGTH]


def _array(value: Any, result: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except (TypeError, ValueError, OverflowError):  # ragged or odd sequences
        raise UnreadableOutput(describe(result), "ragged or mixed sequence") from None


def _numbers(array: np.ndarray, result: Any) -> np.ndarray:
    """A probability vector/matrix as float64; anything else is not probabilities."""
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    if array.dtype == object:
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError):
            pass
    raise UnreadableOutput(describe(result), f"{array.dtype} values are not probabilities")


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
    vectors = matrix if 3 <= matrix.shape[1] <= semconv.MAX_CLASS_PROBABILITIES else None
    return Outputs(labels, scores=np.where(np.isfinite(scores), scores, np.nan), margins=margins,
                   probabilities=vectors)


def _batch(plain: Any, rows: int, task: str | None, classes: Sequence[str] | None, result: Any) -> Outputs:
    if isinstance(plain, (list, tuple)) and plain and all(
        isinstance(item, Mapping) for item in plain[: semconv.MAX_ROW_OUTPUTS]
    ):
        parts = [_from_mapping(item, task, classes, result) for item in plain]
        labels = [p.labels[0] if p.labels else "" for p in parts] if parts[0].labels else None
        return Outputs(labels, _column(parts, "values"), _column(parts, "scores"))
    if type(plain).__name__ == "DataFrame":
        columns = [str(c) for c in plain.columns]
        plain, classes = plain.to_numpy(), (classes if classes is not None else columns)
    if isinstance(plain, (*_SCALARS, Mapping)):
        if rows == 1:
            return _single(plain, task, classes, result)
        raise UnreadableOutput(describe(result), f"one output for a batch of {rows} rows")
    if not isinstance(plain, (list, tuple, np.ndarray)):
        raise UnreadableOutput(describe(result), "not a sequence of per-row outputs")
    array = _array(plain, result)
    if array.ndim == 0 or array.shape[0] == 0:
        return Outputs()
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2:
        return _probabilities(_numbers(array, result), classes)
    if array.ndim != 1:
        raise UnreadableOutput(describe(result), f"{array.ndim} dimensions per batch")
    return _per_row(array, task, result)


def _per_row(array: np.ndarray, task: str | None, result: Any) -> Outputs:
    """One output per row: labels (str, object, bool, int) or values (float)."""
    kind = array.dtype.kind
    if kind == "O":
        items = array.tolist()
        present = [item for item in items if not _missing(item)]
        if present and all(_profile.is_number(item) and not isinstance(item, (bool, np.bool_)) for item in present) \
                and any(isinstance(item, (float, np.floating)) for item in present):
            array, kind = np.array([np.nan if _missing(i) else float(i) for i in items]), "f"
        elif not all(isinstance(item, _SCALARS) or _missing(item) for item in items):
            raise UnreadableOutput(describe(result), "rows that are neither labels nor values")
    if kind == "f" and task != "classification":
        return Outputs(values=array.astype(np.float64))
    if kind in "biu" and task == "regression":
        return Outputs(values=array.astype(np.float64))
    if kind in "biufUSO":
        canonical = semconv.category_value
        limit = semconv.MAX_STRING_LENGTH
        return Outputs([(canonical(value) or "")[:limit] for value in array.tolist()])
    raise UnreadableOutput(describe(result), f"{array.dtype} values are neither labels nor values")


def _missing(item: Any) -> bool:
    return _profile.is_null(item) or (isinstance(item, float) and item != item)


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
        if outputs.probabilities is not None and outputs.probabilities.shape[0]:
            _class_probabilities(outputs.probabilities[0], attributes)
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
    if outputs.probabilities is not None:
        rows = min(limit, semconv.MAX_BATCH_PROBABILITIES // outputs.probabilities.shape[1])
        attributes[semconv.OUTPUT_PROBABILITIES] = _finite_list(outputs.probabilities[:rows].ravel())


def _class_probabilities(vector: np.ndarray, attributes: dict[str, Any]) -> None:
    """A single row's probability vector, one attribute per class (Elasticsearch flattens arrays, so
    an aggregation could not tell the classes of an array apart), and the predicted class's column."""
    if not np.all(np.isfinite(vector)):
        return
    attributes[semconv.OUTPUT_CLASS] = int(np.argmax(vector))
    for k, value in enumerate(vector.tolist()):
        attributes[f"{semconv.OUTPUT_PROBABILITY_PREFIX}{k}"] = value


def _finite_list(values: np.ndarray) -> list[float | None]:
    # JSON cannot carry NaN: a row without a finite output is null (OTel arrays allow None).
    return [value if np.isfinite(value) else None for value in values.tolist()]
