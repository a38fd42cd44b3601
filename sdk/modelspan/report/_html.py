"""The report page: one HTML string with inline CSS and SVG (no scripts, no external requests).

Every chart sits in ``<section class="chart" data-chart="<name>">`` so the tests (and anyone
scraping the report) can find it; the sections are, per model: overview, latency, qps, modules,
drift, distributions, data_quality, paths, model_performance; then incidents and experiments for the whole
window.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from html import escape
from typing import Any

from modelspan import _time
from modelspan import findings as F
from modelspan.report import _estimation, _experiments, _svg
from modelspan.report._data import ModelReport, ReportData

PERFORMANCE_METRICS = ("accuracy", "bucket_accuracy", "f1", "mae", "rmse")
"""Quality metrics charted over time (the findings table lists the rest)."""
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#16324f;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
main{padding:8px 28px 40px}h2{margin:28px 0 8px;border-bottom:2px solid #16324f}h3{margin:18px 0 6px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border:1px solid #ddd;border-radius:6px;
padding:10px 14px;min-width:120px}.card b{display:block;font-size:20px}.grid{display:flex;flex-wrap:wrap;gap:16px}
section.chart{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px;margin:8px 0}
table{border-collapse:collapse;background:#fff;margin:6px 0}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top;font-size:13px}th{background:#eef1f5}.flag{color:#b00020;font-weight:600}
.legend{font-size:11px}.key{margin-right:12px;white-space:nowrap}.key svg{vertical-align:middle;margin-right:4px}
.empty{color:#777;font-style:italic}code{font-size:12px}
"""


def page(data: ReportData, source: str) -> str:
    """The whole document."""
    start, end = data.window.iso()
    charts = ""
    if data.charted is not None and data.charted != data.window:
        first, last = data.charted.iso()
        charts = f" · time charts cover the traffic, {escape(first)} → {escape(last)}"
    body = [f"<header><h1>modelspan report</h1><div>{escape(source)} · window {escape(start)} → {escape(end)}"
            f"{charts} · generated {escape(data.generated_at.isoformat(timespec='seconds'))}</div></header><main>"]
    if not data.models:
        body.append('<p class="empty">No model spans in this window.</p>')
    for report in data.models:
        body.append(model_section(report))
    body.append(incidents_section(data.findings))
    body.append(_experiments.section(data.experiments))
    body.append("</main>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>modelspan report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")


def _chart(name: str, title: str, content: str) -> str:
    return f'<section class="chart" data-chart="{name}"><h3>{escape(title)}</h3>{content}</section>'


def model_section(report: ModelReport) -> str:
    """Overview, traffic, drift, data quality, paths and model performance of one model version."""
    ops = report.stats.operations
    cards = [("calls", f"{ops.calls:,}"), ("errors", f"{ops.errors / ops.calls:.1%}" if ops.calls else "-")]
    cards += [(f"p{pct:g} latency", _ms(ops.latency_ms.get(pct))) for pct in (50.0, 95.0, 99.0)]
    cards.append(("flagged findings", str(len(report.flagged))))
    overview = '<div class="cards">' + "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>'
                                               for k, v in cards) + "</div>" + findings_table(report.flagged)
    parts = [f"<h2>{escape(report.model)} <small>v{escape(report.version)}</small></h2>",
             _chart("overview", "Overview: flagged findings", overview),
             '<div class="grid">', latency_chart(report), qps_chart(report), modules_chart(report), "</div>",
             drift_chart(report), distributions(report),
             '<div class="grid">', data_quality(report), paths_chart(report), performance_chart(report), "</div>",
             _estimation.section(report)]
    return "".join(parts)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def latency_chart(report: ModelReport) -> str:
    intervals = report.stats.operations.intervals
    series = [_svg.Series(f"p{pct:g}", [(i.start, _num(i.latency_ms.get(pct))) for i in intervals if i.calls])
              for pct in (50.0, 95.0, 99.0)]
    return _chart("latency", "Latency over time", _svg.line_chart("latency", series, "milliseconds"))


