"""Feature drift, data quality, outputs and module paths from per-feature profiles (docs/profiles.md).

A window whose model-version profile rows carry features (schema version 6) is answered from them, as
the operations are by ``_sqlite_profiles``: each feature's records are summed into the aggregations
``_answers.parse_column`` reads for batch summaries (``c<i>_b_<stat>``, ``c<i>_batch``), so the merge
rules stay the ones both backends share. Bins and categories count only from records made over the
question's baseline (same id, same number of bins); the other records' values are ``unbinned``, as
batch summaries over another baseline are. Module paths per output label and the model's data-quality
counts replace the span answers; example traces still come from the sampled spans. A window without
feature profiles (data written before version 6) keeps the span answers (``_sqlite_columns``).
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from modelspan import semconv
from modelspan.store import _sqlite_profiles as profiles
from modelspan.store._answers import BATCH_SUMS, MAX_UNSEEN_EXAMPLES
from modelspan.store._sqlite_ops import paths as path_buckets
from modelspan.store.types import Column

Agg = dict[str, Any]
OTHER = "\x00other"
"""Key of the calls on paths (labels) beyond the SDK's bound (``_feature_profiles.OTHER_PATH``)."""


@dataclass
class Profiled:
    """The feature records, paths and data-quality counts of a window's profile rows, merged."""

    features: dict[str, list[Agg]] = field(default_factory=lambda: defaultdict(list))
    paths: dict[str, dict[str, int]] = field(default_factory=dict)
    checks: dict[str, list[int]] = field(default_factory=dict)
    dropped: int = 0


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


def column_aggs(index: int, column: Column, profiled: Profiled, baseline_id: str | None) -> Agg:
    """One column's aggregations from its feature records (all of them count; bins only over ``baseline_id``)."""
    prefix = f"c{index}_"
    records = profiled.features.get(column.name, [])
    aggs: Agg = {f"{prefix}b_{stat}": {"value": float(sum(r.get(stat) or 0 for r in records))} for stat in BATCH_SUMS}
    aggs[prefix + "b_min"] = {"value": min((r["min"] for r in records if r.get("min") is not None), default=None)}
    aggs[prefix + "b_max"] = {"value": max((r["max"] for r in records if r.get("max") is not None), default=None)}
    same = [r for r in records if baseline_id is not None and r.get("baseline_id") == baseline_id]
    if column.kind == "categorical":
        aggs.update(_categories(prefix, column, records, same))
        return aggs
    aggs[prefix + "rows"] = {"count": 0, "sum": 0.0, "sum_of_squares": None, "min": None, "max": None}
    if column.edges:
        width = len(column.edges) + 1
        binned = [r["bins"] for r in same if r.get("bins") is not None and len(r["bins"]) == width]
        aggs[prefix + "bins"] = {"buckets": [{"doc_count": 0} for _ in range(width)]}
        aggs[prefix + "batch"] = {f"b{i}": {"value": float(sum(b[i] for b in binned))} for i in range(width)}
    return aggs


def _categories(prefix: str, column: Column, records: list[Agg], same: list[Agg]) -> Agg:
    width = len(column.categories)
    binned = [r for r in same if r.get("categories") is not None and len(r["categories"]) == width]
    batch: Agg = {f"k{i}": {"value": float(sum(r["categories"][i] for r in binned))} for i in range(width)}
    batch.update(other={"value": float(sum(r.get("other", 0) for r in binned))},
                 unseen={"value": float(sum(r.get(semconv.STAT_UNSEEN_COUNT, 0) for r in binned))},
                 count={"value": float(sum(r.get(semconv.STAT_COUNT, 0) for r in binned))})
    known = set(column.vocabulary) | set(column.categories)
    tracked: dict[str, int] = {}
    for record in records:
        for value, count in (record.get("top") or {}).items():
            if value not in known:
                tracked[value] = tracked.get(value, 0) + int(count)
    unseen = sorted(tracked.items(), key=lambda pair: (-pair[1], pair[0]))[:MAX_UNSEEN_EXAMPLES]
    aggs: Agg = {prefix + "rows": {"value": 0}, prefix + "batch": batch,
                 prefix + "unseen": {"buckets": [{"key": v, "doc_count": n} for v, n in unseen]}}
    if column.categories:
        aggs[prefix + "cats"] = {"buckets": []}
    if known:
        aggs[prefix + "known"] = {"doc_count": 0}
    return aggs


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
