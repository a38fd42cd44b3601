"""CBPE findings from a real store: what the SDK records is enough for exact estimates, the analyzer writes
``estimated_performance`` and ``estimation_gap`` findings, and they behave on synthetic truth
(x ~ N(0, 1), y ~ Bernoulli(sigmoid(2x)); docs/estimation.md): silent on clean windows, following a covariate
shift, blind to concept drift that only the labels (``estimation_gap``) show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics

from modelspan import findings, semconv
from modelspan.analyzer import analyze, estimation
from modelspan.analyzer._estimation_findings import estimates_from_store, score_edges
from modelspan.baseline import Baseline
from modelspan.cli import main
from modelspan.profiling._calibration import Calibration
from modelspan.report import render
from modelspan.store import Store
from modelspan.store._es_estimation import score_sums_body
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.contract.tsc import Case, typecheck
from tests.sdk.analyzer.cbpe_traffic import MODEL, VERSION, WINDOW, expected_accuracy, reference_baseline, window
from tests.store.elasticsearch.ingest import cluster, export

SEEDS = range(5)
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return reference_baseline()


@pytest.fixture(scope="module")
def calibration(baseline: Baseline) -> Calibration:
    assert baseline.calibration is not None and baseline.calibration.isotonic
    return baseline.calibration


def sklearn_expected(calibration: Calibration, score: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """CBPE's expected metrics the way scikit-learn computes them: every row twice, labelled 1 with weight
    p̂ and 0 with weight 1 - p̂ (expected confusion counts are exactly these weighted counts)."""
    p = calibration.apply(score)
    y = np.r_[np.ones(p.size), np.zeros(p.size)]
    yhat, s, weight = np.r_[predicted, predicted], np.r_[score, score], np.r_[p, 1 - p]
    return {"accuracy": metrics.accuracy_score(y, yhat, sample_weight=weight),
            "precision": metrics.precision_score(y, yhat, sample_weight=weight),
            "recall": metrics.recall_score(y, yhat, sample_weight=weight),
            "f1": metrics.f1_score(y, yhat, sample_weight=weight),
            "roc_auc": metrics.roc_auc_score(y, s, sample_weight=weight)}


def stored(tmp_path: Path, traffic: Any, labelled: int = 0) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "store.db")
    store.load_documents(traffic.documents)
    if labelled:
        store.record_outcomes([(pid, int(actual), WINDOW.start) for pid, actual
                               in zip(traffic.prediction_ids[:labelled], traffic.actual[:labelled], strict=True)])
    return store


def run(store: Store, baseline: Baseline) -> dict[tuple[str, str], dict[str, Any]]:
    analysis = analyze(store, WINDOW, baselines={(MODEL, VERSION): baseline})
    kinds = (findings.TYPE_ESTIMATED_PERFORMANCE, findings.TYPE_ESTIMATION_GAP)
    return {(d[findings.TYPE], d[findings.METRIC_NAME]): d for d in analysis.findings if d[findings.TYPE] in kinds}


@pytest.mark.parametrize("seed", range(3))
def test_store_sums_give_the_per_row_estimates_and_scikit_learn_agrees(tmp_path: Path, calibration: Calibration,
                                                                      seed: int) -> None:
    traffic = window(seed, singles=40)
    with stored(tmp_path, traffic) as store:
        sums = store.score_sums(WINDOW, MODEL, VERSION, score_edges(calibration))
    assert sums.rows == traffic.score.size and sums.unscored == 0
    aggregated, bound, unusable = estimates_from_store(calibration, sums)
    per_row = estimation.estimate(calibration, traffic.score, traffic.predicted)
    expected = sklearn_expected(calibration, traffic.score, traffic.predicted)
    assert unusable == 0
    for name in ("accuracy", "precision", "recall", "f1"):
        assert aggregated[name].value == pytest.approx(per_row[name].value, abs=1e-9)
        assert aggregated[name].value == pytest.approx(expected[name], abs=1e-9)
        assert aggregated[name].sampling_error == per_row[name].sampling_error
    assert per_row["roc_auc"].value == pytest.approx(expected["roc_auc"], abs=1e-9)
    assert abs(aggregated["roc_auc"].value - per_row["roc_auc"].value) <= bound + 1e-12
    assert 0 < bound < 1e-3  # rows tied by the grouping only inside the few sloped knot intervals


def test_a_bound_of_zero_where_the_map_is_flat() -> None:
    """With a step map (p̂ constant between knots of one block) grouping loses nothing: the bound is 0 and the
    grouped ROC-AUC is the per-row one."""
    calibration = Calibration([0.0, 0.4, 0.4000001, 0.7, 0.7000001, 1.0], [0.1, 0.1, 0.5, 0.5, 0.8, 0.8],
                              isotonic=True, reference={"roc_auc": 0.7}, prevalence=0.5)
    rng = np.random.default_rng(3)
    score = np.concatenate([rng.uniform(0.0, 0.39, 300), rng.uniform(0.41, 0.69, 300), rng.uniform(0.71, 1.0, 300)])
    predicted = (score > 0.5).astype(int)
    recorded = np.where(predicted == 1, score, 1 - score)
    from modelspan.store import ScoreSums

    edges = score_edges(calibration)
    cells: dict[tuple[str, int], tuple[int, float]] = {}
    for label, value in zip(predicted, recorded, strict=True):
        key = (str(label), int(np.searchsorted(edges, value, side="right")))
        count, total = cells.get(key, (0, 0.0))
        cells[key] = (count + 1, total + float(value))
    aggregated, bound, _ = estimates_from_store(calibration, ScoreSums(tuple(edges), cells))
    assert bound < 1e-9  # float rounding of mirrored knots only
    assert aggregated["roc_auc"].value == pytest.approx(estimation.estimate(calibration, score, predicted)["roc_auc"]
                                                        .value, abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_clean_windows_raise_no_flag(tmp_path: Path, baseline: Baseline, seed: int) -> None:
    traffic = window(100 + seed)
    with stored(tmp_path, traffic, labelled=2_000) as store:
        found = run(store, baseline)
    assert {name for kind, name in found if kind == findings.TYPE_ESTIMATED_PERFORMANCE} == set(METRICS)
    assert {name for kind, name in found if kind == findings.TYPE_ESTIMATION_GAP} == set(METRICS)
    assert [key for key, doc in found.items() if doc[findings.FLAGGED]] == []
    accuracy = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "accuracy")]
    assert accuracy[findings.SAMPLE_COUNT] == 2_000
    assert accuracy[findings.METRIC_LOWER] < accuracy[findings.METRIC_VALUE] < accuracy[findings.METRIC_UPPER]
    truth = expected_accuracy(0.0, 1.0)
    assert abs(accuracy[findings.METRIC_VALUE] - truth) < 3 * accuracy[findings.METRIC_SAMPLING_ERROR]


@pytest.mark.parametrize(("mean", "std", "side"), [(0.0, 0.5, "below"), (1.0, 1.0, "above")])
@pytest.mark.parametrize("seed", range(3))
def test_the_estimate_follows_a_covariate_shift_and_labels_agree(tmp_path: Path, baseline: Baseline, mean: float,
                                                                 std: float, side: str, seed: int) -> None:
    traffic = window(200 + seed, mean=mean, std=std)
    with stored(tmp_path, traffic, labelled=2_000) as store:
        found = run(store, baseline)
    accuracy = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "accuracy")]
    truth = expected_accuracy(mean, std)
    assert abs(accuracy[findings.METRIC_VALUE] - truth) < 3 * accuracy[findings.METRIC_SAMPLING_ERROR]
    assert accuracy[findings.FLAGGED] and side in accuracy[findings.SUMMARY]
    distance = (accuracy[findings.METRIC_VALUE] - accuracy[findings.METRIC_REFERENCE_VALUE]) / accuracy[
        findings.METRIC_SAMPLING_ERROR]
    assert accuracy[findings.TEST_SCORE] == pytest.approx(distance) and abs(distance) > 3
    assert (distance < 0) == (side == "below")  # what the estimated-drop alert reads
    gap = found[(findings.TYPE_ESTIMATION_GAP, "accuracy")]
    assert not gap[findings.FLAGGED]  # the labels confirm the estimate: a covariate shift, not a concept drift
    realised = metrics.accuracy_score(traffic.actual, traffic.predicted)
    assert gap[findings.METRIC_VALUE] == pytest.approx(realised, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_concept_drift_is_seen_only_by_the_estimation_gap(tmp_path: Path, baseline: Baseline, seed: int) -> None:
    traffic = window(300 + seed, shift=1.5)
    with stored(tmp_path, traffic, labelled=1_000) as store:
        found = run(store, baseline)
    accuracy = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "accuracy")]
    assert not accuracy[findings.FLAGGED]
    assert abs(accuracy[findings.METRIC_VALUE] - expected_accuracy(0.0, 1.0)) < 0.03
    gap = found[(findings.TYPE_ESTIMATION_GAP, "accuracy")]
    assert gap[findings.FLAGGED] and gap[findings.SAMPLE_COUNT] == 1_000
    assert gap[findings.TEST_NAME] == "poisson_binomial_z" and gap[findings.TEST_P_VALUE] < 0.0027
    assert gap[findings.METRIC_VALUE] == pytest.approx(
        metrics.accuracy_score(traffic.actual[:1_000], traffic.predicted[:1_000]), abs=1e-12)
    assert expected_accuracy(0.0, 1.0, 1.5) == pytest.approx(0.718, abs=5e-4)


def test_a_few_labels_are_reported_but_never_flagged(tmp_path: Path, baseline: Baseline) -> None:
    traffic = window(400, shift=3.0)
    with stored(tmp_path, traffic, labelled=60) as store:
        found = run(store, baseline)
    gap = found[(findings.TYPE_ESTIMATION_GAP, "accuracy")]
    assert gap[findings.SAMPLE_COUNT] == 60 and not gap[findings.FLAGGED]


def test_no_calibration_means_no_estimates_and_no_scores_is_said(tmp_path: Path, baseline: Baseline) -> None:
    traffic = window(500, rows=500)
    for document in traffic.documents:  # a model that records labels but no probabilities
        for key in ("ml.output.scores", "ml.output.score"):
            document["attributes"].pop(key, None)
    with stored(tmp_path, traffic) as store:
        found = run(store, baseline)
        plain = Baseline.from_dict({**baseline.to_dict(), "calibration": None})
        analysis = analyze(store, WINDOW, baselines={(MODEL, VERSION): plain}, write=False)
    only = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "accuracy")]
    assert len(found) == 1 and not only[findings.FLAGGED] and only[findings.SAMPLE_COUNT] == 0
    assert "not estimated" in only[findings.SUMMARY] and "500 unusable" in only[findings.SUMMARY]
    assert not [d for d in analysis.findings if d[findings.TYPE] == findings.TYPE_ESTIMATED_PERFORMANCE]


def test_re_analysing_a_window_replaces_its_estimates(tmp_path: Path, baseline: Baseline) -> None:
    traffic = window(600, rows=500)
    with stored(tmp_path, traffic) as store:
        run(store, baseline)
        run(store, baseline)
        kept = store.read_findings(WINDOW, [findings.TYPE_ESTIMATED_PERFORMANCE])
    assert sorted(d[findings.METRIC_NAME] for d in kept) == sorted(METRICS)


def test_elasticsearch_answers_single_row_calls_like_sqlite_and_counts_batches(tmp_path: Path,
                                                                                 calibration: Calibration) -> None:
    """One aggregation (type-checked against the official types); a batch span's per-row arrays cannot be
    paired inside an aggregation, so its rows are counted as unscored, never silently left out."""
    traffic = window(700, rows=800, singles=300)
    edges = score_edges(calibration)
    singles = [d for d in traffic.documents if "ml.output.score" in d["attributes"]]
    with SQLiteStore(tmp_path / "singles.db") as store:
        store.load_documents(singles)
        expected = store.score_sums(WINDOW, MODEL, VERSION, edges)
    with cluster() as fake, ElasticsearchStore(fake.url) as store:
        export(fake, traffic.spans)
        answered = store.score_sums(WINDOW, MODEL, VERSION, edges)
    assert expected.rows == 300 and answered.rows == 300 and answered.unscored == 500
    assert answered.cells.keys() == expected.cells.keys()
    for key, (count, total) in expected.cells.items():
        assert answered.cells[key][0] == count and answered.cells[key][1] == pytest.approx(total, abs=1e-9)
    typecheck([Case("score sums", "SearchBody", score_sums_body(WINDOW, MODEL, VERSION, edges))])


def test_analyze_prints_estimated_and_realised_performance(tmp_path: Path, baseline: Baseline,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    traffic = window(800, shift=1.5)
    with stored(tmp_path, traffic, labelled=2_000) as store:
        store.save_baseline(baseline)
    since, until = WINDOW.iso()
    assert main(["analyze", "--once", "--since", since, "--until", until, "--store", str(tmp_path / "store.db")]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = next(line for line in lines if line.startswith(f"estimated performance {MODEL} v{VERSION}: accuracy "))
    assert "(band " in line and "realised " in line and "!)" in line  # the realised accuracy is flagged
    assert any(line.startswith(findings.TYPE_ESTIMATION_GAP) for line in lines)


def test_the_report_draws_estimate_band_and_realised_accuracy(tmp_path: Path, baseline: Baseline) -> None:
    traffic = window(900, rows=1_000, shift=1.5)
    with stored(tmp_path, traffic, labelled=1_000) as store:
        store.save_baseline(baseline)
        run(store, baseline)
        html = render(store, WINDOW, tmp_path / "report.html").read_text(encoding="utf-8")
        store.save_baseline(Baseline.from_dict({**baseline.to_dict(), "calibration": None}))
        store.delete_findings(WINDOW, [findings.TYPE_ESTIMATED_PERFORMANCE, findings.TYPE_ESTIMATION_GAP])
        plain = render(store, WINDOW, tmp_path / "plain.html").read_text(encoding="utf-8")
    start = html.index('data-chart="estimated_performance"')
    section = html[start:html.index("</section>", start)]
    for name in ("accuracy estimated", "accuracy band lower", "accuracy band upper", "accuracy realised"):
        assert name in section
    assert section.count("<path") >= 4 and section.count("<tr>") == 1 + len(METRICS)
    assert "not estimated" in plain[plain.index('data-chart="estimated_performance"'):]


def test_both_stores_give_the_same_findings_for_single_row_traffic(tmp_path: Path, baseline: Baseline) -> None:
    traffic = window(1_000, rows=600, singles=600, mean=1.0)
    with stored(tmp_path, traffic, labelled=600) as store:
        mine = run(store, baseline)
    with cluster([baseline]) as fake, ElasticsearchStore(fake.url) as store:
        export(fake, traffic.spans)
        store.record_outcomes([(pid, int(actual), WINDOW.start) for pid, actual
                               in zip(traffic.prediction_ids, traffic.actual, strict=True)])
        theirs = run(store, baseline)
    assert mine.keys() == theirs.keys() and len(mine) == 2 * len(METRICS)
    for key, doc in mine.items():
        for field in (findings.METRIC_VALUE, findings.METRIC_LOWER, findings.SAMPLE_COUNT, findings.FLAGGED):
            assert theirs[key].get(field) == pytest.approx(doc.get(field), abs=1e-9), (key, field)


def test_rows_past_a_batch_arrays_are_counted_not_lost(tmp_path: Path, calibration: Calibration) -> None:
    """A batch of 400 rows carries its first 256 labels and scores (``MAX_ROW_OUTPUTS``): those are
    estimated, the other 144 are counted as unscored by SQLite; Elasticsearch counts all 400."""
    traffic = window(1_100, rows=400, batch=400)
    edges = score_edges(calibration)
    with stored(tmp_path, traffic) as store:
        sums = store.score_sums(WINDOW, MODEL, VERSION, edges)
    assert (sums.rows, sums.unscored) == (semconv.MAX_ROW_OUTPUTS, 400 - semconv.MAX_ROW_OUTPUTS)
    with cluster() as fake, ElasticsearchStore(fake.url) as es:
        export(fake, traffic.spans)
        assert (es.score_sums(WINDOW, MODEL, VERSION, edges).rows,
                es.score_sums(WINDOW, MODEL, VERSION, edges).unscored) == (0, 400)
