"""Mergeable batch summaries: ``ml.batch.<feature>.<stat>`` over the baseline's bins.

Per numeric feature: count, null_count, nan_count, sum, sum_sq, min, max and, with a baseline,
counts per baseline bin and the number of values outside the baseline's range. Per categorical
feature: counts per baseline category (``cat.<i>``), ``cat.other``, ``unseen_count`` and the
batch's own top categories. Text: length statistics and bins, out-of-vocabulary token rate.
Counts and sums add up across spans, so the analyzer can rebuild any window's histogram.

Numeric columns are summarised with whole-column numpy operations (no Python loop over rows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from modelspan import semconv
from modelspan.instrumentation import _redaction
from modelspan.instrumentation._checks import Quality
from modelspan.profiling import _profile
from modelspan.profiling._inputs import Batch

if TYPE_CHECKING:
    from modelspan.baseline import Baseline, FeatureProfile

stat = semconv.batch_stat


def batch_attributes(
    batch: Batch,
    baseline: Baseline | None,
    policy: Mapping[str, str],
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    """Summaries of every feature of ``batch`` onto ``attributes``; failures into ``quality``."""
    with np.errstate(all="ignore"):  # overflow/NaN in user data is counted, not warned about
        _batch_attributes(batch, baseline, policy, attributes, quality)


def _batch_attributes(
    batch: Batch,
    baseline: Baseline | None,
    policy: Mapping[str, str],
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    if batch.bad_rows:
        quality.add(semconv.CHECK_TYPE_CHANGE, "_row", batch.bad_rows)
    profiles = baseline.features if baseline is not None else {}
    for name, column in batch.columns.items():
        action = policy.get(name) if policy else None
        if action == "drop":
            continue
        try:
            _column(name, column, profiles.get(name), action, attributes, quality)
        except Exception:  # a value whose __float__/__str__ raises: one type-change finding
            quality.add(semconv.CHECK_TYPE_CHANGE, name)
    if profiles and batch.size:
        for name in profiles.keys() - batch.columns.keys():
            attributes[stat(name, semconv.STAT_NULL_COUNT)] = batch.size
            quality.add(semconv.CHECK_NULL, name, batch.size)


def _column(
    name: str,
    column: Any,
    profile: FeatureProfile | None,
    action: str | None,
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    if action == "hash":
        # Hashed by the monitor before anything else saw the input (hashing is idempotent).
        hashed = [str(_redaction.hash_value(value)) for value in column if not _profile.is_null(value)]
        nulls = len(column) - len(hashed)
        categorical_summary(name, hashed, None, attributes, quality, nulls, 0)
        return
    kind = profile.kind if profile is not None else _profile.infer_kind(column)
    if kind == "numeric":
        numeric_summary(name, column, profile, attributes, quality)
    elif kind == "text":
        text_summary(name, column, profile, attributes, quality)
    else:
        strings, nulls, wrong = _profile.as_strings(column)
        categorical_summary(name, strings, profile, attributes, quality, nulls, wrong)


def numeric_summary(
    name: str,
    column: Any,
    profile: FeatureProfile | None,
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    """count, nulls, NaN/inf, sum, sum of squares, min, max, baseline bins and range.

    One sort per column gives everything else by binary search: the finite values are the run
    between the infinities and the NaNs (sorted last), min/max are its ends, and each bin count
    and the out-of-range count are differences of ``searchsorted`` positions of the edges. That
    is the same work as ``np.histogram`` over explicit edges, which sorts too.
    """
    values, nulls, wrong = _profile.as_floats(column)
    ordered = np.sort(values)
    # NaN sorts after +inf: finite values are those after the last -inf and before the first +inf.
    low_end = int(np.searchsorted(ordered, -np.inf, side="right"))
    high_end = int(np.searchsorted(ordered, np.inf, side="left"))
    finite = ordered[low_end:high_end]
    nan = values.size - finite.size
    attributes[stat(name, semconv.STAT_COUNT)] = int(finite.size)
    attributes[stat(name, semconv.STAT_NULL_COUNT)] = nulls
    attributes[stat(name, semconv.STAT_NAN_COUNT)] = nan
    attributes[stat(name, semconv.STAT_TYPE_CHANGE_COUNT)] = wrong
    quality.add(semconv.CHECK_NULL, name, nulls)
    quality.add(semconv.CHECK_NAN, name, nan)
    quality.add(semconv.CHECK_TYPE_CHANGE, name, wrong)
    if finite.size == 0:
        return
    with np.errstate(all="ignore"):  # sums of huge values overflow to inf; counted below
        total, total_sq = float(finite.sum()), float(np.dot(finite, finite))
    if np.isfinite(total) and np.isfinite(total_sq):
        attributes[stat(name, semconv.STAT_SUM)] = total
        attributes[stat(name, semconv.STAT_SUM_SQ)] = total_sq
    attributes[stat(name, semconv.STAT_MIN)] = float(finite[0])
    attributes[stat(name, semconv.STAT_MAX)] = float(finite[-1])
    if profile is None or profile.kind != "numeric":
        return
    if profile.edges:
        # Bin i holds e[i-1] <= x < e[i]: positions of the edges with side="left" bound it.
        cuts = np.searchsorted(finite, profile.edges_array, side="left")
        counts = np.diff(cuts, prepend=0, append=finite.size)
        for index, count in enumerate(counts.tolist()):
            attributes[semconv.batch_bin(name, index)] = count
    if profile.min is not None and profile.max is not None:
        below = int(np.searchsorted(finite, profile.min, side="left"))
        above = finite.size - int(np.searchsorted(finite, profile.max, side="right"))
        attributes[stat(name, semconv.STAT_OUT_OF_RANGE)] = below + above
        quality.add(semconv.CHECK_OUT_OF_RANGE, name, below + above)


def categorical_summary(
    name: str,
    strings: list[str],
    profile: FeatureProfile | None,
    attributes: dict[str, Any],
    quality: Quality,
    nulls: int,
    wrong: int,
) -> None:
    """Counts per baseline category, other, unseen, and the batch's top categories."""
    counter = Counter(strings)
    attributes[stat(name, semconv.STAT_COUNT)] = len(strings)
    attributes[stat(name, semconv.STAT_NULL_COUNT)] = nulls
    attributes[stat(name, semconv.STAT_TYPE_CHANGE_COUNT)] = wrong
    quality.add(semconv.CHECK_NULL, name, nulls)
    quality.add(semconv.CHECK_TYPE_CHANGE, name, wrong)
    if profile is not None and profile.kind == "categorical":
        index = profile.category_index
        for i, category in enumerate(profile.categories):
            attributes[semconv.batch_category(name, i)] = counter.get(category, 0)
        unseen = other = 0
        for category, count in counter.items():
            slot = category_slot(profile, category, index)
            if slot == UNSEEN:
                unseen += count
            elif slot == OTHER:
                other += count
        attributes[stat(name, semconv.STAT_OTHER_COUNT)] = other
        attributes[stat(name, semconv.STAT_UNSEEN_COUNT)] = unseen
        quality.add(semconv.CHECK_UNSEEN_CATEGORY, name, unseen)
    top = _profile.top_categories(counter, semconv.MAX_TOP_CATEGORIES)
    if top:
        attributes[stat(name, semconv.STAT_TOP_VALUES)] = [
            category[: semconv.MAX_STRING_LENGTH] for category, _ in top
        ]
        attributes[stat(name, semconv.STAT_TOP_COUNTS)] = [count for _, count in top]


