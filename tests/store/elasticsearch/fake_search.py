"""Query and aggregation evaluation for the loopback Elasticsearch (``fake_es``), over stored documents.

Evaluates what the analyzer, the store and the alert queries send (bool/term/terms/range/exists, in
``fake_query``; filter, terms, range, sum, min, max, value_count, stats, extended_stats, weighted_avg,
percentiles, date_histogram, histogram, top_hits; ``terms`` ordered by count, key or a metric;
``bucket_script`` with arithmetic only, ``fake_pipeline``); metrics and the ``histogram``
aggregation over a ``histogram`` field weigh each value by its count.
A row may stand for ``weight`` identical spans, so a million spans stay cheap to hold while every
count, sum and percentile is still computed, not canned. Percentiles are exact (weighted nearest
rank) where Elasticsearch uses t-digest estimates. Buckets are counted per search the way
``search.max_buckets`` counts them.
"""

from __future__ import annotations

import datetime as _dt
import math
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from tests.store.elasticsearch.fake_pipeline import bucket_script
from tests.store.elasticsearch.fake_query import ElasticError, _same, field_values, matches, to_millis

Doc = dict[str, Any]
Rows = list[tuple[Doc, int]]  # (document, how many identical spans it stands for)

MAX_RESULT_WINDOW = 10_000
"""``index.max_result_window``'s default: ``from + size`` above it fails the search."""
MAX_BUCKETS = 65_536
"""``search.max_buckets``'s default: a response with more buckets fails as a whole."""
_buckets = threading.local()
__all__ = ["ElasticError", "field_values", "matches", "to_millis"]


def _count_buckets(buckets: list[Any]) -> None:
    _buckets.count = getattr(_buckets, "count", 0) + len(buckets)


def _numbers(rows: Rows, path: str, missing: Any = None) -> Iterator[tuple[float, int]]:
    for doc, weight in rows:
        values = field_values(doc, path)
        if not values and missing is not None:
            values = [missing]
        for value in values:
            if isinstance(value, dict):  # a ``histogram`` field: each value stands for its count
                yield from ((float(v), weight * int(c)) for v, c in zip(value["values"], value["counts"], strict=True))
                continue
            yield float(value), weight


def aggregate(rows: Rows, aggs: dict[str, Any]) -> dict[str, Any]:
    answer = {name: _one(rows, spec) for name, spec in aggs.items() if "bucket_script" not in spec}
    for name, spec in aggs.items():  # pipelines read their siblings' answers
        if "bucket_script" in spec:
            value = bucket_script(answer, spec["bucket_script"])
            if value is not None:  # gap_policy skip (the default): no value, no output
                answer[name] = {"value": value}
    return answer


def _one(rows: Rows, spec: dict[str, Any]) -> dict[str, Any]:
    sub = spec.get("aggs", {})
    (kind, arg), = ((k, v) for k, v in spec.items() if k != "aggs")
    if kind == "filter":
        kept = [(d, w) for d, w in rows if matches(d, arg)]
        return {"doc_count": sum(w for _, w in kept), **aggregate(kept, sub)}
    if kind in _BUCKETS:
        return _BUCKETS[kind](rows, arg, sub)
    return _METRICS[kind](rows, arg)


def _terms(rows: Rows, arg: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    groups: dict[Any, Rows] = defaultdict(list)
    for doc, weight in rows:
        values = field_values(doc, arg["field"])
        if not values and "missing" in arg:
            values = [arg["missing"]]
        for value in dict.fromkeys(values):  # a document counts once per distinct value
            groups[value].append((doc, weight))
    keys = list(groups)
    if isinstance(arg.get("include"), list):
        keys = [k for k in keys if any(_same(k, i) for i in arg["include"])]
    if isinstance(arg.get("exclude"), list):
        keys = [k for k in keys if not any(_same(k, e) for e in arg["exclude"])]
    every = [{"key": key, "doc_count": sum(w for _, w in groups[key]), **aggregate(groups[key], sub)} for key in keys]
    every.sort(key=lambda b: (-b["doc_count"], str(b["key"])))
    for name, direction in reversed(_order(arg.get("order"))):  # stable sorts: the first criterion last
        every.sort(key=lambda b, n=name: _sort_value(b, n), reverse=direction == "desc")
    size = arg.get("size", 10)
    buckets = every[:size]
    _count_buckets(buckets)
    return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": sum(b["doc_count"] for b in every[size:]),
            "buckets": buckets}


