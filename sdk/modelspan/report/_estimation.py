"""The report's estimated-performance section: a model's performance before the labels arrive.

Per model version with a calibrated baseline (docs/estimation.md): the estimated accuracy of each analysed
window with its reference band, and the realised accuracy where labels came (``estimation_gap``), over
time; then the latest window's estimate of every metric. A regressor whose baseline has an error model
gets the same for its MAE (direct loss estimation). Without either the section says so.
"""

from __future__ import annotations

import datetime as _dt
from html import escape
from typing import Any

from modelspan import _time
from modelspan import findings as F
from modelspan.report import _svg
from modelspan.report._data import ModelReport

CHARTED = ("accuracy", "mae")
"""The metric drawn over time: a classifier's accuracy, else a regressor's MAE."""


def section(report: ModelReport) -> str:
    """``<section data-chart="estimated_performance">``: estimate, band and realised value over time."""
    estimates = [d for d in report.findings if d.get(F.TYPE) == F.TYPE_ESTIMATED_PERFORMANCE]
    title = "Estimated performance (before labels; CBPE, DLE)"
    if not estimates:
        learned = report.baseline is not None and (report.baseline.calibration or report.baseline.error_model)
        why = ("No estimate in this window." if learned
               else "The baseline has no calibration: performance is not estimated (docs/estimation.md).")
        return _wrap(title, f'<p class="empty">{escape(why)}</p>')
    charted = next((m for m in CHARTED if any(d.get(F.METRIC_NAME) == m for d in estimates)), CHARTED[0])
    lines: dict[str, list[tuple[_dt.datetime, float]]] = {}
    names = {F.METRIC_VALUE: "estimated", F.METRIC_LOWER: "band lower", F.METRIC_UPPER: "band upper"}
    for doc in estimates:
        if doc.get(F.METRIC_NAME) == charted:
            for field, name in names.items():
                if doc.get(field) is not None:
                    lines.setdefault(f"{charted} {name}", []).append((_moment(doc), float(doc[field])))
    for doc in report.findings:
        if (doc.get(F.TYPE) == F.TYPE_ESTIMATION_GAP and doc.get(F.METRIC_NAME) == charted
                and doc.get(F.METRIC_VALUE) is not None):
            lines.setdefault(f"{charted} realised", []).append((_moment(doc), float(doc[F.METRIC_VALUE])))
    series = [_svg.Series(name, sorted(points), dashed="band" in name) for name, points in sorted(lines.items())]
    chart = _svg.line_chart("estimated performance", series, charted)
    return _wrap(title, chart + _latest(estimates))


def _latest(estimates: list[dict[str, Any]]) -> str:
    last = max(str(d.get(F.WINDOW_START, "")) for d in estimates)
    shown = sorted((d for d in estimates if str(d.get(F.WINDOW_START, "")) == last),
                   key=lambda d: str(d.get(F.METRIC_NAME)))
    rows = "".join(_row(d) for d in shown)
    return ("<table><tr><th>metric</th><th>estimate</th><th>reference band (±3 SE)</th><th>reference</th>"
            f"<th>rows</th></tr>{rows}</table>")


def _row(doc: dict[str, Any]) -> str:
    flag = ' class="flag"' if doc.get(F.FLAGGED) else ""
    band = f"{_number(doc.get(F.METRIC_LOWER))} .. {_number(doc.get(F.METRIC_UPPER))}"
    return (f"<tr><td>{escape(str(doc.get(F.METRIC_NAME)))}</td><td{flag}>{_number(doc.get(F.METRIC_VALUE))}</td>"
            f"<td>{band}</td><td>{_number(doc.get(F.METRIC_REFERENCE_VALUE))}</td>"
            f"<td>{int(doc.get(F.SAMPLE_COUNT) or 0)}</td></tr>")


def _wrap(title: str, content: str) -> str:
    return f'<section class="chart" data-chart="estimated_performance"><h3>{escape(title)}</h3>{content}</section>'


def _moment(doc: dict[str, Any]) -> _dt.datetime:
    return _time.parse(doc.get(F.TIMESTAMP) or doc[F.WINDOW_END])


def _number(value: Any) -> str:
    return f"{float(value):.3f}" if isinstance(value, (int, float)) else "-"
