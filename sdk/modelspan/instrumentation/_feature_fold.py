"""One feature's mergeable statistics in a profile (docs/profiles.md, "Per-feature profiles").

:class:`FeatureFold` holds, per feature and baseline id: counts (valid values and each data-quality
check), sum, sum of squares, min, max; with a baseline, counts per bin or category plus ``other``; the
tracked categories outside the baseline's list; for text, the tokens and out-of-vocabulary tokens
against the baseline's vocabulary (and the rate weighted as the span answers weight it). Every field
adds (min/max by min/max), so folds merge across calls, flushes, processes and intervals.
``record()`` is the stored shape both stores read (field names are part of that shape).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from modelspan import semconv
from modelspan.instrumentation._summaries import UNSEEN

if TYPE_CHECKING:
    from modelspan.baseline import FeatureProfile

MAX_TRACKED_CATEGORIES: Final = 64
"""Distinct categories counted exactly per feature and profile (the rest: ``top_other``)."""
COUNT_STATS: Final = (semconv.STAT_COUNT, semconv.STAT_NULL_COUNT, semconv.STAT_NAN_COUNT,
                      semconv.STAT_TYPE_CHANGE_COUNT, semconv.STAT_OUT_OF_RANGE, semconv.STAT_UNSEEN_COUNT)
"""Counts a fold holds (record keys: ``semconv.STAT_*``)."""
TOKENS: Final = "tokens"
"""Record key: a text feature's tokens (values with a vocabulary to check them against)."""
OOV_TOKENS: Final = "oov_tokens"
"""Record key: those of them outside the baseline's vocabulary."""
OOV_RATE_SUM: Final = "oov_rate_sum"
"""Record key: OOV rates x weight, as the span answers weight them (a row 1, a batch its texts)."""
OOV_RATE_COUNT: Final = "oov_rate_count"
"""Record key: the weights; ``oov_rate_sum / oov_rate_count`` is the span path's OOV rate."""
TOKEN_FIELDS: Final = (TOKENS, OOV_TOKENS, OOV_RATE_SUM, OOV_RATE_COUNT)


