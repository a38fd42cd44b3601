"""DLE findings from a real store: the expected-error sums the SDK records give exactly what the error model says
for the window's rows, and the analyzer's ``estimated_performance`` (MAE, RMSE) and ``estimation_gap`` findings
behave on synthetic truth (y = 2x + x·N(0, 1), docs/estimation.md "Regression"): silent on clean windows,
following a shift of x with the labels agreeing, blind to added noise that only the labels show."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import findings, semconv
from modelspan.analyzer import analyze
from modelspan.analyzer.loss_estimation import realised_loss
from modelspan.baseline import Baseline
from modelspan.cli import main
from modelspan.report import render
from modelspan.store import Store
from modelspan.store._es_loss import loss_sums_body
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.contract.tsc import Case, typecheck
from tests.sdk.analyzer.dle_traffic import MODEL, VERSION, WINDOW, Traffic, expected_mae, reference_baseline, traffic
from tests.store.elasticsearch.ingest import cluster, export

KINDS = (findings.TYPE_ESTIMATED_PERFORMANCE, findings.TYPE_ESTIMATION_GAP)


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return reference_baseline()


def stored(tmp_path: Path, window: Traffic, labelled: int = 0) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "store.db")
    store.load_documents(window.documents)
    store.record_outcomes(_outcomes(window, labelled))
    return store


def _outcomes(window: Traffic, labelled: int) -> list[tuple[str, float, Any]]:
    return [(pid, float(actual), WINDOW.start)
            for pid, actual in zip(window.prediction_ids[:labelled], window.actual[:labelled], strict=True)]


def run(store: Store, baseline: Baseline) -> dict[tuple[str, str], dict[str, Any]]:
    analysis = analyze(store, WINDOW, baselines={(MODEL, VERSION): baseline})
    return {(d[findings.TYPE], d[findings.METRIC_NAME]): d for d in analysis.findings if d[findings.TYPE] in KINDS}


@pytest.mark.parametrize("seed", range(2))
def test_the_store_sums_are_the_error_model_over_every_row(tmp_path: Path, baseline: Baseline, seed: int) -> None:
    """Single-row calls and batches larger than the recorded arrays (300 > MAX_ROW_OUTPUTS): every row counts."""
    window = traffic(baseline, seed, rows=1_000, singles=100, batch=300)
    assert baseline.error_model is not None
    absolute, squared = baseline.error_model.expected({"x": window.x}, window.predicted)
    with stored(tmp_path, window) as store:
        sums = store.loss_sums(WINDOW, MODEL, VERSION)
    assert (sums.rows, sums.unestimated) == (1_000, 0)
    assert sums.abs_error == pytest.approx(float(absolute.sum()), abs=1e-9)
    assert sums.squared_error == pytest.approx(float(squared.sum()), abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_clean_windows_raise_no_flag(tmp_path: Path, baseline: Baseline, seed: int) -> None:
    window = traffic(baseline, 100 + seed)
    with stored(tmp_path, window, labelled=2_000) as store:
        found = run(store, baseline)
    assert set(found) == {(kind, name) for kind in KINDS for name in ("mae", "rmse")}
    assert [key for key, doc in found.items() if doc[findings.FLAGGED]] == []
    mae = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "mae")]
    assert mae[findings.SAMPLE_COUNT] == 2_000 and mae[findings.TEST_NAME] == "dle"
    assert abs(mae[findings.METRIC_VALUE] - expected_mae()) < 3 * mae[findings.METRIC_SAMPLING_ERROR]


@pytest.mark.parametrize(("low", "high", "side"), [(1.0, 2.0, "above"), (0.0, 1.0, "below")])
@pytest.mark.parametrize("seed", range(3))
def test_a_shift_of_x_moves_the_estimate_within_the_band_of_the_realised_mae(
        tmp_path: Path, baseline: Baseline, low: float, high: float, side: str, seed: int) -> None:
    window = traffic(baseline, 200 + seed, low=low, high=high)
    with stored(tmp_path, window, labelled=2_000) as store:
        found = run(store, baseline)
    mae, gap = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "mae")], found[(findings.TYPE_ESTIMATION_GAP, "mae")]
    realised = realised_loss(window.actual, window.predicted)
    assert gap[findings.METRIC_VALUE] == pytest.approx(realised["mae"], abs=1e-12)
    assert gap[findings.METRIC_ESTIMATED_VALUE] == mae[findings.METRIC_VALUE]
    assert abs(mae[findings.METRIC_VALUE] - realised["mae"]) < 3 * gap[findings.METRIC_SAMPLING_ERROR]
    assert not gap[findings.FLAGGED] and not found[(findings.TYPE_ESTIMATION_GAP, "rmse")][findings.FLAGGED]
    assert mae[findings.FLAGGED] and side in mae[findings.SUMMARY]
    assert (mae[findings.TEST_SCORE] < -3) == (side == "above")  # a larger error is what the drop alert reads
    rmse = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "rmse")]
    assert rmse[findings.FLAGGED] and rmse[findings.METRIC_VALUE] == pytest.approx(realised["rmse"], rel=0.1)


@pytest.mark.parametrize("seed", range(3))
def test_added_noise_is_seen_only_by_the_estimation_gap(tmp_path: Path, baseline: Baseline, seed: int) -> None:
    window = traffic(baseline, 300 + seed, noise=1.5)
    with stored(tmp_path, window, labelled=1_000) as store:
        found = run(store, baseline)
    mae = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "mae")]
    assert not mae[findings.FLAGGED] and abs(mae[findings.METRIC_VALUE] - expected_mae()) < 0.03
    gap = found[(findings.TYPE_ESTIMATION_GAP, "mae")]
    assert gap[findings.FLAGGED] and gap[findings.SAMPLE_COUNT] == 1_000 and "concept drift" in gap[findings.SUMMARY]


def test_a_few_labels_are_reported_but_never_flagged(tmp_path: Path, baseline: Baseline) -> None:
    window = traffic(baseline, 400, noise=3.0)
    with stored(tmp_path, window, labelled=60) as store:
        found = run(store, baseline)
    gap = found[(findings.TYPE_ESTIMATION_GAP, "mae")]
    assert gap[findings.SAMPLE_COUNT] == 60 and not gap[findings.FLAGGED]


def test_spans_without_expected_errors_are_counted_and_said(tmp_path: Path, baseline: Baseline) -> None:
    """Calls monitored without the error model (here: spans stripped of it) give one unflagged finding that
    says MAE and RMSE were not estimated and how many rows lacked an expected error."""
    window = traffic(baseline, 500, rows=500, singles=100)
    for document in window.documents:
        for key in (semconv.ESTIMATION_ROWS, semconv.ESTIMATION_ABS_ERROR, semconv.ESTIMATION_SQUARED_ERROR):
            document["attributes"].pop(key)
    with stored(tmp_path, window) as store:
        found = run(store, baseline)
        plain = Baseline.from_dict({**baseline.to_dict(), "error_model": None})
        analysis = analyze(store, WINDOW, baselines={(MODEL, VERSION): plain}, write=False)
    only = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "mae")]
    assert len(found) == 1 and not only[findings.FLAGGED] and only[findings.SAMPLE_COUNT] == 0
    assert "not estimated" in only[findings.SUMMARY] and "500 rows without" in only[findings.SUMMARY]
    assert not [d for d in analysis.findings if d[findings.TYPE] == findings.TYPE_ESTIMATED_PERFORMANCE]


def test_the_fast_single_row_path_records_the_expected_error(baseline: Baseline) -> None:
    """A single float out of a model without ``task`` takes the monitor's shortest path: it records it too."""
    provider, exporter = TracerProvider(), InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter, baselines=[baseline])

    @modelspan.monitor(model=MODEL, version=VERSION)
    def predict(row: dict[str, float]) -> float:
        return 2.0 * row["x"]

    try:
        predict({"x": 1.5})
        predict({"x": math.nan})
        modelspan.force_flush()
        spans = list(exporter.get_finished_spans())
    finally:
        modelspan.shutdown()
        provider.shutdown()
    assert baseline.error_model is not None
    attributes = [dict(span.attributes or {}) for span in spans]
    assert attributes[0][semconv.ESTIMATION_ROWS] == 1
    assert attributes[0][semconv.ESTIMATION_ABS_ERROR] == pytest.approx(
        baseline.error_model.expected_row({"x": 1.5}, 3.0)[0], abs=1e-12)
    assert semconv.ESTIMATION_ROWS not in attributes[1]  # no finite prediction: nothing to estimate


