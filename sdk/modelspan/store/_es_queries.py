"""Search bodies the analyzer sends to Elasticsearch: pure functions from a question to a body.

Every statistic is pushed down as an aggregation (docs/architecture.md, decision 5): one ``_search`` lists the
models of a window, then one search per (model, version, window) answers every question about it
at once (bins per feature, categories, batch summaries, output distribution, module paths per
output, data-quality counts, latency percentiles, QPS and errors per interval, per sub-module), so
the number of requests grows with neither the number of spans nor the number of features. The
bodies are type-checked against ``estypes.SearchRequest`` in ``tests/contract``.

Aggregations are named by position (``c3_bins`` is column 3's bins) because feature names may hold
characters an aggregation name may not (``[``, ``]``, ``>``); ``_es_parse`` maps them back.

>>> body = models_body(Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"))
>>> body["aggs"]["models"]["terms"]["field"]
'attributes.ml.model.name'
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from modelspan import _time, semconv
from modelspan.elasticsearch.layout import DURATION, SPANS_PATTERN, STATUS_CODE, STATUS_ERROR, TIMESTAMP, TRACE_ID, attr
from modelspan.store._answers import (
    BATCH_SUMS,
    EMPTY_KEY,
    EXAMPLE_TRACES,
    MAX_LABELS,
    MAX_MODULES,
    MAX_PATHS,
    MAX_UNSEEN_EXAMPLES,
    PERCENTS,
)
from modelspan.store.types import Column, Question, Window

SPANS_INDEX = SPANS_PATTERN
"""Data streams holding model and module spans (both export paths route them there)."""
MAX_MODELS = 1000
MAX_VERSIONS = 100
MAX_BUCKETS = 65_536
"""Elasticsearch's ``search.max_buckets``: a response with more buckets fails as a whole."""
BUCKET_BUDGET = 60_000
"""What one search of ours may need at worst (``worst_case_buckets``), a margin under ``MAX_BUCKETS``."""
HIGH_ACCURACY = {"execution_hint": "high_accuracy"}
"""t-digest tuned for accuracy: for the window's percentiles, which findings compare to thresholds."""
MAX_SAMPLE_RATES = 20

Body = dict[str, Any]




def window_query(window: Window, *filters: Body) -> Body:
    """``bool`` filter: ``@timestamp`` in the window plus ``filters``."""
    start, end = window.iso()
    in_window = {"range": {TIMESTAMP: {"gte": start, "lt": end, "format": "strict_date_optional_time"}}}
    return {"bool": {"filter": [in_window, *filters]}}


def term(name: str, value: str | float | bool) -> Body:
    return {"term": {attr(name): value}}


def model_spans_query(window: Window, model: str, version: str) -> Body:
    """The model spans of one model version in ``window``: the query of every per-version aggregation
    (score sums, class score sums, loss sums)."""
    return window_query(window, term(semconv.SPAN_KIND, semconv.SPAN_KIND_MODEL),
                        term(semconv.MODEL_NAME, model), term(semconv.MODEL_VERSION, version))


def models_body(window: Window) -> Body:
    """Models and their versions with model spans in ``window`` (one terms aggregation)."""
    versions = {"terms": {"field": attr(semconv.MODEL_VERSION), "size": MAX_VERSIONS}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": window_query(window, term(semconv.SPAN_KIND, semconv.SPAN_KIND_MODEL)),
        "aggs": {"models": {"terms": {"field": attr(semconv.MODEL_NAME), "size": MAX_MODELS},
                            "aggs": {"versions": versions}}},
    }


def model_body(question: Question, part: Literal["all", "calls", "modules"] = "all") -> Body:
    """Every aggregation the analyzer needs about one model version in one window.

    ``part`` asks for the model's calls or its sub-modules only: ``plan()`` splits them into two
    searches when one would need more than ``BUCKET_BUDGET`` buckets.
    """
    kinds = {"terms": {attr(semconv.SPAN_KIND): [semconv.SPAN_KIND_MODEL, semconv.SPAN_KIND_MODULE]}}
    query = window_query(
        question.window,
        term(semconv.MODEL_NAME, question.model),
        term(semconv.MODEL_VERSION, question.version),
        kinds,
    )
    calls = operations_aggs(question)
    calls.update(paths_aggs())
    calls.update(quality_aggs())
    for index, column in enumerate(question.columns):
        calls.update(column_aggs(index, column, question.baseline_id))
    modules = {
        "terms": {"field": attr(semconv.MODULE_NAME), "size": MAX_MODULES},
        "aggs": operations_aggs(question, with_rates=False),
    }
    aggs: Body = {
        "calls": {"filter": term(semconv.SPAN_KIND, semconv.SPAN_KIND_MODEL), "aggs": calls},
        "modules": {"filter": term(semconv.SPAN_KIND, semconv.SPAN_KIND_MODULE), "aggs": {"names": modules}},
    }
    if part != "all":
        aggs = {part: aggs[part]}
    return {"size": 0, "track_total_hits": False, "query": query, "aggs": aggs}


