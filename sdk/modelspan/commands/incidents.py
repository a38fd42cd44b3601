"""``modelspan incidents``: is it the model? Application incidents, correlated with model findings.

    modelspan incidents                                   # the last hour, up to now
    modelspan incidents --window 15m --format json
    modelspan incidents --since 2026-11-22T10:00:00Z --until 2026-11-22T11:00:00Z --store http://es:9200
    modelspan incidents --analyze --window 1h              # run the model analysis first

``--reference`` is one rule for both sides, the same as ``modelspan analyze``'s: ``baseline`` (the
default), ``previous``, ``yesterday``, ``last_week`` or ``START/END``. Application traffic is compared
with that reference's production window (for ``baseline``: the window of the same length just
before, since application spans have no profile); the model side uses the findings of that same
reference. Without ``--analyze`` those come from the store (written by ``modelspan analyze``):
every flagged model finding of that reference whose window overlaps the asked one. Application
incidents are always computed fresh from the application spans. With ``--analyze`` the analyzer
runs over the window first, against the same reference (and, as always, writes its findings,
incidents included, unless ``--no-write``). The window is the last ``--window`` up to now (not
aligned, unlike ``analyze``), or ``--since``/``--until``.
Findings and incidents are written back (replacing earlier ones by ``finding.id``) unless
``--no-write`` (which opens the store read-only). ``--format json`` prints one document of schema
``modelspan.output/1`` (``docs/cli.md``). Exit code 0 (whether or not there are incidents), 2 on bad
arguments or no store at the path, 3 when the store cannot be read or Elasticsearch is unreachable.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelspan import findings as F
from modelspan.commands import _output
from modelspan.commands.analyze import duration

if TYPE_CHECKING:
    from modelspan.store import Store

_LOOK_AROUND = _dt.timedelta(days=1)
"""Stored findings are read from windows this far around the asked one, then kept if they overlap."""


def register(subparsers: Any) -> None:
    """Add the ``incidents`` sub-command."""
    parser = subparsers.add_parser(
        "incidents", help="application error/latency incidents and whether the model caused them",
        description="Detect error-rate and latency spikes per service and route from application spans and "
        "correlate them with model findings through shared traces (details: python -m pydoc "
        "modelspan.commands.incidents).")
    parser.add_argument("--window", type=duration, default=_dt.timedelta(hours=1),
                        help="how far back from now (default 1h); ignored with --since")
    parser.add_argument("--since", help="window start (ISO 8601, UTC unless an offset is given)")
    parser.add_argument("--until", help="window end (ISO 8601; default now)")
    parser.add_argument("--store", help="SQLite file or Elasticsearch URL (default: MODELSPAN_STORE, "
                        "ELASTICSEARCH_URL, ./modelspan.db)")
    parser.add_argument("--reference", default="baseline",
                        help="what the window is compared with, as in 'modelspan analyze': baseline (default; "
                        "application traffic then uses the previous window), previous, yesterday, last_week, "
                        "or START/END in ISO 8601")
    parser.add_argument("--analyze", action="store_true", help="run the model analysis over the window first")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default) or one JSON document of schema modelspan.output/1")
    parser.add_argument("--no-write", action="store_true", help="do not write findings back to the store")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Detect, correlate, print; see the module docstring for the exit codes."""
    try:
        window = _window(args)
        reference = _reference(args.reference, window)
        store = _open(args.store, read_only=args.no_write)
    except (ValueError, OSError, ImportError) as exc:
        print(f"modelspan incidents: {exc}", file=sys.stderr)
        return 2
    try:
        documents = _incidents(store, window, reference, analyze_first=args.analyze, write=not args.no_write)
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(_output.envelope("incidents", window, documents), sort_keys=True))
    else:
        print(table(documents, window))
    return 0


def _window(args: argparse.Namespace) -> Any:
    from modelspan.store import Window

    now = _dt.datetime.now(_dt.timezone.utc)
    end = Window.parse(args.until, args.until).end if args.until else now
    start = Window.parse(args.since, args.since).start if args.since else end - args.window
    if end <= start:
        raise ValueError("the window is empty (--since must be before --until)")
    return Window(start, end)


