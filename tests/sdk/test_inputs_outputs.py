"""Input shapes, output interpretation and redaction, unit by unit."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from modelspan import semconv
from modelspan.instrumentation import _outputs, _rawcapture, _redaction
from modelspan.profiling import _inputs


def test_input_shapes() -> None:
    assert _inputs.normalise({"a": 1}, None, "x") == _inputs.Row({"a": 1})
    assert _inputs.normalise(np.array([1.0, 2.0]), ["p", "q"], "x") == _inputs.Row({"p": 1.0, "q": 2.0})
    assert _inputs.normalise([1.0, 2.0], None, "x") == _inputs.Row({"f0": 1.0, "f1": 2.0})
    assert _inputs.normalise("hello", None, "text") == _inputs.Row({"text": "hello"})
    assert _inputs.normalise(np.float64(3.0), None, "x") == _inputs.Row({"x": 3.0})
    batch = _inputs.normalise([{"a": 1}, {"b": 2}, "junk"], None, "x")
    assert isinstance(batch, _inputs.Batch)
    assert (batch.size, batch.columns, batch.bad_rows) == (3, {"a": [1, None, None], "b": [None, 2, None]}, 1)
    ragged = _inputs.normalise([[1, 2], [3], 7], None, "x")
    assert isinstance(ragged, _inputs.Batch)
    assert (ragged.columns, ragged.bad_rows) == ({"f0": [1, 3, None], "f1": [2, None, None]}, 1)
    image = _inputs.normalise(np.zeros((4, 8, 8)), None, "x")
    assert isinstance(image, _inputs.Batch) and (image.size, image.columns) == (4, {})
    assert _inputs.normalise([], None, "x") == _inputs.Batch(0)
    assert _inputs.normalise(object(), None, "x") is None


def test_feature_count_is_bounded() -> None:
    wide = {f"k{i}": 1.0 for i in range(semconv.MAX_FEATURES + 50)}
    from collections import OrderedDict

    row = _inputs.normalise(OrderedDict(wide), None, "x")
    assert isinstance(row, _inputs.Row) and len(row.values) == semconv.MAX_FEATURES
    batch = _inputs.normalise(np.zeros((2, semconv.MAX_FEATURES + 5)), None, "x")
    assert isinstance(batch, _inputs.Batch) and len(batch.columns) == semconv.MAX_FEATURES


@pytest.mark.parametrize(
    ("result", "labels", "values", "scores"),
    [
        ("spam", ["spam"], None, None),
        (True, ["true"], None, None),
        (np.int64(2), ["2"], None, None),
        (0.75, None, [0.75], None),
        ({"label": "b", "score": 0.6}, ["b"], None, [0.6]),
        ({"probabilities": [0.1, 0.9]}, ["1"], None, [0.9]),
        (("cat", 0.8), ["cat"], None, [0.8]),
        (np.array([[0.3, 0.7]]), ["1"], None, [0.7]),
        ([4.2], None, [4.2], None),
        (None, None, None, None),
    ],
)
def test_single_row_outputs(result: Any, labels: Any, values: Any, scores: Any) -> None:
    outputs = _outputs.interpret(result, None, None, None)
    assert outputs.labels == labels
    assert (outputs.values.tolist() if outputs.values is not None else None) == values
    assert (outputs.scores.tolist() if outputs.scores is not None else None) == scores


def test_task_disambiguates() -> None:
    assert _outputs.interpret(3, None, "regression", None).values.tolist() == [3.0]  # type: ignore[union-attr]
    assert _outputs.interpret(1.0, None, "classification", None).labels == ["1"]  # the canonical label


def test_unreadable_outputs_name_their_shape() -> None:
    with pytest.raises(_outputs.UnreadableOutput, match=r"builtins\.object"):
        _outputs.interpret(object(), None, None, None)
    with pytest.raises(_outputs.UnreadableOutput, match="list of 2"):
        _outputs.interpret([[1, 2], [3]], 2, None, None)  # ragged
    with pytest.raises(_outputs.UnreadableOutput, match=r"numpy.ndarray float64 \(2, 2, 2\)"):
        _outputs.interpret(np.zeros((2, 2, 2)), 2, None, None)


def test_batch_outputs() -> None:
    probs = _outputs.interpret(np.array([[0.2, 0.8], [0.6, 0.4]]), 2, None, ["neg", "pos"])
    assert probs.labels == ["pos", "neg"]
    assert probs.margins is not None and np.allclose(probs.margins, [0.6, 0.2])
    values = _outputs.interpret(np.array([1.5, 2.5]), 2, None, None)
    assert values.values is not None and values.values.tolist() == [1.5, 2.5]
    dicts = _outputs.interpret([{"label": "a", "score": 0.9}, {"label": "b", "score": 0.4}], 2, None, None)
    assert dicts.labels == ["a", "b"] and dicts.scores is not None and dicts.scores.tolist() == [0.9, 0.4]


def test_batch_output_attributes_are_bounded_and_json_safe() -> None:
    n = semconv.MAX_ROW_OUTPUTS + 10
    values = np.arange(n, dtype=float)
    values[3] = np.nan
    outputs = _outputs.Outputs(values=values)
    attributes: dict[str, Any] = {}
    from modelspan.instrumentation._checks import Quality

    _outputs.output_attributes(outputs, True, None, attributes, Quality())
    row_values = attributes[semconv.OUTPUT_VALUES]
    assert len(row_values) == semconv.MAX_ROW_OUTPUTS and row_values[3] is None
    assert attributes[semconv.batch_stat(semconv.OUTPUT_FEATURE, "nan_count")] == 1
    json.dumps(attributes, allow_nan=False)


def test_redaction_policy_and_raw_input() -> None:
    assert _redaction.parse_policy("email:drop,ssn:hash") == {"email": "drop", "ssn": "hash"}
    with pytest.raises(ValueError):
        _redaction.parse_policy("email")
    with pytest.raises(ValueError):
        _redaction.check_policy({"email": "mask"})
    raw = _rawcapture.raw_input({"email": "a@b", "ssn": "123", "x": [1.0, math.inf]}, None,
                                {"email": "drop", "ssn": "hash"})
    body = json.loads(raw)
    assert "email" not in body and body["ssn"].startswith("sha256:") and body["x"] == [1.0, "inf"]
    assert _redaction.hash_value("v") == _redaction.hash_value("v") != _redaction.hash_value("w")
    huge = _rawcapture.raw_input({"t": "é" * 10_000}, None, {})
    assert len(huge.encode()) <= semconv.MAX_RAW_INPUT_BYTES


class _Tensor:
    """A PyTorch-style tensor: ``__array__`` refuses while it needs grad; ``detach().cpu().numpy()`` works."""

    def __init__(self, values: Any) -> None:
        self.values = np.asarray(values)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad")

    def detach(self) -> _Tensor:
        return self

    def cpu(self) -> _Tensor:
        return self

    def numpy(self) -> np.ndarray:
        return self.values


_pd = pytest.importorskip("pandas")
_SINGLE_SHAPES = [  # (result, task, classes) -> labels, values
    (np.str_("benign"), None, None, ["benign"], None),
    (np.array(["benign"]), None, None, ["benign"], None),
    (np.array(["benign"], dtype=object), None, None, ["benign"], None),
    (np.array([True]), None, None, ["true"], None),
    (np.array([1]), None, None, ["1"], None),
    (np.array([[1]]), None, None, ["1"], None),
    (np.array([1.0]), "classification", None, ["1"], None),
    (np.array([2.5]), None, None, None, [2.5]),
    (np.float32(2.5), None, None, None, [2.5]),
    (np.int64(3), "regression", None, None, [3.0]),
    (np.array(7), None, None, ["7"], None),
    (_pd.Series(["benign"]), None, None, ["benign"], None),
    (_pd.Series([4.5]), None, None, None, [4.5]),
    (np.array([[0.1, 0.9]]), None, np.array([3, 7]), ["7"], None),
    ([0.8, 0.2], None, ("no", "yes"), ["no"], None),
    (_Tensor([[0.3, 0.7]]), None, ["a", "b"], ["b"], None),
    (_Tensor(1.25), None, None, None, [1.25]),
    ({"label": np.int64(1), "score": np.float64(0.9)}, None, None, ["1"], None),
    (("yes", np.float32(0.5)), None, None, ["yes"], None),
]


@pytest.mark.parametrize(("result", "task", "classes", "labels", "values"), _SINGLE_SHAPES)
def test_every_single_row_shape(result: Any, task: Any, classes: Any, labels: Any, values: Any) -> None:
    outputs = _outputs.interpret(result, None, task, _outputs.class_names(classes))
    assert outputs.labels == labels
    assert (outputs.values.tolist() if outputs.values is not None else None) == values


_BATCH_SHAPES = [  # a batch of 3 rows
    (np.array(["a", "b", "a"]), None, None, ["a", "b", "a"], None),
    (np.array(["a", None, "b"], dtype=object), None, None, ["a", "", "b"], None),
    (np.array([1, 0, 1], dtype=object), None, None, ["1", "0", "1"], None),
    (np.array([0.5, None, 1.5], dtype=object), None, None, None, [0.5, None, 1.5]),
    (np.array([True, False, True]), None, None, ["true", "false", "true"], None),
    (np.array([3, 7, 3], dtype=np.uint8), None, None, ["3", "7", "3"], None),
    (np.array([1.0, 0.0, 1.0]), "classification", None, ["1", "0", "1"], None),
    (np.array([[1.5], [2.5], [3.5]]), None, None, None, [1.5, 2.5, 3.5]),
    (_pd.Series(["x", "y", "x"]), None, None, ["x", "y", "x"], None),
    (_pd.Series([1.5, 2.5, 3.5]), None, None, None, [1.5, 2.5, 3.5]),
    (_pd.DataFrame({"neg": [0.9, 0.2, 0.6], "pos": [0.1, 0.8, 0.4]}), None, None, ["neg", "pos", "neg"], None),
    (_pd.DataFrame({"y": [1.5, 2.5, 3.5]}), None, None, None, [1.5, 2.5, 3.5]),
    ([1, 2, 1], None, None, ["1", "2", "1"], None),
    ((0.25, 0.5, 0.75), None, None, None, [0.25, 0.5, 0.75]),
    (np.array([[0.2, 0.8], [0.7, 0.3], [0.4, 0.6]]), None, np.array(["ham", "spam"], dtype=object),
     ["spam", "ham", "spam"], None),
    (_Tensor([0.5, 1.5, 2.5]), None, None, None, [0.5, 1.5, 2.5]),
    ([{"label": "a"}, {"label": "b"}, {"label": "a"}], None, None, ["a", "b", "a"], None),
]


@pytest.mark.parametrize(("result", "task", "classes", "labels", "values"), _BATCH_SHAPES)
def test_every_batch_shape(result: Any, task: Any, classes: Any, labels: Any, values: Any) -> None:
    outputs = _outputs.interpret(result, 3, task, _outputs.class_names(classes))
    assert outputs.labels == labels
    got = None if outputs.values is None else [None if np.isnan(v) else v for v in outputs.values.tolist()]
    assert got == values
