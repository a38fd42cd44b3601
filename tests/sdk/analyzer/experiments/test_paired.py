"""Churn between versions and McNemar's test, checked against statsmodels."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from modelspan.analyzer.experiments import churn, mcnemar, paired_correctness


def v1(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    score = 1.0 / (1.0 + np.exp(-x))
    return (score > 0.5).astype(int), score


def test_a_version_against_itself_has_zero_churn() -> None:
    x = np.random.default_rng(6).normal(size=10_000)
    labels, scores = v1(x)
    result = churn(labels, *v1(x)[:1], scores, v1(x)[1])
    assert result.changed == 0 and result.share == 0.0 and result.mean_abs_score_difference == 0.0


@pytest.mark.parametrize("threshold", [0.0, 1.0, 1.5])
def test_v2_flipping_labels_above_t_churns_p_x_above_t(threshold: float) -> None:
    x = np.random.default_rng(7).normal(size=200_000)
    labels, _ = v1(x)
    flipped = np.where(x > threshold, 1 - labels, labels)
    result = churn(labels, flipped)
    assert result.share == np.mean(x > threshold)  # exactly the traffic above t
    assert result.share == pytest.approx(stats.norm.sf(threshold), abs=0.004)  # and P(x > t)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 5), (2, 10), (7, 9), (12, 12), (30, 60), (100, 130), (400, 380)])
def test_mcnemar_matches_statsmodels(b: int, c: int) -> None:
    ours = mcnemar(b, c)
    ref = sm_mcnemar([[50, b], [c, 50]], exact=ours.method == "exact", correction=True)
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p_value == pytest.approx(ref.pvalue)
    assert ours.method == ("exact" if b + c < 25 else "chi2")


def test_paired_correctness_counts_discordant_pairs() -> None:
    actual = [1, 0, 1, 1, 0, 1]
    champion = [1, 0, 0, 1, 1, 1]  # wrong on rows 2 and 4
    challenger = [1, 1, 1, 0, 1, 1]  # wrong on rows 1, 3 and 4
    assert paired_correctness(actual, champion, challenger) == (2, 1)


def test_mismatched_pairs_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        churn([1, 2], [1])
    with pytest.raises(ValueError):
        mcnemar(-1, 3)


@pytest.mark.parametrize("name", ["sequential", "srm", "paired", "verdict"])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"modelspan.analyzer.experiments.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
