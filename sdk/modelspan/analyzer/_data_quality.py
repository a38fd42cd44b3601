"""Data-quality rates per feature: nulls, NaN/inf, type changes, out-of-range values, unseen categories.

Data quality is about the *inputs*; how good the predictions are is model performance
(``_performance_findings``). The rate of a check is failing values over all values the feature
received (finite + null + NaN + wrong type). Each check is compared with the rate it would have
**with nothing changed** (``rates``), not with zero:

============== ================================================ ==========================================
check          expected rate against the baseline profile       test
============== ================================================ ==========================================
null           the profile's missing share                      Fisher exact, one-sided
nan, type      the profile's missing share (the profile counts  Fisher exact, one-sided
               NaN and wrong types as missing: an upper bound)
out_of_range   ``2 / (m + 1)``: fresh values fall outside the   beta-binomial ``(n, 2, m - 1)``, exact
               min/max of ``m`` baseline values that often
unseen         the baseline's singletons ``N1 / m`` (Good-      Fisher exact against ``N1`` of ``m``
               Turing; an upper bound, ``rates``)
============== ================================================ ==========================================

Against a production window every check is compared with the same check there (Fisher exact).

A check is flagged when the feature received at least ``MIN_VALUES`` values, at least
``MIN_FAILURES`` failed, the rate exceeds the expected one by at least ``MARGIN`` (the effect), and
its p-value survives Benjamini-Hochberg at ``ALPHA`` across every (feature, check) of the model
version. ``finding.severity`` grows with the excess (``severity.excess_rate``). One finding per
feature and check that failed at least once, flagged or not, with the effect
(``metric.value`` - ``metric.reference_value``), the p-value and the adjusted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelspan import findings, semconv
from modelspan.analyzer import multiple_testing, rates, severity
from modelspan.analyzer._documents import Context, document, number
from modelspan.analyzer._drift_findings import profiles
from modelspan.baseline import Baseline, FeatureProfile
from modelspan.store import ColumnStats, ModelStats

MIN_VALUES = 100
MIN_FAILURES = 5
MARGIN = 0.01
ALPHA = 0.01
"""False discovery rate across the (feature, check) pairs of one model version."""
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


@dataclass(frozen=True)
class Check:
    """One feature's check in the window, with what it is compared against."""

    feature: str
    check: str
    failed: int
    n: int
    expected: float | None
    """The rate expected with nothing changed (None: no reference)."""
    reference_n: int
    p_value: float | None
    test: str | None

    @property
    def rate(self) -> float:
        return self.failed / self.n

    @property
    def excess(self) -> float:
        return self.rate - (self.expected or 0.0)


def total(stats: ColumnStats) -> int:
    """Every value the feature received in the window, good or bad."""
    return stats.count + stats.null_count + stats.nan_count + stats.type_change_count


def data_quality_findings(context: Context, current: ModelStats, reference: ModelStats | None,
                          baseline: Baseline | None) -> list[dict[str, Any]]:
    """One finding per feature and check that failed at least once in the window."""
    if baseline is None:
        return []
    checks = []
    for name, profile in sorted(profiles(baseline).items()):
        stats = current.columns.get(name)
        if stats is None or name == semconv.OUTPUT_FEATURE or not total(stats):
            continue
        before = reference.columns.get(name) if reference is not None else None
        for check, attribute in _FIELDS.items():
            failed = int(getattr(stats, attribute))
            if failed:
                checks.append(_compare(name, check, failed, total(stats), profile, before, reference is None))
    if not checks:
        return []
    _, adjusted = multiple_testing.benjamini_hochberg([c.p_value for c in checks], alpha=ALPHA)
    return [_document(context, current, c, float(q)) for c, q in zip(checks, adjusted, strict=True)]


def _compare(name: str, check: str, failed: int, n: int, profile: FeatureProfile, before: ColumnStats | None,
             use_profile: bool) -> Check:
    if not use_profile:
        if before is None or not total(before):
            return Check(name, check, failed, n, None, 0, None, None)
        ref_failed, ref_n = int(getattr(before, _FIELDS[check])), total(before)
        return Check(name, check, failed, n, ref_failed / ref_n, ref_n,
                     rates.excess_p_value(failed, n, ref_failed, ref_n), "fisher_exact")
    values = profile.count + profile.null_count
    if check == semconv.CHECK_OUT_OF_RANGE and profile.count >= 2:
        return Check(name, check, failed, n, rates.expected_out_of_range(profile.count), profile.count,
                     rates.out_of_range_p_value(failed, n, profile.count), "beta_binomial")
    if check == semconv.CHECK_UNSEEN_CATEGORY:
        ref_failed = rates.unseen_reference_count(profile.category_counts, len(profile.known), profile.other_count)
        values = profile.count
    else:
        ref_failed = profile.null_count
    if values <= 0:
        return Check(name, check, failed, n, None, 0, None, None)
    return Check(name, check, failed, n, ref_failed / values, values,
                 rates.excess_p_value(failed, n, ref_failed, values), "fisher_exact")


def _document(context: Context, stats: ModelStats, check: Check, adjusted: float) -> dict[str, Any]:
    enough = check.n >= MIN_VALUES
    flagged = (enough and check.failed >= MIN_FAILURES and check.excess >= MARGIN
               and check.p_value is not None and adjusted <= ALPHA)
    summary = (f"feature '{check.feature}' of model {stats.model} v{stats.version}: "
               f"{number(100 * check.rate)}% {_WORDS[check.check]} ({check.failed} of {check.n})")
    if check.expected is not None:
        summary += f", expected {number(100 * check.expected)}% with nothing changed, p={number(check.p_value)}"
    if not enough:
        summary += f"; too few values for a verdict (fewer than {MIN_VALUES})"
    if flagged:
        summary = "data quality: " + summary + f" (BH-adjusted {number(adjusted)})"
    return document(
        context, findings.TYPE_DATA_QUALITY, stats.model, stats.version, f"{check.feature}:{check.check}",
        flagged=flagged, summary=summary, severity=severity.excess_rate(flagged, check.excess),
        fields={findings.FEATURE_NAME: check.feature, findings.METRIC_NAME: f"{check.check}_rate",
                findings.METRIC_VALUE: check.rate, findings.METRIC_REFERENCE_VALUE: check.expected,
                findings.TEST_NAME: check.test,
                findings.TEST_SCORE: check.excess if check.expected is not None else None,
                findings.TEST_THRESHOLD: MARGIN, findings.TEST_P_VALUE: check.p_value,
                findings.TEST_P_VALUE_ADJUSTED: adjusted if check.p_value is not None else None,
                findings.SAMPLE_COUNT: check.n, findings.REFERENCE_COUNT: check.reference_n or None})
