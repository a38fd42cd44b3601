"""The per-feature part of profiles in ``metrics-modelspan.profile-<namespace>``: documents and mapping.

Beside its operations document (``modelspan.elasticsearch.profiles``), one process flush of a model
profile (docs/profiles.md, "Profile records") is written as further documents of the same data stream,
in long format, each with the operations document's ``@timestamp``, ``data_stream`` and dimensions
(model, version, module, process, interval) and its own ``ml.profile.kind``:

- ``feature``: one per (feature, baseline id): the counts, sums, min/max of the feature record under
  ``metrics.ml.profile.feature.*``; its counts per baseline bin (or per baseline category) as a
  ``histogram`` field whose ``values`` are the bin (category) indices and ``counts`` their counts, and
  ``ml.profile.feature.width`` (how many bins or categories the baseline has). A ``histogram``
  aggregation with ``interval: 1`` over that field sums the counts per index over every document, so
  one aggregation answers every feature's bins under a ``terms`` on the feature name::

      {"attributes": {..., "ml.profile.kind": "feature", "ml.profile.feature": "age",
                      "ml.profile.feature_kind": "numeric", "ml.profile.baseline_id": "b-1f2e..."},
       "metrics": {"ml.profile.feature.count": 812, "ml.profile.feature.null_count": 3, ...,
                   "ml.profile.feature.sum": 32571.2, "ml.profile.feature.min": 18.0, ...,
                   "ml.profile.feature.width": 11,
                   "ml.profile.feature.bins": {"values": [0, 1, 2], "counts": [10, 80, 160]}}}

  A text feature's document also carries ``ml.profile.feature.tokens``, ``.oov_tokens`` (against the
  baseline's vocabulary) and ``.oov_rate_sum`` / ``.oov_rate_count`` (its OOV rate, weighted as spans are).
- ``category``: one per (feature, baseline id, tracked category): the categories counted outside the
  baseline's list (``top`` of the record), ``ml.profile.category`` and its count;
- ``path``: one per (module path, output label): ``ml.profile.path``, ``ml.profile.label`` and
  ``metrics.ml.profile.path.calls``; the calls the SDK counted beyond its bounds (its "other" path or
  label) carry no path (label), so they add to the totals and to no bucket;
- ``quality``: one per model profile flush, always (it also marks the interval as profiled with
  features): failed values and failed calls per data-quality check and ``features_dropped``.

Why long format: the mapping stays fixed at 56 leaf fields (37 of them here), for 1 feature or 500. A
field per feature statistic and bin would take about 500 x 20 = 10,000 fields at 500 features (ten
times Elasticsearch's default ``index.mapping.total_fields.limit``) and a mapping update per new
feature; a ``nested`` list of features in one document would make each feature a hidden Lucene
document anyway and need ``nested`` aggregations. Here the analyzer's aggregations are one ``terms``
on the feature name with the same sub-aggregations for every feature.

>>> leaf_fields(mapping()["properties"])
56
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any, Final

from modelspan import semconv
from modelspan.elasticsearch import profiles
from modelspan.elasticsearch.layout import attr
from modelspan.elasticsearch.profiles import METRICS, PREFIX, leaf_fields, metric

Body = dict[str, Any]

KIND_FEATURE: Final = "feature"
KIND_CATEGORY: Final = "category"
KIND_PATH: Final = "path"
KIND_QUALITY: Final = "quality"
OTHER: Final = "\x00other"
"""The SDK's key for paths (labels) beyond its bounds (``_feature_profiles.OTHER_PATH``/``OTHER_LABEL``)."""

FEATURE_ATTRIBUTE: Final = PREFIX + "feature"
FEATURE_KIND_ATTRIBUTE: Final = PREFIX + "feature_kind"
BASELINE_ATTRIBUTE: Final = PREFIX + "baseline_id"
CATEGORY_ATTRIBUTE: Final = PREFIX + "category"
PATH_ATTRIBUTE: Final = PREFIX + "path"
LABEL_ATTRIBUTE: Final = PREFIX + "label"
_KEYWORDS: Final = (FEATURE_ATTRIBUTE, FEATURE_KIND_ATTRIBUTE, BASELINE_ATTRIBUTE, CATEGORY_ATTRIBUTE,
                    PATH_ATTRIBUTE, LABEL_ATTRIBUTE)

