"""Operations (calls, errors, rows, latency percentiles, QPS per interval) and module paths in SQL.

Answers come back in the aggregation shape ``_answers.parse_model`` reads (Elasticsearch's), so one
parser turns both backends' answers into the same ``ModelStats``: the merge rules (single rows plus
batch summaries, sample-rate scaling, ...) then cannot drift apart.

Latency percentiles are exact, with numpy's default (``method="linear"``) definition: for ``n``
sorted durations and percent ``p``, the value at virtual index ``(n - 1) * p / 100`` interpolated
between its neighbours. This SQLite has no percentile aggregate (``percentile_cont`` needs a
3.47 build with ``SQLITE_ENABLE_PERCENTILE``) and ranking with window functions sorts four times
slower than numpy, so SQL streams ``(interval, duration)`` pairs of one contiguous primary-key range
straight into a numpy array and ``np.percentile`` answers. Elasticsearch estimates percentiles with
t-digest (the test fake uses nearest rank), so the backends agree within one rank.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from modelspan.sqlite._rows import EMPTY_LABEL, MODEL_MODULE, ragged_ends, whole_minutes
from modelspan.sqlite._schema import MINUTE_NS
from modelspan.store._answers import EXAMPLE_TRACES, MAX_LABELS, MAX_MODULES, MAX_PATHS, PERCENTS

Agg = dict[str, Any]
_PAIRS = np.dtype([("k", "<i8"), ("d", "<i8")])
MODEL_SCOPE = "series_id = ? AND module = '' AND start_ns >= ? AND start_ns < ?"
"""Model spans of one version in ``[start, end)``: one contiguous range of the ``calls`` primary key."""


def operations(connection: sqlite3.Connection, series: int, start: int, end: int, step: int, checks: int) -> Agg:
    """The model's ``calls`` operations, quality and paths aggregations, from one grouped scan.

    Rows are grouped by (interval, sample rate, module path, output label): few groups, from which
    the per-interval series, the window's totals and the paths per label are all summed.
    """
    intervals = _empty_intervals(start, end, step)
    rates: dict[tuple[int, float], list[float]] = {}
    labels: dict[str, list[tuple[str, int]]] = defaultdict(list)
    calls, errors, rows, durations = 0, 0, 0.0, 0.0
    failed_values, failed_calls = [0.0] * checks, [0] * checks
    for key, rate, path, label, count, failed, batch_rows, duration, *checked in _groups(
            connection, series, start, end, step, checks):
        bucket = intervals.setdefault(key, _interval(key, step))
        bucket["doc_count"] += count
        bucket["errors"]["doc_count"] += int(failed)
        per_rate = rates.setdefault((key, rate), [0, 0.0])
        per_rate[0] += count
        per_rate[1] += batch_rows
        labels[path].append((label, count))
        calls, errors, rows, durations = calls + count, errors + int(failed), rows + batch_rows, durations + duration
        for n in range(checks):
            failed_values[n] += checked[2 * n]
            failed_calls[n] += checked[2 * n + 1]
    for (key, rate), (count, batch_rows) in rates.items():
        intervals[key]["rates"]["buckets"].append({"key": rate, "doc_count": int(count), "rows": {"value": batch_rows}})
    overall, per_interval = percentiles(connection, series, [MODEL_MODULE], start, end, step)
    for key, values in per_interval[MODEL_MODULE].items():
        intervals.setdefault(key, _interval(key, step))["latency"] = {"values": values}
    aggs: Agg = {"doc_count": calls, "errors": {"doc_count": errors}, "rows": {"value": rows},
                 "duration": {"avg": durations / calls if calls else None},
                 "latency": {"values": overall[MODEL_MODULE]},
                 "intervals": {"buckets": [intervals[k] for k in sorted(intervals)]},
                 "paths": paths(connection, series, start, end, labels)}
    for n in range(checks):
        aggs[f"q{n}_values"] = {"value": failed_values[n]}
        aggs[f"q{n}_calls"] = {"doc_count": failed_calls[n]}
    return aggs


def _groups(connection: sqlite3.Connection, series: int, start: int, end: int, step: int,
            checks: int) -> Iterator[tuple[Any, ...]]:
    """Model calls grouped by (interval, sample rate, path, label), with their sums; a group may come twice.

    Whole minutes are read from ``call_minutes`` when each minute lies in one interval (the interval is
    whole minutes), the ragged ends of the window from ``calls``.
    """
    quality = "".join(f", total(q{n}), count(q{n})" for n in range(checks))
    raw = (f"SELECT start_ns / {step}, COALESCE(sample_rate, 1.0), path_key, COALESCE(output_label, ?), count(*), "
           f"total(error), total(COALESCE(batch_size, 1)), total(duration_ns){quality} FROM calls "
           f"WHERE {MODEL_SCOPE} GROUP BY 1, 2, 3, 4")
    minutes = whole_minutes(start, end) if step % MINUTE_NS == 0 else None
    if minutes is None:
        yield from connection.execute(raw, (EMPTY_LABEL, series, start, end))
        return
    rolled = "".join(f", total(q{n}), sum(k{n})" for n in range(checks))
    yield from connection.execute(
        f"SELECT minute / {step // MINUTE_NS}, sample_rate, path_key, output_label, sum(n), sum(errors), total(rows), "
        f"total(duration){rolled} FROM call_minutes WHERE series_id = ? AND minute >= ? AND minute < ? "
        "GROUP BY 1, 2, 3, 4", (series, *minutes))
    for low, high in ragged_ends(start, end):
        yield from connection.execute(raw, (EMPTY_LABEL, series, low, high))


def calls_per_series(connection: sqlite3.Connection, start: int, end: int) -> list[tuple[str, str, int]]:
    """``(model, version, calls)`` of every model version with model calls in ``[start, end)``.

    Per version: the whole minutes from ``call_minutes`` (one key range), the ragged ends from ``calls``.
    """
    minutes = whole_minutes(start, end)
    answers = []
    for series, model, version in connection.execute("SELECT id, model_name, model_version FROM series").fetchall():
        calls = 0
        if minutes is not None:
            calls += connection.execute("SELECT total(n) FROM call_minutes WHERE series_id = ? "
                                        "AND minute >= ? AND minute < ?", (series, *minutes)).fetchone()[0]
        for low, high in ragged_ends(start, end):
            calls += connection.execute(f"SELECT count(*) FROM calls WHERE {MODEL_SCOPE}",
                                        (series, low, high)).fetchone()[0]
        if calls:
            answers.append((str(model), str(version), int(calls)))
    return answers


def modules(connection: sqlite3.Connection, series: int, start: int, end: int, step: int) -> Agg:
    """Per sub-module operations, as the ``modules.names`` terms aggregation (largest first)."""
    names = [r[0] for r in connection.execute("SELECT module FROM modules WHERE series_id = ?", (series,))]
    where = f"series_id = ? AND module IN ({', '.join('?' * len(names))}) AND start_ns >= ? AND start_ns < ?"
    args = (series, *names, start, end)
    summary = connection.execute(
        f"SELECT module, count(*), total(error), avg(duration_ns) FROM calls WHERE {where} "
        f"GROUP BY module ORDER BY 2 DESC, 1 LIMIT {MAX_MODULES}", args).fetchall()
    per_interval: dict[str, dict[int, Agg]] = defaultdict(dict)
    for module, key, count, failed in connection.execute(
            f"SELECT module, start_ns / {step}, count(*), total(error) FROM calls WHERE {where} GROUP BY 1, 2", args):
        bucket = _interval(key, step, rates=False)
        bucket["doc_count"], bucket["errors"]["doc_count"] = count, int(failed)
        per_interval[module][key] = bucket
    overall, latencies = percentiles(connection, series, [row[0] for row in summary], start, end, step)
    buckets = []
    for module, count, failed, mean in summary:
        intervals = _empty_intervals(start, end, step, rates=False)
        intervals.update(per_interval[module])
        for key, values in latencies[module].items():
            intervals[key]["latency"] = {"values": values}
        buckets.append({"key": module, "doc_count": count, "errors": {"doc_count": int(failed)},
                        "duration": {"avg": mean}, "latency": {"values": overall[module]},
                        "intervals": {"buckets": [intervals[k] for k in sorted(intervals)]}})
    return {"doc_count": sum(b["doc_count"] for b in buckets), "names": {"buckets": buckets}}


def percentiles(connection: sqlite3.Connection, series: int, modules: Sequence[str], start: int, end: int,
                step: int) -> tuple[dict[str, dict[str, float | None]], dict[str, dict[int, dict[str, float | None]]]]:
    """Exact percentiles of ``duration_ns`` per module (``''``: the model), overall and per interval."""
    overall: dict[str, dict[str, float | None]] = {}
    per_interval: dict[str, dict[int, dict[str, float | None]]] = {}
    for module in modules:
        data = np.fromiter(connection.execute(
            f"SELECT start_ns / {step}, duration_ns FROM calls WHERE series_id = ? AND module = ? "
            "AND start_ns >= ? AND start_ns < ?", (series, module, start, end)), dtype=_PAIRS)
        overall[module] = _percentiles(data["d"])
        order = np.argsort(data["k"], kind="stable")
        keys, durations = data["k"][order], data["d"][order]
        per_interval[module] = {}
        if keys.size:
            firsts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            for first, group in zip(firsts, np.split(durations, firsts[1:]), strict=True):
                per_interval[module][int(keys[first])] = _percentiles(group)
    return overall, per_interval


def _percentiles(durations: np.ndarray) -> dict[str, float | None]:
    if not durations.size:
        return _nones()
    values = np.percentile(durations, PERCENTS)  # numpy's default, "linear"
    return {str(p): float(v) for p, v in zip(PERCENTS, values, strict=True)}


def paths(connection: sqlite3.Connection, series: int, start: int, end: int,
          labels: dict[str, list[tuple[str, int]]]) -> Agg:
    """Calls per module path (top ``MAX_PATHS``), per output label, with the latest trace ids."""
    merged: dict[str, dict[str, int]] = {}
    for path, pairs in labels.items():
        per_label = merged.setdefault(path, {})
        for label, count in pairs:
            per_label[label] = per_label.get(label, 0) + count
    labels = {path: list(per_label.items()) for path, per_label in merged.items()}
    counted = sorted(((path, sum(c for _, c in pairs)) for path, pairs in labels.items()), key=lambda p: (-p[1], p[0]))
    buckets = []
    for path, count in counted[:MAX_PATHS]:
        traces = [r[0] for r in connection.execute(
            "SELECT trace_id FROM calls WHERE series_id = ? AND module = '' AND path_key = ? AND start_ns >= ? "
            f"AND start_ns < ? ORDER BY start_ns DESC LIMIT {EXAMPLE_TRACES}", (series, path, start, end))]
        top = sorted(labels[path], key=lambda p: (-p[1], p[0]))[:MAX_LABELS]
        buckets.append({"key": path, "doc_count": count,
                        "labels": {"buckets": [{"key": k, "doc_count": c} for k, c in top]},
                        "examples": {"hits": {"hits": [{"_source": {"trace_id": t}} for t in traces]}}})
    return {"buckets": buckets, "sum_other_doc_count": sum(c for _, c in counted[MAX_PATHS:])}


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
