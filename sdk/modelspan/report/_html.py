"""The report page: one HTML string with inline CSS and SVG (no scripts, no external requests).

The header states the window first (``<p class="window" data-start data-end>``). Every chart sits
in ``<section class="chart" data-chart="<name>">`` so the tests (and anyone scraping the report)
can find it; the sections are, per model (``_sections.MODEL_SECTIONS``): overview, latency, qps,
modules, drift, distributions, data_quality, paths, model_performance; then incidents and
experiments for the whole window. Charts never overlap one another: rows of sections wrap, a chart
wider than its box scrolls inside it, and the distributions are a grid of figures with their
captions above their charts.
"""

from __future__ import annotations

import datetime as _dt
from html import escape

from modelspan.report import _experiments, _sections, _tables, _text
from modelspan.report._data import ModelReport, ReportData

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#16324f;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header .window{font-size:17px;margin:6px 0 0}header .source{font-size:12px;margin:2px 0 0;opacity:.85}
main{padding:8px 28px 40px}h2{margin:28px 0 8px;border-bottom:2px solid #16324f}h3{margin:18px 0 6px}
.charted{margin:4px 0;color:#444;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border:1px solid #ddd;border-radius:6px;
padding:10px 14px;min-width:120px}.card b{display:block;font-size:20px}
.grid{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
section.chart{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px;margin:8px 0;
box-sizing:border-box;max-width:100%;min-width:0;overflow-x:auto}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:12px;align-items:start}
figure.distribution{margin:0;min-width:0;overflow-x:auto;border:1px solid #eee;border-radius:4px;padding:6px}
figcaption{font-size:12px;margin-bottom:4px;overflow-wrap:anywhere}
figcaption b{display:block;font-size:13px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
details>summary{cursor:pointer;color:#16324f;margin:8px 0;font-weight:600}
table{border-collapse:collapse;background:#fff;margin:6px 0}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top;font-size:13px;overflow-wrap:break-word}th{background:#eef1f5}
.flag{color:#b00020;font-weight:600}svg{display:block}
.legend{font-size:11px}.key{display:inline-block;max-width:100%;margin-right:12px;overflow-wrap:anywhere}
.key svg{display:inline;vertical-align:middle;margin-right:4px}
.empty{color:#777;font-style:italic}code{font-size:12px}
"""


def page(data: ReportData, source: str) -> str:
    """The whole document."""
    body = [_header(data, source), "<main>"]
    if not data.models:
        body.append('<p class="empty">No model spans in this window.</p>')
    for report in data.models:
        body.append(model_section(report))
    body.append(_tables.incidents_section(data.findings))
    body.append(_experiments.section(data.experiments))
    body.append("</main>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>modelspan report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")


def _header(data: ReportData, source: str) -> str:
    """The window first (what the page is about), then where the data came from and when."""
    start, end = data.window.iso()
    return (f'<header><h1>modelspan report</h1><p class="window" data-start="{start}" data-end="{end}">'
            f"Window <b>{escape(_moment(data.window.start))}</b> → <b>{escape(_moment(data.window.end))}</b> UTC "
            f"({escape(_text.duration(data.window.seconds))})</p>"
            f'<p class="source">{escape(source)} · generated '
            f"{escape(data.generated_at.isoformat(timespec='seconds'))}</p></header>")


def _moment(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def model_section(report: ModelReport) -> str:
    """Every section of ``_sections.MODEL_SECTIONS`` for one model version, under its heading."""
    parts = [f"<h2>{escape(report.model)} <small>v{escape(report.version)}</small></h2>", _charted(report)]
    for row in _sections.MODEL_SECTIONS:
        drawn = "".join(section(report) for section in row)
        parts.append(f'<div class="grid">{drawn}</div>' if len(row) > 1 else drawn)
    return "".join(parts)


def _charted(report: ModelReport) -> str:
    """Which part of the window the time charts cover (where this version had traffic)."""
    if report.charted is None:
        return ""
    start, end = report.charted.iso()
    return (f'<p class="charted" data-start="{start}" data-end="{end}">Time charts cover this version\'s traffic: '
            f"{escape(_moment(report.charted.start))} → {escape(_moment(report.charted.end))} UTC "
            f"({escape(_text.duration(report.charted.seconds))}).</p>")
