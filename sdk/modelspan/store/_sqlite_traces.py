"""The incident correlator's questions (``traces.TraceQueries``) over the embedded store's ``spans`` table.

Answers the same questions as ``_es_traces`` with the same sampling rules, so both stores give the
same incidents for the same spans: per-route series, the trace ids of the affected requests of an
episode (most affected spans first, then by trace id, at most ``MAX_TRACES``), and what the model
spans of those traces say. Percentiles use the nearest-rank rule.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from modelspan import semconv
from modelspan.store.traces import (
    MAX_TRACES,
    ROUTE_PERCENTS,
    Bucket,
    Callers,
    Requests,
    RouteSeries,
    TraceEvidence,
    millis,
    rank_routes,
)
from modelspan.store.types import Window

_SERVER = "kind = 'Server' AND ml_kind IS NULL"
_FAILED = "(status_code = 'Error' OR http_status_code >= 500)"


def _ns(moment: Any) -> int:
    return round(millis(moment).timestamp() * 1000) * 1_000_000


def percentile(values: Sequence[float], percent: float) -> float | None:
    """Nearest rank: the smallest value with at least ``percent`` % of the values at or below it.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 95)
    4.0
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100.0 * len(ordered) - 1e-9))
    return ordered[rank - 1]


def _percentiles(samples: Sequence[tuple[float, bool]]) -> tuple[tuple[float, float], ...]:
    durations = [d for d, _ in samples]
    return tuple((p, value) for p in ROUTE_PERCENTS if (value := percentile(durations, p)) is not None)


