"""Index templates, ILM policies and indices that give modelspan's data pinned, aggregatable types.

Why our own templates: Elasticsearch's built-in ``traces-otel@template`` (priority 120) maps span
attributes through a ``passthrough`` object with dynamic mapping, so the *first* document decides a
field's type: a feature whose first value is ``3`` becomes ``long`` and later ``3.7`` values are
truncated; a batch sum first seen as an integer likewise. Our index template for
``traces-modelspan.otel-*`` has a higher priority (``TRACES_PRIORITY``), composes the same
Elastic component templates (so the document shape and the ``trace.id``/``span.name`` aliases stay
identical) and adds ours in front of ``ecs@mappings`` (dynamic templates are tried in order):

- ``modelspan-traces@settings``: the ILM policy and a field limit that drops extra dynamic fields
  instead of rejecting spans;
- ``modelspan-traces@mappings``: every fixed ``ml.*`` attribute with its type, and dynamic templates
  for the open-ended names (``ml.batch.<feature>.<stat>`` counts ``long``, sums ``double``;
  ``ml.feature.<name>`` numbers ``double``, strings ``keyword``);
- ``modelspan-traces-features@mappings``: explicit types of the features of the baselines given to
  ``modelspan elastic setup --baseline`` (``feature_mappings``), so a categorical feature whose
  first value looks like a number is still a ``keyword``.

``attributes`` is a ``passthrough`` object (subobjects are disabled, so ``ml.feature.temp`` is one
leaf under it, also reachable as ``ml.feature.temp``); our components declare it with the same
type and priority as ``otel@mappings`` because Elasticsearch refuses to merge a plain object into
a passthrough one. Numeric attribute fields use ``ignore_malformed`` so that one bad value is
dropped from the index (and listed in ``_ignored``) instead of the whole span being rejected.

Every body carries ``_meta.modelspan_hash`` (a digest of the body) so ``modelspan elastic setup``
can tell an installed object that is already current from one to replace, whatever normalisation
Elasticsearch applies to stored settings. Bodies are type-checked against the official
Elasticsearch types in ``tests/sdk/elasticsearch/test_templates.py``. Index and data-stream names
come from :mod:`modelspan.elasticsearch.layout`.

>>> sorted(index_templates())
['modelspan-findings', 'modelspan-profiles', 'modelspan-traces']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from modelspan import findings, semconv
from modelspan.elasticsearch import feature_profiles, layout, profiles

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

Body = dict[str, Any]

TRACES_TEMPLATE: Final = "modelspan-traces"
TRACES_PRIORITY: Final = 150
"""Above Elastic's built-in ``traces-otel@template`` (120), which matches ``traces-*.otel-*``."""
TRACES_SETTINGS: Final = "modelspan-traces@settings"
TRACES_MAPPINGS: Final = "modelspan-traces@mappings"
FEATURES_MAPPINGS: Final = "modelspan-traces-features@mappings"
TRACES_CUSTOM: Final = "modelspan-traces@custom"
"""Optional component a user may create to change our template without editing it."""
FINDINGS_TEMPLATE: Final = "modelspan-findings"
FINDINGS_PRIORITY: Final = 200
FINDINGS_FIRST_INDEX: Final = f"{layout.FINDINGS_INDEX}-000001"
TRACES_POLICY: Final = "modelspan-traces"
PROFILES_TEMPLATE: Final = "modelspan-profiles"
PROFILES_MAPPINGS: Final = "modelspan-profiles@mappings"
PROFILES_CUSTOM: Final = "modelspan-profiles@custom"
PROFILES_POLICY: Final = "modelspan-profiles"
PROFILES_PRIORITY: Final = 150
"""Above Elastic's built-in ``metrics`` template (100, ``metrics-*-*``)."""
DEFAULT_PROFILES_RETENTION_DAYS: Final = 400
"""Profiles are a few documents per model version and minute: kept over a year, for seasonal baselines."""
FINDINGS_POLICY: Final = "modelspan-findings"
DEFAULT_RETENTION_DAYS: Final = 30
DEFAULT_FINDINGS_RETENTION_DAYS: Final = 365
FIELD_LIMIT: Final = 10_000
MANAGED_BY: Final = "modelspan"

