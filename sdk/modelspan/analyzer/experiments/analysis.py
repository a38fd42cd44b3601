"""One experiment's analysis: per-arm operations and quality, by unit, then the verdict.

Served calls (``ml.span.kind = "model"``) make the arms' statistics; shadow calls never do (they
served no one) and make the churn section instead. The unit of analysis is the experiment unit
(``ml.experiment.unit``): a unit's metric is the mean over its calls (its error rate, its mean
latency, its accuracy on labelled calls), and the arms are compared over units, because requests of
one user are not independent. Calls without a unit count as units of one call (said in the report).

The report is a JSON-able dict (``docs/experiments.md``); :func:`findings` turns it into ``experiment``
findings and :func:`exit_code` into the promotion gate.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelspan import findings as F
from modelspan import semconv
from modelspan.analyzer.experiments import verdict as V
from modelspan.analyzer.experiments.definition import ACCURACY, ERROR_RATE, LATENCY_MS, LOWER_IS_BETTER, Definition
from modelspan.analyzer.experiments.paired import mcnemar
from modelspan.analyzer.latency import percentiles
from modelspan.store._es_queries import Window
from modelspan.store._sqlite_experiments import ExperimentCall

TYPE_EXPERIMENT = "experiment"
TOP_LABELS = 10
EXIT_PROMOTE, EXIT_WAIT, EXIT_ERROR, EXIT_REJECT, EXIT_SRM = 0, 1, 2, 3, 4
"""Exit codes of ``modelspan experiment show`` (the promotion gate, ``docs/experiments.md``)."""


def _correct(call: ExperimentCall, label: str | None) -> bool | None:
    if call.actual is None or label is None:
        return None
    return semconv.category_value(call.actual) == label


def _unit_metrics(calls: Sequence[ExperimentCall]) -> dict[str, dict[str, list[float]]]:
    """``{metric: {arm: [per-unit value]}}`` over served calls."""
    per_unit: dict[tuple[str, str], list[ExperimentCall]] = defaultdict(list)
    for call in calls:
        per_unit[(call.arm, call.unit or "call:" + call.prediction_id)].append(call)
    values: dict[str, dict[str, list[float]]] = {m: defaultdict(list) for m in (ERROR_RATE, LATENCY_MS, ACCURACY)}
    for (arm, _), group in per_unit.items():
        values[ERROR_RATE][arm].append(sum(c.error for c in group) / len(group))
        values[LATENCY_MS][arm].append(float(np.mean([c.duration_ms for c in group])))
        marks = [m for m in (_correct(c, c.label) for c in group) if m is not None]
        if marks:
            values[ACCURACY][arm].append(sum(marks) / len(marks))
    return values


def _moments(values: list[float]) -> V.Moments:
    array = np.asarray(values, dtype=np.float64)
    return V.Moments(int(array.size), float(array.sum()), float(np.square(array).sum()))


def _arm_summary(arm: str, calls: list[ExperimentCall], weight: float) -> dict[str, Any]:
    units = {c.unit for c in calls if c.unit is not None}
    labels = Counter(c.label for c in calls if c.label is not None)
    marks = [m for m in (_correct(c, c.label) for c in calls) if m is not None]
    values = [c.value for c in calls if c.value is not None]
    return {
        "arm": arm, "weight": weight, "calls": len(calls),
        "units": len(units) + sum(1 for c in calls if c.unit is None),
        "errors": sum(c.error for c in calls),
        "error_rate": sum(c.error for c in calls) / len(calls) if calls else None,
        "latency_ms": {f"p{p:g}": v for p, v in percentiles([c.duration_ms for c in calls]).items()},
        "labels": dict(labels.most_common(TOP_LABELS)),
        "value_mean": float(np.mean(values)) if values else None,
        "labelled": len(marks), "accuracy": sum(marks) / len(marks) if marks else None,
        "versions": sorted({f"{c.model}:{c.version}" for c in calls}),
    }


def _shadow_summary(calls: list[ExperimentCall]) -> dict[str, Any] | None:
    if not calls:
        return None
    agreements = [c.agreement for c in calls if c.agreement is not None]
    differences = [c.difference for c in calls if c.difference is not None]
    b = c_ = 0
    for call in calls:
        champion_right, challenger_right = _correct(call, call.champion_label), _correct(call, call.label)
        if champion_right is None or challenger_right is None:
            continue
        b += champion_right and not challenger_right
        c_ += challenger_right and not champion_right
    test = mcnemar(b, c_)
    return {
        "calls": len(calls), "failed": sum(c.error for c in calls), "compared": len(agreements),
        "churn": 1.0 - float(np.mean(agreements)) if agreements else None,
        "mean_abs_difference": float(np.mean(differences)) if differences else None,
        "latency_ms": {f"p{p:g}": v for p, v in percentiles([c.duration_ms for c in calls]).items()},
        "mcnemar": {"champion_only_right": b, "challenger_only_right": c_, "statistic": test.statistic,
                    "p_value": test.p_value, "method": test.method},
    }


def analyse(calls: Sequence[ExperimentCall], definition: Definition, window: Window) -> dict[str, Any]:
    """The report of ``definition``'s experiment over ``calls`` (module docstring)."""
    served = [c for c in calls if not c.shadow and c.arm in definition.arms]
    by_arm: dict[str, list[ExperimentCall]] = {arm: [] for arm in definition.arms}
    for call in served:
        by_arm[call.arm].append(call)
    arms = [_arm_summary(arm, group, definition.arms[arm]) for arm, group in sorted(by_arm.items())]
    values = _unit_metrics(served)
    metrics = {m: {arm: _moments(v) for arm, v in per_arm.items()} for m, per_arm in values.items() if per_arm}
    units = {a["arm"]: a["units"] for a in arms}
    result = V.evaluate(units, definition.arms, metrics, definition.control, definition.design(),
                        LOWER_IS_BETTER, definition.taus)
    start, end = window.iso()
    return {
        "experiment": definition.id, "control": definition.control, "window": {"start": start, "end": end},
        "definition": {"arms": definition.arms, "alpha": definition.alpha, "srm_alpha": definition.srm_alpha,
                       "fdr": definition.fdr, "min_units": definition.min_units, "taus": definition.taus,
                       "created_at": definition.created_at,
                       "method": "mSPRT, normal mixture (Johari, Pekelis and Walsh 2017)"},
        "status": result.status, "verdicts": dict(result.arms),
        "srm": {"mismatch": result.sample_ratio.mismatch, "statistic": result.sample_ratio.statistic,
                "p_value": result.sample_ratio.p_value, "observed": list(result.sample_ratio.observed),
                "expected": list(result.sample_ratio.expected)},
        "arms": arms, "effects": [vars(e) for e in result.effects],
        "unknown_arm_calls": sum(1 for c in calls if not c.shadow and c.arm not in definition.arms),
        "calls_without_unit": sum(1 for c in served if c.unit is None),
        "shadow": _shadow_summary([c for c in calls if c.shadow]),
    }


