"""``modelspan analyze``: run the analyzer once over a window, or on a schedule.

    modelspan analyze --once --window 1h                      # the last whole hour
    modelspan analyze --once --since 2026-11-22T10:00:00Z --until 2026-11-22T11:00:00Z --format json
    modelspan analyze --once --catch-up --window 5m           # for cron: due windows since the checkpoint
    modelspan analyze --every 5m --lateness 15m               # long-running; SIGTERM finishes the window

``--once`` without ``--since`` analyses the last ``--window`` up to now (traffic of the last minutes
included); scheduled runs (``--every``, ``--catch-up``) analyse whole windows aligned to their length,
so re-runs replace their findings. Tables go to stdout with progress lines on stderr; ``--format json``
prints one JSON document per analysed window (schema ``modelspan.output/1``, see ``docs/cli.md``).

Before analysing, the command says what it cannot analyse: no store at the path, a store without
model spans, an unknown ``--model`` (the known ones are listed), a window without traffic (with
where the traffic is) and, as a note, model versions without a baseline (drift not analysed).
Exit codes (``modelspan.commands._exit``): 0 analysed, nothing flagged at ``--fail-on``; 1 flagged;
2 nothing to analyse or misconfigured; 3 error (damaged store, Elasticsearch unreachable).
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

from modelspan import _time, findings
from modelspan.commands import _exit, _output

if TYPE_CHECKING:
    from modelspan.analyzer import Analysis
    from modelspan.store import Store, Window

MIN_STEP = _dt.timedelta(seconds=1)
MAX_SPAN = _dt.timedelta(days=400)
"""Longest window or period accepted: beyond it a typo, not a plan (and hours of work)."""
MAX_WINDOWS = 100_000
"""Most windows a scheduled run may owe since ``--since``."""
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
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not MIN_STEP.total_seconds() <= seconds <= MAX_SPAN.total_seconds():
        raise argparse.ArgumentTypeError(f"duration {text!r} is out of range: use between 1s and {MAX_SPAN.days}d")
    return _dt.timedelta(seconds=seconds)


def register(subparsers: Any) -> None:
    """Add the ``analyze`` sub-command."""
    parser = subparsers.add_parser(
        "analyze", help="find drift, data-quality, path, latency and quality problems in a window",
        description="Analyse model spans in the store and write findings back. Guide: "
        "'python -m pydoc modelspan.commands.analyze' and 'python -m pydoc modelspan.analyzer'.",
        epilog="Exit codes: 0 nothing flagged at --fail-on, 1 flagged, 2 nothing to analyse or "
        "misconfigured, 3 error.")
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
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default) or JSON: one document of schema modelspan.output/1 per window")
    parser.add_argument("--all", action="store_true", help="list every finding, not only the flagged ones")
    parser.add_argument("--no-write", action="store_true",
                        help="do not write findings back (with --once the store is opened read-only; scheduled runs "
                        "still save their checkpoint)")
    parser.add_argument("--fail-on", choices=("warning", "critical"),
                        help="exit 1 when a finding of this severity or worse is flagged (for cron and CI)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate every argument, open the store, analyse; exit codes in the module docstring."""
    from modelspan.analyzer._learned import MAX_WINDOWS
    from modelspan.analyzer._references import REFERENCES
    from modelspan.baseline import Baseline
    from modelspan.store import Window, open_store

    reference: str | Window = args.reference
    if args.reference not in REFERENCES:
        start, _, end = args.reference.partition("/")
        reference = Window.parse(start, end)
    if not 0 <= args.learn_thresholds <= MAX_WINDOWS:
        raise ValueError(f"--learn-thresholds must be between 0 and {MAX_WINDOWS}")
    since, until = _moment(args.since, "--since"), _moment(args.until, "--until")
    given = {(b.model, b.version): b for b in (Baseline.load(path) for path in args.baseline)}
    options: dict[str, Any] = {"model": args.model, "reference": reference, "write": not args.no_write,
                               "baselines": given or None, "learn_thresholds": args.learn_thresholds}
    scheduled = args.every is not None or args.catch_up  # saves its checkpoint even with --no-write
    window = None if scheduled else _window(args, since, until)  # every argument checked before the store opens
    if scheduled:
        _owed(since, args.every or args.window, args.since)
    writes = not (args.no_write and not scheduled)
    if writes:
        _output.refuse_damaged(args.store)  # findings are not written into a damaged file
    with open_store(args.store, read_only=not writes, create=False) as store:
        if window is None:
            return _scheduled(store, args, options, since)
        return _once(store, args, options, window)


