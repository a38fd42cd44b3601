"""Operations (calls, errors, rows, latency percentiles, QPS per interval) and module paths in SQL.

Answers come back in the shape of the Elasticsearch aggregations of ``_es_queries.model_body`` so
the one parser (``_es_parse``) turns both backends' answers into the same ``ModelStats``: the merge
rules (single rows plus batch summaries, sample-rate scaling, ...) then cannot drift apart.

Latency percentiles are exact, with numpy's default (``method="linear"``) definition: for ``n``
sorted durations and percent ``p``, the value at virtual index ``(n - 1) * p / 100`` interpolated
between its neighbours. SQLite ranks the durations (window functions) and returns only the
neighbouring ranks; the interpolation of those few values happens here. Elasticsearch estimates
percentiles with t-digest (the test fake uses nearest rank), so the backends agree within one rank.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from typing import Any

from modelspan.store._es_queries import EMPTY_KEY, EXAMPLE_TRACES, MAX_LABELS, MAX_MODULES, MAX_PATHS, PERCENTS

Agg = dict[str, Any]
SCOPE = "series_id = ? AND start_ns >= ? AND start_ns < ?"


def operations(connection: sqlite3.Connection, series: int, start: int, end: int, step: int) -> Agg:
    """The model's ``calls`` operations aggregations (with per-sample-rate interval breakdown)."""
    where = f"{SCOPE} AND module IS NULL"
    args = (series, start, end)
    calls, errors, rows, mean = connection.execute(
        f"SELECT count(*), total(error), total(COALESCE(batch_size, 1)), avg(duration_ns) FROM calls WHERE {where}",
        args).fetchone()
    intervals = _empty_intervals(start, end, step)
    for key, rate, count, failed, batch_rows in connection.execute(
            f"SELECT start_ns / {step}, COALESCE(sample_rate, 1.0), count(*), total(error), "
            f"total(COALESCE(batch_size, 1)) FROM calls WHERE {where} GROUP BY 1, 2", args):
        bucket = intervals.setdefault(key, _interval(key, step))
        bucket["doc_count"] += count
        bucket["errors"]["doc_count"] += int(failed)
        bucket["rates"]["buckets"].append({"key": rate, "doc_count": count, "rows": {"value": batch_rows}})
    overall, per_interval = percentiles(connection, where, args, step)
    for key, values in per_interval.get(None, {}).items():
        intervals.setdefault(key, _interval(key, step))["latency"] = {"values": values}
    return {"doc_count": calls, "errors": {"doc_count": int(errors)}, "rows": {"value": rows},
            "duration": {"avg": mean}, "latency": {"values": overall.get(None, _nones())},
            "intervals": {"buckets": [intervals[k] for k in sorted(intervals)]}}


def modules(connection: sqlite3.Connection, series: int, start: int, end: int, step: int) -> Agg:
    """Per sub-module operations, as the ``modules.names`` terms aggregation (largest first)."""
    where = f"{SCOPE} AND module IS NOT NULL"
    args = (series, start, end)
    summary = connection.execute(
        f"SELECT module, count(*), total(error), avg(duration_ns) FROM calls WHERE {where} "
        f"GROUP BY module ORDER BY 2 DESC, 1 LIMIT {MAX_MODULES}", args).fetchall()
    per_interval: dict[str, dict[int, Agg]] = defaultdict(dict)
    for module, key, count, failed in connection.execute(
            f"SELECT module, start_ns / {step}, count(*), total(error) FROM calls WHERE {where} GROUP BY 1, 2", args):
        bucket = _interval(key, step, rates=False)
        bucket["doc_count"], bucket["errors"]["doc_count"] = count, int(failed)
        per_interval[module][key] = bucket
    overall, latencies = percentiles(connection, where, args, step, by_module=True)
    buckets = []
    for module, count, failed, mean in summary:
        intervals = _empty_intervals(start, end, step, rates=False)
        intervals.update(per_interval[module])
        for key, values in latencies.get(module, {}).items():
            intervals[key]["latency"] = {"values": values}
        buckets.append({"key": module, "doc_count": count, "errors": {"doc_count": int(failed)},
                        "duration": {"avg": mean}, "latency": {"values": overall.get(module, _nones())},
                        "intervals": {"buckets": [intervals[k] for k in sorted(intervals)]}})
    return {"doc_count": sum(b["doc_count"] for b in buckets), "names": {"buckets": buckets}}


def percentiles(connection: sqlite3.Connection, where: str, args: tuple[Any, ...], step: int,
                *, by_module: bool = False) -> tuple[dict[Any, dict[str, float | None]],
                                                     dict[Any, dict[int, dict[str, float | None]]]]:
    """Exact percentiles of ``duration_ns``: overall and per interval (per module when ``by_module``)."""
    group = "module" if by_module else "NULL"
    overall = {g: values for (g, _), values in _ranked(connection, group, where, args).items()}
    per_interval: dict[Any, dict[int, dict[str, float | None]]] = defaultdict(dict)
    for (g, key), values in _ranked(connection, f"{group}, start_ns / {step}", where, args).items():
        per_interval[g][int(key)] = values
    return overall, per_interval


