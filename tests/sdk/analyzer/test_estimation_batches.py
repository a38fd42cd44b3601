"""CBPE of batch traffic: every row of every batch is estimated, on both stores (docs/estimation.md, "What the
SDK records"). The SDK has the calibration at call time and records per batch the expected confusion sums and
the store's cells over all its rows; the estimates then equal the per-row computation over every row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import findings, semconv
from modelspan.analyzer import analyze, estimation
from modelspan.analyzer import multiclass_estimation as mce
from modelspan.analyzer._estimation_findings import estimates_from_store, score_edges
from modelspan.analyzer._multiclass_findings import class_arrays
from modelspan.baseline import Baseline
from modelspan.instrumentation import _config
from modelspan.profiling._calibration import Calibration
from modelspan.store import ClassScoreSums, ScoreSums
from modelspan.store._es_estimation import score_sums_body
from modelspan.store._es_multiclass import class_score_sums_body
from modelspan.store._sqlite_extras import bin_scores
from modelspan.store._sqlite_multiclass import bin_classes
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.contract.tsc import Case, typecheck
from tests.sdk.analyzer import multiclass_traffic
from tests.sdk.analyzer.cbpe_traffic import MODEL, VERSION, WINDOW, Window, reference_baseline, window
from tests.store.elasticsearch.ingest import cluster, export

CONFUSION = ("accuracy", "precision", "recall", "f1")


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return reference_baseline()


@pytest.fixture(scope="module")
def calibration(baseline: Baseline) -> Calibration:
    assert baseline.calibration is not None and baseline.calibration.isotonic
    return baseline.calibration


def per_row_sums(calibration: Calibration, traffic: Window) -> ScoreSums:
    """The cells every row would give as a single-row call: (predicted label, interval of its recorded score)."""
    recorded = np.where(traffic.predicted == 1, traffic.score, 1.0 - traffic.score)
    rows = [(str(label), float(value)) for label, value in zip(traffic.predicted, recorded, strict=True)]
    edges = score_edges(calibration)
    return ScoreSums(tuple(edges), bin_scores(rows, edges))


@pytest.mark.parametrize("seed", range(3))
def test_sqlite_estimates_every_row_of_batches_of_500(tmp_path: Path, baseline: Baseline, calibration: Calibration,
                                                      seed: int) -> None:
    traffic = window(seed, rows=2_000, batch=500, singles=17, baseline=baseline)
    batch = traffic.documents[-1]["attributes"]
    assert len(batch[semconv.OUTPUT_LABELS]) == semconv.MAX_ROW_OUTPUTS < 500  # the span lists only some rows
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(traffic.documents)
        sums = store.score_sums(WINDOW, MODEL, VERSION, score_edges(calibration), calibration.fingerprint)
    assert (sums.rows, sums.unscored, sums.expected) == (2_000, 0, {})
    mine, bound, unusable = estimates_from_store(calibration, sums)
    theirs, their_bound, _ = estimates_from_store(calibration, per_row_sums(calibration, traffic))
    per_row = estimation.estimate(calibration, traffic.score, traffic.predicted)
    assert unusable == 0 and bound == pytest.approx(their_bound, abs=1e-12)
    for name in (*CONFUSION, "roc_auc"):
        assert mine[name].value == pytest.approx(theirs[name].value, abs=1e-9)
        assert mine[name].rows == 2_000
    for name in CONFUSION:
        assert mine[name].value == pytest.approx(per_row[name].value, abs=1e-9)
    assert abs(mine["roc_auc"].value - per_row["roc_auc"].value) <= bound + 1e-12


def test_elasticsearch_estimates_every_row_of_batches_of_500(baseline: Baseline, calibration: Calibration) -> None:
    """Through the real exporter into the loopback Elasticsearch: the batches' sums give the confusion-matrix
    metrics of every row; ROC-AUC, which needs the order of the rows, is said not to be estimated."""
    traffic = window(7, rows=2_000, batch=500, singles=17, baseline=baseline)
    edges = score_edges(calibration)
    with cluster([baseline]) as fake, ElasticsearchStore(fake.url) as store:
        export(fake, traffic.spans)
        sums = store.score_sums(WINDOW, MODEL, VERSION, edges, calibration.fingerprint)
        found = analyze(store, WINDOW, baselines={(MODEL, VERSION): baseline}).findings
    assert (sums.rows, sums.unscored, sums.ungrouped) == (2_000, 0, 2_000 - 17)
    mine, _, unusable = estimates_from_store(calibration, sums)
    per_row = estimation.estimate(calibration, traffic.score, traffic.predicted)
    assert unusable == 0 and "roc_auc" not in mine
    for name in CONFUSION:
        assert mine[name].value == pytest.approx(per_row[name].value, abs=1e-9)
        assert mine[name].sampling_error == per_row[name].sampling_error
    estimated = {d[findings.METRIC_NAME]: d for d in found if d[findings.TYPE] == findings.TYPE_ESTIMATED_PERFORMANCE}
    assert estimated["accuracy"][findings.SAMPLE_COUNT] == 2_000
    assert estimated["accuracy"][findings.METRIC_VALUE] == pytest.approx(per_row["accuracy"].value, abs=1e-9)
    assert "unusable" not in estimated["accuracy"][findings.SUMMARY]
    roc_auc = estimated["roc_auc"]
    assert not roc_auc[findings.FLAGGED] and "ROC-AUC not estimated" in roc_auc[findings.SUMMARY]
    typecheck([Case("score sums with batch sums", "SearchBody",
                    score_sums_body(WINDOW, MODEL, VERSION, edges, calibration.fingerprint))])


def test_the_sqlite_analysis_of_batches_counts_no_row_as_unscored(tmp_path: Path, baseline: Baseline) -> None:
    traffic = window(11, rows=2_000, batch=500, baseline=baseline)
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(traffic.documents)
        found = analyze(store, WINDOW, baselines={(MODEL, VERSION): baseline}).findings
    estimated = {d[findings.METRIC_NAME]: d for d in found if d[findings.TYPE] == findings.TYPE_ESTIMATED_PERFORMANCE}
    assert set(estimated) == {*CONFUSION, "roc_auc"}
    assert {d[findings.SAMPLE_COUNT] for d in estimated.values()} == {2_000}
    assert not any("without a usable score" in d[findings.SUMMARY] for d in estimated.values())


def test_sums_of_another_calibration_are_not_used(tmp_path: Path, baseline: Baseline,
                                                  calibration: Calibration) -> None:
    """A store asked about another calibration (another baseline) falls back to the rows the spans list:
    sums computed with one map never stand for another's."""
    traffic = window(3, rows=1_000, batch=500, baseline=baseline)
    other = Calibration([0.1, 0.9], [0.2, 0.8], isotonic=True)
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(traffic.documents)
        sums = store.score_sums(WINDOW, MODEL, VERSION, score_edges(other), other.fingerprint)
        unasked = store.score_sums(WINDOW, MODEL, VERSION, score_edges(calibration))
    listed = 2 * semconv.MAX_ROW_OUTPUTS
    assert (sums.rows, sums.unscored) == (listed, 1_000 - listed)
    assert (unasked.rows, unasked.unscored) == (listed, 1_000 - listed)
    with cluster() as fake, ElasticsearchStore(fake.url) as es:
        export(fake, traffic.spans)
        answered = es.score_sums(WINDOW, MODEL, VERSION, score_edges(other), other.fingerprint)
    assert (answered.rows, answered.unscored) == (0, 1_000)


