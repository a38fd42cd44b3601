"""From per-arm statistics to a verdict: SRM first, then effects, then false-discovery control.

Order matters (``docs/experiments.md``):

1. :func:`~modelspan.analyzer.experiments.srm.sample_ratio_mismatch` on the units per arm. If it fires,
   every effect is withheld and the verdict is ``srm``: the arms are not comparable.
2. :func:`~modelspan.analyzer.experiments.sequential.msprt` per (metric, challenger arm) against the
   control arm: always-valid interval and p-value.
3. Benjamini-Hochberg (``modelspan.analyzer.multiple_testing``) over the always-valid p-values of all
   metrics x arms; an effect is significant only if its q-value is at most ``design.fdr`` *and* its
   interval excludes zero.

An arm ``wins`` when at least one metric is significantly better and none significantly worse, and
``loses`` when any metric is significantly worse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from modelspan.analyzer.experiments.sequential import Design, Sequential, msprt
from modelspan.analyzer.experiments.srm import SampleRatio, sample_ratio_mismatch
from modelspan.analyzer.multiple_testing import benjamini_hochberg

WIN = "win"
LOSE = "lose"
INCONCLUSIVE = "inconclusive"
NOT_ENOUGH_DATA = "not_enough_data"
SRM = "srm"


@dataclass(frozen=True)
class Moments:
    """Mergeable per-unit sufficient statistics of one metric in one arm: ``count`` units, the
    ``total`` and ``total_sq`` (sum of squares) of their values (for a 0/1 metric, ``total_sq ==
    total``)."""

    count: int
    total: float
    total_sq: float

    def merge(self, other: Moments) -> Moments:
        return Moments(self.count + other.count, self.total + other.total, self.total_sq + other.total_sq)


@dataclass(frozen=True)
class Effect:
    """One metric of one challenger arm against the control: ``difference`` (arm - control), its
    always-valid interval, p-value, BH q-value and ``direction`` (``better``/``worse``/``none``, or
    ``not_enough_data``)."""

    metric: str
    arm: str
    control: str
    difference: float | None
    lower: float | None
    upper: float | None
    p_value: float | None
    q_value: float | None
    direction: str


@dataclass(frozen=True)
class Verdict:
    """``status`` of the experiment (``srm``, ``not_enough_data`` or ``analysed``), the SRM check,
    the effects (empty when SRM fires) and a verdict per challenger arm."""

    status: str
    sample_ratio: SampleRatio
    effects: tuple[Effect, ...]
    arms: Mapping[str, str]


def _num(x: float) -> float | None:
    return None if x != x else float(x)  # NaN -> None


def _raw_effects(
    metrics: Mapping[str, Mapping[str, Moments]], control: str, design: Design, taus: Mapping[str, float]
) -> list[tuple[str, str, Sequential]]:
    out: list[tuple[str, str, Sequential]] = []
    for metric, per_arm in sorted(metrics.items()):
        metric_design = replace(design, tau=taus[metric]) if metric in taus else design
        base = per_arm.get(control)
        for arm, moments in sorted(per_arm.items()):
            if arm == control or base is None:
                continue
            result = msprt((base.count, base.total, base.total_sq),
                           (moments.count, moments.total, moments.total_sq), metric_design)
            out.append((metric, arm, result))
    return out


def evaluate(
    units: Mapping[str, int],
    weights: Mapping[str, float],
    metrics: Mapping[str, Mapping[str, Moments]],
    control: str,
    design: Design,
    lower_is_better: Sequence[str] = (),
    taus: Mapping[str, float] | None = None,
) -> Verdict:
    """The experiment's verdict from ``units`` per arm, the design's ``weights`` and per-arm
    ``metrics`` (``{metric: {arm: Moments}}``). Metrics named in ``lower_is_better`` (error rate,
    latency) are better when they go down; ``taus`` gives a metric its own mixture spread (in its own
    units, e.g. milliseconds for latency) instead of ``design.tau``.

    >>> v = evaluate({"A": 10400, "B": 9600}, {"A": 0.5, "B": 0.5},
    ...              {"error": {"A": Moments(10400, 2080, 2080), "B": Moments(9600, 1500, 1500)}},
    ...              "A", Design(tau=0.02), lower_is_better=["error"])
    >>> v.status, v.effects, dict(v.arms)
    ('srm', (), {'B': 'srm'})
    """
    arms = sorted(set(units) | set(weights))
    if control not in arms:
        raise ValueError(f"control arm {control!r} is not among the arms {arms}")
    srm = sample_ratio_mismatch([units.get(a, 0) for a in arms], [weights.get(a, 0.0) for a in arms],
                                design.srm_alpha)
    challengers = [a for a in arms if a != control]
    if srm.mismatch:
        return Verdict(SRM, srm, (), {a: SRM for a in challengers})
    effects = _effects(metrics, control, design, lower_is_better, taus or {})
    verdicts = {a: _arm_verdict([e for e in effects if e.arm == a]) for a in challengers}
    status = NOT_ENOUGH_DATA if all(v == NOT_ENOUGH_DATA for v in verdicts.values()) else "analysed"
    return Verdict(status, srm, tuple(effects), verdicts)


def _effects(
    metrics: Mapping[str, Mapping[str, Moments]], control: str, design: Design, lower_is_better: Sequence[str],
    taus: Mapping[str, float],
) -> list[Effect]:
    raw = _raw_effects(metrics, control, design, taus)
    p_values = [float(r.p_value) if bool(r.enough_data) else None for _, _, r in raw]
    q_values = benjamini_hochberg(p_values, design.fdr)[1].tolist() if raw else []
    effects = []
    for (metric, arm, r), q in zip(raw, q_values, strict=True):
        enough = bool(r.enough_data)
        lower, upper = _num(float(r.lower)), _num(float(r.upper))
        direction = NOT_ENOUGH_DATA if not enough else "none"
        if enough and q <= design.fdr and lower is not None and upper is not None and (lower > 0 or upper < 0):
            direction = "worse" if (lower > 0) == (metric in lower_is_better) else "better"
        p_value = _num(float(r.p_value)) if enough else None
        difference = _num(float(r.difference))
        effects.append(Effect(metric, arm, control, difference, lower, upper, p_value, _num(q), direction))
    return effects


def _arm_verdict(effects: list[Effect]) -> str:
    if not effects or all(e.direction == NOT_ENOUGH_DATA for e in effects):
        return NOT_ENOUGH_DATA
    if any(e.direction == "worse" for e in effects):
        return LOSE
    if any(e.direction == "better" for e in effects):
        return WIN
    return INCONCLUSIVE