def _moment(text: str | None, option: str) -> _dt.datetime | None:
    """An ISO 8601 option, refused when unreadable or before the epoch (spans are stamped since it)."""
    if not text:
        return None
    try:
        moment = _time.parse(text)
    except ValueError as exc:
        raise ValueError(f"{option}: {exc} (use e.g. 2026-11-22T10:00:00Z)") from None
    if moment < _time.EPOCH:
        raise ValueError(f"{option} {text} is before 1970: give the time of the traffic to analyse")
    return moment


def _owed(since: _dt.datetime | None, every: _dt.timedelta, text: str | None) -> None:
    """Refuse a scheduled ``--since`` that owes more than ``MAX_WINDOWS`` windows."""
    owed = 0 if since is None else (_dt.datetime.now(_dt.timezone.utc) - since) / every
    if owed > MAX_WINDOWS:
        raise ValueError(f"--since {text} is {int(owed)} windows of {every} ago (more than {MAX_WINDOWS}): "
                         "give a later --since or a longer --every")


def _window(args: argparse.Namespace, since: _dt.datetime | None, until: _dt.datetime | None) -> Window:
    """``--since``/``--until``, else the last ``--window`` up to now (not a past whole window)."""
    from modelspan.store import Window

    end = until or _dt.datetime.now(_dt.timezone.utc)
    window = Window(since if since is not None else end - args.window, end)
    if window.end <= window.start:
        raise ValueError("the window is empty: --since must be before --until")
    if window.end - window.start > MAX_SPAN:
        raise ValueError(f"the window {window.iso()[0]} .. {window.iso()[1]} is longer than {MAX_SPAN.days} days: "
                         "give a later --since or an earlier --until")
    return window


def _once(store: Store, args: argparse.Namespace, options: dict[str, Any], window: Window) -> int:
    from modelspan.analyzer import analyze

    _output.check_traffic(store, window, args.model, args.store)
    analysis = analyze(store, window, progress=None if args.format == "json" else _progress, **options)
    _show(analysis, args, _output.baseline_notes(store, analysis, options) + _output.sparse_notes(analysis))
    return _verdict(analysis, args.fail_on)


def _verdict(analysis: Analysis, fail_on: str | None) -> int:
    """1 when a flagged finding reaches ``fail_on``, else 0."""
    if fail_on is None:
        return _exit.OK
    level = findings.SEVERITIES.index(fail_on)
    worst = [doc for doc in analysis.flagged if str(doc.get(findings.SEVERITY)) in findings.SEVERITIES
             and findings.SEVERITIES.index(str(doc.get(findings.SEVERITY))) >= level]
    return _exit.FLAGGED if worst else _exit.OK


def _scheduled(store: Store, args: argparse.Namespace, options: dict[str, Any], since: _dt.datetime | None) -> int:
    from modelspan.analyzer import _scheduler

    every = args.every or args.window
    stop = threading.Event()
    verdicts: list[int] = []

    def show(analysis: Any) -> None:
        _show(analysis, args, _output.baseline_notes(store, analysis, options) + _output.sparse_notes(analysis))
        verdicts.append(_verdict(analysis, args.fail_on))
        sys.stdout.flush()

    if args.catch_up and args.every is None:
        now = _dt.datetime.now(_dt.timezone.utc)
        _scheduler.tick(store, now, every, args.lateness, on_window=show, since=since, **options)
        return max(verdicts, default=_exit.OK)
    with _stop_on_signals(stop):
        count = _scheduler.run_every(store, every, args.lateness, stop, on_window=show, since=since, **options)
    print(f"stopped after {count} windows; checkpoint saved", file=sys.stderr)
    return max(verdicts, default=_exit.OK)


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


