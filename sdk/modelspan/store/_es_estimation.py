"""The Elasticsearch store's answer to ``score_sums``: one aggregation, whatever the traffic.

Single-row model spans carry ``ml.output.label`` and ``ml.output.score``: a ``terms`` on the label,
a ``range`` on the score with the asked edges (``from`` inclusive, ``to`` exclusive, as
``ScoreSums`` counts them) and a ``sum`` of the score give every cell. A batch span's per-row
arrays cannot be paired inside an aggregation (Elasticsearch flattens arrays, so which score went
with which label is lost): a batch that recorded its CBPE sums with the asked calibration
(``ml.estimation.cbpe.*``, every row) gives them, summed (``ScoreSums.expected``: no score order, so no
ROC-AUC for those rows); any other batch's rows are counted in ``unscored`` and the finding says so
(docs/estimation.md). The body is type-checked against ``estypes.SearchRequest`` in ``tests/contract``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from modelspan import semconv
from modelspan.elasticsearch.layout import attr
from modelspan.store._es_queries import model_spans_query
from modelspan.store.types import ScoreSums, Window

MAX_SCORE_LABELS = 16
"""Predicted labels asked for (a binary classifier has two; the rest are counted as unscored)."""
Body = dict[str, Any]


def score_ranges(edges: Sequence[float]) -> list[Body]:
    """``range`` buckets for the intervals of ``edges``: below the first, between each pair, from the last.

    >>> score_ranges([0.2, 0.8])
    [{'to': 0.2}, {'from': 0.2, 'to': 0.8}, {'from': 0.8}]
    """
    if not edges:
        return [{}]
    inner = [{"from": low, "to": high} for low, high in pairwise(edges)]
    return [{"to": edges[0]}, *inner, {"from": edges[-1]}]


def score_sums_body(window: Window, model: str, version: str, edges: Sequence[float],
                    calibration: str | None = None) -> Body:
    """Rows and score sums per (label, score interval) of a model version's single-row spans in ``window``,
    the rows of its batch spans and its single-row spans (those without a usable label and score are
    unscored); with ``calibration``, the CBPE sums of the batches that recorded them with it."""
    score = attr(semconv.OUTPUT_SCORE)
    usable = {"bool": {"filter": [{"range": {score: {"gte": 0.0, "lte": 1.0}}},
                                  {"exists": {"field": attr(semconv.OUTPUT_LABEL)}}]}}
    intervals = {"range": {"field": score, "ranges": score_ranges(edges)},
                 "aggs": {"total": {"sum": {"field": score}}}}
    summed = {"term": {attr(semconv.CBPE_CALIBRATION): calibration or ""}}
    batch = {"bool": {"filter": [{"exists": {"field": attr(semconv.OUTPUT_LABELS)}}], "must_not": [summed]}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": model_spans_query(window, model, version),
        "aggs": {
            "single": {"filter": usable, "aggs": {"labels": {
                "terms": {"field": attr(semconv.OUTPUT_LABEL), "size": MAX_SCORE_LABELS},
                "aggs": {"intervals": intervals}}}},
            "batch": {"filter": batch, "aggs": {"rows": {"sum": {"field": attr(semconv.BATCH_SIZE)}}}},
            "single_rows": {"filter": {"bool": {"must_not": [{"exists": {"field": attr(semconv.OUTPUT_LABELS)}}]}}},
            "summed": {"filter": summed, "aggs": {name: {"sum": {"field": attr(field)}} for name, field in SUMS}},
        },
    }


SUMS = (("positive_rows", semconv.CBPE_POSITIVE_ROWS), ("positive_sum", semconv.CBPE_POSITIVE_SUM),
        ("negative_rows", semconv.CBPE_NEGATIVE_ROWS), ("negative_sum", semconv.CBPE_NEGATIVE_SUM),
        ("unusable", semconv.CBPE_UNUSABLE))
"""The per-call CBPE sums of a batch (``instrumentation/_expected_performance.py``), by aggregation name."""


def parse_score_sums(response: Body, edges: Sequence[float]) -> ScoreSums:
    """``ScoreSums`` from the response to ``score_sums_body`` (buckets in the order of the ranges)."""
    aggregations = response.get("aggregations", {})
    labels = aggregations.get("single", {}).get("labels", {})
    cells: dict[tuple[str, int], tuple[int, float]] = {}
    for bucket in labels.get("buckets", []):
        label = semconv.category_value(bucket.get("key_as_string", bucket["key"])) or ""
        for interval, cell in enumerate(bucket["intervals"]["buckets"]):
            if cell["doc_count"]:
                cells[(label, interval)] = (int(cell["doc_count"]), float(cell["total"]["value"] or 0.0))
    batch_rows = aggregations.get("batch", {}).get("rows", {}).get("value") or 0.0
    singles = aggregations.get("single_rows", {}).get("doc_count", 0)
    usable = aggregations.get("single", {}).get("doc_count", 0)
    unscored = int(batch_rows) + int(singles) - int(usable) + int(labels.get("sum_other_doc_count", 0))
    summed = {name: float(aggregations.get("summed", {}).get(name, {}).get("value") or 0.0) for name, _ in SUMS}
    expected = {label: (round(summed[f"{side}_rows"]), summed[f"{side}_sum"])
                for label, side in (("1", "positive"), ("0", "negative")) if summed[f"{side}_rows"]}
    return ScoreSums(tuple(float(e) for e in edges), cells, unscored + round(summed["unusable"]), expected)