# Elastic's components, in the order of traces-otel@template; ours go before ecs@mappings.
ELASTIC_COMPONENTS: Final = ("otel@mappings", "traces-otel@mappings")
OPTIONAL_ELASTIC: Final = ("semconv-resource-to-ecs@mappings",)
ELASTIC_CUSTOM: Final = ("traces@custom", "traces-otel@custom")
ECS_COMPONENT: Final = "ecs@mappings"
BUILTIN_TRACES_TEMPLATE: Final = "traces-otel@template"
"""Elastic's template for ``traces-*.otel-*`` (priority 120) that ours outranks and mirrors."""

ATTRIBUTES: Final = layout.ATTRIBUTES
PASSTHROUGH_PRIORITY: Final = 20
"""Priority of ``attributes`` in Elastic's ``otel@mappings`` as of 8.17-9.1, used when the cluster's
own component cannot be read (a dry run): ours must equal the cluster's, because Elasticsearch
refuses two passthrough objects with the same priority, and other releases used other numbers
(10/20/30 for attributes/scope/resource in one)."""
ML_ALL: Final = f"{ATTRIBUTES}.{semconv.SPAN_KIND.partition('.')[0]}.*"
"""Every ``ml.*`` attribute (the namespace is the first segment of any semconv name)."""
KEYWORD_LIMIT: Final = 1024
PATH_KEY_LIMIT: Final = 8191
"""Characters: 8191 x 4 UTF-8 bytes stays below Lucene's 32,766-byte term limit."""

# Types of the per-feature batch statistics (ml.batch.<feature>.<stat>).
LONG_STATS: Final = (
    semconv.STAT_COUNT, semconv.STAT_NULL_COUNT, semconv.STAT_NAN_COUNT, semconv.STAT_OUT_OF_RANGE,
    semconv.STAT_UNSEEN_COUNT, semconv.STAT_TYPE_CHANGE_COUNT, semconv.STAT_OTHER_COUNT, semconv.STAT_TOP_COUNTS,
)
DOUBLE_STATS: Final = (
    semconv.STAT_SUM, semconv.STAT_SUM_SQ, semconv.STAT_MIN, semconv.STAT_MAX, semconv.STAT_LENGTH_MEAN,
    semconv.STAT_OOV_RATE,
)
KEYWORD_STATS: Final = (semconv.STAT_TOP_VALUES,)

DOUBLE: Final[Body] = {"type": "double", "ignore_malformed": True}
LONG: Final[Body] = {"type": "long", "ignore_malformed": True}
KEYWORD: Final[Body] = {"type": "keyword", "ignore_above": KEYWORD_LIMIT}
BOOLEAN: Final[Body] = {"type": "boolean"}


def stamp(body: Body, meta_key: str = "_meta") -> Body:
    """``body`` with ``<meta_key>.managed_by`` and ``.modelspan_hash`` (a digest of the rest).

    >>> stamp({"a": 1})["_meta"]["managed_by"]
    'modelspan'
    """
    meta = {**body.get(meta_key, {}), "managed_by": MANAGED_BY}
    unstamped = {**body, meta_key: meta}
    digest = hashlib.sha256(json.dumps(unstamped, sort_keys=True).encode()).hexdigest()[:20]
    return {**body, meta_key: {**meta, "modelspan_hash": digest}}


def body_hash(body: Mapping[str, Any], meta_key: str = "_meta") -> str | None:
    """The ``modelspan_hash`` a stamped body (as built or as read back) carries, if any."""
    meta = body.get(meta_key)
    value = meta.get("modelspan_hash") if isinstance(meta, Mapping) else None
    return value if isinstance(value, str) else None


def _passthrough(properties: Mapping[str, Body], priority: int) -> Body:
    return {ATTRIBUTES: {"type": "passthrough", "priority": priority, "dynamic": True,
                         "properties": dict(sorted(properties.items()))}}


def passthrough_priority(otel_mappings: Mapping[str, Any] | None) -> int:
    """The priority of ``attributes`` in the cluster's ``otel@mappings`` component (its ``template``).

    >>> passthrough_priority({"template": {"mappings": {"properties": {"attributes": {"priority": 10}}}}})
    10
    >>> passthrough_priority(None)
    20
    """
    if not otel_mappings:
        return PASSTHROUGH_PRIORITY
    found = (otel_mappings.get("template", {}).get("mappings", {}).get("properties", {})
             .get(ATTRIBUTES, {}).get("priority"))
    return int(found) if isinstance(found, int) and not isinstance(found, bool) else PASSTHROUGH_PRIORITY


