"""Exporter counters are exact in ``stats()`` and reach the SDK's metrics."""

from __future__ import annotations

import gc
import logging

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from modelspan.exporters._counters import COUNTERS, Counters


def test_stats_count_and_include_gauges() -> None:
    counters = Counters(gauges=lambda: {"spool_bytes": 10, "spool_documents": 2})
    counters.add("stored", 5)
    counters.add("stored")
    counters.add("dropped", 0)
    stats = counters.stats()
    assert stats["stored"] == 6 and stats["dropped"] == 0 and stats["spool_bytes"] == 10
    assert set(COUNTERS) <= set(stats)


def test_counters_are_observable_as_otel_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: provider)
    gc.collect()  # instruments sum over live exporters: let earlier tests' exporters go
    try:
        counters = Counters(gauges=lambda: {"spool_bytes": 123, "spool_documents": 1})
        counters.add("dead_lettered", 3)
        data = reader.get_metrics_data()
    finally:
        provider.shutdown()
    assert data is not None
    values = {metric.name: metric.data.data_points[0].value
              for resource in data.resource_metrics for scope in resource.scope_metrics for metric in scope.metrics}
    assert values["modelspan.exporter.spans.dead_lettered"] == 3
    assert values["modelspan.exporter.spool.size"] == 123


def test_warnings_are_throttled(caplog: pytest.LogCaptureFixture) -> None:
    counters = Counters()
    with caplog.at_level(logging.WARNING, logger="modelspan.exporters"):
        for _ in range(5):
            counters.warn("same", "outage %s", "x")
        counters.warn("other", "something else")
    assert [record.getMessage() for record in caplog.records] == ["outage x", "something else"]
