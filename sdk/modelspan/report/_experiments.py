"""The report's experiments section: each experiment's latest verdicts, and its effects with intervals.

Read from the ``experiment`` findings ``modelspan experiment show`` wrote (``docs/experiments.md``):
for each experiment, the analysis whose end falls last in the report's window. Each metric gets a
small forest plot: one row per challenger arm, the point estimate of ``arm - control`` and its
always-valid interval, against a zero line. Section marker: ``data-chart="experiments"``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from html import escape
from typing import Any

from modelspan import findings as F

WIDTH, ROW, LEFT, RIGHT = 560, 26, 120, 20


def latest(documents: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``{experiment: findings of its latest analysis}`` among ``experiment`` findings."""
    ends: dict[str, str] = {}
    for doc in documents:
        if doc.get(F.TYPE) == F.TYPE_EXPERIMENT:
            exp, end = str(doc.get(F.EXPERIMENT_ID)), str(doc.get(F.WINDOW_END, ""))
            ends[exp] = max(ends.get(exp, ""), end)
    result: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in documents:
        exp = str(doc.get(F.EXPERIMENT_ID))
        if doc.get(F.TYPE) == F.TYPE_EXPERIMENT and str(doc.get(F.WINDOW_END, "")) == ends.get(exp):
            result[exp].append(doc)
    return dict(sorted(result.items()))


def forest(metric: str, rows: Sequence[tuple[str, float, float, float]]) -> str:
    """A forest plot: ``(label, lower, point, upper)`` per row, with a zero line."""
    low = min([0.0, *(r[1] for r in rows)])
    high = max([0.0, *(r[3] for r in rows)])
    span = (high - low) or 1.0
    height = ROW * len(rows) + 30

    def x(value: float) -> float:
        return LEFT + (value - low) / span * (WIDTH - LEFT - RIGHT)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
             f'height="{height}" role="img" aria-label="{escape(metric)} effects">',
             f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="4" y2="{height - 22}" stroke="#999" stroke-dasharray="3 3"/>',
             f'<text x="{x(0):.1f}" y="{height - 8}" font-size="10" text-anchor="middle">0</text>']
    for i, (label, lower, point, upper) in enumerate(rows):
        y = 16 + i * ROW
        title = f"{label}: {point:+.4g} [{lower:+.4g}, {upper:+.4g}]"
        parts.append(f'<text x="{LEFT - 8}" y="{y + 4}" font-size="11" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<line class="interval" x1="{x(lower):.1f}" x2="{x(upper):.1f}" y1="{y}" y2="{y}" '
                     f'stroke="#1f77b4" stroke-width="3"><title>{escape(title)}</title></line>')
        parts.append(f'<circle cx="{x(point):.1f}" cy="{y}" r="4" fill="#16324f"><title>{escape(title)}</title>'
                     "</circle>")
    parts.append("</svg>")
    return "".join(parts)


def section(documents: Sequence[dict[str, Any]]) -> str:
    """The HTML of the experiments section ("no experiments" when there are none)."""
    experiments = latest(documents)
    if not experiments:
        return ('<h2>Experiments</h2><section class="chart" data-chart="experiments">'
                '<p class="empty">No experiment analysed in this window.</p></section>')
    parts = ["<h2>Experiments</h2>"]
    for experiment, docs in experiments.items():
        parts.append(f'<section class="chart" data-chart="experiments"><h3>{escape(experiment)}</h3>')
        srm = [d for d in docs if d.get(F.TEST_NAME) == "srm_chi_square"]
        verdicts = [d for d in docs if F.EXPERIMENT_VERDICT in d]
        parts.extend(f'<p class="{"flag" if d.get(F.FLAGGED) else ""}">{escape(str(d.get(F.SUMMARY, "")))}</p>'
                     for d in [*srm, *verdicts])
        by_metric: dict[str, list[tuple[str, float, float, float]]] = defaultdict(list)
        for d in docs:
            if d.get(F.TEST_NAME) == "msprt" and d.get(F.EFFECT_LOWER) is not None:
                by_metric[str(d[F.METRIC_NAME])].append((str(d.get(F.EXPERIMENT_ARM)), float(d[F.EFFECT_LOWER]),
                                                         float(d[F.METRIC_VALUE]), float(d[F.EFFECT_UPPER])))
        for metric, rows in sorted(by_metric.items()):
            parts.append(f"<h3>{escape(metric)}: arm &minus; {escape(str(docs[0].get(F.EXPERIMENT_CONTROL, '')))}"
                         f" (always-valid 1 &minus; &alpha; interval)</h3>" + forest(metric, rows))
        if not by_metric:
            parts.append('<p class="empty">No effect reported (not enough units, or withheld by the SRM check).</p>')
        parts.append("</section>")
    return "".join(parts)
