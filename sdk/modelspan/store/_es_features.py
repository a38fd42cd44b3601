"""Drift, data quality, outputs and module paths from the per-feature profile documents (docs/profiles.md).

``modelspan.elasticsearch.feature_profiles`` writes, per model profile flush, a document per feature,
per tracked category, per (module path, output label) and one of data-quality counts. For each question
the store adds ``feature_body`` to its ``_msearch`` (one more search per question, whatever the traffic
or the number of features): aggregations only, no documents.

- ``features``: one ``terms`` on the feature name (the question's columns) with, per feature, the sums
  of its counts, sums of values and squares, min and max; under a filter on the question's baseline id,
  per number of bins (``width``), the bins' (categories') counts summed by a ``histogram`` aggregation
  with interval 1 over the index-valued ``histogram`` field;
- ``c<i>_unseen`` (categorical columns): the most frequent tracked categories outside the baseline's;
- ``paths``: calls per module path and per output label (ordered by calls) and the total;
- ``quality``: failed values and calls per data-quality check.

``overlay`` turns the answer into the same per-feature records SQLite reads (``_profile_columns``) and
lays it over the span answer when the window has quality documents (every profiled model interval has
one) and holds its profile intervals whole (``_es_profiles.whole_intervals``); otherwise the spans
answer. Example trace ids of paths come from the span answer (sampled spans).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelspan import semconv
from modelspan.elasticsearch import feature_profiles as fp
from modelspan.elasticsearch import profiles
from modelspan.store._answers import BATCH_SUMS, MAX_LABELS, MAX_PATHS, MAX_UNSEEN_EXAMPLES, span_oov
from modelspan.store._es_queries import window_query
from modelspan.store._profile_columns import Profiled, column_aggs
from modelspan.store.types import Column, Question

Body = dict[str, Any]
Agg = Mapping[str, Any]
MAX_WIDTHS = 4
"""Distinct bin counts kept under one baseline id (one in practice: the id names the baseline's bins)."""
_BY_CALLS = [{"calls": "desc"}, {"_key": "asc"}]
_BINNED = (semconv.STAT_COUNT, semconv.STAT_UNSEEN_COUNT, "other")
_TEXT = fp.TEXT_COUNTS + fp.TEXT_SUMS


def _kind(kind: str) -> Body:
    return {"term": {profiles.KIND: kind}}


def _sum(field: str) -> Body:
    return {"sum": {"field": field}}


def _features(question: Question) -> Body:
    per_feature: Body = {stat: _sum(profiles.metric(fp.feature_metric(stat))) for stat in BATCH_SUMS}
    per_feature["min"] = {"min": {"field": profiles.metric(fp.feature_metric(semconv.STAT_MIN))}}
    per_feature["max"] = {"max": {"field": profiles.metric(fp.feature_metric(semconv.STAT_MAX))}}
    if any(column.kind == "text" for column in question.columns):  # token counts (SDKs that write them)
        per_feature.update({stat: _sum(profiles.metric(fp.feature_metric(stat))) for stat in _TEXT})
        per_feature["oov_docs"] = {"value_count": {"field": profiles.metric(fp.feature_metric("oov_rate_count"))}}
    if question.baseline_id is not None:
        binned: Body = {stat: _sum(profiles.metric(fp.feature_metric(stat))) for stat in _BINNED}
        binned["bins"] = {"histogram": {"field": fp.BINS, "interval": 1, "min_doc_count": 1}}
        binned["cats"] = {"histogram": {"field": fp.CATEGORIES, "interval": 1, "min_doc_count": 1}}
        per_feature["same"] = {"filter": {"term": {fp.BASELINE: question.baseline_id}}, "aggs": {"widths": {
            "terms": {"field": fp.WIDTH, "size": MAX_WIDTHS}, "aggs": binned}}}
    names = sorted({str(column.name) for column in question.columns})
    return {"filter": _kind(fp.KIND_FEATURE), "aggs": {"names": {
        "terms": {"field": fp.FEATURE, "size": len(names), "include": names}, "aggs": per_feature}}}


def _unseen(column: Column) -> Body:
    values: Body = {"field": fp.CATEGORY, "size": MAX_UNSEEN_EXAMPLES, "order": list(_BY_CALLS)}
    known = sorted(set(column.vocabulary) | set(column.categories))
    if known:
        values["exclude"] = known
    count = _sum(profiles.metric(fp.feature_metric(semconv.STAT_COUNT)))
    return {"filter": {"bool": {"filter": [_kind(fp.KIND_CATEGORY), {"term": {fp.FEATURE: str(column.name)}}]}},
            "aggs": {"values": {"terms": values, "aggs": {"calls": count}}}}


def _paths() -> Body:
    calls = {"calls": _sum(fp.PATH_CALLS)}
    labels = {"terms": {"field": fp.LABEL, "size": MAX_LABELS, "order": list(_BY_CALLS)}, "aggs": calls}
    names = {"terms": {"field": fp.PATH, "size": MAX_PATHS, "order": list(_BY_CALLS)},
             "aggs": {**calls, "labels": labels}}
    return {"filter": _kind(fp.KIND_PATH), "aggs": {"total": _sum(fp.PATH_CALLS), "names": names}}


def _quality() -> Body:
    aggs: Body = {"features_dropped": _sum(profiles.metric(fp.FEATURES_DROPPED_METRIC))}
    for number, check in enumerate(semconv.CHECKS):
        aggs[f"q{number}_values"] = _sum(profiles.metric(fp.check_metric(check, "values")))
        aggs[f"q{number}_calls"] = _sum(profiles.metric(fp.check_metric(check, "calls")))
    return {"filter": _kind(fp.KIND_QUALITY), "aggs": aggs}


def feature_body(question: Question) -> Body:
    """The per-feature profile search of one question (the model's own profiles, never sub-modules')."""
    query = window_query(question.window, {"term": {profiles.MODEL: question.model}},
                         {"term": {profiles.VERSION: question.version}}, {"term": {profiles.MODULE: ""}},
                         {"terms": {profiles.KIND: [fp.KIND_FEATURE, fp.KIND_CATEGORY, fp.KIND_PATH,
                                                    fp.KIND_QUALITY]}})
    aggs: Body = {"quality": _quality(), "paths": _paths()}
    if question.columns:
        aggs["features"] = _features(question)
    for index, column in enumerate(question.columns):
        if column.kind == "categorical":
            aggs[f"c{index}_unseen"] = _unseen(column)
    return {"size": 0, "track_total_hits": False, "query": query, "aggs": aggs}


def _value(agg: Agg | None) -> float:
    value = (agg or {}).get("value")
    return 0.0 if value is None else float(value)


def _counts(histogram: Agg | None, width: int) -> list[int]:
    counts = [0] * width
    for bucket in (histogram or {}).get("buckets", []):
        index = int(bucket["key"])
        if 0 <= index < width:
            counts[index] += int(bucket["doc_count"])
    return counts


def _records(column: Column, found: Agg, unseen: Agg | None, baseline_id: str | None) -> list[Body]:
    """One feature's answer as records: those over the question's baseline (binned) and the rest."""
    totals: Body = {stat: _value(found.get(stat)) for stat in BATCH_SUMS}
    rest: Body = {**totals, "min": (found.get("min") or {}).get("value"), "max": (found.get("max") or {}).get("value")}
    categorical = column.kind == "categorical"
    width = len(column.categories) if categorical else len(column.edges) + 1 if column.edges else 0
    if _value(found.get("oov_docs")) > 0:  # documents of an SDK that counts tokens (else the spans' OOV rate)
        rest.update({stat: _value(found.get(stat)) for stat in _TEXT})
    records = [rest]
    for bucket in (found.get("same") or {}).get("widths", {}).get("buckets", []):
        if int(bucket["key"]) != width or (not categorical and not column.edges):
            continue
        binned: Body = {stat: _value(bucket.get(stat)) for stat in _BINNED}
        binned["baseline_id"] = baseline_id
        binned["categories" if categorical else "bins"] = _counts(bucket.get("cats" if categorical else "bins"), width)
        for stat in _BINNED:
            if stat in rest:
                rest[stat] -= binned[stat]
        records.append(binned)
    top = (unseen or {}).get("values", {}).get("buckets", [])
    rest["top"] = {str(b["key"]): int(_value(b.get("calls"))) for b in top}
    return records


def profiled(question: Question, answer: Agg) -> Profiled | None:
    """The answer of ``feature_body`` as ``Profiled`` records, or None when the window has no feature profiles."""
    quality = answer.get("quality") or {}
    if not quality.get("doc_count"):
        return None
    found = Profiled()
    by_name = {str(b["key"]): b for b in (answer.get("features") or {}).get("names", {}).get("buckets", [])}
    for index, column in enumerate(question.columns):
        if str(column.name) in by_name:
            found.features[str(column.name)] = _records(column, by_name[str(column.name)],
                                                        answer.get(f"c{index}_unseen"), question.baseline_id)
    for bucket in (answer.get("paths") or {}).get("names", {}).get("buckets", []):
        labels = {str(b["key"]): int(_value(b.get("calls"))) for b in bucket.get("labels", {}).get("buckets", [])}
        found.paths[str(bucket["key"])] = {**labels, **_unlabelled(bucket, labels)}
    for number, check in enumerate(semconv.CHECKS):
        found.checks[check] = [int(_value(quality.get(f"q{number}_values"))),
                               int(_value(quality.get(f"q{number}_calls")))]
    found.dropped = int(_value(quality.get("features_dropped")))
    shown = sum(sum(labels.values()) for labels in found.paths.values())
    beyond = int(_value((answer.get("paths") or {}).get("total"))) - shown  # the SDK's "other" path, MAX_PATHS
    if beyond > 0:
        found.paths[fp.OTHER] = {"": beyond}
    return found


def _unlabelled(bucket: Agg, labels: Mapping[str, int]) -> dict[str, int]:
    """Calls of a path under labels left out (the SDK's "other" label, or beyond ``MAX_LABELS``)."""
    rest = int(_value(bucket.get("calls"))) - sum(labels.values())
    return {fp.OTHER: rest} if rest > 0 else {}


def overlay(question: Question, calls: dict[str, Any], found: Profiled) -> None:
    """Lay the profiles' columns, module paths and data-quality counts over the span answer ``calls``."""
    examples = {b["key"]: b.get("examples") for b in calls.get("paths", {}).get("buckets", [])}
    buckets = []
    paths = {path: labels for path, labels in found.paths.items() if path != fp.OTHER}
    for path, labels in sorted(paths.items(), key=lambda item: (-sum(item[1].values()), item[0])):
        ordered = sorted(((label, count) for label, count in labels.items() if label != fp.OTHER),
                         key=lambda pair: (-pair[1], pair[0]))
        shown = [{"key": label, "doc_count": count} for label, count in ordered]
        buckets.append({"key": path, "doc_count": sum(labels.values()), "labels": {"buckets": shown},
                        "examples": examples.get(path) or {"hits": {"hits": []}}})
    calls["paths"] = {"buckets": buckets, "sum_other_doc_count": sum(found.paths.get(fp.OTHER, {}).values())}
    for number, check in enumerate(semconv.CHECKS):
        values, failed_calls = found.checks.get(check, [0, 0])
        calls[f"q{number}_values"] = {"value": float(values)}
        calls[f"q{number}_calls"] = {"doc_count": int(failed_calls)}
    for index, column in enumerate(question.columns):
        prefix = f"c{index}_"
        spans = {key: calls.pop(key) for key in [key for key in calls if key.startswith(prefix)]}
        profiled = column_aggs(index, column, found, question.baseline_id)  # replaces the spans' answer
        calls.update(profiled)
        if column.kind == "text" and prefix + "p_oov" not in profiled:  # profiles without token counts
            total, weight = span_oov(prefix, spans)
            calls[prefix + "p_oov"] = {"sum": {"value": total}, "count": {"value": float(weight)}}