class SQLiteTraces:
    """The incident questions asked of ``connection`` (read only)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def route_series(self, window: Window, reference: Window, step_s: int) -> list[RouteSeries]:
        """Calls, errors and p95 per route: per interval in ``window``, in total over ``reference``."""
        start, end = _ns(window.start), _ns(window.end)
        ref_start, ref_end = _ns(reference.start), _ns(reference.end)
        step_ns = step_s * 1_000_000_000
        rows = self.connection.execute(
            f"SELECT COALESCE(service_name, ''), http_route, name, start_ns, duration_ns, {_FAILED} "
            f"FROM spans WHERE {_SERVER} AND ((start_ns >= ? AND start_ns < ?) OR (start_ns >= ? AND start_ns < ?))",
            (start, end, ref_start, ref_end),
        ).fetchall()
        current: dict[tuple[str, str, bool], dict[int, list[tuple[float, bool]]]] = defaultdict(
            lambda: defaultdict(list))
        past: dict[tuple[str, str, bool], list[tuple[float, bool]]] = defaultdict(list)
        for service, route, name, start_ns, duration_ns, failed in rows:
            key = (service, route if route is not None else name, route is not None)
            sample = (duration_ns / 1e6, bool(failed))
            if start <= start_ns < end:
                current[key][start_ns // step_ns * step_ns // 1_000_000].append(sample)
            if ref_start <= start_ns < ref_end:
                past[key].append(sample)
        series = []
        for key, buckets in current.items():
            reference_samples = past.get(key, [])
            series.append(RouteSeries(
                service=key[0], route=key[1], routed=key[2],
                reference_calls=len(reference_samples),
                reference_errors=sum(failed for _, failed in reference_samples),
                reference_p95_ms=percentile([d for d, _ in reference_samples], 95),
                buckets=tuple(Bucket(at, len(samples), sum(f for _, f in samples), _percentiles(samples))
                              for at, samples in sorted(buckets.items())),
            ))
        return series

    def affected_traces(self, episodes: Sequence[Requests]) -> list[list[str]]:
        """Trace ids of each episode's failed (or slow) requests, most affected first."""
        answers = []
        for episode in episodes:
            column = "http_route" if episode.routed else "name"
            condition = _FAILED if episode.kind == "errors" else "duration_ns > ?"
            parameters: list[Any] = [episode.service, episode.route, _ns(episode.start), _ns(episode.end)]
            if episode.kind == "latency":
                parameters.append(int((episode.slow_ms or 0.0) * 1e6))
            rows = self.connection.execute(
                f"SELECT trace_id, COUNT(*) AS n FROM spans WHERE {_SERVER} AND COALESCE(service_name, '') = ? "
                f"AND {column} = ? AND start_ns >= ? AND start_ns < ? AND {condition} "
                f"GROUP BY trace_id ORDER BY n DESC, trace_id ASC LIMIT {MAX_TRACES}",
                parameters,
            ).fetchall()
            answers.append([row[0] for row in rows])
        return answers

    def trace_evidence(self, trace_sets: Sequence[Sequence[str]]) -> list[dict[str, TraceEvidence]]:
        """What the model and module spans of each trace say (errors, out-of-range inputs, durations)."""
        wanted = sorted({trace for traces in trace_sets for trace in traces})
        found: dict[str, TraceEvidence] = {}
        for chunk in range(0, len(wanted), 500):  # SQLite's default limit on bound parameters
            ids = wanted[chunk: chunk + 500]
            rows = self.connection.execute(
                "SELECT trace_id, ml_kind, model_name, model_version, module_name, status_code, duration_ns, "
                f"document FROM spans WHERE ml_kind IS NOT NULL AND trace_id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
            for trace, kind, model, version, module, status, duration_ns, document in rows:
                _add(found.setdefault(trace, TraceEvidence()), kind, model, version, module,
                     status == "Error", duration_ns / 1e6, json.loads(document).get("attributes", {}))
        return [{trace: found[trace] for trace in traces if trace in found} for traces in trace_sets]

    def callers(self, window: Window, models: Sequence[tuple[str, str]]) -> list[Callers]:
        """Per model version: sampled traces that called it and the routes those requests came in by."""
        answers = []
        for model, version in models:
            traces = [row[0] for row in self.connection.execute(
                "SELECT trace_id, COUNT(*) AS n FROM spans WHERE ml_kind = ? AND model_name = ? "
                "AND model_version = ? AND start_ns >= ? AND start_ns < ? "
                f"GROUP BY trace_id ORDER BY n DESC, trace_id ASC LIMIT {MAX_TRACES}",
                (semconv.SPAN_KIND_MODEL, model, version, _ns(window.start), _ns(window.end)))]
            counts: dict[tuple[str, str], int] = {}
            if traces:
                for service, route, n in self.connection.execute(
                        f"SELECT COALESCE(service_name, ''), COALESCE(http_route, name), COUNT(*) FROM spans "
                        f"WHERE {_SERVER} AND (parent_span_id IS NULL OR parent_span_id = '') "
                        f"AND trace_id IN ({','.join('?' * len(traces))}) GROUP BY 1, 2", traces):
                    counts[(service, route)] = n
            answers.append(Callers(traces, rank_routes(counts)))
        return answers


def _add(evidence: TraceEvidence, kind: str, model: str | None, version: str | None, module: str | None,
         failed: bool, duration_ms: float, attributes: dict[str, Any]) -> None:
    if kind == semconv.SPAN_KIND_MODEL:
        evidence.models.add((model or "", version or ""))
        evidence.model_errors += int(failed)
    elif kind == semconv.SPAN_KIND_MODULE and module is not None:
        evidence.modules[module] = max(evidence.modules.get(module, 0.0), duration_ms)
        if failed:
            evidence.error_modules[module] = min(evidence.error_modules.get(module, math.inf), duration_ms)
    count = attributes.get(semconv.quality_count(semconv.CHECK_OUT_OF_RANGE))
    if isinstance(count, (int, float)) and count > 0:
        evidence.out_of_range += 1
        features = attributes.get(semconv.quality_features(semconv.CHECK_OUT_OF_RANGE)) or []
        evidence.out_of_range_features.update(str(f) for f in (features if isinstance(features, list) else [features]))
