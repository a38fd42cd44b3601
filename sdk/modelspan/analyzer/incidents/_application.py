"""Application incidents: error-rate and latency spikes per service and route.

The backends reduce the application's HTTP server spans (spans of kind ``Server`` without
``ml.span.kind``, as the official OpenTelemetry HTTP instrumentations write them) to one
``RouteSeries`` per (service, route): calls, errors and p95 latency per interval of the analysed
window, plus the same totals over a reference window. The rule below is pure and shared.

The rule, per route and interval (robust to a burst inside the window, no distribution assumed
for latency):

* **Baseline.** The route's reference window when it holds at least ``MIN_REFERENCE_CALLS``
  requests (error rate smoothed as ``(errors + 1) / (calls + 2)`` so a clean reference is not a
  rate of exactly zero); otherwise the window's own baseline: the *median* interval error rate and
  median interval p95, which a burst covering less than half the intervals cannot move.
* **Error spike.** An interval is flagged when it has at least ``MIN_ERRORS`` failed requests
  (status ``Error`` or HTTP status >= 500), its error rate is at least ``ERROR_RATIO`` times the
  baseline rate and ``ERROR_MARGIN`` above it, and the one-sided binomial tail
  ``P(X >= errors | calls, baseline rate)`` is below ``ALPHA`` divided by the number of intervals
  tested (Bonferroni: many routes times many intervals would otherwise fire by chance).
* **Latency spike.** An interval with at least ``MIN_LATENCY_CALLS`` requests whose p95 is at
  least ``LATENCY_RATIO`` times the baseline p95 and ``LATENCY_MARGIN_MS`` above it, *and* where
  significantly more requests than the expected 5% are slower than the baseline p95: the interval's
  percentiles (p50, p75, p90, p95) bound that count from below (if p75 is above it, at least a
  quarter are), and the same binomial tail against 5% must be below ``ALPHA`` / intervals. A couple
  of slow requests on a busy machine move a p95 of a small interval but are not a spike.
* An episode is a run of *elevated* intervals (the rate or p95 conditions without the minimum
  counts and the test) that holds at least one flagged interval, so a burst straddling an interval
  boundary is one episode with all its requests; one quiet interval inside a run does not split it.
  Each episode becomes one finding (``application_errors`` / ``application_latency``).
"""

from __future__ import annotations

import datetime as _dt
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from scipy import stats as _scipy_stats

from modelspan import findings as F
from modelspan._time import from_millis, iso
from modelspan.store import Window
from modelspan.store.traces import Bucket, RouteSeries, millis

MIN_REFERENCE_CALLS = 20
MIN_ERRORS = 3
ERROR_RATIO = 2.0
ERROR_MARGIN = 0.05
ALPHA = 0.01
MIN_LATENCY_CALLS = 10
LATENCY_RATIO = 1.5
LATENCY_MARGIN_MS = 50.0
SLOW_SHARE = 0.05
"""Share of requests slower than the baseline p95 when nothing changed."""
TARGET_INTERVALS = 30
"""The window is cut into about this many intervals (whole seconds, at least one)."""

Kind = Literal["errors", "latency"]


@dataclass(frozen=True)
class Episode:
    """A detected spike: the requests it covers are selected again by the correlator."""

    kind: Kind
    service: str
    route: str
    routed: bool
    start: _dt.datetime
    end: _dt.datetime
    calls: int
    errors: int
    value: float
    """Error rate, or the highest interval p95 in ms."""
    baseline: float
    baseline_kind: Literal["reference", "window"]
    p_value: float | None
    slow_ms: float | None
    """Latency episodes: requests slower than this (the baseline p95) are the affected ones."""

    @property
    def finding_type(self) -> str:
        return F.TYPE_APP_ERRORS if self.kind == "errors" else F.TYPE_APP_LATENCY

    @property
    def finding_id(self) -> str:
        return f"{self.finding_type}:{self.service}:{self.route}:{iso(self.start)}"


