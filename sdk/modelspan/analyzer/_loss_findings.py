"""A regressor's MAE and RMSE before the labels arrive, and the gap once they do: DLE findings per window.

For a model version whose baseline carries an error model (docs/estimation.md, "Regression"), each
analysed window gets

- ``estimated_performance`` findings for ``mae`` and ``rmse``: the estimate from the expected errors the
  SDK recorded at call time, summed by ONE store request (``Store.loss_sums``) whatever the traffic, its
  sampling error and the reference band (reference ± 3 SE), flagged when the estimate leaves the band.
  ``test.score`` is signed so that below -3 is worse than the reference (a larger error), as for the
  classifier metrics: the ``modelspan-estimated-drop`` watch and rule read it alike.
- ``estimation_gap`` findings once labels arrive: realised MAE and RMSE of the labelled rows against the
  window's estimate, flagged beyond 3 standard errors (``loss_estimation.gap_errors``) on at least
  ``MIN_GAP_LABELS`` rows. A change of P(y | x) (noise or bias the reference did not have) leaves the
  expected errors unchanged: this is the finding that shows it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from modelspan import findings
from modelspan.analyzer import estimation
from modelspan.analyzer._documents import Context, document, number
from modelspan.analyzer._estimation_findings import MIN_GAP_LABELS
from modelspan.analyzer.estimation import Estimate
from modelspan.analyzer.loss_estimation import estimate_loss, gap_errors, loss_gap, realised_loss
from modelspan.profiling._error_model import ErrorModel
from modelspan.store import LabelledPrediction, Store

NAMES = {"mae": "MAE", "rmse": "RMSE"}


def loss_findings(store: Store, context: Context, model: str, version: str, error_model: ErrorModel,
                  labelled: Sequence[LabelledPrediction]) -> list[dict[str, Any]]:
    """``estimated_performance`` findings (MAE, RMSE) of the window, and ``estimation_gap`` ones for its labels."""
    sums = store.loss_sums(context.window, model, version)
    where = f"model {model} v{version}"
    if sums.rows == 0:
        return [document(context, findings.TYPE_ESTIMATED_PERFORMANCE, model, version, "mae", flagged=False,
                         summary=f"{where}: no predictions with an expected error in the window "
                                 f"({sums.unestimated} rows without one): MAE and RMSE not estimated",
                         fields={findings.METRIC_NAME: "mae", findings.SAMPLE_COUNT: 0})]
    estimates = estimate_loss(error_model, sums.rows, sums.abs_error, sums.squared_error)
    docs = [_estimate_document(context, where, model, version, item, sums.unestimated)
            for item in estimates.values()]
    return docs + _gap_documents(context, where, model, version, error_model, estimates, labelled)


def _estimate_document(context: Context, where: str, model: str, version: str, item: Estimate,
                       unestimated: int) -> dict[str, Any]:
    name = NAMES[item.metric]
    text = (f"{where}: estimated {name} {number(item.value)} ± {number(3 * item.sampling_error)} (3 SE) from "
            f"the expected errors of {item.rows} predictions, reference {number(item.reference)} "
            f"band [{number(item.lower)}, {number(item.upper)}]")
    if unestimated:
        text += f"; {unestimated} rows without an expected error"
    if item.flagged:
        text = f"estimated {name} {'above' if item.value > item.upper else 'below'} the reference band: {text}"
    score = (item.reference - item.value) / item.sampling_error if item.sampling_error > 0 else float("nan")
    return document(
        context, findings.TYPE_ESTIMATED_PERFORMANCE, model, version, item.metric, flagged=item.flagged,
        summary=text,
        fields={findings.METRIC_NAME: item.metric, findings.METRIC_VALUE: item.value,
                findings.METRIC_REFERENCE_VALUE: item.reference, findings.METRIC_LOWER: item.lower,
                findings.METRIC_UPPER: item.upper, findings.METRIC_SAMPLING_ERROR: item.sampling_error,
                findings.TEST_NAME: "dle", findings.TEST_SCORE: score,
                findings.TEST_THRESHOLD: estimation.BAND_WIDTH, findings.SAMPLE_COUNT: item.rows})


def numeric_rows(labelled: Sequence[LabelledPrediction]) -> tuple[list[float], list[float]]:
    """(true value, predicted value) of the labelled rows with a finite number for both."""
    actual, predicted = [], []
    for row in labelled:
        truth = row.actual
        if row.value is None or isinstance(truth, bool) or not isinstance(truth, (int, float)):
            continue
        if math.isfinite(row.value) and math.isfinite(truth):
            actual.append(float(truth))
            predicted.append(row.value)
    return actual, predicted


def _gap_documents(context: Context, where: str, model: str, version: str, error_model: ErrorModel,
                   estimates: dict[str, Estimate], labelled: Sequence[LabelledPrediction]) -> list[dict[str, Any]]:
    actual, predicted = numeric_rows(labelled)
    n = len(actual)
    if n == 0:
        return []
    realised = realised_loss(actual, predicted)
    errors = gap_errors(error_model, estimates, n)
    docs = []
    for metric, item in estimates.items():
        flagged = loss_gap(item.value, realised[metric], errors[metric]) and n >= MIN_GAP_LABELS
        text = (f"{where}: realised {NAMES[metric]} {number(realised[metric])} vs estimated {number(item.value)} "
                f"on {n} labelled predictions, 3 SE = {number(3 * errors[metric])}")
        if flagged:
            text = f"labels disagree with the estimate (concept drift?): {text}"
        docs.append(document(
            context, findings.TYPE_ESTIMATION_GAP, model, version, metric, flagged=flagged, summary=text,
            fields={findings.METRIC_NAME: metric, findings.METRIC_VALUE: realised[metric],
                    findings.METRIC_ESTIMATED_VALUE: item.value, findings.METRIC_SAMPLING_ERROR: errors[metric],
                    findings.TEST_NAME: "band_3se", findings.SAMPLE_COUNT: n}))
    return docs
