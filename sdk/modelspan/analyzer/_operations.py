"""Operations findings per model version and sub-module: latency percentiles, QPS, error rate.

Measurements (``finding.flagged`` false) are written for every window so dashboards can chart
them; a finding is flagged only when the window is worse than the reference window:

- latency: ``latency.regressed`` on p95 (minimum calls and absolute delta live there);
- error rate, two rules, either flags:

  * *worse than the reference*: a one-sided two-proportion test (``performance.proportion_drop`` on
    the success rate) with at least ``MIN_ERRORS`` errors, ``ERROR_RATE_MARGIN`` more than the
    reference, p < ``ALPHA``;
  * *high on its own* (an absolute floor, so a model failing from its first call, or failing as
    much as yesterday, is still a problem): at least ``FLOOR_MIN_ERRORS`` errors, a rate of at least
    ``FLOOR_RATE``, and a one-sided binomial test against ``ACCEPTABLE_ERROR_RATE`` with p < ``ALPHA``.

``finding.severity`` grows with the error rate's excess (``severity.excess_rate``) and with the p95's
ratio to the reference (``severity.ratio``).

QPS is scaled by 1/sample rate. Sub-module spans carry no sample rate of their own (they exist only
in sampled calls), so their QPS is scaled by the model's own scaled/raw ratio in the same window.
"""

from __future__ import annotations

from typing import Any

from scipy import stats as scipy_stats

from modelspan import findings
from modelspan._time import iso
from modelspan.analyzer import latency, performance, severity
from modelspan.analyzer._documents import Context, document, number
from modelspan.store import Interval, ModelStats, Operations

ALPHA = 0.01
MIN_ERRORS = 5
ERROR_RATE_MARGIN = 0.02
FLOOR_RATE = 0.05
FLOOR_MIN_ERRORS = 10
ACCEPTABLE_ERROR_RATE = 0.01
"""Error rate a model may have without anyone being paged (the absolute floor tests against it)."""
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
    """``"; traces incomplete: N of M calls have no span, D lost on the way to the store"``, or ``""`` when
    every call has one. ``N`` counts every call without a stored span (sampled out, dropped by the export
    queue or an exporter, dead-lettered); ``D`` the spans counted as dropped (``Operations.spans_dropped``)."""
    if operations.spans is None or operations.spans >= operations.calls:
        return ""
    missing = operations.calls - operations.spans
    dropped = f", {operations.spans_dropped} lost on the way to the store" if operations.spans_dropped else ""
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
            summary=summary, severity=severity.ratio(hit, value, ref_value),
            fields={findings.METRIC_NAME: name, findings.METRIC_VALUE: value,
                                findings.METRIC_REFERENCE_VALUE: ref_value, **common}))
    return docs


def _errors(context: Context, stats: ModelStats, subject: str, where: str, current: Operations,
            before: Operations | None, common: dict[str, Any]) -> dict[str, Any]:
    rate = current.errors / current.calls
    ref_rate = before.errors / before.calls if before is not None and before.calls else None
    p_value = None
    worse = False
    if before is not None and before.calls and current.errors >= MIN_ERRORS:
        _, p_value = performance.proportion_drop(before.calls - before.errors, before.calls,
                                                 current.calls - current.errors, current.calls)
        worse = rate - (ref_rate or 0.0) >= ERROR_RATE_MARGIN and p_value is not None and p_value < ALPHA
    floor_p = high_on_its_own(current.errors, current.calls)
    high = floor_p is not None and floor_p < ALPHA
    summary = f"{where}: error rate {number(100 * rate)}% ({current.errors} of {current.calls} calls)"
    if ref_rate is not None:
        summary += f", reference {number(100 * ref_rate)}%"
    if worse:
        summary = "error rate up: " + summary + f", p={number(p_value)}"
    elif high:
        summary = (f"error rate high: {summary}; {number(100 * FLOOR_RATE)}% or more with {FLOOR_MIN_ERRORS}+ "
                   f"errors is a problem whatever the reference (p={number(floor_p)} against "
                   f"{number(100 * ACCEPTABLE_ERROR_RATE)}%)")
    flagged = worse or high
    excess = rate - (ref_rate or 0.0) if worse else rate - ACCEPTABLE_ERROR_RATE
    test = ("proportion_drop" if worse else "binomial") if flagged else None
    return document(
        context, findings.TYPE_ERROR_RATE, stats.model, stats.version, f"{subject}:error_rate", flagged=flagged,
        summary=summary, severity=severity.excess_rate(flagged, excess),
        fields={findings.METRIC_NAME: findings.METRIC_ERROR_RATE, findings.METRIC_VALUE: rate,
                findings.METRIC_REFERENCE_VALUE: ref_rate, findings.TEST_NAME: test,
                findings.TEST_P_VALUE: floor_p if high and not worse else p_value, **common})


