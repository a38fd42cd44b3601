"""Multiclass CBPE: per-class calibration, the aggregated path against the per-row one and scikit-learn,
and synthetic truth (softmax of linear logits, 3 classes) under covariate shift."""

from __future__ import annotations

import doctest
import json
from dataclasses import asdict

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from modelspan.analyzer import multiclass_estimation as mce
from modelspan.profiling import _multiclass
from modelspan.profiling._multiclass import MulticlassCalibration, fit_multiclass_calibration

CLASSES = ["cat", "dog", "fox"]
WEIGHTS = np.array([[1.5, 0.0], [-0.8, 1.3], [-0.8, -1.3]])
WINDOWS, WINDOW_ROWS, REFERENCE_ROWS = 200, 2_000, 30_000
METRICS = ("accuracy", "precision", "recall", "f1")
SHIFTS = {"none": (0.0, 0.0, 1.0), "scaled": (0.0, 0.0, 0.5), "moved": (1.0, 0.5, 1.0)}


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def draw(rng: np.random.Generator, rows: int, shift: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(true P(y | x), model scores, true labels, predicted labels): the model's logits are twice the
    truth's (over-confident, so calibration has work to do), the prediction is their argmax."""
    x = rng.normal(shift[:2], shift[2], (rows, 2))
    truth = softmax(x @ WEIGHTS.T)
    scores = softmax(2.0 * x @ WEIGHTS.T)
    y = (rng.random((rows, 1)) > truth.cumsum(axis=1)).sum(axis=1)
    labels = np.array(CLASSES)
    return truth, scores, labels[y], labels[scores.argmax(axis=1)]


def expected_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The metrics of the expected one-vs-rest confusion counts under the true probabilities."""
    index = np.searchsorted(CLASSES, predicted)
    per_class = []
    for k in range(len(CLASSES)):
        tp, fp = truth[index == k, k].sum(), (1 - truth[index == k, k]).sum()
        fn = truth[index != k, k].sum()
        per_class.append((tp / (tp + fp), tp / (tp + fn), 2 * tp / (2 * tp + fp + fn)))
    macro = np.mean(per_class, axis=0)
    return {"accuracy": float(truth[np.arange(index.size), index].mean()),
            "precision": float(macro[0]), "recall": float(macro[1]), "f1": float(macro[2])}


@pytest.fixture(scope="module")
def calibration() -> MulticlassCalibration:
    _, scores, y, yhat = draw(np.random.default_rng(19), REFERENCE_ROWS)
    return fit_multiclass_calibration(scores, y, yhat)


def test_doctests() -> None:
    for module in (_multiclass, mce):
        assert doctest.testmod(module).failed == 0


def test_each_class_is_calibrated_where_it_helps(calibration: MulticlassCalibration) -> None:
    assert calibration.classes == CLASSES
    for cal in calibration.per_class:  # over-confident scores: isotonic lowers the held-out ECE
        assert cal.isotonic and cal.ece_calibrated < cal.ece_raw
    # Scores calibrated already: nothing to gain, so the identity is kept for most classes (the
    # held-out ECE is noisy at these sizes; the rule is the same for every class).
    decisions = []
    for seed in range(3):
        truth, _, y, _ = draw(np.random.default_rng(seed), 20_000)
        kept = fit_multiclass_calibration(truth, y, np.array(CLASSES)[truth.argmax(axis=1)])
        for cal in kept.per_class:
            assert cal.isotonic == (cal.ece_calibrated < cal.ece_raw)
            assert abs(cal.ece_calibrated - cal.ece_raw) < 0.005
            assert cal.isotonic or cal.knots_x == [0.0, 1.0]
            decisions.append(cal.isotonic)
    assert sum(decisions) <= 3
    restored = MulticlassCalibration.from_dict(json.loads(json.dumps(asdict(calibration))))
    assert restored == calibration


def test_bad_input_is_a_clear_error(calibration: MulticlassCalibration) -> None:
    _, scores, y, yhat = draw(np.random.default_rng(5), 100)
    with pytest.raises(ValueError, match="columns"):
        fit_multiclass_calibration(scores[:, :2], y, yhat, classes=CLASSES)
    with pytest.raises(ValueError, match="not among"):
        mce.estimate(calibration, scores, np.where(yhat == "cat", "cow", yhat))
    with pytest.raises(ValueError, match="finite probabilities"):
        mce.estimate(calibration, scores * 2, yhat)
    with pytest.raises(ValueError, match="3 to 32"):
        fit_multiclass_calibration(scores[:, :2], np.where(y == "fox", "dog", y), yhat, classes=["cat", "dog"])


@pytest.mark.parametrize("seed", range(4))
def test_aggregated_path_equals_per_row_and_scikit_learn(calibration: MulticlassCalibration, seed: int) -> None:
    rng = np.random.default_rng(seed)
    _, scores, _, yhat = draw(rng, 3_000, SHIFTS["moved"] if seed % 2 else SHIFTS["none"])
    per_row = mce.estimate(calibration, scores, yhat)
    halves = [mce.class_sums(calibration, scores[part], yhat[part]) for part in (slice(0, 1_234), slice(1_234, None))]
    merged = [a + b for a, b in zip(*halves, strict=True)]  # sums of two batches add up to the window's
    aggregated, bound = mce.estimate_from_sums(calibration, merged)
    for metric in METRICS:
        assert aggregated[metric].value == pytest.approx(per_row[metric].value, abs=1e-9)
        assert aggregated[metric].sampling_error == per_row[metric].sampling_error
    assert 0 <= bound < 2e-3
    assert abs(aggregated["roc_auc"].value - per_row["roc_auc"].value) <= bound + 1e-12
    # The expected counts are scikit-learn's metrics on each row taken twice, as class c with weight
    # p̂_c and as not-c with weight 1 - p̂_c: one against the rest, then the mean over the classes.
    p_hat = calibration.apply(scores)
    index = calibration.class_index(yhat)
    per_class = {metric: [] for metric in ("precision", "recall", "f1", "roc_auc")}
    for k in range(len(CLASSES)):
        truth, predicted = np.r_[np.ones(index.size), np.zeros(index.size)], np.tile(index == k, 2)
        weight = np.r_[p_hat[:, k], 1 - p_hat[:, k]]
        per_class["precision"].append(precision_score(truth, predicted, sample_weight=weight))
        per_class["recall"].append(recall_score(truth, predicted, sample_weight=weight))
        per_class["f1"].append(f1_score(truth, predicted, sample_weight=weight))
        per_class["roc_auc"].append(roc_auc_score(truth, np.tile(scores[:, k], 2), sample_weight=weight))
    for metric, values in per_class.items():
        assert per_row[metric].value == pytest.approx(np.mean(values), abs=1e-9)
    chosen = p_hat[np.arange(index.size), index]
    accuracy = accuracy_score(np.r_[np.ones(index.size), np.zeros(index.size)], np.ones(2 * index.size),
                              sample_weight=np.r_[chosen, 1 - chosen])
    assert per_row["accuracy"].value == pytest.approx(accuracy, abs=1e-9)


def test_realised_equals_scikit_learn(calibration: MulticlassCalibration) -> None:
    _, scores, y, yhat = draw(np.random.default_rng(8), 2_000)
    values = mce.realised(calibration, y, yhat, scores)
    assert values["accuracy"] == pytest.approx(accuracy_score(y, yhat), abs=1e-12)
    for metric, function in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
        assert values[metric] == pytest.approx(function(y, yhat, average="macro"), abs=1e-12)
    assert values["roc_auc"] == pytest.approx(roc_auc_score(y, scores, multi_class="ovr", average="macro"), abs=1e-12)


def population_truth(shift: tuple[float, float, float]) -> dict[str, float]:
    truth, _, _, yhat = draw(np.random.default_rng(99), 1_000_000, shift)
    return expected_metrics(truth, yhat)


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_estimate_is_within_3_se_of_the_true_expected_metric(calibration: MulticlassCalibration, name: str) -> None:
    expected = population_truth(SHIFTS[name])
    rng = np.random.default_rng(100 + sorted(SHIFTS).index(name))
    inside = {metric: 0 for metric in METRICS}
    means = {metric: 0.0 for metric in METRICS}
    for _ in range(WINDOWS):
        _, scores, _, yhat = draw(rng, WINDOW_ROWS, SHIFTS[name])
        result = mce.estimate(calibration, scores, yhat)
        for metric in METRICS:
            item = result[metric]
            inside[metric] += abs(item.value - expected[metric]) <= 3 * item.sampling_error
            means[metric] += item.value / WINDOWS
    for metric in METRICS:
        assert inside[metric] >= 0.99 * WINDOWS, (name, metric, inside[metric])
        # One against the rest calibrates p_c alone: where the shift changes what the other columns
        # say at a given p_c (x pulled to the origin, all classes alike), the mean estimate is off by
        # up to 0.021 here (2.1 SE of a window), which docs/estimation.md states; elsewhere by < 0.006.
        tolerance = 0.025 if name == "scaled" else 0.006
        assert means[metric] == pytest.approx(expected[metric], abs=tolerance), (name, metric)
    if name != "none":  # a shift the reference never had moves the estimate out of its band
        assert expected["accuracy"] != pytest.approx(calibration.reference["accuracy"], abs=0.02)
