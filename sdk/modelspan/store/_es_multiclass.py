"""The Elasticsearch store's answer to ``class_score_sums``: one aggregation, whatever the traffic.

Single-row multiclass spans carry one attribute per class, ``ml.output.probability.<k>``, and the
predicted column ``ml.output.class``. Per class: a ``filter`` on the predicted column (and its
complement), a ``range`` on the class's probability with its edges (``from`` inclusive, ``to``
exclusive) and a ``sum`` of it. A batch span's flat vectors cannot be split into rows inside an
aggregation (Elasticsearch flattens arrays): a batch that recorded its per-class sums with the asked
calibration (``ml.estimation.cbpe.class.<k>.*``, every row) gives them, summed (``ClassScoreSums.expected``:
no score order, so no ROC-AUC for those rows); any other batch's rows are counted as unscored, as the
binary ``score_sums`` does (docs/estimation.md). The body is type-checked in ``tests/contract``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelspan import semconv
from modelspan.elasticsearch.layout import attr
from modelspan.store._es_estimation import score_ranges
from modelspan.store._es_queries import model_spans_query
from modelspan.store.types import ClassScoreSums, Window

Body = dict[str, Any]


def _probability(k: int) -> str:
    return attr(f"{semconv.OUTPUT_PROBABILITY_PREFIX}{k}")


def _usable(classes: int) -> Body:
    """A single-row span with a predicted column and a probability in [0, 1] for every class."""
    return {"bool": {"filter": [{"exists": {"field": attr(semconv.OUTPUT_CLASS)}}, *(
        {"range": {_probability(k): {"gte": 0.0, "lte": 1.0}}} for k in range(classes))]}}


def _summed(classes: int) -> Body:
    """Sums of a batch's per-class CBPE scalars (3 per class, whatever the traffic) and its row counts."""
    sums: Body = {name: {"sum": {"field": attr(field)}} for name, field in (
        ("vectors", semconv.CBPE_VECTORS), ("unusable", semconv.CBPE_UNUSABLE))}
    for k in range(min(classes, semconv.MAX_CLASS_PROBABILITIES)):
        for suffix in SUFFIXES:
            sums[f"class_{k}_{suffix}"] = {"sum": {"field": attr(semconv.cbpe_class(k, suffix))}}
    return sums


SUFFIXES = ("predicted_rows", "predicted_sum", "sum")
"""A multiclass batch's per-class scalars (``instrumentation/_expected_performance.py``)."""


def class_score_sums_body(window: Window, model: str, version: str, edges: Sequence[Sequence[float]],
                          calibration: str | None = None) -> Body:
    """Rows and probability sums per (class, predicted it, interval) of a model version's single-row
    spans in ``window``, the rows of the calls without a usable vector; with ``calibration``, the per-class
    sums of the batches that recorded them with it."""
    per_class: Body = {}
    for k, class_edges in enumerate(edges):
        field = _probability(k)
        intervals = {"intervals": {"range": {"field": field, "ranges": score_ranges(class_edges)},
                                   "aggs": {"total": {"sum": {"field": field}}}}}
        predicted = {"term": {attr(semconv.OUTPUT_CLASS): k}}
        per_class[f"class_{k}_predicted"] = {"filter": predicted, "aggs": intervals}
        per_class[f"class_{k}_other"] = {"filter": {"bool": {"must_not": [predicted]}}, "aggs": intervals}
    predicted_column = {"exists": {"field": attr(semconv.OUTPUT_CLASS)}}
    summed = {"term": {attr(semconv.CBPE_CALIBRATION): calibration or ""}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": model_spans_query(window, model, version),
        "aggs": {
            "single": {"filter": _usable(len(edges)), "aggs": per_class},
            "with_class": {"filter": predicted_column},
            # calls without a vector (batches, other outputs): their rows, a call without a size being one
            "rest": {"filter": {"bool": {"must_not": [predicted_column, summed]}},
                     "aggs": {"rows": {"sum": {"field": attr(semconv.BATCH_SIZE), "missing": 1}}}},
            "summed": {"filter": {"bool": {"filter": [summed], "must_not": [predicted_column]}},
                       "aggs": _summed(len(edges))},
        },
    }


def parse_class_score_sums(response: Body, edges: Sequence[Sequence[float]]) -> ClassScoreSums:
    """``ClassScoreSums`` from the response to ``class_score_sums_body``."""
    aggregations = response.get("aggregations", {})
    single = aggregations.get("single", {})
    cells: dict[tuple[int, bool, int], tuple[int, float]] = {}
    for k in range(len(edges)):
        for name, flag in (("predicted", True), ("other", False)):
            buckets = single.get(f"class_{k}_{name}", {}).get("intervals", {}).get("buckets", [])
            for interval, cell in enumerate(buckets):
                if cell["doc_count"]:
                    cells[(k, flag, interval)] = (int(cell["doc_count"]), float(cell["total"]["value"] or 0.0))
    usable = int(single.get("doc_count", 0))
    rest = int(aggregations.get("rest", {}).get("rows", {}).get("value") or 0.0)
    invalid = int(aggregations.get("with_class", {}).get("doc_count", 0)) - usable
    summed = aggregations.get("summed", {})

    def total(name: str) -> float:
        return float(summed.get(name, {}).get("value") or 0.0)

    vectors = round(total("vectors"))
    expected = {k: (round(total(f"class_{k}_predicted_rows")), total(f"class_{k}_predicted_sum"),
                    total(f"class_{k}_sum")) for k in range(len(edges))} if vectors else {}
    return ClassScoreSums(tuple(tuple(float(e) for e in per_class) for per_class in edges), cells,
                          usable + vectors, rest + invalid + round(total("unusable")), expected, vectors)
