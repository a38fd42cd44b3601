"""Planted problems found from profiles: the same findings at span sample rate 0.01 as at 1.0 (issue 13).

A real decorated model (``planted.py``'s sub-modules and data) serves a clean reference hour and an
analysed hour through the default store (the SQLite exporter), with a shifted feature, a unit change,
a new category, a novel module path, a slower sub-module and an error burst planted in the second. The
clock is a stand-in for ``time.time_ns`` (the standard library's, not ours): calls are spread over the
hours and sub-modules take planted durations, so both runs see identical traffic. Only the span
sample rate differs; drift, data quality, paths, latency and errors come from the profiles, exact.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.instrumentation import _config
from modelspan.store.sqlite import SQLiteStore
from tests.sdk.analyzer.planted import FRAUD_AMOUNT, MODEL, REFERENCE, WINDOW, Plan, _rows, training_baseline

CALLS = 300
MS = 1_000_000
BASE_MS = {"preprocess": 3, "scorer": 4, "rules": 5, "calibrate": 2, "fallback": 4}
SLOW_MS = 16
KEYS = (findings.TYPE, findings.MODEL_NAME, findings.MODEL_VERSION, findings.FEATURE_NAME, findings.MODULE_NAME,
        findings.MODULE_PATH, findings.METRIC_NAME, findings.FLAGGED)


class Clock:
    """``time.time_ns`` for the run: set by the traffic, advanced by the planted durations."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        self.now += 1_000  # every reading is a microsecond later: nothing takes no time
        return self.now

    def advance(self, ns: int) -> None:
        self.now += ns


class Traffic:
    slow = False
    fallback = False
    fail = False


def _model(clock: Clock, traffic: Traffic, baseline: modelspan.Baseline) -> Any:
    def step(name: str) -> None:
        with modelspan.module(name):
            clock.advance((SLOW_MS if name == "scorer" and traffic.slow else BASE_MS[name]) * MS)

    @modelspan.monitor(model=MODEL, version="2", baseline=baseline, task="classification")
    def predict(row: dict[str, Any]) -> str:
        step("preprocess")
        if traffic.fail:
            raise RuntimeError("planted error burst")
        if traffic.fallback:
            step("fallback")
        elif row["amount"] > FRAUD_AMOUNT:
            step("rules")
        else:
            step("scorer")
        step("calibrate")
        return "fraud" if row["amount"] > FRAUD_AMOUNT else "ok"

    return predict


def _serve(predict: Any, clock: Clock, traffic: Traffic, rows: list[dict[str, Any]], start_ns: int,
           rng: np.random.Generator, planted: bool) -> None:
    gap = 3600 * 10**9 // len(rows)
    for i, row in enumerate(rows):
        clock.now = start_ns + i * gap
        traffic.slow = planted
        traffic.fallback = planted and bool(rng.random() < 0.06)
        traffic.fail = planted and 100 <= i < 160 and i % 2 == 0  # 30 errors in twelve minutes
        with contextlib.suppress(RuntimeError):
            predict(row)


@contextlib.contextmanager
def _clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    with monkeypatch.context() as patch:
        patch.setattr(time, "time_ns", clock)
        yield clock


def _run(path: Path, sample_rate: float, monkeypatch: pytest.MonkeyPatch, exporter: Any = None) -> modelspan.Baseline:
    """Serve the reference and the planted hour into the SQLite file ``path`` (or into ``exporter``)."""
    rng = np.random.default_rng(7)
    baseline = training_baseline(rng, 0)
    reference, current = _rows(rng, CALLS, 0), _rows(rng, CALLS, 0, Plan())
    provider = TracerProvider()
    if exporter is None:
        modelspan.configure(tracer_provider=provider, exporter="sqlite", store=str(path), sample_rate=sample_rate)
    else:
        modelspan.configure(tracer_provider=provider, exporter=exporter, sample_rate=sample_rate)
    traffic = Traffic()
    try:
        with _clock(monkeypatch) as clock:
            with modelspan.Baseline.capture(model=MODEL, version="2", baseline=baseline) as capture:
                _serve(_model(clock, traffic, baseline), clock, traffic, _rows(rng, 200, 0),
                       int(REFERENCE.start.timestamp() * 1e9) - 7200 * 10**9, rng, False)
            assert capture.baseline is not None
            baseline = capture.baseline  # the training profile plus module paths per output
            predict = _model(clock, traffic, baseline)
            _serve(predict, clock, traffic, reference, int(REFERENCE.start.timestamp() * 1e9), rng, False)
            _serve(predict, clock, traffic, current, int(WINDOW.start.timestamp() * 1e9), rng, True)
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
    return baseline


def _findings(path: Path, baseline: modelspan.Baseline) -> tuple[list[dict[str, Any]], int, int]:
    with SQLiteStore(path, interval_seconds=600) as store:
        store.save_baseline(baseline)
        found = analyze(store, WINDOW, write=False).findings
        stats = store.model_stats([store.question(MODEL, "2", WINDOW, baseline)])[0]
        spans = store.connection.execute("SELECT count(*) FROM calls WHERE module = '' AND start_ns >= ?",
                                         (int(REFERENCE.start.timestamp() * 1e9),)).fetchone()[0]
    return found, stats.operations.calls, spans


def _key(finding: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(finding.get(key) for key in KEYS)


@pytest.mark.slow
def test_planted_problems_give_the_same_findings_at_one_percent_of_spans(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    results = {}
    for rate in (1.0, 0.01):
        path = tmp_path / f"rate-{rate}.db"
        baseline = _run(path, rate, monkeypatch)
        results[rate] = _findings(path, baseline)
    (full, full_calls, full_spans), (sampled, sampled_calls, sampled_spans) = results[1.0], results[0.01]
    assert full_calls == sampled_calls == CALLS  # exact: every call, not every span
    assert full_spans > 10 * sampled_spans  # the second run kept about one span in a hundred
    assert sorted(map(_key, full), key=repr) == sorted(map(_key, sampled), key=repr)
    counts = {_key(f): f.get(findings.SAMPLE_COUNT) for f in full}
    assert counts == {_key(f): f.get(findings.SAMPLE_COUNT) for f in sampled}  # exact counts, not estimates
    flagged = {(f[findings.TYPE], f.get(findings.FEATURE_NAME) or f.get(findings.MODULE_NAME)
                or f.get(findings.MODULE_PATH)) for f in sampled if f[findings.FLAGGED]}
    for planted in [(findings.TYPE_DRIFT, "age"), (findings.TYPE_DRIFT, "temp"), (findings.TYPE_DRIFT, "country"),
                    (findings.TYPE_NOVEL_PATH, "preprocess>fallback>calibrate"), (findings.TYPE_LATENCY, "scorer")]:
        assert planted in flagged, (planted, sorted(flagged))
    assert (findings.TYPE_DRIFT, "amount") not in flagged
    quality = {(f[findings.FEATURE_NAME], f[findings.METRIC_NAME]) for f in sampled
               if f[findings.FLAGGED] and f[findings.TYPE] == findings.TYPE_DATA_QUALITY}
    assert ("temp", "out_of_range_rate") in quality and ("country", "unseen_category_rate") in quality
    assert [f for f in sampled if f[findings.FLAGGED] and f[findings.TYPE] == findings.TYPE_ERROR_RATE]