def _reference(text: str, window: Any) -> Any:
    """The reference as ``analyze`` takes it: a name, or a fixed :class:`Window` (checked here)."""
    from modelspan.analyzer._references import REFERENCES, resolve
    from modelspan.store import Window

    if text in REFERENCES:
        return text
    start, _, end = text.partition("/")
    fixed = Window.parse(start, end)
    resolve(fixed, window)  # raises on an empty window
    return fixed


def _open(target: str | None, *, read_only: bool = False) -> Store:
    """The store named by ``target`` (``modelspan.store.open_store``; read-only for ``--no-write``)."""
    from modelspan.store import open_store

    return open_store(target, read_only=read_only, create=False)


def _incidents(store: Store, window: Any, reference: Any, *, analyze_first: bool,
               write: bool) -> list[dict[str, Any]]:
    """Application findings and incidents for ``window`` (written back when ``write``)."""
    from modelspan.analyzer._documents import reference_tag
    from modelspan.analyzer._references import resolve
    from modelspan.analyzer.incidents import find_incidents
    from modelspan.analyzer.incidents._correlate import MODEL_TYPES, overlaps
    from modelspan.store import Window

    if analyze_first:
        from modelspan.analyzer import analyze  # type: ignore[attr-defined,unused-ignore]

        analysis = analyze(store, window, reference=reference, write=write)
        kinds = (F.TYPE_INCIDENT, F.TYPE_APP_ERRORS, F.TYPE_APP_LATENCY)
        return [d for d in analysis.findings if d.get(F.TYPE) in kinds]
    ref = resolve(reference, window)
    tag = reference_tag(ref.kind, ref.window.iso()[0])
    around = Window(window.start - _LOOK_AROUND, window.end + _LOOK_AROUND)
    stored = store.read_findings(window=around, types=sorted(MODEL_TYPES))
    model_findings = [d for d in stored if overlaps(d, window.start, window.end) and (
        F.REFERENCE_KIND not in d or reference_tag(d[F.REFERENCE_KIND], d.get(F.REFERENCE_START)) == tag)]
    documents: list[dict[str, Any]] = find_incidents(store, window, model_findings, reference=ref.window,
                                                     reference_tag=tag)
    if write and documents:
        store.write_findings(documents)
    return documents


def table(documents: Sequence[dict[str, Any]], window: Any) -> str:
    """Incidents, most severe first, then the most recent (``findings.ordered``), each with its summary."""
    start, end = window.iso()
    incidents = F.ordered(d for d in documents if d.get(F.TYPE) == F.TYPE_INCIDENT)
    if not incidents:
        return f"no incidents between {start} and {end}"
    rows = [("SEVERITY", "KIND", "SHARE", "WHERE", "MODEL", "MODULE", "FROM")]
    for incident in incidents:
        share = incident.get(F.INCIDENT_EVIDENCE_SHARE)
        model = " v".join(str(incident[k]) for k in (F.MODEL_NAME, F.MODEL_VERSION) if incident.get(k))
        where = " ".join(str(incident[k]) for k in (F.SERVICE_NAME, F.ROUTE) if incident.get(k))
        rows.append((str(incident.get(F.SEVERITY, "-")), str(incident[F.INCIDENT_KIND]),
                     "-" if share is None else f"{share:.0%}", where or "-",
                     model or "-", str(incident.get(F.MODULE_NAME, "-")), str(incident.get(F.WINDOW_START, ""))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"{len(incidents)} incidents between {start} and {end}"]
    for number, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if number:
            incident = incidents[number - 1]
            lines.append(f"    {incident.get(F.SUMMARY, '')}")
            if incident.get(F.TRACE_IDS):
                lines.append(f"    traces: {', '.join(incident[F.TRACE_IDS][:3])}")
    return "\n".join(lines)
