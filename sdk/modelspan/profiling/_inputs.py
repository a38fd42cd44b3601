"""Understanding a model's input without glue code: one row or a batch of columns.

Accepted shapes: a dict (one row), a list of dicts (batch), a numpy 1-D row or 2-D batch, a list
of numbers (one row) or of lists (batch), a pandas ``Series`` (one row) or ``DataFrame`` (batch)
when pandas is installed (detected by type, never imported here), or a lone scalar (one feature
named after the argument). Anything else is recorded with its batch size only.

Feature names come from the input (dict keys, DataFrame columns), else from ``features=`` of the
decorator, else from the baseline, else ``f0, f1, ...``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelspan import semconv
from modelspan.profiling._profile import safe_name

_SCALARS = (str, int, float, bool, np.generic)


@dataclass(slots=True)
class Row:
    """One row: feature name -> raw value (bounded to ``MAX_FEATURES`` names; a key that is not
    a string is turned into one where it is used)."""

    values: dict[Any, Any]


@dataclass
class Batch:
    """A batch: feature name -> column (numpy array or list), plus rows that made no sense."""

    size: int
    columns: dict[str, Any] = field(default_factory=dict)
    bad_rows: int = 0
    redacted: bool = False
    """Redaction went over the columns (when it dropped them all, the rows are still rows)."""


def default_names(count: int, names: Sequence[str] | None, limit: int | None = None) -> list[str]:
    """Feature names for ``count`` positional values (only the first ``limit`` are built, so a
    100,000-wide row costs ``MAX_FEATURES`` names, not 100,000).

    >>> default_names(3, None)
    ['f0', 'f1', 'f2']
    >>> default_names(2, ["age", "income"])
    ['age', 'income']
    >>> default_names(100_000, None, 2)
    ['f0', 'f1']
    """
    wanted = count if limit is None else min(count, limit)
    if names is not None and len(names) == count:
        return [str(names[i]) for i in range(wanted)]
    return [f"f{i}" for i in range(wanted)]


def normalise(value: Any, names: Sequence[str] | None, arg_name: str) -> Row | Batch | None:
    """Turn a call's input into a :class:`Row` or :class:`Batch`; ``None`` if not understood.

    >>> normalise({"age": 3}, None, "x")
    Row(values={'age': 3})
    >>> normalise([{"age": 3}, {"age": 4}], None, "x").size
    2
    """
    if type(value) is dict and len(value) <= semconv.MAX_FEATURES:
        return Row(value)  # keys that are not strings are named by row_attributes
    if isinstance(value, Mapping):
        return Row(_bounded_row(value))
    if isinstance(value, np.ndarray):
        return _from_array(value, names, arg_name)
    if _is_pandas(value):
        return _from_pandas(value, names)
    if isinstance(value, (list, tuple)):
        return _from_sequence(value, names)
    if isinstance(value, _SCALARS) or value is None:
        return Row({arg_name: value})
    return None


def _bounded_row(value: Mapping[Any, Any]) -> dict[Any, Any]:
    row: dict[Any, Any] = {}
    for key, item in value.items():
        if len(row) >= semconv.MAX_FEATURES:
            break
        row[key] = item
    return row


def _from_array(array: np.ndarray, names: Sequence[str] | None, arg_name: str) -> Row | Batch:
    if array.ndim == 0:
        return Row({arg_name: array.item()})
    if array.ndim == 1:
        count = min(array.shape[0], semconv.MAX_FEATURES)
        return Row(dict(zip(default_names(array.shape[0], names, count), array[:count].tolist(), strict=True)))
    if array.ndim == 2:
        width = min(array.shape[1], semconv.MAX_FEATURES)
        labels = default_names(array.shape[1], names, width)
        return Batch(array.shape[0], {labels[j]: array[:, j] for j in range(width)})
    return Batch(array.shape[0])  # images, sequences: only the batch size is meaningful


def _from_sequence(items: Sequence[Any], names: Sequence[str] | None) -> Row | Batch:
    if not items:
        return Batch(0)
    first = items[0]
    if isinstance(first, Mapping):
        return _from_dicts(items)
    if isinstance(first, (list, tuple, np.ndarray)):
        return _from_lists(items, names)
    count = min(len(items), semconv.MAX_FEATURES)
    return Row(dict(zip(default_names(len(items), names, count), items[:count], strict=True)))


def _from_dicts(rows: Sequence[Any]) -> Batch:
    columns: dict[str, list[Any]] = {}
    bad = 0
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            bad += 1
            continue
        for key, item in row.items():
            name = key if type(key) is str else safe_name(key, semconv.MAX_STRING_LENGTH)
            column = columns.get(name)
            if column is None:
                if len(columns) >= semconv.MAX_FEATURES:
                    continue
                # Long names are cut with a hash suffix: distinct names stay distinct columns.
                column = columns.setdefault(semconv.bounded_name(name), [])
            # Rows missing a feature are nulls, padded in as they are found.
            column.extend([None] * (index - len(column)))
            column.append(item)
    for column in columns.values():
        column.extend([None] * (len(rows) - len(column)))
    return Batch(len(rows), dict(columns), bad)


def _from_lists(rows: Sequence[Any], names: Sequence[str] | None) -> Batch:
    bad = 0
    width = 0
    for row in rows:
        if _is_row(row):
            width = max(width, len(row))
        else:
            bad += 1
    width = min(width, semconv.MAX_FEATURES)
    labels = default_names(width, names)
    columns: dict[str, list[Any]] = {label: [] for label in labels}
    for row in rows:
        usable = _is_row(row)
        for j, label in enumerate(labels):
            columns[label].append(row[j] if usable and j < len(row) else None)
    return Batch(len(rows), dict(columns), bad)


def _is_row(row: object) -> bool:
    if isinstance(row, np.ndarray):
        return row.ndim == 1
    return isinstance(row, (list, tuple))


def _is_pandas(value: object) -> bool:
    return type(value).__module__.partition(".")[0] == "pandas"


def _from_pandas(value: Any, names: Sequence[str] | None) -> Row | Batch | None:
    kind = type(value).__name__
    if kind == "Series":
        return Row(value.iloc[: semconv.MAX_FEATURES].to_dict())  # a 100,000-wide row: 200 cells
    if kind == "DataFrame":
        labels = [str(c) for c in value.columns[: semconv.MAX_FEATURES]]
        columns = {
            label: value.iloc[:, j].to_numpy() for j, label in enumerate(labels)
        }
        return Batch(len(value), columns)
    return None