def span_attribute_properties() -> dict[str, Body]:
    """Types of every fixed-name ``ml.*`` attribute (flat names under the passthrough ``attributes``)."""
    properties: dict[str, Body] = {}
    for name in (semconv.SPAN_KIND, semconv.MODEL_NAME, semconv.MODEL_VERSION, semconv.MODEL_TASK,
                 semconv.PREDICTION_ID, semconv.BASELINE_ID, semconv.MODULE_NAME, semconv.MODULE_PATH,
                 semconv.OUTPUT_LABEL, semconv.OUTPUT_LABELS, semconv.CBPE_CALIBRATION):
        properties[name] = dict(KEYWORD)
    properties[semconv.MODULE_PATH_KEY] = {"type": "keyword", "ignore_above": PATH_KEY_LIMIT}
    for name in (semconv.SAMPLE_RATE, semconv.OUTPUT_VALUE, semconv.OUTPUT_SCORE, semconv.OUTPUT_MARGIN,
                 semconv.OUTPUT_VALUES, semconv.OUTPUT_SCORES, semconv.ESTIMATION_ABS_ERROR,
                 semconv.ESTIMATION_SQUARED_ERROR, semconv.CBPE_POSITIVE_SUM, semconv.CBPE_NEGATIVE_SUM,
                 semconv.CBPE_CELL_SUMS, semconv.CBPE_CLASS_CELL_SUMS):
        properties[name] = dict(DOUBLE)
    for name in (semconv.BATCH_SIZE, semconv.MONITORING_ERRORS, semconv.ATTRIBUTES_DROPPED,
                 semconv.ESTIMATION_ROWS, semconv.CBPE_POSITIVE_ROWS, semconv.CBPE_NEGATIVE_ROWS, semconv.CBPE_UNUSABLE,
                 semconv.CBPE_CELLS, semconv.CBPE_CELL_ROWS, semconv.CBPE_VECTORS, semconv.CBPE_CLASS_CELLS,
                 semconv.CBPE_CLASS_CELL_ROWS):
        properties[name] = dict(LONG)
    for k in range(semconv.MAX_CLASS_PROBABILITIES):  # a multiclass batch's per-class CBPE scalars
        properties[semconv.cbpe_class(k, "predicted_rows")] = dict(LONG)
        properties[semconv.cbpe_class(k, "predicted_sum")] = dict(DOUBLE)
        properties[semconv.cbpe_class(k, "sum")] = dict(DOUBLE)
    properties[semconv.MODULE_PATH_TRUNCATED] = dict(BOOLEAN)
    for check in semconv.CHECKS:
        properties[semconv.quality_features(check)] = dict(KEYWORD)
        properties[semconv.quality_count(check)] = dict(LONG)
    # Opt-in JSON of the redacted input: searchable text, never a dimension or an aggregation.
    properties[semconv.INPUT_RAW] = {"type": "match_only_text"}
    return properties


def _batch_pattern(suffix: str) -> str:
    return layout.attr(semconv.batch_stat("*", suffix))


def dynamic_templates() -> list[dict[str, Body]]:
    """Types of open-ended ``ml.*`` names, most specific first (Elasticsearch tries them in order).

    A stat is always the last segment(s), so matching suffixes is right even for feature names
    holding dots: ``ml.batch.a.bin.sum`` is feature ``a.bin``'s sum (double), which is why the
    stat suffixes are tried before the ``bin.*``/``cat.*`` patterns.
    """
    any_number = ["long", "double"]
    bins = layout.attr(semconv.batch_bin("*", 0)[:-1] + "*")  # ml.batch.*.bin.*
    categories = layout.attr(semconv.batch_category("*", 0)[:-1] + "*")
    return [
        {"modelspan_batch_doubles": {"path_match": [_batch_pattern(s) for s in DOUBLE_STATS], "mapping": dict(DOUBLE)}},
        {"modelspan_batch_counts": {"path_match": [_batch_pattern(s) for s in LONG_STATS], "mapping": dict(LONG)}},
        {"modelspan_batch_keywords": {"path_match": [_batch_pattern(s) for s in KEYWORD_STATS],
                                      "mapping": dict(KEYWORD)}},
        {"modelspan_batch_bins": {"path_match": [bins, categories], "mapping": dict(LONG)}},
        {"modelspan_quality_counts": {"path_match": layout.attr(semconv.quality_count("*")), "mapping": dict(LONG)}},
        {"modelspan_ml_numbers": {"path_match": ML_ALL, "match_mapping_type": any_number,
                                  "mapping": dict(DOUBLE)}},
        {"modelspan_ml_booleans": {"path_match": ML_ALL, "match_mapping_type": "boolean",
                                   "mapping": dict(BOOLEAN)}},
        {"modelspan_ml_strings": {"path_match": ML_ALL, "match_mapping_type": "string",
                                  "mapping": dict(KEYWORD)}},
    ]


