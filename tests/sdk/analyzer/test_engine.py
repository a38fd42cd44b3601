"""analyze(): one statistics request per run, deterministic findings, references, scheduler (issue 4)."""

from __future__ import annotations

import copy
import datetime as _dt
import doctest
import importlib
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from modelspan import findings, semconv
from modelspan.analyzer import Analysis, _scheduler, analyze
from modelspan.analyzer._documents import Context
from modelspan.analyzer._performance_findings import performance_findings
from modelspan.analyzer._references import resolve
from modelspan.store import LabelledPrediction, Window
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.contract.tsc import recorded_cases, typecheck
from tests.sdk.analyzer.planted import CLEAN, REFERENCE, WINDOW, Plan, Traffic, generate
from tests.store.elasticsearch.fake_es import FakeElasticsearch

SPANS = "traces-modelspan.otel-default"


@pytest.fixture(scope="module")
def planted() -> Traffic:
    return generate(Plan(), calls=300)


def _two_versions(traffic: Traffic) -> list[dict[str, Any]]:
    """The traffic as version 2 and again as version 1 (which has no stored baseline)."""
    older = copy.deepcopy(traffic.documents)
    for document in older:
        document["attributes"][semconv.MODEL_VERSION] = "1"
    return traffic.documents + older


@contextmanager
def _store(traffic: Traffic, documents: list[dict[str, Any]] | None = None, weight: int = 1) -> Iterator[Any]:
    with FakeElasticsearch() as fake:
        fake.add(SPANS, documents if documents is not None else traffic.documents, weight=weight)
        with ElasticsearchStore(fake.url, interval_seconds=600) as store:
            store.save_baseline(traffic.baseline)
            store.record_outcomes(traffic.outcomes)
            fake.requests.clear()
            store.fake = fake  # type: ignore[attr-defined]
            yield store


def _kinds(store: Any) -> Counter[str]:
    return Counter(f"{method} {path.rsplit('/', 1)[-1]}" for method, path, _ in store.fake.requests if path != "/")


def test_one_statistics_request_answers_every_version_and_reference_window(planted: Traffic) -> None:
    with _store(planted, _two_versions(planted)) as store:
        analysis = analyze(store, WINDOW)
        msearches = [body for _, path, body in store.fake.requests if path.endswith("/_msearch")
                     and "calls" in body[1].get("aggs", {})]  # model statistics (not the incident searches)
    # (header, body) x (spans, profiles, per-feature profiles) x 2 versions x 2 windows
    assert len(msearches) == 1 and len(msearches[0]) == 2 * 3 * 4
    assert sorted((s.model, s.version) for s in analysis.stats) == [("fraud", "1"), ("fraud", "2")]
    by_version = Counter((f[findings.MODEL_VERSION], f[findings.TYPE]) for f in analysis.flagged)
    assert by_version[("2", findings.TYPE_DRIFT)] == 3
    assert by_version[("1", findings.TYPE_DRIFT)] == 0  # no baseline for version 1: no bins to compare
    assert by_version[("1", findings.TYPE_LATENCY)] >= 1  # ...but its operations are still compared


def test_findings_ids_are_deterministic_and_a_rerun_replaces(planted: Traffic) -> None:
    with _store(planted) as store:
        first = analyze(store, WINDOW)
        stored = len(store.fake.indices[findings.FINDINGS_INDEX])
        second = analyze(store, WINDOW)
        assert len(store.fake.indices[findings.FINDINGS_INDEX]) == stored == first.written
        read = store.read_findings(WINDOW)
    ids = [f[findings.ID] for f in first.findings]
    assert len(ids) == len(set(ids)) and ids == [f[findings.ID] for f in second.findings]
    assert sorted(f[findings.ID] for f in read) == sorted(ids)
    for finding in first.findings:
        assert set(finding) <= findings.field_names()
        kind, model, version = finding[findings.ID].split(":")[:3]
        if finding[findings.TYPE] != findings.TYPE_INCIDENT:
            assert (kind, model, version) == (finding[findings.TYPE], "fraud", "2")
            assert finding[findings.ID].endswith(":" + WINDOW.iso()[0])
        assert finding[findings.FLAGGED] == (finding[findings.SEVERITY] != "info")


def _stale(window: Window, feature: str) -> dict[str, Any]:
    start, end = window.iso()
    return {findings.ID: f"drift:fraud:2:{feature}:{start}", findings.TYPE: findings.TYPE_DRIFT,
            findings.FLAGGED: True, findings.MODEL_NAME: "fraud", findings.MODEL_VERSION: "2",
            findings.FEATURE_NAME: feature, findings.WINDOW_START: start, findings.WINDOW_END: end,
            findings.TIMESTAMP: end}


