"""Backend-neutral statistics of one experiment, as both stores return them.

``UnitStats`` are mergeable sums per (arm, unit) of served calls, from which the analyzer builds
per-unit metrics (``modelspan.analyzer.experiments.analysis``); ``unit=None`` holds the calls that
carried no unit, which the analyzer treats as units of one call each (their sums of squares make
that exact). ``ArmOps`` and ``ShadowOps`` are the descriptive per-arm and shadow summaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UnitStats:
    """Served calls of one unit in one arm: counts and sums (``labelled``/``correct`` need labels)."""

    arm: str
    unit: str | None
    calls: int
    errors: int
    duration_ms_sum: float
    duration_ms_sum_sq: float
    labelled: int = 0
    correct: int = 0


@dataclass(frozen=True)
class ArmOps:
    """One arm's served calls: latency percentiles (ms), top labels, mean value, realised accuracy
    (``None`` where the backend cannot join labels, or there are none)."""

    arm: str
    calls: int
    errors: int
    latency_ms: dict[str, float | None]
    labels: dict[str, int]
    value_mean: float | None
    versions: list[str]
    labelled: int | None = None
    accuracy: float | None = None


@dataclass(frozen=True)
class ShadowOps:
    """Shadow calls: how many, failed, compared with the champion, churn (1 - mean agreement), mean
    absolute difference, latency percentiles, and McNemar's discordant counts (None without labels)."""

    calls: int
    failed: int
    compared: int
    churn: float | None
    mean_abs_difference: float | None
    latency_ms: dict[str, float | None]
    champion_only_right: int | None = None
    challenger_only_right: int | None = None


@dataclass(frozen=True)
class ExperimentStats:
    """Everything the analysis of one experiment reads from a store."""

    units: list[UnitStats] = field(default_factory=list)
    arms: list[ArmOps] = field(default_factory=list)
    shadow: ShadowOps | None = None
    labels_joined: bool = True
    """False where the backend could not join labels (no accuracy, no McNemar): said in the report."""
