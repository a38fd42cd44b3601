"""Drift per feature and of the output (prediction drift), false discoveries controlled per model.

Both sides are histograms over the *baseline's* bins (numeric and text lengths) or counts per the
baseline's categories: the reference is the baseline profile itself or a production window binned
the same way. For each column the default tests for its kind and sample size run
(``drift.default_tests``); a column is flagged when

1. some test's effect size crosses its threshold with enough data on both sides, and
2. its significance survives Benjamini-Hochberg across all columns of the model version (the
   p-value of the first test in the column's set that has one; a column whose tests give no
   p-value is judged on effect size alone).

One finding per column (``drift``, or ``prediction_drift`` for the output) whatever the verdict,
so dashboards can chart scores; ``finding.flagged`` tells the problems apart. A flagged column
also gets its ``distribution`` findings (``_distributions``): both sides' shares per bin, from the
same histograms the tests compared.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelspan import findings, semconv
from modelspan.analyzer import drift, multiple_testing, rates, severity
from modelspan.analyzer._distributions import distribution_findings
from modelspan.analyzer._documents import Context, document, number
from modelspan.baseline import Baseline, FeatureProfile
from modelspan.store import ColumnStats, ModelStats

ALPHA = 0.05
"""False discovery rate across the columns of one model version."""
OTHER = drift.OTHER
UNSEEN = "__unseen__"
"""Current values outside the baseline's categories beyond the named examples."""

Histogram = Any  # drift.Binned | drift.Categories


@dataclass
class Column:
    """One column's test results (and the two histograms they compared)."""

    name: str
    kind: str
    results: list[Any]  # drift.DriftResult, in default-test order
    reference_count: int
    current_count: int
    before: Histogram = None
    after: Histogram = None
    oov_note: str = ""  # where the OOV rates came from (profiles: every call; spans: the sampled ones)


def profiles(baseline: Baseline) -> dict[str, FeatureProfile]:
    """Column name (as in ``ModelStats.columns``) -> the profile that defines its bins."""
    columns = dict(baseline.features)
    if baseline.output is not None:
        columns[semconv.OUTPUT_FEATURE] = baseline.output
    return columns


Thresholds = Mapping[str, Mapping[str, float]]
"""Column -> test name -> threshold to use instead of the test's default (learned ones)."""


def drift_findings(context: Context, current: ModelStats, reference: ModelStats | None,
                   baseline: Baseline | None, thresholds: Thresholds | None = None) -> list[dict[str, Any]]:
    """Drift findings of one model version (reference ``None`` means: the baseline profile)."""
    if baseline is None:
        return []
    columns = tested_columns(current, reference, baseline, thresholds)
    if not columns:
        return []
    p_values = [_p_value(column) for column in columns]
    rejected, adjusted = multiple_testing.benjamini_hochberg(
        np.array([np.nan if p is None else p for p in p_values], dtype=float), alpha=ALPHA)
    docs = []
    for column, p, r, a in zip(columns, p_values, rejected, adjusted, strict=True):
        docs.append(_document(context, current, column, p, bool(r), float(a)))
        if docs[-1][findings.FLAGGED]:  # the evidence: both sides' shares per bin
            docs += distribution_findings(context, current, column.name, column.before, column.after)
    return docs


def tested_columns(current: ModelStats, reference: ModelStats | None, baseline: Baseline,
                   thresholds: Thresholds | None = None) -> list[Column]:
    """Every column both sides have, with its default tests run (at ``thresholds`` where given)."""
    columns = []
    for name, profile in sorted(profiles(baseline).items()):
        stats = current.columns.get(name)
        if stats is None:
            continue
        before = profile_histogram(profile) if reference is None else _window_side(reference, name, profile)
        if before is None:
            continue
        after = current_histogram(stats, profile)
        given = (thresholds or {}).get(name, {})
        oov = _rates(stats, reference, name)
        column = _test(name, profile.kind, before, after, oov, given, tested_categories(profile))
        if oov is not None:
            column.oov_note = oov_note(stats, reference.columns[name] if reference is not None else None)
        columns.append(column)
    return columns


