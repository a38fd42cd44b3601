"""``modelspan analyze``: run the analyzer once over a window, or on a schedule.

    modelspan analyze --once --window 1h                      # the last whole hour
    modelspan analyze --once --since 2026-11-22T10:00:00Z --until 2026-11-22T11:00:00Z --format json
    modelspan analyze --once --catch-up --window 5m           # for cron: due windows since the checkpoint
    modelspan analyze --every 5m --lateness 15m               # long-running; SIGTERM finishes the window

Windows are aligned to their length (``--window 1h`` at 10:35 analyses 09:00-10:00), so re-runs
replace their findings. Tables go to stdout with progress lines on stderr; ``--format json``
prints one JSON document per analysed window.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelspan import findings

if TYPE_CHECKING:
    from modelspan.store import Store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_COLUMNS = (("type", findings.TYPE), ("model", findings.MODEL_NAME), ("version", findings.MODEL_VERSION),
            ("severity", findings.SEVERITY), ("summary", findings.SUMMARY))


def duration(text: str) -> _dt.timedelta:
    """``30s``, ``5m``, ``1h``, ``7d`` (or plain seconds).

    >>> duration("5m"), duration("90")
    (datetime.timedelta(seconds=300), datetime.timedelta(seconds=90))
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h, 1d)")
    return _dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])