def qps_chart(report: ModelReport) -> str:
    intervals = report.stats.operations.intervals
    series = [_svg.Series("calls/s", [(i.start, i.qps) for i in intervals]),
              _svg.Series("errors/s", [(i.start, i.errors / i.seconds if i.seconds else 0.0) for i in intervals])]
    return _chart("qps", "Throughput over time", _svg.line_chart("QPS", series, "per second"))


def modules_chart(report: ModelReport) -> str:
    names = sorted(report.stats.modules)
    groups = [(f"p{pct:g}", [_num(report.stats.modules[n].latency_ms.get(pct)) for n in names]) for pct in (50.0, 95.0)]
    return _chart("modules", "Sub-module latency", _svg.bar_chart("modules", names, groups, "milliseconds"))


def drift_chart(report: ModelReport) -> str:
    """Features x analysed windows: the drift score of each column's test, framed red when flagged.

    Tests have different scales (a KS distance, a chi-square p-value), so cells are shaded by
    score / threshold (capped) and print the score with the test's name in the tooltip.
    """
    cells: dict[tuple[str, str], tuple[float, bool, str]] = {}
    windows: dict[str, str] = {}
    for doc in report.findings:
        if doc.get(F.TYPE) not in (F.TYPE_DRIFT, F.TYPE_PREDICTION_DRIFT) or doc.get(F.TEST_SCORE) is None:
            continue
        name = str(doc.get(F.FEATURE_NAME) or "prediction")
        if name.startswith("_"):
            name = "prediction"
        start = str(doc.get(F.WINDOW_START, ""))
        windows[start] = _short(start)
        threshold = float(doc.get(F.TEST_THRESHOLD) or 0.0)
        score = float(doc[F.TEST_SCORE])
        shade = score / threshold / 3.0 if threshold > 0 else 0.0
        row = f"{name} ({doc.get(F.TEST_NAME)})"
        cells[(row, windows[start])] = (shade, bool(doc.get(F.FLAGGED)), f"{score:.3g}")
    rows = sorted({row for row, _ in cells})
    columns = [windows[start] for start in sorted(windows)]
    chart = _svg.heatmap("drift", rows, columns, cells)
    return _chart("drift", "Drift per feature and analysed window (window start; red frame = drifted)", chart)


def distributions(report: ModelReport) -> str:
    if not report.distributions:
        return _chart("distributions", "Distributions of drifting features",
                      '<p class="empty">No feature drifted in this window.</p>')
    charts = []
    for item in report.distributions:
        start, end = item.window.iso()
        chart = _svg.bar_chart(item.feature, item.labels,
                               [(item.reference_kind, item.reference), (f"{start[11:19]}-{end[11:19]}", item.current)],
                               "share of values")
        charts.append(f"<div><b>{escape(item.feature)}</b> <small>{escape(item.summary)}</small>{chart}</div>")
    return _chart("distributions", "Reference vs current distributions of drifting features",
                  '<div class="grid">' + "".join(charts) + "</div>")


def data_quality(report: ModelReport) -> str:
    columns = report.stats.columns
    names = sorted(n for n in columns if not n.startswith("_"))
    checks = [("null", "null_count"), ("NaN", "nan_count"), ("type change", "type_change_count"),
              ("out of range", "out_of_range_count"), ("unseen category", "unseen_count")]
    groups = [(label, [float(getattr(columns[n], count)) for n in names]) for label, count in checks]
    chart = _svg.bar_chart("data quality", names, groups, "values")
    table = findings_table([d for d in report.findings if d.get(F.TYPE) == F.TYPE_DATA_QUALITY and d.get(F.FLAGGED)])
    return _chart("data_quality", "Data quality: failed checks per feature", chart + table)


def paths_chart(report: ModelReport) -> str:
    current = {key: float(p.count) for key, p in report.stats.paths.items()}
    if report.stats.paths_other:
        current["(other paths)"] = float(report.stats.paths_other)
    rows = [("this window", current)]
    if report.baseline and report.baseline.module_paths:
        base: dict[str, float] = {}
        for counts in report.baseline.module_paths.values():
            for key, count in counts.items():
                base[key] = base.get(key, 0.0) + count
        rows.insert(0, ("baseline", base))
    return _chart("paths", "Module path mix", _svg.stacked_bars("module paths", rows))


