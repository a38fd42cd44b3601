"""CBPE: isotonic calibration against scikit-learn, the aggregated path against the per-row one,
and the synthetic truth of issue 19 (x ~ N(0, 1), p = sigmoid(2x)) under covariate shift and concept drift."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from modelspan.analyzer import estimation
from modelspan.profiling import _calibration
from modelspan.profiling._calibration import (
    Calibration,
    expected_calibration_error,
    fit_calibration,
    isotonic_fit,
)

WINDOWS, WINDOW_ROWS, REFERENCE_ROWS = 200, 2_000, 50_000


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def model_score(x: np.ndarray) -> np.ndarray:
    """A monotone but miscalibrated model of p = sigmoid(2x): calibration has work to do."""
    return sigmoid(4.0 * x)


def expected_accuracy(mean: float, std: float, shift: float = 0.0) -> float:
    """E[P(y = ŷ)] with ŷ = [x > 0] and y ~ Bernoulli(sigmoid(2x - shift)), x ~ N(mean, std²), by
    numerical integration (trapezoid rule on a fine grid)."""
    x = np.linspace(mean - 12 * std, mean + 12 * std, 400_001)
    density = np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    p = sigmoid(2.0 * x - shift)
    correct = np.where(x > 0, p, 1 - p)
    y = correct * density  # np.trapezoid is numpy 2 only; the rule written out works on 1.24 too
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


def draw(rng: np.random.Generator, rows: int, mean: float = 0.0, std: float = 1.0,
         shift: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rng.normal(mean, std, rows)
    y = (rng.random(rows) < sigmoid(2.0 * x - shift)).astype(np.int64)
    score = model_score(x)
    return score, y, (score > 0.5).astype(np.int64)


@pytest.fixture(scope="module")
def calibration() -> Calibration:
    score, y, yhat = draw(np.random.default_rng(19), REFERENCE_ROWS)
    return fit_calibration(score, y, yhat)


@pytest.mark.parametrize("seed", range(5))
def test_isotonic_fit_predicts_like_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=3_000), 2)  # rounded: many ties, which both must pool
    y = (rng.random(3_000) < sigmoid(x)).astype(np.float64)
    weights = rng.uniform(0.5, 2.0, 3_000)
    knots_x, knots_y = isotonic_fit(x, y, weights)
    reference = IsotonicRegression(out_of_bounds="clip").fit(x, y, sample_weight=weights)
    grid = np.linspace(-5, 5, 10_001)
    np.testing.assert_allclose(np.interp(grid, knots_x, knots_y), reference.predict(grid), atol=1e-12)
    np.testing.assert_allclose(knots_x, reference.X_thresholds_, atol=0)
    assert np.all(np.diff(knots_y) >= 0)


def test_calibration_is_kept_only_when_it_lowers_held_out_ece(calibration: Calibration) -> None:
    assert calibration.isotonic and calibration.ece_calibrated < calibration.ece_raw
    rng = np.random.default_rng(3)
    x = rng.normal(size=20_000)
    p = sigmoid(2 * x)  # already calibrated: isotonic only adds noise on held-out rows
    y = (rng.random(x.size) < p).astype(np.int64)
    kept = fit_calibration(p, y, (p > 0.5).astype(np.int64))
    assert not kept.isotonic and kept.ece_calibrated >= kept.ece_raw
    assert kept.apply([0.0, 0.3, 1.0]).tolist() == [0.0, 0.3, 1.0]


def test_expected_calibration_error_of_perfect_and_wrong_probabilities() -> None:
    assert expected_calibration_error([1.0, 0.0], [1, 0]) == 0.0
    assert expected_calibration_error([1.0, 0.0], [0, 1]) == 1.0


def test_aggregated_path_equals_per_row(calibration: Calibration) -> None:
    rng = np.random.default_rng(5)
    parts = [draw(rng, 1_500, mean=m, std=s) for m, s in ((0.0, 1.0), (1.0, 1.0), (0.0, 0.5))]
    sums = sum(estimation.interval_sums(calibration, score, yhat) for score, _, yhat in parts)
    score = np.concatenate([p[0] for p in parts])
    yhat = np.concatenate([p[2] for p in parts])
    per_row = estimation.estimate(calibration, score, yhat)
    aggregated = estimation.estimate_from_sums(calibration, np.asarray(sums))
    p = calibration.apply(score)
    assert estimation.expected_positives(calibration, np.asarray(sums)) == pytest.approx(
        (p[yhat == 1].sum(), p[yhat == 0].sum()), abs=1e-9)
    for metric in ("accuracy", "precision", "recall", "f1"):
        assert aggregated[metric].value == pytest.approx(per_row[metric].value, abs=1e-9)
        assert aggregated[metric].sampling_error == per_row[metric].sampling_error


def test_realised_metrics_match_scikit_learn() -> None:
    score, y, yhat = draw(np.random.default_rng(8), 5_000)
    realised = estimation.realised(y, yhat, score)
    assert realised["accuracy"] == pytest.approx(float(np.mean(y == yhat)), abs=1e-12)
    assert realised["roc_auc"] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    tied = np.round(score, 1)  # ties: one step of the curve per distinct score
    assert estimation.realised(y, yhat, tied)["roc_auc"] == pytest.approx(roc_auc_score(y, tied), abs=1e-12)


@pytest.mark.parametrize(("mean", "std"), [(0.0, 1.0), (0.0, 0.5), (1.0, 1.0)])
def test_estimated_accuracy_tracks_covariate_shift(calibration: Calibration, mean: float, std: float) -> None:
    truth = expected_accuracy(mean, std)
    rng = np.random.default_rng(int(100 * mean + 10 * std))
    x = rng.normal(mean, std, (WINDOWS, WINDOW_ROWS))
    p = calibration.apply(model_score(x))
    predicted = x > 0
    estimates = np.where(predicted, p, 1 - p).mean(axis=1)  # TP + TN over n, window by window
    error = estimation.sampling_error(calibration, "accuracy", WINDOW_ROWS)
    covered = np.abs(estimates - truth) <= 3 * error
    assert covered.mean() >= 0.99
    assert abs(estimates.mean() - truth) <= 0.005
    one = estimation.estimate(calibration, model_score(x[0]), predicted[0].astype(np.int64))
    assert one["accuracy"].value == pytest.approx(estimates[0], abs=1e-12)


def test_the_truth_is_the_issue_figures() -> None:
    assert [round(expected_accuracy(m, s), 3) for m, s in ((0, 1), (0, 0.5), (1, 1))] == [0.778, 0.675, 0.841]


def test_concept_drift_is_invisible_to_the_estimate_but_not_to_the_labels(calibration: Calibration) -> None:
    rng = np.random.default_rng(21)
    score, y, yhat = draw(rng, 20_000, shift=1.5)
    estimated = estimation.estimate(calibration, score, yhat)["accuracy"]
    realised = estimation.realised(y, yhat)["accuracy"]
    assert abs(estimated.value - expected_accuracy(0, 1)) <= 3 * estimated.sampling_error
    assert abs(realised - expected_accuracy(0, 1, shift=1.5)) <= 0.015
    assert realised < estimated.value - 0.04
    labelled = slice(0, 1_000)
    gap = estimation.estimate(calibration, score[labelled], yhat[labelled])["accuracy"]
    assert estimation.estimation_gap(gap, estimation.realised(y[labelled], yhat[labelled])["accuracy"])
    no_drift_score, no_drift_y, no_drift_yhat = draw(rng, 1_000)
    steady = estimation.estimate(calibration, no_drift_score, no_drift_yhat)["accuracy"]
    assert not estimation.estimation_gap(steady, estimation.realised(no_drift_y, no_drift_yhat)["accuracy"])


def test_estimate_leaving_the_reference_band_is_flagged(calibration: Calibration) -> None:
    rng = np.random.default_rng(2)
    same = estimation.estimate(calibration, *draw(rng, 2_000)[::2])
    assert not any(item.flagged for item in same.values())
    score, _, yhat = draw(rng, 2_000, std=0.5)
    shifted = estimation.estimate(calibration, score, yhat)
    assert shifted["accuracy"].flagged and shifted["accuracy"].value < shifted["accuracy"].lower


def test_estimated_roc_auc_is_the_expected_auc_under_the_calibrated_probabilities(calibration: Calibration) -> None:
    rng = np.random.default_rng(4)
    score, _, yhat = draw(rng, 3_000, mean=1.0)
    p = calibration.apply(score)
    labels = (rng.random((400, score.size)) < p).astype(int)  # labels drawn from p̂ itself
    realised = np.mean([roc_auc_score(row, score) for row in labels])
    estimate = estimation.estimate(calibration, score, yhat)["roc_auc"]
    assert abs(estimate.value - realised) <= 0.005


def test_bad_input_is_a_clear_error(calibration: Calibration) -> None:
    with pytest.raises(ValueError, match="binary"):
        estimation.estimate(calibration, [0.2, 0.7], [0, 2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        estimation.estimate(calibration, [0.2, 1.7], [0, 1])
    with pytest.raises(ValueError, match="both classes"):
        fit_calibration([0.1] * 20, [0] * 20, [0] * 20)
    assert math.isnan(estimation.sampling_error(calibration, "accuracy", 0))


@pytest.mark.parametrize("module", [estimation, _calibration])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0 and result.attempted > 0


def test_estimates_from_the_recorded_score_of_the_predicted_label(calibration: Calibration) -> None:
    score, _, yhat = draw(np.random.default_rng(6), 2_000, mean=1.0)
    recorded = np.where(yhat == 1, score, 1 - score)  # ml.output.score: P(predicted label)
    from_recorded = estimation.estimate(calibration, estimation.positive_scores(recorded, yhat), yhat)
    direct = estimation.estimate(calibration, score, yhat)
    assert {k: e.value for k, e in from_recorded.items()} == pytest.approx({k: e.value for k, e in direct.items()})