def interval_seconds(window: Window) -> int:
    """Interval length for ``window``: about ``TARGET_INTERVALS`` intervals, whole seconds.

    >>> interval_seconds(Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"))
    120
    """
    return max(1, math.ceil(window.seconds / TARGET_INTERVALS))


def previous(window: Window) -> Window:
    """The window of the same length just before ``window`` (the default reference)."""
    return Window(window.start - (window.end - window.start), window.start)


def detect(series: Sequence[RouteSeries], window: Window, step_s: int) -> list[Episode]:
    """Episodes of every route (errors first, then latency), in a stable order."""
    episodes: list[Episode] = []
    for route in sorted(series, key=lambda s: (s.service, s.route)):
        episodes.extend(_error_episodes(route, window, step_s))
        episodes.extend(_latency_episodes(route, window, step_s))
    return episodes


def _error_episodes(route: RouteSeries, window: Window, step_s: int) -> list[Episode]:
    baseline_kind: Literal["reference", "window"]
    if route.reference_calls >= MIN_REFERENCE_CALLS:
        base, baseline_kind = (route.reference_errors + 1) / (route.reference_calls + 2), "reference"
    else:
        rates = [b.errors / b.calls for b in route.buckets if b.calls]
        base, baseline_kind = (statistics.median(rates) if rates else 0.0), "window"
    tested = max(1, sum(1 for b in route.buckets if b.calls))
    elevated = [b for b in route.buckets if b.errors and b.errors / b.calls >= ERROR_RATIO * base
                and b.errors / b.calls - base >= ERROR_MARGIN]
    significant = {b.start_ms for b in elevated
                   if b.errors >= MIN_ERRORS and _binomial_tail(b.errors, b.calls, base) < ALPHA / tested}
    episodes = []
    for group in _runs(elevated, significant, step_s, route.buckets):
        calls, errors = sum(b.calls for b in group), sum(b.errors for b in group)
        start, end = _clip(group, window, step_s)
        episodes.append(Episode("errors", route.service, route.route, route.routed, start, end, calls, errors,
                                errors / calls, base, baseline_kind, _binomial_tail(errors, calls, base), None))
    return episodes


def _latency_episodes(route: RouteSeries, window: Window, step_s: int) -> list[Episode]:
    baseline_kind: Literal["reference", "window"]
    if route.reference_calls >= MIN_REFERENCE_CALLS and route.reference_p95_ms is not None:
        base, baseline_kind = route.reference_p95_ms, "reference"
    else:
        p95s = [b.p95_ms for b in route.buckets if b.p95_ms is not None]
        if not p95s:
            return []
        base, baseline_kind = statistics.median(p95s), "window"
    tested = max(1, sum(1 for b in route.buckets if b.calls))
    elevated = [b for b in route.buckets if b.p95_ms is not None
                and b.p95_ms >= LATENCY_RATIO * base and b.p95_ms - base >= LATENCY_MARGIN_MS]
    significant = {b.start_ms for b in elevated if b.calls >= MIN_LATENCY_CALLS
                   and _binomial_tail(b.slower_than(base), b.calls, SLOW_SHARE) < ALPHA / tested}
    episodes = []
    for group in _runs(elevated, significant, step_s, route.buckets):
        start, end = _clip(group, window, step_s)
        worst = max(b.p95_ms or 0.0 for b in group)
        episodes.append(Episode("latency", route.service, route.route, route.routed, start, end,
                                sum(b.calls for b in group), sum(b.errors for b in group), worst, base,
                                baseline_kind, None, base))
    return episodes


def _binomial_tail(errors: int, calls: int, rate: float) -> float:
    """``P(X >= errors)`` for ``X ~ Binomial(calls, rate)``; a zero rate makes any error impossible."""
    if rate <= 0.0:
        return 0.0 if errors > 0 else 1.0
    return float(_scipy_stats.binom.sf(errors - 1, calls, min(rate, 1.0)))


