"""The answer both backends give about one model version: aggregation-shaped dicts into ``ModelStats``.

A backend answers ``Question`` s with a dict of named aggregations, in the shape of an
Elasticsearch search response (``calls`` and ``modules.names`` with ``latency``, ``intervals``,
``paths``, ``q<n>_*`` and ``c<i>_*`` entries, as ``_es_queries.model_body`` asks for them);
``SQLiteStore`` computes the same dict in SQL. ``parse_model`` merges it into ``ModelStats``: per
feature the counts per baseline bin or category (single-row values and batch summaries merged),
count/sum/sum of squares/min/max, data-quality counts; the module paths per output with example
trace ids; latency percentiles, calls (scaled by 1/sample rate) and errors per interval, for the
model and each sub-module. One set of merge rules for both backends, so they cannot drift apart.
Missing aggregations (no data) parse as zeros.

The limits below bound every answer (and keep Elasticsearch's buckets under ``search.max_buckets``).
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Mapping
from typing import Any

from modelspan import semconv
from modelspan.store.types import Column, ColumnStats, Interval, ModelStats, Operations, PathStats, Question, Window

logger = logging.getLogger(__name__)
Agg = Mapping[str, Any]

PERCENTS = (50.0, 90.0, 95.0, 99.0)
"""Latency percentiles reported per model, sub-module and interval."""
# Worst-case buckets stay well under search.max_buckets (65,536): paths x labels is the largest.
MAX_PATHS = 500
MAX_LABELS = 50
MAX_MODULES = 200
MAX_UNSEEN_EXAMPLES = 10
EXAMPLE_TRACES = 3
EMPTY_KEY = ""
"""Bucket key of spans without a module path (or without an output label)."""
# Batch statistics summed over spans (min/max aggregated with min/max).
BATCH_SUMS = (
    semconv.STAT_COUNT, semconv.STAT_NULL_COUNT, semconv.STAT_NAN_COUNT, semconv.STAT_SUM,
    semconv.STAT_SUM_SQ, semconv.STAT_TYPE_CHANGE_COUNT, semconv.STAT_OUT_OF_RANGE, semconv.STAT_UNSEEN_COUNT,
)


def parse_model(question: Question, response: Agg) -> ModelStats:
    """Read the response of ``model_body(question)``."""
    aggs = aggregations(response)
    calls = aggs.get("calls", {})
    modules = aggs.get("modules", {}).get("names", {})
    paths = calls.get("paths", {})
    return ModelStats(
        model=question.model,
        version=question.version,
        operations=parse_operations(calls, question.interval_seconds, question.window),
        modules={str(b["key"]): parse_operations(b, question.interval_seconds, question.window)
                 for b in modules.get("buckets", [])},
        paths={str(b["key"]): _path(b) for b in paths.get("buckets", [])},
        paths_other=int(paths.get("sum_other_doc_count", 0)),
        quality={
            check: (_int(calls.get(f"q{number}_values")), int(calls.get(f"q{number}_calls", {}).get("doc_count", 0)))
            for number, check in enumerate(semconv.CHECKS)
        },
        columns={column.name: parse_column(index, column, calls) for index, column in enumerate(question.columns)},
    )


def parse_operations(agg: Agg, interval_seconds: float = 0.0, window: Window | None = None) -> Operations:
    """Calls, errors, latency (ns in the documents, ms here) and the per-interval series."""
    stats = agg.get("duration", {})
    mean = stats.get("avg")
    profile = agg.get("profile") or {}
    return Operations(
        calls=int(agg.get("doc_count", 0)),
        errors=int(agg.get("errors", {}).get("doc_count", 0)),
        rows=_float(agg.get("rows")) if "rows" in agg else float(agg.get("doc_count", 0)),
        latency_ms=_percentiles(agg.get("latency")),
        mean_latency_ms=None if mean is None else float(mean) / 1e6,
        intervals=[_interval(bucket, interval_seconds, window)
                   for bucket in agg.get("intervals", {}).get("buckets", [])],
        spans=int(profile["spans"]) if "spans" in profile else None,
        spans_dropped=int(profile["dropped"]) if "dropped" in profile else None,
    )


def _interval(bucket: Agg, seconds: float, window: Window | None = None) -> Interval:
    calls = int(bucket.get("doc_count", 0))
    start = _dt.datetime.fromtimestamp(int(bucket["key"]) / 1000, _dt.timezone.utc)
    if window is not None and seconds:
        inside = min(start + _dt.timedelta(seconds=seconds), window.end) - max(start, window.start)
        seconds = max(inside.total_seconds(), 0.0)
    scaled_calls = scaled_rows = rows = 0.0
    rates = bucket.get("rates")
    if rates is None:  # sub-modules: no sample-rate breakdown
        scaled_calls = rows = scaled_rows = float(calls)
    else:
        for rate_bucket in rates.get("buckets", []):
            rate = float(rate_bucket["key"])
            scale = 1.0 / rate if rate > 0 else 1.0
            bucket_rows = _float(rate_bucket.get("rows"))
            scaled_calls += rate_bucket["doc_count"] * scale
            rows += bucket_rows
            scaled_rows += bucket_rows * scale
        other = int(rates.get("sum_other_doc_count", 0))
        if other:  # more distinct sample rates than buckets: counted unscaled, and said so
            logger.warning("%d calls with rare sample rates counted unscaled", other)
            scaled_calls += other
    return Interval(
        start=start,
        calls=calls,
        errors=int(bucket.get("errors", {}).get("doc_count", 0)),
        scaled_calls=scaled_calls,
        rows=rows,
        scaled_rows=scaled_rows,
        latency_ms=_percentiles(bucket.get("latency")),
        seconds=seconds,
    )


def _path(bucket: Agg) -> PathStats:
    labels = {str(b["key"]): int(b["doc_count"]) for b in bucket.get("labels", {}).get("buckets", [])}
    hits = bucket.get("examples", {}).get("hits", {}).get("hits", [])
    trace_ids = [str(hit["_source"]["trace_id"]) for hit in hits if "trace_id" in hit.get("_source", {})]
    return PathStats(count=int(bucket["doc_count"]), labels=labels, trace_ids=trace_ids)


def parse_column(index: int, column: Column, calls: Agg) -> ColumnStats:
    """One column's statistics: single-row aggregations plus the batch sums."""
    prefix = f"c{index}_"

    def batch(stat: str) -> float:
        return _float(calls.get(f"{prefix}b_{stat}"))

    stats = ColumnStats(column.name, column.kind)
    stats.null_count = int(batch(semconv.STAT_NULL_COUNT))
    stats.nan_count = int(batch(semconv.STAT_NAN_COUNT))
    stats.type_change_count = int(batch(semconv.STAT_TYPE_CHANGE_COUNT))
    stats.out_of_range_count = int(batch(semconv.STAT_OUT_OF_RANGE))
    stats.unseen_count = int(batch(semconv.STAT_UNSEEN_COUNT))
    row_failures = [int(calls.get(f"{prefix}q{n}", {}).get("doc_count", 0)) for n in range(len(semconv.CHECKS))]
    failures = dict(zip(semconv.CHECKS, row_failures, strict=True))
    stats.null_count += failures[semconv.CHECK_NULL]
    stats.nan_count += failures[semconv.CHECK_NAN]
    stats.type_change_count += failures[semconv.CHECK_TYPE_CHANGE]
    stats.out_of_range_count += failures[semconv.CHECK_OUT_OF_RANGE]
    if column.kind == "categorical":
        _categories(prefix, column, calls, stats, int(batch(semconv.STAT_COUNT)))
    else:
        _numbers(prefix, column, calls, stats, batch)
    return stats


