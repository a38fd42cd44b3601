"""The lean fold of a single-row call (docs/profiles.md, "What a call costs").

Most single-row calls hold numbers and categories, each named by a short string, with no redaction
policy. Such a row is summarised in one pass (:func:`summarise_row`): each value is checked once, written
to the span's attributes when the call has a span, and kept as ``(position, value)`` for the profile;
:func:`fold_row` then adds it to the profile's folds under the lock. What each feature of a row needs
(its attribute key, fold key, baseline profile, bin edges) is worked out once per feature names and
baseline (:class:`RowPlan`, cached), not on every call. A row of finite floats within range is held by
the profile (:class:`RowState`) and folded with the next ones in one numpy pass (:func:`drain`), with
the same additions in the same order as one by one.

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
from collections.abc import Mapping, Sequence
from itertools import chain
from operator import gt, lt
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from modelspan import semconv
from modelspan.instrumentation import _feature_profiles
from modelspan.instrumentation._checks import Quality
from modelspan.instrumentation._feature_profiles import CallSummary, FeatureFold
from modelspan.instrumentation._summaries import category_slot
from modelspan.profiling._profile import bin_counts, bin_index

if TYPE_CHECKING:
    from modelspan.baseline import Baseline, FeatureProfile

_NONE, _NUMERIC, _CATEGORICAL, _OTHER = 0, 1, 2, 3
"""A feature's baseline kind, as the lean fold tells values apart (``_OTHER``: text)."""
_COUNT: Final = semconv.STAT_COUNT
_FLOATS: Final = frozenset({float})
MAX_PLANS: Final = 256
"""Plans held (feature names x baselines); the cache is emptied when full (a plan is cheap to rebuild)."""


class RowPlan:
    """What a row with these feature names needs per feature, over one baseline (or none)."""

    __slots__ = ("baseline", "baseline_id", "binned", "bounded", "deferrable", "edges", "entries", "highs", "keys",
                 "lows", "missing", "names", "plain")

    def __init__(self, names: tuple[str, ...], baseline: Baseline | None) -> None:
        self.names = names
        self.baseline = baseline
        profiles = baseline.features if baseline is not None else {}
        self.baseline_id = baseline.id if baseline is not None else None
        # (name, attribute key, fold key, profile, kind, edges, min, max) per position
        self.entries = entries = tuple(_entry(name, profiles.get(name), self.baseline_id) for name in names)
        # The baseline's features the row leaves out, in the order row_attributes reports them.
        self.missing = tuple(profiles.keys() - dict.fromkeys(names).keys()) if profiles else ()
        # A row of finite floats within these bounds needs no check (tested at C speed, ``summarise_row``).
        self.plain = all(entry[4] <= _NUMERIC for entry in entries)
        self.keys = tuple(entry[1] for entry in entries)
        self.lows = tuple(-math.inf if entry[6] is None else entry[6] for entry in entries)
        self.highs = tuple(math.inf if entry[7] is None else entry[7] for entry in entries)
        self.bounded = any(entry[6] is not None for entry in entries)
        self.edges = tuple(entry[5] or () for entry in entries)
        self.binned = any(entry[5] for entry in entries)
        # A feature named like an output pseudo-feature shares the output's fold: folded at once, in order.
        self.deferrable = not any(name in (semconv.OUTPUT_FEATURE, semconv.OUTPUT_SCORE_FEATURE) for name in names)


def _entry(name: str, profile: FeatureProfile | None, baseline_id: str | None) -> tuple[Any, ...]:
    if profile is None:
        return (name, semconv.feature_value(name), (name, None), None, _NONE, None, None, None)
    kind = {"numeric": _NUMERIC, "categorical": _CATEGORICAL}.get(profile.kind, _OTHER)
    edges = profile.edges if kind == _NUMERIC and profile.edges else None
    low, high = (profile.min, profile.max) if profile.min is not None and profile.max is not None else (None, None)
    return (name, semconv.feature_value(name), (name, baseline_id), profile, kind, edges, low, high)


_PLANS: dict[tuple[tuple[str, ...], int], RowPlan] = {}
_LAST: list[RowPlan | None] = [None]
"""The plan of the last row (most calls repeat it: a tuple comparison instead of hashing the names)."""


