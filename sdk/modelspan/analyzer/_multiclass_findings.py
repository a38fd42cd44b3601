"""Multiclass CBPE findings per model version and window (docs/estimation.md).

For a model version whose baseline carries a multiclass calibration, each analysed window gets
``estimated_performance`` findings (accuracy, macro precision, recall, F1 and one-vs-rest ROC-AUC) from
ONE store request (``Store.class_score_sums``: per class, rows and probability sums per predicted-or-not
and interval of that class's edges), whatever the traffic, with the ±3 SE band and flagged outside it;
and ``estimation_gap`` findings once labels arrive. The accuracy gap is tested on the labelled rows
themselves (each prediction is right with the calibrated probability of its class, a Poisson-binomial
count); the macro metrics are compared with the window's estimate, 3 sampling errors at the labelled
count apart; ROC-AUC (one against the rest, macro) realised on the labelled rows whose probability
vector the store joined is compared with the estimate of those same rows, 3 sampling errors apart.
The document shapes are the binary ones (``_estimation_findings``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from modelspan import findings, semconv
from modelspan.analyzer import estimation
from modelspan.analyzer import multiclass_estimation as mce
from modelspan.analyzer._documents import Context, document, number
from modelspan.analyzer._estimation_findings import GAP_ALPHA, MIN_GAP_LABELS, _estimate_document
from modelspan.analyzer.estimation import Estimate
from modelspan.profiling._multiclass import MulticlassCalibration
from modelspan.store import ClassScoreSums, LabelledPrediction, Store


def class_arrays(calibration: MulticlassCalibration, sums: ClassScoreSums) -> list[np.ndarray]:
    """The store's cells as ``multiclass_estimation.class_sums`` arrays (one per class)."""
    arrays = [np.zeros((2, len(edges) + 1, 2), dtype=np.float64) for edges in sums.edges]
    for (k, predicted, interval), (count, total) in sums.cells.items():
        arrays[k][int(predicted), interval] += (count, total)
    return arrays


def multiclass_findings(store: Store, context: Context, model: str, version: str,
                        calibration: MulticlassCalibration,
                        labelled: Sequence[LabelledPrediction]) -> list[dict[str, Any]]:
    """``estimated_performance`` findings of the window, and ``estimation_gap`` ones for its labelled rows."""
    edges = [mce.class_edges(cal) for cal in calibration.per_class]
    sums = store.class_score_sums(context.window, model, version, edges, calibration.fingerprint)
    if sums.rows == 0:
        return [document(context, findings.TYPE_ESTIMATED_PERFORMANCE, model, version, "accuracy", flagged=False,
                         summary=f"model {model} v{version}: no scored multiclass predictions in the window "
                                 f"({sums.unscored} rows without a probability vector): performance not estimated",
                         fields={findings.METRIC_NAME: "accuracy", findings.SAMPLE_COUNT: 0})]
    result, bound = mce.estimate_from_sums(calibration, class_arrays(calibration, sums), sums.expected,
                                           sums.ungrouped)
    docs = [_estimate_document(context, model, version, item, bound if name == "roc_auc" else 0.0, sums.unscored)
            for name, item in result.items()]
    for doc in docs:  # the binary wording of the unusable rows
        doc[findings.SUMMARY] = doc[findings.SUMMARY].replace("without a usable score or binary label",
                                                              "without a probability vector")
    if "roc_auc" not in result:  # as binary: batch rows known by their sums only cannot be ordered
        docs.append(document(
            context, findings.TYPE_ESTIMATED_PERFORMANCE, model, version, "roc_auc", flagged=False,
            summary=f"model {model} v{version}: ROC-AUC not estimated: {sums.ungrouped} rows of batch calls are "
                    "known by their sums only (the store cannot order their scores; docs/estimation.md)",
            fields={findings.METRIC_NAME: "roc_auc", findings.SAMPLE_COUNT: 0}))
    return docs + gap_findings(context, model, version, calibration, result, labelled)


def _column(text: Any, calibration: MulticlassCalibration) -> int | None:
    """The class column of a recorded or true label: its name, or its index as the SDK records it
    when the monitor was not told the classes."""
    value = semconv.category_value(text)
    if value in calibration.classes:
        return calibration.classes.index(value)
    if value is not None and value.isdigit() and int(value) < len(calibration.classes):
        return int(value)
    return None


