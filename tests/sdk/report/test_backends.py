"""The report fits its time charts to the traffic through the Store protocol alone, so Elasticsearch
(through the loopback stand-in, filled by the real exporter) and SQLite chart the same part of a
24-hour window for the same spans."""

from __future__ import annotations

import datetime as _dt

import pytest

from modelspan.report import collect
from modelspan.store import Window
from tests.sdk.analyzer.planted import REFERENCE, WINDOW, Plan, Traffic, generate
from tests.sdk.analyzer.test_planted import BACKENDS

DAY = Window.parse("2026-11-21T12:00:00Z", "2026-11-22T12:00:00Z")


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate(Plan(accuracy_drop=False), calls=120)


def test_both_backends_chart_the_hours_that_hold_traffic(traffic: Traffic) -> None:
    charted = {}
    for name, opener in BACKENDS.items():
        with opener(traffic, False) as store:
            data = collect(store, DAY)
        assert len(data.models) == 1, name
        report = data.models[0]
        assert report.charted is not None and report.stats.operations.calls == len(
            [d for d in traffic.documents if d["attributes"].get("ml.span.kind") == "model"]), name
        charted[name] = report.charted
    first, last = REFERENCE.start, WINDOW.end  # the generated spans lie in these two hours
    for name, window in charted.items():
        assert first <= window.start <= first + _dt.timedelta(minutes=2), (name, window)
        assert last - _dt.timedelta(minutes=2) <= window.end <= last + _dt.timedelta(minutes=2), (name, window)
    assert charted["elasticsearch"] == charted["sqlite"]
