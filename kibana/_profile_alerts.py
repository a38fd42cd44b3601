"""Latency, QPS and error-rate alerts over the profile data stream: exact counts from every call.

Profiles (docs/profiles.md) hold one document per model version, sub-module, minute and process
flush, counted before any span sampling, so these alerts see every call whatever the span sample
rate. Every field name comes from ``modelspan.elasticsearch.profiles``, the one owner of the
stream's mapping.

Windows are whole minutes, ending one minute before now (``now-6m/m`` to ``now-1m/m``): a profile
counts in the window where its minute starts, and the minute in progress is not flushed yet (a
process flushes each interval after it ends), so a window that reached ``now`` would count a partial
minute as a drop. A window of ``n`` minutes is therefore exactly ``60 n`` seconds of calls:

- QPS = sum(``calls``) / window seconds, per model version (a ``bucket_script``);
- error rate = sum(``errors``) / sum(``calls``) (a ``bucket_script``);
- latency p95 = the ``percentiles`` aggregation over the ``histogram`` field (the merged DDSketch of
  every document, within 1 % of each latency; HDR with 3 significant digits adds at most 0.1 %,
  and matches what the analyzer reports for a window, ``store/_es_profiles.py``).

Only the models' own calls count (``ml.module.name`` is ``""``; sub-modules have their own
documents), and only ``operations`` profiles (per-feature documents share the stream).

The watches compute these in their search; the Kibana rules are ES|QL ``.es-query`` rules doing the
same arithmetic (``STATS ... | EVAL``) for QPS and errors. ES|QL of the versions we target (8.17,
9.x) cannot read a ``histogram`` field, so the latency rule keeps reading the analyzer's
``latency_p95_ms`` measurement, which the analyzer computes from the same histogram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelspan.elasticsearch import profiles
from modelspan.elasticsearch.layout import TIMESTAMP

Json = dict[str, Any]
PATTERN = profiles.PATTERN
MAX_BUCKETS = 100
LAG_MINUTES = 1
"""The newest minute not counted: it may not be flushed yet."""
RECENT_MINUTES = 5
HOUR_MINUTES = 60
WEEK_MINUTES = 7 * 24 * 60
HDR = {"number_of_significant_value_digits": 3}


def minutes(first: int, last: int) -> Json:
    """``@timestamp`` in the whole minutes from ``first`` minutes ago (inclusive) to ``last`` ago (exclusive).

    >>> minutes(6, 1)
    {'range': {'@timestamp': {'gte': 'now-6m/m', 'lt': 'now-1m/m'}}}
    """
    return {"range": {TIMESTAMP: {"gte": f"now-{first}m/m", "lt": f"now-{last}m/m"}}}


def recent() -> Json:
    return minutes(RECENT_MINUTES + LAG_MINUTES, LAG_MINUTES)


def this_hour() -> Json:
    return minutes(HOUR_MINUTES + LAG_MINUTES, LAG_MINUTES)


def week_ago() -> Json:
    """The same hour as ``this_hour``, one week earlier."""
    return minutes(HOUR_MINUTES + LAG_MINUTES + WEEK_MINUTES, LAG_MINUTES + WEEK_MINUTES)


def model_calls(*windows: Json) -> Json:
    """The models' own ``operations`` profiles in any of ``windows``."""
    return {"bool": {"filter": [{"term": {profiles.KIND: profiles.KIND_OPERATIONS}},
                                {"term": {profiles.MODULE: ""}}],
                     "should": list(windows), "minimum_should_match": 1}}


def per_version(aggs: Json) -> Json:
    return {"models": {"terms": {"field": profiles.MODEL, "size": MAX_BUCKETS}, "aggs": {
        "versions": {"terms": {"field": profiles.VERSION, "size": MAX_BUCKETS}, "aggs": aggs}}}}


def _sum(field: str) -> Json:
    return {"sum": {"field": field}}


def _rate(path: str, seconds: int) -> Json:
    """Calls per second: the sum at ``path`` over the window's seconds."""
    return {"bucket_script": {"buckets_path": {"calls": path},
                              "script": {"source": "params.calls / params.seconds", "params": {"seconds": seconds}}}}


@dataclass(frozen=True)
class ProfileWatch:
    """One operational watch: its search body, the painless test on a version bucket ``v``, its line."""

    name: str
    description: str
    body: Json
    test: str
    line: str
    metadata: Json


_WHO = "m.key + ' v' + v.key"