def _runs(elevated: list[Bucket], significant: set[int], step_s: int,
          every: Sequence[Bucket]) -> list[list[Bucket]]:
    """Runs of elevated intervals holding at least one significant one, each with every interval it
    spans (their counts belong to the episode).

    A burst is found where it is significant and then covers its elevated neighbours, so a burst
    that straddles an interval boundary is one episode with all its requests; one quiet interval
    between two elevated ones does not split a run.
    """
    runs: list[list[Bucket]] = []
    for bucket in sorted(elevated, key=lambda b: b.start_ms):
        if runs and bucket.start_ms - runs[-1][-1].start_ms <= 2 * step_s * 1000:
            runs[-1].append(bucket)
        else:
            runs.append([bucket])
    return [sorted((b for b in every if run[0].start_ms <= b.start_ms <= run[-1].start_ms), key=lambda b: b.start_ms)
            for run in runs if any(b.start_ms in significant for b in run)]


def _clip(group: list[Bucket], window: Window, step_s: int) -> tuple[_dt.datetime, _dt.datetime]:
    start = from_millis(group[0].start_ms)
    end = from_millis(group[-1].start_ms + step_s * 1000)
    return max(start, millis(window.start)), min(end, millis(window.end))




def finding(episode: Episode, window: Window, reference: Window, trace_ids: Sequence[str]) -> dict[str, Any]:
    """The findings document of one episode (``window.*`` is the episode's own time range)."""
    is_errors = episode.kind == "errors"
    severe = episode.value >= 0.5 if is_errors else episode.value >= 3 * episode.baseline
    document: dict[str, Any] = {
        F.TIMESTAMP: iso(window.end),
        F.ID: episode.finding_id,
        F.TYPE: episode.finding_type,
        F.FLAGGED: True,
        F.SEVERITY: "critical" if severe else "warning",
        F.SUMMARY: application_summary(episode),
        F.SERVICE_NAME: episode.service,
        F.ROUTE: episode.route,
        F.WINDOW_START: iso(episode.start),
        F.WINDOW_END: iso(episode.end),
        F.REFERENCE_KIND: episode.baseline_kind,
        F.METRIC_NAME: F.METRIC_ERROR_RATE if is_errors else F.METRIC_LATENCY_P95,
        F.METRIC_VALUE: episode.value,
        F.METRIC_REFERENCE_VALUE: episode.baseline,
        F.SAMPLE_COUNT: episode.calls,
        F.TRACE_IDS: list(trace_ids[: F.MAX_EXAMPLE_TRACES]),
    }
    if episode.baseline_kind == "reference":
        document[F.REFERENCE_START], document[F.REFERENCE_END] = iso(reference.start), iso(reference.end)
    if episode.p_value is not None:
        document[F.TEST_NAME] = "binomial"
        document[F.TEST_P_VALUE] = episode.p_value
        document[F.TEST_THRESHOLD] = ALPHA
    return document


def percent(value: float) -> str:
    """``0.75`` as ``75%``."""
    return f"{value * 100:.0f}%"


def _where(episode: Episode) -> str:
    return f"{episode.route} on {episode.service}" if episode.service else episode.route


def application_summary(episode: Episode) -> str:
    """One line about the episode alone.

    >>> import datetime as dt
    >>> t = dt.datetime(2026, 11, 22, 10, tzinfo=dt.timezone.utc)
    >>> application_summary(Episode("errors", "shop", "POST /checkout", False, t, t, 40, 30, 0.75, 0.02,
    ...                             "reference", 1e-20, None))
    'errors on POST /checkout on shop: 30 of 40 requests failed (75%, usually 2%)'
    """
    if episode.kind == "errors":
        return (f"errors on {_where(episode)}: {episode.errors} of {episode.calls} requests failed "
                f"({percent(episode.value)}, usually {percent(episode.baseline)})")
    return (f"slow requests on {_where(episode)}: p95 {episode.value:.0f} ms over {episode.calls} requests "
            f"(usually {episode.baseline:.0f} ms)")