def feature_mappings(baseline: Baseline) -> dict[str, Body]:
    """Explicit types of every attribute the SDK writes for ``baseline``'s features and output.

    Numeric features are ``double``, categorical ones ``keyword`` (even when their values look like
    numbers), text features store their length and out-of-vocabulary rate; every batch statistic,
    bin and category count is typed too, so none of them depends on a dynamic template.

    >>> from modelspan.baseline import Baseline
    >>> props = feature_mappings(Baseline.from_data({"temp": [1.0, 2.0]}, model="m", version="1"))
    >>> props["ml.feature.temp"]["type"], props["ml.batch.temp.sum"]["type"]
    ('double', 'double')
    """
    properties: dict[str, Body] = {}
    columns = list(baseline.features.items())
    if baseline.output is not None:
        columns.append((semconv.OUTPUT_FEATURE, baseline.output))
    for name, profile in columns:
        if name is not semconv.OUTPUT_FEATURE:
            single = semconv.feature_value(name)
            if profile.kind == "numeric":
                properties[single] = dict(DOUBLE)
            elif profile.kind == "categorical":
                properties[single] = dict(KEYWORD)
            else:
                properties[semconv.text_length(name)] = dict(DOUBLE)
                properties[semconv.text_oov_rate(name)] = dict(DOUBLE)
        for stats, mapping in ((LONG_STATS, LONG), (DOUBLE_STATS, DOUBLE), (KEYWORD_STATS, KEYWORD)):
            for stat in stats:
                properties[semconv.batch_stat(name, stat)] = dict(mapping)
        for index in range(len(profile.edges) + 1 if profile.kind != "categorical" else 0):
            properties[semconv.batch_bin(name, index)] = dict(LONG)
        for index in range(len(profile.categories)):
            properties[semconv.batch_category(name, index)] = dict(LONG)
    return properties


def merged_feature_mappings(baselines: Iterable[Baseline]) -> dict[str, Body]:
    """Union of ``feature_mappings`` over several baselines; raises ``ValueError`` on a type clash.

    Feature attributes are not namespaced by model, so two models whose feature ``age`` is numeric
    in one and categorical in the other cannot share a data stream's mapping: rename one feature.
    """
    merged: dict[str, Body] = {}
    owners: dict[str, str] = {}
    for baseline in baselines:
        owner = f"{baseline.model} {baseline.version}"
        for name, mapping in feature_mappings(baseline).items():
            if name in merged and merged[name]["type"] != mapping["type"]:
                raise ValueError(f"attribute {name!r} is {merged[name]['type']} for {owners[name]} but "
                                 f"{mapping['type']} for {owner}; rename the feature in one model")
            merged.setdefault(name, mapping)
            owners.setdefault(name, owner)
    return merged


def component_templates(baselines: Iterable[Baseline] = (), *,
                        passthrough: int = PASSTHROUGH_PRIORITY) -> dict[str, Body]:
    """Our component templates for the span data streams, by name (PUT ``_component_template/<name>``).

    ``baselines`` pin their features' types (``merged_feature_mappings``); without any, the
    features component is installed empty so the index template's composition never changes.
    ``passthrough`` is the priority of ``attributes`` in the cluster's ``otel@mappings``
    (``passthrough_priority``), which ours must repeat.
    """
    settings = {"index": {"lifecycle": {"name": TRACES_POLICY},
                          "mapping": {"total_fields": {"limit": FIELD_LIMIT, "ignore_dynamic_beyond_limit": True}}}}
    mappings = {"properties": _passthrough(span_attribute_properties(), passthrough),
                "dynamic_templates": dynamic_templates()}
    features = {"properties": _passthrough(merged_feature_mappings(baselines), passthrough)}
    description = "modelspan: {} for " + layout.SPANS_PATTERN + " (installed by modelspan elastic setup)"
    return {
        TRACES_SETTINGS: stamp({"template": {"settings": settings}, "_meta": {"description": description.format(
            "ILM policy and field limits")}}),
        TRACES_MAPPINGS: stamp({"template": {"mappings": mappings}, "_meta": {"description": description.format(
            "types of the ml.* span attributes")}}),
        FEATURES_MAPPINGS: stamp({"template": {"mappings": features}, "_meta": {"description": description.format(
            "types of the baselines' feature attributes")}}),
        PROFILES_MAPPINGS: stamp({"template": {"settings": {"index": {"lifecycle": {"name": PROFILES_POLICY}}},
                                               "mappings": feature_profiles.mapping()},
                                  "_meta": {"description": f"modelspan: the fixed mapping of {profiles.PATTERN}"}}),
    }