class FeatureFold:
    """One feature's mergeable statistics in one profile (record shape: ``record()``, docs/profiles.md)."""

    __slots__ = ("baseline_id", "bins", "categories", "counts", "kind", "max", "min", "oov", "other", "sum",
                 "sum_sq", "top", "top_other")

    def __init__(self, kind: str, baseline_id: str | None, bins: int, categories: int | None) -> None:
        self.kind = kind
        self.baseline_id = baseline_id
        self.counts = dict.fromkeys(COUNT_STATS, 0)
        self.sum = self.sum_sq = 0.0
        self.min: float | None = None
        self.max: float | None = None
        self.bins = [0] * bins if bins else None
        self.categories = None if categories is None else [0] * categories
        self.other = 0
        self.top: dict[str, int] = {}
        self.top_other = 0
        self.oov: list[float] | None = None  # text: [tokens, OOV tokens, OOV rate x weight, weight]

    def tokens(self, counts: Sequence[float]) -> None:
        """Add a call's token counts (``_checks.Quality.add_tokens``: a row's or a batch column's)."""
        held = self.oov
        if held is None:
            self.oov = list(counts)
            return
        held[0] += counts[0]
        held[1] += counts[1]
        held[2] += counts[2]
        held[3] += counts[3]

    def number(self, value: float, bin_index: int | None) -> None:
        self.counts[semconv.STAT_COUNT] += 1
        self.sum += value
        self.sum_sq += value * value
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value
        if bin_index is not None and self.bins is not None:
            self.bins[bin_index] += 1

    def category(self, text: str, slot: int | None, count: int = 1) -> None:
        self.counts[semconv.STAT_COUNT] += count
        if slot is not None and slot >= 0 and self.categories is not None:
            self.categories[slot] += count
            return
        if slot == UNSEEN:
            self.counts[semconv.STAT_UNSEEN_COUNT] += count
        elif slot is not None:
            self.other += count
            return
        self.tracked(text, count)

    def tracked(self, text: str, count: int) -> None:
        if text in self.top or len(self.top) < MAX_TRACKED_CATEGORIES:
            self.top[text] = self.top.get(text, 0) + count
        else:
            self.top_other += count

    def merge(self, other: FeatureFold) -> None:
        """Add ``other`` (same feature and baseline) to this fold."""
        for key, count in other.counts.items():
            self.counts[key] += count
        self.sum += other.sum
        self.sum_sq += other.sum_sq
        if other.min is not None and (self.min is None or other.min < self.min):
            self.min = other.min
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max
        if self.bins is not None and other.bins is not None:
            self.bins = [a + b for a, b in zip(self.bins, other.bins, strict=True)]
        if self.categories is not None and other.categories is not None:
            self.categories = [a + b for a, b in zip(self.categories, other.categories, strict=True)]
        self.other += other.other
        self.top_other += other.top_other
        for text, count in other.top.items():
            self.tracked(text, count)
        if other.oov is not None:
            self.tokens(other.oov)

    def summary(self, name: str, scratch: Mapping[str, Any], profile: FeatureProfile | None) -> None:
        """Add a batch summary (``_summaries``' attributes of feature ``name``)."""
        stat = semconv.batch_stat
        for key in COUNT_STATS:
            self.counts[key] += int(scratch.get(stat(name, key), 0))
        total, squares = scratch.get(stat(name, semconv.STAT_SUM)), scratch.get(stat(name, semconv.STAT_SUM_SQ))
        if total is not None and squares is not None:
            self.sum += total
            self.sum_sq += squares
        low, high = scratch.get(stat(name, semconv.STAT_MIN)), scratch.get(stat(name, semconv.STAT_MAX))
        if low is not None and (self.min is None or low < self.min):
            self.min = low
        if high is not None and (self.max is None or high > self.max):
            self.max = high
        if self.bins is not None:
            for index in range(len(self.bins)):
                self.bins[index] += int(scratch.get(semconv.batch_bin(name, index), 0))
        if self.categories is not None:
            for index in range(len(self.categories)):
                self.categories[index] += int(scratch.get(semconv.batch_category(name, index), 0))
            self.other += int(scratch.get(stat(name, semconv.STAT_OTHER_COUNT), 0))
        known = profile.category_index if profile is not None and profile.kind == "categorical" else {}
        values = scratch.get(stat(name, semconv.STAT_TOP_VALUES)) or ()
        counts = scratch.get(stat(name, semconv.STAT_TOP_COUNTS)) or ()
        for text, count in zip(values, counts, strict=False):
            if text not in known:
                self.tracked(text, int(count))

    def record(self, name: str) -> dict[str, Any]:
        """The stored shape of this fold (docs/profiles.md, "Profile records")."""
        record: dict[str, Any] = {"feature": name, "kind": self.kind, "baseline_id": self.baseline_id}
        record.update(self.counts)
        # Sums that overflowed (huge user values) are null: JSON has no infinity, and a wrong sum is worse than none.
        finite = math.isfinite(self.sum) and math.isfinite(self.sum_sq)
        record.update({semconv.STAT_SUM: self.sum if finite else None, semconv.STAT_SUM_SQ: self.sum_sq if finite
                       else None, semconv.STAT_MIN: self.min,
                       semconv.STAT_MAX: self.max, "bins": self.bins, "categories": self.categories,
                       "other": self.other, "top": dict(self.top), "top_other": self.top_other})
        if self.kind == "text":  # the others' records keep their shape
            oov = self.oov or (0, 0, 0.0, 0)
            record.update({TOKENS: int(oov[0]), OOV_TOKENS: int(oov[1]), OOV_RATE_SUM: float(oov[2]),
                           OOV_RATE_COUNT: int(oov[3])})
        return record
