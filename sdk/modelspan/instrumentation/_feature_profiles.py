"""Per-feature profiles (docs/profiles.md): every call's inputs, outputs and module path, before sampling.

A call is summarised once, outside the profiles' lock, by the rules that already own each concept:
``_checks.row_attributes`` (single-row values and their data-quality checks), ``_summaries`` (batch
summaries over the baseline's bins and categories, whole-column numpy), ``_outputs`` (what the output
is). :class:`CallSummary` holds the result; ``Profile.fold`` adds it to the profile under the lock,
which is a handful of additions per feature, whatever the batch size.

What a feature's :class:`FeatureFold` (``_feature_fold``, re-exported here) holds, one per feature and
baseline id in a profile:

- count (valid values), null/NaN/type-change/out-of-range/unseen counts (the data-quality checks),
  sum, sum of squares, min, max: mergeable by addition (min/max by min/max);
- with a baseline: counts per baseline bin (numeric, text lengths) or per baseline category plus
  ``other`` (known beyond the listed top-k) and ``unseen``;
- categories outside the baseline's list (every category without a baseline): the first
  ``MAX_TRACKED_CATEGORIES`` distinct values of the interval counted exactly, later new values counted
  in ``top_other``. Bins need edges and edges come from a baseline: a feature profiled without one has
  no bins, and a store counts its values as unbinned (as it does batch summaries over another baseline);
- text features: tokens and out-of-vocabulary tokens against the baseline's vocabulary, counted by the
  span path's own tokenisation and carried on the call's ``Quality`` (``_fold_tokens``).

Pseudo-features ``_output`` (labels or values, over the baseline's output profile) and ``_score``
(scores, no baseline) profile the outputs; module paths are counted per output label.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from modelspan import semconv
from modelspan.instrumentation._checks import _KEYS, Quality, row_attributes
from modelspan.instrumentation._feature_fold import COUNT_STATS, MAX_TRACKED_CATEGORIES, FeatureFold
from modelspan.instrumentation._outputs import Outputs, output_attributes
from modelspan.instrumentation._redaction import Secrets, scrub_output
from modelspan.instrumentation._summaries import batch_attributes, category_slot
from modelspan.profiling import _profile
from modelspan.profiling._inputs import Batch, Row

if TYPE_CHECKING:
    from modelspan.baseline import Baseline, FeatureProfile

__all__ = ["COUNT_STATS", "MAX_FEATURES", "MAX_LABELS", "MAX_PATHS", "MAX_TRACKED_CATEGORIES", "OTHER_LABEL",
           "OTHER_PATH", "CallSummary", "FeatureFold", "fold_checks", "fold_into", "fold_path", "merge_into",
           "summarise_input", "summarise_output"]

MAX_FEATURES: Final = semconv.MAX_FEATURES + 2
"""Feature folds per profile (features, ``_output``, ``_score``); further ones are counted, not held."""
MAX_PATHS: Final = 200
"""Module paths per profile; calls on further paths are counted under ``OTHER_PATH``."""
MAX_LABELS: Final = 50
"""Output labels per path; further labels are counted under ``OTHER_LABEL``."""
OTHER_PATH: Final = "\x00other"
OTHER_LABEL: Final = "\x00other"
_CHECK_STATS: Final = {semconv.CHECK_NULL: semconv.STAT_NULL_COUNT, semconv.CHECK_NAN: semconv.STAT_NAN_COUNT,
                       semconv.CHECK_TYPE_CHANGE: semconv.STAT_TYPE_CHANGE_COUNT,
                       semconv.CHECK_OUT_OF_RANGE: semconv.STAT_OUT_OF_RANGE}


class CallSummary:
    """What one call adds to its profile's features, checks and paths (computed outside the lock)."""

    __slots__ = ("baseline", "batch", "label", "lean", "numbers", "output_batch", "outputs", "path", "quality",
                 "row", "texts")

    def __init__(self) -> None:
        self.baseline: Baseline | None = None
        self.row: Mapping[str, Any] | None = None  # row_attributes' output: ``ml.feature.<name>`` values
        self.batch: tuple[Batch, Mapping[str, Any]] | None = None  # the batch and its summaries
        self.quality: Quality | None = None
        self.outputs: dict[str, Any] | None = None  # output_attributes' output
        self.output_batch = False
        self.path: tuple[str, ...] = ()
        self.label = ""
        self.numbers: Sequence[tuple[str, float]] = ()
        self.texts: Sequence[tuple[str, str]] = ()
        # ``_row_fold``: (plan, checked values as (position, value), or None for a row of floats in range; the row)
        self.lean: tuple[Any, list[tuple[int, Any]] | None, tuple[Any, ...]] | None = None


