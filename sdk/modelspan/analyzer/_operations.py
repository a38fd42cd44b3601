"""Operations findings per model version and sub-module: latency percentiles, QPS, error rate.

Measurements (``finding.flagged`` false) are written for every window so dashboards can chart
them; a finding is flagged only when the window is worse than the reference window:

- latency: ``latency.regressed`` on p95 (minimum calls and absolute delta live there);
- error rate: a one-sided two-proportion test (``quality.proportion_drop`` on the success rate)
  with at least ``MIN_ERRORS`` errors, ``ERROR_RATE_MARGIN`` more than the reference, p < ``ALPHA``.

QPS is scaled by 1/sample rate. Sub-module spans carry no sample rate of their own (they exist only
in sampled calls), so their QPS is scaled by the model's own scaled/raw ratio in the same window.
"""

from __future__ import annotations

from typing import Any

from modelspan import findings
from modelspan._time import iso
from modelspan.analyzer import latency, quality
from modelspan.analyzer._documents import Context, document, number
from modelspan.store import ModelStats, Operations

ALPHA = 0.01
MIN_ERRORS = 5
ERROR_RATE_MARGIN = 0.02
MODEL_SUBJECT = "_model"
"""Subject of the model's own operations findings (sub-modules use their name)."""


def operations_findings(context: Context, current: ModelStats, reference: ModelStats | None) -> list[dict[str, Any]]:
    """Latency, throughput and error-rate findings for the model and each sub-module."""
    model = current.operations
    docs = _one(context, current, MODEL_SUBJECT, model, reference.operations if reference else None, _scale(model))
    docs += _intervals(context, current)
    for name, operations in sorted(current.modules.items()):
        before = reference.modules.get(name) if reference is not None else None
        scale = 1.0 if operations.spans is not None else _module_scale(model)  # profiled: exact already
        docs += _one(context, current, name, operations, before, scale)
    return docs


def _scale(operations: Operations) -> float:
    raw = sum(interval.calls for interval in operations.intervals)
    scaled = sum(interval.scaled_calls for interval in operations.intervals)
    return scaled / raw if raw else 1.0


def _module_scale(model: Operations) -> float:
    """Calls per stored sub-module span: module spans exist only in the model's stored spans.

    With profiles (``spans`` known) the model's exact calls per stored model span, which covers
    sampling and spans the export queue dropped; else the model's own scaled/raw ratio.
    """
    if model.spans is not None:
        return model.calls / model.spans if model.spans else 1.0
    return _scale(model)


def incomplete_traces(operations: Operations) -> str:
    """``"; traces incomplete: N of M calls have no span (D dropped)"``, or ``""`` when every call has one."""
    if operations.spans is None or operations.spans >= operations.calls:
        return ""
    missing = operations.calls - operations.spans
    dropped = f", {operations.spans_dropped} dropped by the export queue" if operations.spans_dropped else ""
    return f"; traces incomplete: {missing} of {operations.calls} calls have no span{dropped}"


def _one(context: Context, stats: ModelStats, subject: str, current: Operations, before: Operations | None,
         scale: float) -> list[dict[str, Any]]:
    if current.calls == 0:
        return []
    where = f"model {stats.model} v{stats.version}" + ("" if subject == MODEL_SUBJECT else f" module '{subject}'")
    module = None if subject == MODEL_SUBJECT else subject
    common: dict[str, Any] = {findings.MODULE_NAME: module, findings.SAMPLE_COUNT: current.calls,
                              findings.REFERENCE_COUNT: before.calls if before else None}
    docs = _latency(context, stats, subject, where, current, before, common)
    qps = current.calls * scale / context.window.seconds
    docs.append(document(
        context, findings.TYPE_THROUGHPUT, stats.model, stats.version, f"{subject}:qps", flagged=False,
        summary=f"{where}: {number(qps)} calls/s ({_counted(current)}){incomplete_traces(current)}",
        fields={findings.METRIC_NAME: findings.METRIC_QPS, findings.METRIC_VALUE: qps, **common}))
    docs.append(_errors(context, stats, subject, where, current, before, common))
    return docs


def _counted(operations: Operations) -> str:
    return f"{operations.calls} calls" if operations.spans is not None else f"{operations.calls} sampled calls"


def _latency(context: Context, stats: ModelStats, subject: str, where: str, current: Operations,
             before: Operations | None, common: dict[str, Any]) -> list[dict[str, Any]]:
    flagged, ratio = latency.regressed(before, current) if before is not None and before.calls else (False, None)
    docs = []
    for percent, value in sorted(current.latency_ms.items()):
        if value is None:
            continue
        name = findings.latency_metric(percent)
        ref_value = before.latency_ms.get(percent) if before is not None else None
        is_p95 = percent == 95.0
        hit = bool(flagged) and is_p95
        summary = f"{where}: p{percent:g} latency {number(value)} ms"
        if ref_value is not None:
            summary += f" (reference {number(ref_value)} ms"
            summary += f", x{number(ratio)})" if is_p95 and ratio is not None else ")"
        if hit:
            summary = "latency regression: " + summary
        docs.append(document(
            context, findings.TYPE_LATENCY, stats.model, stats.version, f"{subject}:p{percent:g}", flagged=hit,
            summary=summary, fields={findings.METRIC_NAME: name, findings.METRIC_VALUE: value,
                                findings.METRIC_REFERENCE_VALUE: ref_value, **common}))
    return docs


def _errors(context: Context, stats: ModelStats, subject: str, where: str, current: Operations,
            before: Operations | None, common: dict[str, Any]) -> dict[str, Any]:
    rate = current.errors / current.calls
    ref_rate = before.errors / before.calls if before is not None and before.calls else None
    p_value = None
    flagged = False
    if before is not None and before.calls and current.errors >= MIN_ERRORS:
        _, p_value = quality.proportion_drop(before.calls - before.errors, before.calls,
                                             current.calls - current.errors, current.calls)
        flagged = rate - (ref_rate or 0.0) >= ERROR_RATE_MARGIN and p_value is not None and p_value < ALPHA
    summary = f"{where}: error rate {number(100 * rate)}% ({current.errors} of {current.calls} calls)"
    if ref_rate is not None:
        summary += f", reference {number(100 * ref_rate)}%"
    if flagged:
        summary = "error rate up: " + summary + f", p={number(p_value)}"
    return document(
        context, findings.TYPE_ERROR_RATE, stats.model, stats.version, f"{subject}:error_rate", flagged=flagged,
        summary=summary, fields={findings.METRIC_NAME: findings.METRIC_ERROR_RATE, findings.METRIC_VALUE: rate,
                            findings.METRIC_REFERENCE_VALUE: ref_rate, findings.TEST_P_VALUE: p_value, **common})


def _intervals(context: Context, stats: ModelStats) -> list[dict[str, Any]]:
    """QPS and error rate per interval of the window (model level), stamped with the interval start."""
    docs = []
    for interval in stats.operations.intervals:
        stamp = iso(interval.start)
        docs.append(document(
            context, findings.TYPE_THROUGHPUT, stats.model, stats.version, f"{MODEL_SUBJECT}:qps@{stamp}",
            flagged=False, timestamp=interval.start,
            summary=f"model {stats.model} v{stats.version}: {number(interval.qps)} calls/s from {stamp} "
                    f"({interval.errors} errors in {interval.calls} calls)",
            fields={findings.METRIC_NAME: findings.METRIC_INTERVAL_QPS, findings.METRIC_VALUE: interval.qps,
               findings.SAMPLE_COUNT: interval.calls}))
    return docs
