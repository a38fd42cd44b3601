"""``modelspan report``: one self-contained HTML file for teams without Kibana.

The file has inline CSS and inline SVG charts drawn in Python, so it renders offline (no CDN, no
JavaScript). It shows the same data as the CLI and the Kibana dashboards: findings read from the
store (``store.read_findings``) and statistics from the store interface (``store.model_stats``);
nothing is recomputed here.

>>> from modelspan.report import render
>>> from modelspan.store import open_store
>>> with open_store("modelspan.db") as store:  # doctest: +SKIP
...     render(store, Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"), "report.html")
"""

from __future__ import annotations

import os
from pathlib import Path

from modelspan.report._data import ReportData, collect, traffic_windows
from modelspan.report._html import page
from modelspan.store import Store, Window

__all__ = ["ReportData", "collect", "render", "traffic_windows"]


def render(store: Store, window: Window, out_path: str | os.PathLike[str], *, source: str | None = None) -> Path:
    """Write the report for ``window`` to ``out_path`` and return the path.

    ``source`` names the store in the page header (default: the store's class name).
    """
    data = collect(store, window)
    path = Path(out_path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True)
    path.write_text(page(data, source or _describe(store)), encoding="utf-8")
    return path


def _describe(store: Store) -> str:
    for attribute in ("path", "url"):
        value = getattr(store, attribute, None)
        if value:
            return f"{type(store).__name__} {value}"
    return type(store).__name__