def _show(analysis: Any, args: argparse.Namespace, notes: list[str]) -> None:
    if args.format == "json":
        print(json.dumps(_output.envelope("analyze", analysis.window, analysis.findings, notes=notes,
                                          reference=analysis.reference, written=analysis.written),
                         sort_keys=True))
        return
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    start, end = analysis.window.iso()
    shown = findings.ordered(analysis.findings if args.all else analysis.flagged)
    print(f"window {start} .. {end}, reference {analysis.reference}: {len(analysis.stats)} model versions, "
          f"{len(analysis.findings)} findings, {len(analysis.flagged)} flagged")
    for line in estimates(analysis.findings):
        print(line)
    if shown:
        print(table(shown))
    elif notes:
        print("no problems flagged among what could be analysed (see the notes above)")
    else:
        print("no problems found")


def estimates(documents: list[dict[str, Any]]) -> list[str]:
    """One line per model version with performance estimated before the labels (docs/estimation.md):
    each metric's estimate and reference band (``!`` outside it), and the realised value where labels came.

    >>> doc = {findings.TYPE: "estimated_performance", findings.MODEL_NAME: "churn", findings.MODEL_VERSION: "3",
    ...        findings.METRIC_NAME: "accuracy", findings.METRIC_VALUE: 0.71, findings.METRIC_LOWER: 0.75,
    ...        findings.METRIC_UPPER: 0.81, findings.FLAGGED: True}
    >>> estimates([doc])
    ['estimated performance churn v3: accuracy 0.71! (band 0.75..0.81)']
    """
    realised = {(d.get(findings.MODEL_NAME), d.get(findings.MODEL_VERSION), d.get(findings.METRIC_NAME)): d
                for d in documents if d.get(findings.TYPE) == findings.TYPE_ESTIMATION_GAP}
    lines: dict[tuple[Any, Any], list[str]] = {}
    for d in documents:
        if d.get(findings.TYPE) != findings.TYPE_ESTIMATED_PERFORMANCE or findings.METRIC_VALUE not in d:
            continue
        key = (d.get(findings.MODEL_NAME), d.get(findings.MODEL_VERSION))
        low, high = d.get(findings.METRIC_LOWER, float("nan")), d.get(findings.METRIC_UPPER, float("nan"))
        mark = "!" if d.get(findings.FLAGGED) else ""
        text = f"{d[findings.METRIC_NAME]} {d[findings.METRIC_VALUE]:.3g}{mark} (band {low:.3g}..{high:.3g}"
        gap = realised.get((*key, d[findings.METRIC_NAME]))
        if gap is not None and findings.METRIC_VALUE in gap:
            text += f", realised {gap[findings.METRIC_VALUE]:.3g}{'!' if gap.get(findings.FLAGGED) else ''}"
        lines.setdefault(key, []).append(text + ")")
    return [f"estimated performance {model} v{version}: {', '.join(parts)}"
            for (model, version), parts in lines.items()]


def table(rows: list[dict[str, Any]], width: int = 100) -> str:
    """A plain-text table of findings (summary cut to ``width`` characters)."""
    cells = [[str(row.get(key, "")) for _, key in _COLUMNS] for row in rows]
    cells = [[*row[:-1], row[-1] if len(row[-1]) <= width else row[-1][: width - 3] + "..."] for row in cells]
    sizes = [max([len(title), *(len(row[i]) for row in cells)]) for i, (title, _) in enumerate(_COLUMNS)]
    lines = ["  ".join(title.ljust(size) for (title, _), size in zip(_COLUMNS, sizes, strict=True))]
    lines.append("  ".join("-" * size for size in sizes))
    lines += ["  ".join(cell.ljust(size) for cell, size in zip(row, sizes, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)
