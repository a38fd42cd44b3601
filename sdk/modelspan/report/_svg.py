"""Inline SVG charts, drawn in Python: the report must render offline, with no JavaScript.

Three shapes cover the report: a line chart over time (latency, QPS, drift scores, accuracy), a
grouped bar chart (reference vs current distributions, data-quality counts) and a stacked
horizontal bar (module path mix). Every mark carries a ``<title>`` so hovering shows the value.
Output is a string of SVG markup; all text is escaped.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from modelspan.report import _text

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 28, 14, 40
MIN_SLOT = 16.0
"""Narrowest room per category of a bar chart, in px: more categories widen the chart instead."""
LABEL_ROOM = 84.0
"""Longest a vertical category label may be, in px (longer ones are abbreviated)."""
BAR_LABEL_SIZE = 9.0
ROW_LABEL_ROOM = 210.0
"""Room for a heatmap's row labels (feature and test names), in px."""
HEATMAP_ROOM, MIN_CELL, MAX_CELL = 760.0, 34.0, 110.0
"""Width the heatmap's columns share, and the narrowest and widest a column gets (more columns widen
the grid)."""
MIN_SPAN = _dt.timedelta(minutes=1)
"""Narrowest time axis: a single point still sits in a minute, not on a zero-width axis."""


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


def _open(title: str, width: float, height: float) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
            f'height="{height:.0f}" role="img" aria-label="{escape(title)}">'
            f'<rect class="bg" x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>')


def _frame(title: str, y_label: str, y_ticks: Sequence[float], y_of: Callable[[float], float], width: float,
           height: float) -> list[str]:
    """The SVG element, horizontal grid lines with their values, and the y-axis title."""
    parts = [_open(title, width, height)]
    for tick in y_ticks:
        y = y_of(tick)
        parts.append(f'<line x1="{LEFT}" x2="{width - RIGHT:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{_label(tick)}</text>')
    middle = TOP + (HEIGHT - TOP - BOTTOM) / 2
    parts.append(_text.label(12, middle, y_label, room=HEIGHT - TOP - BOTTOM, vertical=True, css="axis-title"))
    return parts


def _legend(names: Sequence[str], dashed: Sequence[bool] = ()) -> str:
    items = []
    for index, name in enumerate(names):
        dash = ' stroke-dasharray="4 3"' if index < len(dashed) and dashed[index] else ""
        color = PALETTE[index % len(PALETTE)]
        items.append(f'<span class="key" title="{escape(name)}"><svg width="18" height="8"><line x1="0" y1="4" '
                     f'x2="18" y2="4" stroke="{color}" stroke-width="3"{dash}/></svg>{escape(name)}</span>')
    return '<div class="legend">' + "".join(items) + "</div>"


def _time_span(points: Sequence[tuple[_dt.datetime, float]],
               span: tuple[_dt.datetime, _dt.datetime] | None) -> tuple[_dt.datetime, _dt.datetime]:
    """The x axis: ``span`` when given, else the points' own range, at least ``MIN_SPAN`` wide."""
    t0, t1 = span if span is not None else (min(p[0] for p in points), max(p[0] for p in points))
    missing = MIN_SPAN - (t1 - t0)
    if missing > _dt.timedelta(0):
        t0, t1 = t0 - missing / 2, t1 + missing / 2
    return t0, t1


