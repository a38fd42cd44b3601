"""Building one feature's profile: quantile bin edges, category and token counts, a sample.

Shared by ``Baseline.from_data`` and the capture mode. Bin semantics everywhere (profiles, span
summaries, Elasticsearch ``range`` aggregations): with edges ``e[0] < ... < e[k-1]`` bin 0 is
``x < e[0]``, bin ``i`` is ``e[i-1] <= x < e[i]`` and bin ``k`` is ``x >= e[k-1]``.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelspan import semconv

MAX_VOCABULARY = 10_000
MAX_TEXT_VOCABULARY = 5_000
TEXT_MIN_TOKENS = 3.0  # mean tokens per value above which a string column is text
_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of a text value.

    >>> tokens("Hello, World!")
    ['hello', 'world']
    """
    return _TOKEN.findall(text.lower())


def safe_name(key: object, limit: int = 256) -> str:
    """A feature name from any key, even one whose ``__str__`` fails.

    >>> safe_name(3)
    '3'
    """
    if type(key) is str:
        return key[:limit]
    try:
        return str(key)[:limit]
    except Exception:  # a hostile key still gets a name
        return f"<{type(key).__name__}>"


def bin_counts(values: np.ndarray, edges: Sequence[float] | np.ndarray) -> np.ndarray:
    """Counts of finite ``values`` per bin of ``edges`` (``len(edges) + 1`` bins).

    >>> bin_counts(np.array([0.0, 1.0, 1.5, 2.0, 9.0]), [1.0, 2.0]).tolist()
    [1, 2, 2]
    """
    edges_array = np.asarray(edges, dtype=np.float64)
    # side="right": a value equal to e[i] belongs to bin i + 1 (ES range "from" is inclusive).
    index = np.searchsorted(edges_array, values, side="right")
    return np.bincount(index, minlength=edges_array.size + 1)


def bin_index(value: float, edges: Sequence[float]) -> int:
    """The bin of one finite value, by the rule of ``bin_counts``: bin ``i`` holds ``e[i-1] <= x < e[i]``.

    >>> [bin_index(x, [1.0, 2.0]) for x in (0.0, 1.0, 1.5, 2.0, 9.0)]
    [0, 1, 1, 2, 2]
    """
    return bisect.bisect_right(edges, value)


def quantile_edges(values: np.ndarray, bins: int = 10) -> list[float]:
    """Strictly increasing bin edges at the quantiles of ``values``; robust to ties.

    A constant column gets edges ``[c, next float after c]`` so that it has a bin of its own;
    a value holding more than one bin's share of the data (a point mass) gets a bin of its own.

    >>> quantile_edges(np.array([5.0, 5.0, 5.0]))
    [5.0, 5.000000000000001]
    >>> quantile_edges(np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0]), bins=4)
    [0.0, 5e-324, 0.5, 2.25]
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return []
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        above = _above(low)
        # at the float limit there is nothing above: put the edge just below instead
        return [low, above] if above is not None else [float(np.nextafter(low, -math.inf)), low]
    with np.errstate(all="ignore"):  # interpolating between values near the float limit overflows
        quantiles = np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    edges = set(quantiles[np.isfinite(quantiles)].tolist())
    uniques, counts = np.unique(finite, return_counts=True)
    for value in uniques[counts > finite.size / bins].tolist():
        edges.add(value)
        above = _above(value)
        if above is not None:
            edges.add(above)
    return sorted(edges)


def _above(value: float) -> float | None:
    """The next float above ``value``, or ``None`` at the largest finite float (JSON has no inf)."""
    with np.errstate(over="ignore"):
        above = float(np.nextafter(value, math.inf))
    return above if math.isfinite(above) else None


def infer_kind(column: Sequence[Any] | np.ndarray) -> str:
    """``"numeric"``, ``"categorical"`` or ``"text"`` from the values themselves.

    >>> infer_kind([1, 2.5, None])
    'numeric'
    >>> infer_kind(["red", "blue"])
    'categorical'
    >>> infer_kind([1.0, "oops", 2.0])
    'numeric'
    """
    if isinstance(column, np.ndarray) and column.dtype.kind in "biuf":
        return "numeric"
    present = [value for value in column if not is_null(value)]
    strings = [value for value in present if isinstance(value, str)]
    numbers = sum(1 for value in present if is_number(value))
    if numbers and numbers >= len(strings):
        return "numeric"  # mostly numbers: the odd string is a type change, not a category
    if strings and sum(len(tokens(s)) for s in strings) / len(strings) >= TEXT_MIN_TOKENS:
        return "text"
    return "categorical"


def is_null(value: object) -> bool:
    """None or a pandas missing-value marker (not NaN: NaN is a data-quality finding)."""
    return value is None or type(value).__name__ in ("NAType", "NaTType")


def is_number(value: object) -> bool:
    """A real number (bools and numpy scalars included), not a string or container."""
    return isinstance(value, (int, float, np.integer, np.floating, np.bool_))


def to_float(value: Any) -> float:
    """``float(value)``, with integers too large for a float becoming +-inf instead of raising.

    >>> to_float(10**400)
    inf
    """
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def as_floats(column: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, int, int]:
    """Numeric values of a column as float64, plus (null count, wrong-type count).

    >>> values, nulls, wrong = as_floats([1, None, "x", 2.5])
    >>> values.tolist(), nulls, wrong
    ([1.0, 2.5], 1, 1)
    """
    if isinstance(column, np.ndarray) and column.dtype.kind in "biuf":
        return column.astype(np.float64, copy=False), 0, 0
    numbers: list[float] = []
    nulls = wrong = 0
    for value in column:
        if is_number(value):
            numbers.append(to_float(value))
        elif is_null(value):
            nulls += 1
        else:
            wrong += 1
    return np.asarray(numbers, dtype=np.float64), nulls, wrong


def as_strings(column: Sequence[Any] | np.ndarray) -> tuple[list[str], int, int]:
    """Values of a categorical/text column in their canonical text form (``semconv.category_value``:
    ``3``, ``3.0`` and ``"3"`` are all ``"3"``), plus (null count, wrong-type count).

    >>> as_strings([3, 3.0, "3", True, None, float("nan"), [1]])
    (['3', '3', '3', 'true'], 2, 1)
    """
    strings: list[str] = []
    nulls = wrong = 0
    canonical = semconv.category_value
    for value in column:
        if type(value) is str:
            strings.append(value)
        elif isinstance(value, (str, bool, int, float, np.generic)) or is_null(value):
            text = canonical(value)
            if text is None:
                nulls += 1
            else:
                strings.append(text)
        else:
            wrong += 1
    return strings, nulls, wrong


def top_categories(counter: Counter[str], limit: int) -> list[tuple[str, int]]:
    """Most frequent categories, ties broken by name so profiles are reproducible."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]


def sample(values: Sequence[Any], size: int, seed: int = 0) -> list[Any]:
    """A uniform sample without replacement of at most ``size`` values (reproducible)."""
    if len(values) <= size:
        return list(values)
    picked = np.random.default_rng(seed).choice(len(values), size=size, replace=False)
    return [values[i] for i in sorted(picked.tolist())]


def text_vocabulary(strings: Sequence[str]) -> list[str]:
    """The ``MAX_TEXT_VOCABULARY`` most frequent tokens."""
    counter: Counter[str] = Counter()
    for text in strings:
        counter.update(tokens(text))
    return [token for token, _ in top_categories(counter, MAX_TEXT_VOCABULARY)]

