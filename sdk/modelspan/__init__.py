"""modelspan: OpenTelemetry-native monitoring for ML inference.

The public API is listed in ``__all__`` and pinned by ``tests/sdk/test_public_api.py``::

    import modelspan

    modelspan.configure(service_name="checkout", environment="prod")

    @modelspan.monitor(model="churn", version="3")
    def predict(row: dict) -> float:
        with modelspan.module("scorer"):
            return 0.3

    predict({"age": 41})
    modelspan.record_outcome(modelspan.last_prediction().id, actual=1)
"""

from __future__ import annotations

import importlib
from pkgutil import extend_path
from typing import Any

# ``modelspan.exporters`` lives in ``exporters/modelspan``; merge it in (docs/architecture.md, decision 8).
__path__ = extend_path(__path__, __name__)

from modelspan._version import __version__
from modelspan.baseline import Baseline, FeatureProfile
from modelspan.instrumentation import _profiles
from modelspan.instrumentation._config import configure, force_flush, shutdown
from modelspan.instrumentation._decorate import monitor
from modelspan.instrumentation._experiment import Assignment, assign
from modelspan.instrumentation._health import monitoring_errors
from modelspan.instrumentation._module import module
from modelspan.instrumentation._prediction import Prediction, current_prediction, last_prediction
from modelspan.instrumentation._shadow import shadow


def record_outcome(
    prediction_id: str, actual: Any, *, timestamp: Any = None, store: Any = None
) -> Any:
    """Record the ground truth of a prediction (see ``modelspan.outcomes.record_outcome``).

    >>> import modelspan
    >>> callable(modelspan.record_outcome)
    True
    """
    # The store's module, imported only when labels arrive (keeps the instrumentation light).
    outcomes = importlib.import_module("modelspan.outcomes")
    return outcomes.record_outcome(prediction_id, actual, timestamp=timestamp, store=store)


def stats() -> dict[str, int]:
    """This process's accounting (docs/profiles.md): calls profiled, spans started, spans lost before the
    store (``spans_dropped``: evicted by the export queue or dropped by an exporter), calls that have no
    span (``calls_without_span``: sampled out or lost; the analyzer's "traces incomplete"), profiles
    flushed, profile keys and flushes lost.

    >>> import modelspan
    >>> modelspan.stats()["calls"] >= modelspan.stats()["spans_started"]
    True
    """
    return _profiles.stats()


def record_outcomes(pairs: Any, store: Any = None) -> Any:
    """Record many ``(prediction_id, actual)`` pairs (see ``modelspan.outcomes``)."""
    outcomes = importlib.import_module("modelspan.outcomes")
    return outcomes.record_outcomes(pairs, store=store)


__all__: list[str] = [
    "Assignment",
    "Baseline",
    "FeatureProfile",
    "Prediction",
    "__version__",
    "assign",
    "configure",
    "current_prediction",
    "force_flush",
    "last_prediction",
    "module",
    "monitor",
    "monitoring_errors",
    "record_outcome",
    "record_outcomes",
    "shadow",
    "shutdown",
    "stats",
]
