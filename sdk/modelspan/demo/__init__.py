"""``modelspan demo``: the whole loop on a laptop, in one call.

:func:`run_demo` trains the demo model (``_model``), profiles its training data as the baseline
(plus module paths per output from a capture run), serves it over HTTP with OpenTelemetry's ASGI
instrumentation (``_service``), drives phased traffic at it (``_traffic``, timeline in
``_scenario``), records the late labels, runs the analyzer over each phase's window and renders
the HTML report. Spans go where ``modelspan.configure()`` sends them: the embedded SQLite store,
or Elasticsearch when ``ELASTICSEARCH_URL`` is set (the analysis then reads Elasticsearch).

>>> from modelspan.demo import run_demo
>>> result = run_demo("demo.db", duration=30)  # doctest: +SKIP
>>> sorted({f["finding.type"] for f in result.flagged})  # doctest: +SKIP
['application_errors', 'data_quality', 'drift', 'incident', 'latency', 'prediction_drift', 'quality']
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import modelspan
from modelspan import findings
from modelspan.demo import _model, _scenario, _service, _traffic
from modelspan.demo._scenario import EXPECTED, Expected
from modelspan.elasticsearch.connection import is_configured, resolve_settings
from modelspan.store import Store, Window

SERVICE_NAME = "grid-demand-api"
DEFAULT_DURATION = 120.0
"""Seconds of traffic; with training, labels, analysis and the report the run takes ~2-3 minutes."""
QUICK_DURATION = 28.0
DEFAULT_RATE = 40.0
SWITCH_INTERVAL = 0.0005

__all__ = ["DEFAULT_DURATION", "EXPECTED", "QUICK_DURATION", "SERVICE_NAME", "DemoResult", "Expected", "run_demo"]


@dataclass
class DemoResult:
    """What the run did and found."""

    store: str
    """The store the analysis read: a SQLite path or the Elasticsearch URL."""
    report: str | None
    window: Window
    phases: dict[str, Window]
    traffic: _traffic.Traffic
    labels: int
    by_phase: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """The findings of each phase's analysis run (application findings carry their episode's window)."""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [doc for docs in self.by_phase.values() for doc in docs]

    @property
    def flagged(self) -> list[dict[str, Any]]:
        return [doc for doc in self.findings if doc.get(findings.FLAGGED)]

    def traffic_summary(self) -> str:
        """One line per phase: requests, failed requests, labels."""
        lines = [f"traffic: {len(self.traffic.sent)} requests, {self.labels} late labels recorded"]
        for phase in self.traffic.phases:
            lines.append(f"  {phase.name:<13} {self.traffic.count(phase.name):5d} requests "
                         f"{self.traffic.count(phase.name, ok=False):4d} failed  ({phase.description})")
        return "\n".join(lines)


def elasticsearch_configured() -> bool:
    """True when ``configure()`` will export to Elasticsearch (and the analysis must read it)."""
    return is_configured()


def run_demo(
    store_path: str | os.PathLike[str] | None = None,
    duration: float = DEFAULT_DURATION,
    *,
    report_path: str | os.PathLike[str] | None = "modelspan-report.html",
    rate: float = DEFAULT_RATE,
    seed: int = 7,
    stream: TextIO | None = None,
    tracer_provider: Any = None,
) -> DemoResult:
    """Run the scenario for ``duration`` seconds of traffic and analyse it; see the module docstring.

    ``store_path``: the SQLite file (default ``MODELSPAN_STORE`` or ``./modelspan.db``), ignored
    when Elasticsearch is configured. ``stream`` receives progress (default stderr).
    ``tracer_provider``: an application's provider to join (default: the global one).
    """
    from modelspan.analyzer import analyze
    from modelspan.store import open_store

    out = stream if stream is not None else sys.stderr
    timings: dict[str, float] = {}
    began = time.monotonic()
    path = None if elasticsearch_configured() else str(store_path or os.environ.get("MODELSPAN_STORE", "modelspan.db"))
    # Train and capture before configure(): the capture run is profiled, not exported.
    model, baseline, validation = _model.train(seed)
    baseline = _model.capture_paths(model, baseline, validation)
    store = open_store(path)
    try:
        _check_setup(store, out)
        store.save_baseline(baseline)
        modelspan.configure(service_name=SERVICE_NAME, environment="demo", store=path, baselines=[baseline],
                            tracer_provider=tracer_provider)
        timings["train"] = time.monotonic() - began
        out.write(f"modelspan demo: model {_model.MODEL} v{_model.VERSION} trained, baseline {baseline.id}\n")
        traffic = _serve(model, duration, rate, seed, out, tracer_provider)
        modelspan.force_flush()
        timings["traffic"] = time.monotonic() - began - timings["train"]
        labels = _late_labels(traffic, store)
        try:
            _refresh_statistics(store)
        except Exception as exc:  # a refresh only saves waiting: the next scheduled refresh shows the spans
            out.write(f"modelspan demo: could not refresh the store's view of the new spans ({exc}); the last "
                      "second of traffic may be missing from the analysis\n")
        phases = _windows(traffic)
        where = os.path.abspath(path) if path else resolve_settings().url  # never the credentials
        run = Window(phases["baseline"].start, max(window.end for window in phases.values()))
        result = DemoResult(where, None, run, phases, traffic, labels, timings=timings)
        mark = time.monotonic()
        result.by_phase = _analyze(analyze, store, phases, out)
        timings["analysis"] = time.monotonic() - mark
        if report_path is not None:
            from modelspan.report import render

            mark = time.monotonic()
            result.report = str(render(store, result.window, Path(report_path)).resolve())
            timings["report"] = time.monotonic() - mark
        timings["total"] = time.monotonic() - began
        return result
    finally:
        modelspan.shutdown()  # flush; the provider stays for the application, our exporter stops
        store.close()


def _serve(model: _model.DemandModel, duration: float, rate: float, seed: int, out: TextIO,
           tracer_provider: Any) -> _traffic.Traffic:
    timeline = _scenario.phases(model.faults, duration)
    # Service, clients and exporter share one interpreter here (in production they would not): a
    # short GIL switch interval keeps a sleeping sub-module from waiting 5 ms slices to wake up, so
    # the clean phases' latency is the model's, not the demo's own contention.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        return _drive(model, timeline, duration, rate, seed, out, tracer_provider)
    finally:
        sys.setswitchinterval(switch)


def _drive(model: _model.DemandModel, timeline: list[_traffic.Phase], duration: float, rate: float, seed: int,
           out: TextIO, tracer_provider: Any) -> _traffic.Traffic:
    with _service.Service(model, tracer_provider=tracer_provider) as service:
        out.write(f"modelspan demo: service on {service.url}, {rate:.0f} requests/s for {duration:.0f} s\n")
        for phase in timeline:
            out.write(f"  {phase.name:<13} {phase.seconds:5.1f} s  {phase.description}\n")
        return _traffic.drive(service.url, timeline, rate, seed=seed + 1,
                              progress=_traffic.Progress(duration, stream=out))


def _late_labels(traffic: _traffic.Traffic, store: Store) -> int:
    """Ground truth arrives after the fact, for every prediction the app returned."""
    pairs = [(sent.prediction_id, sent.truth) for sent in traffic.sent if sent.prediction_id]
    modelspan.record_outcomes(pairs, store=store)
    return len(pairs)


def _refresh_statistics(store: Store) -> None:
    """Make the spans just exported visible to the analysis.

    SQLite: the store went from empty to thousands of spans in a minute; refresh the planner's
    statistics, or the label join picks a full scan (10 s instead of 15 ms per window).
    Elasticsearch: refresh the span data streams, so the last second of traffic is searchable now
    rather than after the next refresh interval (outcomes and findings are written with
    ``refresh=wait_for`` by the store itself).
    """
    store.refresh()


def _analyze(analyze: Any, store: Store, phases: dict[str, Window], out: TextIO) -> dict[str, list[dict[str, Any]]]:
    """Each phase is its own window: the reference window against the training profile, every
    later phase against the reference window (module docstring of ``_scenario``)."""
    reference = phases["baseline"]
    docs: dict[str, list[dict[str, Any]]] = {}
    for name, window in phases.items():
        out.write(f"modelspan demo: analysing {name} ({window.seconds:.0f} s)\n")
        docs[name] = analyze(store, window, reference="baseline" if name == "baseline" else reference).findings
    return docs


def _windows(traffic: _traffic.Traffic) -> dict[str, Window]:
    """Each phase's time window, as the generator stamped it."""
    windows = {}
    for phase in traffic.phases:
        if phase.start is None or phase.end is None:
            raise RuntimeError(f"phase {phase.name} did not run")
        windows[phase.name] = Window(phase.start, phase.end)
    return windows


SETUP_HINT = ("Elasticsearch has no modelspan index templates: `modelspan elastic setup` has not been run "
              "against this cluster. Run it first (it pins the field types the analysis relies on, e.g. a "
              "feature whose first value is an integer must still be a double); the demo goes on with "
              "Elasticsearch's own guesses.")


def _check_setup(store: Any, out: TextIO) -> None:
    """Say plainly, before any span is written, when the cluster lacks our templates."""
    from modelspan.elasticsearch import templates

    client = getattr(store, "client", None)
    if client is None:
        return
    try:
        installed = bool(client.indices.exists_index_template(name=templates.TRACES_TEMPLATE))
    except Exception as exc:  # the demo must not die on a check; say why it could not tell
        out.write(f"modelspan demo: could not check for modelspan's index templates ({exc}); if the analysis "
                  "finds nothing, run `modelspan elastic setup` first\n")
        return
    if not installed:
        out.write(f"modelspan demo: {SETUP_HINT}\n")
