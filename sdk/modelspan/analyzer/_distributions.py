"""Distribution findings: the evidence behind a drift verdict, reference vs current share per bin.

A drift score says *that* a column moved; the drift dashboard and the report also show *how*, as
two bar series over the column's bins (or categories). Those come from the very histograms the
drift tests compared (both sides over the baseline's bins), so the picture can never disagree with
the verdict, and nothing is recomputed from raw data.

One ``distribution`` document per bin of a column whose drift finding is flagged (features and
the output, whose ``feature.name`` is ``semconv.OUTPUT_FEATURE``): ``metric.name`` the bin label,
``metric.value`` its current share, ``metric.reference_value`` its reference share, ``sample.count``
and ``reference.count`` the counts behind the shares. Numeric (and text-length) bins are labelled
``"03 [12.5, 17)"``: a zero-padded index first, so labels sort in bin order as plain keywords.
Categories keep their own name (``__other__`` for known-but-unnamed values, ``__unseen__`` for new
values beyond the named examples). At most :data:`MAX_BINS` documents per column: finer
histograms are shown with adjacent bins merged, the least common categories folded into
``__other__``. Ids are ``distribution:model:version:feature:bin:window.start``, so re-analysing a
window replaces them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelspan import findings
from modelspan.analyzer import drift
from modelspan.analyzer._documents import Context, document, number
from modelspan.store import ModelStats

MAX_BINS = 60
"""Documents per drifting column at most (a dashboard table row each)."""
OTHER = drift.OTHER

Histogram = Any  # drift.Binned | drift.Categories
Shares = list[tuple[str, float, float]]  # (label, reference count, current count)


def distribution_findings(context: Context, stats: ModelStats, column: str, reference: Histogram,
                          current: Histogram) -> list[dict[str, Any]]:
    """One document per bin (or category) of ``column``; none when either side is empty."""
    if isinstance(reference, drift.Categories):
        rows = _categories(reference, current)
    else:
        rows = _bins(np.asarray(reference.counts, dtype=float), np.asarray(current.counts, dtype=float),
                     np.asarray(reference.edges, dtype=float))
    reference_total = sum(before for _, before, _ in rows)
    current_total = sum(after for _, _, after in rows)
    if reference_total <= 0 or current_total <= 0:
        return []
    docs = []
    for label, before, after in rows:
        share, reference_share = after / current_total, before / reference_total
        docs.append(document(
            context, findings.TYPE_DISTRIBUTION, stats.model, stats.version, f"{column}:{label}", flagged=False,
            summary=(f"'{column}' of model {stats.model} v{stats.version}, bin {label}: "
                     f"{number(share)} of the window vs {number(reference_share)} of the reference"),
            fields={findings.FEATURE_NAME: column, findings.METRIC_NAME: label, findings.METRIC_VALUE: share,
                    findings.METRIC_REFERENCE_VALUE: reference_share, findings.SAMPLE_COUNT: int(after),
                    findings.REFERENCE_COUNT: int(before)}))
    return docs


def _bins(before: np.ndarray, after: np.ndarray, edges: np.ndarray) -> Shares:
    """Bin i is ``[e[i-1], e[i])``, the first and last open; merged in equal runs above MAX_BINS."""
    size = len(edges) + 1
    before, after = _pad(before, size), _pad(after, size)
    bounds = [-math.inf, *(float(e) for e in edges), math.inf]
    step = math.ceil(size / MAX_BINS)
    groups = range(0, size, step)
    width = max(2, len(str(len(groups) - 1)))
    rows = []
    for index, start in enumerate(groups):
        stop = min(start + step, size)
        label = f"{index:0{width}d} [{_edge(bounds[start])}, {_edge(bounds[stop])})"
        rows.append((label, float(before[start:stop].sum()), float(after[start:stop].sum())))
    return rows


def _pad(counts: np.ndarray, size: int) -> np.ndarray:
    """A window with no values in a column may come back without bins: zeros then."""
    padded = np.zeros(size, dtype=float)
    padded[:min(size, counts.size)] = counts[:size]
    return padded


def _edge(value: float) -> str:
    """>>> _edge(12.5), _edge(-math.inf), _edge(1234567.0)
    ('12.5', '-inf', '1.23e+06')
    """
    return f"{value:.3g}"


def _categories(before: drift.Categories, after: drift.Categories) -> Shares:
    """Every category of either side; above MAX_BINS the least common fold into ``__other__``."""
    names = list(dict.fromkeys([*before.counts, *after.counts]))
    rows = [(name, float(before.counts.get(name, 0)), float(after.counts.get(name, 0))) for name in names]
    if len(rows) <= MAX_BINS:
        return rows
    rank = sorted((row for row in rows if row[0] != OTHER), key=lambda row: (-(row[1] + row[2]), row[0]))
    kept = rank[:MAX_BINS - 1]
    names_kept = {row[0] for row in kept}
    folded = [row for row in rows if row[0] not in names_kept]
    return [*kept, (OTHER, sum(row[1] for row in folded), sum(row[2] for row in folded))]