def _numbers(prefix: str, column: Column, calls: Agg, stats: ColumnStats, batch: Any) -> None:
    rows = calls.get(prefix + "rows", {})
    row_count = int(rows.get("count", 0))
    batch_count = int(batch(semconv.STAT_COUNT))
    stats.count = row_count + batch_count
    stats.sum = float(rows.get("sum") or 0.0) + batch(semconv.STAT_SUM)
    stats.sum_sq = float(rows.get("sum_of_squares") or 0.0) + batch(semconv.STAT_SUM_SQ)
    stats.min = _combine(min, rows.get("min"), calls.get(prefix + "b_min", {}).get("value"))
    stats.max = _combine(max, rows.get("max"), calls.get(prefix + "b_max", {}).get("value"))
    if column.edges:
        buckets = calls.get(prefix + "bins", {}).get("buckets", [])
        counts = [int(b["doc_count"]) for b in buckets] or [0] * (len(column.edges) + 1)
        sums = calls.get(prefix + "batch", {})
        batch_bins = [int(_float(sums.get(f"b{i}"))) for i in range(len(counts))]
        stats.bin_counts = [a + b for a, b in zip(counts, batch_bins, strict=True)]
        stats.unbinned_count = batch_count - sum(batch_bins)
    if column.kind == "text":
        _oov(prefix, calls, stats, batch_count)