def summarise_input(shaped: Row | Batch | None, baseline: Baseline | None, policy: Mapping[str, str],
                    summary: CallSummary, written: Mapping[str, Any] | None = None,
                    quality: Quality | None = None) -> None:
    """Summarise a call's input; ``written``/``quality``: what the span path computed already."""
    summary.baseline = baseline
    if quality is None:
        quality, written = Quality(), None
    summary.quality = quality
    if type(shaped) is Row:
        if written is None:
            written = {}
            row_attributes(shaped.values, baseline, policy, written, quality)
        summary.row = written
        summary.numbers, summary.texts = _row_values(shaped, baseline, written)
    elif type(shaped) is Batch:
        if written is None:
            written = {}
            batch_attributes(shaped, baseline, policy, written, quality)
        summary.batch = (shaped, written)


def _row_values(row: Row, baseline: Baseline | None, written: Mapping[str, Any]) -> tuple[
        list[tuple[str, float]], list[tuple[str, str]]]:
    """The values ``row_attributes`` kept (a number, a category, a text's length), by feature name."""
    if baseline is None and all(type(value) is float for value in row.values.values()):
        # The commonest row (numbers only, no baseline): row_attributes keeps each finite float as it is.
        isfinite = math.isfinite
        return [(name, value) for name, value in row.values.items() if isfinite(value)], []
    numbers: list[tuple[str, float]] = []
    texts: list[tuple[str, str]] = []
    profiles = baseline.features if baseline is not None else {}
    for name in row.values:
        if type(name) is not str:
            name = _profile.safe_name(name)
        profile = profiles.get(name)
        if profile is not None and profile.kind == "text":
            length = written.get(semconv.text_length(name))
            if length is not None:
                numbers.append((name, float(length)))
            continue
        value = written.get(_KEYS.get(name) or semconv.feature_value(name))
        if type(value) is float:
            numbers.append((name, value))
        elif type(value) is str:
            texts.append((name, value))
    return numbers, texts


def summarise_output(result: Any, outputs: Outputs | None, single: bool, baseline: Baseline | None,
                     summary: CallSummary, path: Sequence[str], policy: Mapping[str, str],
                     secrets: Secrets | None) -> None:
    """Summarise a call's output (``outputs``, or a plain float/str ``result`` of a single row).

    Redacted as the span's output is (``_redaction.scrub_output``): an output that is, or repeats, a
    redacted field reaches no profile either.
    """
    summary.path = tuple(path)
    scratch: dict[str, Any] = {}
    if outputs is not None:
        output_attributes(outputs, not single, baseline, scratch, Quality())
    elif single and type(result) is float:  # a plain single-row value or label: as output_attributes writes it
        if math.isfinite(result):
            scratch[semconv.OUTPUT_VALUE] = result
    elif single and type(result) is str:
        scratch[semconv.OUTPUT_LABEL] = result[: semconv.MAX_STRING_LENGTH]
    else:
        return
    if secrets is not None or (policy and semconv.OUTPUT_FEATURE in policy):
        scrub_output(scratch, policy, secrets or Secrets())
    summary.outputs = scratch
    summary.output_batch = not single
    if single:
        summary.label = str(scratch.get(semconv.OUTPUT_LABEL, ""))


def fold_into(features: dict[tuple[str, str | None], FeatureFold], summary: CallSummary) -> int:
    """Add ``summary``'s inputs and outputs to ``features``; returns features left off (bound)."""
    baseline = summary.baseline
    profiles = baseline.features if baseline is not None else {}
    baseline_id = baseline.id if baseline is not None else None
    dropped = 0
    for name, value in summary.numbers:
        profile = profiles.get(name) if profiles else None
        fold = features.get((name, None)) if profile is None else None  # the commonest: no baseline
        if fold is None:
            fold = _fold(features, name, profile, baseline_id, "numeric")
            if fold is None:
                dropped += 1
                continue
        if fold.bins is not None and profile is not None:
            fold.number(value, _profile.bin_index(value, profile.edges))
        else:
            fold.number(value, None)
    for name, text in summary.texts:
        profile = profiles.get(name)
        fold = _fold(features, name, profile, baseline_id, "categorical")
        if fold is None:
            dropped += 1
        elif profile is not None and profile.kind == "categorical":
            fold.category(text, category_slot(profile, text))
        else:
            fold.category(text, None)
    if summary.quality is not None:
        if summary.row is not None:
            fold_checks(features, summary.quality, profiles, baseline_id)
        if summary.quality.tokens:
            dropped += _fold_tokens(features, summary.quality.tokens, profiles, baseline_id)
    if summary.batch is not None:
        dropped += _fold_batch(features, summary.batch, profiles, baseline_id)
    if summary.outputs is not None:
        dropped += _fold_outputs(features, summary.outputs, baseline, summary.output_batch)
    return dropped


def fold_checks(features: dict[tuple[str, str | None], FeatureFold], quality: Quality,
                profiles: Mapping[str, FeatureProfile], baseline_id: str | None) -> None:
    """A single row's failed checks into its features' counts (one per feature and check)."""
    for check, names in quality.features.items():
        stat = _CHECK_STATS.get(check)
        if stat is None:
            continue  # unseen categories: counted by ``category_slot`` with the value
        for name in names:
            fold = _fold(features, name, profiles.get(name), baseline_id, None)
            if fold is not None:
                fold.counts[stat] += 1


