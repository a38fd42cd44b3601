"""What every command says about the data it was given, and the JSON document it prints.

"No data" is never "no problems": before analysing, a command refuses (exit 2, one line) a store
without model spans, an unknown ``--model`` (listing the known ones) and a window without traffic
(saying where the traffic is); after analysing, it notes the model versions whose drift could not
be analysed for want of a baseline, with the three ways to give one.

The JSON output of ``analyze``, ``incidents`` and ``report --format json`` is one object of schema
``modelspan.output/1`` (documented with examples in ``docs/cli.md``)::

    {"schema": "modelspan.output/1", "command": "analyze",
     "window": {"start": "...Z", "end": "...Z"}, "findings": [...], "flagged": 1, "notes": [...]}
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelspan import findings
from modelspan.commands._exit import NOTHING, CommandError

if TYPE_CHECKING:
    from modelspan.analyzer import Analysis
    from modelspan.store import Store, Window

SCHEMA = "modelspan.output/1"
_ALL_TIME = _dt.timedelta(days=400)
BASELINE_HELP = ("give one with configure(baselines=...) in the application, 'modelspan analyze --baseline FILE', "
                 "or build it with 'modelspan baseline --out FILE' and pass or store it")


def envelope(command: str, window: Window | None, documents: Sequence[dict[str, Any]], *,
             notes: Sequence[str] = (), **extra: Any) -> dict[str, Any]:
    """The versioned JSON document of one window's results."""
    start, end = window.iso() if window is not None else (None, None)
    return {"schema": SCHEMA, "command": command, "window": {"start": start, "end": end},
            "findings": list(documents), "flagged": sum(1 for doc in documents if doc.get(findings.FLAGGED)),
            "notes": list(notes), **extra}


def check_traffic(store: Store, window: Window, model: str | None, where: str | None) -> None:
    """Raise ``CommandError`` (exit 2) when there is nothing to analyse in ``window``, saying why."""
    from modelspan.store import Window

    seen = [row for row in store.models(window) if model is None or row[0] == model]
    if seen:
        return
    now = _dt.datetime.now(_dt.timezone.utc)
    everything = store.models(Window(now - _ALL_TIME, now + _dt.timedelta(days=1)))
    place = where or "the default store"
    known = sorted({name for name, _, _ in everything})
    if not known:
        raise CommandError(f"{place} holds no model spans: nothing to analyse (check --store, or instrument a "
                           "model and send traffic first)", NOTHING)
    if model is not None and model not in known:
        raise CommandError(f"unknown model {model!r}: {place} has {', '.join(known)}", NOTHING)
    start, end = window.iso()
    raise CommandError(f"no {'traffic of ' + model if model else 'model traffic'} in {start} .. {end}; "
                       f"{_where_traffic_is(store, model)}: use --since/--until or a longer --window", NOTHING)


def _where_traffic_is(store: Store, model: str | None) -> str:
    """Where the traffic is, found through the Store protocol on any backend: a scan of the last
    400 days in 400 intervals, then two of the part found each time (the last to a few seconds)."""
    from modelspan.report import traffic_windows
    from modelspan.store import Window

    now = _dt.datetime.now(_dt.timezone.utc)
    span = Window(now - _ALL_TIME, now + _dt.timedelta(days=1))
    for _ in range(3):
        versions = [(name, version) for name, version, _ in store.models(span) if model in (None, name)]
        if not versions:
            what = f"traffic of {model}" if model else "model traffic"
            return f"the store has no {what} in the last {_ALL_TIME.days} days"
        found = traffic_windows(store, span, versions)
        span = Window(min(w.start for w in found), max(w.end for w in found))
    first, last = (moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in (span.start, span.end))
    return f"the store has traffic from {first} to {last}"


def refuse_damaged(target: str | None) -> None:
    """Quick-check an existing SQLite store, opened read-only, before a command writes into it.

    A damaged page is refused before the writing open (which would switch the journal mode and add
    to the damage); the file stays byte-identical. Elasticsearch stores and new files pass.
    """
    from modelspan.sqlite import NoStoreError, StoreFileError, integrity_problems
    from modelspan.store import open_store

    try:
        store = open_store(target, read_only=True, create=False)
    except NoStoreError:
        return  # a new store is created by the writing open
    with store:
        connection = getattr(store, "connection", None)
        if connection is not None and integrity_problems(connection, quick=True):
            raise StoreFileError(f"{getattr(store, 'path', 'the store')} is damaged: nothing was written; run "
                                 "'modelspan store check' and restore the file from a backup")


def baseline_notes(store: Store, analysis: Analysis, options: dict[str, Any]) -> list[str]:
    """One note per model version analysed against ``baseline`` without one: its drift was not analysed."""
    if options.get("reference") != "baseline":
        return []
    given = options.get("baselines") or {}
    notes = []
    for stats in analysis.stats:
        key = (stats.model, stats.version)
        if key not in given and store.load_baseline(*key) is None:
            notes.append(f"{stats.model} v{stats.version} has no baseline, so its drift was not analysed: "
                         f"{BASELINE_HELP}")
    return notes


def sparse_notes(analysis: Analysis) -> list[str]:
    """One note per model version with drift columns too sparse for a verdict: "not enough data" said
    as such, so a window of a dozen calls never reads as "no problems found"."""
    from modelspan.analyzer.drift import MIN_SAMPLES

    sparse: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for doc in analysis.findings:
        if doc.get(findings.TYPE) not in (findings.TYPE_DRIFT, findings.TYPE_PREDICTION_DRIFT):
            continue
        counts = (doc.get(findings.SAMPLE_COUNT) or 0, doc.get(findings.REFERENCE_COUNT) or 0)
        if min(counts) < MIN_SAMPLES:
            sparse.setdefault((str(doc.get(findings.MODEL_NAME)), str(doc.get(findings.MODEL_VERSION))), []).append(doc)
    notes = []
    for (model, version), docs in sparse.items():
        current = max(int(doc.get(findings.SAMPLE_COUNT) or 0) for doc in docs)
        notes.append(f"{model} v{version}: not enough data for a drift verdict on {len(docs)} column(s) "
                     f"({current} values in the window at most; {MIN_SAMPLES} are needed in the window and in "
                     "its reference): analyse a longer window")
    return notes