def traces_composition(builtin: Mapping[str, Any] | None = None) -> tuple[list[str], list[str]]:
    """``composed_of`` and ``ignore_missing_component_templates`` of our span template.

    ``builtin`` is the cluster's ``traces-otel@template`` as ``GET _index_template`` returns it;
    mirroring its components keeps our data streams identical to Elastic's on every version (9.x
    may compose more than 8.17). Ours go before the first ``@custom`` component (so users can still
    override us) and before ``ecs@mappings`` (so our dynamic templates are tried first). Without
    it, the components of ``traces-otel@template`` as of 8.17 are used.
    """
    if builtin is None:
        elastic = [*ELASTIC_COMPONENTS, *OPTIONAL_ELASTIC, *ELASTIC_CUSTOM, ECS_COMPONENT]
        missing_ok = [*OPTIONAL_ELASTIC, *ELASTIC_CUSTOM]
    else:
        elastic = list(builtin.get("composed_of", []))
        missing_ok = list(builtin.get("ignore_missing_component_templates", []))
    ours = [TRACES_SETTINGS, TRACES_MAPPINGS, FEATURES_MAPPINGS]
    cut = next((i for i, name in enumerate(elastic) if name.endswith("@custom") or name == ECS_COMPONENT), len(elastic))
    composed = [*elastic[:cut], *ours, *elastic[cut:]]
    custom = [i for i, name in enumerate(composed) if name.endswith("@custom")]
    composed.insert(custom[-1] + 1 if custom else len(composed), TRACES_CUSTOM)
    return composed, [*missing_ok, TRACES_CUSTOM]


def index_templates(builtin: Mapping[str, Any] | None = None) -> dict[str, Body]:
    """Our index templates, by name (PUT ``_index_template/<name>``): span data streams and findings.

    ``builtin``: the cluster's ``traces-otel@template`` body, whose components ours mirror
    (``traces_composition``).
    """
    composed, missing_ok = traces_composition(builtin)
    traces = {
        "index_patterns": [layout.SPANS_PATTERN],
        "priority": TRACES_PRIORITY,
        "data_stream": {},
        "allow_auto_create": True,
        "composed_of": composed,
        "ignore_missing_component_templates": missing_ok,
        "_meta": {"description": "modelspan model spans: Elastic's OTel traces template plus pinned ml.* types"},
    }
    findings_settings = {"index": {"lifecycle": {"name": FINDINGS_POLICY, "rollover_alias": layout.FINDINGS_INDEX}}}
    findings_template = {
        "index_patterns": [f"{layout.FINDINGS_INDEX}-*"],
        "priority": FINDINGS_PRIORITY,
        "template": {"settings": findings_settings, "mappings": findings.mapping()},
        "_meta": {"description": "modelspan analyzer findings (rolled over behind the modelspan-findings alias)"},
    }
    profile_streams = {
        "index_patterns": [profiles.PATTERN],
        "priority": PROFILES_PRIORITY,
        "data_stream": {},
        "allow_auto_create": True,
        "composed_of": [PROFILES_MAPPINGS, PROFILES_CUSTOM],
        "ignore_missing_component_templates": [PROFILES_CUSTOM],
        "_meta": {"description": "modelspan profiles: exact per-interval call statistics (docs/profiles.md)"},
    }
    return {TRACES_TEMPLATE: stamp(traces), FINDINGS_TEMPLATE: stamp(findings_template),
            PROFILES_TEMPLATE: stamp(profile_streams)}


