"""Planted problems in generated traffic are found and named; clean traffic raises nothing (issue 4).

Traffic comes from a real decorated model (``planted.py``); every backend gets the same spans,
baseline and late labels (Elasticsearch through ``modelspan elastic setup`` and the real exporter,
so what is read is what was written), and ``analyze`` must find: a shifted feature, a unit change (x 1.8 + 32),
a new category, a novel module path, a slower sub-module, an accuracy drop that only late labels
show; and on clean traffic over 50 extra features not one flagged finding.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.sdk.analyzer.planted import CLEAN, WINDOW, Plan, Traffic, generate
from tests.store.elasticsearch.ingest import cluster, export

MODEL_TYPES = {findings.TYPE_DRIFT, findings.TYPE_PREDICTION_DRIFT, findings.TYPE_DATA_QUALITY,
               findings.TYPE_NOVEL_PATH, findings.TYPE_PATH_DRIFT, findings.TYPE_LATENCY,
               findings.TYPE_THROUGHPUT, findings.TYPE_ERROR_RATE, findings.TYPE_QUALITY}
Opener = Callable[[Traffic, bool], AbstractContextManager[Any]]


@contextmanager
def _elasticsearch(traffic: Traffic, labels: bool = True) -> Iterator[Any]:
    with cluster([traffic.baseline]) as fake:
        export(fake, traffic.spans)  # the real exporter, through the templates' mappings
        with ElasticsearchStore(fake.url, interval_seconds=600) as store:
            store.save_baseline(traffic.baseline)
            if labels:
                store.record_outcomes(traffic.outcomes)
            yield store


@contextmanager
def _sqlite(traffic: Traffic, labels: bool = True) -> Iterator[Any]:
    from modelspan.store.sqlite import SQLiteStore

    with tempfile.TemporaryDirectory() as directory, SQLiteStore(Path(directory) / "store.db",
                                                               interval_seconds=600) as store:
        store.save_baseline(traffic.baseline)  # first: batch bins and single values are binned on write
        store.load_documents(traffic.documents)
        if labels:
            store.record_outcomes(traffic.outcomes)
        yield store


BACKENDS: dict[str, Opener] = {"elasticsearch": _elasticsearch, "sqlite": _sqlite}


@pytest.fixture(params=[pytest.param("elasticsearch"), pytest.param("sqlite", marks=pytest.mark.slow)])
def opener(request: pytest.FixtureRequest) -> Opener:
    return BACKENDS[request.param]


@pytest.fixture(scope="module")
def planted() -> Traffic:
    return generate(Plan(), calls=300)


@pytest.fixture(scope="module")
def clean_wide() -> Traffic:
    return generate(CLEAN, calls=40, extra=50, batch=64)


def flagged(found: list[dict[str, Any]], kind: str | None = None) -> list[dict[str, Any]]:
    return [f for f in found if f[findings.FLAGGED] and f[findings.TYPE] in MODEL_TYPES
            and (kind is None or f[findings.TYPE] == kind)]


def test_every_planted_problem_is_found_and_named(planted: Traffic, opener: Opener) -> None:
    with opener(planted, True) as store:
        found = analyze(store, WINDOW).findings
    drifted = {f[findings.FEATURE_NAME]: f for f in flagged(found, findings.TYPE_DRIFT)}
    assert set(drifted) == {"age", "temp", "country"}  # shifted, unit change, new category; not 'amount'
    assert all(f[findings.MODEL_VERSION] == "2" and f"'{name}'" in f[findings.SUMMARY] and "v2" in f[findings.SUMMARY]
               for name, f in drifted.items())
    assert drifted["temp"][findings.TEST_SCORE] > 1.0  # a unit change is no subtle shift
    quality = {(f[findings.FEATURE_NAME], f[findings.METRIC_NAME]) for f in flagged(found, findings.TYPE_DATA_QUALITY)}
    assert ("temp", "out_of_range_rate") in quality and ("country", "unseen_category_rate") in quality
    assert not flagged(found, findings.TYPE_PREDICTION_DRIFT)

    novel = flagged(found, findings.TYPE_NOVEL_PATH)
    assert [f[findings.MODULE_PATH] for f in novel] == ["preprocess>fallback>calibrate"]
    assert novel[0][findings.TRACE_IDS] and novel[0][findings.OUTPUT_LABEL] == "ok"

    slow = [f for f in flagged(found, findings.TYPE_LATENCY) if f.get(findings.MODULE_NAME)]
    assert [f[findings.MODULE_NAME] for f in slow] == ["scorer"]
    assert "'scorer'" in slow[0][findings.SUMMARY] and slow[0][findings.METRIC_VALUE] > 2 * slow[0][
        findings.METRIC_REFERENCE_VALUE]

    drop = flagged(found, findings.TYPE_QUALITY)
    assert [f[findings.METRIC_NAME] for f in drop] == ["accuracy"]
    assert drop[0][findings.METRIC_REFERENCE_VALUE] - drop[0][findings.METRIC_VALUE] > 0.2
    assert not flagged(found, findings.TYPE_ERROR_RATE)


def test_an_accuracy_drop_shows_only_once_late_labels_arrive(opener: Opener) -> None:
    traffic = generate(Plan(None, None, False, False, None, accuracy_drop=True), calls=300, seed=5)
    with opener(traffic, False) as store:
        before = analyze(store, WINDOW).findings
        assert not flagged(before)  # same inputs, same outputs: nothing to see without ground truth
        assert not [f for f in before if f[findings.TYPE] == findings.TYPE_QUALITY]
        store.record_outcomes(traffic.outcomes)  # days later, maybe from another process
        after = analyze(store, WINDOW).findings
    assert [(f[findings.TYPE], f[findings.METRIC_NAME], f[findings.MODEL_VERSION]) for f in flagged(after)] == [
        (findings.TYPE_QUALITY, "accuracy", "2")]


def test_clean_traffic_over_fifty_features_raises_no_finding(clean_wide: Traffic, opener: Opener) -> None:
    with opener(clean_wide, True) as store:
        found = analyze(store, WINDOW).findings
    drift = [f for f in found if f[findings.TYPE] == findings.TYPE_DRIFT]
    assert {f[findings.FEATURE_NAME] for f in drift} == {*clean_wide.extra_features, "age", "temp", "amount", "country"}
    assert all(f[findings.SAMPLE_COUNT] >= 2000 for f in drift)  # judged with plenty of data, not skipped
    assert all(f[findings.TEST_P_VALUE_ADJUSTED] is not None for f in drift if findings.TEST_P_VALUE in f)
    assert not flagged(found), [f[findings.SUMMARY] for f in flagged(found)]


def test_clean_single_row_traffic_raises_no_finding(opener: Opener) -> None:
    traffic = generate(CLEAN, calls=300, seed=3)
    with opener(traffic, True) as store:
        found = analyze(store, WINDOW).findings
    kinds = {f[findings.TYPE] for f in found}
    assert {findings.TYPE_DRIFT, findings.TYPE_LATENCY, findings.TYPE_QUALITY, findings.TYPE_PATH_DRIFT} <= kinds
    assert not flagged(found), [f[findings.SUMMARY] for f in flagged(found)]


@pytest.mark.slow
def test_both_backends_give_the_same_findings(planted: Traffic) -> None:
    """Conformance: the same spans give the same findings (ids, verdicts, drift numbers) on both stores."""
    results = {}
    for name, open_backend in BACKENDS.items():
        with open_backend(planted, False) as store:
            results[name] = {f[findings.ID]: f for f in analyze(store, WINDOW, write=False).findings
                             if f[findings.TYPE] in MODEL_TYPES}
    es, sqlite = results["elasticsearch"], results["sqlite"]
    assert sorted(es) == sorted(sqlite)
    assert {i for i, f in es.items() if f[findings.FLAGGED]} == {i for i, f in sqlite.items() if f[findings.FLAGGED]}
    for finding_id, finding in es.items():
        other = sqlite[finding_id]
        for field in (findings.TEST_SCORE, findings.TEST_P_VALUE, findings.SAMPLE_COUNT, findings.REFERENCE_COUNT):
            assert (field in finding) == (field in other), (finding_id, field)
            if finding[findings.TYPE] != findings.TYPE_LATENCY and field in finding:  # percentiles: rank vs linear
                assert other.get(field) == pytest.approx(finding[field], rel=1e-9, abs=1e-12), (finding_id, field)
