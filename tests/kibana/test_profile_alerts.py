"""The operational watches compute QPS, error rate and p95 right from profiles with known counts.

Profiles are recorded by the SDK's own profile state and written by the real exporter
(``export_profiles``) into the loopback stand-in after ``modelspan elastic setup``; each committed
watch's search is then evaluated there, at an instant that is not on a minute (so the ``/m``
rounding matters). Around the counted window lie documents that must not count: the minute in
progress, the minute before the window, a sub-module's own calls, and a second process flushing the
same minutes (which must add up). The painless conditions only compare these values with the watch's
metadata; the stand-in runs no painless, so the arithmetic lives in the search and is checked here.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelspan import _time
from modelspan.elasticsearch import profiles
from modelspan.instrumentation._profiles import Profile, _Profiles
from tests.kibana.test_alert_queries import resolve_now
from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.ingest import cluster, export_profiles

KIBANA = Path(__file__).resolve().parents[2] / "kibana"
WATCHES = {p.stem: json.loads(p.read_text()) for p in sorted((KIBANA / "watches").glob("*.json"))}
NOW = _dt.datetime(2026, 12, 3, 12, 0, 42, tzinfo=_dt.timezone.utc)
MINUTE = 60 * 10**9
WEEK = _dt.timedelta(days=7)
MS = 10**6


def _minute(moment: _dt.datetime, minutes_before: int) -> int:
    """Start (ns) of the minute ``minutes_before`` minutes before ``moment``'s own minute."""
    return _time.to_ns(moment.replace(second=0, microsecond=0)) - minutes_before * MINUTE


def _record(state: _Profiles, version: str, start: int, calls: int, *, errors: int = 0, slow: int = 0,
            module: str = "") -> None:
    """``calls`` calls in the minute at ``start``: the first ``errors`` fail, the last ``slow`` take 900 ms."""
    for number in range(calls):
        latency = 900 * MS if number >= calls - slow else 1 * MS
        begin = start + number * 10**6
        state.record("churn", version, module, begin, begin + latency, number < errors, 1.0, False)


def _flushes() -> list[list[Profile]]:
    """Two processes. Counted (minutes 2..6 before now's, v3): 600 calls, 45 errors, 60 at 900 ms."""
    first, second = _Profiles(), _Profiles()
    for minute in range(2, 7):  # the five whole minutes the recent watches count
        _record(first, "3", _minute(NOW, minute), 70, errors=5, slow=7)
        _record(second, "3", _minute(NOW, minute), 50, errors=4, slow=5)
        _record(first, "2", _minute(NOW, minute), 60, errors=1)
        _record(first, "3", _minute(NOW, minute), 30, errors=30, slow=30, module="encoder")  # a sub-module
    _record(first, "3", _minute(NOW, 0), 500, errors=500, slow=500)  # the minute in progress
    _record(first, "3", _minute(NOW, 1), 400, errors=400, slow=400)  # not flushed when the watch runs
    _record(first, "3", _minute(NOW, 7), 300, errors=300, slow=300)  # before the window
    for minute in range(2, 62):  # the same hour one week earlier: v3 at 2 calls/s, v2 as now
        _record(second, "3", _minute(NOW - WEEK, minute), 120)
        _record(second, "2", _minute(NOW - WEEK, minute), 5)
    return [first.take(), second.take()]


@pytest.fixture(scope="module")
def stored() -> Iterator[FakeElasticsearch]:
    with cluster() as es:
        export_profiles(es, _flushes())
        yield es


def _versions(es: FakeElasticsearch, watch_id: str) -> dict[str, dict[str, Any]]:
    request = WATCHES[watch_id]["input"]["search"]["request"]
    assert request["indices"] == [profiles.PATTERN]
    response = es.search(request["indices"][0], resolve_now(request["body"], now=NOW))
    return {v["key"]: v for m in response["aggregations"]["models"]["buckets"] for v in m["versions"]["buckets"]}


def test_error_rate_is_errors_over_calls_of_the_five_whole_minutes(stored: FakeElasticsearch) -> None:
    versions = _versions(stored, "modelspan-error-rate")
    assert versions["3"]["calls"]["value"] == 600 and versions["3"]["errors"]["value"] == 45
    assert versions["3"]["error_rate"]["value"] == pytest.approx(45 / 600)
    assert versions["2"]["error_rate"]["value"] == pytest.approx(5 / 300)
    metadata = WATCHES["modelspan-error-rate"]["metadata"]
    assert versions["3"]["error_rate"]["value"] > metadata["max_error_rate"] > versions["2"]["error_rate"]["value"]


def test_latency_p95_comes_from_the_merged_histograms(stored: FakeElasticsearch) -> None:
    versions = _versions(stored, "modelspan-latency-p95")
    assert versions["3"]["calls"]["value"] == 600
    # 540 calls at 1 ms, 60 at 900 ms: rank ceil(0.95 * 600) = 570 is a 900 ms call (sketch: within 1 %).
    assert versions["3"]["latency"]["values"]["95.0"] == pytest.approx(900 * MS, rel=0.01)
    assert versions["2"]["latency"]["values"]["95.0"] == pytest.approx(1 * MS, rel=0.01)
    threshold = WATCHES["modelspan-latency-p95"]["metadata"]["threshold_ms"] * MS
    assert versions["3"]["latency"]["values"]["95.0"] > threshold > versions["2"]["latency"]["values"]["95.0"]


def test_qps_is_calls_over_the_hour_in_seconds_against_a_week_earlier(stored: FakeElasticsearch) -> None:
    versions = _versions(stored, "modelspan-qps-drop")
    # This hour (minutes 2..61 before now's): v3's five recent minutes (600 calls) and the minute before
    # them (300); not the minute in progress nor the last one. A week earlier: 7,200 calls.
    assert versions["3"]["now"]["calls"]["value"] == 900 and versions["3"]["week_ago"]["calls"]["value"] == 7200
    assert versions["3"]["qps"]["value"] == pytest.approx(900 / 3600)
    assert versions["3"]["qps_week_ago"]["value"] == pytest.approx(2.0)
    assert versions["2"]["qps"]["value"] == versions["2"]["qps_week_ago"]["value"] == pytest.approx(300 / 3600)
    metadata = WATCHES["modelspan-qps-drop"]["metadata"]
    assert versions["3"]["qps"]["value"] < versions["3"]["qps_week_ago"]["value"] * (1 - metadata["max_drop"])


def test_profile_watches_read_only_fields_of_the_profile_mapping() -> None:
    """Field names come from ``modelspan.elasticsearch.profiles``, the owner of the stream's mapping."""
    from tests.kibana import fields

    for watch_id in ("modelspan-error-rate", "modelspan-latency-p95", "modelspan-qps-drop"):
        body = WATCHES[watch_id]["input"]["search"]["request"]["body"]
        names = set(fields.dsl_fields(body))
        assert {profiles.MODEL, profiles.VERSION, profiles.CALLS, profiles.MODULE, profiles.KIND} <= names
        assert all(fields.profile_field_type(name) for name in names), names
    assert fields.profile_field_type(profiles.LATENCY) == "histogram"
