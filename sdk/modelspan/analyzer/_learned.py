"""Drift thresholds learned from the spread of the windows before the analysed one (opt-in).

A fixed threshold (PSI 0.2, normalised Wasserstein 0.1 ...) is too strict for a feature that is
naturally volatile and too lax for one that never moves (design: "thresholds can be learned from the
spread of reference windows"). With ``analyze(..., learn_thresholds=N)`` the engine also asks, in
the same single ``model_stats`` call, for the N windows of the same length just before the analysed
one, scores each of them against the same reference with the same tests, and each column's test
then uses ``max(default, thresholds.learn(scores))``: a learned threshold only ever raises the bar,
so it can quiet a noisy-but-stable feature but never make a column more sensitive than the default.

A history window that overlaps a production reference window is skipped (comparing the reference
with itself says nothing about the spread) and the next earlier window is taken instead. Tests with
fewer than ``thresholds.MIN_WINDOWS`` windows with enough data keep their default.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence

from modelspan.analyzer import drift, thresholds
from modelspan.analyzer._drift_findings import Thresholds, tested_columns
from modelspan.analyzer._references import Reference
from modelspan.baseline import Baseline
from modelspan.store import ModelStats, Window

logger = logging.getLogger(__name__)
QUANTILE = 0.99
MARGIN = 1.2
"""With a handful of windows the 0.99 quantile is about the largest score seen: leave room above it."""
MAX_WINDOWS = 168
"""A week of hourly windows; more history only costs statistics requests."""


def history_windows(window: Window, reference: Reference, count: int) -> list[Window]:
    """The ``count`` windows of ``window``'s length before it, newest first, none overlapping the reference.

    >>> from modelspan.analyzer._references import resolve
    >>> w = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
    >>> [h.iso()[0][11:16] for h in history_windows(w, resolve("previous", w), 3)]
    ['08:00', '07:00', '06:00']
    """
    if not 0 <= count <= MAX_WINDOWS:
        raise ValueError(f"learn_thresholds must be between 0 and {MAX_WINDOWS} windows, got {count}")
    length = window.end - window.start
    found: list[Window] = []
    end = window.start
    while len(found) < count:
        candidate = Window(end - length, end)
        end = candidate.start
        if not reference.profile and candidate.start < reference.window.end and reference.window.start < candidate.end:
            continue
        found.append(candidate)
    return found


def learned_thresholds(history: Sequence[ModelStats], reference: ModelStats | None,
                       baseline: Baseline | None) -> Thresholds:
    """Column -> test -> ``max(default, learned)``, from each history window scored against the reference."""
    if baseline is None or not history:
        return {}
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    for stats in history:
        for column in tested_columns(stats, reference, baseline):
            for result in column.results:
                if result.enough_data and math.isfinite(result.score):
                    scores[(column.name, result.test)].append(float(result.score))
    learned: dict[str, dict[str, float]] = defaultdict(dict)
    for (column_name, test), values in sorted(scores.items()):
        if len(values) < thresholds.MIN_WINDOWS:
            continue
        default = drift.REGISTRY[test].default_threshold
        learned[column_name][test] = max(default, thresholds.learn(values, quantile=QUANTILE, margin=MARGIN))
    logger.debug("learned drift thresholds from %d windows: %s", len(history), dict(learned))
    return dict(learned)