def _order(order: Any) -> list[tuple[str, str]]:
    """``order`` of a ``terms`` aggregation: a dict or a list of dicts, by ``_count``, ``_key`` or a sub-aggregation."""
    criteria = order if isinstance(order, list) else [order] if order else []
    return [(name, direction) for criterion in criteria for name, direction in criterion.items()]


def _sort_value(bucket: dict[str, Any], name: str) -> Any:
    if name == "_count":
        return bucket["doc_count"]
    if name == "_key":
        return str(bucket["key"])
    value = bucket[name].get("value")  # a single-value metric sub-aggregation
    return -math.inf if value is None else value


def _histogram(rows: Rows, arg: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    """``histogram`` by ``interval``: over a ``histogram`` field a bucket counts the values' counts, as
    Elasticsearch does (sub-aggregations are not allowed there, nor here)."""
    step = float(arg["interval"])
    counts: dict[float, int] = defaultdict(int)
    groups: dict[float, Rows] = defaultdict(list)
    for doc, weight in rows:
        for value in field_values(doc, arg["field"]):
            pairs = zip(value["values"], value["counts"], strict=True) if isinstance(value, dict) else [(value, 1)]
            for number, count in pairs:
                key = math.floor(float(number) / step) * step
                counts[key] += weight * int(count)
                if not isinstance(value, dict):
                    groups[key].append((doc, weight))
    if sub and any(isinstance(v, dict) for d, _ in rows for v in field_values(d, arg["field"])):
        raise ElasticError(400, "illegal_argument_exception", "histogram fields allow no sub-aggregations")
    keys = sorted(counts)
    if keys and int(arg.get("min_doc_count", 0)) == 0:  # empty buckets between the first and the last
        keys = [keys[0] + step * n for n in range(round((keys[-1] - keys[0]) / step) + 1)]
    buckets = [{"key": key, "doc_count": counts.get(key, 0), **aggregate(groups.get(key, []), sub)} for key in keys
               if counts.get(key, 0) >= int(arg.get("min_doc_count", 0))]
    _count_buckets(buckets)
    return {"buckets": buckets}


def _range(rows: Rows, arg: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    buckets = []
    for spec in arg["ranges"]:
        low, high = spec.get("from", -math.inf), spec.get("to", math.inf)
        kept = [(d, w) for d, w in rows
                if any(low <= float(v) < high for v in field_values(d, arg["field"]))]
        bucket: dict[str, Any] = {"key": f"{_edge(spec.get('from'))}-{_edge(spec.get('to'))}",
                                  "doc_count": sum(w for _, w in kept)}
        bucket.update({k: float(spec[k]) for k in ("from", "to") if k in spec})
        bucket.update(aggregate(kept, sub))
        buckets.append(bucket)
    _count_buckets(buckets)
    return {"buckets": buckets}


def _edge(value: float | None) -> str:
    return "*" if value is None else repr(float(value))


def _date_histogram(rows: Rows, arg: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    step = _seconds(arg["fixed_interval"]) * 1000.0
    groups: dict[float, Rows] = defaultdict(list)
    for doc, weight in rows:
        for moment in field_values(doc, arg["field"]):
            groups[math.floor(moment / step) * step].append((doc, weight))
    bounds = arg.get("extended_bounds")
    keys = set(groups)
    if bounds:
        key = math.floor(to_millis(bounds["min"]) / step) * step
        while key <= to_millis(bounds["max"]):
            keys.add(key)
            key += step
    buckets = []
    for key in sorted(keys):
        text = _dt.datetime.fromtimestamp(key / 1000, _dt.timezone.utc).isoformat(timespec="milliseconds")
        buckets.append({"key_as_string": text.replace("+00:00", "Z"), "key": int(key),
                        "doc_count": sum(w for _, w in groups[key]), **aggregate(groups[key], sub)})
    _count_buckets(buckets)
    return {"buckets": buckets}


def _seconds(interval: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for unit in ("ms", "s", "m", "h", "d"):
        if interval.endswith(unit) and interval[: -len(unit)].isdigit():
            return int(interval[: -len(unit)]) * units[unit]
    raise ValueError(f"bad interval {interval!r}")


def _top_hits(rows: Rows, arg: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    ordered = sorted(rows, key=lambda r: -max(field_values(r[0], "@timestamp") or [0.0]))
    includes = arg.get("_source", {}).get("includes", [])
    hits = [{"_index": doc.get("_index", "traces-modelspan.otel-default"), "_id": doc.get("span_id", ""),
             "_score": None, "_source": {k: source_of(doc)[k] for k in includes if k in source_of(doc)},
             "sort": [int(max(field_values(doc, "@timestamp") or [0.0]))]}
            for doc, _ in ordered[: arg.get("size", 3)]]
    return {"hits": {"total": {"value": sum(w for _, w in rows), "relation": "eq"}, "max_score": None,
                     "hits": hits}}


def _stats(rows: Rows, arg: dict[str, Any]) -> dict[str, Any]:
    count = total = squares = 0.0
    low, high = math.inf, -math.inf
    for value, weight in _numbers(rows, arg["field"], arg.get("missing")):
        count += weight
        total += value * weight
        squares += value * value * weight
        low, high = min(low, value), max(high, value)
    if not count:
        return {"count": 0, "min": None, "max": None, "avg": None, "sum": 0.0}
    return {"count": int(count), "min": low, "max": high, "avg": total / count, "sum": total,
            "_squares": squares}


def _extended_stats(rows: Rows, arg: dict[str, Any]) -> dict[str, Any]:
    stats = _stats(rows, arg)
    squares = stats.pop("_squares", None)
    names = ("variance", "variance_population", "variance_sampling", "std_deviation",
             "std_deviation_population", "std_deviation_sampling")
    if squares is None:
        return {**stats, "sum_of_squares": None, **dict.fromkeys(names)}
    count, mean = stats["count"], stats["avg"]
    variance = max(squares / count - mean * mean, 0.0)
    sampling = variance * count / (count - 1) if count > 1 else None
    return {**stats, "sum_of_squares": squares, "variance": variance, "variance_population": variance,
            "variance_sampling": sampling, "std_deviation": math.sqrt(variance),
            "std_deviation_population": math.sqrt(variance),
            "std_deviation_sampling": None if sampling is None else math.sqrt(sampling)}


def _plain_stats(rows: Rows, arg: dict[str, Any]) -> dict[str, Any]:
    stats = _stats(rows, arg)
    stats.pop("_squares", None)
    return stats


def _percentiles(rows: Rows, arg: dict[str, Any]) -> dict[str, Any]:
    pairs = sorted(_numbers(rows, arg["field"], arg.get("missing")))
    total = sum(w for _, w in pairs)
    values: dict[str, float | None] = {}
    for percent in arg.get("percents", [1, 5, 25, 50, 75, 95, 99]):
        if not total:
            values[repr(float(percent))] = None
            continue
        rank, seen = percent / 100.0 * total, 0
        for value, weight in pairs:
            seen += weight
            if seen >= rank:
                values[repr(float(percent))] = value
                break
    return {"values": values}


def _weighted_avg(rows: Rows, arg: dict[str, Any]) -> dict[str, Any]:
    total = weights = 0.0
    for doc, count in rows:
        value, weight = field_values(doc, arg["value"]["field"]), field_values(doc, arg["weight"]["field"])
        if value and weight:
            total += float(value[0]) * float(weight[0]) * count
            weights += float(weight[0]) * count
    return {"value": total / weights if weights else None}


def _sum(rows: Rows, arg: dict[str, Any]) -> dict[str, Any]:
    return {"value": float(sum(v * w for v, w in _numbers(rows, arg["field"], arg.get("missing"))))}


def _extreme(pick: Any) -> Any:
    def metric(rows: Rows, arg: dict[str, Any]) -> dict[str, Any]:
        values = [v for v, _ in _numbers(rows, arg["field"], arg.get("missing"))]
        return {"value": pick(values) if values else None}
    return metric


def _value_count(rows: Rows, arg: dict[str, Any]) -> dict[str, Any]:
    return {"value": sum(w * len(field_values(d, arg["field"])) for d, w in rows)}


def _composite_key(key: tuple[tuple[str, Any], ...]) -> tuple[tuple[bool, str], ...]:
    # Ascending, a missing value first (Elasticsearch's default for ``missing_bucket``).
    return tuple((value is not None, "" if value is None else str(value)) for _, value in key)


def _composite(rows: Rows, arg: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    """``composite`` with ``terms`` sources (``missing_bucket`` honoured), paged by ``after``."""
    groups: dict[tuple[tuple[str, Any], ...], Rows] = defaultdict(list)
    for doc, weight in rows:
        key = []
        for source in arg["sources"]:
            (name, spec), = source.items()
            values = field_values(doc, spec["terms"]["field"])
            if not values and not spec["terms"].get("missing_bucket"):
                break
            key.append((name, values[0] if values else None))
        else:
            groups[tuple(key)].append((doc, weight))
    ordered = sorted(groups, key=_composite_key)
    if "after" in arg:
        after = _composite_key(tuple(arg["after"].items()))
        ordered = [k for k in ordered if _composite_key(k) > after]
    page = ordered[: arg.get("size", 10)]
    buckets = [{"key": dict(k), "doc_count": sum(w for _, w in groups[k]), **aggregate(groups[k], sub)} for k in page]
    _count_buckets(buckets)
    return {"buckets": buckets, **({"after_key": buckets[-1]["key"]} if buckets else {})}


_BUCKETS = {"terms": _terms, "range": _range, "date_histogram": _date_histogram, "top_hits": _top_hits,
            "composite": _composite, "histogram": _histogram}
_METRICS = {"sum": _sum, "min": _extreme(min), "max": _extreme(max), "value_count": _value_count,
            "stats": _plain_stats, "extended_stats": _extended_stats, "percentiles": _percentiles,
            "weighted_avg": _weighted_avg}


def run_search(rows: Rows, body: dict[str, Any], max_result_window: int,
               max_buckets: int) -> tuple[dict[str, Any], int]:
    """The SearchResponse for ``body`` over ``rows``, and how many buckets it made."""
    wanted = int(body.get("from", 0)) + int(body.get("size", 10))
    if wanted > max_result_window:
        raise ElasticError(400, "illegal_argument_exception",
                           f"Result window is too large, from + size must be less than or equal to: "
                           f"[{max_result_window}] but was [{wanted}].")
    rows = [(d, w) for d, w in rows if matches(d, body.get("query"))]
    response: dict[str, Any] = {"took": 1, "timed_out": False,
                                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                                "hits": {"max_score": None, "hits": _hits(rows, body)}}
    if body.get("track_total_hits", True) is not False:
        response["hits"]["total"] = {"value": sum(w for _, w in rows), "relation": "eq"}
    _buckets.count = 0
    if body.get("aggs"):
        response["aggregations"] = aggregate(rows, body["aggs"])
        if _buckets.count > max_buckets:
            raise ElasticError(400, "too_many_buckets_exception",
                               f"Trying to create too many buckets. Must be less than or equal to: "
                               f"[{max_buckets}] but this number of buckets was exceeded. "
                               f"This limit can be set by changing the [search.max_buckets] cluster level "
                               f"setting.")
    return response, int(_buckets.count)


def source_of(doc: Doc) -> Doc:
    """What was sent (``_source``) for a stored row; rows added directly are their own source."""
    source = doc.get("_source")
    return source if isinstance(source, dict) else {k: v for k, v in doc.items() if k not in ("_id", "_index")}


def _sort_key(doc: Doc, fields: list[str]) -> list[str]:
    return [str((field_values(doc, f) or [""])[0]) for f in fields]


def _hits(rows: Rows, body: dict[str, Any]) -> list[dict[str, Any]]:
    sort = [next(iter(s)) if isinstance(s, dict) else s for s in body.get("sort", [])]
    if sort:
        rows = sorted(rows, key=lambda r: _sort_key(r[0], sort))
        after = body.get("search_after")
        if after:
            rows = [r for r in rows if _sort_key(r[0], sort) > [str(a) for a in after]]
    includes = body.get("_source", {}).get("includes") if isinstance(body.get("_source"), dict) else None
    hits = []
    for doc, _ in rows[: body.get("size", 10)]:
        full = source_of(doc)
        source = {k: v for k, v in full.items() if includes is None or k in includes or k == "attributes"}
        if includes is not None and "attributes" in source:
            wanted = {i[len("attributes."):] for i in includes if i.startswith("attributes.")}
            source["attributes"] = {k: v for k, v in full["attributes"].items() if k in wanted}
        hits.append({"_index": str(doc.get("_index", "fake")), "_id": str(doc.get("_id", doc.get("span_id", ""))),
                     "_score": None, "_source": source, "sort": _sort_key(doc, sort)})
    return hits