OTHER = -1
"""``category_slot``: a category the baseline knows beyond its listed top-k (or an incomplete vocabulary's tail)."""
UNSEEN = -2
"""``category_slot``: a category the baseline never saw."""


def category_slot(profile: FeatureProfile, category: str, index: Mapping[str, int] | None = None) -> int:
    """Where a category is counted against a categorical baseline: its index, ``OTHER`` or ``UNSEEN``.

    The one rule for batch summaries and per-feature profiles (``_feature_profiles``).
    """
    position = (profile.category_index if index is None else index).get(category)
    if position is not None:
        return position
    return UNSEEN if profile.is_unseen(category) else OTHER


def text_summary(
    name: str,
    column: Any,
    profile: FeatureProfile | None,
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    """Length statistics (and bins over the baseline's length edges), OOV token rate."""
    strings, nulls, wrong = _profile.as_strings(column)
    lengths = np.asarray([len(text) for text in strings], dtype=np.float64)
    numeric_summary(name, lengths, None, attributes, quality)
    attributes[stat(name, semconv.STAT_NULL_COUNT)] = nulls
    attributes[stat(name, semconv.STAT_TYPE_CHANGE_COUNT)] = wrong
    quality.add(semconv.CHECK_NULL, name, nulls)
    quality.add(semconv.CHECK_TYPE_CHANGE, name, wrong)
    if lengths.size:
        attributes[stat(name, semconv.STAT_LENGTH_MEAN)] = float(lengths.mean())
    if profile is None:
        return
    if profile.edges:
        for index, count in enumerate(_profile.bin_counts(lengths, profile.edges_array).tolist()):
            attributes[semconv.batch_bin(name, index)] = count
    if profile.vocabulary:
        words = unseen = 0
        for text in strings:
            for word in _profile.tokens(text):
                words += 1
                unseen += word not in profile.known
        if words:
            attributes[stat(name, semconv.STAT_OOV_RATE)] = unseen / words
            quality.add_tokens(name, words, unseen, len(strings))
        quality.add(semconv.CHECK_UNSEEN_CATEGORY, name, unseen)