def line_chart(title: str, series: Sequence[Series], y_label: str, *, threshold: float | None = None,
               span: tuple[_dt.datetime, _dt.datetime] | None = None) -> str:
    """Values over time; ``threshold`` draws a red dashed horizontal line (e.g. drift = 1.0).

    ``span`` is the x axis (the part of the window the model had traffic in); without it the axis
    fits the points. Ticks fall on round times (``_text.time_ticks``).
    """
    if span is not None:  # intervals around the traffic, outside the axis, are not drawn
        series = [dataclasses.replace(s, points=[p for p in s.points if span[0] <= p[0] < span[1]]) for s in series]
    points = [p for s in series for p in s.points if math.isfinite(p[1])]
    if not points:
        return empty(title)
    t0, t1 = _time_span(points, span)
    seconds = (t1 - t0).total_seconds()
    values = [p[1] for p in points] + ([threshold] if threshold is not None else [])
    ticks = _ticks(min(0.0, min(values)), max(values) * 1.05 or 1.0)
    low, high = ticks[0], ticks[-1]

    def x_of(moment: _dt.datetime) -> float:
        return LEFT + (moment - t0).total_seconds() / seconds * (WIDTH - LEFT - RIGHT)

    def y_of(value: float) -> float:
        return TOP + (1 - (value - low) / (high - low)) * (HEIGHT - TOP - BOTTOM)

    parts = _frame(title, y_label, ticks, y_of, WIDTH, HEIGHT)
    times, fmt = _text.time_ticks(t0, t1)
    room = (WIDTH - LEFT - RIGHT) / max(len(times), 1) - 6
    for moment in times:
        x = x_of(moment)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM + 4}" '
                     f'stroke="#999999"/>')
        parts.append(_text.label(x, HEIGHT - BOTTOM + 16, moment.strftime(fmt), room=room, css="tick"))
    if threshold is not None:
        y = y_of(threshold)
        parts.append(f'<line class="threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#d62728" stroke-dasharray="6 4"/>')
    for index, line in enumerate(series):
        parts += _series(line, PALETTE[index % len(PALETTE)], x_of, y_of, fmt)
    parts.append("</svg>")
    return "".join(parts) + _legend([s.name for s in series], [s.dashed for s in series])


def _series(line: Series, color: str, x_of: Callable[[_dt.datetime], float], y_of: Callable[[float], float],
            fmt: str) -> list[str]:
    good = sorted(p for p in line.points if math.isfinite(p[1]))
    if not good:
        return []
    d = " ".join(f"{'M' if i == 0 else 'L'}{x_of(t):.1f},{y_of(v):.1f}" for i, (t, v) in enumerate(good))
    dash = ' stroke-dasharray="6 4"' if line.dashed else ""
    parts = [f'<path class="series" d="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>']
    radius = 2.5 if len(good) <= 120 else 1.2
    for t, v in good:
        parts.append(f'<circle cx="{x_of(t):.1f}" cy="{y_of(v):.1f}" r="{radius}" fill="{color}">'
                     f'<title>{escape(line.name)} {t.strftime("%Y-%m-%d %H:%M:%S")}: {_label(v)}</title></circle>')
    return parts


def bar_chart(title: str, categories: Sequence[str], groups: Sequence[tuple[str, Sequence[float]]],
              y_label: str, *, width: float = WIDTH) -> str:
    """Grouped vertical bars: one group of bars per category, one colour per ``groups`` entry.

    The chart widens rather than squeezing bars below ``MIN_SLOT`` px per category; category labels
    that do not fit their slot stand vertically, abbreviated to ``LABEL_ROOM`` px (full text on hover).
    """
    values = [v for _, vs in groups for v in vs if math.isfinite(v)]
    if not categories or not values:
        return empty(title)
    ticks = _ticks(0.0, max(values) * 1.05 or 1.0)
    high = ticks[-1]
    plot = max(width - LEFT - RIGHT, len(categories) * max(MIN_SLOT, 3.0 * len(groups) + 8))
    slot = plot / len(categories)
    longest = max(_text.width(c, BAR_LABEL_SIZE) for c in categories)
    vertical = longest > slot - 6
    axis = HEIGHT - BOTTOM
    height = axis + (min(LABEL_ROOM, longest) + 12 if vertical else 24)

    def y_of(value: float) -> float:
        return TOP + (1 - value / high) * (axis - TOP)

    parts = _frame(title, y_label, ticks, y_of, LEFT + plot + RIGHT, height)
    bar = slot * 0.8 / max(len(groups), 1)
    for c_index, category in enumerate(categories):
        x0 = LEFT + c_index * slot + slot * 0.1
        for g_index, (name, group) in enumerate(groups):
            value = group[c_index] if c_index < len(group) and math.isfinite(group[c_index]) else 0.0
            y = y_of(value)
            parts.append(f'<rect class="bar" x="{x0 + g_index * bar:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" '
                         f'height="{max(axis - y, 0):.1f}" fill="{PALETTE[g_index % len(PALETTE)]}">'
                         f'<title>{escape(name)} {escape(category)}: {_label(value)}</title></rect>')
        middle = x0 + slot * 0.4
        if vertical:
            parts.append(_text.label(middle + BAR_LABEL_SIZE * 0.35, axis + 6, category, room=LABEL_ROOM,
                                     size=BAR_LABEL_SIZE, anchor="end", vertical=True, css="tick"))
        else:
            parts.append(_text.label(middle, axis + 14, category, room=slot - 6, size=BAR_LABEL_SIZE, css="tick"))
    parts.append("</svg>")
    return "".join(parts) + _legend([name for name, _ in groups])


