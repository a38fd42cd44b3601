"""Performance before the labels arrive, and the gap once they do: CBPE findings per model version and window.

For a model version whose baseline carries a calibration (docs/estimation.md), each analysed window gets

- ``estimated_performance`` findings, one per metric (accuracy, precision, recall, F1, ROC-AUC): the
  estimate from the scores alone, its sampling error and the reference band (reference ± 3 SE),
  flagged when the estimate leaves the band. They come from ONE store request
  (``Store.score_sums``: rows and score sums per predicted label and interval of the calibration's
  knots), whatever the traffic; the confusion-matrix metrics are exact sums of calibrated
  probabilities, ROC-AUC carries the bound of its grouping (``metric.error_bound``).
- ``estimation_gap`` findings once labels arrive: realised vs estimated on the labelled rows, tested
  (accuracy: the number of correct predictions is Poisson-binomial under the calibration, so a
  two-sided z-test; the other metrics: more than 3 sampling errors apart). Concept drift (P(y | x)
  changing) leaves the scores and so the estimate unchanged: this is the finding that shows it.

The recorded score is the probability of the *predicted* label; labels ``1``/``true`` are the positive
class and ``0``/``false`` the negative one (the calibration is binary); other labels are counted, not used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from modelspan import findings, semconv
from modelspan.analyzer import estimation, severity
from modelspan.analyzer._documents import Context, document, number
from modelspan.analyzer.estimation import Estimate
from modelspan.profiling._calibration import Calibration, confusion_metrics
from modelspan.store import LabelledPrediction, ScoreSums, Store

POSITIVE = frozenset({"1", "true"})
NEGATIVE = frozenset({"0", "false"})
MIN_GAP_LABELS = 100
"""Labelled rows below which an estimation gap is reported but never flagged."""
GAP_ALPHA = 0.0027
"""Two-sided level of the accuracy gap test (3 standard errors of a normal)."""


def score_edges(calibration: Calibration) -> list[float]:
    """Edges of the store's score intervals: the knots and their mirror images (1 - knot), so that an
    interval of the predicted label's score lies inside one knot interval of P(class 1) for either label.

    >>> score_edges(Calibration([0.2, 0.7], [0.1, 0.9]))
    [0.2, 0.3, 0.7, 0.8]
    """
    return [float(edge) for edge in calibration.score_edges]


def _positive_bounds(label: int, interval: int, edges: Sequence[float]) -> tuple[float, float]:
    """The range of P(class 1) of the rows of one store interval (the score's, mirrored for label 0)."""
    low = edges[interval - 1] if interval > 0 else -math.inf
    high = edges[interval] if interval < len(edges) else math.inf
    return (low, high) if label == 1 else (1.0 - high, 1.0 - low)


def _inside(low: float, high: float) -> float:
    """A point inside ``[low, high)`` that picks its knot interval (ends may be infinite)."""
    if math.isinf(low):
        return high - 1.0
    return low if math.isinf(high) else (low + high) / 2


Group = tuple[float, int, float, float]


def aggregate(calibration: Calibration, sums: ScoreSums) -> tuple[np.ndarray, list[Group], int]:
    """The store's sums as CBPE needs them: ``estimation.interval_sums``-shaped (ŷ, knot interval) sums
    of P(class 1), the score-ordered groups for ROC-AUC ``(position, rows, Σp̂, spread of p̂)`` and
    the rows whose label is not binary."""
    knots = np.asarray(calibration.knots_x)
    a, b = estimation.knot_coefficients(calibration)
    cells = np.zeros((2, knots.size + 1, 2), dtype=np.float64)
    groups: dict[int, list[float]] = {}
    other = 0
    for (text, interval), (count, total) in sums.cells.items():
        label = 1 if text in POSITIVE else 0 if text in NEGATIVE else None
        if label is None:
            other += count
            continue
        low, high = _positive_bounds(label, interval, sums.edges)
        point = _inside(low, high)
        knot = int(np.searchsorted(knots, point, side="right"))
        positive_total = total if label == 1 else count - total
        cells[label, knot] += (count, positive_total)
        group = groups.setdefault(int(np.searchsorted(sums.edges, point, side="right")), [0, 0.0, 0.0])
        spread = calibration.apply([max(low, 0.0), min(high, 1.0)])
        group[0] += count
        group[1] += a[knot] * count + b[knot] * positive_total
        group[2] = max(group[2], float(spread[1] - spread[0]))
    ordered = [(float(key), int(g[0]), g[1], g[2]) for key, g in sorted(groups.items())]
    return cells, ordered, other


def estimates_from_store(calibration: Calibration, sums: ScoreSums) -> tuple[dict[str, Estimate], float, int]:
    """Every estimate of a window from ``Store.score_sums``, ROC-AUC's error bound, and the unusable rows.

    Rows known by their batch's sums only (``sums.expected``) count in the confusion-matrix metrics; ROC-AUC
    needs every row's score interval, so it is left out when there are any (``estimation_findings`` says so)."""
    cells, groups, other = aggregate(calibration, sums)
    positive_p, negative_p = estimation.expected_positives(calibration, cells)
    predicted_positive, rows = float(cells[1, :, 0].sum()), float(cells[:, :, 0].sum())
    for label, (count, total) in sums.expected.items():
        rows += count
        if label == "1":
            predicted_positive, positive_p = predicted_positive + count, positive_p + total
        else:
            negative_p += total
    values = confusion_metrics(positive_p, predicted_positive - positive_p, negative_p, rows)
    result = estimation.estimates(calibration, values, int(rows))
    if sums.ungrouped:
        return result, 0.0, other + sums.unscored
    counts = [g[1] for g in groups]
    positive = [g[2] for g in groups]
    auc, bound = estimation.roc_auc_from_groups(positive, [c - p for c, p in zip(counts, positive, strict=True)],
                                                counts, [g[3] for g in groups])
    result["roc_auc"] = Estimate("roc_auc", auc, estimation.sampling_error(calibration, "roc_auc", int(rows)),
                                 calibration.reference.get("roc_auc", float("nan")), int(rows))
    return result, bound, other + sums.unscored


def estimation_findings(store: Store, context: Context, model: str, version: str, calibration: Calibration,
                        labelled: Sequence[LabelledPrediction]) -> list[dict[str, Any]]:
    """``estimated_performance`` findings of the window, and ``estimation_gap`` ones for its labelled rows."""
    sums = store.score_sums(context.window, model, version, score_edges(calibration), calibration.fingerprint)
    result, bound, unusable = estimates_from_store(calibration, sums)
    where = f"model {model} v{version}"
    rows = sums.rows - (unusable - sums.unscored)
    if rows == 0:
        return [document(context, findings.TYPE_ESTIMATED_PERFORMANCE, model, version, "accuracy", flagged=False,
                         summary=f"{where}: no scored binary predictions in the window ({unusable} unusable "
                                 "rows): performance not estimated",
                         fields={findings.METRIC_NAME: "accuracy", findings.SAMPLE_COUNT: 0})]
    docs = [_estimate_document(context, model, version, item, bound if name == "roc_auc" else 0.0, unusable)
            for name, item in result.items()]
    if "roc_auc" not in result:
        docs.append(document(
            context, findings.TYPE_ESTIMATED_PERFORMANCE, model, version, "roc_auc", flagged=False,
            summary=f"{where}: ROC-AUC not estimated: {sums.ungrouped} rows of batch calls are known by their "
                    "sums only (the store cannot order their scores; docs/estimation.md)",
            fields={findings.METRIC_NAME: "roc_auc", findings.SAMPLE_COUNT: 0}))
    return docs + gap_findings(context, model, version, calibration, labelled)


def _estimate_document(context: Context, model: str, version: str, item: Estimate, bound: float,
                       unusable: int) -> dict[str, Any]:
    side = "below" if item.value < item.lower else "above"
    text = (f"model {model} v{version}: estimated {item.metric} {number(item.value)} "
            f"± {number(3 * item.sampling_error)} (3 SE) from the scores of {item.rows} predictions, "
            f"reference {number(item.reference)} band [{number(item.lower)}, {number(item.upper)}]")
    if unusable:
        text += f"; {unusable} rows without a usable score or binary label"
    flagged = item.flagged
    if flagged:
        text = f"estimated performance {side} the reference band: {text}"
    critical = flagged and item.reference - item.value >= severity.CRITICAL_DROP
    return document(
        context, findings.TYPE_ESTIMATED_PERFORMANCE, model, version, item.metric, flagged=flagged, summary=text,
        severity=severity.CRITICAL if critical else None,
        fields={findings.METRIC_NAME: item.metric, findings.METRIC_VALUE: item.value,
                findings.METRIC_REFERENCE_VALUE: item.reference, findings.METRIC_LOWER: item.lower,
                findings.METRIC_UPPER: item.upper, findings.METRIC_SAMPLING_ERROR: item.sampling_error,
                findings.METRIC_ERROR_BOUND: bound, findings.TEST_NAME: "cbpe", findings.TEST_SCORE: _distance(item),
                findings.TEST_THRESHOLD: estimation.BAND_WIDTH, findings.SAMPLE_COUNT: item.rows})


def _distance(item: Estimate) -> float:
    """Signed sampling errors from the reference (``test.score``: below -3 is an estimated drop)."""
    return (item.value - item.reference) / item.sampling_error if item.sampling_error > 0 else float("nan")


def binary_rows(labelled: Sequence[LabelledPrediction]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P(class 1) as recorded, predicted 0/1, true 0/1) of the labelled rows usable for the gap."""
    kept = [(r.score, r.label, semconv.category_value(r.actual)) for r in labelled]
    kept = [(s, lab, act) for s, lab, act in kept if s is not None and 0.0 <= s <= 1.0
            and lab in POSITIVE | NEGATIVE and act in POSITIVE | NEGATIVE]
    predicted = np.array([lab in POSITIVE for _, lab, _ in kept], dtype=np.int64)
    scores = np.array([s for s, _, _ in kept], dtype=np.float64)
    actual = np.array([act in POSITIVE for _, _, act in kept], dtype=np.int64)
    return np.where(predicted == 1, scores, 1.0 - scores), predicted, actual


def gap_findings(context: Context, model: str, version: str, calibration: Calibration,
                 labelled: Sequence[LabelledPrediction]) -> list[dict[str, Any]]:
    """Realised vs estimated performance of the window's labelled rows, one finding per metric."""
    scores, predicted, actual = binary_rows(labelled)
    if scores.size == 0:
        return []
    estimated = estimation.estimate(calibration, scores, predicted)
    realised = estimation.realised(actual, predicted, scores)
    return [_gap_document(context, model, version, calibration, item, realised.get(name, float("nan")),
                          scores, predicted) for name, item in estimated.items()]


def accuracy_gap_test(calibration: Calibration, scores: np.ndarray, predicted: np.ndarray,
                      correct: float) -> tuple[float, float]:
    """(z, two-sided p) of ``correct`` right predictions when each is right with its calibrated
    probability (a Poisson-binomial count: mean Σq, variance Σq(1 - q))."""
    p = calibration.apply(scores)
    q = np.where(predicted == 1, p, 1.0 - p)
    variance = float(np.sum(q * (1.0 - q)))
    if variance <= 0:
        return float("nan"), float("nan")
    z = (correct - float(q.sum())) / math.sqrt(variance)
    return z, float(2 * scipy_stats.norm.sf(abs(z)))


def _gap_document(context: Context, model: str, version: str, calibration: Calibration, item: Estimate,
                  realised: float, scores: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    n = item.rows
    p_value = None
    if item.metric == "accuracy" and not math.isnan(realised):
        _, p_value = accuracy_gap_test(calibration, scores, predicted, realised * n)
        apart = p_value < GAP_ALPHA
    else:
        apart = estimation.estimation_gap(item, realised)
    flagged = bool(apart and n >= MIN_GAP_LABELS)
    text = (f"model {model} v{version}: realised {item.metric} {number(realised)} vs estimated "
            f"{number(item.value)} on {n} labelled predictions"
            + (f", p={number(p_value)}" if p_value is not None else f", 3 SE = {number(3 * item.sampling_error)}"))
    if flagged:
        text = f"labels disagree with the estimate (concept drift?): {text}"
    return document(
        context, findings.TYPE_ESTIMATION_GAP, model, version, item.metric, flagged=flagged, summary=text,
        fields={findings.METRIC_NAME: item.metric, findings.METRIC_VALUE: realised,
                findings.METRIC_ESTIMATED_VALUE: item.value, findings.METRIC_SAMPLING_ERROR: item.sampling_error,
                findings.TEST_NAME: "poisson_binomial_z" if p_value is not None else "band_3se",
                findings.TEST_P_VALUE: p_value, findings.SAMPLE_COUNT: n})
