"""Plain-language summaries: one sentence an on-call engineer can act on without the dashboard.

They name the route, the model version and the sub-module, give counts rather than ratios alone,
and say why the model is (or is not) blamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelspan import findings as F
from modelspan.analyzer.incidents._application import Episode, application_summary, percent
from modelspan.analyzer.incidents._correlate import MIN_SHARE, Verdict

__all__ = ["application_summary", "incident_summary", "model_only_summary"]

_REASONS = {
    "error": "the model raised",
    "out_of_range": "an input was outside the baseline's range",
    "drift": "they called a model version whose inputs drifted",
    "latency": "a sub-module whose latency regressed ran",
}


def _model(models: Sequence[tuple[str, str]]) -> str:
    if not models:
        return "the model"
    name, version = models[0]
    return f"model {name} v{version}" if version else f"model {name}"


def incident_summary(episode: Episode, verdict: Verdict, sampled: int) -> str:
    """Why this application incident is, or is not, put down to the model."""
    what = "failing" if episode.kind == "errors" else "slow"
    head = application_summary(episode)
    explained = len(verdict.explained)
    if not verdict.explained:
        return f"{head}. Not the model: none of {sampled} {what} requests' traces show a model problem."
    reasons = ", ".join(_REASONS[r] for r, _ in verdict.reasons.most_common())
    module = f" in sub-module '{verdict.module}'" if verdict.module else ""
    features = f" (features: {', '.join(verdict.features[:3])})" if verdict.features else ""
    verdict_text = "Likely the model" if verdict.share >= MIN_SHARE else "Probably not the model"
    return (f"{head}. {verdict_text}: in {explained} of {sampled} {what} requests ({percent(verdict.share)}) "
            f"{_model(verdict.models)}{module} was implicated: {reasons}{features}.")


def model_only_summary(model: str, version: str, documents: Sequence[dict[str, Any]],
                       routes: Sequence[tuple[str, str, int]] = ()) -> str:
    """A model problem that no application error or latency spike came with, and whom it serves."""
    parts = []
    for document in documents[:3]:
        subject = document.get(F.FEATURE_NAME) or document.get(F.MODULE_NAME) or document.get(F.METRIC_NAME)
        parts.append(f"{document[F.TYPE]}" + (f" of '{subject}'" if subject else ""))
    more = f" and {len(documents) - 3} more" if len(documents) > 3 else ""
    if not routes:  # no instrumented HTTP server around the model: the impact cannot be seen
        return (f"model {model} v{version}: {', '.join(parts)}{more}; its calls are not inside instrumented "
                f"application requests, so their effect on requests is unknown.")
    listed = ", ".join(f"{route} on {service}" if service else route for service, route, _ in routes[:2])
    return (f"model {model} v{version}: {', '.join(parts)}{more}; no application error or latency spike "
            f"in the same time shows it hurting requests yet. It serves {listed}.")
