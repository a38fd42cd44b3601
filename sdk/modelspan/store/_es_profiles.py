"""Operations from the profile data stream (docs/profiles.md): exact calls, errors, rows, latency on Elasticsearch.

``metrics-modelspan.profile-*`` holds one document per (model, version, sub-module, interval) and
process flush (``modelspan.elasticsearch.profiles``). For each question the store sends, in the same
``_msearch`` as the span search, ``profile_body``: sums of calls, errors, rows, spans started and
dropped and of latency (the exact mean), latency percentiles aggregated from the ``histogram`` field
(the merged DDSketch of every document), all per window and per interval, for the model and each
sub-module. ``overlay`` then replaces the span-counted operations of the span answer with these
where the window has profile documents (per model version and per sub-module, as on SQLite); a
window without any (data written before profiles) keeps the span answer. Module paths, outputs,
data quality and features are answered from the per-feature documents by ``_es_features``.

Percentiles: the window's use HDR histograms with 3 significant digits over the sketch's bucket
representatives (within 1 % of every latency they stand for), so they are within about 1.1 % of the
exact value of the same rank; per interval, Elasticsearch's default t-digest (as for spans), which
holds memory per bucket small across intervals x sub-modules.

The buckets are those of the span search's parts (intervals for the model, sub-modules x intervals
for the modules), so ``_es_queries.plan`` bounds them too: when it splits the span search in two,
the profile search is split the same way.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any, Literal

from modelspan import _time, semconv
from modelspan.elasticsearch import profiles
from modelspan.elasticsearch.layout import TIMESTAMP
from modelspan.store._answers import MAX_MODULES, PERCENTS
from modelspan.store._es_queries import MAX_MODELS, MAX_VERSIONS, window_query
from modelspan.store.types import Question, Window

Body = dict[str, Any]
Agg = Mapping[str, Any]
_HDR = {"number_of_significant_value_digits": 3}
_MODEL_ONLY = {"term": {profiles.MODULE: ""}}
_ONE_MS = _dt.timedelta(milliseconds=1)


def _kind() -> Body:
    return {"term": {profiles.KIND: profiles.KIND_OPERATIONS}}


def models_body(window: Window) -> Body:
    """Profiled calls per model version in ``window`` (the models' own calls, not sub-modules')."""
    versions = {"terms": {"field": profiles.VERSION, "size": MAX_VERSIONS},
                "aggs": {"calls": {"sum": {"field": profiles.CALLS}}}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": window_query(window, _MODEL_ONLY, _kind()),
        "aggs": {"models": {"terms": {"field": profiles.MODEL, "size": MAX_MODELS}, "aggs": {"versions": versions}}},
    }


def parse_models(response: Agg) -> dict[tuple[str, str], int]:
    """``{(model, version): profiled calls}`` of a ``models_body`` answer."""
    models = (response.get("aggregations") or {}).get("models", {})
    return {(str(model["key"]), str(version["key"])): int(version.get("calls", {}).get("value") or 0)
            for model in models.get("buckets", []) for version in model.get("versions", {}).get("buckets", [])}


def merge_counts(rows: list[tuple[str, str, int]],
                 profiled: Mapping[tuple[str, str], int]) -> list[tuple[str, str, int]]:
    """Span counts per model version, replaced by the profiled count where there is one; busiest model first."""
    merged = {(model, version): calls for model, version, calls in rows}
    merged.update(profiled)
    totals: dict[str, int] = {}
    for (model, _), calls in merged.items():
        totals[model] = totals.get(model, 0) + calls
    ordered = sorted(merged.items(), key=lambda item: (-totals[item[0][0]], item[0][0], -item[1], item[0][1]))
    return [(model, version, calls) for (model, version), calls in ordered if calls]


def _operations(question: Question, *, with_rows: bool) -> Body:
    names = dict(profiles.SUMS) if with_rows else {k: v for k, v in profiles.SUMS.items() if k != "rows"}
    sums: Body = {name: {"sum": {"field": field}} for name, field in names.items()}
    per_interval: Body = {name: sums[name] for name in ("calls", "errors", *(("rows",) if with_rows else ()))}
    per_interval["latency"] = {"percentiles": {"field": profiles.LATENCY, "percents": list(PERCENTS)}}
    start = _time.iso(question.window.start)
    last = _time.iso(question.window.end - _ONE_MS)
    return {
        **sums,
        "latency": {"percentiles": {"field": profiles.LATENCY, "percents": list(PERCENTS), "hdr": dict(_HDR)}},
        "intervals": {
            "date_histogram": {"field": TIMESTAMP, "fixed_interval": f"{question.interval_seconds}s",
                               "min_doc_count": 0, "extended_bounds": {"min": start, "max": last}},
            "aggs": per_interval,
        },
    }


def profile_body(question: Question, part: Literal["all", "calls", "modules"] = "all") -> Body:
    """The profile search of one (planned) question: the model's and its sub-modules' operations."""
    query = window_query(question.window, {"term": {profiles.MODEL: question.model}},
                         {"term": {profiles.VERSION: question.version}}, _kind())
    aggs: Body = {
        "calls": {"filter": _MODEL_ONLY, "aggs": _operations(question, with_rows=True)},
        "modules": {"filter": {"bool": {"must_not": [_MODEL_ONLY]}}, "aggs": {"names": {
            "terms": {"field": profiles.MODULE, "size": MAX_MODULES},
            "aggs": _operations(question, with_rows=False)}}},
    }
    if part != "all":
        aggs = {part: aggs[part]}
    return {"size": 0, "track_total_hits": False, "query": query, "aggs": aggs}


def _value(agg: Agg | None) -> float:
    value = (agg or {}).get("value")
    return 0.0 if value is None else float(value)


def _latency(agg: Agg | None, calls: float) -> Body:
    values = (agg or {}).get("values") or {}
    return {"values": values if calls else {str(p): None for p in PERCENTS}}


def _totals(answer: Agg, spans_stored: int) -> Body:
    calls = _value(answer.get("calls"))
    return {
        "doc_count": int(calls),
        "errors": {"doc_count": int(_value(answer.get("errors")))},
        "duration": {"avg": _value(answer.get("latency_sum")) / calls if calls else None},
        "latency": _latency(answer.get("latency"), calls),
        "profile": {"calls": int(calls), "spans": spans_stored, "started": int(_value(answer.get("spans"))),
                    "dropped": int(_value(answer.get("dropped")))},
    }


def overlay(calls: dict[str, Any], answer: Agg | None) -> bool:
    """Replace the span-counted operations in ``calls`` by the profiles' when the window has any."""
    if not answer or not answer.get("doc_count"):
        return False
    calls.update(_totals(answer, int(calls.get("doc_count", 0))))
    calls["rows"] = {"value": _value(answer.get("rows"))}
    by_key = {int(b["key"]): b for b in answer.get("intervals", {}).get("buckets", [])}
    intervals = calls.setdefault("intervals", {"buckets": [{"key": key} for key in sorted(by_key)]})
    for bucket in intervals["buckets"]:
        part = by_key.get(int(bucket["key"]), {})
        count, rows = _value(part.get("calls")), _value(part.get("rows"))
        bucket["doc_count"] = int(count)
        bucket["errors"] = {"doc_count": int(_value(part.get("errors")))}
        bucket["rates"] = {"buckets": [{"key": 1.0, "doc_count": int(count), "rows": {"value": rows}}] if count
                           else [], "sum_other_doc_count": 0}
        bucket["latency"] = _latency(part.get("latency"), count)
    return True


