"""What a batch call records for confidence-based performance estimation (docs/estimation.md, "What the SDK records").

A span lists the label and score of at most ``MAX_ROW_OUTPUTS`` rows, and Elasticsearch cannot pair a
span's label and score arrays inside an aggregation. So when the call's baseline carries a binary
:class:`~modelspan.profiling._calibration.Calibration`, a batch call also records, over **every** row
(numpy over the batch, no per-row Python):

- per predicted class (positive ``1``/``true``, negative ``0``/``false``) the rows and the sum of their
  calibrated P(class 1): the expected confusion counts, as scalars every store can add up;
- per cell (predicted class x interval of the recorded score between the calibration's score edges) the
  rows and the score sum, the very cells ``Store.score_sums`` answers, so the ROC-AUC of the window is that
  of the per-row path (three arrays paired by index; SQLite reads them, docs/estimation.md says why
  Elasticsearch cannot);
- the rows without a binary label or a score in [0, 1], and the calibration's fingerprint.

A multiclass baseline (:class:`~modelspan.profiling._multiclass.MulticlassCalibration`) gets the cells
``Store.class_score_sums`` answers, per class (predicted it or not x interval of its probability), over
every row with a usable probability vector (SQLite reads them), and per class column k the rows predicted k,
Σp̂_k over those rows and Σp̂_k over every row: scalars Elasticsearch adds up for accuracy and the macro
precision, recall and F1 (not ROC-AUC, which needs the cells' order; docs/estimation.md).

Single-row calls record nothing more: their ``ml.output.label`` and ``ml.output.score`` (or their
``ml.output.probability.<k>``) already are a cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelspan import semconv
from modelspan.instrumentation import _config
from modelspan.instrumentation._outputs import Outputs
from modelspan.profiling._calibration import Calibration
from modelspan.profiling._multiclass import MulticlassCalibration

if TYPE_CHECKING:
    from modelspan.baseline import Baseline


def add(calibration: Calibration, outputs: Outputs | None, attributes: dict[str, Any]) -> None:
    """Write the batch's CBPE sums into ``attributes`` (nothing without per-row labels and scores). The classes
    are the analyzer's (``analyzer._estimation_findings.POSITIVE``/``NEGATIVE``): labels are canonical text
    (``semconv.category_value``)."""
    if outputs is None or outputs.labels is None or outputs.scores is None:
        return
    if _config.STATE.redaction.get(semconv.OUTPUT_FEATURE) in ("hash", "drop"):
        return  # the sums give the predicted classes away, as the scores do (docs/privacy.md)
    labels = np.asarray(outputs.labels, dtype=object)
    scores = np.asarray(outputs.scores, dtype=np.float64)
    if labels.size != scores.size or labels.size == 0:
        return
    positive = (labels == "1") | (labels == "true")
    binary = positive | (labels == "0") | (labels == "false")
    usable = binary & (scores >= 0.0) & (scores <= 1.0)  # NaN fails both
    positive, scores = positive[usable], scores[usable]
    p_hat = calibration.apply(np.where(positive, scores, 1.0 - scores))
    edges = calibration.score_edges
    cells = positive.astype(np.int64) * (edges.size + 1) + np.searchsorted(edges, scores, side="right")
    counts = np.bincount(cells, minlength=2 * (edges.size + 1))  # no sort: one pass over the rows
    found = np.flatnonzero(counts)
    attributes[semconv.CBPE_CALIBRATION] = calibration.fingerprint
    attributes[semconv.CBPE_POSITIVE_ROWS] = int(positive.sum())
    attributes[semconv.CBPE_POSITIVE_SUM] = float(p_hat[positive].sum())
    attributes[semconv.CBPE_NEGATIVE_ROWS] = int(positive.size - positive.sum())
    attributes[semconv.CBPE_NEGATIVE_SUM] = float(p_hat[~positive].sum())
    attributes[semconv.CBPE_UNUSABLE] = int(labels.size - positive.size)
    attributes[semconv.CBPE_CELLS] = found.tolist()
    attributes[semconv.CBPE_CELL_ROWS] = counts[found].tolist()
    attributes[semconv.CBPE_CELL_SUMS] = np.bincount(cells, weights=scores, minlength=counts.size)[found].tolist()


def add_multiclass(calibration: MulticlassCalibration, outputs: Outputs | None, attributes: dict[str, Any]) -> None:
    """Write the batch's per-class cells into ``attributes`` (nothing without a probability vector per row)."""
    if outputs is None or outputs.probabilities is None:
        return
    if _config.STATE.redaction.get(semconv.OUTPUT_FEATURE) in ("hash", "drop"):
        return  # a probability vector gives the predicted class away (docs/privacy.md)
    matrix = np.asarray(outputs.probabilities, dtype=np.float64)
    edges = calibration.class_edges
    if matrix.ndim != 2 or matrix.shape[1] != len(edges) or matrix.shape[0] == 0:
        return
    usable = np.all((matrix >= 0.0) & (matrix <= 1.0), axis=1)  # NaN fails both
    kept = matrix[usable]
    predicted = np.argmax(kept, axis=1)  # the first column on ties, as ``ml.output.class``
    sizes = np.array([e.size + 1 for e in edges], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(2 * sizes)[:-1]]
    codes = np.empty(kept.shape, dtype=np.int64)
    for k, per_class in enumerate(edges):  # one pass per class over every row
        codes[:, k] = offsets[k] + (predicted == k) * sizes[k] + np.searchsorted(per_class, kept[:, k], side="right")
    counts = np.bincount(codes.ravel(), minlength=int(2 * sizes.sum()))
    found = np.flatnonzero(counts)
    attributes[semconv.CBPE_CALIBRATION] = calibration.fingerprint
    attributes[semconv.CBPE_VECTORS] = int(kept.shape[0])
    attributes[semconv.CBPE_UNUSABLE] = int(matrix.shape[0] - kept.shape[0])
    attributes[semconv.CBPE_CLASS_CELLS] = found.tolist()
    attributes[semconv.CBPE_CLASS_CELL_ROWS] = counts[found].tolist()
    attributes[semconv.CBPE_CLASS_CELL_SUMS] = np.bincount(codes.ravel(), weights=kept.ravel(),
                                                           minlength=counts.size)[found].tolist()
    _class_scalars(calibration, kept, predicted, attributes)


