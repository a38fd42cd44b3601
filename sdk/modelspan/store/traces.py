"""The questions the incident correlator asks a store about traces, and the answers' types.

Incidents are found in the application's HTTP server spans and explained by the model spans of
the same traces (see ``modelspan.analyzer.incidents``). Every ``Store`` answers these questions
through ``store.traces()``: ``SQLiteStore`` in SQL over its ``spans`` table, ``ElasticsearchStore``
with aggregations over ``traces-*.otel-*``; both with the same sampling rules, so both give the
same incidents for the same spans, and a run costs a fixed number of queries whatever the spans.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from modelspan.store.types import Window

ROUTE_PERCENTS = (50.0, 75.0, 90.0, 95.0)
"""Latency percentiles reported per route and interval."""
MAX_TRACES = 200
"""Affected requests sampled per application episode (keeps the queries bounded)."""


def millis(moment: _dt.datetime) -> _dt.datetime:
    """``moment`` truncated to the millisecond, as Elasticsearch range bounds see it."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Bucket:
    """One interval of one route: ``start_ms`` is aligned to the interval, as a date_histogram key."""

    start_ms: int
    calls: int
    errors: int
    latency_ms: tuple[tuple[float, float], ...] = ()
    """(percent, ms) for ``ROUTE_PERCENTS`` (nearest rank in SQLite, t-digest in Elasticsearch)."""

    @property
    def p95_ms(self) -> float | None:
        return dict(self.latency_ms).get(95.0)

    def slower_than(self, threshold_ms: float) -> int:
        """At least this many requests took longer than ``threshold_ms`` (from the percentiles)."""
        for percent, value in sorted(self.latency_ms):
            if value > threshold_ms:
                return self.calls - math.ceil(percent / 100.0 * self.calls - 1e-9) + 1
        return 0


@dataclass(frozen=True)
class RouteSeries:
    """What a backend reports about one (service, route) in the window and its reference.

    ``routed`` tells whether ``route`` is the ``http.route`` attribute (a template) or, for
    instrumentations that do not set it, the span name (``"GET /checkout"``).
    """

    service: str
    route: str
    routed: bool
    reference_calls: int
    reference_errors: int
    reference_p95_ms: float | None
    buckets: tuple[Bucket, ...]


class Requests(Protocol):
    """The requests of an application episode to sample: failed ones, or those slower than ``slow_ms``."""

    @property
    def kind(self) -> Literal["errors", "latency"]: ...

    @property
    def service(self) -> str: ...

    @property
    def route(self) -> str: ...

    @property
    def routed(self) -> bool:
        """Whether ``route`` is ``http.route`` (else the span name)."""
        ...

    @property
    def start(self) -> _dt.datetime: ...

    @property
    def end(self) -> _dt.datetime: ...

    @property
    def slow_ms(self) -> float | None: ...


@dataclass
class TraceEvidence:
    """What one trace's model and module spans say."""

    models: set[tuple[str, str]] = field(default_factory=set)
    model_errors: int = 0
    error_modules: dict[str, float] = field(default_factory=dict)
    """Module name -> shortest failing span of it (ms)."""
    modules: dict[str, float] = field(default_factory=dict)
    """Module name -> longest span of it (ms)."""
    out_of_range: int = 0
    out_of_range_features: set[str] = field(default_factory=set)

    def innermost_error(self) -> str | None:
        if not self.error_modules:
            return None
        return min(self.error_modules.items(), key=lambda item: (item[1], item[0]))[0]


@dataclass(frozen=True)
class Callers:
    """Who called one model version in a window: sampled trace ids and the routes they entered by."""

    traces: list[str]
    routes: list[tuple[str, str, int]]
    """(service, route, sampled requests) of the traces' root server spans, most first."""


def rank_routes(counts: dict[tuple[str, str], int]) -> list[tuple[str, str, int]]:
    return sorted(((service, route, n) for (service, route), n in counts.items()),
                  key=lambda c: (-c[2], c[0], c[1]))


class TraceQueries(Protocol):
    """The store-specific half of incident correlation (``Store.traces()``)."""

    def route_series(self, window: Window, reference: Window, step_s: int) -> list[RouteSeries]:
        """Calls, errors and latency per (service, route): per ``step_s`` interval of ``window``, and in total
        over ``reference``."""
        ...

    def affected_traces(self, episodes: Sequence[Requests]) -> list[list[str]]:
        """Per episode, trace ids of its failed (or slow) requests: most affected first, at most ``MAX_TRACES``."""
        ...

    def trace_evidence(self, trace_sets: Sequence[Sequence[str]]) -> list[dict[str, TraceEvidence]]:
        """Per set of trace ids, what the model and module spans of each trace say."""
        ...

    def callers(self, window: Window, models: Sequence[tuple[str, str]]) -> list[Callers]:
        """Per model version: sampled traces that called it and the routes those requests came in by."""
        ...