def intervals_in(window: Window, interval_seconds: int) -> int:
    """Date-histogram buckets ``window`` spans at ``interval_seconds`` (buckets align to the epoch).

    >>> intervals_in(Window.parse("2026-11-22T10:02:00Z", "2026-11-22T10:12:00Z"), 300)
    3
    """
    first = int(window.start.timestamp()) // interval_seconds
    last = (int((window.end - _dt.timedelta(milliseconds=1)).timestamp())) // interval_seconds
    return last - first + 1


def worst_case_buckets(question: Question, interval_seconds: int) -> tuple[int, int]:
    """Buckets ``model_body`` can produce at most: (the model's calls part, the sub-modules part).

    Every multi-bucket aggregation counts against ``search.max_buckets``: the per-interval series
    with its sample-rate buckets, paths x labels, bins, categories and unseen values per column,
    and sub-modules x intervals.
    """
    intervals = intervals_in(question.window, interval_seconds)
    calls = intervals * (1 + MAX_SAMPLE_RATES) + MAX_PATHS * (1 + MAX_LABELS)
    for column in question.columns:
        calls += (len(column.edges) + 1 if column.edges else 0) + len(column.categories) + MAX_UNSEEN_EXAMPLES
    return calls, MAX_MODULES * (1 + intervals)


def plan(question: Question) -> tuple[Question, bool]:
    """The question as it is sent: its interval widened and its sub-modules split off until it fits.

    Returns the question (with ``interval_seconds`` a multiple of the asked one) and whether the
    sub-modules need a search of their own. A day at 300 s with 200 sub-modules fits in two searches
    at 300 s; a week is widened.

    >>> week = Window.parse("2026-11-15T00:00:00Z", "2026-11-22T00:00:00Z")
    >>> asked, split = plan(Question("m", "1", week, 300))
    >>> asked.interval_seconds > 300, split
    (True, True)
    """
    step = question.interval_seconds
    while True:
        calls, modules = worst_case_buckets(question, step)
        if calls + modules <= BUCKET_BUDGET:
            return replace(question, interval_seconds=step), False
        if (calls <= BUCKET_BUDGET and modules <= BUCKET_BUDGET) or intervals_in(question.window, step) == 1:
            # At one interval, only the columns can still be too many: nothing left to widen.
            return replace(question, interval_seconds=step), True
        step += question.interval_seconds


def operations_aggs(question: Question, *, with_rates: bool = True) -> Body:
    """Latency percentiles, errors and, per interval, calls (by sample rate), errors, latency."""
    per_interval: Body = {
        "errors": {"filter": {"term": {STATUS_CODE: STATUS_ERROR}}},
        "latency": {"percentiles": {"field": DURATION, "percents": list(PERCENTS)}},
    }
    if with_rates:
        # QPS is scaled by 1/sample_rate: the few distinct rates are bucketed and scaled in the
        # parser, which needs no script (and so runs the same on every cluster and in tests).
        per_interval["rates"] = {
            "terms": {"field": attr(semconv.SAMPLE_RATE), "size": MAX_SAMPLE_RATES, "missing": 1.0},
            "aggs": {"rows": {"sum": {"field": attr(semconv.BATCH_SIZE), "missing": 1}}},
        }
    # extended_bounds.max is inclusive while the window's end is not: stop one millisecond short.
    start = _time.iso(question.window.start)
    last = _time.iso(question.window.end - _dt.timedelta(milliseconds=1))
    return {
        "latency": {"percentiles": {"field": DURATION, "percents": list(PERCENTS), "tdigest": HIGH_ACCURACY}},
        "duration": {"stats": {"field": DURATION}},
        "errors": {"filter": {"term": {STATUS_CODE: STATUS_ERROR}}},
        "rows": {"sum": {"field": attr(semconv.BATCH_SIZE), "missing": 1}},
        "intervals": {
            "date_histogram": {
                "field": TIMESTAMP,
                "fixed_interval": f"{question.interval_seconds}s",
                "min_doc_count": 0,
                "extended_bounds": {"min": start, "max": last},
            },
            "aggs": per_interval,
        },
    }


