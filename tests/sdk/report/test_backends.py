"""The report fits its time charts to the traffic through the Store protocol alone, so Elasticsearch
(through the loopback stand-in, filled by the real exporter) and SQLite chart the same part of a
24-hour window for the same spans."""

from __future__ import annotations

import datetime as _dt
import re

import pytest

from modelspan import _time
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


def test_a_window_without_traffic_says_where_it_is_on_both_backends(traffic: Traffic) -> None:
    """``modelspan analyze``/``report`` on an empty window: the message names the hours of traffic,
    found through the same protocol questions (no backend-only shortcut)."""
    from modelspan.commands import _output
    from modelspan.commands._exit import NOTHING, CommandError

    empty = Window.parse("2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z")
    first = min(d["@timestamp"] for d in traffic.documents)
    last = max(d["@timestamp"] for d in traffic.documents)
    for name, opener in BACKENDS.items():
        with opener(traffic, False) as store, pytest.raises(CommandError) as refused:
            _output.check_traffic(store, empty, None, name)
        message = str(refused.value)
        assert refused.value.code == NOTHING and "no model traffic in 2026-11-23T10:00:00.000Z" in message, name
        found = re.search(r"the store has traffic from (\S+Z) to (\S+Z):", message)
        assert found, (name, message)
        since_t, until_t = (_time.parse(found.group(i)) for i in (1, 2))
        assert since_t <= _time.parse(first) and until_t >= _time.parse(last) - _dt.timedelta(seconds=1), message
        assert until_t - since_t <= _dt.timedelta(hours=2, minutes=10), (name, message)