def register(subparsers: Any) -> None:
    """Add the ``analyze`` sub-command."""
    parser = subparsers.add_parser(
        "analyze", help="find drift, data-quality, path, latency and quality problems in a window",
        description="Analyse model spans in the store and write findings back (see docs/analyzer.md).")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="analyse one window and exit")
    mode.add_argument("--every", type=duration, metavar="DURATION", help="analyse consecutive windows of this "
                      "length until SIGTERM/SIGINT (e.g. 5m)")
    parser.add_argument("--window", type=duration, default=_dt.timedelta(hours=1),
                        help="window length for --once (default 1h)")
    parser.add_argument("--since", help="window start (ISO 8601, UTC unless an offset is given)")
    parser.add_argument("--until", help="window end (ISO 8601; default now)")
    parser.add_argument("--catch-up", action="store_true",
                        help="with --once: analyse every due window since the checkpoint (cron)")
    parser.add_argument("--lateness", type=duration, default=_dt.timedelta(minutes=15),
                        help="re-analyse windows that ended this long before the checkpoint (default 15m)")
    parser.add_argument("--model", help="only this model")
    parser.add_argument("--reference", default="baseline",
                        help="baseline (default), previous, yesterday, last_week, or START/END in ISO 8601")
    parser.add_argument("--baseline", action="append", default=[], type=Path, metavar="FILE",
                        help="baseline JSON to use instead of the stored one (repeatable)")
    parser.add_argument("--learn-thresholds", type=int, default=0, metavar="N",
                        help="raise each feature's drift thresholds to the spread of its scores over the N "
                        "windows before the analysed one (default 0: fixed thresholds)")
    parser.add_argument("--store", help="SQLite file or Elasticsearch URL (default: MODELSPAN_STORE, "
                        "ELASTICSEARCH_URL, ./modelspan.db)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--all", action="store_true", help="list every finding, not only the flagged ones")
    parser.add_argument("--no-write", action="store_true", help="do not write findings back")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Exit codes: 0 done, 2 bad arguments or store, 1 analysis failed."""
    from modelspan.analyzer._learned import MAX_WINDOWS
    from modelspan.analyzer._references import REFERENCES
    from modelspan.baseline import Baseline
    from modelspan.store import Window

    try:
        reference: str | Window = args.reference
        if args.reference not in REFERENCES:
            start, _, end = args.reference.partition("/")
            reference = Window.parse(start, end)
        given = {(b.model, b.version): b for b in (Baseline.load(path) for path in args.baseline)}
        if not 0 <= args.learn_thresholds <= MAX_WINDOWS:
            raise ValueError(f"--learn-thresholds must be between 0 and {MAX_WINDOWS}")
        options: dict[str, Any] = {"model": args.model, "reference": reference, "write": not args.no_write,
                                   "baselines": given or None, "learn_thresholds": args.learn_thresholds}
        store = _open(args.store)
    except (ValueError, OSError) as exc:
        print(f"modelspan analyze: {exc}", file=sys.stderr)
        return 2
    with store:
        if args.every is not None or args.catch_up:
            return _scheduled(store, args, options)
        return _once(store, args, options)


def _open(target: str | None) -> Store:
    """The store of contract 2: Elasticsearch for a URL (or ELASTICSEARCH_URL), else the SQLite file."""
    from modelspan.store import open_store

    return open_store(target)


def _once(store: Store, args: argparse.Namespace, options: dict[str, Any]) -> int:
    from modelspan.analyzer import analyze
    from modelspan.analyzer._scheduler import floor
    from modelspan.store import Window

    now = _dt.datetime.now(_dt.timezone.utc)
    try:
        end = Window.parse(args.until, args.until).end if args.until else None
        start = Window.parse(args.since, args.since).start if args.since else None
    except ValueError as exc:
        print(f"modelspan analyze: {exc}", file=sys.stderr)
        return 2
    if end is None:
        end = now if start is not None else floor(now, args.window)
    window = Window(start if start is not None else end - args.window, end)
    if window.end <= window.start:
        print("modelspan analyze: the window is empty (--since must be before --until)", file=sys.stderr)
        return 2
    analysis = analyze(store, window, progress=None if args.format == "json" else _progress, **options)
    _show(analysis, args)
    return 0


def _scheduled(store: Store, args: argparse.Namespace, options: dict[str, Any]) -> int:
    from modelspan.analyzer import _scheduler
    from modelspan.store import Window

    every = args.every or args.window
    since = Window.parse(args.since, args.since).start if args.since else None
    stop = threading.Event()

    def show(analysis: Any) -> None:
        _show(analysis, args)
        sys.stdout.flush()

    if args.catch_up and args.every is None:
        now = _dt.datetime.now(_dt.timezone.utc)
        _scheduler.tick(store, now, every, args.lateness, on_window=show, since=since, **options)
        return 0
    with _stop_on_signals(stop):
        count = _scheduler.run_every(store, every, args.lateness, stop, on_window=show, since=since, **options)
    print(f"stopped after {count} windows; checkpoint saved", file=sys.stderr)
    return 0


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop``: the window in progress finishes and is checkpointed first."""
    def handle(signum: int, frame: Any) -> None:
        print(f"received signal {signum}: finishing the current window", file=sys.stderr)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _show(analysis: Any, args: argparse.Namespace) -> None:
    start, end = analysis.window.iso()
    if args.format == "json":
        print(json.dumps({"window": {"start": start, "end": end}, "reference": analysis.reference,
                          "written": analysis.written, "flagged": len(analysis.flagged),
                          "findings": analysis.findings}, sort_keys=True))
        return
    shown = analysis.findings if args.all else analysis.flagged
    print(f"window {start} .. {end}, reference {analysis.reference}: {len(analysis.stats)} model versions, "
          f"{len(analysis.findings)} findings, {len(analysis.flagged)} flagged")
    print(table(shown) if shown else "no problems found")


def table(rows: list[dict[str, Any]], width: int = 100) -> str:
    """A plain-text table of findings (summary cut to ``width`` characters)."""
    cells = [[str(row.get(key, "")) for _, key in _COLUMNS] for row in rows]
    cells = [[*row[:-1], row[-1] if len(row[-1]) <= width else row[-1][: width - 3] + "..."] for row in cells]
    sizes = [max([len(title), *(len(row[i]) for row in cells)]) for i, (title, _) in enumerate(_COLUMNS)]
    lines = ["  ".join(title.ljust(size) for (title, _), size in zip(_COLUMNS, sizes, strict=True))]
    lines.append("  ".join("-" * size for size in sizes))
    lines += ["  ".join(cell.ljust(size) for cell, size in zip(row, sizes, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)