COUNTS: Final = (semconv.STAT_COUNT, semconv.STAT_NULL_COUNT, semconv.STAT_NAN_COUNT,
                 semconv.STAT_TYPE_CHANGE_COUNT, semconv.STAT_OUT_OF_RANGE, semconv.STAT_UNSEEN_COUNT, "other",
                 "top_other")
"""Record counts kept per feature document (``long``)."""
NUMBERS: Final = (semconv.STAT_SUM, semconv.STAT_SUM_SQ, semconv.STAT_MIN, semconv.STAT_MAX)
"""Record sums and extremes (``double``; absent when the record has none)."""
TEXT_COUNTS: Final = ("tokens", "oov_tokens", "oov_rate_count")
"""A text feature's token counts (``long``; only on text features' documents, from SDKs that count them)."""
TEXT_SUMS: Final = ("oov_rate_sum",)
"""A text feature's OOV rates x their weights (``double``): the rate is ``oov_rate_sum / oov_rate_count``."""


def feature_metric(stat: str) -> str:
    """Metric name of a feature statistic (``ml.profile.feature.<stat>``)."""
    return f"{PREFIX}feature.{stat}"


def check_metric(check: str, part: str) -> str:
    """Metric name of a data-quality check's failed ``values`` or ``calls``."""
    return f"{PREFIX}check.{check}.{part}"


WIDTH_METRIC: Final = feature_metric("width")
BINS_METRIC: Final = feature_metric("bins")
CATEGORIES_METRIC: Final = feature_metric("categories")
PATH_CALLS_METRIC: Final = PREFIX + "path.calls"
FEATURES_DROPPED_METRIC: Final = PREFIX + "features_dropped"

FEATURE: Final = attr(FEATURE_ATTRIBUTE)
BASELINE: Final = attr(BASELINE_ATTRIBUTE)
CATEGORY: Final = attr(CATEGORY_ATTRIBUTE)
PATH: Final = attr(PATH_ATTRIBUTE)
LABEL: Final = attr(LABEL_ATTRIBUTE)
WIDTH: Final = metric(WIDTH_METRIC)
BINS: Final = metric(BINS_METRIC)
CATEGORIES: Final = metric(CATEGORIES_METRIC)
PATH_CALLS: Final = metric(PATH_CALLS_METRIC)


def index_histogram(counts: list[int] | None) -> dict[str, list[int]] | None:
    """The ``histogram`` value of counts per index (empty indices left out), or None without any.

    >>> index_histogram([3, 0, 2])
    {'values': [0, 2], 'counts': [3, 2]}
    """
    pairs = [(index, int(count)) for index, count in enumerate(counts or ()) if count]
    if not pairs:
        return None
    return {"values": [index for index, _ in pairs], "counts": [count for _, count in pairs]}


def _id(process: str, flush: int, profile: Any, *parts: str) -> str:
    key = "\x1f".join((process, str(flush), str(profile.model), str(profile.version), str(profile.module),
                       str(profile.start_ns), *parts))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _document(base: Body, kind: str, attributes: Mapping[str, Any], metrics: Mapping[str, Any]) -> Body:
    return {**base, "attributes": {**base["attributes"], profiles.KIND_ATTRIBUTE: kind, **attributes},
            METRICS: dict(metrics)}


