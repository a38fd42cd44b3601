"""CBPE against NannyML's own ``CBPE`` on the same data (issue 19; NannyML is a test-only peer).

Binary: the calibration decision and map are the same (isotonic regression with clipping), so the
aggregated path (counts and score sums per knot interval) equals NannyML's chunk estimates to 1e-9;
ROC-AUC to NannyML's own rounding (it rounds the cumulated counts to 5 decimals).

Multiclass: NannyML divides each row's calibrated probabilities by their sum. That couples the
classes row by row, which no per-class aggregation can give, so modelspan does not renormalise
(docs/estimation.md). Where NannyML keeps every class's scores as they are, the two agree to 1e-9;
where it calibrates, the difference is exactly the renormalisation, which the last test shows.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from modelspan.analyzer import estimation
from modelspan.analyzer import multiclass_estimation as mce
from modelspan.profiling._calibration import Calibration, fit_calibration, isotonic_fit
from modelspan.profiling._multiclass import MulticlassCalibration, fit_multiclass_calibration

# NannyML sends usage statistics unless told not to; the tests send nothing anywhere.
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
nannyml = pytest.importorskip(
    "nannyml", reason="nannyml (the CBPE peer) is not installed: the test extra has it on Python 3.11 and 3.12 only "
    "(it supports no later Python, and pip cannot resolve it at the minimum versions, docs/testing.md)")
pd = pytest.importorskip("pandas")

CHUNK = 2_000
CLASSES = ["a", "b", "c"]
WEIGHTS = np.array([[1.5, 0.0], [-0.8, 1.3], [-0.8, -1.3]])
BINARY_METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def binary_frame(rng: np.random.Generator, rows: int, mean: float = 0.0) -> pd.DataFrame:
    x = rng.normal(mean, 1.0, rows)
    score = sigmoid(4.0 * x)  # over-confident: both calibrate
    return pd.DataFrame({"score": score, "pred": (score > 0.5).astype(np.int64),
                         "y": (rng.random(rows) < sigmoid(2.0 * x)).astype(np.int64)})


def nannyml_estimates(estimator: object, analysis: pd.DataFrame, metrics: list[str]) -> dict[str, np.ndarray]:
    frame = estimator.estimate(analysis).to_df()  # type: ignore[attr-defined]
    frame = frame[frame[("chunk", "period")] == "analysis"]  # the reference's chunks come first
    return {metric: frame[(metric, "value")].to_numpy() for metric in metrics}


def test_binary_aggregated_path_equals_nannyml() -> None:
    rng = np.random.default_rng(19)
    reference, analysis = binary_frame(rng, 20_000), binary_frame(rng, 6 * CHUNK, mean=0.4)
    estimator = nannyml.CBPE(y_pred_proba="score", y_pred="pred", y_true="y", problem_type="classification_binary",
                             metrics=BINARY_METRICS, chunk_size=CHUNK)
    estimator.fit(reference)
    theirs = nannyml_estimates(estimator, analysis, BINARY_METRICS)
    ours = fit_calibration(reference["score"], reference["y"], reference["pred"])
    assert ours.isotonic and estimator.needs_calibration  # the same decision, the same map
    for chunk in range(6):
        rows = analysis.iloc[chunk * CHUNK:(chunk + 1) * CHUNK]
        sums = estimation.interval_sums(ours, rows["score"], rows["pred"])
        aggregated = estimation.estimate_from_sums(ours, sums)
        for metric in BINARY_METRICS[:4]:
            assert aggregated[metric].value == pytest.approx(theirs[metric][chunk], abs=1e-9), metric
        per_row = estimation.estimate(ours, rows["score"], rows["pred"])
        assert per_row["roc_auc"].value == pytest.approx(theirs["roc_auc"][chunk], abs=1e-6)


def multiclass_frame(rng: np.random.Generator, rows: int, sharpness: float, mean: float = 0.0) -> pd.DataFrame:
    x = rng.normal(mean, 1.0, (rows, 2))
    truth = np.exp(x @ WEIGHTS.T)
    truth /= truth.sum(axis=1, keepdims=True)
    scores = np.exp(sharpness * x @ WEIGHTS.T)
    scores /= scores.sum(axis=1, keepdims=True)
    y = (rng.random((rows, 1)) > truth.cumsum(axis=1)).sum(axis=1)
    frame = pd.DataFrame({f"p_{c}": scores[:, k] for k, c in enumerate(CLASSES)})
    frame["pred"] = np.array(CLASSES)[scores.argmax(axis=1)]
    frame["y"] = np.array(CLASSES)[y]
    return frame


def fit_nannyml(reference: pd.DataFrame, calibrator: object | None = None) -> object:
    estimator = nannyml.CBPE(y_pred_proba={c: f"p_{c}" for c in CLASSES}, y_pred="pred", y_true="y",
                             problem_type="classification_multiclass", metrics=BINARY_METRICS, chunk_size=CHUNK,
                             calibrator=calibrator)
    estimator.fit(reference)
    return estimator


def same_maps(reference: pd.DataFrame, estimator: object) -> MulticlassCalibration:
    """Our calibration with NannyML's per-class decisions (identity or the isotonic fit on the whole
    reference, which both compute alike), so that the comparison is of the estimation itself."""
    scores = reference[[f"p_{c}" for c in CLASSES]].to_numpy()
    ours = fit_multiclass_calibration(scores, reference["y"], reference["pred"])
    for k, cls in enumerate(CLASSES):
        kept = type(estimator._calibrators[cls]).__name__ != "NoopCalibrator"  # type: ignore[attr-defined]
        knots = isotonic_fit(scores[:, k], (reference["y"] == cls).to_numpy()) if kept else ([0.0, 1.0], [0.0, 1.0])
        ours.per_class[k] = Calibration(list(map(float, knots[0])), list(map(float, knots[1])), kept,
                                        rows=ours.per_class[k].rows, prevalence=ours.per_class[k].prevalence,
                                        positive_rate=ours.per_class[k].positive_rate,
                                        union_rate=ours.per_class[k].union_rate,
                                        reference=ours.per_class[k].reference, spread=ours.per_class[k].spread)
    return ours


def chunks(analysis: pd.DataFrame) -> list[tuple[np.ndarray, pd.Series]]:
    return [(analysis[[f"p_{c}" for c in CLASSES]].to_numpy()[i:i + CHUNK], analysis["pred"].iloc[i:i + CHUNK])
            for i in range(0, len(analysis), CHUNK)]


def test_multiclass_aggregated_path_equals_nannyml_where_it_keeps_the_scores() -> None:
    rng = np.random.default_rng(7)
    reference, analysis = multiclass_frame(rng, 20_000, 1.0), multiclass_frame(rng, 6 * CHUNK, 1.0, mean=0.5)
    # Told to keep the scores (its decision rule is not ours: any of 10 splits worse, where ours is the
    # mean of 5), NannyML's renormalisation of rows that sum to 1 changes nothing.
    estimator = fit_nannyml(reference, nannyml.calibration.NoopCalibrator())
    ours = same_maps(reference, estimator)
    assert not any(cal.isotonic for cal in ours.per_class)
    theirs = nannyml_estimates(estimator, analysis, BINARY_METRICS)
    for chunk, (scores, predicted) in enumerate(chunks(analysis)):
        aggregated, bound = mce.estimate_from_sums(ours, mce.class_sums(ours, scores, predicted))
        for metric in BINARY_METRICS[:4]:
            assert aggregated[metric].value == pytest.approx(theirs[metric][chunk], abs=1e-9), metric
        per_row = mce.estimate(ours, scores, predicted)
        assert per_row["roc_auc"].value == pytest.approx(theirs["roc_auc"][chunk], abs=1e-6)
        assert abs(aggregated["roc_auc"].value - per_row["roc_auc"].value) <= bound + 1e-12


def test_multiclass_differs_from_nannyml_by_its_renormalisation_only() -> None:
    rng = np.random.default_rng(8)
    reference, analysis = multiclass_frame(rng, 20_000, 2.0), multiclass_frame(rng, 6 * CHUNK, 2.0, mean=0.5)
    estimator = fit_nannyml(reference)
    ours = same_maps(reference, estimator)
    assert all(cal.isotonic for cal in ours.per_class)  # over-confident scores: every class calibrated
    theirs = nannyml_estimates(estimator, analysis, BINARY_METRICS)
    for chunk, (scores, predicted) in enumerate(chunks(analysis)):
        p_hat = ours.apply(scores)
        renormalised = p_hat / p_hat.sum(axis=1, keepdims=True)
        index = ours.class_index(predicted)
        rows = np.arange(index.size)
        assert renormalised[rows, index].mean() == pytest.approx(theirs["accuracy"][chunk], abs=1e-9)
        aggregated, _ = mce.estimate_from_sums(ours, mce.class_sums(ours, scores, predicted))
        assert aggregated["accuracy"].value == pytest.approx(p_hat[rows, index].mean(), abs=1e-9)
        assert abs(aggregated["accuracy"].value - theirs["accuracy"][chunk]) > 1e-4  # the renormalisation


def test_multiclass_roc_auc_gap_equals_nannyml_realised_and_estimated() -> None:
    """``estimation_gap`` on ROC-AUC: the realised macro one-vs-rest value equals NannyML's realised
    performance, and the estimate of the same rows its CBPE estimate (where it keeps the scores), per chunk."""
    rng = np.random.default_rng(9)
    reference, analysis = multiclass_frame(rng, 20_000, 1.0), multiclass_frame(rng, 6 * CHUNK, 1.0, mean=0.5)
    estimator = fit_nannyml(reference, nannyml.calibration.NoopCalibrator())
    ours = same_maps(reference, estimator)
    estimated = nannyml_estimates(estimator, analysis, ["roc_auc"])["roc_auc"]
    calculator = nannyml.PerformanceCalculator(
        y_pred_proba={c: f"p_{c}" for c in CLASSES}, y_pred="pred", y_true="y",
        problem_type="classification_multiclass", metrics=["roc_auc"], chunk_size=CHUNK)
    calculator.fit(reference)
    frame = calculator.calculate(analysis).to_df()
    realised = frame[frame[("chunk", "period")] == "analysis"][("roc_auc", "value")].to_numpy()
    for chunk, (scores, _) in enumerate(chunks(analysis)):
        actual = analysis["y"].iloc[chunk * CHUNK:(chunk + 1) * CHUNK]
        ours_realised, ours_estimated = mce.roc_auc_pair(ours, scores, actual)
        assert ours_realised == pytest.approx(realised[chunk], abs=1e-12)
        assert ours_estimated == pytest.approx(estimated[chunk], abs=1e-6)  # NannyML rounds to 5 decimals
