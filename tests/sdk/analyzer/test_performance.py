"""Quality metrics against scikit-learn and Evidently; the proportion-drop test by hand with scipy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics

from modelspan.analyzer.performance import classification, proportion_drop, regression

with warnings.catch_warnings():  # evidently's import chain emits third-party deprecation warnings
    warnings.simplefilter("ignore")
    from evidently.legacy.calculations.classification_performance import calculate_matrix, calculate_metrics
    from evidently.legacy.calculations.regression_performance import _calculate_quality_metrics
    from evidently.legacy.metric_results import PredictionData
    from evidently.legacy.pipeline.column_mapping import ColumnMapping


def _binary(seed: int, n: int = 800) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actual labels, P(positive) from a model with some skill, and the thresholded predictions."""
    rng = np.random.default_rng(seed)
    actual = rng.random(n) < 0.35
    p_pos = np.clip(rng.normal(np.where(actual, 0.65, 0.35), 0.2), 0.01, 0.99)
    return np.where(actual, "1", "0"), p_pos, np.where(p_pos > 0.5, "1", "0")


@pytest.mark.parametrize("seed", range(5))
def test_binary_matches_sklearn_and_evidently(seed: int) -> None:
    actual, p_pos, predicted = _binary(seed)
    score_of_predicted = np.where(predicted == "1", p_pos, 1 - p_pos)  # what ml.output.score carries
    q = classification(actual, predicted, scores=score_of_predicted)
    y = actual == "1"
    assert q.labels == ("0", "1") and q.positive == "1" and q.count == actual.size
    assert q.confusion == metrics.confusion_matrix(actual, predicted, labels=["0", "1"]).tolist()
    assert q.accuracy == pytest.approx(metrics.accuracy_score(actual, predicted))
    assert q.precision == pytest.approx(metrics.precision_score(actual, predicted, pos_label="1"))
    assert q.recall == pytest.approx(metrics.recall_score(actual, predicted, pos_label="1"))
    assert q.f1 == pytest.approx(metrics.f1_score(actual, predicted, pos_label="1"))
    tn, fp, fn, _tp = metrics.confusion_matrix(actual, predicted, labels=["0", "1"]).ravel()
    assert q.specificity == pytest.approx(tn / (tn + fp)) and q.npv == pytest.approx(tn / (tn + fn))
    assert q.roc_auc == pytest.approx(metrics.roc_auc_score(y, p_pos), abs=1e-12)
    assert q.log_loss == pytest.approx(metrics.log_loss(y, p_pos), abs=1e-12)
    peer = _evidently(actual, predicted, pd.DataFrame({"0": 1 - p_pos, "1": p_pos}))
    for ours, theirs in [(q.accuracy, peer.accuracy), (q.precision, peer.precision), (q.recall, peer.recall),
                         (q.f1, peer.f1), (q.specificity, peer.tnr), (q.roc_auc, peer.roc_auc),
                         (q.log_loss, peer.log_loss)]:
        assert ours == pytest.approx(float(theirs), abs=1e-12)


def _evidently(actual: np.ndarray, predicted: np.ndarray, probas: pd.DataFrame | None) -> object:
    labels = sorted(set(actual) | set(predicted))
    target, prediction = pd.Series(actual), pd.Series(predicted)
    matrix = calculate_matrix(target, prediction, labels)
    data = PredictionData(predictions=prediction, prediction_probas=probas, labels=labels)
    mapping = ColumnMapping(pos_label="1" if len(labels) == 2 else None)
    return calculate_metrics(mapping, matrix, target, data)


def test_scores_of_the_positive_label_are_accepted_too() -> None:
    actual, p_pos, predicted = _binary(9)
    q = classification(actual, predicted, scores=p_pos, scores_for="positive")
    assert q.roc_auc == pytest.approx(metrics.roc_auc_score(actual == "1", p_pos))