def paths_aggs() -> Body:
    """Calls per module path and output label, with a few example trace ids per path."""
    examples = {"top_hits": {"size": EXAMPLE_TRACES, "_source": {"includes": [TRACE_ID]},
                             "sort": [{TIMESTAMP: {"order": "desc"}}]}}
    labels = {"terms": {"field": attr(semconv.OUTPUT_LABEL), "size": MAX_LABELS, "missing": EMPTY_KEY}}
    return {
        "paths": {
            "terms": {"field": attr(semconv.MODULE_PATH_KEY), "size": MAX_PATHS, "missing": EMPTY_KEY},
            "aggs": {"labels": labels, "examples": examples},
        }
    }


def quality_aggs() -> Body:
    """Failed values per call-time check (``ml.quality.<check>.count``) and calls that failed it."""
    aggs: Body = {}
    for number, check in enumerate(semconv.CHECKS):
        aggs[f"q{number}_values"] = {"sum": {"field": attr(semconv.quality_count(check))}}
        aggs[f"q{number}_calls"] = {"filter": {"exists": {"field": attr(semconv.quality_count(check))}}}
    return aggs


def column_aggs(index: int, column: Column, baseline_id: str | None) -> Body:
    """Aggregations of one feature: single-row values and the batch summaries of the same baseline."""
    prefix = f"c{index}_"
    rows = "value_count" if column.kind == "categorical" else "extended_stats"
    aggs: Body = {prefix + "rows": {rows: {"field": attr(column.field)}}}
    for stat in BATCH_SUMS:
        aggs[f"{prefix}b_{stat}"] = {"sum": {"field": attr(semconv.batch_stat(column.name, stat))}}
    aggs[prefix + "b_min"] = {"min": {"field": attr(semconv.batch_stat(column.name, semconv.STAT_MIN))}}
    aggs[prefix + "b_max"] = {"max": {"field": attr(semconv.batch_stat(column.name, semconv.STAT_MAX))}}
    aggs.update(_row_check_aggs(prefix, column))
    if column.kind == "categorical":
        aggs.update(_category_aggs(prefix, column, baseline_id))
        return aggs
    if column.edges:
        ranges: list[Body] = [{"to": column.edges[0]}]
        ranges += [{"from": low, "to": high} for low, high in zip(column.edges[:-1], column.edges[1:], strict=True)]
        ranges.append({"from": column.edges[-1]})
        aggs[prefix + "bins"] = {"range": {"field": attr(column.field), "ranges": ranges}}
        if baseline_id is not None:
            sums = {f"b{i}": {"sum": {"field": attr(semconv.batch_bin(column.name, i))}}
                    for i in range(len(column.edges) + 1)}
            aggs[prefix + "batch"] = {"filter": term(semconv.BASELINE_ID, baseline_id), "aggs": sums}
    if column.kind == "text":
        oov = semconv.text_oov_rate(column.name)
        aggs[prefix + "oov"] = {"stats": {"field": attr(oov)}}
        aggs[prefix + "b_oov"] = {"weighted_avg": {
            "value": {"field": attr(semconv.batch_stat(column.name, semconv.STAT_OOV_RATE))},
            "weight": {"field": attr(semconv.batch_stat(column.name, semconv.STAT_COUNT))},
        }}
    return aggs


def _category_aggs(prefix: str, column: Column, baseline_id: str | None) -> Body:
    field_name = attr(column.field)
    known = sorted(set(column.vocabulary) | set(column.categories))
    aggs: Body = {}
    if column.categories:
        aggs[prefix + "cats"] = {"terms": {"field": field_name, "size": len(column.categories),
                                           "include": list(column.categories)}}
    if known:
        aggs[prefix + "known"] = {"filter": {"terms": {field_name: known}}}
    unseen = {"field": field_name, "size": MAX_UNSEEN_EXAMPLES}
    if known:
        unseen["exclude"] = known
    aggs[prefix + "unseen"] = {"terms": unseen}
    if baseline_id is not None:
        sums: Body = {f"k{i}": {"sum": {"field": attr(semconv.batch_category(column.name, i))}}
                      for i in range(len(column.categories))}
        sums["other"] = {"sum": {"field": attr(semconv.batch_stat(column.name, semconv.STAT_OTHER_COUNT))}}
        sums["unseen"] = {"sum": {"field": attr(semconv.batch_stat(column.name, semconv.STAT_UNSEEN_COUNT))}}
        sums["count"] = {"sum": {"field": attr(semconv.batch_stat(column.name, semconv.STAT_COUNT))}}
        aggs[prefix + "batch"] = {"filter": term(semconv.BASELINE_ID, baseline_id), "aggs": sums}
    return aggs