def test_a_batch_records_its_sums_over_every_row(baseline: Baseline, calibration: Calibration) -> None:
    traffic = window(5, rows=600, batch=600, baseline=baseline)
    attributes = traffic.documents[0]["attributes"]
    positive = traffic.predicted == 1
    p_hat = calibration.apply(traffic.score)
    assert attributes[semconv.CBPE_CALIBRATION] == calibration.fingerprint
    assert attributes[semconv.CBPE_POSITIVE_ROWS] == int(positive.sum())
    assert attributes[semconv.CBPE_NEGATIVE_ROWS] == 600 - int(positive.sum())
    assert attributes[semconv.CBPE_POSITIVE_SUM] == pytest.approx(float(p_hat[positive].sum()), abs=1e-9)
    assert attributes[semconv.CBPE_NEGATIVE_SUM] == pytest.approx(float(p_hat[~positive].sum()), abs=1e-9)
    assert sum(attributes[semconv.CBPE_CELL_ROWS]) == 600 and attributes[semconv.CBPE_UNUSABLE] == 0


def test_nothing_more_is_recorded_without_a_calibration_or_with_outputs_redacted(baseline: Baseline) -> None:
    without = window(5, rows=600, batch=600)  # no baseline at call time
    assert not any(key.startswith("ml.estimation.cbpe.") for key in without.documents[0]["attributes"])
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter, baselines=[baseline],
                        redact={semconv.OUTPUT_FEATURE: "drop"})

    @modelspan.monitor(model=MODEL, version=VERSION, task="classification")
    def predict_proba(features: Any) -> np.ndarray:
        s = np.array([row["x"] for row in features]) > 0
        return np.column_stack([1.0 - 0.8 * s, 0.8 * s + 0.1])

    try:
        predict_proba([{"x": float(x)} for x in np.linspace(-1, 1, 300)])
        modelspan.force_flush()
        (span,) = exporter.get_finished_spans()
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
        _config.STATE.redaction = {}
    assert span.attributes is not None and semconv.BATCH_SIZE in span.attributes
    assert not any(key.startswith("ml.estimation.cbpe.") for key in span.attributes)  # the classes stay hidden


