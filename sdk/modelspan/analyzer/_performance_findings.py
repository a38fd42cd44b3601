"""Model performance from late labels: metrics per version, per prediction-time bucket, and drops.

The findings keep the type ``quality`` (``findings.TYPE_PERFORMANCE``), the name stored findings,
dashboards and alert rules already use.

Labels (``record_outcome``) are joined to predictions by id in the store; the predictions of the
window are bucketed by *prediction* time, so labels that arrive days later still land in the
window they judge (the scheduler re-analyses recent windows for that; see ``_scheduler``).

Rule for a performance drop (a baseline profile carries no accuracy): the window's labelled accuracy
is compared with the labelled accuracy of the reference window (``previous`` when the reference
is the baseline). When that window has fewer than ``MIN_LABELS`` labels, the window's last bucket
is compared with its earlier buckets instead. Flagged when the accuracy fell by at least
``MIN_DROP`` with a one-sided two-proportion test p < ``ALPHA`` (regression: MAE up by at least
``MIN_MAE_RATIO`` with a one-sided Mann-Whitney test on the absolute errors, p < ``ALPHA``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from modelspan import _time, findings, semconv
from modelspan._time import iso
from modelspan.analyzer import performance, severity
from modelspan.analyzer._documents import Context, document, number
from modelspan.store import LabelledPrediction

MIN_LABELS = 30
MIN_DROP = 0.05
MIN_MAE_RATIO = 1.2
ALPHA = 0.01
_CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "specificity", "npv", "roc_auc", "log_loss")
_REGRESSION = ("mae", "rmse", "mape", "r2")


def is_classification(rows: Sequence[LabelledPrediction]) -> bool:
    return any(row.label is not None for row in rows)


def metrics(rows: Sequence[LabelledPrediction]) -> Any:
    """``performance.classification`` (labels) or ``performance.regression`` (values) of joined rows."""
    if is_classification(rows):
        kept = [row for row in rows if row.label is not None and row.actual is not None]
        scores = [row.score for row in kept]
        usable = bool(kept) and all(score is not None for score in scores) and len({r.label for r in kept}) <= 2
        return performance.classification([_label(r.actual) for r in kept], [_label(r.label) for r in kept],
                                      scores=np.asarray(scores, dtype=float) if usable else None)
    pairs = [(float(r.actual), float(r.value)) for r in rows if r.value is not None and _numeric(r.actual)]
    return performance.regression(np.asarray([a for a, _ in pairs]), np.asarray([p for _, p in pairs]))


def _label(value: Any) -> str:
    """A label or ground truth in the canonical text form (``1``, ``1.0`` and ``"1"`` are one class)."""
    return semconv.category_value(value) or ""


def _numeric(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _hits(rows: Sequence[LabelledPrediction]) -> tuple[int, int]:
    kept = [row for row in rows if row.label is not None and row.actual is not None]
    return sum(_label(r.actual) == _label(r.label) for r in kept), len(kept)


def _errors(rows: Sequence[LabelledPrediction]) -> np.ndarray:
    return np.asarray([abs(float(r.actual) - float(r.value)) for r in rows
                       if r.value is not None and _numeric(r.actual)], dtype=float)


def moment(row: LabelledPrediction) -> _dt.datetime:
    text = row.timestamp
    try:
        return _time.parse(text)
    except ValueError:  # epoch milliseconds, as a collector may store them
        return _time.from_millis(float(text))


def buckets(rows: Sequence[LabelledPrediction], start: _dt.datetime, seconds: float
            ) -> list[tuple[_dt.datetime, list[LabelledPrediction]]]:
    """Rows grouped by prediction time into ``seconds``-long buckets from ``start`` (empty ones left out)."""
    grouped: dict[int, list[LabelledPrediction]] = {}
    for row in rows:
        grouped.setdefault(int((moment(row) - start).total_seconds() // seconds), []).append(row)
    return [(start + _dt.timedelta(seconds=index * seconds), grouped[index]) for index in sorted(grouped)]


def performance_findings(context: Context, model: str, version: str, rows: Sequence[LabelledPrediction],
                     reference_rows: Sequence[LabelledPrediction], bucket_seconds: float) -> list[dict[str, Any]]:
    """Metric measurements for the window and its buckets, plus a flagged finding on a drop."""
    if not rows:
        return []
    where = f"model {model} v{version}"
    result = metrics(rows)
    names = _CLASSIFICATION if is_classification(rows) else _REGRESSION
    docs = []
    for name in names:
        value = getattr(result, name, None)
        if value is not None:
            docs.append(document(
                context, findings.TYPE_PERFORMANCE, model, version, name, flagged=False,
                summary=f"{where}: {name}{_of_class(name, result)} {number(value)} on {result.count} labelled "
                        "predictions",
                fields={findings.METRIC_NAME: name, findings.METRIC_VALUE: float(value),
                   findings.SAMPLE_COUNT: result.count}))
    main = names[0] if is_classification(rows) else "mae"
    for start, part in buckets(rows, context.window.start, bucket_seconds):
        value = getattr(metrics(part), main, None)
        docs.append(document(
            context, findings.TYPE_PERFORMANCE, model, version, f"{main}@{iso(start)}", flagged=False,
            timestamp=start, summary=f"{where}: {main} {number(value)} on {len(part)} predictions made from "
                                     f"{iso(start)}",
            fields={findings.METRIC_NAME: f"bucket_{main}", findings.METRIC_VALUE: value,
                    findings.SAMPLE_COUNT: len(part)}))
    docs.append(_drop(context, model, version, rows, reference_rows, bucket_seconds))
    return docs


_PER_CLASS = ("precision", "recall", "f1", "specificity", "npv")


def _of_class(name: str, result: Any) -> str:
    """Which class a one-class metric is about: the positive one (binary), or a macro average."""
    if name not in _PER_CLASS:
        return ""
    positive = getattr(result, "positive", None)
    return f" of positive class {positive!r}" if positive is not None else " (macro average over the classes)"


def _sides(context: Context, rows: Sequence[LabelledPrediction], reference_rows: Sequence[LabelledPrediction],
           bucket_seconds: float) -> tuple[Sequence[LabelledPrediction], Sequence[LabelledPrediction], str]:
    if len(reference_rows) >= MIN_LABELS:
        return reference_rows, rows, "the reference window"
    parts = buckets(rows, context.window.start, bucket_seconds)
    if len(parts) < 2:
        return [], rows, "nothing (no reference labels)"
    earlier = [row for _, part in parts[:-1] for row in part]
    return earlier, parts[-1][1], "the window's earlier buckets"


def _drop(context: Context, model: str, version: str, rows: Sequence[LabelledPrediction],
          reference_rows: Sequence[LabelledPrediction], bucket_seconds: float) -> dict[str, Any]:
    before, after, against = _sides(context, rows, reference_rows, bucket_seconds)
    where = f"model {model} v{version}"
    if is_classification(rows):
        ref_hits, ref_n = _hits(before)
        hits, n = _hits(after)
        value, ref_value = (hits / n if n else None), (ref_hits / ref_n if ref_n else None)
        p_value = performance.proportion_drop(ref_hits, ref_n, hits, n)[1] if ref_n and n else None
        worse = value is not None and ref_value is not None and ref_value - value >= MIN_DROP
        name = "accuracy"
    else:
        errors, ref_errors = _errors(after), _errors(before)
        value = float(errors.mean()) if errors.size else None
        ref_value = float(ref_errors.mean()) if ref_errors.size else None
        p_value = (float(scipy_stats.mannwhitneyu(errors, ref_errors, alternative="greater").pvalue)
                   if errors.size and ref_errors.size else None)
        worse = value is not None and bool(ref_value) and value >= MIN_MAE_RATIO * (ref_value or 0.0)
        ref_n, n = int(ref_errors.size), int(errors.size)
        name = "mae"
    flagged = bool(worse and n >= MIN_LABELS and ref_n >= MIN_LABELS and p_value is not None and p_value < ALPHA)
    if not ref_n:  # nothing to compare with: say so instead of "vs n/a (n=0) in nothing"
        summary = (f"{where}: labelled {name} {number(value)} (n={n}), not compared: no reference labels (fewer "
                   f"than {MIN_LABELS} in the reference window and a single bucket in this one)")
    else:
        summary = (f"{where}: labelled {name} {number(value)} (n={n}) vs {number(ref_value)} (n={ref_n}) in "
                   f"{against}, p={number(p_value)}")
    if flagged:
        summary = f"model performance dropped: {summary}"
    return document(
        context, findings.TYPE_PERFORMANCE, model, version, f"{name}_drop", flagged=flagged, summary=summary,
        severity=_severity(flagged, name, value, ref_value),
        fields={findings.METRIC_NAME: name, findings.METRIC_VALUE: value, findings.METRIC_REFERENCE_VALUE: ref_value,
           findings.TEST_NAME: "proportion_drop" if name == "accuracy" else "mannwhitneyu",
           findings.TEST_P_VALUE: p_value, findings.SAMPLE_COUNT: n, findings.REFERENCE_COUNT: ref_n})


def _severity(flagged: bool, name: str, value: float | None, ref_value: float | None) -> str:
    """``critical`` from an accuracy drop of ``severity.CRITICAL_DROP`` (or an MAE ``CRITICAL_MAE_RATIO`` x)."""
    if name != "accuracy":
        return severity.ratio(flagged, value, ref_value, severity.CRITICAL_MAE_RATIO)
    if not flagged:
        return severity.INFO
    drop = None if value is None or ref_value is None else ref_value - value
    return severity.CRITICAL if drop is not None and drop >= severity.CRITICAL_DROP else severity.WARNING
