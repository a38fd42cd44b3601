"""The regression-quality finding: a rise of the mean absolute error, tested with Mann-Whitney U.

Rows are regression predictions (a ``value``, no ``label``) joined with numeric ground truth. The
finding compares the last bucket's absolute errors with the earlier buckets' (or the reference
window's labels when there are at least ``MIN_LABELS``): flagged when MAE rose by at least
``MIN_MAE_RATIO`` and the rise is significant at ``ALPHA`` with enough labels on both sides.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import pytest
from scipy import stats

from modelspan import findings
from modelspan.analyzer._documents import Context
from modelspan.analyzer._performance_findings import MIN_LABELS, MIN_MAE_RATIO, performance_findings
from modelspan.analyzer.performance import regression
from modelspan.store import LabelledPrediction
from tests.sdk.analyzer.planted import REFERENCE, WINDOW

CONTEXT = Context(WINDOW, "baseline", REFERENCE, "now")


def _row(minute: int, number: int, actual: float, predicted: float) -> LabelledPrediction:
    moment = WINDOW.start + _dt.timedelta(minutes=minute)
    return LabelledPrediction(f"r{number}", moment.isoformat(), actual, None, predicted, None, None)


def _rows(minute: int, errors: list[float], first: int = 0) -> list[LabelledPrediction]:
    return [_row(minute, first + i, 10.0 + i, 10.0 + i + e * (-1) ** i) for i, e in enumerate(errors)]


def _drop(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (drop,) = [d for d in docs if d[findings.ID].startswith("quality:m:1:mae_drop")]
    return drop


def test_a_doubled_error_in_the_last_bucket_is_flagged_against_the_earlier_ones() -> None:
    early = [1.0 + 0.01 * (i % 5) for i in range(60)]
    late = [2.0 + 0.01 * (i % 5) for i in range(60)]
    rows = _rows(5, early) + _rows(45, late, first=100)
    docs = performance_findings(CONTEXT, "m", "1", rows, [], 600.0)
    drop = _drop(docs)
    assert drop[findings.FLAGGED] and drop[findings.SUMMARY].startswith("model performance dropped: model m v1")
    assert "the window's earlier buckets" in drop[findings.SUMMARY]
    assert drop[findings.METRIC_NAME] == "mae" and drop[findings.TEST_NAME] == "mannwhitneyu"
    assert drop[findings.METRIC_VALUE] == pytest.approx(np.mean(late))
    assert drop[findings.METRIC_REFERENCE_VALUE] == pytest.approx(np.mean(early))
    assert drop[findings.TEST_P_VALUE] == pytest.approx(stats.mannwhitneyu(late, early, alternative="greater").pvalue)
    assert (drop[findings.SAMPLE_COUNT], drop[findings.REFERENCE_COUNT]) == (60, 60)
    # the window's metrics: exactly performance.regression of every row
    expected = regression([r.actual for r in rows], [r.value for r in rows])
    measured = {d[findings.METRIC_NAME]: d[findings.METRIC_VALUE] for d in docs if not d[findings.FLAGGED]}
    for name in ("mae", "rmse", "mape", "r2"):
        assert measured[name] == pytest.approx(getattr(expected, name))
    assert [d[findings.METRIC_VALUE] for d in docs if d[findings.METRIC_NAME] == "bucket_mae"] == \
        pytest.approx([np.mean(early), np.mean(late)])


@pytest.mark.parametrize(("ratio", "flagged"), [(MIN_MAE_RATIO, True), (MIN_MAE_RATIO - 0.01, False)])
def test_the_rise_must_reach_the_minimum_ratio(ratio: float, flagged: bool) -> None:
    early, late = [1.0] * 40, [ratio] * 40  # constant errors: any rise is significant
    reference = _rows(5, early)
    current = _rows(45, late, first=100)
    drop = _drop(performance_findings(CONTEXT, "m", "1", current, reference, 600.0))
    assert drop[findings.FLAGGED] is flagged and "the reference window" in drop[findings.SUMMARY]
    assert drop[findings.METRIC_VALUE] == pytest.approx(ratio) and drop[findings.METRIC_REFERENCE_VALUE] == 1.0


@pytest.mark.parametrize(("count", "flagged"), [(MIN_LABELS, True), (MIN_LABELS - 1, False)])
def test_too_few_labels_on_either_side_flag_nothing(count: int, flagged: bool) -> None:
    reference = _rows(5, [1.0] * count)
    current = _rows(45, [3.0] * MIN_LABELS, first=100)
    # fewer reference labels than MIN_LABELS: the earlier buckets of the window are the reference
    rows = reference + current
    drop = _drop(performance_findings(CONTEXT, "m", "1", rows, [], 600.0))
    assert drop[findings.FLAGGED] is flagged and drop[findings.REFERENCE_COUNT] == count
    swapped = _drop(performance_findings(CONTEXT, "m", "1", _rows(5, [1.0] * MIN_LABELS) +
                                     _rows(45, [3.0] * count, first=100), [], 600.0))
    assert swapped[findings.FLAGGED] is flagged and swapped[findings.SAMPLE_COUNT] == count


def test_a_steady_error_and_non_numeric_truth_flag_nothing() -> None:
    rows = _rows(5, [1.0, 2.0] * 30) + _rows(45, [2.0, 1.0] * 30, first=100)
    assert not _drop(performance_findings(CONTEXT, "m", "1", rows, [], 600.0))[findings.FLAGGED]
    odd = [LabelledPrediction("x", WINDOW.start.isoformat(), "n/a", None, 1.0, None, None)]
    docs = performance_findings(CONTEXT, "m", "1", odd, [], 600.0)
    drop = _drop(docs)
    assert not drop[findings.FLAGGED] and drop[findings.SAMPLE_COUNT] == 0 and drop.get(findings.METRIC_VALUE) is None
