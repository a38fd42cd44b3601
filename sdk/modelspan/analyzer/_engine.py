"""``analyze()``: one analysis run over one window, for every model version in it.

The run asks the store as little as possible and computes everything here, in shared code:

1. ``store.models(window)`` lists the model versions with spans in the window;
2. ``store.load_baseline(model, version)`` gives each one's baseline profile (its bins and
   categories are the questions' bins, so windows compare bin for bin);
3. ONE ``store.model_stats`` call answers every (model, version, window) question, the reference
   windows included (and, with ``learn_thresholds=N``, the N windows before, whose spread of drift
   scores raises each column's thresholds: ``_learned``);
4. operations, drift, data-quality, module-path and (from ``store.labelled_predictions``) model
   performance findings (type ``quality``) are computed from those sufficient statistics; for a
   baseline with a calibration, ``store.score_sums`` gives ``estimated_performance`` findings before the
   labels and ``estimation_gap`` ones with them (``_estimation_findings``, docs/estimation.md); with an
   error model, ``store.loss_sums`` gives a regressor's estimated MAE and RMSE (``_loss_findings``);
5. the incident correlator (``modelspan.analyzer.incidents``) links them with application errors;
6. findings are written back with deterministic ids, so re-running a window replaces them.

>>> from modelspan.store.sqlite import open_store  # doctest: +SKIP
>>> analysis = analyze(open_store(), Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"))  # doctest: +SKIP
>>> [f["finding.summary"] for f in analysis.flagged]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelspan import _time, findings
from modelspan.analyzer._data_quality import data_quality_findings
from modelspan.analyzer._documents import Context, reference_tag
from modelspan.analyzer._drift_findings import Thresholds, drift_findings
from modelspan.analyzer._estimation_findings import estimation_findings
from modelspan.analyzer._learned import history_windows, learned_thresholds
from modelspan.analyzer._loss_findings import loss_findings
from modelspan.analyzer._multiclass_findings import multiclass_findings
from modelspan.analyzer._operations import operations_findings
from modelspan.analyzer._paths import path_findings
from modelspan.analyzer._performance_findings import performance_findings
from modelspan.analyzer._references import Reference, resolve
from modelspan.analyzer.incidents import find_incidents
from modelspan.baseline import Baseline
from modelspan.store import ModelStats, Store, Window

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class Analysis:
    """The result of one run: every findings document, and the statistics they came from."""

    findings: list[dict[str, Any]]
    stats: list[ModelStats]
    window: Window | None = None
    reference: str = "baseline"
    incidents_checked: bool = False
    written: int = 0
    reference_stats: list[ModelStats] = field(default_factory=list)
    thresholds: dict[tuple[str, str], Thresholds] = field(default_factory=dict)
    """(model, version) -> column -> test -> the learned threshold in use (``learn_thresholds``)."""

    @property
    def flagged(self) -> list[dict[str, Any]]:
        """The findings that are problems (``finding.flagged``)."""
        return [doc for doc in self.findings if doc.get(findings.FLAGGED)]


def analyze(
    store: Store,
    window: Window,
    *,
    model: str | None = None,
    reference: str | Window = "baseline",
    write: bool = True,
    baselines: Mapping[tuple[str, str], Baseline] | None = None,
    progress: Progress | None = None,
    learn_thresholds: int = 0,
) -> Analysis:
    """Analyse ``window`` for every model version (or only ``model``) and write the findings.

    ``reference``: ``"baseline"`` (the stored profile), ``"previous"``, ``"yesterday"``,
    ``"last_week"`` or a fixed :class:`Window`. ``baselines`` overrides the stored ones (e.g. a
    JSON profile given on the command line). ``progress`` receives one line per model version.
    ``learn_thresholds``: score the N windows before ``window`` too and raise each column's drift
    thresholds to what their spread needs (``_learned``; 0, the default, keeps the fixed ones).
    """
    ref = resolve(reference, window)
    history = history_windows(window, ref, learn_thresholds)
    versions = [(name, version) for name, version, _ in store.models(window) if model is None or name == model]
    profiles = {key: _baseline(store, key, baselines) for key in versions}
    questions = []
    for name, version in versions:
        baseline = profiles[(name, version)]
        for asked in (window, ref.window, *history):  # one request answers them all
            questions.append(store.question(name, version, asked, baseline))
    answers = store.model_stats(questions)
    step = 2 + len(history)
    current, before = answers[0::step], answers[1::step]
    context = Context(window, ref.kind, ref.window, _now())
    docs: list[dict[str, Any]] = []
    learned: dict[tuple[str, str], Thresholds] = {}
    for number, (stats, reference_stats) in enumerate(zip(current, before, strict=True), start=1):
        if progress is not None:
            progress(f"[{number}/{len(current)}] {stats.model} v{stats.version}: {stats.operations.calls} calls")
        key = (stats.model, stats.version)
        past = answers[(number - 1) * step + 2:number * step]
        learned[key] = learned_thresholds(past, None if ref.profile else reference_stats, profiles[key])
        docs += _model_findings(store, context, ref, stats, reference_stats, profiles[key], learned[key])
    incidents, checked = _incidents(store, window, docs, ref.window, context.reference_tag)
    docs += incidents
    analysis = Analysis(docs, current, window, ref.kind, checked, reference_stats=before,
                        thresholds={key: value for key, value in learned.items() if value})
    if write:
        analysis.written = _replace(store, window, docs, context.reference_tag, model)
    return analysis


def _replace(store: Any, window: Window, docs: list[dict[str, Any]], tag: str, model: str | None) -> int:
    """Replace the window's findings *of this reference* as a whole and write ``docs``.

    A column that stopped drifting once late data arrived must lose its old drift evidence, which
    writing by id alone would leave behind; findings of the same window against another reference
    are kept (the store deletes by window, so they are read first and written back).
    """
    start, end = window.iso()
    others = [d for d in store.read_findings(window=window, types=list(WINDOW_TYPES), model=model)
              if d.get(findings.WINDOW_START) == start and d.get(findings.WINDOW_END) == end
              and reference_tag(d.get(findings.REFERENCE_KIND), d.get(findings.REFERENCE_START)) != tag]
    store.delete_findings(window, WINDOW_TYPES, model=model)
    if others:
        store.write_findings(others)
    return int(store.write_findings(docs)) if docs else 0


WINDOW_TYPES = (
    findings.TYPE_DRIFT, findings.TYPE_PREDICTION_DRIFT, findings.TYPE_DISTRIBUTION, findings.TYPE_DATA_QUALITY,
    findings.TYPE_NOVEL_PATH, findings.TYPE_PATH_DRIFT, findings.TYPE_LATENCY, findings.TYPE_THROUGHPUT,
    findings.TYPE_ERROR_RATE, findings.TYPE_PERFORMANCE, findings.TYPE_ESTIMATED_PERFORMANCE,
    findings.TYPE_ESTIMATION_GAP,
)
"""Finding types the engine writes per analysed window (incidents are keyed by their episodes instead)."""


def _model_findings(store: Store, context: Context, ref: Reference, stats: ModelStats, reference_stats: ModelStats,
                    baseline: Baseline | None, thresholds: Thresholds | None = None) -> list[dict[str, Any]]:
    """Every finding about one model version (drift and paths against the profile or the window)."""
    profile_side = None if ref.profile else reference_stats
    docs = operations_findings(context, stats, reference_stats)
    docs += drift_findings(context, stats, profile_side, baseline, thresholds)
    docs += data_quality_findings(context, stats, profile_side, baseline)
    docs += path_findings(context, stats, profile_side, baseline)
    labelled = store.labelled_predictions(context.window, stats.model, stats.version)
    if baseline is not None and baseline.calibration is not None:
        docs += estimation_findings(store, context, stats.model, stats.version, baseline.calibration, labelled)
    if baseline is not None and baseline.error_model is not None:
        docs += loss_findings(store, context, stats.model, stats.version, baseline.error_model, labelled)
    if baseline is not None and baseline.multiclass_calibration is not None:
        docs += multiclass_findings(store, context, stats.model, stats.version, baseline.multiclass_calibration,
                                    labelled)
    if labelled:
        reference_labelled = store.labelled_predictions(ref.window, stats.model, stats.version)
        docs += performance_findings(context, stats.model, stats.version, labelled, reference_labelled,
                                     float(store.interval_seconds))
    return docs


def _baseline(store: Store, key: tuple[str, str], given: Mapping[tuple[str, str], Baseline] | None) -> Baseline | None:
    if given is not None and key in given:
        return given[key]
    return store.load_baseline(*key)


def _incidents(store: Store, window: Window, model_findings: list[dict[str, Any]],
               reference: Window, tag: str = "") -> tuple[list[dict[str, Any]], bool]:
    """The incident correlator's findings (application episodes and incidents) for ``window``."""
    return find_incidents(store, window, model_findings, reference=reference, reference_tag=tag), True


def _now() -> str:
    return _time.iso(_dt.datetime.now(_dt.timezone.utc))
