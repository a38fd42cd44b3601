"""The lean fold of a single-row call (docs/profiles.md, "What a call costs").

Most single-row calls hold numbers and categories, each named by a short string, with no redaction
policy. Such a row is summarised in one pass (:func:`summarise_row`): each value is checked once, written
to the span's attributes when the call has a span, and kept as ``(position, value)`` for the profile;
:func:`fold_row` then adds it to the profile's folds under the lock. What each feature of a row needs
(its attribute key, fold key, baseline profile, bin edges) is worked out once per feature names and
baseline (:class:`RowPlan`, cached), not on every call.

Anything else (a redaction policy, an integer, a boolean, a null, a number given to a categorical or text
feature, a string given to a numeric or text feature, a name that is not a short string) goes the general
way (``_checks.row_attributes``, ``_feature_profiles.summarise_input``): :func:`summarise_row` returns
``False`` having written nothing. Both ways give the same profile and the same span attributes
(``tests/sdk/test_row_fold.py`` pins them on random rows). The binning rules have one owner each and
both ways call it: ``profiling._profile.bin_index`` (a value's bin) and ``_summaries.category_slot``
(a category's slot).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from modelspan import semconv
from modelspan.instrumentation import _feature_profiles
from modelspan.instrumentation._checks import Quality
from modelspan.instrumentation._feature_profiles import CallSummary, FeatureFold
from modelspan.instrumentation._summaries import category_slot
from modelspan.profiling._profile import bin_index

if TYPE_CHECKING:
    from modelspan.baseline import Baseline, FeatureProfile

_NONE, _NUMERIC, _CATEGORICAL, _OTHER = 0, 1, 2, 3
"""A feature's baseline kind, as the lean fold tells values apart (``_OTHER``: text)."""
_COUNT: Final = semconv.STAT_COUNT
MAX_PLANS: Final = 256
"""Plans held (feature names x baselines); the cache is emptied when full (a plan is cheap to rebuild)."""


class RowPlan:
    """What a row with these feature names needs per feature, over one baseline (or none)."""

    __slots__ = ("baseline", "baseline_id", "entries", "missing", "names")

    def __init__(self, names: tuple[str, ...], baseline: Baseline | None) -> None:
        self.names = names
        self.baseline = baseline
        profiles = baseline.features if baseline is not None else {}
        self.baseline_id = baseline.id if baseline is not None else None
        # (name, attribute key, fold key, profile, kind, edges, min, max) per position
        self.entries = tuple(_entry(name, profiles.get(name), self.baseline_id) for name in names)
        # The baseline's features the row leaves out, in the order row_attributes reports them.
        self.missing = tuple(profiles.keys() - dict.fromkeys(names).keys()) if profiles else ()


def _entry(name: str, profile: FeatureProfile | None, baseline_id: str | None) -> tuple[Any, ...]:
    if profile is None:
        return (name, semconv.feature_value(name), (name, None), None, _NONE, None, None, None)
    kind = {"numeric": _NUMERIC, "categorical": _CATEGORICAL}.get(profile.kind, _OTHER)
    edges = profile.edges if kind == _NUMERIC and profile.edges else None
    low, high = (profile.min, profile.max) if profile.min is not None and profile.max is not None else (None, None)
    return (name, semconv.feature_value(name), (name, baseline_id), profile, kind, edges, low, high)


_PLANS: dict[tuple[tuple[str, ...], int], RowPlan] = {}


def plan_for(values: Mapping[Any, Any], baseline: Baseline | None) -> RowPlan | None:
    """The plan of a row with ``values``' names over ``baseline``; ``None`` when the row needs the general way."""
    names = tuple(values)
    key = (names, id(baseline))
    plan = _PLANS.get(key)
    if plan is not None and plan.baseline is baseline:  # the plan holds its baseline: the id is not reused
        return plan
    limit = semconv.MAX_NAME_LENGTH
    if len(names) > semconv.MAX_FEATURES or not all(type(name) is str and len(name) <= limit for name in names):
        return None
    if len(_PLANS) >= MAX_PLANS:
        _PLANS.clear()
    plan = _PLANS[key] = RowPlan(names, baseline)
    return plan


