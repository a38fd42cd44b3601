"""Per-feature answers in SQL: bins, categories, batch sums and row checks, in the shape ``_answers`` reads.

Each column's aggregations come back under the names ``_answers.parse_column`` reads (``c3_bins``,
``c3_b_sum``, ...), so single rows and batch summaries are merged exactly as for Elasticsearch.
Single-row values are read from the per-minute rollups for the whole minutes of the window and
from ``span_values`` for the rest (see ``modelspan.sqlite._schema``); numbers are binned with
Elasticsearch ``range`` semantics (``from <= x < to``) by a balanced ``CASE`` on the edges.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from modelspan import semconv
from modelspan.sqlite._db import BaselineEdges, Ids
from modelspan.sqlite._rows import case, ragged_ends, whole_minutes
from modelspan.store._answers import BATCH_SUMS, MAX_UNSEEN_EXAMPLES
from modelspan.store.types import Column

Agg = dict[str, Any]
_STAT_COLUMNS = {
    semconv.STAT_COUNT: "count", semconv.STAT_NULL_COUNT: "null_count", semconv.STAT_NAN_COUNT: "nan_count",
    semconv.STAT_SUM: "sum", semconv.STAT_SUM_SQ: "sum_sq", semconv.STAT_TYPE_CHANGE_COUNT: "type_change_count",
    semconv.STAT_OUT_OF_RANGE: "out_of_range_count", semconv.STAT_UNSEEN_COUNT: "unseen_count",
}


class ColumnReader:
    """Answers the column questions of one model version in one window ``[start, end)`` (ns)."""

    def __init__(self, connection: sqlite3.Connection, ids: Ids, edges: BaselineEdges, series: int,
                 start: int, end: int, baseline_id: str | None) -> None:
        self.connection, self.ids, self.edges = connection, ids, edges
        self.series, self.start, self.end, self.baseline_id = series, start, end, baseline_id
        # Whole minutes come from the rollups, the ragged ends from the raw values.
        self.minutes = whole_minutes(start, end)
        self.edges_ranges = ragged_ends(start, end)
        self._failures: dict[tuple[str, int], int] | None = None

    def aggs(self, index: int, column: Column) -> Agg:
        prefix = f"c{index}_"
        aggs: Agg = {}
        aggs.update(self._batch(prefix, column))
        aggs.update(self._row_checks(prefix, column))
        if column.kind == "categorical":
            aggs.update(self._categories(prefix, column))
            return aggs
        count, total, squares, low, high, bins = self._numbers(column.field, column.edges)
        aggs[prefix + "rows"] = {"count": count, "sum": total, "sum_of_squares": squares if count else None,
                                 "min": low, "max": high}
        if column.edges:
            aggs[prefix + "bins"] = {"buckets": [{"doc_count": n} for n in bins]}
        if column.kind == "text":
            oov = semconv.text_oov_rate(column.name)
            n, oov_total, *_ = self._numbers(oov, ())
            aggs[prefix + "oov"] = {"count": n, "avg": oov_total / n if n else None}
        return aggs

    def _numbers(self, name: str, edges: Sequence[float]) -> tuple[int, float, float, float | None,
                                                                     float | None, list[int]]:
        bins = [0] * (len(edges) + 1)
        parts: list[Any] = []
        field = self.ids.find_field(name)
        if field is not None:
            for binning in self._binnings(field):
                if self.minutes is not None and self._usable(binning, name, edges):
                    parts += self.connection.execute(
                        "SELECT bin, total(n), total(total), total(total_sq), min(lo), max(hi) FROM value_bins "
                        "WHERE series_id = ? AND field_id = ? AND binning = ? AND minute >= ? AND minute < ? "
                        "GROUP BY bin", (self.series, field, binning, *self.minutes)).fetchall()
                    ranges = self.edges_ranges
                else:
                    ranges = [(self.start, self.end)]
                for low, high in ranges:
                    parts += self.connection.execute(
                        f"SELECT {case(edges)}, count(num), total(num), total(num * num), min(num), max(num) "
                        "FROM span_values WHERE series_id = ? AND field_id = ? AND binning = ? AND start_ns >= ? "
                        "AND start_ns < ? AND num IS NOT NULL GROUP BY 1",
                        (self.series, field, binning, low, high)).fetchall()
        count, total, squares = 0, 0.0, 0.0
        lows: list[float] = []
        highs: list[float] = []
        for bin_index, n, part_sum, part_squares, low, high in parts:
            if not n:
                continue
            count, total, squares = count + int(n), total + part_sum, squares + part_squares
            lows.append(low)
            highs.append(high)
            if edges:
                bins[int(bin_index)] += int(n)
        return count, total, squares, min(lows, default=None), max(highs, default=None), bins

    def _binnings(self, field: int) -> list[int]:
        rows = self.connection.execute("SELECT DISTINCT binning FROM value_bins WHERE series_id = ? AND field_id = ?",
                                       (self.series, field)).fetchall()
        return sorted({0, *(int(r[0]) for r in rows)})

    def _usable(self, binning: int, name: str, edges: Sequence[float]) -> bool:
        """Whether the rollup's bins are this question's bins (always, when no bins are asked)."""
        if not edges:
            return True
        if binning == 0 or self.baseline_id is None or self.ids.find_binning(self.baseline_id) != binning:
            return False
        known = self.edges(self.baseline_id)
        return known is not None and tuple(known.get(name, ())) == tuple(edges)

    def _categories(self, prefix: str, column: Column) -> Agg:
        counts: dict[str, int] = {}
        field = self.ids.find_field(column.field)
        if field is not None:
            queries: list[tuple[str, tuple[Any, ...]]] = []
            if self.minutes is not None:
                queries.append(("SELECT value, total(n) FROM value_categories WHERE series_id = ? AND field_id = ? "
                                "AND minute >= ? AND minute < ? GROUP BY value", (self.series, field, *self.minutes)))
            for low, high in self.edges_ranges:
                queries.append(("SELECT cat, count(*) FROM span_values WHERE series_id = ? AND field_id = ? "
                                "AND binning = 0 AND start_ns >= ? AND start_ns < ? AND cat IS NOT NULL GROUP BY cat",
                                (self.series, field, low, high)))
            for sql, args in queries:
                for value, n in self.connection.execute(sql, args):
                    counts[value] = counts.get(value, 0) + int(n)
        known = set(column.vocabulary) | set(column.categories)
        aggs: Agg = {prefix + "rows": {"value": sum(counts.values())}}
        if column.categories:
            aggs[prefix + "cats"] = {"buckets": [{"key": c, "doc_count": counts[c]} for c in column.categories
                                                 if counts.get(c)]}
        if known:
            aggs[prefix + "known"] = {"doc_count": sum(n for v, n in counts.items() if v in known)}
        unseen = sorted(((n, v) for v, n in counts.items() if v not in known), key=lambda p: (-p[0], p[1]))
        aggs[prefix + "unseen"] = {"buckets": [{"key": v, "doc_count": n} for n, v in unseen[:MAX_UNSEEN_EXAMPLES]]}
        return aggs

    def _batch(self, prefix: str, column: Column) -> Agg:
        field = self.ids.find_field(semconv.batch_field(column.name))
        scope = "series_id = ? AND field_id = ? AND start_ns >= ? AND start_ns < ?"
        args = (self.series, -1 if field is None else field, self.start, self.end)
        sums = ", ".join(f"total({_STAT_COLUMNS[stat]})" for stat in BATCH_SUMS)
        row = self.connection.execute(
            f"SELECT {sums}, min(min), max(max), total(oov_rate * count), "
            f"total(CASE WHEN oov_rate IS NOT NULL THEN count END) FROM batch_stats WHERE {scope}", args).fetchone()
        aggs: Agg = {f"{prefix}b_{stat}": {"value": row[n]} for n, stat in enumerate(BATCH_SUMS)}
        aggs[prefix + "b_min"] = {"value": row[len(BATCH_SUMS)]}
        aggs[prefix + "b_max"] = {"value": row[len(BATCH_SUMS) + 1]}
        weighted, weight = row[-2], row[-1]
        if column.kind == "text":
            aggs[prefix + "b_oov"] = {"value": weighted / weight if weight else None}
        if self.baseline_id is None or (column.kind != "categorical" and not column.edges):
            return aggs
        by_baseline = f"{scope} AND baseline_id = ?"
        counts = {(kind, idx): n for kind, idx, n in self.connection.execute(
            f"SELECT kind, idx, total(count) FROM batch_counts WHERE {by_baseline} GROUP BY 1, 2",
            (*args, self.baseline_id))}
        if column.kind == "categorical":
            other, unseen, count = self.connection.execute(
                f"SELECT total(other_count), total(unseen_count), total(count) FROM batch_stats WHERE {by_baseline}",
                (*args, self.baseline_id)).fetchone()
            batch: Agg = {f"k{i}": {"value": counts.get(("k", i), 0.0)} for i in range(len(column.categories))}
            batch.update(other={"value": other}, unseen={"value": unseen}, count={"value": count})
        else:
            batch = {f"b{i}": {"value": counts.get(("b", i), 0.0)} for i in range(len(column.edges) + 1)}
        aggs[prefix + "batch"] = batch
        return aggs

    def _row_checks(self, prefix: str, column: Column) -> Agg:
        if column.name == semconv.OUTPUT_FEATURE:
            return {}
        failed = self._row_failures()
        return {f"{prefix}q{n}": {"doc_count": failed.get((column.name, n), 0)} for n in range(len(semconv.CHECKS))}

    def _row_failures(self) -> dict[tuple[str, int], int]:
        """Single-row failures per (feature, check) of the window: read once for every column."""
        if self._failures is None:
            queries: list[tuple[str, tuple[Any, ...]]] = []
            if self.minutes is not None:
                queries.append(("SELECT feature, check_no, sum(n) FROM check_minutes WHERE series_id = ? "
                                "AND minute >= ? AND minute < ? GROUP BY 1, 2", (self.series, *self.minutes)))
            for low, high in self.edges_ranges:
                queries.append(("SELECT feature, check_no, count(*) FROM row_checks WHERE series_id = ? "
                                "AND start_ns >= ? AND start_ns < ? GROUP BY 1, 2", (self.series, low, high)))
            self._failures = {}
            for sql, args in queries:
                for feature, check, n in self.connection.execute(sql, args):
                    key = (str(feature), int(check))
                    self._failures[key] = self._failures.get(key, 0) + int(n)
        return self._failures