def plan_for(values: Mapping[Any, Any], baseline: Baseline | None) -> RowPlan | None:
    """The plan of a row with ``values``' names over ``baseline``; ``None`` when the row needs the general way."""
    names = tuple(values)
    plan = _LAST[0]
    if plan is not None and plan.baseline is baseline and plan.names == names:  # the same as the last row's
        return plan
    key = (names, id(baseline))
    plan = _PLANS.get(key)
    if plan is not None and plan.baseline is baseline:  # the plan holds its baseline: the id is not reused
        _LAST[0] = plan
        return plan
    limit = semconv.MAX_NAME_LENGTH
    if len(names) > semconv.MAX_FEATURES or not all(type(name) is str and len(name) <= limit for name in names):
        return None
    if len(_PLANS) >= MAX_PLANS:
        _PLANS.clear()
    plan = _PLANS[key] = _LAST[0] = RowPlan(names, baseline)
    return plan


def summarise_row(values: Mapping[Any, Any], baseline: Baseline | None, policy: Mapping[str, str],
                  summary: CallSummary, quality: Quality | None = None, written: dict[str, Any] | None = None) -> bool:
    """Summarise a single row the lean way into ``summary`` (and its attributes into ``written``).

    ``False`` (nothing written, ``quality`` untouched) when a value needs the general way. Without a
    ``quality``, one is made when a check fails (most rows fail none).
    """
    if policy:
        return False
    plan = plan_for(values, baseline)
    if plan is None:
        return False
    row = tuple(values.values())
    if plan.plain and set(map(type, row)) <= _FLOATS and math.isfinite(sum(row)) and not (
            plan.bounded and (any(map(lt, row, plan.lows)) or any(map(gt, row, plan.highs)))):
        # The commonest row: finite floats within the baseline's range, nothing to check value by value.
        items: list[tuple[int, Any]] | None = None
        failed: list[tuple[str, str]] = []
        if written is not None:
            written.update(zip(plan.keys, row, strict=True))
    else:
        checked = _items(plan, row, written)
        if checked is None:
            return False
        items, failed = checked
    if failed or plan.missing:
        quality = quality if quality is not None else Quality()
        for check, name in failed:
            quality.add(check, name)
        for name in plan.missing:
            quality.add(semconv.CHECK_NULL, name)
    summary.baseline = baseline
    summary.quality = quality
    summary.lean = (plan, items, row)
    return True


def _items(plan: RowPlan, row: tuple[Any, ...], written: dict[str, Any] | None) -> tuple[
        list[tuple[int, Any]], list[tuple[str, str]]] | None:
    """Each value as ``(position, value)`` and the checks that failed, in row order; ``None`` (nothing
    written) when a value needs the general way."""
    items: list[tuple[int, Any]] = []
    failed: list[tuple[str, str]] = []
    isfinite, append = math.isfinite, items.append
    for position, (entry, value) in enumerate(zip(plan.entries, row, strict=True)):
        kind = type(value)
        if kind is float:
            if not isfinite(value):
                failed.append((semconv.CHECK_NAN, entry[0]))
                continue
            if entry[4] > _NUMERIC:  # a number given to a categorical or text feature
                return None
            low = entry[6]
            if low is not None and (value < low or value > entry[7]):
                failed.append((semconv.CHECK_OUT_OF_RANGE, entry[0]))
        elif kind is str:
            if entry[4] == _NUMERIC or entry[4] == _OTHER:
                return None
            profile = entry[3]
            if profile is not None and profile.is_unseen(value):
                failed.append((semconv.CHECK_UNSEEN_CATEGORY, entry[0]))
            value = value[: semconv.MAX_STRING_LENGTH]
        else:
            return None
        append((position, value))
    if written is not None:
        entries = plan.entries
        for position, value in items:
            written[entries[position][1]] = value
    return items, failed


PENDING_VALUES: Final = 2048
"""Values of rows of floats a profile holds before folding them (``RowState``): at most ``PENDING_VALUES``
floats per profile key (one row when a row is wider), folded at once when full, before any other fold
into the profile, and before the profile is taken."""


class RowState:
    """A profile's lean-fold state: the folds of each plan's row of floats, and the rows not folded yet."""

    __slots__ = ("folds", "pending", "plan")

    def __init__(self) -> None:
        self.folds: dict[RowPlan, list[FeatureFold]] = {}
        self.plan: RowPlan | None = None
        self.pending: list[tuple[float, ...]] = []