def _feature(base: Body, record: Mapping[str, Any]) -> Body:
    attributes = {FEATURE_ATTRIBUTE: str(record["feature"]), FEATURE_KIND_ATTRIBUTE: str(record["kind"])}
    if record.get("baseline_id") is not None:
        attributes[BASELINE_ATTRIBUTE] = str(record["baseline_id"])
    metrics: Body = {feature_metric(stat): int(record.get(stat) or 0) for stat in COUNTS}
    metrics.update({feature_metric(stat): float(record[stat]) for stat in NUMBERS if record.get(stat) is not None})
    metrics.update({feature_metric(stat): int(record[stat]) for stat in TEXT_COUNTS if record.get(stat) is not None})
    metrics.update({feature_metric(stat): float(record[stat]) for stat in TEXT_SUMS if record.get(stat) is not None})
    for name, counts in ((BINS_METRIC, record.get("bins")), (CATEGORIES_METRIC, record.get("categories"))):
        if counts is not None:
            metrics[WIDTH_METRIC] = len(counts)
            histogram = index_histogram(counts)
            if histogram is not None:
                metrics[name] = histogram
    return _document(base, KIND_FEATURE, attributes, metrics)


def feature_documents(profile: Any, base: Body, process: str, flush: int) -> Iterator[tuple[str, Body]]:
    """``(_id, document)`` of the per-feature part of one flush of ``profile`` (none for a sub-module's)."""
    if profile.module:
        return
    for (name, baseline_id), fold in sorted(getattr(profile, "features", {}).items(),
                                            key=lambda item: (item[0][0], item[0][1] or "")):
        record = fold.record(name)
        ids = (KIND_FEATURE, name, baseline_id or "")
        yield _id(process, flush, profile, *ids), _feature(base, record)
        for value, count in sorted(record.get("top", {}).items()):
            attributes = {FEATURE_ATTRIBUTE: name, CATEGORY_ATTRIBUTE: value}
            if baseline_id is not None:
                attributes[BASELINE_ATTRIBUTE] = baseline_id
            yield (_id(process, flush, profile, KIND_CATEGORY, name, baseline_id or "", value),
                   _document(base, KIND_CATEGORY, attributes, {feature_metric(semconv.STAT_COUNT): int(count)}))
    for path, labels in sorted(getattr(profile, "paths", {}).items()):
        for label, calls in sorted(labels.items()):
            attributes = {name: value for name, value in ((PATH_ATTRIBUTE, path), (LABEL_ATTRIBUTE, label))
                          if value != OTHER}
            yield (_id(process, flush, profile, KIND_PATH, path, label),
                   _document(base, KIND_PATH, attributes, {PATH_CALLS_METRIC: int(calls)}))
    checks = getattr(profile, "checks", {})
    metrics: Body = {FEATURES_DROPPED_METRIC: int(getattr(profile, "features_dropped", 0))}
    for check in semconv.CHECKS:
        values, calls = checks.get(check, (0, 0))
        metrics[check_metric(check, "values")] = int(values)
        metrics[check_metric(check, "calls")] = int(calls)
    yield _id(process, flush, profile, KIND_QUALITY), _document(base, KIND_QUALITY, {}, metrics)


def mapping() -> Body:
    """The profile data streams' fixed mapping: the operations part plus the per-feature documents'."""
    full = profiles.mapping()
    attributes = full["properties"]["attributes"]["properties"]
    attributes.update({name: {"type": "keyword", "ignore_above": 1024} for name in _KEYWORDS})
    metrics = full["properties"][METRICS]["properties"]
    metrics.update({feature_metric(stat): {"type": "long"} for stat in COUNTS})
    metrics.update({feature_metric(stat): {"type": "double"} for stat in NUMBERS})
    metrics.update({feature_metric(stat): {"type": "long"} for stat in TEXT_COUNTS})
    metrics.update({feature_metric(stat): {"type": "double"} for stat in TEXT_SUMS})
    metrics.update({WIDTH_METRIC: {"type": "long"}, BINS_METRIC: {"type": "histogram"},
                    CATEGORIES_METRIC: {"type": "histogram"}, PATH_CALLS_METRIC: {"type": "long"},
                    FEATURES_DROPPED_METRIC: {"type": "long"}})
    metrics.update({check_metric(check, part): {"type": "long"} for check in semconv.CHECKS
                    for part in ("values", "calls")})
    return full


__all__ = ["feature_documents", "leaf_fields", "mapping"]