def _fold_tokens(features: dict[tuple[str, str | None], FeatureFold], tokens: Mapping[str, Sequence[float]],
                 profiles: Mapping[str, FeatureProfile], baseline_id: str | None) -> int:
    """A call's text tokens into its text features' folds (one addition per feature, whatever the batch)."""
    dropped = 0
    for name, counts in tokens.items():
        fold = _fold(features, name, profiles.get(name), baseline_id, "text")
        if fold is None:
            dropped += 1
        else:
            fold.tokens(counts)
    return dropped


def _fold_batch(features: dict[tuple[str, str | None], FeatureFold], batch: tuple[Batch, Mapping[str, Any]],
                profiles: Mapping[str, FeatureProfile], baseline_id: str | None) -> int:
    shaped, scratch = batch
    dropped = 0
    names = list(shaped.columns) + [name for name in profiles if name not in shaped.columns]
    for name in names:
        if semconv.batch_stat(name, semconv.STAT_COUNT) not in scratch and semconv.batch_stat(
                name, semconv.STAT_NULL_COUNT) not in scratch:
            continue  # dropped by redaction, or unreadable (a type-change finding)
        profile = profiles.get(name)
        fold = _fold(features, name, profile, baseline_id, None)
        if fold is None:
            dropped += 1
        else:
            fold.summary(name, scratch, profile)
    return dropped


def _fold_outputs(features: dict[tuple[str, str | None], FeatureFold], scratch: Mapping[str, Any],
                  baseline: Baseline | None, batch: bool) -> int:
    profile = baseline.output if baseline is not None else None
    baseline_id = baseline.id if baseline is not None else None
    name, score = semconv.OUTPUT_FEATURE, semconv.OUTPUT_SCORE_FEATURE
    dropped = 0
    if batch:
        for feature, feature_profile in ((name, profile), (score, None)):
            if semconv.batch_stat(feature, semconv.STAT_COUNT) in scratch:
                fold = _fold(features, feature, feature_profile, baseline_id, _output_kind(scratch, feature))
                if fold is None:
                    dropped += 1
                else:
                    fold.summary(feature, scratch, feature_profile)
        return dropped
    label = scratch.get(semconv.OUTPUT_LABEL)
    value = scratch.get(semconv.OUTPUT_VALUE)
    if label is not None:
        fold = _fold(features, name, profile, baseline_id, "categorical")
        if fold is not None:
            slot = category_slot(profile, label) if profile is not None and profile.kind == "categorical" else None
            fold.category(str(label), slot)
    elif value is not None:
        fold = _fold(features, name, profile, baseline_id, "numeric")
        if fold is not None:
            edges = profile.edges if profile is not None and profile.kind == "numeric" else None
            fold.number(float(value), _profile.bin_index(value, edges) if edges and fold.bins is not None else None)
    scored = scratch.get(semconv.OUTPUT_SCORE)
    if scored is not None:
        fold = _fold(features, score, None, None, "numeric")
        if fold is not None:
            fold.number(float(scored), None)
    return dropped


def _output_kind(scratch: Mapping[str, Any], feature: str) -> str:
    return "categorical" if feature == semconv.OUTPUT_FEATURE and semconv.OUTPUT_LABELS in scratch else "numeric"


def _fold(features: dict[tuple[str, str | None], FeatureFold], name: str, profile: FeatureProfile | None,
          baseline_id: str | None, kind: str | None) -> FeatureFold | None:
    """The fold of ``name`` (made on first use, over ``profile``'s bins/categories); None beyond the bound."""
    key = (name, baseline_id if profile is not None else None)
    fold = features.get(key)
    if fold is not None:
        return fold
    if len(features) >= MAX_FEATURES:
        return None
    if profile is None:
        fold = FeatureFold(kind or "numeric", None, 0, None)
    elif profile.kind == "categorical":
        fold = FeatureFold(profile.kind, baseline_id, 0, len(profile.categories))
    else:
        fold = FeatureFold(profile.kind, baseline_id, len(profile.edges) + 1 if profile.edges else 0, None)
    features[key] = fold
    return fold


def merge_into(features: dict[tuple[str, str | None], FeatureFold],
               delta: Mapping[tuple[str, str | None], FeatureFold]) -> int:
    """Add a call's folds to a profile's (under the profiles' lock); returns features left off (bound)."""
    dropped = 0
    for key, fold in delta.items():
        held = features.get(key)
        if held is not None:
            held.merge(fold)
        elif len(features) < MAX_FEATURES:
            features[key] = fold
        else:
            dropped += 1
    return dropped


def fold_path(paths: dict[str, dict[str, int]], summary: CallSummary) -> None:
    """Count the call once on its module path, under its output label (``""`` for a batch, as spans do)."""
    key = semconv.PATH_SEPARATOR.join(summary.path)
    per_label = paths.get(key)
    if per_label is None:
        if len(paths) >= MAX_PATHS:
            key = OTHER_PATH
        per_label = paths.setdefault(key, {})
    label = summary.label
    if label not in per_label and len(per_label) >= MAX_LABELS:
        label = OTHER_LABEL
    per_label[label] = per_label.get(label, 0) + 1
