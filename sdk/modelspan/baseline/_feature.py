"""How one column of values becomes a :class:`~modelspan.baseline.FeatureProfile`: the fields of the
profile of each kind (numeric, categorical, text), and which kind a model's output is.

``modelspan.baseline`` owns the ``FeatureProfile`` class (so that pickles name it there, as they
always have); these functions return the profile's fields, not the profile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from modelspan import semconv
from modelspan.profiling import _profile

Kind = Literal["numeric", "categorical", "text"]
SAMPLE_SIZE = 1000


def profile_fields(values: Sequence[Any] | np.ndarray, kind: str, bins: int, sample_size: int) -> dict[str, Any]:
    """The fields (but ``name``) of the profile of ``values`` as ``kind``; a kind other than numeric
    or text is profiled as categorical."""
    if kind == "numeric":
        floats, nulls, wrong = _profile.as_floats(values)
        fields = numeric_fields(floats, bins)
        fields["null_count"] = nulls + wrong + int(np.count_nonzero(~np.isfinite(floats)))
        fields["sample"] = _profile.sample(floats[np.isfinite(floats)].tolist(), sample_size)
        return fields
    strings, nulls, wrong = _profile.as_strings(values)
    if kind == "text":
        lengths = np.asarray([len(text) for text in strings], dtype=np.float64)
        fields = numeric_fields(lengths, bins)
        fields["kind"] = "text"
        fields["vocabulary"] = _profile.text_vocabulary(strings)
    else:
        fields = categorical_fields(strings)
    fields["null_count"] = nulls + wrong
    fields["sample"] = _profile.sample(strings, sample_size)
    return fields


def numeric_fields(values: np.ndarray, bins: int) -> dict[str, Any]:
    """Count, quantile bins and moments of the finite ``values``."""
    finite = values[np.isfinite(values)]
    edges = _profile.quantile_edges(finite, bins)
    fields: dict[str, Any] = {"kind": "numeric", "count": int(finite.size), "edges": edges,
                              "bin_counts": _profile.bin_counts(finite, edges).tolist()}
    if finite.size:
        fields["min"], fields["max"] = float(finite.min()), float(finite.max())
        with np.errstate(all="ignore"):  # values near the float limit overflow the mean
            mean, std = float(finite.mean()), float(finite.std())
        # JSON has no inf/NaN: an overflowing moment is unknown rather than wrong.
        fields["mean"] = mean if np.isfinite(mean) else None
        fields["std"] = std if np.isfinite(std) else None
    return fields


def categorical_fields(strings: list[str]) -> dict[str, Any]:
    """The top categories with their counts, the counted remainder and the vocabulary."""
    counter = Counter(strings)
    top = _profile.top_categories(counter, semconv.MAX_BASELINE_CATEGORIES)
    vocabulary = _profile.top_categories(counter, _profile.MAX_VOCABULARY)
    return {
        "kind": "categorical",
        "count": len(strings),
        "categories": [category for category, _ in top],
        "category_counts": [count for _, count in top],
        "other_count": len(strings) - sum(count for _, count in top),
        "vocabulary": sorted(category for category, _ in vocabulary),
        "levels": len(counter),
    }


def output_kind(values: Any) -> Kind:
    """Float outputs are values/scores; integers, booleans and strings are class labels, as the
    monitor reads them."""
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    present = [v for v in items if not _profile.is_null(v)]
    if present and all(isinstance(v, float) for v in present):
        return "numeric"
    return "categorical"
