"""An experiment's definition: arms, weights, control and statistics parameters, fixed at creation.

Always-valid inference is valid only if its parameters were chosen before the data (Johari et al.
2017), so ``modelspan experiment create`` stores them once in the store (a checkpoint named
``experiment:<id>``, the same in SQLite and Elasticsearch) and refuses to change them later.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from modelspan.analyzer.experiments.sequential import MIN_UNITS, Design

ERROR_RATE = "error_rate"
LATENCY_MS = "latency_ms"
ACCURACY = "accuracy"
METRICS = (ERROR_RATE, LATENCY_MS, ACCURACY)
LOWER_IS_BETTER = (ERROR_RATE, LATENCY_MS)
DEFAULT_TAUS = {ERROR_RATE: 0.02, LATENCY_MS: 10.0, ACCURACY: 0.02}
"""Mixture spread per metric, in its units: two points of error rate or accuracy, ten milliseconds."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Definition:
    """``arms`` maps each arm to its designed weight; ``control`` is the arm effects are measured against.

    >>> d = Definition("ranker-v2", {"champion": 0.9, "challenger": 0.1}, "champion", created_at="2026-12-01T00:00:00Z")
    >>> Definition.from_json(d.to_json()) == d
    True
    """

    id: str
    arms: dict[str, float]
    control: str
    created_at: str = field(default_factory=_now)
    alpha: float = 0.05
    srm_alpha: float = 0.001
    min_units: int = MIN_UNITS
    fdr: float = 0.05
    taus: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TAUS))

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("an experiment needs an id")
        if len(self.arms) < 2 or any(not (w > 0) for w in self.arms.values()):
            raise ValueError(f"an experiment needs at least two arms with positive weights, got {self.arms}")
        if self.control not in self.arms:
            raise ValueError(f"control arm {self.control!r} is not one of {sorted(self.arms)}")
        unknown = set(self.taus) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metrics {sorted(unknown)}; known: {list(METRICS)}")
        self.design(ERROR_RATE)  # validates alpha, srm_alpha, fdr, min_units and the taus
        for metric in self.taus:
            self.design(metric)

    def design(self, metric: str = ERROR_RATE) -> Design:
        return Design(tau=self.taus.get(metric, DEFAULT_TAUS[metric]), alpha=self.alpha, srm_alpha=self.srm_alpha,
                      min_units=self.min_units, fdr=self.fdr)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Definition:
        body: dict[str, Any] = json.loads(text)
        return cls(**body)


def checkpoint_name(experiment: str) -> str:
    return f"experiment:{experiment}"


def load(store: Any, experiment: str) -> Definition | None:
    """The stored definition of ``experiment``, or None if it was never created."""
    text = store.get_checkpoint(checkpoint_name(experiment))
    return None if text is None else Definition.from_json(text)


def create(store: Any, definition: Definition) -> Definition:
    """Store ``definition``; the stored one if an identical one exists. ``ValueError`` if it differs."""
    existing = load(store, definition.id)
    if existing is not None:
        same = asdict(existing) | {"created_at": ""} == asdict(definition) | {"created_at": ""}
        if not same:
            raise ValueError(f"experiment {definition.id!r} exists with other parameters (created "
                             f"{existing.created_at}); parameters are fixed at creation")
        return existing
    store.set_checkpoint(checkpoint_name(definition.id), definition.to_json())
    return definition
