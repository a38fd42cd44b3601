"""The per-model sections of the report, one function each, in the order ``MODEL_SECTIONS`` lists.

Each takes a :class:`ModelReport` and returns ``<section class="chart" data-chart="<name>">``
markup (``chart``), so a new section is one function here and one entry in ``MODEL_SECTIONS``.
Time charts share one x axis: the part of the window the model version had traffic in
(``ModelReport.charted``).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Sequence
from html import escape

from modelspan import _time, semconv
from modelspan import findings as F
from modelspan.report import _estimation, _svg, _tables
from modelspan.report._data import Distribution, ModelReport

PERFORMANCE_METRICS = ("accuracy", "bucket_accuracy", "f1", "mae", "rmse")
"""Quality metrics charted over time (the findings table lists the rest)."""
SHOWN_DISTRIBUTIONS = 12
"""Distributions drawn open; more drifting features are drawn inside a closed ``<details>``."""
QUALITY_CHECKS = ((semconv.CHECK_NULL, "null", "null_count"), (semconv.CHECK_NAN, "NaN", "nan_count"),
                  (semconv.CHECK_TYPE_CHANGE, "type change", "type_change_count"),
                  (semconv.CHECK_OUT_OF_RANGE, "out of range", "out_of_range_count"),
                  (semconv.CHECK_UNSEEN_CATEGORY, "unseen category", "unseen_count"))
"""(check, column heading, ``ColumnStats`` count) of the data-quality grid."""
NO_BASELINE = ("This model version has no baseline, so its drift was not analysed: give one with "
               "configure(baselines=...) in the application, 'modelspan analyze --baseline FILE', or build it "
               "with 'modelspan baseline --out FILE'.")


def chart(name: str, title: str, content: str) -> str:
    """One report section, findable by ``data-chart``."""
    return f'<section class="chart" data-chart="{name}"><h3>{escape(title)}</h3>{content}</section>'


def _span(report: ModelReport) -> tuple[_dt.datetime, _dt.datetime] | None:
    return (report.charted.start, report.charted.end) if report.charted is not None else None


def overview(report: ModelReport) -> str:
    ops = report.stats.operations
    cards = [("calls", f"{ops.calls:,}"), ("errors", f"{ops.errors / ops.calls:.1%}" if ops.calls else "-")]
    cards += [(f"p{pct:g} latency", _ms(ops.latency_ms.get(pct))) for pct in (50.0, 95.0, 99.0)]
    cards.append(("flagged findings", str(len(report.flagged))))
    content = '<div class="cards">' + "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>'
                                              for k, v in cards) + "</div>" + _tables.flagged_overview(report.flagged)
    return chart("overview", "Overview: flagged findings", content)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _num(value: float | None) -> float:
    return float(value) if value is not None else math.nan


def latency_chart(report: ModelReport) -> str:
    intervals = report.stats.operations.intervals
    series = [_svg.Series(f"p{pct:g}", [(i.start, _num(i.latency_ms.get(pct))) for i in intervals if i.calls])
              for pct in (50.0, 95.0, 99.0)]
    return chart("latency", "Latency over time", _svg.line_chart("latency", series, "milliseconds",
                                                                 span=_span(report)))


def qps_chart(report: ModelReport) -> str:
    intervals = report.stats.operations.intervals
    series = [_svg.Series("calls/s", [(i.start, i.qps) for i in intervals]),
              _svg.Series("errors/s", [(i.start, i.errors / i.seconds if i.seconds else 0.0) for i in intervals])]
    return chart("qps", "Throughput over time", _svg.line_chart("QPS", series, "per second", span=_span(report)))


def modules_chart(report: ModelReport) -> str:
    names = sorted(report.stats.modules)
    groups = [(f"p{pct:g}", [_num(report.stats.modules[n].latency_ms.get(pct)) for n in names]) for pct in (50.0, 95.0)]
    return chart("modules", "Sub-module latency", _svg.bar_chart("modules", names, groups, "milliseconds"))


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
        windows[start] = _tables.short(start)
        threshold = float(doc.get(F.TEST_THRESHOLD) or 0.0)
        score = float(doc[F.TEST_SCORE])
        shade = score / threshold / 3.0 if threshold > 0 else 0.0
        cells[(f"{name} ({doc.get(F.TEST_NAME)})", windows[start])] = (shade, bool(doc.get(F.FLAGGED)), f"{score:.3g}")
    title = "Drift per feature and analysed window (window start; red frame = drifted)"
    if not cells and report.baseline is None:
        return chart("drift", title, f'<p class="empty">{escape(NO_BASELINE)}</p>')
    strongest: dict[str, tuple[bool, float]] = {}
    for (row, _), (shade, flagged, _) in cells.items():
        strongest[row] = max(strongest.get(row, (False, 0.0)), (flagged, shade))
    rows = sorted(strongest, key=lambda row: (not strongest[row][0], -strongest[row][1], row))  # drifted first
    return chart("drift", title, _svg.heatmap("drift", rows, [windows[s] for s in sorted(windows)], cells))


def distributions(report: ModelReport) -> str:
    """Reference vs current shares of each drifting feature, most drifted first, in a grid of figures."""
    title = "Reference vs current distributions of drifting features"
    if not report.distributions:
        return chart("distributions", title, '<p class="empty">No feature drifted in this window.</p>')
    figures = [_figure(item) for item in sorted(report.distributions, key=lambda d: (-d.strength, d.feature))]
    content = '<div class="figures">' + "".join(figures[:SHOWN_DISTRIBUTIONS]) + "</div>"
    if len(figures) > SHOWN_DISTRIBUTIONS:
        content += (f'<details><summary>{len(figures) - SHOWN_DISTRIBUTIONS} more drifting features</summary>'
                    f'<div class="figures">{"".join(figures[SHOWN_DISTRIBUTIONS:])}</div></details>')
    return chart("distributions", title, content)


def _figure(item: Distribution) -> str:
    start, end = item.window.iso()
    bars = _svg.bar_chart(item.feature, item.labels, [(item.reference_kind, item.reference),
                                                      (f"{start[11:19]}-{end[11:19]}", item.current)],
                          "share of values", width=FIGURE_WIDTH)
    return (f'<figure class="distribution"><figcaption><b title="{escape(item.feature)}">{escape(item.feature)}</b> '
            f"<small>{escape(item.summary)}</small></figcaption>{bars}</figure>")


FIGURE_WIDTH = 360
"""Width of one distribution chart: three fit side by side on a 1280 px wide page."""


def data_quality(report: ModelReport) -> str:
    """Features x checks: failed values per feature and check, shaded by their share, red when flagged."""
    columns = report.stats.columns
    names = sorted(n for n in columns if not n.startswith("_"))
    flagged = {(str(d.get(F.FEATURE_NAME)), str(d.get(F.METRIC_NAME))) for d in report.findings
               if d.get(F.TYPE) == F.TYPE_DATA_QUALITY and d.get(F.FLAGGED)}
    cells: dict[tuple[str, str], tuple[float, bool, str]] = {}
    for name in names:
        values = max(columns[name].count, 1)
        for check, heading, count in QUALITY_CHECKS:
            failed = int(getattr(columns[name], count))
            cells[(name, heading)] = (min(failed / values * 10, 1.0), (name, f"{check}_rate") in flagged, str(failed))
    grid = _svg.heatmap("data quality", names, [heading for _, heading, _ in QUALITY_CHECKS], cells)
    table = _tables.folded([d for d in report.findings if d.get(F.TYPE) == F.TYPE_DATA_QUALITY and d.get(F.FLAGGED)],
                           "flagged data-quality findings")
    return chart("data_quality", "Data quality: failed values per feature and check (red frame = flagged)",
                 grid + table)


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
    return chart("paths", "Module path mix", _svg.stacked_bars("module paths", rows))


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
    return chart("model_performance", "Model performance over time (labelled predictions)",
                 _svg.line_chart("model performance", series, "metric"))


Section = Callable[[ModelReport], str]
MODEL_SECTIONS: Sequence[Sequence[Section]] = (
    (overview,), (latency_chart, qps_chart, modules_chart), (drift_chart,), (distributions,),
    (data_quality,), (paths_chart, performance_chart), (_estimation.section,),
)
"""Rows of sections per model version; a row of several is laid out side by side."""
