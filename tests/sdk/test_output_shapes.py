"""How a call's output is read: labels, values, scores and margins, exactly, for every shape.

Checked through ``interpret`` (the output reader's entry point): single-row calls (``rows=None``)
and batches.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from modelspan.instrumentation._outputs import UnreadableOutput, class_names, describe, interpret, is_model
from modelspan.semconv import MAX_STRING_LENGTH


def _read(result: Any, rows: int | None = None, task: str | None = None,
          classes: list[str] | None = None) -> tuple[Any, Any, Any, Any]:
    out = interpret(result, rows, task, classes)

    def plain(array: Any) -> Any:
        return None if array is None else [None if isinstance(v, float) and math.isnan(v) else v
                                           for v in array.tolist()]

    return out.labels, plain(out.values), plain(out.scores), plain(out.margins)


@pytest.mark.parametrize(("result", "task", "classes", "expected"), [
    ("yes", None, None, (["yes"], None, None, None)),
    (True, None, None, (["true"], None, None, None)),
    (np.bool_(False), None, None, (["false"], None, None, None)),
    (3, None, None, (["3"], None, None, None)),
    (3, "regression", None, (None, [3.0], None, None)),
    (np.int64(2), None, None, (["2"], None, None, None)),
    (2.5, None, None, (None, [2.5], None, None)),
    (2.5, "classification", None, (["2.5"], None, None, None)),
    ([0.2, 0.7, 0.1], None, ["a", "b", "c"], (["b"], None, [0.7], [0.7 - 0.2])),
    ([0.2, 0.7, 0.1], None, ["a", "b"], (["1"], None, [0.7], [0.7 - 0.2])),  # classes do not fit: indexes
    ([[0.6, 0.4]], None, None, (["0"], None, [0.6], [0.6 - 0.4])),
    ([0.25], None, None, (None, [0.25], None, None)),  # one number in a list is a value
    (("spam", 0.9), None, None, (["spam"], None, [0.9], None)),
    ({"label": "cat", "score": 0.8}, None, None, (["cat"], None, [0.8], None)),
    ({"value": 4.0}, None, None, (None, [4.0], None, None)),
    ({"probabilities": [0.1, 0.9], "label": "dog"}, None, ["cat", "dog"], (["dog"], None, [0.9], [0.8])),
    ({"proba": [0.3, 0.7]}, None, None, (["1"], None, [0.7], [0.7 - 0.3])),
])
def test_single_row_outputs(result: Any, task: str | None, classes: list[str] | None,
                            expected: tuple[Any, Any, Any, Any]) -> None:
    labels, values, scores, margins = _read(result, None, task, classes)
    assert (labels, values) == expected[:2]
    assert scores == (None if expected[2] is None else pytest.approx(expected[2]))
    assert margins == (None if expected[3] is None else pytest.approx(expected[3]))


def test_long_labels_are_cut() -> None:
    assert _read("x" * (MAX_STRING_LENGTH + 9))[0] == ["x" * MAX_STRING_LENGTH]
    assert _read({"label": "y" * (MAX_STRING_LENGTH + 1)})[0] == ["y" * MAX_STRING_LENGTH]


def test_probability_rows_with_non_finite_values() -> None:
    labels, _, scores, margins = _read(np.array([[np.nan, 0.4, 0.6], [np.inf, 0.1, 0.2], [np.nan, np.nan, np.nan]]),
                                       rows=3, classes=["a", "b", "c"])
    assert labels == ["c", "c", "a"] and scores == [0.6, 0.2, None]
    assert margins is not None and margins[:2] == pytest.approx([0.2, 0.1])


@pytest.mark.parametrize(("result", "rows", "task", "expected"), [
    (["a", "b"], 2, None, (["a", "b"], None, None, None)),
    ([1, 0, 1], 3, None, (["1", "0", "1"], None, None, None)),
    ([1, 0, 1], 3, "regression", (None, [1.0, 0.0, 1.0], None, None)),  # as _scalar(3, "regression") does
    ([1.5, 2.5], 2, None, (None, [1.5, 2.5], None, None)),
    ([1.5, 2.5], 2, "classification", (["1.5", "2.5"], None, None, None)),
    ([[1.5], [2.5]], 2, None, (None, [1.5, 2.5], None, None)),
    ([[0.9, 0.1], [0.3, 0.7]], 2, None, (["0", "1"], None, [0.9, 0.7], [0.8, 0.4])),
    ([{"label": "a", "score": 0.9}, {"label": "b"}], 2, None, (["a", "b"], None, [0.9, None], None)),
    ([{"value": 1.0}, {"value": 2.0}], 2, None, (None, [1.0, 2.0], None, None)),
    (0.5, 1, None, (None, [0.5], None, None)),  # a batch of one may answer with a scalar
    ("a", 1, None, (["a"], None, None, None)),
    (None, 2, None, (None, None, None, None)),
    ([], 0, None, (None, None, None, None)),
])
def test_batch_outputs(result: Any, rows: int, task: str | None, expected: tuple[Any, Any, Any, Any]) -> None:
    labels, values, scores, margins = _read(result, rows, task)
    assert (labels, values) == expected[:2]
    assert scores == (None if expected[2] is None else expected[2] if None in expected[2]
                      else pytest.approx(expected[2]))
    assert margins == (None if expected[3] is None else pytest.approx(expected[3]))


@pytest.mark.parametrize(("result", "rows", "reason"), [
    ([], None, "it is empty"),
    ([[1.0, 2.0], [3.0, 4.0]], None, "one row gave more than one row of outputs"),
    (["a", "b"], None, "not probabilities"),
    (("spam", "high"), None, "not probabilities"),
    ({"label": None, "score": "x"}, None, "without label/score/value/probabilities"),
    (object(), None, "neither a label nor a value"),
    (0.5, 2, "one output for a batch of 2 rows"),
    ([[1, [2]], [3]], 2, "ragged or mixed sequence"),
    (np.zeros((2, 2, 2)), 2, "3 dimensions per batch"),
])
def test_outputs_that_cannot_be_read_are_refused_with_the_reason(result: Any, rows: int | None, reason: str) -> None:
    # Refused, not guessed: the monitor counts the call as an unreadable output rather than
    # recording a made-up label (the reader's contract since the real-inputs work).
    with pytest.raises(UnreadableOutput, match=re.escape(reason)):
        interpret(result, rows, None, None)


def test_the_models_own_label_beside_its_probabilities_is_kept() -> None:
    """A model that thresholds its probabilities itself (here below 0.5) says "cat" for [0.1, 0.9]: the
    label is its decision, the score and margin still the probabilities'."""
    assert _read({"probabilities": [0.1, 0.9], "label": "cat"}, classes=["cat", "dog"]) == (
        ["cat"], None, [0.9], [pytest.approx(0.8)])
    assert _read({"proba": [0.3, 0.7]}) == (["1"], None, [0.7], [pytest.approx(0.4)])  # no label: the argmax


