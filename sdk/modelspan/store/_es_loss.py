"""The Elasticsearch store's answer to ``loss_sums``: a regressor's expected-error sums, one aggregation.

The SDK writes per call the sums of E|y - ŷ| and E(y - ŷ)² over its rows and how many rows they cover
(``ml.estimation.*``, docs/estimation.md "Regression"), so a window needs only their totals: one aggregation
of ``sum`` metrics (``store/_sqlite_loss.py`` is SQLite's one query). The cost follows the spans, not the
rows of their batches. Rows of spans without the attributes are counted as unestimated (``1`` for a
single-row call, ``ml.batch.size`` for a batch).
"""

from __future__ import annotations

from typing import Any

from modelspan import semconv
from modelspan.elasticsearch.layout import attr
from modelspan.store._es_queries import model_spans_query
from modelspan.store.types import LossSums, Window

Body = dict[str, Any]


def loss_sums_body(window: Window, model: str, version: str) -> Body:
    """The aggregation of a model version's expected-error sums in ``window`` and its unestimated rows."""
    estimated = {"exists": {"field": attr(semconv.ESTIMATION_ROWS)}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": model_spans_query(window, model, version),
        "aggs": {
            "estimated": {"filter": estimated, "aggs": {
                "rows": {"sum": {"field": attr(semconv.ESTIMATION_ROWS)}},
                "abs_error": {"sum": {"field": attr(semconv.ESTIMATION_ABS_ERROR)}},
                "squared_error": {"sum": {"field": attr(semconv.ESTIMATION_SQUARED_ERROR)}}}},
            "other": {"filter": {"bool": {"must_not": [estimated]}}, "aggs": {
                "batch_rows": {"sum": {"field": attr(semconv.BATCH_SIZE)}},
                "batches": {"filter": {"exists": {"field": attr(semconv.BATCH_SIZE)}}}}},
        },
    }


def parse_loss_sums(response: Body) -> LossSums:
    """``LossSums`` from the response to ``loss_sums_body``."""
    aggregations = response.get("aggregations", {})
    estimated, other = aggregations.get("estimated", {}), aggregations.get("other", {})

    def total(bucket: Body, name: str) -> float:
        return float(bucket.get(name, {}).get("value") or 0.0)

    singles = int(other.get("doc_count", 0)) - int(other.get("batches", {}).get("doc_count", 0))
    return LossSums(int(total(estimated, "rows")), total(estimated, "abs_error"),
                    total(estimated, "squared_error"), int(total(other, "batch_rows")) + singles)