def fold_row(features: dict[tuple[str, str | None], FeatureFold], summary: CallSummary,
             state: RowState | None = None) -> int:
    """Add a lean summary's inputs, checks and outputs to ``features`` (under the profiles' lock).

    The folds are made in the general fold's order (numbers, then categories, then checks), so the
    profile holds the same folds in the same order; returns features left off (bound). A row of floats
    is kept in ``state`` (the profile's) and folded with the next ones (:func:`drain`); without a
    ``state`` it is folded at once.
    """
    assert summary.lean is not None
    plan, items, row = summary.lean
    held = state if state is not None else RowState()
    dropped = 0
    folds = _plain_folds(features, plan, held.folds) if items is None and plan.deferrable else None
    if folds is not None:
        if held.plan is not plan:
            drain(held)
            held.plan = plan
        held.pending.append(row)
        if len(held.pending) * len(folds) >= PENDING_VALUES or state is None:
            drain(held)
    else:
        drain(held)
        dropped += _fold_items(features, plan, list(enumerate(row)) if items is None else items)
    if summary.quality is not None and summary.quality.features:
        profiles = plan.baseline.features if plan.baseline is not None else {}
        _feature_profiles.fold_checks(features, summary.quality, profiles, plan.baseline_id)
    if summary.outputs is not None:
        dropped += _feature_profiles._fold_outputs(features, summary.outputs, summary.baseline, summary.output_batch)
    return dropped


def _plain_folds(features: dict[tuple[str, str | None], FeatureFold], plan: RowPlan,
                 plans: dict[RowPlan, list[FeatureFold]]) -> list[FeatureFold] | None:
    """The folds of a row of floats in order, made in row order as needed; ``None`` when one is beyond the bound."""
    folds = plans.get(plan)
    if folds is None:
        made = [_feature_profiles._fold(features, entry[0], entry[3], plan.baseline_id, "numeric")
                for entry in plan.entries]
        if None in made:  # the folds made are the general fold's first ones: _fold_items finds them
            return None
        folds = plans[plan] = [fold for fold in made if fold is not None]
    return folds


def drain(state: RowState) -> None:
    """Fold the rows of floats ``state`` holds, exactly as one by one: sums by ``np.add.accumulate`` (in
    row order, so the same additions as ``fold.sum += value``), the first minimum and maximum (``argmin``
    / ``argmax``: ties keep the earlier value, as ``<`` does), bins by ``profiling._profile.bin_counts``."""
    rows, plan = state.pending, state.plan
    if not rows or plan is None:
        return
    state.pending = []
    folds = state.folds[plan]
    if not folds:
        return
    width = len(folds)
    values = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=len(rows) * width).reshape(-1, width)
    with np.errstate(over="ignore", invalid="ignore"):  # a sum that overflows is inf, as in Python
        sums = np.add.accumulate(np.vstack(([fold.sum for fold in folds], values)), axis=0)[-1].tolist()
        squares = np.add.accumulate(np.vstack(([fold.sum_sq for fold in folds], values * values)), axis=0)[-1]
    columns = np.arange(width)
    lows = values[values.argmin(axis=0), columns].tolist()
    highs = values[values.argmax(axis=0), columns].tolist()
    count = len(rows)
    for column, (fold, total, square, low, high) in enumerate(zip(folds, sums, squares.tolist(), lows, highs,
                                                                  strict=True)):
        fold.counts[_COUNT] += count
        fold.sum, fold.sum_sq = total, square
        if fold.min is None or low < fold.min:
            fold.min = low
        if fold.max is None or high > fold.max:
            fold.max = high
        if fold.bins is not None:
            added = bin_counts(values[:, column], plan.edges[column]).tolist()
            fold.bins = [a + b for a, b in zip(fold.bins, added, strict=True)]


def _add_numbers(folds: Sequence[FeatureFold], row: tuple[float, ...]) -> None:
    """Each value into its fold's moments."""
    count = _COUNT
    for fold, value in zip(folds, row, strict=True):
        fold.counts[count] += 1
        fold.sum += value
        fold.sum_sq += value * value
        low, high = fold.min, fold.max
        if low is None or value < low:
            fold.min = value
        if high is None or value > high:
            fold.max = value


def _fold_items(features: dict[tuple[str, str | None], FeatureFold], plan: RowPlan,
                items: list[tuple[int, Any]]) -> int:
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
        _add_numbers((fold,), (value,))
        edges = entry[5]
        if edges is not None and fold.bins is not None:
            fold.bins[bin_index(value, edges)] += 1
    if texts:
        dropped += _fold_texts(features, entries, items, baseline_id)
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
