"""Data-quality rates per feature: nulls, NaN/inf, type changes, out-of-range values, unseen categories.

The rate of a check is failing values over all values the feature received (finite + null + NaN
+ wrong type). Against the baseline profile, the reference rate is the profile's null rate for
``null`` (the profile counts NaN and wrong types as null too) and zero for the rest: the baseline
*defines* the range and the categories. Against a production window, its own rates.

A check is flagged when it failed at least ``MIN_FAILURES`` values, its rate is at least
``MARGIN`` above the reference, and a one-sided two-proportion test gives p < ``ALPHA``: a
handful of odd values in a big window is reported (``finding.flagged`` false), not alerted on.
"""

from __future__ import annotations

from typing import Any

from modelspan import findings, semconv
from modelspan.analyzer import quality
from modelspan.analyzer._documents import Context, document, number
from modelspan.analyzer._drift_findings import profiles
from modelspan.baseline import Baseline, FeatureProfile
from modelspan.store import ColumnStats, ModelStats

MIN_FAILURES = 5
MARGIN = 0.01
ALPHA = 0.01
_FIELDS = {
    semconv.CHECK_NULL: "null_count",
    semconv.CHECK_NAN: "nan_count",
    semconv.CHECK_TYPE_CHANGE: "type_change_count",
    semconv.CHECK_OUT_OF_RANGE: "out_of_range_count",
    semconv.CHECK_UNSEEN_CATEGORY: "unseen_count",
}
_WORDS = {
    semconv.CHECK_NULL: "missing values", semconv.CHECK_NAN: "NaN/infinite values",
    semconv.CHECK_TYPE_CHANGE: "values of the wrong type",
    semconv.CHECK_OUT_OF_RANGE: "values outside the baseline range",
    semconv.CHECK_UNSEEN_CATEGORY: "categories never seen in the baseline",
}


def total(stats: ColumnStats) -> int:
    """Every value the feature received in the window, good or bad."""
    return stats.count + stats.null_count + stats.nan_count + stats.type_change_count


def quality_findings(context: Context, current: ModelStats, reference: ModelStats | None,
                     baseline: Baseline | None) -> list[dict[str, Any]]:
    """One finding per feature and check that failed at least once in the window."""
    if baseline is None:
        return []
    docs = []
    for name, profile in sorted(profiles(baseline).items()):
        stats = current.columns.get(name)
        if stats is None or name == semconv.OUTPUT_FEATURE or not total(stats):
            continue
        before = reference.columns.get(name) if reference is not None else None
        for check, attribute in _FIELDS.items():
            failed = int(getattr(stats, attribute))
            if failed:
                ref_failed, ref_n = _reference(check, attribute, profile, before, reference is None)
                docs.append(_document(context, current, name, check, failed, total(stats), ref_failed, ref_n))
    return docs


def _reference(check: str, attribute: str, profile: FeatureProfile, before: ColumnStats | None,
               use_profile: bool) -> tuple[int, int]:
    if use_profile:
        values = profile.count + profile.null_count
        return (profile.null_count if check == semconv.CHECK_NULL else 0), values
    if before is None:
        return 0, 0
    return int(getattr(before, attribute)), total(before)


def _document(context: Context, stats: ModelStats, name: str, check: str, failed: int, n: int,
              ref_failed: int, ref_n: int) -> dict[str, Any]:
    rate = failed / n
    ref_rate = ref_failed / ref_n if ref_n else None
    p_value = None
    if ref_n:
        _, p_value = quality.proportion_drop(ref_n - ref_failed, ref_n, n - failed, n)
    flagged = (failed >= MIN_FAILURES and rate - (ref_rate or 0.0) >= MARGIN
               and (p_value is None or p_value < ALPHA))
    summary = (f"feature '{name}' of model {stats.model} v{stats.version}: {number(100 * rate)}% {_WORDS[check]} "
               f"({failed} of {n})")
    if ref_rate is not None:
        summary += f", reference {number(100 * ref_rate)}%"
    if flagged:
        summary = "data quality: " + summary
    return document(
        context, findings.TYPE_DATA_QUALITY, stats.model, stats.version, f"{name}:{check}", flagged=flagged,
        summary=summary, fields={findings.FEATURE_NAME: name, findings.METRIC_NAME: f"{check}_rate",
                            findings.METRIC_VALUE: rate, findings.METRIC_REFERENCE_VALUE: ref_rate,
                            findings.TEST_P_VALUE: p_value, findings.SAMPLE_COUNT: n,
                            findings.REFERENCE_COUNT: ref_n or None})
