"""Correlation: which application incidents the model caused, through the traces they share.

For every application episode the backend returns a sample of the affected requests' trace ids
(failed requests for an error spike, requests slower than the baseline p95 for a latency spike; up
to ``MAX_TRACES``, most affected first) and what the model spans inside those traces say. A failed
request is *explained by the model* when its trace holds

* a model or module span that failed (the exception went through the model), or
* a model span that failed a data-quality check (missing, NaN, wrong type, out of range, unseen
  category: ``ml.quality.<check>.count > 0``) **that sets the failing requests apart**: the check
  (or one of its features) is at least ``MIN_LIFT`` more common in the failing requests' traces
  than in a control sample of the same model versions' calls in the window. Out-of-range values at
  their usual rate, or a drifted feature every call carries, are in the failing requests because
  they are in *all* requests; they explain nothing.

Drift on its own never explains failed requests: it is a property of every call to the version,
failing or not (the correlator once put an application-only outage down to a drifting model that
its requests merely called). Drift findings of an implicated version are still linked.

For a latency spike only failures and spans of a sub-module with a flagged latency regression
count: bad inputs make wrong answers, not slow ones.

``incident.evidence.share`` is the explained share of the sampled affected requests. At least
``MIN_SHARE`` makes the incident ``correlated``; otherwise it is ``application_only``. The features
named are those that best tell the failing requests apart (highest lift first, missing values
included). The implicated sub-module is the failing module span deepest in the call (the shortest
failing module span of each trace, since a child span lies inside its parent), or the regressed
module for latency. Flagged model findings no correlated incident claims become ``model_only``
incidents, one per model version.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from modelspan import _time, semconv
from modelspan import findings as F
from modelspan.store.traces import MAX_TRACES as MAX_TRACES
from modelspan.store.traces import TraceEvidence

MIN_SHARE = 0.5
MIN_LIFT = 0.2
"""How much more common a failed check must be in failing requests than in the control sample."""
DRIFT_TYPES = frozenset({F.TYPE_DRIFT, F.TYPE_PREDICTION_DRIFT})
MODEL_TYPES = frozenset({F.TYPE_DRIFT, F.TYPE_PREDICTION_DRIFT, F.TYPE_DATA_QUALITY, F.TYPE_NOVEL_PATH,
                         F.TYPE_PATH_DRIFT, F.TYPE_LATENCY, F.TYPE_THROUGHPUT, F.TYPE_ERROR_RATE, F.TYPE_PERFORMANCE})


@dataclass(frozen=True)
class Verdict:
    """The outcome of weighing one episode's traces."""

    share: float
    explained: list[str]
    """Trace ids of the explained requests."""
    models: list[tuple[str, str]]
    module: str | None
    features: list[str]
    reasons: Counter[str]
    model_findings: list[dict[str, Any]]


def overlaps(document: dict[str, Any], start: _dt.datetime, end: _dt.datetime) -> bool:
    """Whether a finding's window and ``[start, end)`` overlap (a finding without one always does)."""
    try:
        found_start = _time.parse(document[F.WINDOW_START])
        found_end = _time.parse(document[F.WINDOW_END])
    except (KeyError, TypeError, ValueError):
        return True
    return found_start < end and start < found_end


def flagged_model_findings(model_findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model findings worth an incident: flagged, of a model type, with an id and a model name.

    Anything else (measurements, application findings, incidents, malformed documents) is ignored.
    """
    return [d for d in model_findings
            if isinstance(d, dict) and d.get(F.FLAGGED) is True and d.get(F.TYPE) in MODEL_TYPES
            and d.get(F.ID) is not None and d.get(F.MODEL_NAME) is not None]


def weigh(kind: str, start: _dt.datetime, end: _dt.datetime, traces: Sequence[str],
          evidence: dict[str, TraceEvidence], model_findings: Sequence[dict[str, Any]], *,
          control: dict[str, TraceEvidence] | None = None) -> Verdict:
    """Share of ``traces`` explained by the model, and who is implicated.

    ``control``: evidence of a sample of the model versions' calls in the window (failing or not);
    without one, the checks' usual share is taken as 0.
    """
    live = [d for d in model_findings if overlaps(d, start, end)]
    slow_modules = {str(d[F.MODULE_NAME]) for d in live if d[F.TYPE] == F.TYPE_LATENCY and d.get(F.MODULE_NAME)}
    seen_in = [evidence[trace] for trace in traces if trace in evidence]
    lift = _lift(seen_in, list((control or {}).values())) if kind == "errors" else {}
    telling = {signal for signal, value in lift.items() if value >= MIN_LIFT}
    reasons: Counter[str] = Counter()
    explained, modules, models, features = [], Counter[str](), Counter[tuple[str, str]](), Counter[str]()
    for trace in traces:
        seen = evidence.get(trace)
        if seen is None:
            continue
        why = _reasons(kind, seen, telling, slow_modules)
        if not why:
            continue
        explained.append(trace)
        reasons.update(why)
        models.update(seen.models)
        for signal in seen.signals() & telling:
            if ":" in signal:
                features[signal.split(":", 1)[1]] += 1
        module = seen.innermost_error() if "error" in why else None
        if module is None and "latency" in why:
            module = max((m for m in seen.modules if m in slow_modules), key=lambda m: seen.modules[m])
        if module is not None:
            modules[module] += 1
    implicated = [m for m, _ in models.most_common()]
    linked = [d for d in live if (str(d[F.MODEL_NAME]), str(d.get(F.MODEL_VERSION, ""))) in set(implicated)]
    return Verdict(
        share=len(explained) / len(traces) if traces else 0.0,
        explained=explained,
        models=implicated,
        module=_top(modules),
        features=_best_features(features, lift, linked),
        reasons=reasons,
        model_findings=linked,
    )


def _lift(failing: Sequence[TraceEvidence], control: Sequence[TraceEvidence]) -> dict[str, float]:
    """Per signal (``check`` or ``check:feature``): its share in ``failing`` minus its share in ``control``."""
    if not failing:
        return {}
    counted = Counter(signal for seen in failing for signal in seen.signals())
    usual = Counter(signal for seen in control for signal in seen.signals())
    return {signal: n / len(failing) - (usual[signal] / len(control) if control else 0.0)
            for signal, n in counted.items()}


def _best_features(counts: Counter[str], lift: dict[str, float], linked: Sequence[dict[str, Any]]) -> list[str]:
    """Features that best tell the failing requests apart (highest lift), then drifted ones linked."""
    best: dict[str, float] = {}
    for signal, value in lift.items():
        if ":" in signal and counts.get(signal.split(":", 1)[1]):
            feature = signal.split(":", 1)[1]
            best[feature] = max(best.get(feature, -1.0), value)
    ranked = sorted(best, key=lambda f: (-best[f], -counts[f], f))
    drifted = [str(d[F.FEATURE_NAME]) for d in linked if d[F.TYPE] in DRIFT_TYPES and d.get(F.FEATURE_NAME)]
    return ranked + [f for f in dict.fromkeys(drifted) if f not in best]


def _reasons(kind: str, seen: TraceEvidence, telling: set[str], slow_modules: set[str]) -> list[str]:
    why = []
    if seen.model_errors or seen.error_modules:
        why.append("error")
    if kind == "latency":  # bad inputs make wrong answers, not slow ones
        if slow_modules & set(seen.modules):
            why.append("latency")
        return why
    signals = seen.signals() & telling
    why.extend(check for check in semconv.CHECKS if check in signals
               or any(s.startswith(check + ":") for s in signals))
    return why


def _top(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
