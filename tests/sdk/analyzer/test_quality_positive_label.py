"""Every rule that picks the positive label of a binary problem, checked against scikit-learn.

The rules (module docstring of ``modelspan.analyzer.performance``): an explicit ``positive`` wins; else a
conventional positive name (``"1"``, ``"true"``, ``"yes"``, ``"positive"``, ...) if one is present;
else the last label of the order (sorted, or the given ``labels``). Each case also checks ROC-AUC and
log loss with the positive label sorting first and last, since the probability columns follow it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics

from modelspan.analyzer.performance import POSITIVE_NAMES, classification, regression


def _data(pos: str, neg: str, seed: int = 3, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actual and predicted labels (asymmetric errors, so swapping positive and negative shows) and P(pos)."""
    rng = np.random.default_rng(seed)
    is_pos = rng.random(n) < 0.4
    p_pos = np.clip(rng.normal(np.where(is_pos, 0.7, 0.3), 0.2), 0.01, 0.99)
    predicted_pos = p_pos > 0.6
    return np.where(is_pos, pos, neg), np.where(predicted_pos, pos, neg), p_pos


def _check_against_sklearn(actual: np.ndarray, predicted: np.ndarray, p_pos: np.ndarray, pos: str,
                           **kwargs: object) -> None:
    score_of_predicted = np.where(predicted == pos, p_pos, 1 - p_pos)
    q = classification(actual, predicted, scores=score_of_predicted, **kwargs)  # type: ignore[arg-type]
    assert q.positive == pos
    neg = next(label for label in q.labels if label != pos)
    y_true, y_pred = actual == pos, predicted == pos
    assert q.precision == pytest.approx(metrics.precision_score(actual, predicted, pos_label=pos))
    assert q.recall == pytest.approx(metrics.recall_score(actual, predicted, pos_label=pos))
    assert q.f1 == pytest.approx(metrics.f1_score(actual, predicted, pos_label=pos))
    assert q.specificity == pytest.approx(metrics.recall_score(actual, predicted, pos_label=neg))
    assert q.npv == pytest.approx(metrics.precision_score(actual, predicted, pos_label=neg))
    assert q.roc_auc == pytest.approx(metrics.roc_auc_score(y_true, p_pos))
    assert q.log_loss == pytest.approx(metrics.log_loss(y_true, p_pos))
    assert q.accuracy == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    assert q.confusion == metrics.confusion_matrix(actual, predicted, labels=list(q.labels)).tolist()


@pytest.mark.parametrize(("pos", "neg"), [("churn", "stay"), ("stay", "churn")])
def test_explicit_positive_sorting_first_or_last(pos: str, neg: str) -> None:
    actual, predicted, p_pos = _data(pos, neg)
    _check_against_sklearn(actual, predicted, p_pos, pos, positive=pos)
    q = classification(actual, predicted, scores=p_pos, positive=pos, scores_for="positive")
    assert q.roc_auc == pytest.approx(metrics.roc_auc_score(actual == pos, p_pos))


@pytest.mark.parametrize("name", sorted(set(POSITIVE_NAMES)))
def test_conventional_positive_name_wins_over_sort_order(name: str) -> None:
    # "a_negative" sorts before every conventional name and "zzz" after: the name wins either way
    for neg in ("a_negative", "zzz"):
        actual, predicted, p_pos = _data(name, neg)
        _check_against_sklearn(actual, predicted, p_pos, name)


def test_without_a_conventional_name_the_last_sorted_label_is_positive() -> None:
    actual, predicted, p_pos = _data("dog", "cat")
    _check_against_sklearn(actual, predicted, p_pos, "dog")
    small = classification(["cat", "dog", "dog", "dog"], ["cat", "dog", "cat", "dog"])
    assert small.positive == "dog" and small.precision == 1.0 and small.recall == pytest.approx(2 / 3)


def test_given_label_order_makes_its_last_label_positive() -> None:
    actual, predicted, p_pos = _data("cat", "dog")
    _check_against_sklearn(actual, predicted, p_pos, "cat", labels=["dog", "cat"])