def _class_scalars(calibration: MulticlassCalibration, kept: np.ndarray, predicted: np.ndarray,
                   attributes: dict[str, Any]) -> None:
    """Per class column k: rows predicted k, Σp̂_k over them and Σp̂_k over every row (numpy over the batch),
    the one-vs-rest sums an aggregation adds up where it cannot pair the cells (Elasticsearch)."""
    calibrated = calibration.apply(kept) if kept.shape[0] else np.zeros(kept.shape)
    chosen = predicted[:, None] == np.arange(kept.shape[1])[None, :]
    rows, chosen_sums, sums = chosen.sum(axis=0), np.where(chosen, calibrated, 0.0).sum(axis=0), calibrated.sum(axis=0)
    for k in range(min(kept.shape[1], semconv.MAX_CLASS_PROBABILITIES)):
        attributes[semconv.cbpe_class(k, "predicted_rows")] = int(rows[k])
        attributes[semconv.cbpe_class(k, "predicted_sum")] = float(chosen_sums[k])
        attributes[semconv.cbpe_class(k, "sum")] = float(sums[k])


def add_batch(baseline: Baseline, outputs: Outputs | None, attributes: dict[str, Any]) -> None:
    """A batch call's CBPE sums for whichever calibration its baseline carries (binary or multiclass)."""
    if baseline.calibration is not None:
        add(baseline.calibration, outputs, attributes)
    elif baseline.multiclass_calibration is not None:
        add_multiclass(baseline.multiclass_calibration, outputs, attributes)