def performance_chart(report: ModelReport) -> str:
    """Accuracy per analysed window and per prediction-time bucket (labels joined late)."""
    lines: dict[str, list[tuple[_dt.datetime, float]]] = {}
    for doc in report.findings:
        name = str(doc.get(F.METRIC_NAME) or "")
        if doc.get(F.TYPE) != F.TYPE_PERFORMANCE or doc.get(F.METRIC_VALUE) is None or name not in PERFORMANCE_METRICS:
            continue
        moment = _time.parse(doc.get(F.TIMESTAMP) or doc[F.WINDOW_END])
        lines.setdefault(name, []).append((moment, float(doc[F.METRIC_VALUE])))
        if doc.get(F.METRIC_REFERENCE_VALUE) is not None and name == "accuracy":
            lines.setdefault(f"{name} (reference)", []).append((moment, float(doc[F.METRIC_REFERENCE_VALUE])))
    series = [_svg.Series(name, points, dashed=name.endswith("(reference)")) for name, points in sorted(lines.items())]
    return _chart("model_performance", "Model performance over time (labelled predictions)",
                  _svg.line_chart("model performance", series, "metric"))


def incidents_section(documents: Sequence[dict[str, Any]]) -> str:
    incidents = F.ordered(d for d in documents if d.get(F.TYPE) == F.TYPE_INCIDENT)
    app = [d for d in documents if d.get(F.TYPE) in (F.TYPE_APP_ERRORS, F.TYPE_APP_LATENCY) and d.get(F.FLAGGED)]
    rows = "".join(
        f"<tr><td>{escape(str(d.get(F.INCIDENT_KIND, '')))}</td><td>{escape(_short(d.get(F.WINDOW_START)))}</td>"
        f"<td>{_share(d.get(F.INCIDENT_EVIDENCE_SHARE))}</td><td>{escape(str(d.get(F.SUMMARY, '')))}</td>"
        f"<td>{_traces(d)}</td></tr>" for d in incidents)
    table = ("<table><tr><th>kind</th><th>window</th><th>evidence</th><th>summary</th><th>example traces</th></tr>"
             + rows + "</table>") if incidents else '<p class="empty">No incidents in this window.</p>'
    return ("<h2>Incidents</h2>" + _chart("incidents", "Incidents (model findings linked to application errors "
                                          "through shared traces)", table + "<h3>Application findings</h3>"
                                          + findings_table(app)))


def findings_table(documents: Sequence[dict[str, Any]]) -> str:
    if not documents:
        return '<p class="empty">None.</p>'
    rows = "".join(
        f"<tr><td>{escape(str(d.get(F.SEVERITY, '')))}</td><td>{escape(_short(d.get(F.WINDOW_START)))}</td>"
        f"<td class=\"flag\">{escape(str(d.get(F.TYPE)))}</td>"
        f"<td>{escape(_subject(d))}</td><td>{escape(str(d.get(F.SUMMARY, '')))}</td></tr>"
        for d in F.ordered(documents))
    return ("<table><tr><th>severity</th><th>window</th><th>type</th><th>subject</th><th>summary</th></tr>" + rows
            + "</table>")


def _subject(doc: dict[str, Any]) -> str:
    for key in (F.FEATURE_NAME, F.MODULE_NAME, F.MODULE_PATH, F.METRIC_NAME, F.ROUTE, F.SERVICE_NAME):
        if doc.get(key):
            return f"{key.split('.')[0]} {doc[key]}"
    return ""


def _traces(doc: dict[str, Any]) -> str:
    ids = doc.get(F.TRACE_IDS) or []
    return "<br>".join(f"<code>{escape(str(t))}</code>" for t in list(ids)[:3])


def _share(value: Any) -> str:
    return f"{float(value):.0%}" if isinstance(value, (int, float)) else "-"


def _short(value: Any) -> str:
    text = str(value or "")
    return text[11:19] if len(text) >= 19 else text


def _num(value: float | None) -> float:
    return float(value) if value is not None else math.nan