def oov_note(current: ColumnStats, before: ColumnStats | None) -> str:
    """Where a text column's OOV rates came from, e.g. "oov_rate from profiles (every call: 120 of 4,000
    tokens out of vocabulary; reference from profiles)"."""
    def source(stats: ColumnStats) -> str:
        if stats.oov_source == "profiles":
            return (f"profiles (every call: {stats.oov_tokens or 0:,} of {stats.tokens or 0:,} tokens "
                    "out of vocabulary)")
        return "sampled spans"

    note = f"oov_rate from {source(current)}"
    if before is not None:
        note += f"; reference from {source(before)}"
    return note


def profile_histogram(profile: FeatureProfile) -> Histogram:
    """The baseline side: bin counts, or category counts with the rest under ``__other__``."""
    if profile.kind == "categorical":
        counts = dict(zip(profile.categories, profile.category_counts, strict=True))
        if profile.other_count:
            counts[OTHER] = profile.other_count
        unseen = rates.unseen_reference_count(profile.category_counts, len(profile.known), profile.other_count)
        return drift.Categories(counts, unseen / profile.count if profile.count else 0.0)
    return drift.Binned(np.asarray(profile.bin_counts, dtype=float), np.asarray(profile.edges, dtype=float),
                        profile.min, profile.max, profile.std)


def current_histogram(stats: ColumnStats, profile: FeatureProfile) -> Histogram:
    """A window's side over the same bins; values outside the baseline's categories count as new."""
    if profile.kind == "categorical":
        counts: dict[str, int] = {}
        for category, count in zip(profile.categories, stats.category_counts, strict=False):
            counts[category] = counts.get(category, 0) + int(count)
        if stats.other_count:
            counts[OTHER] = stats.other_count
        named = 0
        for value, count in stats.unseen_examples.items():
            if value not in counts and named + count <= stats.unseen_count:
                counts[value] = count
                named += count
        if stats.unseen_count - named > 0:
            counts[UNSEEN] = stats.unseen_count - named
        # Values counted but in no named bucket (a store that lost a batch's remainder) are still
        # values outside the named categories: top-k plus a counted remainder, never dropped.
        remainder = stats.count - stats.unbinned_count - sum(counts.values())
        if remainder > 0:
            counts[OTHER] = counts.get(OTHER, 0) + remainder
        total = sum(counts.values())
        return drift.Categories(counts, stats.unseen_count / total if total else 0.0)
    bins = stats.bin_counts or [0] * (len(profile.edges) + 1)
    return drift.Binned(np.asarray(bins, dtype=float), np.asarray(profile.edges, dtype=float),
                        stats.min, stats.max, _std(stats))


def _std(stats: ColumnStats) -> float | None:
    """Population standard deviation from count, sum and sum of squares (None when unknown)."""
    if stats.count < 2:
        return None
    mean = stats.sum / stats.count
    variance = stats.sum_sq / stats.count - mean * mean
    return float(np.sqrt(variance)) if np.isfinite(variance) and variance > 0 else None


def _window_side(reference: ModelStats, name: str, profile: FeatureProfile) -> Histogram | None:
    stats = reference.columns.get(name)
    return None if stats is None else current_histogram(stats, profile)


def _count(histogram: Histogram) -> int:
    if isinstance(histogram, drift.Categories):
        return int(sum(histogram.counts.values()))
    return int(np.sum(histogram.counts))


MIN_CATEGORY_COUNT = 10
"""Baseline categories rarer than this are tested within the remainder, not one by one."""


def tested_categories(profile: FeatureProfile) -> set[str]:
    """The baseline categories drift tests compare one by one: the named ones with at least
    ``MIN_CATEGORY_COUNT`` baseline values. Rarer ones join the remainder: their expected counts are
    too small for a chi-square, and being picked as a "top" category inflated their baseline count
    (the last of the top 50 is there partly by luck), which fresh traffic then seems to lose."""
    return {c for c, n in zip(profile.categories, profile.category_counts, strict=False) if n >= MIN_CATEGORY_COUNT}


