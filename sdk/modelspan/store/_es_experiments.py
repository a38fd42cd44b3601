"""The statistics of one experiment from Elasticsearch, by aggregation (design: pushdown, not pull).

Two kinds of request, over the experiment's spans in the window:

* ``units_body``: a ``composite`` aggregation over (arm, unit) of served calls, each bucket with its
  error count and ``extended_stats`` of ``duration`` (sum and sum of squares), paged with
  ``after_key``. Requests grow with the experiment's units (one per ``UNIT_PAGE``), never with its
  calls; calls without a unit fall in a ``missing_bucket`` per arm, which the analysis turns into
  exact units of one call from the sums of squares.
* ``summary_body``: per arm (``terms``), latency percentiles, errors, top labels, mean value and the
  model versions; and, for shadow calls, their count, failures, mean agreement and difference, and
  latency percentiles.

Labels are not joined here (outcomes live in their own index): reports from Elasticsearch say
``labels_joined: false`` and carry no accuracy effect and no McNemar test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelspan import semconv
from modelspan.elasticsearch.layout import DURATION, STATUS_CODE, STATUS_ERROR, attr
from modelspan.store._answers import PERCENTS
from modelspan.store._es_queries import term, window_query
from modelspan.store._experiment_stats import ArmOps, ExperimentStats, ShadowOps, UnitStats
from modelspan.store.types import Window

Body = dict[str, Any]
Search = Callable[[Body], Body]
UNIT_PAGE = 1000
MAX_ARMS = 50
TOP_LABELS = 10
MAX_VERSIONS = 20
_NS_PER_MS = 1e6
_ERRORS: Body = {"filter": {"term": {STATUS_CODE: STATUS_ERROR}}}


def _experiment(window: Window, kind: str, experiment: str) -> Body:
    return window_query(window, term(semconv.SPAN_KIND, kind), term(semconv.EXPERIMENT_ID, experiment))


def units_body(experiment: str, window: Window, after: dict[str, Any] | None = None,
               size: int = UNIT_PAGE) -> Body:
    """One page of (arm, unit) buckets of served calls, with errors and duration sums."""
    composite: Body = {"size": size, "sources": [
        {"arm": {"terms": {"field": attr(semconv.EXPERIMENT_ARM)}}},
        {"unit": {"terms": {"field": attr(semconv.EXPERIMENT_UNIT), "missing_bucket": True}}}]}
    if after is not None:
        composite["after"] = after
    return {"size": 0, "track_total_hits": False, "query": _experiment(window, semconv.SPAN_KIND_MODEL, experiment),
            "aggs": {"units": {"composite": composite, "aggs": {
                "errors": _ERRORS, "duration": {"extended_stats": {"field": DURATION}}}}}}


def summary_body(experiment: str, window: Window) -> Body:
    """Per-arm summaries of served calls and the shadow calls' summary, in one request."""
    latency = {"percentiles": {"field": DURATION, "percents": list(PERCENTS)}}
    arms = {"terms": {"field": attr(semconv.EXPERIMENT_ARM), "size": MAX_ARMS}, "aggs": {
        "errors": _ERRORS, "latency": latency,
        "labels": {"terms": {"field": attr(semconv.OUTPUT_LABEL), "size": TOP_LABELS}},
        "value": {"stats": {"field": attr(semconv.OUTPUT_VALUE)}},
        "models": {"terms": {"field": attr(semconv.MODEL_NAME), "size": MAX_VERSIONS}, "aggs": {
            "versions": {"terms": {"field": attr(semconv.MODEL_VERSION), "size": MAX_VERSIONS}}}}}}
    shadow = {"errors": _ERRORS, "latency": latency,
              "agreement": {"stats": {"field": attr(semconv.EXPERIMENT_AGREEMENT)}},
              "difference": {"stats": {"field": attr(semconv.EXPERIMENT_DIFFERENCE)}}}
    kinds = {"terms": {attr(semconv.SPAN_KIND): [semconv.SPAN_KIND_MODEL, semconv.SPAN_KIND_SHADOW]}}
    return {"size": 0, "track_total_hits": False,
            "query": window_query(window, kinds, term(semconv.EXPERIMENT_ID, experiment)),
            "aggs": {"served": {"filter": term(semconv.SPAN_KIND, semconv.SPAN_KIND_MODEL), "aggs": {"arms": arms}},
                     "shadow": {"filter": term(semconv.SPAN_KIND, semconv.SPAN_KIND_SHADOW), "aggs": shadow}}}


def parse_units(response: Body) -> tuple[list[UnitStats], dict[str, Any] | None]:
    """A page's units and the ``after_key`` of the next page (None when this page was the last)."""
    agg = response.get("aggregations", {}).get("units", {})
    units = []
    for bucket in agg.get("buckets", []):
        duration = bucket["duration"]
        unit = bucket["key"].get("unit")
        units.append(UnitStats(
            arm=str(bucket["key"]["arm"]), unit=None if unit is None else str(unit), calls=int(bucket["doc_count"]),
            errors=int(bucket["errors"]["doc_count"]), duration_ms_sum=float(duration.get("sum") or 0.0) / _NS_PER_MS,
            duration_ms_sum_sq=float(duration.get("sum_of_squares") or 0.0) / _NS_PER_MS**2))
    return units, (agg.get("after_key") if units else None)


def _percentiles(agg: Body) -> dict[str, float | None]:
    values = agg.get("values", {})
    return {f"p{p:g}": None if values.get(repr(float(p))) is None else float(values[repr(float(p))]) / _NS_PER_MS
            for p in PERCENTS}


def _versions(models: Body) -> list[str]:
    return sorted(f"{m['key']}:{v['key']}" for m in models["buckets"] for v in m["versions"]["buckets"])


def parse_summary(response: Body) -> tuple[list[ArmOps], ShadowOps | None]:
    aggs = response.get("aggregations", {})
    arms = []
    for bucket in aggs.get("served", {}).get("arms", {}).get("buckets", []):
        arms.append(ArmOps(
            arm=str(bucket["key"]), calls=int(bucket["doc_count"]), errors=int(bucket["errors"]["doc_count"]),
            latency_ms=_percentiles(bucket["latency"]),
            labels={str(b["key"]): int(b["doc_count"]) for b in bucket["labels"]["buckets"]},
            value_mean=bucket["value"].get("avg"), versions=_versions(bucket["models"]), labelled=None, accuracy=None))
    shadow = aggs.get("shadow", {})
    if not shadow.get("doc_count"):
        return arms, None
    agreement = shadow["agreement"]
    return arms, ShadowOps(
        calls=int(shadow["doc_count"]), failed=int(shadow["errors"]["doc_count"]), compared=int(agreement["count"]),
        churn=None if agreement.get("avg") is None else 1.0 - float(agreement["avg"]),
        mean_abs_difference=shadow["difference"].get("avg"), latency_ms=_percentiles(shadow["latency"]))


def experiment_stats(search: Search, experiment: str, window: Window, page: int = UNIT_PAGE) -> ExperimentStats:
    """``ExperimentStats`` from ``search`` (a function sending one body to the spans index)."""
    units: list[UnitStats] = []
    after: dict[str, Any] | None = None
    while True:
        found, after = parse_units(search(units_body(experiment, window, after, page)))
        units.extend(found)
        if after is None or len(found) < page:
            break
    arms, shadow = parse_summary(search(summary_body(experiment, window)))
    return ExperimentStats(units=units, arms=arms, shadow=shadow, labels_joined=False)
