"""One experiment's analysis: per-arm operations and quality, by unit, then the verdict.

Served calls (``ml.span.kind = "model"``) make the arms' statistics; shadow calls never do (they
served no one) and make the churn section instead. The unit of analysis is the experiment unit
(``ml.experiment.unit``): a unit's metric is the mean over its calls (its error rate, its mean
latency, its accuracy on labelled calls), and the arms are compared over units, because requests of
one user are not independent. Calls without a unit count as units of one call (said in the report).

Input is the backend-neutral ``ExperimentStats`` either store returns. The report is a JSON-able
dict (``docs/experiments.md``); :func:`findings` turns it into ``experiment`` findings and
:func:`exit_code` into the promotion gate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from modelspan import findings as F
from modelspan.analyzer.experiments import verdict as V
from modelspan.analyzer.experiments.definition import ACCURACY, ERROR_RATE, LATENCY_MS, LOWER_IS_BETTER, Definition
from modelspan.analyzer.experiments.paired import mcnemar
from modelspan.store import Window
from modelspan.store._experiment_stats import ExperimentStats, ShadowOps, UnitStats

EXIT_PROMOTE, EXIT_WAIT, EXIT_ERROR, EXIT_REJECT, EXIT_SRM = 0, 1, 2, 3, 4
"""Exit codes of ``modelspan experiment show`` (the promotion gate, ``docs/experiments.md``)."""


def _add(table: dict[str, V.Moments], arm: str, count: int, total: float, total_sq: float) -> None:
    if count:
        table[arm] = table.get(arm, V.Moments(0, 0.0, 0.0)).merge(V.Moments(count, total, total_sq))


def unit_moments(units: Sequence[UnitStats]) -> tuple[dict[str, dict[str, V.Moments]], dict[str, int]]:
    """``({metric: {arm: Moments over units}}, {arm: units})``; unit-less calls are units of one call."""
    metrics: dict[str, dict[str, V.Moments]] = {ERROR_RATE: {}, LATENCY_MS: {}, ACCURACY: {}}
    counts: dict[str, int] = defaultdict(int)
    for u in units:
        if u.unit is None:  # each call its own unit: its values are 0/1 errors and its own duration
            counts[u.arm] += u.calls
            _add(metrics[ERROR_RATE], u.arm, u.calls, u.errors, u.errors)
            _add(metrics[LATENCY_MS], u.arm, u.calls, u.duration_ms_sum, u.duration_ms_sum_sq)
            _add(metrics[ACCURACY], u.arm, u.labelled, u.correct, u.correct)
            continue
        counts[u.arm] += 1
        error, latency = u.errors / u.calls, u.duration_ms_sum / u.calls
        _add(metrics[ERROR_RATE], u.arm, 1, error, error * error)
        _add(metrics[LATENCY_MS], u.arm, 1, latency, latency * latency)
        if u.labelled:
            accuracy = u.correct / u.labelled
            _add(metrics[ACCURACY], u.arm, 1, accuracy, accuracy * accuracy)
    return {m: arms for m, arms in metrics.items() if arms}, dict(counts)


def _shadow(shadow: ShadowOps | None) -> dict[str, Any] | None:
    if shadow is None:
        return None
    body = asdict(shadow)
    b, c = shadow.champion_only_right, shadow.challenger_only_right
    if b is not None and c is not None:
        test = mcnemar(b, c)
        body["mcnemar"] = {"champion_only_right": b, "challenger_only_right": c, "statistic": test.statistic,
                           "p_value": test.p_value, "method": test.method}
    else:
        body["mcnemar"] = None
    return body


def analyse(stats: ExperimentStats, definition: Definition, window: Window) -> dict[str, Any]:
    """The report of ``definition``'s experiment from a store's ``stats`` (module docstring)."""
    units = [u for u in stats.units if u.arm in definition.arms]
    metrics, unit_counts = unit_moments(units)
    by_arm = {a.arm: a for a in stats.arms}
    arms = []
    for arm in sorted(definition.arms):
        ops = by_arm.get(arm)
        summary = asdict(ops) if ops else {"arm": arm, "calls": 0, "errors": 0, "latency_ms": {}, "labels": {},
                                           "value_mean": None, "versions": [], "labelled": 0, "accuracy": None}
        summary["error_rate"] = summary["errors"] / summary["calls"] if summary["calls"] else None
        arms.append(summary | {"weight": definition.arms[arm], "units": unit_counts.get(arm, 0)})
    result = V.evaluate({a: unit_counts.get(a, 0) for a in definition.arms}, definition.arms, metrics,
                        definition.control, definition.design(), LOWER_IS_BETTER, definition.taus)
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
        "unknown_arm_calls": sum(u.calls for u in stats.units if u.arm not in definition.arms),
        "calls_without_unit": sum(u.calls for u in units if u.unit is None),
        "labels_joined": stats.labels_joined,
        "shadow": _shadow(stats.shadow),
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