@pytest.mark.parametrize("seed", range(4))
def test_multiclass_macro_averages_match_sklearn_and_evidently(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = np.array(["cat", "dog", "eel", "fox"])
    actual = rng.choice(classes, 1000, p=[0.4, 0.3, 0.2, 0.1])
    logits = rng.normal(size=(1000, 4)) + 1.5 * (actual[:, None] == classes[None, :])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = classes[probs.argmax(axis=1)]
    q = classification(actual, predicted, scores=probs)
    assert q.labels == tuple(classes) and q.positive is None
    assert q.confusion == metrics.confusion_matrix(actual, predicted, labels=classes).tolist()
    for name, ours in [("precision", q.precision), ("recall", q.recall), ("f1", q.f1)]:
        expected = getattr(metrics, f"{name}_score")(actual, predicted, average="macro", zero_division=0)
        assert ours == pytest.approx(expected, abs=1e-12)
    per_class = metrics.multilabel_confusion_matrix(actual, predicted, labels=classes)  # [[tn, fp], [fn, tp]]
    tn, fp, fn = per_class[:, 0, 0], per_class[:, 0, 1], per_class[:, 1, 0]
    assert q.specificity == pytest.approx(np.mean(tn / (tn + fp))) and q.npv == pytest.approx(np.mean(tn / (tn + fn)))
    assert q.roc_auc == pytest.approx(metrics.roc_auc_score(actual, probs, multi_class="ovr", labels=classes))
    assert q.log_loss == pytest.approx(metrics.log_loss(actual, probs, labels=classes), abs=1e-12)
    peer = _evidently(actual, predicted, pd.DataFrame(probs, columns=classes))
    for ours, theirs in [(q.accuracy, peer.accuracy), (q.precision, peer.precision), (q.recall, peer.recall),
                         (q.f1, peer.f1), (q.roc_auc, peer.roc_auc), (q.log_loss, peer.log_loss)]:
        assert ours == pytest.approx(float(theirs), abs=1e-12)


def test_multiclass_without_per_class_probabilities_has_no_auc_or_log_loss() -> None:
    q = classification(["a", "b", "c", "a"], ["a", "b", "b", "c"], scores=[0.9, 0.8, 0.6, 0.7])
    assert q.roc_auc is None and q.log_loss is None and q.accuracy == 0.5


def test_fixed_label_order_and_undefined_binary_metrics() -> None:
    q = classification(["no", "no", "no"], ["no", "no", "no"], positive="yes", labels=["yes", "no"])
    assert q.labels == ("yes", "no") and q.confusion == [[0, 0], [0, 3]]
    assert q.precision is None and q.recall is None and q.f1 is None
    assert q.specificity == 1.0 and q.npv == 1.0 and q.roc_auc is None
    with pytest.raises(ValueError, match="not in the given label order"):
        classification(["a"], ["b"], labels=["a"])
    with pytest.raises(ValueError, match="length"):
        classification(["a", "b"], ["a"])


def test_log_loss_clips_certain_mistakes() -> None:
    q = classification(["1", "0"], ["0", "0"], scores=[1.0, 1.0])  # certain, and wrong once
    assert q.log_loss == pytest.approx(-math.log(1e-15) / 2)


def test_regression_matches_sklearn_and_evidently() -> None:
    rng = np.random.default_rng(4)
    actual = rng.uniform(1, 50, 2000)
    predicted = actual + rng.normal(0, 3, 2000)
    q = regression(actual, predicted)
    assert q.count == 2000
    assert q.mae == pytest.approx(metrics.mean_absolute_error(actual, predicted), rel=1e-12)
    assert q.rmse == pytest.approx(math.sqrt(metrics.mean_squared_error(actual, predicted)), rel=1e-12)
    assert q.mape == pytest.approx(metrics.mean_absolute_percentage_error(actual, predicted), rel=1e-12)
    assert q.r2 == pytest.approx(metrics.r2_score(actual, predicted), rel=1e-12)
    peer = _calculate_quality_metrics(pd.DataFrame({"t": actual, "p": predicted}), "p", "t", mape_zero_handling="drop")
    assert q.mae == pytest.approx(peer["mean_abs_error"], rel=1e-12)
    assert 100 * q.mape == pytest.approx(peer["mean_abs_perc_error"], rel=1e-12)  # Evidently reports percent


def test_mape_skips_zero_actuals_and_non_finite_pairs_are_dropped() -> None:
    actual = np.array([0.0, 2.0, 4.0, np.nan, 1.0])
    predicted = np.array([5.0, 3.0, 3.0, 1.0, np.inf])
    q = regression(actual, predicted)
    assert q.count == 3
    assert q.mape == pytest.approx(metrics.mean_absolute_percentage_error([2.0, 4.0], [3.0, 3.0]))
    assert q.mae == pytest.approx(metrics.mean_absolute_error([0.0, 2.0, 4.0], [5.0, 3.0, 3.0]))
    assert regression([0.0, 0.0], [1.0, 1.0]).mape is None
    assert regression([3.0, 3.0], [1.0, 2.0]).r2 is None  # constant actuals: R² undefined
    assert regression([], []) == regression([np.nan], [1.0])


@pytest.mark.parametrize(("ref", "cur"), [((900, 1000), (850, 1000)), ((50, 60), (40, 58)), ((10, 10), (7, 9)),
                                          ((400, 1000), (420, 1000)), ((30, 3000), (29, 2900))])
def test_proportion_drop_is_the_pooled_one_sided_z_test(ref: tuple[int, int], cur: tuple[int, int]) -> None:
    drop, p_value = proportion_drop(ref[0], ref[1], cur[0], cur[1])
    p1, p2 = ref[0] / ref[1], cur[0] / cur[1]
    pooled = (ref[0] + cur[0]) / (ref[1] + cur[1])
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / ref[1] + 1 / cur[1]))
    assert drop == pytest.approx(p1 - p2) and p_value == pytest.approx(stats.norm.sf(z), rel=1e-12)


def test_proportion_drop_edges() -> None:
    assert proportion_drop(100, 100, 50, 50) == (0.0, 1.0)
    assert proportion_drop(0, 0, 5, 10) == (0.0, None)
    with pytest.raises(ValueError, match="hits"):
        proportion_drop(11, 10, 5, 10)


def test_roc_auc_with_many_ties_and_missing_scores() -> None:
    actual, p_pos, predicted = _binary(21, 3000)
    rounded = np.round(p_pos, 1)  # about ten distinct scores: ties everywhere
    q = classification(actual, predicted, scores=rounded, scores_for="positive")
    assert q.roc_auc == pytest.approx(metrics.roc_auc_score(actual == "1", rounded), abs=1e-12)
    holes = rounded.copy()
    holes[::7] = np.nan
    keep = np.isfinite(holes)
    q = classification(actual, predicted, scores=holes, scores_for="positive")
    assert q.roc_auc == pytest.approx(metrics.roc_auc_score(actual[keep] == "1", holes[keep]), abs=1e-12)
    assert q.count == actual.size