def watches() -> dict[str, ProfileWatch]:
    def body(aggs: Json, *windows: Json) -> Json:
        return {"size": 0, "track_total_hits": False, "query": model_calls(*windows), "aggs": per_version(aggs)}

    latency = {"calls": _sum(profiles.CALLS),
               "latency": {"percentiles": {"field": profiles.LATENCY, "percents": [95], "hdr": dict(HDR)}}}
    errors = {"calls": _sum(profiles.CALLS), "errors": _sum(profiles.ERRORS),
              "error_rate": {"bucket_script": {"buckets_path": {"errors": "errors", "calls": "calls"},
                                               "script": "params.errors / params.calls"}}}
    seconds = HOUR_MINUTES * 60
    qps = {"now": {"filter": this_hour(), "aggs": {"calls": _sum(profiles.CALLS)}},
           "week_ago": {"filter": week_ago(), "aggs": {"calls": _sum(profiles.CALLS)}},
           "qps": _rate("now>calls", seconds), "qps_week_ago": _rate("week_ago>calls", seconds)}
    return {
        "modelspan-latency-p95": ProfileWatch(
            "latency p95", f"p95 latency of a model version above threshold_ms over the last {RECENT_MINUTES} whole "
            "minutes (profiles: every call).", body(latency, recent()),
            "def p = v.latency.values['95.0']; if (p != null && p > ctx.metadata.threshold_ms * 1000000.0) { %s }",
            _WHO + " + ' p95 ' + Math.round(p / 1000000.0) + ' ms in ' + (long) v.calls.value + ' calls'",
            {"threshold_ms": 500}),
        "modelspan-qps-drop": ProfileWatch(
            "QPS drop", "Calls per second in the last whole hour fell by more than max_drop against the same hour a "
            "week earlier (profiles: every call).", body(qps, this_hour(), week_ago()),
            "if (v.week_ago.calls.value >= ctx.metadata.min_calls && "
            "v.qps.value < v.qps_week_ago.value * (1.0 - ctx.metadata.max_drop)) { %s }",
            _WHO + " + ' ' + v.qps.value + ' calls/s vs ' + v.qps_week_ago.value + ' a week ago'",
            {"max_drop": 0.5, "min_calls": 100}),
        "modelspan-error-rate": ProfileWatch(
            "error rate", f"Error rate of a model version above max_error_rate over the last {RECENT_MINUTES} whole "
            "minutes (profiles: every call).", body(errors, recent()),
            "if (v.calls.value >= ctx.metadata.min_calls && v.error_rate.value > ctx.metadata.max_error_rate) { %s }",
            _WHO + " + ' ' + (long) v.errors.value + ' errors in ' + (long) v.calls.value + ' calls'",
            {"max_error_rate": 0.05, "min_calls": 20}),
    }


# --- ES|QL rules ---------------------------------------------------------------------------------------
_T = "DATE_TRUNC(1 minute, NOW())"


def _esql_minutes(first: int, last: int) -> str:
    return f"{TIMESTAMP} >= {_T} - {first} minutes AND {TIMESTAMP} < {_T} - {last} minutes"


def _esql_source(*windows: str) -> str:
    return (f"FROM {PATTERN}\n| WHERE {profiles.KIND} == \"{profiles.KIND_OPERATIONS}\" AND {profiles.MODULE} == \"\""
            f" AND ({' OR '.join(f'({w})' for w in windows)})\n")


def esql_error_rate(max_error_rate: float = 0.05, min_calls: int = 20) -> str:
    window = _esql_minutes(RECENT_MINUTES + LAG_MINUTES, LAG_MINUTES)
    return (_esql_source(window)
            + f"| STATS calls = SUM({profiles.CALLS}), errors = SUM({profiles.ERRORS})"
              f" BY {profiles.MODEL}, {profiles.VERSION}\n"
            + "| EVAL error_rate = TO_DOUBLE(errors) / calls\n"
            + f"| WHERE calls >= {min_calls} AND error_rate > {max_error_rate}\n"
            + "| SORT error_rate DESC\n| LIMIT 100")


def esql_qps_drop(max_drop: float = 0.5, min_calls: int = 100) -> str:
    hour = HOUR_MINUTES + LAG_MINUTES
    now, before = _esql_minutes(hour, LAG_MINUTES), _esql_minutes(hour + WEEK_MINUTES, LAG_MINUTES + WEEK_MINUTES)
    seconds = HOUR_MINUTES * 60
    return (_esql_source(now, before)
            + f"| EVAL recent = {TIMESTAMP} >= {_T} - {hour} minutes,"
              f" now_calls = CASE(recent, {profiles.CALLS}, TO_LONG(0)),"
              f" week_ago_calls = CASE(recent, TO_LONG(0), {profiles.CALLS})\n"
            + f"| STATS now_calls = SUM(now_calls), week_ago_calls = SUM(week_ago_calls)"
              f" BY {profiles.MODEL}, {profiles.VERSION}\n"
            + f"| EVAL qps = TO_DOUBLE(now_calls) / {seconds}, qps_week_ago = TO_DOUBLE(week_ago_calls) / {seconds}\n"
            + f"| WHERE week_ago_calls >= {min_calls} AND qps < qps_week_ago * {1.0 - max_drop}\n"
            + "| SORT qps_week_ago DESC\n| LIMIT 100")


RULE_WINDOW_MINUTES = {"modelspan-error-rate": RECENT_MINUTES + LAG_MINUTES + 1,
                       "modelspan-qps-drop": HOUR_MINUTES + LAG_MINUTES + WEEK_MINUTES + 1}
"""The rule's own time window (it filters ``@timestamp`` to it before the query): it holds the query's."""