def stacked_bars(title: str, rows: Sequence[tuple[str, dict[str, float]]]) -> str:
    """Horizontal 100% bars, one per row (e.g. baseline vs current), segments by key."""
    keys = sorted({key for _, shares in rows for key in shares})
    if not keys or not any(sum(s.values()) for _, s in rows):
        return empty(title)
    height = TOP + len(rows) * 34 + 10
    parts = [_open(title, WIDTH, height)]
    inner = WIDTH - 110 - RIGHT
    for r_index, (name, shares) in enumerate(rows):
        total = sum(shares.values()) or 1.0
        y, x = TOP + r_index * 34, 110.0
        parts.append(_text.label(104, y + 16, name, room=100, size=11, anchor="end"))
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

    ``cells[(row, column)] = (value, flagged, text)``; missing cells stay blank. The grid grows a
    row per feature (so 50 features are 50 readable rows); row labels are abbreviated to
    ``ROW_LABEL_ROOM`` px and column labels stand vertically when their cells are narrow.
    """
    if not rows or not columns or not cells:
        return empty(title)
    cell_w, cell_h = max(MIN_CELL, min(MAX_CELL, HEATMAP_ROOM / len(columns))), 22
    longest = max(_text.width(c, 10) for c in columns)
    vertical = longest > cell_w - 6
    header = (min(LABEL_ROOM, longest) + 10) if vertical else 18.0
    left = ROW_LABEL_ROOM + 10
    width, height = left + cell_w * len(columns) + 4, TOP + header + cell_h * len(rows) + 4
    parts = [_open(title, width, height)]
    for c_index, column in enumerate(columns):
        x = left + (c_index + 0.5) * cell_w
        if vertical:
            parts.append(_text.label(x + 4, TOP + header - 4, column, room=LABEL_ROOM, anchor="start",
                                     vertical=True, css="tick"))
        else:
            parts.append(_text.label(x, TOP + 8, column, room=cell_w - 6, css="tick"))
    for r_index, row in enumerate(rows):
        y = TOP + header + r_index * cell_h
        parts.append(_text.label(left - 6, y + 15, row, room=ROW_LABEL_ROOM, size=11, anchor="end", css="row"))
        for c_index, column in enumerate(columns):
            if (row, column) in cells:
                parts += _cell(left + c_index * cell_w, y, cell_w, cell_h, f"{row} @ {column}", cells[(row, column)])
    parts.append("</svg>")
    return "".join(parts)


def _cell(x: float, y: float, cell_w: float, cell_h: float, name: str, cell: tuple[float, bool, str]) -> list[str]:
    value, flagged, text = cell
    shade = max(0.0, min(value, 1.0))
    fill = f"rgb({255 - int(shade * 40)},{255 - int(shade * 150)},{255 - int(shade * 190)})"
    stroke = ' stroke="#d62728" stroke-width="2"' if flagged else ' stroke="#dddddd"'
    note = " (flagged)" if flagged else ""
    return [f'<rect class="bar" x="{x + 1:.1f}" y="{y + 1}" width="{cell_w - 2:.1f}" height="{cell_h - 2}" '
            f'fill="{fill}"{stroke}><title>{escape(name)}: {escape(text)}{note}</title></rect>',
            _text.label(x + cell_w / 2, y + 15, text, room=cell_w - 4, css="cell",
                        weight="bold" if flagged else "normal")]


def empty(title: str) -> str:
    """A visible placeholder (not a blank box) when there is nothing to draw."""
    return f'<p class="empty">No data for {escape(title)} in this window.</p>'