def exit_code(report: dict[str, Any]) -> int:
    """0 promote (a challenger wins, none loses), 3 reject (any loses), 4 SRM, 1 keep waiting."""
    verdicts = set(report["verdicts"].values())
    if report["status"] == V.SRM:
        return EXIT_SRM
    if V.LOSE in verdicts:
        return EXIT_REJECT
    if V.WIN in verdicts:
        return EXIT_PROMOTE
    return EXIT_WAIT


def findings(report: dict[str, Any], analyzed_at: str) -> list[dict[str, Any]]:
    """``experiment`` findings of a report: the SRM check, one per effect, one verdict per arm."""
    start, end = report["window"]["start"], report["window"]["end"]
    experiment, control = report["experiment"], report["control"]
    units = {a["arm"]: a["units"] for a in report["arms"]}

    def base(subject: str, arm: str | None) -> dict[str, Any]:
        return {F.TIMESTAMP: end, F.ANALYZED_AT: analyzed_at, F.TYPE: F.TYPE_EXPERIMENT,
                F.ID: f"{F.TYPE_EXPERIMENT}:{experiment}:{subject}:{start}/{end}", F.EXPERIMENT_ID: experiment,
                F.EXPERIMENT_CONTROL: control, F.WINDOW_START: start, F.WINDOW_END: end,
                **({F.EXPERIMENT_ARM: arm} if arm else {})}

    srm = report["srm"]
    documents = [base("srm", None) | {
        F.TEST_NAME: "srm_chi_square", F.TEST_SCORE: srm["statistic"], F.TEST_P_VALUE: srm["p_value"],
        F.TEST_THRESHOLD: report["definition"]["srm_alpha"], F.FLAGGED: srm["mismatch"],
        F.SEVERITY: "critical" if srm["mismatch"] else "info", F.SAMPLE_COUNT: sum(units.values()),
        F.SUMMARY: (f"experiment {experiment}: sample ratio mismatch, observed {_shares(srm['observed'])} "
                    f"vs designed {_shares(srm['expected'])} (p={srm['p_value']:.2g}); effects withheld")
        if srm["mismatch"] else f"experiment {experiment}: arms split as designed (p={srm['p_value']:.2g})"}]
    for effect in report["effects"]:
        significant = effect["direction"] in ("better", "worse")
        documents.append(base(f"{effect['arm']}:{effect['metric']}", effect["arm"]) | {
            F.TEST_NAME: "msprt", F.METRIC_NAME: effect["metric"], F.METRIC_VALUE: effect["difference"],
            F.EFFECT_LOWER: effect["lower"], F.EFFECT_UPPER: effect["upper"], F.TEST_P_VALUE: effect["p_value"],
            F.TEST_P_VALUE_ADJUSTED: effect["q_value"], F.FLAGGED: significant,
            F.SEVERITY: "warning" if effect["direction"] == "worse" else "info",
            F.SAMPLE_COUNT: units.get(effect["arm"], 0), F.REFERENCE_COUNT: units.get(control, 0),
            F.SUMMARY: _effect_summary(experiment, effect)})
    for arm, verdict in sorted(report["verdicts"].items()):
        documents.append(base(f"{arm}:verdict", arm) | {
            F.EXPERIMENT_VERDICT: verdict, F.FLAGGED: verdict in (V.WIN, V.LOSE, V.SRM),
            F.SEVERITY: {V.SRM: "critical", V.LOSE: "warning"}.get(verdict, "info"),
            F.SAMPLE_COUNT: units.get(arm, 0), F.REFERENCE_COUNT: units.get(control, 0),
            F.SUMMARY: f"experiment {experiment}: arm {arm} vs {control}: {verdict}"})
    return documents


def _shares(values: Sequence[float]) -> str:
    return "/".join(f"{v:.1%}" for v in values)


def _effect_summary(experiment: str, effect: dict[str, Any]) -> str:
    head = f"experiment {experiment}: {effect['metric']} of {effect['arm']} vs {effect['control']}"
    if effect["direction"] == V.NOT_ENOUGH_DATA:
        return f"{head}: not enough data (fewer than the minimum units per arm, or no variance)"
    return (f"{head}: {effect['difference']:+.4g} [{effect['lower']:+.4g}, {effect['upper']:+.4g}] "
            f"(always-valid, q={effect['q_value']:.2g}): {effect['direction']}")