def test_a_rerun_removes_findings_the_window_no_longer_has(planted: Traffic, tmp_path: Any) -> None:
    """Late data can make a column clean again: its old drift finding must go, not linger by id."""
    from modelspan.store.sqlite import SQLiteStore

    earlier = Window(WINDOW.start - (WINDOW.end - WINDOW.start), WINDOW.start)
    with _store(planted) as es_store, SQLiteStore(tmp_path / "store.db", interval_seconds=600) as sqlite_store:
        sqlite_store.load_documents(planted.documents)
        sqlite_store.save_baseline(planted.baseline)
        for store in (es_store, sqlite_store):
            store.write_findings([_stale(WINDOW, "gone"), _stale(earlier, "kept")])
            analysis = analyze(store, WINDOW)
            ids = {f[findings.ID] for f in store.read_findings()}
            assert _stale(WINDOW, "gone")[findings.ID] not in ids
            assert _stale(earlier, "kept")[findings.ID] in ids  # another window's findings stay
            assert {f[findings.ID] for f in analysis.findings} <= ids


def test_model_filter_and_write_false(planted: Traffic) -> None:
    with _store(planted) as store:
        assert analyze(store, WINDOW, model="other").stats == []
        analysis = analyze(store, WINDOW, write=False)
        assert analysis.findings and analysis.written == 0
        assert not store.fake.indices[findings.FINDINGS_INDEX]


def test_a_production_reference_window_finds_the_same_drift(planted: Traffic) -> None:
    with _store(planted) as store:
        analysis = analyze(store, WINDOW, reference=REFERENCE)
    drifted = {f[findings.FEATURE_NAME] for f in analysis.flagged if f[findings.TYPE] == findings.TYPE_DRIFT}
    assert drifted == {"age", "temp", "country"}
    sample = analysis.findings[0]
    assert sample[findings.REFERENCE_KIND] == "window"
    assert (sample[findings.REFERENCE_START], sample[findings.REFERENCE_END]) == REFERENCE.iso()
    novel = [f for f in analysis.flagged if f[findings.TYPE] == findings.TYPE_NOVEL_PATH]
    assert [f[findings.MODULE_PATH] for f in novel] == ["preprocess>fallback>calibrate"]


def test_rolling_references() -> None:
    assert resolve("yesterday", WINDOW).window == Window(WINDOW.start - _dt.timedelta(days=1),
                                                          WINDOW.end - _dt.timedelta(days=1))
    assert resolve("last_week", WINDOW).window.start == WINDOW.start - _dt.timedelta(days=7)
    assert resolve("previous", WINDOW).window == REFERENCE and not resolve("previous", WINDOW).profile
    assert resolve("baseline", WINDOW).profile
    with pytest.raises(ValueError, match="reference must be"):
        resolve("tomorrow", WINDOW)
    with pytest.raises(ValueError, match="empty"):
        resolve(Window(WINDOW.end, WINDOW.start), WINDOW)


def _labelled(minute: int, hit: bool, number: int) -> LabelledPrediction:
    moment = WINDOW.start + _dt.timedelta(minutes=minute)
    return LabelledPrediction(f"p{number}", moment.isoformat(), "yes" if hit else "no", "yes", None, None, None)


def test_performance_falls_back_to_earlier_buckets_without_reference_labels() -> None:
    rows = [_labelled(5, i % 10 != 0, i) for i in range(100)]  # 90% in the first bucket
    rows += [_labelled(45, i % 2 == 0, 100 + i) for i in range(100)]  # 50% in the last
    context = Context(WINDOW, "baseline", REFERENCE, "now")
    docs = performance_findings(context, "m", "1", rows, [], 600.0)
    drop = [d for d in docs if d[findings.ID].startswith("quality:m:1:accuracy_drop")]
    assert drop[0][findings.FLAGGED] and "earlier buckets" in drop[0][findings.SUMMARY]
    assert drop[0][findings.METRIC_VALUE] == 0.5 and drop[0][findings.METRIC_REFERENCE_VALUE] == 0.9
    buckets = [d for d in docs if d[findings.METRIC_NAME] == "bucket_accuracy"]
    assert [d[findings.METRIC_VALUE] for d in buckets] == [0.9, 0.5]
    steady = performance_findings(context, "m", "1", rows[:100], rows[:100], 600.0)
    assert not any(d[findings.FLAGGED] for d in steady)


def test_requests_per_run_do_not_grow_with_spans() -> None:
    traffic = generate(Plan(), calls=100, seed=2)
    weight = 10_000 // len(traffic.documents)
    runs: list[tuple[Counter[str], Analysis, list[Any]]] = []
    for factor in (1, 100):  # ~10,000 and ~1,000,000 spans
        with _store(traffic, weight=weight * factor) as store:
            analysis = analyze(store, WINDOW)
            runs.append((_kinds(store), analysis, list(store.fake.requests)))
    (small, small_run, requests), (large, large_run, _) = runs
    assert small == large, (small, large)
    assert large_run.stats[0].operations.calls == 100 * small_run.stats[0].operations.calls >= 100_000
    # models, baseline, msearch, labels (outcomes page + predictions) for both windows, incidents,
    # delete_by_query (the window's old findings), bulk
    assert sum(small.values()) <= 13, small
    cases = recorded_cases(requests)
    assert any(case.label.endswith("/_delete_by_query") for case in cases)
    typecheck(cases)