def test_a_batch_answered_with_no_columns_has_no_outputs() -> None:
    """An (n, 0) matrix: nothing to read, not a crash in argmax."""
    assert _read(np.zeros((3, 0)), 3) == (None, None, None, None)


def test_path_keys_are_the_labels_or_one_star_per_row() -> None:
    """Module-path frequencies are counted per output key: a batch of values has no label per row."""
    assert interpret([1.5, 2.5, 3.5], 3, "regression", None).keys() == ["*", "*", "*"]
    assert interpret(["a", "b"], 2, None, None).keys() == ["a", "b"]
    assert interpret(None, None, None, None).keys() == ["*"]


def test_object_arrays_of_numbers_are_probabilities_and_numeric_strings_are_not() -> None:
    assert _read(np.array([[0.9, 0.1], [0.2, 0.8]], dtype=object), 2) == (
        ["0", "1"], None, [0.9, 0.8], [pytest.approx(0.8), pytest.approx(0.6)])
    with pytest.raises(UnreadableOutput, match="not probabilities"):
        interpret(np.array([["0.9", "0.1"], ["0.2", "0.8"]]), 2, None, None)


def test_describe_names_dtype_and_shape_only_where_both_exist() -> None:
    pandas = pytest.importorskip("pandas")
    assert describe(pandas.DataFrame({"a": [1, 2]})) == "pandas.DataFrame"  # a shape, no single dtype
    assert describe(np.zeros((2, 3))) == "numpy.ndarray float64 (2, 3)"
    assert describe([1, 2]) == "builtins.list of 2"


def test_only_something_with_classes_or_predict_is_a_model() -> None:
    class Fitted:
        classes_ = ["a", "b"]

    assert is_model(Fitted()) and not is_model(object()) and not is_model(["a", "b"]) and not is_model("ab")


def test_per_row_outputs_are_the_labels_else_the_values() -> None:
    assert interpret(["a", "b"], 2, None, None).per_row() == ["a", "b"]
    assert interpret([1.5, 2.5], 2, "regression", None).per_row() == [1.5, 2.5]
    assert interpret(None, None, None, None).per_row() is None


def test_class_names_of_a_model_come_from_its_classes_and_an_unfitted_one_has_none() -> None:
    class Fitted:
        classes_ = np.array(["no", "yes"])

    class Unfitted:
        def predict(self, rows: Any) -> Any:
            return rows

    assert class_names(Fitted()) == ["no", "yes"] and class_names(Unfitted()) is None
    assert class_names(("a", "b")) == ["a", "b"]


def test_a_pandas_series_of_labels_is_read_like_an_array() -> None:
    pandas = pytest.importorskip("pandas")
    assert _read(pandas.Series(["a", "b"]), 2)[0] == ["a", "b"]
    assert _read(pandas.Series([0.9, 0.1]), None, classes=["x", "y"])[:3] == (["x"], None, [0.9])


def test_the_kind_of_an_unreadable_output_counts_its_dimensions() -> None:
    """The kind groups refusals in the counters and logs: a shape's sizes become a dimension count."""
    assert UnreadableOutput("numpy.ndarray float64 (5,)", "why").kind == "numpy.ndarray float64 1-D"
    assert UnreadableOutput("numpy.ndarray float64 (2, 3)", "why").kind == "numpy.ndarray float64 2-D"
    assert UnreadableOutput("builtins.list of 3", "why").kind == "builtins.list"


def test_a_dict_without_known_keys_names_its_first_five_keys() -> None:
    with pytest.raises(UnreadableOutput, match=re.escape("keys (a, b, c, d, e)")):
        interpret({k: "?" for k in "gfedcba"}, None, None, None)