def summarise_row(values: Mapping[Any, Any], baseline: Baseline | None, policy: Mapping[str, str],
                  summary: CallSummary, quality: Quality, written: dict[str, Any] | None = None) -> bool:
    """Summarise a single row the lean way into ``summary`` (and its attributes into ``written``).

    ``False`` (nothing written, ``quality`` untouched) when a value needs the general way.
    """
    if policy:
        return False
    plan = plan_for(values, baseline)
    if plan is None:
        return False
    items: list[tuple[int, Any]] = []
    failed: list[tuple[str, str]] = []
    isfinite, append = math.isfinite, items.append
    for position, (entry, value) in enumerate(zip(plan.entries, values.values(), strict=True)):
        kind = type(value)
        if kind is float:
            if not isfinite(value):
                failed.append((semconv.CHECK_NAN, entry[0]))
                continue
            if entry[4] > _NUMERIC:  # a number given to a categorical or text feature
                return False
            low = entry[6]
            if low is not None and (value < low or value > entry[7]):
                failed.append((semconv.CHECK_OUT_OF_RANGE, entry[0]))
        elif kind is str:
            if entry[4] == _NUMERIC or entry[4] == _OTHER:
                return False
            profile = entry[3]
            if profile is not None and profile.is_unseen(value):
                failed.append((semconv.CHECK_UNSEEN_CATEGORY, entry[0]))
            value = value[: semconv.MAX_STRING_LENGTH]
        else:
            return False
        append((position, value))
    for check, name in failed:
        quality.add(check, name)
    for name in plan.missing:
        quality.add(semconv.CHECK_NULL, name)
    if written is not None:
        entries = plan.entries
        for position, value in items:
            written[entries[position][1]] = value
    summary.baseline = baseline
    summary.quality = quality
    summary.lean = (plan, items)
    return True


def fold_row(features: dict[tuple[str, str | None], FeatureFold], summary: CallSummary) -> int:
    """Add a lean summary's inputs, checks and outputs to ``features`` (under the profiles' lock).

    The folds are made in the general fold's order (numbers, then categories, then checks), so the
    profile holds the same folds in the same order; returns features left off (bound).
    """
    assert summary.lean is not None
    plan, items = summary.lean
    entries, baseline_id, make = plan.entries, plan.baseline_id, _feature_profiles._fold
    dropped = 0
    texts = False
    for position, value in items:
        if type(value) is not float:
            texts = True
            continue
        entry = entries[position]
        fold = features.get(entry[2])
        if fold is None:
            fold = make(features, entry[0], entry[3], baseline_id, "numeric")
            if fold is None:
                dropped += 1
                continue
        fold.counts[_COUNT] += 1
        fold.sum += value
        fold.sum_sq += value * value
        if fold.min is None or value < fold.min:
            fold.min = value
        if fold.max is None or value > fold.max:
            fold.max = value
        edges = entry[5]
        if edges is not None and fold.bins is not None:
            fold.bins[bin_index(value, edges)] += 1
    if texts:
        dropped += _fold_texts(features, entries, items, baseline_id)
    profiles = plan.baseline.features if plan.baseline is not None else {}
    if summary.quality is not None:
        _feature_profiles.fold_checks(features, summary.quality, profiles, baseline_id)
    if summary.outputs is not None:
        dropped += _feature_profiles._fold_outputs(features, summary.outputs, summary.baseline, summary.output_batch)
    return dropped


def _fold_texts(features: dict[tuple[str, str | None], FeatureFold], entries: tuple[tuple[Any, ...], ...],
                items: list[tuple[int, Any]], baseline_id: str | None) -> int:
    dropped = 0
    for position, value in items:
        if type(value) is float:
            continue
        name, _, _, profile = entries[position][:4]
        fold = _feature_profiles._fold(features, name, profile, baseline_id, "categorical")
        if fold is None:
            dropped += 1
        elif profile is not None:  # categorical (the lean way takes no text for other kinds)
            fold.category(value, category_slot(profile, value))
        else:
            fold.category(value, None)
    return dropped
