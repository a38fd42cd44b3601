"""Operations from profiles (docs/profiles.md): exact calls, errors, rows and latency from every call.

A window with profile rows for a model version is answered from them: calls, errors and rows per
interval are sums (exact whatever the span sample rate, whatever the span queue dropped), latency
percentiles come from the merged log-bucketed histogram (within 1 % relative error). A window without
profile rows (data written before profiles existed) keeps the span answer of ``_sqlite_ops``. Features,
outputs, module paths and data quality come from the same rows' feature records (``_sqlite_features``).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from modelspan import semconv
from modelspan._sketch import quantile
from modelspan.store._answers import MAX_MODULES, PERCENTS
from modelspan.store._sqlite_ops import _empty_intervals

Agg = dict[str, Any]


def _rows(connection: sqlite3.Connection, model: str, version: str, start: int, end: int,
          module: str = "") -> list[tuple[Any, ...]]:
    return connection.execute(
        "SELECT start_ns, calls, errors, rows, spans, dropped, latency_sum, zeros, buckets FROM profiles "
        "WHERE model_name = ? AND model_version = ? AND module = ? AND start_ns >= ? AND start_ns < ?",
        (model, version, module, start, end)).fetchall()


class _Sum:
    __slots__ = ("buckets", "calls", "dropped", "errors", "latency", "rows", "spans", "zeros")

    def __init__(self) -> None:
        self.calls = self.errors = self.spans = self.dropped = self.zeros = self.latency = 0
        self.rows = 0.0
        self.buckets: dict[int, int] = {}

    def add(self, row: tuple[Any, ...]) -> None:
        _, calls, errors, rows, spans, dropped, latency, zeros, buckets = row
        self.calls += calls
        self.errors += errors
        self.rows += rows
        self.spans += spans
        self.dropped += dropped
        self.latency += latency
        self.zeros += zeros
        for index, count in json.loads(buckets).items():
            self.buckets[int(index)] = self.buckets.get(int(index), 0) + int(count)

    def percentiles(self) -> dict[str, float | None]:
        return {str(p): quantile(self.buckets, self.zeros, p / 100) for p in PERCENTS}


def cuts_a_profile(connection: sqlite3.Connection, model: str, version: str, start: int, end: int) -> bool:
    """Whether a short window cuts a profile interval of the model version (any sub-module) in two.

    Such a window (a demo phase of seconds) is answered from spans: a profile holds the calls of its
    whole interval, and counting it would add calls from outside the window. A window of at least
    ``semconv.PROFILE_WHOLE_MINUTES_FROM`` intervals is answered in whole intervals instead.
    """
    if end - start >= semconv.PROFILE_WHOLE_MINUTES_FROM * semconv.PROFILE_INTERVAL_SECONDS * 10**9:
        return False
    return connection.execute(
        "SELECT 1 FROM profiles WHERE model_name = ? AND model_version = ? AND start_ns < ? "
        "AND start_ns + interval_ns > ? AND (start_ns < ? OR start_ns + interval_ns > ?) LIMIT 1",
        (model, version, end, start, start, end)).fetchone() is not None


def overlay(connection: sqlite3.Connection, model: str, version: str, start: int, end: int, step: int,
            calls: Agg) -> bool:
    """Replace the span-counted operations in ``calls`` by the profiles' when the window has any
    (and holds each of them whole)."""
    rows = _rows(connection, model, version, start, end)
    if not rows or cuts_a_profile(connection, model, version, start, end):
        return False
    total, per_interval = _Sum(), dict[int, _Sum]()
    for row in rows:
        total.add(row)
        per_interval.setdefault(row[0] // step, _Sum()).add(row)
    # ``spans``: model spans stored in the window (the span answer's count, before it is replaced).
    calls["profile"] = {"calls": total.calls, "spans": int(calls.get("doc_count", 0)), "started": total.spans,
                        "dropped": total.dropped}
    calls["doc_count"] = total.calls
    calls["errors"] = {"doc_count": total.errors}
    calls["rows"] = {"value": total.rows}
    calls["duration"] = {"avg": total.latency / total.calls if total.calls else None}
    calls["latency"] = {"values": total.percentiles()}
    for bucket in calls["intervals"]["buckets"]:
        key = bucket["key"] * 1_000_000 // step
        part = per_interval.get(key, _Sum())
        bucket["doc_count"] = part.calls
        bucket["errors"] = {"doc_count": part.errors}
        bucket["rates"] = {"buckets": [{"key": 1.0, "doc_count": part.calls, "rows": {"value": part.rows}}]
                           if part.calls else [], "sum_other_doc_count": 0}
        bucket["latency"] = {"values": part.percentiles()}
    return True


def calls_per_series(connection: sqlite3.Connection, start: int, end: int) -> dict[tuple[str, str], int]:
    """Profiled calls per (model, version) in ``[start, end)``."""
    return {(str(model), str(version)): int(calls) for model, version, calls in connection.execute(
        "SELECT model_name, model_version, sum(calls) FROM profiles WHERE module = '' AND start_ns >= ? "
        "AND start_ns < ? GROUP BY 1, 2", (start, end))}


def merge_counts(rows: list[tuple[str, str, int]], profiled: dict[tuple[str, str], int]) -> list[tuple[str, str, int]]:
    """Span counts per model version, replaced by the profiled count where there is one."""
    merged = {(model, version): calls for model, version, calls in rows}
    merged.update(profiled)
    return [(model, version, calls) for (model, version), calls in merged.items() if calls]


def overlay_modules(connection: sqlite3.Connection, model: str, version: str, start: int, end: int, step: int,
                    modules: Agg) -> None:
    """Per sub-module operations from profiles where the window has them whole (``modules.names`` buckets)."""
    if cuts_a_profile(connection, model, version, start, end):
        return
    names = [row[0] for row in connection.execute(
        "SELECT DISTINCT module FROM profiles WHERE model_name = ? AND model_version = ? AND module != '' "
        "AND start_ns >= ? AND start_ns < ?", (model, version, start, end))]
    if not names:
        return
    buckets = {bucket["key"]: bucket for bucket in modules["names"]["buckets"]}
    for name in names:
        total, per_interval = _Sum(), dict[int, _Sum]()
        for row in _rows(connection, model, version, start, end, name):
            total.add(row)
            per_interval.setdefault(row[0] // step, _Sum()).add(row)
        spans = int(buckets.get(name, {}).get("doc_count", 0))
        intervals = []
        for key, bucket in sorted(_empty_intervals(start, end, step, rates=False).items()):
            part = per_interval.get(key, _Sum())
            bucket.update({"doc_count": part.calls, "errors": {"doc_count": part.errors},
                           "latency": {"values": part.percentiles()}})
            intervals.append(bucket)
        buckets[name] = {"key": name, "doc_count": total.calls, "errors": {"doc_count": total.errors},
                         "duration": {"avg": total.latency / total.calls if total.calls else None},
                         "latency": {"values": total.percentiles()}, "intervals": {"buckets": intervals},
                         "profile": {"calls": total.calls, "spans": spans, "started": total.spans, "dropped": 0}}
    ordered = sorted(buckets.values(), key=lambda b: (-b["doc_count"], b["key"]))[:MAX_MODULES]
    modules["names"]["buckets"] = ordered
    modules["doc_count"] = sum(b["doc_count"] for b in ordered)