def test_one_label_only_is_its_own_positive_and_multiclass_has_none() -> None:
    q = classification(["dog", "dog"], ["dog", "dog"])
    assert q.positive == "dog" and q.precision == 1.0 and q.specificity is None and q.npv is None
    multi = classification(["a", "b", "c"], ["a", "b", "b"])
    assert multi.positive is None
    assert multi.precision == pytest.approx(metrics.precision_score(["a", "b", "c"], ["a", "b", "b"],
                                                                    average="macro", zero_division=0))


def test_positive_absent_from_the_data_still_defines_the_binary_problem() -> None:
    q = classification(["no", "no", "no"], ["no", "no", "no"], positive="yes")
    assert q.labels == ("no", "yes") and q.positive == "yes"
    assert q.precision is None and q.recall is None and q.specificity == 1.0 and q.npv == 1.0


def test_one_actual_class_has_no_auc_but_a_log_loss() -> None:
    q = classification(["1", "1", "1"], ["1", "0", "1"], scores=[0.9, 0.6, 0.8])
    assert q.roc_auc is None
    assert q.log_loss == pytest.approx(metrics.log_loss([1, 1, 1], [0.9, 0.4, 0.8], labels=[0, 1]))


def test_without_two_labels_or_with_many_one_dimensional_scores_give_neither_auc_nor_log_loss() -> None:
    single = classification(["a", "a"], ["a", "a"], scores=[0.7, 0.9])
    assert (single.roc_auc, single.log_loss) == (None, None)
    multi = classification(["a", "b", "c", "a"], ["a", "b", "b", "c"], scores=[0.7, 0.9, 0.5, 0.6])
    assert (multi.roc_auc, multi.log_loss) == (None, None)


def test_labels_of_any_type_are_compared_as_strings() -> None:
    q = classification([1, 0, 1, 1], np.array([1, 1, 1, 0]))
    assert q.labels == ("0", "1") and q.positive == "1"
    assert q.precision == pytest.approx(metrics.precision_score([1, 0, 1, 1], [1, 1, 1, 0]))
    assert classification([True, False], ["True", "False"]).accuracy == 1.0


def test_scores_outside_0_1_are_clipped() -> None:
    actual, predicted = ["1", "0", "1", "0"], ["1", "1", "0", "0"]
    wild = classification(actual, predicted, scores=[1.5, 0.7, -0.2, 0.8], scores_for="positive")
    tame = classification(actual, predicted, scores=[1.0, 0.7, 0.0, 0.8], scores_for="positive")
    assert wild.log_loss == tame.log_loss == pytest.approx(
        metrics.log_loss([1, 0, 1, 0], np.clip([1.0, 0.7, 0.0, 0.8], 1e-15, 1 - 1e-15)))


def test_a_row_of_zero_scores_counts_as_uniform() -> None:
    scores = np.array([[0.0, 0.0, 0.0], [2.0, 1.0, 1.0], [0.1, 0.6, 0.3]])
    q = classification(["a", "b", "c"], ["a", "a", "b"], scores=scores)
    uniform = np.array([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.25, 0.25], [0.1, 0.6, 0.3]])
    assert q.log_loss == pytest.approx(metrics.log_loss(["a", "b", "c"], uniform, labels=["a", "b", "c"]))


def test_no_rows_is_no_data_not_perfect() -> None:
    q = classification([], [])
    assert q.count == 0 and q.labels == () and q.confusion == []
    assert (q.accuracy, q.precision, q.recall, q.f1, q.roc_auc, q.log_loss) == (None,) * 6


def test_regression_edges_against_sklearn() -> None:
    empty = regression([float("nan"), 1.0], [1.0, float("inf")])
    assert (empty.count, empty.mae, empty.rmse, empty.mape, empty.r2) == (0, None, None, None, None)
    actual, predicted = [0.1, 0.2, 0.3, 0.25], [0.12, 0.18, 0.33, 0.2]  # total sum of squares well below 1
    q = regression(actual, predicted)
    assert q.count == 4 and q.r2 == pytest.approx(metrics.r2_score(actual, predicted))
    assert q.mae == pytest.approx(metrics.mean_absolute_error(actual, predicted))
    assert q.rmse == pytest.approx(math.sqrt(metrics.mean_squared_error(actual, predicted)))  # root_*: sklearn 1.4
    assert q.mape == pytest.approx(metrics.mean_absolute_percentage_error(actual, predicted))
    assert regression([2.0, 2.0], [1.0, 3.0]).r2 is None  # constant actual values
