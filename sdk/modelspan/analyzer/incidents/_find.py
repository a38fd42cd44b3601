"""Orchestration: detect application episodes, weigh their traces, write incident documents.

Whatever the number of spans, a run asks the store at most five questions (``route_series``,
``affected_traces`` for every episode at once, ``trace_evidence`` for every sampled trace at once,
and for model-only incidents ``callers``: sampled traces of each model version, then the routes they
came in by); against Elasticsearch that is one search and up to four multi-searches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import modelspan.analyzer.incidents._application as app
import modelspan.analyzer.incidents._summary as _summary
from modelspan import findings as F
from modelspan._time import iso
from modelspan.analyzer.incidents._correlate import MIN_SHARE, Verdict, flagged_model_findings, weigh
from modelspan.store import Store, Window
from modelspan.store.traces import TraceQueries


def episodes_and_traces(backend: TraceQueries, window: Window,
                        reference: Window | None) -> tuple[list[app.Episode], list[list[str]], Window]:
    reference = reference or app.previous(window)
    step = app.interval_seconds(window)
    episodes = app.detect(backend.route_series(window, reference, step), window, step)
    traces = backend.affected_traces(episodes) if episodes else []
    return episodes, traces, reference


def detect_application_incidents(store: Store, window: Window, *,
                                 reference: Window | None = None) -> list[dict[str, Any]]:
    """Findings of type ``application_errors`` / ``application_latency`` for ``window``.

    ``reference`` defaults to the window of the same length just before ``window``; a route with
    too few requests there is compared with its own median interval instead (see ``_application``).

    >>> hour = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
    >>> detect_application_incidents(store, hour)  # doctest: +SKIP
    [{'finding.type': 'application_errors', 'http.route': '/checkout', ...}]
    """
    backend = store.traces()
    episodes, traces, reference = episodes_and_traces(backend, window, reference)
    return [app.finding(e, window, reference, t) for e, t in zip(episodes, traces, strict=True)]


def find_incidents(store: Store, window: Window, model_findings: Iterable[dict[str, Any]], *,
                   reference: Window | None = None) -> list[dict[str, Any]]:
    """Application findings plus incident findings (correlated, application_only, model_only).

    ``model_findings`` are the analyzer's findings for ``window`` (drift, quality, latency, ...);
    only flagged ones take part. Returns the ``application_*`` findings followed by the incidents,
    all with deterministic ``finding.id`` so a re-run replaces them.
    """
    backend = store.traces()
    flagged = flagged_model_findings(model_findings)
    episodes, traces, reference = episodes_and_traces(backend, window, reference)
    evidence = backend.trace_evidence(traces) if episodes else []
    documents: list[dict[str, Any]] = []
    incidents: list[dict[str, Any]] = []
    claimed: set[str] = set()
    for episode, sample, seen in zip(episodes, traces, evidence, strict=True):
        documents.append(app.finding(episode, window, reference, sample))
        verdict = weigh(episode.kind, episode.start, episode.end, sample, seen, flagged)
        incident = _application_incident(episode, verdict, sample, window)
        if incident[F.INCIDENT_KIND] == F.INCIDENT_CORRELATED:
            claimed.update(str(d[F.ID]) for d in verdict.model_findings)
        incidents.append(incident)
    incidents.extend(_model_only(backend, flagged, claimed, window))
    return documents + incidents


def _application_incident(episode: app.Episode, verdict: Verdict, sample: Sequence[str],
                          window: Window) -> dict[str, Any]:
    correlated = bool(sample) and verdict.share >= MIN_SHARE
    kind = F.INCIDENT_CORRELATED if correlated else F.INCIDENT_APPLICATION_ONLY
    examples = verdict.explained if correlated else list(sample)
    document: dict[str, Any] = {
        F.TIMESTAMP: iso(window.end),
        F.ID: f"incident:{episode.finding_type}:{episode.service}:{episode.route}:{iso(episode.start)}",
        F.TYPE: F.TYPE_INCIDENT,
        F.FLAGGED: True,
        F.SEVERITY: "critical" if correlated else "warning",
        F.SUMMARY: _summary.incident_summary(episode, verdict, len(sample)),
        F.INCIDENT_KIND: kind,
        F.INCIDENT_EVIDENCE_SHARE: verdict.share,
        F.INCIDENT_EVIDENCE_COUNT: len(verdict.explained),
        F.INCIDENT_EVIDENCE_REASONS: sorted(verdict.reasons),
        F.INCIDENT_APP_FINDINGS: [episode.finding_id],
        F.INCIDENT_MODEL_FINDINGS: sorted(str(d[F.ID]) for d in verdict.model_findings) if correlated else [],
        F.SERVICE_NAME: episode.service,
        F.ROUTE: episode.route,
        F.WINDOW_START: iso(episode.start),
        F.WINDOW_END: iso(episode.end),
        F.SAMPLE_COUNT: len(sample),
        F.TRACE_IDS: list(examples[: F.MAX_EXAMPLE_TRACES]),
    }
    if correlated:
        if verdict.models:
            document[F.MODEL_NAME], document[F.MODEL_VERSION] = verdict.models[0]
        if verdict.module:
            document[F.MODULE_NAME] = verdict.module
        if verdict.features:
            document[F.FEATURE_NAME] = verdict.features[0]
    return document


def _model_only(backend: TraceQueries, flagged: Sequence[dict[str, Any]], claimed: set[str],
                window: Window) -> list[dict[str, Any]]:
    """One ``model_only`` incident per model version with flagged findings no correlation claimed.

    It also says which requests the model served meanwhile: the route most of its sampled calls
    came in by (the traces' root server span), with example traces.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for document in flagged:
        if str(document.get(F.ID)) not in claimed:
            groups[(str(document[F.MODEL_NAME]), str(document.get(F.MODEL_VERSION, "")))].append(document)
    keys = sorted(groups)
    callers = backend.callers(window, keys) if keys else []
    incidents = []
    for (model, version), called in zip(keys, callers, strict=True):
        documents = sorted(groups[(model, version)], key=lambda d: (str(d[F.TYPE]), str(d.get(F.ID))))
        traces = list(dict.fromkeys([t for d in documents for t in d.get(F.TRACE_IDS) or []] + called.traces))
        incident: dict[str, Any] = {
            F.TIMESTAMP: iso(window.end),
            F.ID: f"incident:model:{model}:{version}:{iso(window.start)}",
            F.TYPE: F.TYPE_INCIDENT,
            F.FLAGGED: True,
            F.SEVERITY: "warning",
            F.SUMMARY: _summary.model_only_summary(model, version, documents, called.routes),
            F.INCIDENT_KIND: F.INCIDENT_MODEL_ONLY,
            F.INCIDENT_MODEL_FINDINGS: [str(d[F.ID]) for d in documents],
            F.INCIDENT_APP_FINDINGS: [],
            F.MODEL_NAME: model,
            F.MODEL_VERSION: version,
            F.WINDOW_START: iso(window.start),
            F.WINDOW_END: iso(window.end),
            F.TRACE_IDS: traces[: F.MAX_EXAMPLE_TRACES],
        }
        if called.routes:
            incident[F.SERVICE_NAME], incident[F.ROUTE], _ = called.routes[0]
            incident[F.SAMPLE_COUNT] = len(called.traces)
        for field in (F.FEATURE_NAME, F.MODULE_NAME):
            named = [d[field] for d in documents if d.get(field)]
            if named:
                incident[field] = str(named[0])
        incidents.append(incident)
    return incidents