def test_scheduler_resumes_from_the_checkpoint_and_reanalyses_late_windows() -> None:
    traffic = generate(CLEAN, calls=120, seed=4)
    every, lateness = _dt.timedelta(minutes=5), _dt.timedelta(minutes=5)
    with _store(traffic) as store:
        first = _scheduler.tick(store, WINDOW.start + _dt.timedelta(minutes=12), every, lateness)
        assert [a.window.iso()[0][11:16] for a in first if a.window] == ["10:05"]
        assert store.get_checkpoint("analyze") == "2026-11-22T10:10:00.000Z"
        second = _scheduler.tick(store, WINDOW.start + _dt.timedelta(minutes=21), every, lateness)
        assert [a.window.iso()[0][11:16] for a in second if a.window] == ["10:05", "10:10", "10:15"]
        assert store.get_checkpoint("analyze") == "2026-11-22T10:20:00.000Z"
        assert all(a.stats for a in second)  # each 5-minute window really had calls


def test_run_every_finishes_the_window_then_stops_with_the_checkpoint_saved() -> None:
    traffic = generate(CLEAN, calls=60, seed=6)
    stop = threading.Event()
    seen: list[Analysis] = []

    def on_window(analysis: Analysis) -> None:
        seen.append(analysis)
        stop.set()  # as SIGTERM would, in the middle of a backlog

    def clock() -> _dt.datetime:
        return WINDOW.end

    with _store(traffic) as store:
        count = _scheduler.run_every(store, _dt.timedelta(minutes=5), _dt.timedelta(0), stop, clock=clock,
                                     on_window=on_window, since=WINDOW.start)
        assert count == 1 and len(seen) == 1
        assert store.get_checkpoint("analyze") == "2026-11-22T10:05:00.000Z"


def test_qps_is_scaled_by_the_sample_rate_and_sub_modules_follow(planted: Traffic) -> None:
    sampled = copy.deepcopy(planted.documents)
    for document in sampled:
        if document["attributes"].get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODEL:
            document["attributes"][semconv.SAMPLE_RATE] = 0.25  # each stored call stands for four
    with _store(planted, sampled) as store:
        analysis = analyze(store, WINDOW, write=False)
    stats = analysis.stats[0]
    qps = {f.get(findings.MODULE_NAME): f[findings.METRIC_VALUE] for f in analysis.findings
           if f[findings.TYPE] == findings.TYPE_THROUGHPUT and f[findings.METRIC_NAME] == "qps"}
    assert qps[None] == pytest.approx(4 * stats.operations.calls / WINDOW.seconds)
    assert qps["preprocess"] == pytest.approx(4 * stats.modules["preprocess"].calls / WINDOW.seconds)
    intervals = [f for f in analysis.findings if f.get(findings.METRIC_NAME) == "interval_qps"]
    assert len(intervals) == 6 and sum(f[findings.METRIC_VALUE] * 600 for f in intervals) == pytest.approx(
        4 * stats.operations.calls)
    latency = {f[findings.METRIC_NAME] for f in analysis.findings
               if f[findings.TYPE] == findings.TYPE_LATENCY and f.get(findings.MODULE_NAME) == "calibrate"}
    assert latency == {"latency_p50_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms"}


@pytest.mark.parametrize("name", ["modelspan.analyzer._documents", "modelspan.analyzer._references",
                                  "modelspan.analyzer._scheduler",
                                  "modelspan.store._es_extras", "modelspan.commands.analyze"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_performance_summaries_name_the_positive_class_and_a_missing_reference() -> None:
    """Issue 14: "precision 0.9" of which class, and never "vs n/a (n=0) in nothing"."""
    rows = [_labelled(5, i % 10 != 0, i) for i in range(100)]  # one bucket, no reference labels
    context = Context(WINDOW, "baseline", REFERENCE, "now")
    docs = {d[findings.METRIC_NAME]: d for d in performance_findings(context, "m", "1", rows, [], 3600.0)
            if not d[findings.ID].startswith("quality:m:1:accuracy_drop")}
    assert "precision of positive class 'yes' 0.9 on 100 labelled predictions" in docs["precision"][findings.SUMMARY]
    assert "recall of positive class 'yes'" in docs["recall"][findings.SUMMARY]
    assert "of positive class" not in docs["accuracy"][findings.SUMMARY]
    drop = next(d for d in performance_findings(context, "m", "1", rows, [], 3600.0)
            if d[findings.ID].startswith("quality:m:1:accuracy_drop"))
    assert not drop[findings.FLAGGED]
    assert "labelled accuracy 0.9 (n=100), not compared: no reference labels" in drop[findings.SUMMARY]
    assert "n/a" not in drop[findings.SUMMARY] and "in nothing" not in drop[findings.SUMMARY]