def _ranked(connection: sqlite3.Connection, group: str, where: str,
            args: tuple[Any, ...]) -> dict[tuple[Any, Any], dict[str, float | None]]:
    # Only ranks next to each percentile's virtual index leave SQLite (a few rows per group).
    near = " OR ".join(f"(i BETWEEN CAST((n - 1) * {p / 100!r} AS INTEGER) - 1 "
                       f"AND CAST((n - 1) * {p / 100!r} AS INTEGER) + 2)" for p in PERCENTS)
    keys = group.split(", ")
    partition = ", ".join(keys)
    select = ", ".join(f"g{i}" for i in range(len(keys)))
    sql = (f"SELECT {select}, i, n, d FROM (SELECT {', '.join(f'{k} AS g{i}' for i, k in enumerate(keys))}, "
           f"duration_ns AS d, row_number() OVER (PARTITION BY {partition} ORDER BY duration_ns) - 1 AS i, "
           f"count(*) OVER (PARTITION BY {partition}) AS n FROM calls WHERE {where}) WHERE {near}")
    picked: dict[tuple[Any, Any], tuple[int, dict[int, int]]] = {}
    for row in connection.execute(sql, args):
        key = (row[0], row[1] if len(keys) > 1 else None)
        picked.setdefault(key, (row[-2], {}))[1][row[-3]] = row[-1]
    return {key: {str(p): linear(n, ranks, p) for p in PERCENTS} for key, (n, ranks) in picked.items()}


def linear(n: int, ranks: dict[int, int], percent: float) -> float | None:
    """numpy's ``percentile(..., method="linear")`` from the values at the ranks around the index."""
    if n == 0:
        return None
    virtual = (n - 1) * (percent / 100)  # numpy's "linear" virtual index
    below = max(min(math.floor(virtual), n - 1), 0)
    above = min(below + 1, n - 1)
    gamma = virtual - math.floor(virtual) if 0 <= virtual < n - 1 else 0.0
    a, b = float(ranks[below]), float(ranks[above])
    difference = b - a
    return b - difference * (1 - gamma) if gamma >= 0.5 else a + difference * gamma


def paths(connection: sqlite3.Connection, series: int, start: int, end: int) -> Agg:
    """Calls per module path (top ``MAX_PATHS``), per output label, with the latest trace ids."""
    where = f"{SCOPE} AND module IS NULL"
    args = (series, start, end)
    counted = connection.execute(f"SELECT path_key, count(*) FROM calls WHERE {where} GROUP BY 1 "
                                 f"ORDER BY 2 DESC, 1", args).fetchall()
    labels: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for path, label, count in connection.execute(
            f"SELECT path_key, COALESCE(output_label, ?), count(*) FROM calls WHERE {where} GROUP BY 1, 2 "
            "ORDER BY 3 DESC, 2", (EMPTY_KEY, *args)):
        labels[path].append((label, count))
    buckets = []
    for path, count in counted[:MAX_PATHS]:
        traces = [r[0] for r in connection.execute(
            "SELECT trace_id FROM calls WHERE series_id = ? AND module IS NULL AND path_key = ? AND start_ns >= ? "
            f"AND start_ns < ? ORDER BY start_ns DESC LIMIT {EXAMPLE_TRACES}", (series, path, start, end))]
        buckets.append({"key": path, "doc_count": count,
                        "labels": {"buckets": [{"key": k, "doc_count": c} for k, c in labels[path][:MAX_LABELS]]},
                        "examples": {"hits": {"hits": [{"_source": {"trace_id": t}} for t in traces]}}})
    return {"buckets": buckets, "sum_other_doc_count": sum(c for _, c in counted[MAX_PATHS:])}


def quality(connection: sqlite3.Connection, series: int, start: int, end: int, checks: int) -> Agg:
    """Failed values per call-time check and calls that failed it (``q<n>_values``/``q<n>_calls``)."""
    columns = ", ".join(f"total(q{n}), count(q{n})" for n in range(checks))
    row = connection.execute(f"SELECT {columns} FROM calls WHERE {SCOPE} AND module IS NULL",
                             (series, start, end)).fetchone()
    aggs: Agg = {}
    for n in range(checks):
        aggs[f"q{n}_values"] = {"value": row[2 * n]}
        aggs[f"q{n}_calls"] = {"doc_count": row[2 * n + 1]}
    return aggs


def _empty_intervals(start: int, end: int, step: int, *, rates: bool = True) -> dict[int, Agg]:
    # Elasticsearch's extended_bounds: every interval from the window's start to its last millisecond.
    last = (end - 1_000_000) // step
    return {key: _interval(key, step, rates=rates) for key in range(start // step, last + 1)}


def _interval(key: int, step: int, *, rates: bool = True) -> Agg:
    bucket: Agg = {"key": key * step // 1_000_000, "doc_count": 0, "errors": {"doc_count": 0},
                   "latency": {"values": _nones()}}
    if rates:
        bucket["rates"] = {"buckets": [], "sum_other_doc_count": 0}
    return bucket


def _nones() -> dict[str, float | None]:
    return dict.fromkeys((str(p) for p in PERCENTS), None)