def labelled_columns(calibration: MulticlassCalibration, labelled: Sequence[LabelledPrediction]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probability of the predicted class as recorded, predicted column, true column) of usable rows."""
    kept = [(r.score, _column(r.label, calibration), _column(r.actual, calibration)) for r in labelled]
    rows = [(s, p, a) for s, p, a in kept if s is not None and 0.0 <= s <= 1.0 and p is not None and a is not None]
    return (np.array([s for s, _, _ in rows], dtype=np.float64), np.array([p for _, p, _ in rows], dtype=np.int64),
            np.array([a for _, _, a in rows], dtype=np.int64))


def row_vector(row: LabelledPrediction, classes: int) -> list[float] | None:
    """The labelled row's recorded probability vector (a batch row's slice of its call's array), or None
    when it was not recorded whole or holds a value outside [0, 1]."""
    recorded = row.probabilities
    if recorded is None:
        return None
    start = 0 if row.row is None else row.row * classes
    vector = recorded[start:start + classes]
    if (row.row is None and len(recorded) != classes) or len(vector) != classes:
        return None
    kept = [p for p in vector if p is not None and 0.0 <= p <= 1.0]
    return kept if len(kept) == classes else None


def labelled_vectors(calibration: MulticlassCalibration, labelled: Sequence[LabelledPrediction]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(probability vectors, true class names) of the labelled rows whose whole vector was recorded."""
    classes = len(calibration.classes)
    kept = [(row_vector(r, classes), _column(r.actual, calibration)) for r in labelled]
    rows = [(v, a) for v, a in kept if v is not None and a is not None]
    matrix = np.array([v for v, _ in rows], dtype=np.float64).reshape(len(rows), classes)
    return matrix, np.array([calibration.classes[a] for _, a in rows], dtype=object)


def gap_findings(context: Context, model: str, version: str, calibration: MulticlassCalibration,
                 estimated: dict[str, Estimate], labelled: Sequence[LabelledPrediction]) -> list[dict[str, Any]]:
    """Realised vs estimated performance once labels arrive, one finding per metric."""
    scores, predicted, actual = labelled_columns(calibration, labelled)
    n = int(scores.size)
    if n == 0:
        return []
    names = np.array(calibration.classes, dtype=object)
    realised = mce.realised(calibration, names[actual], names[predicted])
    q = np.array([calibration.per_class[c].apply([s])[0] for s, c in zip(scores, predicted, strict=True)])
    docs = []
    for metric in ("accuracy", *mce.MACRO):
        if metric == "accuracy":
            value = float(q.mean())
            error = math.sqrt(float(np.sum(q * (1 - q)))) / n
            z = (realised[metric] - value) / error if error > 0 else float("nan")
            p_value: float | None = float(2 * scipy_stats.norm.sf(abs(z))) if error > 0 else None
            apart = p_value is not None and p_value < GAP_ALPHA
        else:
            value, error, p_value = estimated[metric].value, mce.sampling_error(calibration, metric, n), None
            apart = not math.isnan(realised[metric]) and abs(realised[metric] - value) > estimation.BAND_WIDTH * error
        docs.append(_gap_document(context, model, version, metric, realised[metric], value, error, p_value,
                                  bool(apart and n >= MIN_GAP_LABELS), n))
    return docs + _roc_auc_gap(context, model, version, calibration, labelled)


def _roc_auc_gap(context: Context, model: str, version: str, calibration: MulticlassCalibration,
                 labelled: Sequence[LabelledPrediction]) -> list[dict[str, Any]]:
    """Realised vs estimated one-vs-rest macro ROC-AUC of the labelled rows with a recorded vector: the
    estimate of the same rows (as for accuracy), 3 sampling errors at their count apart."""
    vectors, actual = labelled_vectors(calibration, labelled)
    n = int(vectors.shape[0])
    if n == 0:
        return []
    realised, value = mce.roc_auc_pair(calibration, vectors, actual)
    error = mce.sampling_error(calibration, "roc_auc", n)
    apart = not math.isnan(realised) and abs(realised - value) > estimation.BAND_WIDTH * error
    return [_gap_document(context, model, version, "roc_auc", realised, value, error, None,
                          bool(apart and n >= MIN_GAP_LABELS), n)]


def _gap_document(context: Context, model: str, version: str, metric: str, realised: float, value: float,
                  error: float, p_value: float | None, flagged: bool, n: int) -> dict[str, Any]:
    text = (f"model {model} v{version}: realised {metric} {number(realised)} vs estimated {number(value)} "
            f"on {n} labelled predictions"
            + (f", p={number(p_value)}" if p_value is not None else f", 3 SE = {number(3 * error)}"))
    if flagged:
        text = f"labels disagree with the estimate (concept drift?): {text}"
    return document(
        context, findings.TYPE_ESTIMATION_GAP, model, version, metric, flagged=flagged, summary=text,
        fields={findings.METRIC_NAME: metric, findings.METRIC_VALUE: realised, findings.METRIC_ESTIMATED_VALUE: value,
                findings.METRIC_SAMPLING_ERROR: error,
                findings.TEST_NAME: "poisson_binomial_z" if p_value is not None else "band_3se",
                findings.TEST_P_VALUE: p_value, findings.SAMPLE_COUNT: n})