def test_elasticsearch_answers_like_sqlite_in_one_checked_request(tmp_path: Path, baseline: Baseline) -> None:
    window = traffic(baseline, 700, rows=800, singles=200, low=0.5, high=2.0)
    with stored(tmp_path, window, labelled=800) as store:
        expected = store.loss_sums(WINDOW, MODEL, VERSION)
        mine = run(store, baseline)
    with cluster([baseline]) as fake, ElasticsearchStore(fake.url) as store:
        export(fake, window.spans)
        store.record_outcomes(_outcomes(window, 800))
        answered = store.loss_sums(WINDOW, MODEL, VERSION)
        theirs = run(store, baseline)
    assert (answered.rows, answered.unestimated) == (expected.rows, expected.unestimated) == (800, 0)
    assert answered.abs_error == pytest.approx(expected.abs_error, rel=1e-12)
    assert answered.squared_error == pytest.approx(expected.squared_error, rel=1e-12)
    assert mine.keys() == theirs.keys() and len(mine) == 4
    for key, doc in mine.items():
        for field in (findings.METRIC_VALUE, findings.METRIC_LOWER, findings.SAMPLE_COUNT, findings.FLAGGED):
            assert theirs[key].get(field) == pytest.approx(doc.get(field), abs=1e-9), (key, field)
    typecheck([Case("loss sums", "SearchBody", loss_sums_body(WINDOW, MODEL, VERSION))])