def ilm_policies(retention_days: int = DEFAULT_RETENTION_DAYS,
                 findings_retention_days: int = DEFAULT_FINDINGS_RETENTION_DAYS,
                 profiles_retention_days: int = DEFAULT_PROFILES_RETENTION_DAYS) -> dict[str, Body]:
    """ILM policies by name (PUT ``_ilm/policy/<name>``): roll over hot indices, delete after N days.

    The delete phase's age counts from rollover, so a span is kept at least ``retention_days`` and
    at most one rollover period longer.
    """
    for label, days in (("retention_days", retention_days), ("findings_retention_days", findings_retention_days),
                        ("profiles_retention_days", profiles_retention_days)):
        if not isinstance(days, int) or days < 1:
            raise ValueError(f"{label} must be a positive number of days, got {days!r}")
    spans = _policy("1d", "50gb", retention_days, "modelspan spans: daily rollover")
    found = _policy("30d", "10gb", findings_retention_days, "modelspan findings: monthly rollover")
    profile = _policy("30d", "50gb", profiles_retention_days, "modelspan profiles: monthly rollover")
    return {TRACES_POLICY: {"policy": stamp(spans["policy"])}, FINDINGS_POLICY: {"policy": stamp(found["policy"])},
            PROFILES_POLICY: {"policy": stamp(profile["policy"])}}


def _policy(max_age: str, max_size: str, delete_days: int, description: str) -> Body:
    hot = {"min_age": "0ms", "actions": {"rollover": {"max_age": max_age, "max_primary_shard_size": max_size},
                                         "set_priority": {"priority": 100}}}
    delete = {"min_age": f"{delete_days}d", "actions": {"delete": {}}}
    return {"policy": {"_meta": {"description": description}, "phases": {"hot": hot, "delete": delete}}}


def outcomes_mapping() -> Body:
    """Mapping of ``layout.OUTCOMES_INDEX``: one document per prediction id (``_id``), re-recording replaces.

    ``actual`` is a ``keyword`` so class labels (``"churned"``, ``"1"``) compare exactly with
    ``ml.output.label``; a regression target is stored as given and also indexed as the number
    ``actual.value`` (``ignore_malformed`` keeps class labels out of it). The analyzer reads
    ``actual`` from ``_source``, so both kinds round-trip unchanged.
    """
    return {
        "dynamic": False,
        "properties": {
            "prediction": {"properties": {"id": {"type": "keyword"}}},
            "actual": {"type": "keyword", "ignore_above": KEYWORD_LIMIT,
                       "fields": {"value": {"type": "double", "ignore_malformed": True}}},
            layout.TIMESTAMP: {"type": "date"},
            "model": {"properties": {"name": {"type": "keyword"}, "version": {"type": "keyword"}}},
        },
    }


def baselines_mapping() -> Body:
    """Mapping of ``layout.BASELINES_INDEX``: searchable identity, the profile itself kept but not indexed."""
    return {
        "dynamic": False,
        "properties": {
            "baseline": {"properties": {"id": {"type": "keyword"}, "created_at": {"type": "date"}},
                         "type": "object"},
            "model": {"properties": {"name": {"type": "keyword"}, "version": {"type": "keyword"}}},
            layout.TIMESTAMP: {"type": "date"},
            "body": {"type": "object", "enabled": False},
        },
    }


def checkpoints_mapping() -> Body:
    """Mapping of ``layout.CHECKPOINTS_INDEX``: one document per checkpoint name (``_id``) with its value."""
    return {
        "dynamic": False,
        "properties": {
            "name": {"type": "keyword"},
            "value": {"type": "keyword", "ignore_above": KEYWORD_LIMIT},
            layout.TIMESTAMP: {"type": "date"},
            "body": {"type": "object", "enabled": False},
        },
    }


def findings_bootstrap() -> dict[str, Body]:
    """Indices to create once, by name (PUT ``/<name>``), if the name (or alias) does not exist yet.

    The findings index is the first of a rollover series behind the write alias ``FINDINGS_INDEX``
    (its settings and mapping come from the ``modelspan-findings`` index template). Outcomes,
    baselines and checkpoints are single indices: documents are replaced by ``_id``, which a rollover
    would break, and they stay small.
    """
    return {
        FINDINGS_FIRST_INDEX: {"aliases": {layout.FINDINGS_INDEX: {"is_write_index": True}}},
        layout.OUTCOMES_INDEX: {"mappings": outcomes_mapping()},
        layout.BASELINES_INDEX: {"mappings": baselines_mapping()},
        layout.CHECKPOINTS_INDEX: {"mappings": checkpoints_mapping()},
    }


def bootstrap_name(index: str, body: Mapping[str, Any]) -> str:
    """The name to look up before creating ``index``: its alias when it has one."""
    aliases = body.get("aliases") or {}
    return next(iter(aliases), index)