def _row_check_aggs(prefix: str, column: Column) -> Body:
    """Single-row calls that failed each check for this feature (batches count in ``b_*`` sums)."""
    if column.name == semconv.OUTPUT_FEATURE:
        return {}
    # A batch span lists the feature too but counts its values in ml.batch.<name>.null_count,
    # which every batch summary sets: excluding those spans keeps each value counted once.
    in_batch = {"exists": {"field": attr(semconv.batch_stat(column.name, semconv.STAT_NULL_COUNT))}}
    return {
        f"{prefix}q{number}": {"filter": {"bool": {
            "filter": [{"term": {attr(semconv.quality_features(check)): column.name}}],
            "must_not": [in_batch],
        }}}
        for number, check in enumerate(semconv.CHECKS)
    }


# --- Labels join ------------------------------------------------------------------------------
# Outcomes live in their own index and Elasticsearch has no join across indices, so model quality
# pages the outcomes (sorted by prediction id, ``search_after``) and, per page, fetches the output
# fields of those predictions from the window's model spans with one ``terms`` query. Requests grow
# with the number of *labelled predictions* (two per ``LABEL_PAGE`` labels), never with spans.
LABEL_PAGE = 10_000
"""Outcomes per page (``size`` may reach ``MAX_RESULT_WINDOW``, not exceed it)."""
MAX_RESULT_WINDOW = 10_000
"""Elasticsearch's default ``index.max_result_window``: ``from + size`` above it fails the search."""
PREDICTIONS_CHUNK = 5_000
"""Span ids per predictions search: its ``size`` and ``terms`` list (a page of labels may name more)."""
OUTCOME_PREDICTION_ID = "prediction.id"
OUTCOME_ACTUAL = "actual"
OUTCOME_MODEL_NAME = "model.name"
OUTCOME_MODEL_VERSION = "model.version"
PREDICTION_FIELDS = (
    semconv.PREDICTION_ID, semconv.OUTPUT_LABEL, semconv.OUTPUT_VALUE, semconv.OUTPUT_SCORE,
    semconv.OUTPUT_LABELS, semconv.OUTPUT_VALUES, semconv.OUTPUT_SCORES,
    # multiclass: the vectors, for the realised ROC-AUC of labelled rows (named: the fake cluster has no wildcards)
    semconv.OUTPUT_PROBABILITIES,
    *(f"{semconv.OUTPUT_PROBABILITY_PREFIX}{k}" for k in range(semconv.MAX_CLASS_PROBABILITIES)),
)


def outcomes_body(window: Window, after: Sequence[str] | None = None, size: int = LABEL_PAGE) -> Body:
    """One page of outcomes that may belong to predictions of ``window``.

    A label cannot be recorded before its prediction was made, so outcomes stamped before the
    window starts are skipped; the rest are paged by prediction id.
    """
    start, _ = window.iso()
    body: Body = {
        "size": size,
        "track_total_hits": False,
        "query": {"bool": {"filter": [{"range": {TIMESTAMP: {"gte": start}}}]}},
        "sort": [{OUTCOME_PREDICTION_ID: {"order": "asc"}}],
        "_source": {"includes": [OUTCOME_PREDICTION_ID, OUTCOME_ACTUAL, TIMESTAMP]},
    }
    if after:
        body["search_after"] = list(after)
    return body


def predictions_body(window: Window, model: str, version: str, prediction_ids: Sequence[str]) -> Body:
    """Outputs of the model spans (in ``window``) whose prediction id is in ``prediction_ids``."""
    if len(prediction_ids) > MAX_RESULT_WINDOW:
        raise ValueError(f"{len(prediction_ids)} ids in one search: at most {MAX_RESULT_WINDOW} (ask in chunks)")
    query = window_query(
        window,
        term(semconv.SPAN_KIND, semconv.SPAN_KIND_MODEL),
        term(semconv.MODEL_NAME, model),
        term(semconv.MODEL_VERSION, version),
        {"terms": {attr(semconv.PREDICTION_ID): list(prediction_ids)}},
    )
    return {
        "size": len(prediction_ids),
        "track_total_hits": False,
        "query": query,
        "_source": {"includes": [TIMESTAMP, TRACE_ID, *(attr(name) for name in PREDICTION_FIELDS)]},
    }
