"""Inline SVG charts, drawn in Python: the report must render offline, with no JavaScript.

Three shapes cover the report: a line chart over time (latency, QPS, drift scores, accuracy), a
grouped bar chart (reference vs current distributions, data-quality counts) and a stacked
horizontal bar (module path mix). Every mark carries a ``<title>`` so hovering shows the value.
Output is a string of SVG markup; all text is escaped.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 40


@dataclass
class Series:
    """One line: ``points`` are (time, value); ``dashed`` for reference lines."""

    name: str
    points: list[tuple[_dt.datetime, float]]
    dashed: bool = False


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        high = low + 1.0
    step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(step))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= step), default=step)
    start = math.floor(low / step) * step
    return [start + i * step for i in range(count + 2) if start + i * step <= high + step * 0.999]


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:.3g}"


def _frame(title: str, y_label: str, y_ticks: Sequence[float], y_of: object) -> list[str]:
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<rect class="bg" x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>']
    for tick in y_ticks:
        y = y_of(tick)  # type: ignore[operator]
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{_label(tick)}</text>')
    parts.append(f'<text x="12" y="{TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f}" font-size="10" '
                 f'transform="rotate(-90 12 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f})" text-anchor="middle">'
                 f'{escape(y_label)}</text>')
    return parts


def _legend(names: Sequence[str], dashed: Sequence[bool] = ()) -> str:
    items = []
    for index, name in enumerate(names):
        dash = ' stroke-dasharray="4 3"' if index < len(dashed) and dashed[index] else ""
        color = PALETTE[index % len(PALETTE)]
        items.append(f'<span class="key"><svg width="18" height="8"><line x1="0" y1="4" x2="18" y2="4" '
                     f'stroke="{color}" stroke-width="3"{dash}/></svg>{escape(name)}</span>')
    return '<div class="legend">' + "".join(items) + "</div>"


def line_chart(title: str, series: Sequence[Series], y_label: str, *, threshold: float | None = None) -> str:
    """Values over time; ``threshold`` draws a red dashed horizontal line (e.g. drift = 1.0)."""
    points = [p for s in series for p in s.points if math.isfinite(p[1])]
    if not points:
        return empty(title)
    t0 = min(p[0] for p in points)
    t1 = max(p[0] for p in points)
    span = max((t1 - t0).total_seconds(), 1.0)
    values = [p[1] for p in points] + ([threshold] if threshold is not None else [])
    ticks = _ticks(min(0.0, min(values)), max(values) * 1.05 or 1.0)
    low, high = ticks[0], ticks[-1]

    def x_of(moment: _dt.datetime) -> float:
        return LEFT + (moment - t0).total_seconds() / span * (WIDTH - LEFT - RIGHT)

    def y_of(value: float) -> float:
        return TOP + (1 - (value - low) / (high - low)) * (HEIGHT - TOP - BOTTOM)

    parts = _frame(title, y_label, ticks, y_of)
    for moment in (t0, t0 + (t1 - t0) / 2, t1):
        parts.append(f'<text x="{x_of(moment):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="10" '
                     f'text-anchor="middle">{moment.strftime("%H:%M:%S")}</text>')
    if threshold is not None:
        y = y_of(threshold)
        parts.append(f'<line class="threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#d62728" stroke-dasharray="6 4"/>')
    for index, line in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        good = sorted(p for p in line.points if math.isfinite(p[1]))
        if not good:
            continue
        d = " ".join(f"{'M' if i == 0 else 'L'}{x_of(t):.1f},{y_of(v):.1f}" for i, (t, v) in enumerate(good))
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        parts.append(f'<path class="series" d="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for t, v in good:
            parts.append(f'<circle cx="{x_of(t):.1f}" cy="{y_of(v):.1f}" r="2.5" fill="{color}">'
                         f'<title>{escape(line.name)} {t.strftime("%H:%M:%S")}: {_label(v)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts) + _legend([s.name for s in series], [s.dashed for s in series])


def bar_chart(title: str, categories: Sequence[str], groups: Sequence[tuple[str, Sequence[float]]],
              y_label: str) -> str:
    """Grouped vertical bars: one group of bars per category, one colour per ``groups`` entry."""
    values = [v for _, vs in groups for v in vs if math.isfinite(v)]
    if not categories or not values:
        return empty(title)
    ticks = _ticks(0.0, max(values) * 1.05 or 1.0)
    high = ticks[-1]

    def y_of(value: float) -> float:
        return TOP + (1 - value / high) * (HEIGHT - TOP - BOTTOM)

    parts = _frame(title, y_label, ticks, y_of)
    slot = (WIDTH - LEFT - RIGHT) / len(categories)
    bar = slot * 0.8 / max(len(groups), 1)
    for c_index, category in enumerate(categories):
        x0 = LEFT + c_index * slot + slot * 0.1
        for g_index, (name, group) in enumerate(groups):
            value = group[c_index] if c_index < len(group) and math.isfinite(group[c_index]) else 0.0
            y = y_of(value)
            parts.append(f'<rect class="bar" x="{x0 + g_index * bar:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" '
                         f'height="{max(HEIGHT - BOTTOM - y, 0):.1f}" fill="{PALETTE[g_index % len(PALETTE)]}">'
                         f'<title>{escape(name)} {escape(category)}: {_label(value)}</title></rect>')
        label = category if len(category) <= 14 else category[:13] + "…"
        parts.append(f'<text x="{x0 + slot * 0.4:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="9" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts) + _legend([name for name, _ in groups])


def stacked_bars(title: str, rows: Sequence[tuple[str, dict[str, float]]]) -> str:
    """Horizontal 100% bars, one per row (e.g. baseline vs current), segments by key."""
    keys = sorted({key for _, shares in rows for key in shares})
    if not keys or not any(sum(s.values()) for _, s in rows):
        return empty(title)
    height = TOP + len(rows) * 34 + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
             f'height="{height}" role="img" aria-label="{escape(title)}">']
    inner = WIDTH - 110 - RIGHT
    for r_index, (name, shares) in enumerate(rows):
        total = sum(shares.values()) or 1.0
        y, x = TOP + r_index * 34, 110.0
        parts.append(f'<text x="104" y="{y + 16}" font-size="11" text-anchor="end">{escape(name)}</text>')
        for k_index, key in enumerate(keys):
            width = shares.get(key, 0.0) / total * inner
            if width <= 0:
                continue
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y}" width="{width:.1f}" height="24" '
                         f'fill="{PALETTE[k_index % len(PALETTE)]}"><title>{escape(key)}: '
                         f'{shares.get(key, 0.0) / total:.1%}</title></rect>')
            x += width
    parts.append("</svg>")
    return "".join(parts) + _legend(keys)


def heatmap(title: str, rows: Sequence[str], columns: Sequence[str],
            cells: dict[tuple[str, str], tuple[float, bool, str]]) -> str:
    """A grid of (row, column) cells: shade by ``value`` (0..1), a red frame when flagged, text inside.

    ``cells[(row, column)] = (value, flagged, text)``; missing cells stay blank.
    """
    if not rows or not columns or not cells:
        return empty(title)
    label_width, cell_w, cell_h = 220, min(90.0, (WIDTH + 400 - 220) / len(columns)), 22
    width, height = label_width + cell_w * len(columns) + 4, TOP + 18 + cell_h * len(rows) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
             f'height="{height:.0f}" role="img" aria-label="{escape(title)}">']
    for c_index, column in enumerate(columns):
        parts.append(f'<text x="{label_width + (c_index + 0.5) * cell_w:.1f}" y="{TOP + 8}" font-size="10" '
                     f'text-anchor="middle">{escape(column)}</text>')
    for r_index, row in enumerate(rows):
        y = TOP + 18 + r_index * cell_h
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" font-size="11" text-anchor="end">{escape(row)}</text>')
        for c_index, column in enumerate(columns):
            if (row, column) not in cells:
                continue
            value, flagged, text = cells[(row, column)]
            shade = max(0.0, min(value, 1.0))
            fill = f"rgb({255 - int(shade * 40)},{255 - int(shade * 150)},{255 - int(shade * 190)})"
            stroke = ' stroke="#d62728" stroke-width="2"' if flagged else ' stroke="#dddddd"'
            x = label_width + c_index * cell_w
            parts.append(f'<rect class="bar" x="{x + 1:.1f}" y="{y + 1}" width="{cell_w - 2:.1f}" '
                         f'height="{cell_h - 2}" fill="{fill}"{stroke}>'
                         f'<title>{escape(row)} @ {escape(column)}: {escape(text)}'
                         f'{" (flagged)" if flagged else ""}</title></rect>')
            weight = "bold" if flagged else "normal"
            parts.append(f'<text x="{x + cell_w / 2:.1f}" y="{y + 15}" font-size="10" text-anchor="middle" '
                         f'font-weight="{weight}">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def empty(title: str) -> str:
    """A visible placeholder (not a blank box) when there is nothing to draw."""
    return f'<p class="empty">No data for {escape(title)} in this window.</p>'