@pytest.fixture(scope="module")
def multiclass_baseline() -> Baseline:
    return multiclass_traffic.reference_baseline()


@pytest.mark.parametrize("seed", range(2))
def test_sqlite_estimates_every_row_of_multiclass_batches(tmp_path: Path, multiclass_baseline: Baseline,
                                                          seed: int) -> None:
    """Multiclass batches of 750 rows (beyond the 256 vectors a span lists): the recorded class cells give the
    estimates of every row, equal to the per-row cells over all rows to 1e-9 (ROC-AUC included)."""
    calibration = multiclass_baseline.multiclass_calibration
    assert calibration is not None
    window = multiclass_traffic.traffic(seed, rows=1_500, batch=750, singles=30, baseline=multiclass_baseline)
    edges = [mce.class_edges(cal) for cal in calibration.per_class]
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(window.documents)
        sums = store.class_score_sums(WINDOW, multiclass_traffic.MODEL, multiclass_traffic.VERSION, edges,
                                      calibration.fingerprint)
        listed = store.class_score_sums(WINDOW, multiclass_traffic.MODEL, multiclass_traffic.VERSION, edges)
    assert (sums.rows, sums.unscored) == (1_500, 0)
    vectors = 30 + 2 * semconv.MAX_ROW_OUTPUTS  # without the fingerprint: the listed vectors only, as before
    assert (listed.rows, listed.unscored) == (vectors, 1_500 - vectors)
    assert sums.cells.keys() == bin_classes(window.scores, edges).keys()
    mine, bound = mce.estimate_from_sums(calibration, class_arrays(calibration, sums))
    theirs, their_bound = mce.estimate_from_sums(
        calibration, class_arrays(calibration, ClassScoreSums(sums.edges, bin_classes(window.scores, edges), 1_500)))
    per_row = mce.estimate(calibration, window.scores, window.predicted)
    assert bound == pytest.approx(their_bound, abs=1e-12)
    for metric in (*CONFUSION, "roc_auc"):
        assert mine[metric].value == pytest.approx(theirs[metric].value, abs=1e-9)
        tied = bound if metric == "roc_auc" else 0.0  # ROC-AUC's grouping, as on single-row traffic
        assert mine[metric].value == pytest.approx(per_row[metric].value, abs=1e-9 + tied)