def overlay_modules(modules: dict[str, Any], answer: Agg | None) -> None:
    """Per sub-module operations from profiles where the window has them (``modules.names`` buckets)."""
    profiled = (answer or {}).get("names", {}).get("buckets", [])
    if not profiled:
        return
    names = modules.setdefault("names", {"buckets": []})
    buckets = {bucket["key"]: bucket for bucket in names.get("buckets", [])}
    for found in profiled:
        name = found["key"]
        spans = int(buckets.get(name, {}).get("doc_count", 0))
        intervals = []
        for part in found.get("intervals", {}).get("buckets", []):
            count = _value(part.get("calls"))
            intervals.append({"key": part["key"], "doc_count": int(count),
                              "errors": {"doc_count": int(_value(part.get("errors")))},
                              "latency": _latency(part.get("latency"), count)})
        bucket = {"key": name, **_totals(found, spans), "intervals": {"buckets": intervals}}
        bucket["profile"]["dropped"] = 0  # the export queue's drops are counted against the model's calls
        buckets[name] = bucket
    ordered = sorted(buckets.values(), key=lambda b: (-b["doc_count"], b["key"]))[:MAX_MODULES]
    names["buckets"] = ordered
    modules["doc_count"] = sum(b["doc_count"] for b in ordered)


def whole_intervals(window: Window) -> bool:
    """Whether profiles answer ``window``: it starts and ends on profile interval boundaries, or it is
    at least ``semconv.PROFILE_WHOLE_MINUTES_FROM`` intervals long (answered in whole intervals, each
    counted where it starts). A short window that cuts one (a demo phase of seconds) is answered from
    spans: a profile holds the calls of its whole interval, which would add calls from outside it."""
    step = semconv.PROFILE_INTERVAL_SECONDS * 10**9
    start, end = _time.to_ns(window.start), _time.to_ns(window.end)
    return (start % step == 0 and end % step == 0) or end - start >= semconv.PROFILE_WHOLE_MINUTES_FROM * step
