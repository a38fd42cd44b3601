"""Multiclass CBPE from a real store: what the SDK records (single rows and batches) is enough for exact
estimates on SQLite and Elasticsearch, and the analyzer writes ``estimated_performance`` and
``estimation_gap`` findings that follow a covariate shift (docs/estimation.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelspan
from modelspan import findings, semconv
from modelspan.analyzer import analyze
from modelspan.analyzer import multiclass_estimation as mce
from modelspan.analyzer._multiclass_findings import class_arrays
from modelspan.baseline import Baseline
from modelspan.profiling._multiclass import MulticlassCalibration
from modelspan.store import Store
from modelspan.store._es_multiclass import class_score_sums_body
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.contract.tsc import Case, typecheck
from tests.sdk.analyzer.multiclass_traffic import MODEL, VERSION, WINDOW, reference_baseline, traffic
from tests.sdk.conftest import Spans
from tests.store.elasticsearch.ingest import cluster, export

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return reference_baseline()


@pytest.fixture(scope="module")
def calibration(baseline: Baseline) -> MulticlassCalibration:
    assert baseline.calibration is None and baseline.multiclass_calibration is not None
    return baseline.multiclass_calibration


def edges(calibration: MulticlassCalibration) -> list[list[float]]:
    return [mce.class_edges(cal) for cal in calibration.per_class]


def test_the_sdk_records_each_rows_probability_vector() -> None:
    window = traffic(1, rows=250, singles=50, batch=100)
    single, batch = window.documents[0]["attributes"], window.documents[-1]["attributes"]
    assert single[semconv.OUTPUT_CLASS] == int(window.scores[0].argmax())
    recorded = [single[f"{semconv.OUTPUT_PROBABILITY_PREFIX}{k}"] for k in range(3)]
    assert recorded == pytest.approx(window.scores[0].tolist(), abs=1e-15)  # the model's own rounding
    assert batch[semconv.OUTPUT_PROBABILITIES] == pytest.approx(window.scores[150:].ravel().tolist(), abs=1e-15)


def test_baseline_keeps_its_multiclass_calibration(baseline: Baseline, tmp_path: Path) -> None:
    baseline.save(tmp_path / "b.json")
    assert Baseline.load(tmp_path / "b.json") == baseline
    binary = Baseline.from_data({"x": [1.0, 2.0]}, model="m", version="1")
    assert "multiclass_calibration" not in binary.to_dict()  # baselines without one keep their ids


@pytest.mark.parametrize("seed", range(3))
def test_sqlite_sums_give_the_per_row_estimates(tmp_path: Path, calibration: MulticlassCalibration, seed: int) -> None:
    window = traffic(seed, singles=60)
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(window.documents)
        sums = store.class_score_sums(WINDOW, MODEL, VERSION, edges(calibration))
    assert sums.rows == 2_000 and sums.unscored == 0
    aggregated, bound = mce.estimate_from_sums(calibration, class_arrays(calibration, sums))
    per_row = mce.estimate(calibration, window.scores, window.predicted)
    for metric in METRICS[:4]:
        assert aggregated[metric].value == pytest.approx(per_row[metric].value, abs=1e-9)
    assert abs(aggregated["roc_auc"].value - per_row["roc_auc"].value) <= bound + 1e-12


def test_batch_rows_past_the_recorded_vectors_are_counted(tmp_path: Path, calibration: MulticlassCalibration) -> None:
    window = traffic(4, rows=1_500, batch=750)  # the first 256 rows of each batch, as its labels and scores
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(window.documents)
        sums = store.class_score_sums(WINDOW, MODEL, VERSION, edges(calibration))
    assert sums.rows == 2 * 256 and sums.unscored == 1_500 - 2 * 256


def test_elasticsearch_answers_single_row_calls_like_sqlite(tmp_path: Path, calibration: MulticlassCalibration) -> None:
    window = traffic(5, rows=700, singles=300)
    asked = edges(calibration)
    singles = [d for d in window.documents if semconv.OUTPUT_CLASS in d["attributes"]]
    with SQLiteStore(tmp_path / "singles.db") as store:
        store.load_documents(singles)
        expected = store.class_score_sums(WINDOW, MODEL, VERSION, asked)
    with cluster() as fake, ElasticsearchStore(fake.url) as store:
        export(fake, window.spans)
        answered = store.class_score_sums(WINDOW, MODEL, VERSION, asked)
    assert expected.rows == answered.rows == 300 and answered.unscored == 400  # batch rows: counted
    assert answered.cells.keys() == expected.cells.keys()
    for key, (count, total) in expected.cells.items():
        assert answered.cells[key][0] == count and answered.cells[key][1] == pytest.approx(total, abs=1e-9)
    typecheck([Case("class score sums", "SearchBody", class_score_sums_body(WINDOW, MODEL, VERSION, asked))])


def run(store: Store, baseline: Baseline) -> dict[tuple[str, str], dict[str, Any]]:
    analysis = analyze(store, WINDOW, baselines={(MODEL, VERSION): baseline})
    kinds = (findings.TYPE_ESTIMATED_PERFORMANCE, findings.TYPE_ESTIMATION_GAP)
    return {(d[findings.TYPE], d[findings.METRIC_NAME]): d for d in analysis.findings if d[findings.TYPE] in kinds}


@pytest.mark.parametrize(("mean", "flagged"), [(0.0, False), (1.2, True)])
def test_findings_follow_a_covariate_shift_and_labels_agree(tmp_path: Path, baseline: Baseline, mean: float,
                                                           flagged: bool) -> None:
    window = traffic(10 + int(mean * 10), mean=mean, singles=20)
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(window.documents)
        store.record_outcomes([(pid, actual, WINDOW.start) for pid, actual
                               in zip(window.prediction_ids, window.actual, strict=True)])
        found = run(store, baseline)
    accuracy = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "accuracy")]
    assert accuracy[findings.FLAGGED] is flagged and accuracy[findings.SAMPLE_COUNT] == 2_000
    for metric in METRICS:
        assert (findings.TYPE_ESTIMATED_PERFORMANCE, metric) in found
    for metric in METRICS[:4]:  # covariate shift: the labels agree with the estimate
        gap = found[(findings.TYPE_ESTIMATION_GAP, metric)]
        assert gap[findings.FLAGGED] is False and gap[findings.SAMPLE_COUNT] == 2_000, gap[findings.SUMMARY]


def test_a_window_without_vectors_says_so(tmp_path: Path, baseline: Baseline) -> None:
    window = traffic(3, rows=400)
    binary = [d for d in window.documents]
    for document in binary:
        document["attributes"].pop(semconv.OUTPUT_PROBABILITIES)
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(binary)
        found = run(store, baseline)
    only = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "accuracy")]
    assert only[findings.FLAGGED] is False and "400 rows without a probability vector" in only[findings.SUMMARY]


@pytest.mark.parametrize("policy", ["hash", "drop"])
def test_a_redacted_output_records_no_vector(spans: Spans, policy: str) -> None:
    """A probability vector gives the predicted class away: under an ``_output`` policy it goes like the score."""
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, redact={"_output": policy},
                        hash_key="test-key-0123456789")

    @modelspan.monitor(model="m", classes=["cat", "dog", "fox"])
    def predict_proba(row: dict[str, float]) -> np.ndarray:
        return np.array([0.2, 0.5, 0.3])

    predict_proba({"x": 1.0})
    attributes = spans.one()
    assert not [key for key in attributes if key.startswith((semconv.OUTPUT_PROBABILITY_PREFIX, semconv.OUTPUT_CLASS))]
    assert "dog" not in json.dumps(attributes)
