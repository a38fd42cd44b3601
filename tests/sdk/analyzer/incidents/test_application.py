"""The application-incident rule on hand-built series: what it flags, what it must not."""

from __future__ import annotations

import datetime as _dt

import pytest
from scipy import stats

from modelspan import findings as F
from modelspan.analyzer.incidents import _application as app
from modelspan.store import Window
from modelspan.store.traces import ROUTE_PERCENTS

WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T10:30:00Z")
STEP = app.interval_seconds(WINDOW)  # 60 s
START_MS = int(WINDOW.start.timestamp() * 1000)


def _series(buckets: list[tuple[int, int] | tuple[int, int, float]], ref_calls: int = 0, ref_errors: int = 0,
            ref_p95: float | None = None) -> app.RouteSeries:
    built = tuple(app.Bucket(START_MS + i * STEP * 1000, b[0], b[1],
                             tuple((p, b[2] if len(b) > 2 else 10.0) for p in ROUTE_PERCENTS))  # type: ignore[misc]
                  for i, b in enumerate(buckets) if b[0])
    return app.RouteSeries("shop", "/checkout", True, ref_calls, ref_errors, ref_p95, built)


def test_interval_is_about_a_thirtieth_of_the_window_in_whole_seconds() -> None:
    assert STEP == 60
    assert app.interval_seconds(Window.parse("2026-11-22T10:00:00Z", "2026-11-22T10:00:02Z")) == 1


def test_burst_against_a_clean_reference_is_one_episode_clipped_to_the_window() -> None:
    series = _series([(50, 0)] * 10 + [(50, 30), (50, 0), (50, 28)] + [(50, 1)] * 17, ref_calls=1000, ref_errors=3)
    episodes = app.detect([series], WINDOW, STEP)
    assert len(episodes) == 1  # one quiet interval between two bursting ones does not split them
    (episode,) = episodes
    assert episode.kind == "errors" and episode.baseline_kind == "reference"
    assert (episode.calls, episode.errors) == (150, 58)
    assert episode.baseline == pytest.approx(4 / 1002)
    assert episode.p_value == pytest.approx(stats.binom.sf(57, 150, 4 / 1002))
    assert episode.start == WINDOW.start + _dt.timedelta(minutes=10)
    assert episode.end == WINDOW.start + _dt.timedelta(minutes=13)


def test_steady_error_rate_like_the_reference_is_not_an_incident() -> None:
    series = _series([(200, 20)] * 30, ref_calls=6000, ref_errors=600)
    assert app.detect([series], WINDOW, STEP) == []


def test_without_reference_the_median_interval_is_the_baseline() -> None:
    burst = _series([(100, 5)] * 25 + [(100, 60)] * 3 + [(100, 5)] * 2)
    (episode,) = app.detect([burst], WINDOW, STEP)
    assert episode.baseline_kind == "window" and episode.baseline == pytest.approx(0.05)
    assert (episode.calls, episode.errors) == (300, 180)
    # the same uniform 5% everywhere is the route's normal
    assert app.detect([_series([(100, 5)] * 30)], WINDOW, STEP) == []


def test_too_few_errors_are_never_a_spike() -> None:
    assert app.detect([_series([(2, 2)] + [(100, 0)] * 29, ref_calls=500, ref_errors=0)], WINDOW, STEP) == []


def test_bonferroni_over_the_intervals_tested() -> None:
    base = 50 / 1002
    # 12 errors in 100 calls at a 5% baseline: p ~ 0.004, enough alone, not among 30 intervals
    assert 0.01 / 30 < stats.binom.sf(11, 100, base) < 0.01
    alone = _series([(100, 12)], ref_calls=1000, ref_errors=49)
    assert [e.errors for e in app.detect([alone], WINDOW, STEP)] == [12]
    among = _series([(100, 12)] + [(100, 5)] * 29, ref_calls=1000, ref_errors=49)
    assert app.detect([among], WINDOW, STEP) == []
    louder = _series([(100, 16)] + [(100, 5)] * 29, ref_calls=1000, ref_errors=49)
    assert [e.errors for e in app.detect([louder], WINDOW, STEP)] == [16]


def test_latency_spike_needs_ratio_margin_and_calls() -> None:
    slow = _series([(40, 0, 100.0)] * 20 + [(40, 0, 400.0)] + [(40, 0, 100.0)] * 9, ref_calls=800, ref_p95=100.0)
    (episode,) = app.detect([slow], WINDOW, STEP)
    assert (episode.kind, episode.value, episode.baseline, episode.slow_ms) == ("latency", 400.0, 100.0, 100.0)
    few_calls = _series([(5, 0, 400.0)] + [(40, 0, 100.0)] * 29, ref_calls=800, ref_p95=100.0)
    small_ratio = _series([(40, 0, 140.0)] + [(40, 0, 100.0)] * 29, ref_calls=800, ref_p95=100.0)
    small_delta = _series([(40, 0, 40.0)] + [(40, 0, 20.0)] * 29, ref_calls=800, ref_p95=20.0)
    assert app.detect([few_calls, small_ratio, small_delta], WINDOW, STEP) == []


def test_finding_document() -> None:
    series = _series([(50, 0)] * 10 + [(50, 30)], ref_calls=1000, ref_errors=3)
    (episode,) = app.detect([series], WINDOW, STEP)
    reference = app.previous(WINDOW)
    document = app.finding(episode, WINDOW, reference, [f"{i:032x}" for i in range(15)])
    assert set(document) <= F.field_names()
    assert document[F.ID] == "application_errors:shop:/checkout:2026-11-22T10:10:00.000Z"
    assert document[F.TYPE] == F.TYPE_APP_ERRORS and document[F.SEVERITY] == "critical"
    assert (document[F.WINDOW_START], document[F.WINDOW_END]) == ("2026-11-22T10:10:00.000Z",
                                                                  "2026-11-22T10:11:00.000Z")
    assert document[F.REFERENCE_START] == "2026-11-22T09:30:00.000Z"
    assert len(document[F.TRACE_IDS]) == F.MAX_EXAMPLE_TRACES
    assert document[F.SUMMARY] == "errors on /checkout on shop: 30 of 50 requests failed (60%, usually 0%)"


def test_a_burst_straddling_an_interval_boundary_is_one_episode_with_all_its_requests() -> None:
    # the burst starts in the last seconds of one interval: 2 failures of 3 there, not significant alone
    series = _series([(100, 0)] * 10 + [(3, 2), (50, 40), (100, 0)], ref_calls=1000, ref_errors=3)
    (episode,) = app.detect([series], WINDOW, STEP)
    assert (episode.calls, episode.errors) == (53, 42)
    assert episode.start == WINDOW.start + _dt.timedelta(minutes=10)
    # elevated neighbours alone, without a significant interval, are nothing
    assert app.detect([_series([(100, 0)] * 10 + [(3, 2), (100, 0)], ref_calls=1000, ref_errors=3)],
                      WINDOW, STEP) == []