def high_on_its_own(errors: int, calls: int) -> float | None:
    """The absolute floor: p-value of ``errors`` of ``calls`` against ``ACCEPTABLE_ERROR_RATE`` when
    the rate is at least ``FLOOR_RATE`` with ``FLOOR_MIN_ERRORS`` errors (else None: not high).

    >>> high_on_its_own(66, 397) < 1e-20, high_on_its_own(9, 20), high_on_its_own(10, 1000)
    (True, None, None)
    """
    if errors < FLOOR_MIN_ERRORS or not calls or errors / calls < FLOOR_RATE:
        return None
    return float(scipy_stats.binom.sf(errors - 1, calls, ACCEPTABLE_ERROR_RATE))


def _intervals(context: Context, stats: ModelStats) -> list[dict[str, Any]]:
    """QPS and error rate per interval of the window (model level), stamped with the interval start;
    plus a flagged ``error_rate`` finding for each interval high on its own (``_interval_errors``)."""
    docs = []
    tested = max(1, sum(1 for interval in stats.operations.intervals if interval.calls))
    for interval in stats.operations.intervals:
        stamp = iso(interval.start)
        docs += _interval_errors(context, stats, interval, tested)
        docs.append(document(
            context, findings.TYPE_THROUGHPUT, stats.model, stats.version, f"{MODEL_SUBJECT}:qps@{stamp}",
            flagged=False, timestamp=interval.start,
            summary=f"model {stats.model} v{stats.version}: {number(interval.qps)} calls/s from {stamp} "
                    f"({interval.errors} errors in {interval.calls} calls)",
            fields={findings.METRIC_NAME: findings.METRIC_INTERVAL_QPS, findings.METRIC_VALUE: interval.qps,
               findings.SAMPLE_COUNT: interval.calls}))
    return docs


def _interval_errors(context: Context, stats: ModelStats, interval: Interval, tested: int) -> list[dict[str, Any]]:
    """A burst inside the window, whatever its length: the absolute floor on one interval, at
    ``ALPHA`` / intervals (Bonferroni), so a short outage in a long, otherwise clean window is found
    even though the window's overall rate stays low."""
    p_value = high_on_its_own(interval.errors, interval.calls)
    if tested < 2 or p_value is None or p_value >= ALPHA / tested:  # one interval: the window's own finding
        return []
    stamp, rate = iso(interval.start), interval.errors / interval.calls
    return [document(
        context, findings.TYPE_ERROR_RATE, stats.model, stats.version, f"{MODEL_SUBJECT}:error_rate@{stamp}",
        flagged=True, timestamp=interval.start, severity=severity.excess_rate(True, rate - ACCEPTABLE_ERROR_RATE),
        summary=f"error burst: model {stats.model} v{stats.version}: {interval.errors} of {interval.calls} calls "
                f"failed from {stamp} ({number(100 * rate)}%, p={number(p_value)} against "
                f"{number(100 * ACCEPTABLE_ERROR_RATE)}% over {tested} intervals)",
        fields={findings.METRIC_NAME: findings.METRIC_ERROR_RATE, findings.METRIC_VALUE: rate,
                findings.TEST_NAME: "binomial", findings.TEST_P_VALUE: p_value, findings.SAMPLE_COUNT: interval.calls})]