@pytest.mark.parametrize("seed", range(2))
def test_elasticsearch_estimates_every_row_of_multiclass_batches(multiclass_baseline: Baseline, seed: int) -> None:
    """Through the real exporter into the loopback Elasticsearch: the batches' per-class sums give accuracy and
    macro precision, recall and F1 of every row (equal to the per-row computation to 1e-9), no row unscored;
    ROC-AUC, which needs the order of the rows, is said not to be estimated (unflagged), as for binary."""
    calibration = multiclass_baseline.multiclass_calibration
    assert calibration is not None
    window = multiclass_traffic.traffic(seed, rows=1_500, batch=750, singles=30, baseline=multiclass_baseline)
    edges = [mce.class_edges(cal) for cal in calibration.per_class]
    where = (WINDOW, multiclass_traffic.MODEL, multiclass_traffic.VERSION, edges)
    with cluster([multiclass_baseline]) as fake, ElasticsearchStore(fake.url) as store:
        export(fake, window.spans)
        sums = store.class_score_sums(*where, calibration.fingerprint)
        listed = store.class_score_sums(*where)
        found = analyze(store, WINDOW, baselines={(multiclass_traffic.MODEL, multiclass_traffic.VERSION):
                                                  multiclass_baseline}).findings
    assert (sums.rows, sums.unscored, sums.ungrouped) == (1_500, 0, 1_500 - 30)
    assert (listed.rows, listed.unscored, listed.ungrouped) == (30, 1_500 - 30, 0)  # another calibration: unscored
    mine, _ = mce.estimate_from_sums(calibration, class_arrays(calibration, sums), sums.expected, sums.ungrouped)
    per_row = mce.estimate(calibration, window.scores, window.predicted)
    assert "roc_auc" not in mine
    for metric in CONFUSION:
        assert mine[metric].value == pytest.approx(per_row[metric].value, abs=1e-9)
        assert mine[metric].sampling_error == per_row[metric].sampling_error
    estimated = {d[findings.METRIC_NAME]: d for d in found if d[findings.TYPE] == findings.TYPE_ESTIMATED_PERFORMANCE}
    for metric in CONFUSION:
        assert estimated[metric][findings.SAMPLE_COUNT] == 1_500
        assert estimated[metric][findings.METRIC_VALUE] == pytest.approx(per_row[metric].value, abs=1e-9)
        assert "without a probability vector" not in estimated[metric][findings.SUMMARY]
    roc_auc = estimated["roc_auc"]
    assert not roc_auc[findings.FLAGGED] and "ROC-AUC not estimated" in roc_auc[findings.SUMMARY]
    typecheck([Case("class score sums with batch sums", "SearchBody",
                    class_score_sums_body(*where, calibration.fingerprint))])


def test_a_multiclass_batch_records_its_per_class_sums(multiclass_baseline: Baseline) -> None:
    """Per class column: rows predicted it, Σp̂ over them, Σp̂ over every row, as numpy gives them per row."""
    calibration = multiclass_baseline.multiclass_calibration
    assert calibration is not None
    window = multiclass_traffic.traffic(3, rows=600, batch=600, baseline=multiclass_baseline)
    attributes = window.documents[0]["attributes"]
    p_hat = calibration.apply(window.scores)
    predicted = window.scores.argmax(axis=1)
    for k in range(len(calibration.classes)):
        assert attributes[semconv.cbpe_class(k, "predicted_rows")] == int(np.sum(predicted == k))
        assert attributes[semconv.cbpe_class(k, "predicted_sum")] == pytest.approx(
            float(p_hat[predicted == k, k].sum()), abs=1e-9)
        assert attributes[semconv.cbpe_class(k, "sum")] == pytest.approx(float(p_hat[:, k].sum()), abs=1e-9)
    assert semconv.cbpe_class(len(calibration.classes), "sum") not in attributes