def _oov(prefix: str, calls: Agg, stats: ColumnStats, batch_count: int) -> None:
    """The OOV rate: from profiles (``p_oov``, every call) where they carry it, else from the spans."""
    profiled = calls.get(prefix + "p_oov")
    if profiled is not None and "tokens" not in profiled:  # profiles without token counts: the spans' sums
        weight = int(_float(profiled.get("count")))
        stats.oov_rate = _float(profiled.get("sum")) / weight if weight else None
        stats.oov_source = "spans" if stats.oov_rate is not None else None
        return
    if profiled is not None:
        weight = int(_float(profiled.get("count")))
        stats.oov_rate = _float(profiled.get("sum")) / weight if weight else None
        stats.tokens, stats.oov_tokens = int(_float(profiled.get("tokens"))), int(_float(profiled.get("oov_tokens")))
        stats.oov_source = "profiles"
        return
    total, weight = span_oov(prefix, calls, batch_count)
    stats.oov_rate = total / weight if weight else None
    stats.oov_source = "spans" if stats.oov_rate is not None else None


def span_oov(prefix: str, calls: Agg, batch_count: int | None = None) -> tuple[float, int]:
    """The spans' OOV rates x weights and the weights: single rows 1 each, batches their texts."""
    single = calls.get(prefix + "oov", {})
    batch_oov = calls.get(prefix + "b_oov", {}).get("value")
    parts = [(float(single["avg"]), int(single["count"]))] if single.get("avg") is not None else []
    if batch_oov is not None:
        weight = int(_float(calls.get(f"{prefix}b_{semconv.STAT_COUNT}"))) if batch_count is None else batch_count
        parts.append((float(batch_oov), weight))
    return sum(rate * n for rate, n in parts), sum(n for _, n in parts)


def _categories(prefix: str, column: Column, calls: Agg, stats: ColumnStats, batch_count: int) -> None:
    present = int(_float(calls.get(prefix + "rows")))
    by_key = {category_key(b["key"]): int(b["doc_count"]) for b in calls.get(prefix + "cats", {}).get("buckets", [])}
    rows = [by_key.get(category, 0) for category in column.categories]
    known = int(calls.get(prefix + "known", {}).get("doc_count", 0))
    batch = calls.get(prefix + "batch", {})
    batch_cats = [int(_float(batch.get(f"k{i}"))) for i in range(len(column.categories))]
    batch_other = int(_float(batch.get("other")))
    batch_unseen = int(_float(batch.get("unseen")))
    stats.count = present + batch_count
    stats.category_counts = [a + b for a, b in zip(rows, batch_cats, strict=True)]
    # With no known categories at all (no baseline) nothing can be called unseen; beyond an incomplete
    # vocabulary (more levels than it holds) a value may be the baseline's unlisted tail: the remainder.
    row_unseen = present - known if (column.categories or column.vocabulary) and column.complete else 0
    stats.other_count = (present - row_unseen - sum(rows)) + batch_other
    stats.unseen_count = row_unseen + batch_unseen
    stats.unbinned_count = batch_count - int(_float(batch.get("count")))
    unseen = calls.get(prefix + "unseen", {}).get("buckets", [])
    stats.unseen_examples = {category_key(b["key"]): int(b["doc_count"]) for b in unseen}


def category_key(key: Any) -> str:
    """A terms bucket key in the canonical text form the baseline spells categories in.

    A categorical attribute written before ``modelspan elastic setup`` pinned it as ``keyword`` may
    be mapped ``long`` or ``double`` (dynamic mapping guessed from the first value): its buckets
    then come back as ``12345`` or ``12345.0`` while the baseline says ``"12345"``.

    >>> category_key(12345.0), category_key(12345), category_key("12345"), category_key(0.5)
    ('12345', '12345', '12345', '0.5')
    """
    text = semconv.category_value(key)
    return str(key) if text is None else text


def aggregations(response: Agg) -> Agg:
    aggs = response.get("aggregations")
    return aggs if isinstance(aggs, Mapping) else {}


def _percentiles(agg: Agg | None) -> dict[float, float | None]:
    values = (agg or {}).get("values", {})
    result: dict[float, float | None] = {}
    for percent in PERCENTS:
        value = values.get(str(percent), values.get(f"{percent:.1f}"))
        result[percent] = None if value is None else float(value) / 1e6
    return result


def _float(agg: Agg | None) -> float:
    value = (agg or {}).get("value")
    return 0.0 if value is None else float(value)


def _int(agg: Agg | None) -> int:
    return int(_float(agg))


def _combine(pick: Any, *values: Any) -> float | None:
    present = [float(v) for v in values if v is not None]
    return pick(present) if present else None