def test_both_stores_count_the_rows_of_calls_made_without_the_error_model(tmp_path: Path, baseline: Baseline) -> None:
    """Calls monitored with a baseline that has no error model (50 single rows, two batches of 125) are counted as
    unestimated by both stores, next to the estimated ones, never silently left out."""
    estimated = traffic(baseline, 800, rows=600, singles=100)
    plain = Baseline.from_dict({**baseline.to_dict(), "error_model": None})
    unestimated = traffic(plain, 801, rows=300, singles=50, batch=125)
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(estimated.documents + unestimated.documents)
        answers = [store.loss_sums(WINDOW, MODEL, VERSION)]
    with cluster() as fake, ElasticsearchStore(fake.url) as es:
        export(fake, estimated.spans + unestimated.spans)
        answers.append(es.loss_sums(WINDOW, MODEL, VERSION))
    assert baseline.error_model is not None
    expected = float(baseline.error_model.expected({"x": estimated.x}, estimated.predicted)[0].sum())
    for sums in answers:
        assert (sums.rows, sums.unestimated) == (600, 300)
        assert sums.abs_error == pytest.approx(expected, rel=1e-12)


def test_the_report_and_analyze_show_mae_estimates(tmp_path: Path, baseline: Baseline,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    window = traffic(baseline, 900, rows=1_000, low=1.0, high=2.0)
    with stored(tmp_path, window, labelled=1_000) as store:
        store.save_baseline(baseline)
    since, until = WINDOW.iso()
    assert main(["analyze", "--once", "--since", since, "--until", until, "--store", str(tmp_path / "store.db")]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith(f"estimated performance {MODEL} v{VERSION}: "))
    assert "mae " in line and "rmse " in line and "realised " in line and "!" in line  # above the band
    with SQLiteStore(tmp_path / "store.db") as store:
        html = render(store, WINDOW, tmp_path / "report.html").read_text(encoding="utf-8")
    start = html.index('data-chart="estimated_performance"')
    section = html[start:html.index("</section>", start)]
    for name in ("mae estimated", "mae band lower", "mae band upper", "mae realised"):
        assert name in section
    assert "accuracy" not in section and section.count("<tr>") == 1 + 2