def folded(histogram: Histogram, named: Collection[str]) -> Histogram:
    """Categories outside ``named`` (the baseline's top categories) folded into ``__other__``.

    Both sides then have the same keys: the top categories plus one counted remainder. Unseen
    values are mostly the rare categories a sample of the same distribution always brings (a
    high-cardinality feature brings many), and comparing them one by one would call that drift;
    a real new category still moves the remainder, and ``new_category_rate`` measures it apart.
    """
    if not isinstance(histogram, drift.Categories):
        return histogram
    counts: dict[str, float] = {}
    for key, count in histogram.counts.items():
        counts[key if key in named else OTHER] = counts.get(key if key in named else OTHER, 0) + count
    return drift.Categories(counts, histogram.expected_new)


def _test(name: str, kind: str, before: Histogram, after: Histogram,
          oov: tuple[Any, Any] | None = None, thresholds: Mapping[str, float] | None = None,
          named: Collection[str] = ()) -> Column:
    """Run the default tests for the kind and the reference's size (``oov_rate`` needs both rates)."""
    results = []
    for test in drift.default_tests(kind, _count(before)):
        threshold = (thresholds or {}).get(test)
        if test == "oov_rate":
            if oov is not None:
                results.append(drift.run(test, *oov, threshold=threshold))
            continue
        if test == "new_category_rate":
            results.append(drift.run(test, before, after, threshold=threshold))
            continue
        results.append(drift.run(test, folded(before, named), folded(after, named), threshold=threshold))
    return Column(name, kind, results, _count(before), _count(after), before, after)


def _rates(current: ColumnStats, reference: ModelStats | None, name: str) -> tuple[Any, Any] | None:
    """OOV rates of both windows: a profile keeps a vocabulary but no OOV rate, so only window vs window."""
    before = reference.columns.get(name) if reference is not None else None
    if before is None or before.oov_rate is None or current.oov_rate is None:
        return None
    return drift.Rate(before.oov_rate, before.count), drift.Rate(current.oov_rate, current.count)


def _p_value(column: Column) -> float | None:
    for result in column.results:
        if result.p_value is not None and result.enough_data:
            return float(result.p_value)
    return None


def _verdict(column: Column) -> Any:
    """The result to report: the first test over its threshold, else the first test."""
    for result in column.results:
        if result.enough_data and result.drifted:
            return result
    return column.results[0]


def _document(context: Context, stats: ModelStats, column: Column, p_value: float | None, rejected: bool,
              adjusted: float) -> dict[str, Any]:
    shown = _verdict(column)
    enough = all(result.enough_data for result in column.results)
    effect = any(result.enough_data and result.drifted for result in column.results)
    flagged = effect and (p_value is None or rejected)
    output = column.name == semconv.OUTPUT_FEATURE
    subject = "the output (predictions)" if output else f"feature '{column.name}'"
    where = f"{subject} of model {stats.model} v{stats.version}"
    scores = ", ".join(f"{r.test} {number(r.score)}" for r in column.results)
    if not enough:
        summary = (f"{where}: not enough data for a verdict (n={column.current_count}, "
                   f"reference {column.reference_count})")
    elif flagged:
        summary = (f"{where} drifted: {shown.test} {number(shown.score)} >= {number(shown.threshold)}, "
                   f"p={number(p_value)} (BH-adjusted {number(adjusted)}), n={column.current_count}; {scores}")
    else:
        summary = f"{where}: no drift ({scores}, p={number(p_value)}, n={column.current_count})"
    if column.oov_note:
        summary += f"; {column.oov_note}"
    return document(
        context, findings.TYPE_PREDICTION_DRIFT if output else findings.TYPE_DRIFT, stats.model, stats.version,
        column.name, flagged=flagged, summary=summary,
        severity=severity.drift(flagged, float(shown.score), float(shown.threshold),
                                drift.REGISTRY[shown.test].decide_on == "p_value"),
        fields={findings.FEATURE_NAME: None if output else column.name, findings.TEST_NAME: shown.test,
           findings.TEST_SCORE: float(shown.score), findings.TEST_THRESHOLD: float(shown.threshold),
           findings.TEST_P_VALUE: p_value, findings.TEST_P_VALUE_ADJUSTED: adjusted if p_value is not None else None,
           findings.SAMPLE_COUNT: column.current_count, findings.REFERENCE_COUNT: column.reference_count})
