"""Feature records of profiles into the column aggregations both stores answer with (docs/profiles.md).

A store gathers a window's per-feature profile records (SQLite: the ``features`` JSON of its profile rows;
Elasticsearch: sums over its feature documents, ``_es_features``) into :class:`Profiled`; ``column_aggs``
turns one feature's records into the aggregations ``_answers.parse_column`` reads for batch summaries
(``c<i>_b_<stat>``, ``c<i>_batch``), so the merge rules are the ones both backends share. Bins and
categories count only from records made over the question's baseline (same id, same number of bins);
the other records' values are ``unbinned``, as batch summaries over another baseline are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from modelspan import semconv
from modelspan.instrumentation._feature_fold import OOV_RATE_COUNT, OOV_RATE_SUM, OOV_TOKENS, TOKENS
from modelspan.store._answers import BATCH_SUMS, MAX_UNSEEN_EXAMPLES
from modelspan.store.types import Column

Agg = dict[str, Any]
OTHER = "\x00other"
"""Key of the calls on paths (labels) beyond the SDK's bound (``_feature_profiles.OTHER_PATH``)."""


@dataclass
class Profiled:
    """The feature records, paths and data-quality counts of a window's profile rows, merged."""

    features: dict[str, list[Agg]] = field(default_factory=lambda: defaultdict(list))
    paths: dict[str, dict[str, int]] = field(default_factory=dict)
    checks: dict[str, list[int]] = field(default_factory=dict)
    dropped: int = 0


def column_aggs(index: int, column: Column, profiled: Profiled, baseline_id: str | None) -> Agg:
    """One column's aggregations from its feature records (all of them count; bins only over ``baseline_id``)."""
    prefix = f"c{index}_"
    records = profiled.features.get(column.name, [])
    aggs: Agg = {f"{prefix}b_{stat}": {"value": float(sum(r.get(stat) or 0 for r in records))} for stat in BATCH_SUMS}
    aggs[prefix + "b_min"] = {"value": min((r["min"] for r in records if r.get("min") is not None), default=None)}
    aggs[prefix + "b_max"] = {"value": max((r["max"] for r in records if r.get("max") is not None), default=None)}
    same = [r for r in records if baseline_id is not None and r.get("baseline_id") == baseline_id]
    if column.kind == "categorical":
        aggs.update(_categories(prefix, column, records, same))
        return aggs
    aggs[prefix + "rows"] = {"count": 0, "sum": 0.0, "sum_of_squares": None, "min": None, "max": None}
    if column.kind == "text":
        aggs.update(oov_aggs(prefix, records))
    if column.edges:
        width = len(column.edges) + 1
        binned = [r["bins"] for r in same if r.get("bins") is not None and len(r["bins"]) == width]
        aggs[prefix + "bins"] = {"buckets": [{"doc_count": 0} for _ in range(width)]}
        aggs[prefix + "batch"] = {f"b{i}": {"value": float(sum(b[i] for b in binned))} for i in range(width)}
    return aggs


def oov_aggs(prefix: str, records: list[Agg]) -> Agg:
    """A text column's token sums (``p_oov``), when its records carry them (an SDK before them: none, spans answer).

    The rate is ``oov_rate_sum / oov_rate_count`` (the span path's weighting); tokens and OOV tokens are exact.
    """
    carrying = [r for r in records if r.get(OOV_RATE_COUNT) is not None]
    if not carrying:
        return {}
    sums = {key: {"value": float(sum(r.get(field) or 0 for r in carrying))}
            for key, field in (("tokens", TOKENS), ("oov_tokens", OOV_TOKENS), ("sum", OOV_RATE_SUM),
                               ("count", OOV_RATE_COUNT))}
    return {prefix + "p_oov": sums}


def _categories(prefix: str, column: Column, records: list[Agg], same: list[Agg]) -> Agg:
    width = len(column.categories)
    binned = [r for r in same if r.get("categories") is not None and len(r["categories"]) == width]
    batch: Agg = {f"k{i}": {"value": float(sum(r["categories"][i] for r in binned))} for i in range(width)}
    batch.update(other={"value": float(sum(r.get("other", 0) for r in binned))},
                 unseen={"value": float(sum(r.get(semconv.STAT_UNSEEN_COUNT, 0) for r in binned))},
                 count={"value": float(sum(r.get(semconv.STAT_COUNT, 0) for r in binned))})
    known = set(column.vocabulary) | set(column.categories)
    tracked: dict[str, int] = {}
    for record in records:
        for value, count in (record.get("top") or {}).items():
            if value not in known:
                tracked[value] = tracked.get(value, 0) + int(count)
    unseen = sorted(tracked.items(), key=lambda pair: (-pair[1], pair[0]))[:MAX_UNSEEN_EXAMPLES]
    aggs: Agg = {prefix + "rows": {"value": 0}, prefix + "batch": batch,
                 prefix + "unseen": {"buckets": [{"key": v, "doc_count": n} for v, n in unseen]}}
    if column.categories:
        aggs[prefix + "cats"] = {"buckets": []}
    if known:
        aggs[prefix + "known"] = {"doc_count": 0}
    return aggs
