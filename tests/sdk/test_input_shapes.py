"""How a call's input becomes a row or a batch: every accepted shape, at the feature-count bound.

Checked through ``normalise`` (the input reader's entry point), exactly: names, values, batch size,
bad rows, padding of missing features.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest

from modelspan.profiling._inputs import Batch, Row, default_names, normalise
from modelspan.semconv import MAX_FEATURES, MAX_NAME_LENGTH, MAX_STRING_LENGTH, bounded_name


def _columns(batch: Row | Batch | None) -> dict[str, list[object]]:
    assert isinstance(batch, Batch)
    return {name: list(np.asarray(column, dtype=object)) for name, column in batch.columns.items()}


@pytest.mark.parametrize("width", [MAX_FEATURES - 1, MAX_FEATURES, MAX_FEATURES + 1])
def test_rows_keep_at_most_max_features(width: int) -> None:
    kept = min(width, MAX_FEATURES)
    names = [f"k{i}" for i in range(width)]
    row = normalise(dict.fromkeys(names, 1.0), None, "x")
    assert isinstance(row, Row) and list(row.values) == names[:kept]
    mapping = normalise(OrderedDict.fromkeys(names, 2.0), None, "x")
    assert isinstance(mapping, Row) and list(mapping.values) == names[:kept]
    array = normalise(np.arange(width, dtype=float), None, "x")
    assert isinstance(array, Row) and list(array.values) == default_names(width, None)[:kept]
    assert list(array.values.values()) == list(range(kept))
    numbers = normalise(list(range(width)), None, "x")
    assert isinstance(numbers, Row) and len(numbers.values) == kept
    batch = normalise(np.ones((3, width)), None, "x")
    assert isinstance(batch, Batch) and batch.size == 3 and len(batch.columns) == kept
    frame = normalise(pd.DataFrame(np.ones((2, width)), columns=names), None, "x")
    assert isinstance(frame, Batch) and list(frame.columns) == names[:kept] and frame.size == 2
    series = normalise(pd.Series(np.ones(width), index=names), None, "x")
    assert isinstance(series, Row) and list(series.values) == names[:kept]
    rows = normalise([dict.fromkeys(names, 1.0), dict.fromkeys(names, 2.0)], None, "x")
    assert isinstance(rows, Batch) and list(rows.columns) == names[:kept]


def test_names_come_from_the_decorator_only_when_they_fit() -> None:
    assert default_names(2, ["a", "b"]) == ["a", "b"]
    assert default_names(2, ["a"]) == ["f0", "f1"] and default_names(1, ["a", "b"]) == ["f0"]
    row = normalise([1.0, 2.0], ["a", "b"], "x")
    assert isinstance(row, Row) and row.values == {"a": 1.0, "b": 2.0}
    assert _columns(normalise(np.array([[1.0, 2.0], [3.0, 4.0]]), ["a", "b"], "x")) == {"a": [1.0, 3.0],
                                                                                         "b": [2.0, 4.0]}


def test_batches_of_dicts_pad_missing_features_and_count_bad_rows() -> None:
    batch = normalise([{"a": 1}, {"b": 2}, "junk", {"a": 3, 7: "seven"}], None, "x")
    assert isinstance(batch, Batch) and batch.size == 4 and batch.bad_rows == 1
    assert _columns(batch) == {"a": [1, None, None, 3], "b": [None, 2, None, None], "7": [None, None, None, "seven"]}
    long_key = "k" * (MAX_STRING_LENGTH + 5)
    # a long name is cut and given a hash suffix (distinct long names stay distinct)
    assert list(_columns(normalise([{long_key: 1}], None, "x"))) == [bounded_name(long_key)]
    assert len(bounded_name(long_key)) <= MAX_NAME_LENGTH < len(long_key)


def test_batches_of_lists_take_the_widest_row_and_count_bad_rows() -> None:
    batch = normalise([[1, 2], (3,), np.array([4, 5, 6]), "bad", np.ones((2, 2))], None, "x")
    assert isinstance(batch, Batch) and batch.size == 5 and batch.bad_rows == 2
    assert _columns(batch) == {"f0": [1, 3, 4, None, None], "f1": [2, None, 5, None, None],
                               "f2": [None, None, 6, None, None]}


def test_scalars_arrays_of_other_ranks_and_unknown_objects() -> None:
    assert normalise(3.5, None, "temp") == Row({"temp": 3.5})
    assert normalise(None, None, "temp") == Row({"temp": None})
    assert normalise(np.float64(2.0), None, "temp") == Row({"temp": 2.0})
    assert normalise(np.array(7.0), None, "temp") == Row({"temp": 7.0})
    images = normalise(np.zeros((4, 8, 8)), None, "x")
    assert isinstance(images, Batch) and images.size == 4 and images.columns == {}
    assert normalise([], None, "x") == Batch(0)
    assert normalise(object(), None, "x") is None
    assert normalise(pd.Index([1, 2]), None, "x") is None  # pandas, but neither a Series nor a DataFrame


def test_bad_rows_are_counted_only_where_there_are_some() -> None:
    for good in (np.ones((3, 2)), pd.DataFrame({"a": [1, 2]}), [[1, 2], [3, 4]], [{"a": 1}], np.zeros((2, 3, 3))):
        batch = normalise(good, None, "x")
        assert isinstance(batch, Batch) and batch.bad_rows == 0
    nothing_usable = normalise([[], "junk"], None, "x")
    assert isinstance(nothing_usable, Batch) and nothing_usable.columns == {} and nothing_usable.bad_rows == 1
