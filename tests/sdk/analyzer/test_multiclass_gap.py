"""Multiclass ``estimation_gap`` on ROC-AUC from a real store: the labelled rows come back with the
probability vectors the SDK recorded (single-row calls and the recorded rows of batches, on SQLite and
the loopback Elasticsearch), the realised one-vs-rest macro ROC-AUC is scikit-learn's on those rows, the
estimate is CBPE's on the same rows, and the gap is flagged under concept drift, not under a covariate
shift (docs/estimation.md, "Multiclass")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.analyzer import multiclass_estimation as mce
from modelspan.analyzer._multiclass_findings import row_vector
from modelspan.baseline import Baseline
from modelspan.profiling._multiclass import MulticlassCalibration
from modelspan.store import Store
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.sdk.analyzer.multiclass_traffic import CLASSES, MODEL, VERSION, WINDOW, Traffic, reference_baseline, traffic
from tests.store.elasticsearch.ingest import cluster, export

SINGLES, BATCH = 300, 300  # batches longer than the 256 rows whose vectors a span records


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return reference_baseline()


@pytest.fixture(scope="module")
def calibration(baseline: Baseline) -> MulticlassCalibration:
    assert baseline.multiclass_calibration is not None
    return baseline.multiclass_calibration


@pytest.fixture(scope="module")
def window() -> Traffic:
    return traffic(31, rows=1_200, singles=SINGLES, batch=BATCH)


def recorded(index: int) -> bool:
    """Whether row ``index`` of the window has its vector on its span."""
    return index < SINGLES or (index - SINGLES) % BATCH < 256


def outcomes(window: Traffic, actual: np.ndarray, every: int = 2) -> list[tuple[str, Any, str]]:
    """Every ``every``-th row's label (not all: the estimate compared must be that of the same rows)."""
    return [(window.prediction_ids[i], str(actual[i]), WINDOW.start) for i in range(0, len(actual), every)]


def gap(store: Store, baseline: Baseline) -> dict[str, Any]:
    analysis = analyze(store, WINDOW, baselines={(MODEL, VERSION): baseline})
    found = [d for d in analysis.findings
             if d[findings.TYPE] == findings.TYPE_ESTIMATION_GAP and d[findings.METRIC_NAME] == "roc_auc"]
    assert len(found) == 1
    return found[0]


def test_labelled_rows_carry_their_recorded_vectors_on_both_stores(tmp_path: Path, window: Traffic) -> None:
    with SQLiteStore(tmp_path / "store.db") as sqlite:
        sqlite.load_documents(window.documents)
        sqlite.record_outcomes(outcomes(window, window.actual, every=1))
        on_sqlite = sqlite.labelled_predictions(WINDOW, MODEL, VERSION)
    with cluster() as fake, ElasticsearchStore(fake.url) as es:
        export(fake, window.spans)
        es.record_outcomes(outcomes(window, window.actual, every=1))
        on_es = es.labelled_predictions(WINDOW, MODEL, VERSION)
    position = {pid: i for i, pid in enumerate(window.prediction_ids)}
    for joined in (on_sqlite, on_es):
        assert len(joined) == 1_200
        for row in joined:
            index = position[row.prediction_id]
            vector = row_vector(row, len(CLASSES))
            if recorded(index):
                assert vector == pytest.approx(window.scores[index].tolist(), abs=1e-15), row.prediction_id
            else:
                assert vector is None, row.prediction_id


@pytest.mark.parametrize("backend", ["sqlite", "elasticsearch"])
def test_the_roc_auc_gap_is_sklearns_against_the_estimate_of_the_same_rows(
        tmp_path: Path, baseline: Baseline, calibration: MulticlassCalibration, window: Traffic, backend: str) -> None:
    labelled = [i for i in range(0, 1_200, 2) if recorded(i)]
    scores, actual = window.scores[labelled], window.actual[labelled]
    if backend == "sqlite":
        with SQLiteStore(tmp_path / "store.db") as store:
            store.load_documents(window.documents)
            store.record_outcomes(outcomes(window, window.actual))
            doc = gap(store, baseline)
    else:
        with cluster() as fake, ElasticsearchStore(fake.url) as store:
            export(fake, window.spans)
            store.record_outcomes(outcomes(window, window.actual))
            doc = gap(store, baseline)
    assert doc[findings.SAMPLE_COUNT] == len(labelled)
    sklearn = roc_auc_score(actual, scores, multi_class="ovr", average="macro", labels=CLASSES)
    assert doc[findings.METRIC_VALUE] == pytest.approx(sklearn, abs=1e-12)
    same_rows = mce.estimate(calibration, scores, np.array(CLASSES)[scores.argmax(axis=1)])["roc_auc"].value
    assert doc[findings.METRIC_ESTIMATED_VALUE] == pytest.approx(same_rows, abs=1e-12)
    assert doc[findings.METRIC_SAMPLING_ERROR] == pytest.approx(
        mce.sampling_error(calibration, "roc_auc", len(labelled)), rel=1e-12)
    assert doc[findings.TEST_NAME] == "band_3se" and doc[findings.FLAGGED] is False, doc[findings.SUMMARY]


def concept_drift(window: Traffic, seed: int) -> np.ndarray:
    """Labels from a flatter P(y | x) than the reference's: softmax(z/2) where the reference had softmax(z)
    and the model says softmax(2z) (z recovered from the scores up to a constant per row)."""
    z = np.log(window.scores) / 2
    truth = np.exp(z / 2) / np.exp(z / 2).sum(axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    return np.array(CLASSES)[(rng.random((len(truth), 1)) > truth.cumsum(axis=1)).sum(axis=1)]


@pytest.mark.parametrize(("mean", "drift", "flagged"), [(1.2, False, False), (0.0, True, True), (1.2, True, True)])
def test_the_roc_auc_gap_sees_concept_drift_not_covariate_shift(
        tmp_path: Path, baseline: Baseline, mean: float, drift: bool, flagged: bool) -> None:
    window = traffic(40 + int(10 * mean), rows=2_000, mean=mean, singles=100)
    actual = concept_drift(window, 7) if drift else window.actual
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(window.documents)
        store.record_outcomes(outcomes(window, actual))
        doc = gap(store, baseline)
    assert doc[findings.SAMPLE_COUNT] == 1_000
    assert doc[findings.FLAGGED] is flagged, doc[findings.SUMMARY]
    if drift:
        assert doc[findings.METRIC_VALUE] < doc[findings.METRIC_ESTIMATED_VALUE]
