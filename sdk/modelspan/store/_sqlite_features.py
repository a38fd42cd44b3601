"""Feature drift, data quality, outputs and module paths from per-feature profiles (docs/profiles.md).

A window whose model-version profile rows carry features (schema version 6) is answered from them, as
the operations are by ``_sqlite_profiles``: each feature's records are summed into the column
aggregations by ``_profile_columns`` (shared with Elasticsearch). Module paths per output label and the
model's data-quality counts replace the span answers; example traces still come from the sampled spans.
A window without feature profiles (data written before version 6) keeps the span answers
(``_sqlite_columns``), and so does a text column's OOV rate when its records carry no token counts
(written by an SDK before them).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from modelspan import semconv
from modelspan.store import _sqlite_profiles as profiles
from modelspan.store._answers import span_oov
from modelspan.store._profile_columns import OTHER, Profiled, column_aggs
from modelspan.store._sqlite_columns import ColumnReader
from modelspan.store._sqlite_ops import paths as path_buckets
from modelspan.store.types import Column

Agg = dict[str, Any]
__all__ = ["OTHER", "Profiled", "column_aggs", "column_answer", "overlay_model", "read"]


def read(connection: sqlite3.Connection, model: str, version: str, start: int, end: int) -> Profiled | None:
    """The window's feature profiles of a model version, or None when they cannot answer it (span answers then).

    Profiles answer a window only when it holds each profile interval it touches whole: a window that
    cuts an interval (a demo phase of seconds, a window not on minutes) would count calls outside it.
    """
    rows = connection.execute(
        "SELECT features, paths, checks, features_dropped, start_ns, interval_ns FROM profiles WHERE model_name = ? "
        "AND model_version = ? AND module = '' AND start_ns < ? AND start_ns + interval_ns > ? "
        "AND features IS NOT NULL", (model, version, end, start)).fetchall()
    if profiles.cuts_a_profile(connection, model, version, start, end):
        return None
    rows = [row for row in rows if start <= row[4] < end]  # a long window: whole intervals, where they start
    if not rows:
        return None
    profiled = Profiled()
    for features, paths, checks, dropped, _, _ in rows:
        for record in json.loads(features):
            profiled.features[str(record["feature"])].append(record)
        for path, labels in json.loads(paths or "{}").items():
            held = profiled.paths.setdefault(path, {})
            for label, count in labels.items():
                held[label] = held.get(label, 0) + int(count)
        for check, (values, calls) in json.loads(checks or "{}").items():
            pair = profiled.checks.setdefault(check, [0, 0])
            pair[0] += int(values)
            pair[1] += int(calls)
        profiled.dropped += int(dropped or 0)
    return profiled


def column_answer(index: int, column: Column, profiled: Profiled, baseline_id: str | None,
                  reader: ColumnReader) -> Agg:
    """One column from its profile records; a text column whose records have no token counts (an SDK
    before them) keeps the spans' OOV rate (``reader``: the span answers, asked only then)."""
    answer = column_aggs(index, column, profiled, baseline_id)
    if column.kind == "text" and f"c{index}_p_oov" not in answer:
        total, weight = span_oov(f"c{index}_", reader.aggs(index, column))
        answer[f"c{index}_p_oov"] = {"sum": {"value": total}, "count": {"value": float(weight)}}
    return answer


def overlay_model(connection: sqlite3.Connection, series: int, start: int, end: int, profiled: Profiled,
                  calls: Agg) -> None:
    """Replace the span answers for module paths and data-quality counts by the profiles'."""
    labels = {path: [(label, count) for label, count in per_label.items()]
              for path, per_label in profiled.paths.items() if path != OTHER}
    answer = path_buckets(connection, series, start, end, labels)
    answer["sum_other_doc_count"] += sum(profiled.paths.get(OTHER, {}).values())
    for bucket in answer["buckets"]:  # labels beyond the SDK's bound: in the path's count, not a label
        bucket["labels"]["buckets"] = [b for b in bucket["labels"]["buckets"] if b["key"] != OTHER]
    calls["paths"] = answer
    for number, check in enumerate(semconv.CHECKS):
        values, failed_calls = profiled.checks.get(check, (0, 0))
        calls[f"q{number}_values"] = {"value": float(values)}
        calls[f"q{number}_calls"] = {"doc_count": int(failed_calls)}
