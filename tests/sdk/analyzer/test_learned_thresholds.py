"""Opt-in learned drift thresholds: ``analyze(..., learn_thresholds=N)`` / ``--learn-thresholds N``.

Traffic from a real decorated model over seven hours: feature ``jitter`` moves about every hour (its
mean wanders by a third of a standard deviation, well past the fixed Wasserstein and PSI thresholds,
but it always did), while ``age`` sits still until the analysed hour, when it shifts. Fixed
thresholds flag both; learned ones keep quiet about ``jitter`` and still catch ``age``.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import cli, findings
from modelspan.analyzer import analyze, drift
from modelspan.analyzer._learned import history_windows
from modelspan.analyzer._references import resolve
from modelspan.instrumentation import _config
from modelspan.store import Window
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.sdk.analyzer.planted import _documents
from tests.store.elasticsearch.fake_es import FakeElasticsearch

HOUR = _dt.timedelta(hours=1)
WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
HISTORY_MEANS = [0.35, -0.3, 0.25, -0.35, 0.3, -0.25]
"""``jitter``'s mean in the six hours before ``WINDOW`` (newest first): noisy, but stable in its noise."""
BATCHES, ROWS = 10, 100


def _rows(rng: np.random.Generator, n: int, jitter: float, age: float) -> dict[str, list[float]]:
    return {"jitter": list(rng.normal(jitter, 1.0, n)), "age": list(rng.normal(age, 10.0, n))}


@pytest.fixture(scope="module")
def traffic() -> tuple[modelspan.Baseline, list[dict[str, Any]]]:
    rng = np.random.default_rng(5)
    baseline = modelspan.Baseline.from_data(_rows(rng, 5000, 0.0, 40.0), model="m", version="1")
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4096))
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter)

    @modelspan.monitor(model="m", version="1", baseline=baseline)
    def predict(rows: list[dict[str, float]]) -> list[float]:
        return [row["jitter"] for row in rows]

    documents: list[dict[str, Any]] = []
    hours = [(WINDOW, 0.3, 55.0)] + [(Window(WINDOW.start - k * HOUR, WINDOW.end - k * HOUR), mean, 40.0)
                                     for k, mean in enumerate(HISTORY_MEANS, start=1)]
    try:
        for window, jitter, age in hours:
            for _ in range(BATCHES):
                columns = _rows(rng, ROWS, jitter, age)
                predict([{"jitter": j, "age": a} for j, a in zip(columns["jitter"], columns["age"], strict=True)])
            modelspan.force_flush()
            documents += _documents(list(exporter.get_finished_spans()), window, rng, None)
            exporter.clear()
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
    return baseline, documents


@contextmanager
def _store(traffic: tuple[modelspan.Baseline, list[dict[str, Any]]]) -> Iterator[Any]:
    with FakeElasticsearch() as fake:
        fake.add("traces-modelspan.otel-default", traffic[1])
        with ElasticsearchStore(fake.url, interval_seconds=600) as store:
            store.save_baseline(traffic[0])
            fake.requests.clear()
            store.fake = fake  # type: ignore[attr-defined]
            yield store


def _drifted(analysis: Any) -> set[str]:
    return {doc[findings.FEATURE_NAME] for doc in analysis.flagged if doc[findings.TYPE] == findings.TYPE_DRIFT}


def _statistics_requests(store: Any) -> list[Any]:
    return [body for _, path, body in store.fake.requests
            if path.endswith("/_msearch") and "calls" in body[1].get("aggs", {})]


def test_fixed_thresholds_flag_the_noisy_feature(traffic: Any) -> None:
    with _store(traffic) as store:
        analysis = analyze(store, WINDOW, write=False)
    assert _drifted(analysis) == {"jitter", "age"}
    assert analysis.thresholds == {}


def test_learned_thresholds_quiet_the_noisy_feature_and_still_catch_the_shift(traffic: Any) -> None:
    with _store(traffic) as store:
        analysis = analyze(store, WINDOW, write=False, learn_thresholds=6)
        requests = _statistics_requests(store)
    assert _drifted(analysis) == {"age"}
    # one request: (header, body) x (spans, profiles, per-feature profiles) x (window, reference, 6 history)
    assert len(requests) == 1 and len(requests[0]) == 2 * 3 * (2 + 6)
    learned = analysis.thresholds[("m", "1")]
    for test, threshold in learned["jitter"].items():
        assert threshold > drift.REGISTRY[test].default_threshold  # jitter's spread raised its bar
    if "age" in learned:
        assert all(t >= drift.REGISTRY[test].default_threshold for test, t in learned["age"].items())
    jitter = next(doc for doc in analysis.findings
                  if doc[findings.TYPE] == findings.TYPE_DRIFT and doc[findings.FEATURE_NAME] == "jitter")
    assert jitter[findings.TEST_THRESHOLD] == learned["jitter"][jitter[findings.TEST_NAME]]


def test_too_few_history_windows_keep_the_defaults(traffic: Any) -> None:
    with _store(traffic) as store:
        analysis = analyze(store, WINDOW, write=False, learn_thresholds=3)  # < thresholds.MIN_WINDOWS
    assert _drifted(analysis) == {"jitter", "age"} and analysis.thresholds == {}


def test_history_windows_skip_a_production_reference() -> None:
    previous = [w.iso()[0][11:16] for w in history_windows(WINDOW, resolve("previous", WINDOW), 2)]
    baseline = [w.iso()[0][11:16] for w in history_windows(WINDOW, resolve("baseline", WINDOW), 2)]
    assert previous == ["08:00", "07:00"] and baseline == ["09:00", "08:00"]
    with pytest.raises(ValueError, match="learn_thresholds"):
        history_windows(WINDOW, resolve("baseline", WINDOW), -1)


def test_cli_flag(traffic: Any) -> None:
    with _store(traffic) as store:
        out = io.StringIO()
        with redirect_stdout(out):
            code = cli.main(["analyze", "--once", "--since", WINDOW.iso()[0], "--until", WINDOW.iso()[1],
                             "--store", store.fake.url, "--no-write", "--format", "json", "--learn-thresholds", "6"])
        assert code == 0
        flagged = {doc.get(findings.FEATURE_NAME) for doc in json.loads(out.getvalue())["findings"]
                   if doc[findings.FLAGGED] and doc[findings.TYPE] == findings.TYPE_DRIFT}
        assert flagged == {"age"}
        assert cli.main(["analyze", "--once", "--store", store.fake.url, "--learn-thresholds", "-1"]) == 2


def test_learned_thresholds_on_the_sqlite_store(traffic: Any, tmp_path: Path) -> None:
    from modelspan.store.sqlite import SQLiteStore

    with SQLiteStore(tmp_path / "store.db", interval_seconds=600) as store:
        store.save_baseline(traffic[0])  # first: batch bins are binned on write
        store.load_documents(traffic[1])
        fixed = analyze(store, WINDOW, write=False)
        learned = analyze(store, WINDOW, write=False, learn_thresholds=6)
    assert _drifted(fixed) == {"jitter", "age"} and _drifted(learned) == {"age"}
