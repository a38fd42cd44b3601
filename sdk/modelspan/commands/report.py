"""``modelspan report --out report.html``: the HTML report for a window of the store.

``--window 6h`` is the last six hours; ``--since``/``--until`` (ISO 8601) give a fixed window.
The store is ``--store`` (a SQLite path or an Elasticsearch URL), else ``MODELSPAN_STORE`` /
``./modelspan.db``, or Elasticsearch when ``ELASTICSEARCH_URL`` is set.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import sys
from typing import Any

from modelspan import _time
from modelspan.commands import _output
from modelspan.store import Window

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def register(subparsers: Any) -> None:
    """Add the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report (charts, findings, incidents)",
        description="Render one offline HTML file from the store: per-model overview, latency and QPS, drift, "
        "distributions of drifting features, data quality, module paths, model quality and incidents.",
    )
    parser.add_argument("--out", default="modelspan-report.html", help="HTML file to write (default %(default)s)")
    parser.add_argument("--store", help="SQLite path or Elasticsearch URL (default: MODELSPAN_STORE, "
                        "ELASTICSEARCH_URL or ./modelspan.db)")
    parser.add_argument("--window", default="24h", help="the last N s/m/h/d/w (default %(default)s)")
    parser.add_argument("--since", help="window start, ISO 8601 (overrides --window)")
    parser.add_argument("--until", help="window end, ISO 8601 (default: now)")
    parser.add_argument("--format", choices=("html", "json"), default="html",
                        help="html: write --out (default); json: print the window's stored findings as one "
                        "document of schema modelspan.output/1 instead (see 'python -m pydoc modelspan.commands')")
    parser.set_defaults(handler=run)


def window_from(args: argparse.Namespace, now: _dt.datetime | None = None) -> Window:
    """The window the arguments describe.

    >>> ns = argparse.Namespace(window="2h", since=None, until="2026-11-22T12:00:00Z")
    >>> window_from(ns).iso()
    ('2026-11-22T10:00:00.000Z', '2026-11-22T12:00:00.000Z')
    """
    end = _time.parse(args.until) if args.until else (now or _dt.datetime.now(_dt.timezone.utc))
    if args.since:
        return Window(_time.parse(args.since), end)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(args.window))
    if match is None:
        raise ValueError(f"--window must look like 30m, 6h or 7d, got {args.window!r}")
    return Window(end - _dt.timedelta(seconds=float(match[1]) * _UNITS[match[2]]), end)



def run(args: argparse.Namespace) -> int:
    """Render the report (the store opened read-only).

    Exit 2 on bad arguments, no store at the path, an empty store or a window without model traffic
    (said in one line, with where the traffic is; no file is written); 3 on errors.
    """
    from modelspan.report import render
    from modelspan.store import open_store

    try:
        window = window_from(args)
    except ValueError as exc:
        print(f"modelspan report: {exc}", file=sys.stderr)
        return 2
    if window.end <= window.start:
        print("modelspan report: the window is empty (--since must be before --until)", file=sys.stderr)
        return 2
    if args.format == "json":
        with open_store(args.store, read_only=True) as store:
            _output.check_traffic(store, window, None, args.store)
            print(json.dumps(_output.envelope("report", window, store.read_findings(window)), sort_keys=True))
        return 0
    with open_store(args.store, read_only=True) as store:
        _output.check_traffic(store, window, None, args.store)  # no page that looks like "all quiet"
        path = render(store, window, args.out)
    start, end = window.iso()
    print(f"wrote {path} ({start} -> {end})")
    return 0
