"""Text on the charts: labels that fit their room (abbreviated, the full text in a ``<title>``) and
time ticks at round steps.

The report has no JavaScript, so text cannot be measured while drawing; widths are estimated from
the number of characters (``CHAR_EM`` of the font size each, on the wide side for the sans-serif
fonts browsers fall back to). The report tests measure the drawn labels in headless Chromium and
check that none overlaps another.
"""

from __future__ import annotations

import datetime as _dt
import math
from html import escape

CHAR_EM = 0.62
"""Estimated average glyph width, in font sizes (DejaVu Sans digits are 0.64, lower case ~0.58)."""
LINE_EM = 1.3
"""Room one line of text needs across its baseline (a vertical label's width), in font sizes."""
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
              2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400)
"""Round tick steps of a time axis, in seconds."""


def width(text: str, size: float) -> float:
    """Estimated drawn width of ``text`` at ``size`` px."""
    return len(text) * size * CHAR_EM


def abbreviate(text: str, room: float, size: float) -> str:
    """``text`` cut in the middle (``average_tr…rty_days``) to fit ``room`` px; whole when it fits.

    >>> abbreviate("average_transaction_amount", 60, 10)
    'avera…unt'
    """
    most = max(3, int(room / (size * CHAR_EM)))
    if len(text) <= most:
        return text
    head = math.ceil((most - 1) * 0.6)
    tail = most - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def label(x: float, y: float, text: str, *, room: float, size: float = 10, anchor: str = "middle",
          vertical: bool = False, css: str = "label", weight: str = "normal") -> str:
    """An SVG ``<text>`` abbreviated to ``room`` px, with the full text as its hover ``<title>``.

    ``vertical`` turns it to read bottom-up about ``(x, y)`` (with ``anchor="end"`` it ends there:
    category labels below a narrow slot).
    """
    shown = abbreviate(text, room, size)
    turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if vertical else ""
    bold = f' font-weight="{weight}"' if weight != "normal" else ""
    return (f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}"{bold}{turn}>'
            f"<title>{escape(text)}</title>{escape(shown)}</text>")


def time_ticks(start: _dt.datetime, end: _dt.datetime, most: int = 6) -> tuple[list[_dt.datetime], str]:
    """Ticks at a round step (at most ``most``) between ``start`` and ``end``, and their strftime format.

    >>> t0 = _dt.datetime(2026, 11, 22, 10, 20, 10, tzinfo=_dt.timezone.utc)
    >>> ticks, fmt = time_ticks(t0, t0 + _dt.timedelta(minutes=5))
    >>> [t.strftime(fmt) for t in ticks]
    ['10:21', '10:22', '10:23', '10:24', '10:25']
    """
    seconds = max((end - start).total_seconds(), 1.0)
    step = next((s for s in TIME_STEPS if seconds / s <= most), TIME_STEPS[-1])
    first = math.ceil(start.timestamp() / step) * step
    ticks = []
    moment = first
    while moment <= end.timestamp() + 1e-6:
        ticks.append(_dt.datetime.fromtimestamp(moment, _dt.timezone.utc))
        moment += step
    if step >= 86400 or start.date() != end.date():
        fmt = "%m-%d" if step >= 86400 else "%m-%d %H:%M"
    else:
        fmt = "%H:%M:%S" if step < 60 else "%H:%M"
    return ticks, fmt


def duration(seconds: float) -> str:
    """``5 min``, ``24 h``, ``2 d 3 h``: the length of a window in words a reader takes in at once.

    >>> duration(300), duration(86400), duration(90), duration(183600)
    ('5 min', '24 h', '1 min 30 s', '2 d 3 h')
    """
    whole = round(seconds)
    if whole >= 2 * 86400:
        days, hours = whole // 86400, whole % 86400 // 3600
        return f"{days} d" + (f" {hours} h" if hours else "")
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    if minutes:
        return f"{minutes} min" + (f" {secs} s" if secs else "")
    return f"{secs} s"
