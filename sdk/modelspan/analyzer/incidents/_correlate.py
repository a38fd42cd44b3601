"""Correlation: which application incidents the model caused, through the traces they share.

For every application episode the backend returns a sample of the affected requests' trace ids
(failed requests for an error spike, requests slower than the baseline p95 for a latency spike; up
to ``MAX_TRACES``, most affected first) and what the model spans inside those traces say. A request
is *explained by the model* when its trace holds

* a model or module span that failed (the exception went through the model), or
* a model span with an out-of-range input (``ml.quality.out_of_range.count > 0``), or
* a call to a model version with a flagged drift finding overlapping the episode (drift is a
  property of a distribution, not of one request, so the call itself is the evidence).

For a latency spike only failures and spans of a sub-module with a flagged latency regression
count: out-of-range inputs and drift make wrong answers, not slow ones.

``incident.evidence.share`` is the explained share of the sampled affected requests. At least
``MIN_SHARE`` makes the incident ``correlated``; otherwise it is ``application_only`` (the model was
not in the failing requests' path, or was there without a problem). The implicated sub-module is
the failing module span deepest in the call (the shortest failing module span of each trace, since a
child span lies inside its parent), or the regressed module for latency. Flagged model findings no
correlated incident claims become ``model_only`` incidents, one per model version.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from modelspan import _time
from modelspan import findings as F
from modelspan.store.traces import MAX_TRACES as MAX_TRACES
from modelspan.store.traces import TraceEvidence

MIN_SHARE = 0.5
DRIFT_TYPES = frozenset({F.TYPE_DRIFT, F.TYPE_PREDICTION_DRIFT})
MODEL_TYPES = frozenset({F.TYPE_DRIFT, F.TYPE_PREDICTION_DRIFT, F.TYPE_DATA_QUALITY, F.TYPE_NOVEL_PATH,
                         F.TYPE_PATH_DRIFT, F.TYPE_LATENCY, F.TYPE_THROUGHPUT, F.TYPE_ERROR_RATE, F.TYPE_QUALITY})


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
          evidence: dict[str, TraceEvidence], model_findings: Sequence[dict[str, Any]]) -> Verdict:
    """Share of ``traces`` explained by the model, and who is implicated."""
    live = [d for d in model_findings if overlaps(d, start, end)]
    drifted = {(str(d[F.MODEL_NAME]), str(d.get(F.MODEL_VERSION, ""))) for d in live if d[F.TYPE] in DRIFT_TYPES}
    slow_modules = {str(d[F.MODULE_NAME]) for d in live if d[F.TYPE] == F.TYPE_LATENCY and d.get(F.MODULE_NAME)}
    reasons: Counter[str] = Counter()
    explained, modules, models, features = [], Counter[str](), Counter[tuple[str, str]](), Counter[str]()
    for trace in traces:
        seen = evidence.get(trace)
        if seen is None:
            continue
        why = _reasons(kind, seen, drifted, slow_modules)
        if not why:
            continue
        explained.append(trace)
        reasons.update(why)
        models.update(seen.models)
        features.update(seen.out_of_range_features)
        module = seen.innermost_error() if "error" in why else None
        if module is None and "latency" in why:
            module = max((m for m in seen.modules if m in slow_modules), key=lambda m: seen.modules[m])
        if module is not None:
            modules[module] += 1
    implicated = [m for m, _ in models.most_common()]
    linked = [d for d in live if (str(d[F.MODEL_NAME]), str(d.get(F.MODEL_VERSION, ""))) in set(implicated)]
    for d in linked:
        if d[F.TYPE] in DRIFT_TYPES and d.get(F.FEATURE_NAME):
            features[str(d[F.FEATURE_NAME])] += 0
    return Verdict(
        share=len(explained) / len(traces) if traces else 0.0,
        explained=explained,
        models=implicated,
        module=_top(modules),
        features=[f for f, _ in features.most_common()],
        reasons=reasons,
        model_findings=linked,
    )


def _reasons(kind: str, seen: TraceEvidence, drifted: set[tuple[str, str]], slow_modules: set[str]) -> list[str]:
    why = []
    if seen.model_errors or seen.error_modules:
        why.append("error")
    if kind == "latency":  # bad inputs and drift make wrong answers, not slow ones
        if slow_modules & set(seen.modules):
            why.append("latency")
        return why
    if seen.out_of_range:
        why.append("out_of_range")
    if seen.models & drifted:
        why.append("drift")
    return why


def _top(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
