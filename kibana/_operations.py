"""Calls per second, latency and error rate from the profile data stream, and the way to their traces.

Profiles (docs/profiles.md) count every call before span sampling, so these columns are exact at any
span sample rate: QPS is ``sum(calls)`` per second of the bucket (Lens ``timeScale``), the error rate
``sum(errors) / sum(calls)``, latency percentiles Lens ``percentile`` over the ``histogram`` field
(Lens accepts ``histogram`` fields for percentiles: the merged sketch of the bucket's documents, within
1 % of each latency, then Elasticsearch's t-digest). The newest minute is not flushed yet, so the
rightmost point of a chart ending at ``now`` is partial.

Traces stay sampled spans. Every profile panel carries a URL drilldown (panel menu, Gold licence
and up) that opens the sampled model spans in Discover with the panel's time range and filters (the
model and version controls); on Basic, the dashboards embed the saved search ``SAMPLED_CALLS``,
which the same controls and time picker filter, and whose trace ids open the whole trace.
"""

from __future__ import annotations

from typing import Any

from kibana import _lens as L
from kibana._views import (
    DURATION,
    MODEL,
    P_CALLS,
    P_ERRORS,
    P_LATENCY,
    P_ROWS,
    P_SPANS,
    ROOT,
    SAMPLE_RATE,
    SPANS_VIEW,
    STATUS_CODE,
    TRACE_ID,
    VERSION,
)

Json = dict[str, Any]
PERCENTS = (50, 90, 95, 99)
SAMPLED_CALLS = "modelspan-search-sampled-calls"
TRACES = "Sampled traces: this panel's model, version and time range (Discover)"
TRACES_URL = (
    "{{kibanaUrl}}/app/discover#/?_g=(time:(from:'{{context.panel.timeRange.from}}',"
    "to:'{{context.panel.timeRange.to}}'))&_a=(dataSource:(dataViewId:" + SPANS_VIEW + ",type:dataView),"
    "filters:{{rison context.panel.filters}},query:(language:kuery,query:'" + ROOT + "'))"
)
"""Discover on the model spans, with the dashboard's time range and filters (rison-encoded)."""


def qps(label: str = "calls/s") -> Json:
    return L.stat("sum", P_CALLS, label, per="s")


def rows_per_second() -> Json:
    return L.stat("sum", P_ROWS, "rows/s", per="s")


def calls(label: str = "calls") -> Json:
    return L.stat("sum", P_CALLS, label)


def latency(percentile: int) -> Json:
    return L.stat("percentile", P_LATENCY, f"p{percentile} latency", percentile=percentile)


def percentiles() -> Json:
    return {f"p{p}": latency(p) for p in PERCENTS}


def error_rate(column_id: str) -> dict[str, Json]:
    return L.sum_ratio(column_id, "error rate", P_ERRORS, P_CALLS)


def traced(column_id: str) -> dict[str, Json]:
    """Share of calls whose span was started (the span sample rate at work), from the same profiles."""
    return L.sum_ratio(column_id, "calls with a sampled span", P_SPANS, P_CALLS)


def traces_drilldown(panel: str) -> list[Json]:
    return [L.url_drilldown(panel, TRACES, TRACES_URL)]


def sampled_calls_search() -> Json:
    """The sampled model spans, newest first: the Basic-licence link from profile panels to traces."""
    return L.saved_search(SAMPLED_CALLS, "[modelspan] Sampled calls (traces)", SPANS_VIEW,
                          [MODEL, VERSION, DURATION, STATUS_CODE, SAMPLE_RATE, TRACE_ID], ROOT)
