"""Templates, ILM policies and index bodies: official types, and the types the analyzer relies on.

The effective mapping of a ``traces-modelspan.otel-*`` backing index is rebuilt the way
Elasticsearch composes it: Elastic's reference ``otel@mappings`` and ``traces-otel@mappings``
(from /work/shared/reference/elastic) merged with our components in ``composed_of`` order, explicit
properties first, then dynamic templates in order, first ``path_match`` (and ``match_mapping_type``)
that fits. Every field the analyzer's search bodies name must resolve to an aggregatable type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelspan import findings, semconv
from modelspan.baseline import Baseline
from modelspan.elasticsearch import layout, templates
from modelspan.store import _es_queries as queries
from modelspan.store.types import columns_for
from tests.contract.tsc import Case, typecheck

REFERENCE = Path("/work/shared/reference/elastic")
AGGREGATABLE = {"keyword", "long", "double", "date", "boolean", "constant_keyword"}
WINDOW = queries.Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")


def _baseline() -> Baseline:
    rows = 40
    data = {
        "temp": [1.0, 2.0, 3.5, 7.0] * (rows // 4),
        "zip": [12345, 23456, 12345, 99999] * (rows // 4),  # categorical codes that look like numbers
        "comment": ["good day", "bad day", "ok", "fine"] * (rows // 4),
        "label": ["a", "b", "a", "b"] * (rows // 4),
    }
    return Baseline.from_data(data, model="churn", version="3", output="label", categorical=["zip"], text=["comment"])


def _reference(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REFERENCE / f"{name}.yaml").read_text())
    return loaded


class EffectiveMapping:
    """Elastic's reference components merged with ours, as a backing index would see them."""

    def __init__(self, components: dict[str, dict[str, Any]]) -> None:
        self.attributes: dict[str, Any] = {}
        self.top: dict[str, Any] = {}
        self.dynamic: list[dict[str, Any]] = []
        template = templates.index_templates()[templates.TRACES_TEMPLATE]
        for name in template["composed_of"]:
            if name in templates.ELASTIC_COMPONENTS:
                self._merge(_reference(name)["template"]["mappings"])
            elif name in components:
                self._merge(components[name]["template"].get("mappings", {}))

    def _merge(self, mappings: dict[str, Any]) -> None:
        for key, value in mappings.get("properties", {}).items():
            if key == templates.ATTRIBUTES:
                assert value["type"] == "passthrough"
                self.attributes.update(value.get("properties", {}))
            else:
                self.top[key] = value
        for entry in mappings.get("dynamic_templates", []):
            self.dynamic.append(next(iter(entry.values())))

    def type_of(self, field: str, sample: Any) -> str:
        """Type of ``field`` when a document first brings ``sample`` (a JSON value) for it."""
        prefix = templates.ATTRIBUTES + "."
        if field.startswith(prefix):
            explicit = self.attributes.get(field[len(prefix):])
            if explicit is not None:
                return str(explicit["type"])
            json_type = _json_type(sample)
            for rule in self.dynamic:
                if _matches(rule, field, json_type):
                    return str(rule["mapping"]["type"])
            return {"long": "long", "double": "float", "string": "keyword", "boolean": "boolean"}[json_type]
        holder: Any = {"properties": self.top}
        for part in field.split("."):
            holder = holder.get("properties", {}).get(part) if isinstance(holder, dict) else None
            if holder is None:
                holder = self.top.get(field)
                break
        assert holder is not None, f"{field} is not mapped"
        return str(holder["type"])


def _json_type(sample: Any) -> str:
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int):
        return "long"
    if isinstance(sample, float):
        return "double"
    if isinstance(sample, dict):
        return "object"
    return "string"


def _matches(rule: dict[str, Any], field: str, json_type: str) -> bool:
    wanted = rule.get("match_mapping_type")
    if wanted is not None and json_type not in ([wanted] if isinstance(wanted, str) else wanted):
        return False
    patterns = rule.get("path_match", [])
    patterns = [patterns] if isinstance(patterns, str) else patterns
    # Elasticsearch's simple wildcard: '*' matches any characters, dots included.
    return any(re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), field) for pattern in patterns)


def _fields(body: Any) -> Iterator[str]:
    """Every field a search body names (aggregation fields, term/terms/range/exists/sort keys)."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "field" and isinstance(value, str):
                yield value
            elif key in ("term", "terms", "range") and isinstance(value, dict):
                # an aggregation names its "field"; a query is keyed by field names
                yield from [value["field"]] if "field" in value else (name for name in value if name != "boost")
            elif key == "exists":
                yield value["field"]
            else:
                yield from _fields(value)
    elif isinstance(body, list):
        for item in body:
            yield from _fields(item)


def _samples(field: str) -> list[Any]:
    """JSON values the SDK may write first for ``field``: integers too where the type is a number."""
    return [3, 3.5] if "label" not in field and "kind" not in field else ["a"]


def test_every_body_type_checks_against_the_official_types() -> None:
    cases = [Case(f"component {name}", "ComponentTemplateBody", body)
             for name, body in templates.component_templates([_baseline()]).items()]
    cases += [Case(f"component {name} (no baselines)", "ComponentTemplateBody", body)
              for name, body in templates.component_templates().items()]
    cases += [Case(f"index template {name}", "IndexTemplateBody", body)
              for name, body in templates.index_templates().items()]
    cases += [Case(f"ILM {name}", "IlmPolicyBody", body) for name, body in templates.ilm_policies(7, 90).items()]
    cases += [Case(f"create {name}", "CreateIndexBody", body) for name, body in templates.findings_bootstrap().items()]
    typecheck(cases)


def test_traces_template_outranks_the_builtin_and_keeps_elastics_components() -> None:
    builtin = _reference("traces-otel@template")
    ours = templates.index_templates()[templates.TRACES_TEMPLATE]
    assert ours["priority"] > builtin["priority"] == 120
    assert ours["index_patterns"] == [f"traces-{semconv.MODELSPAN_DATASET}.otel-*"]
    assert ours["data_stream"] == {} and ours["allow_auto_create"] is True
    # Every component of the built-in template is still composed, in the same relative order.
    composed = ours["composed_of"]
    elastic = [name for name in builtin["composed_of"] if name in composed]
    assert elastic == builtin["composed_of"]
    assert set(ours["ignore_missing_component_templates"]) >= set(builtin["ignore_missing_component_templates"])
    # Our dynamic templates must be tried before ecs@mappings' (whose '*_score*' would make a float).
    assert composed.index(templates.TRACES_MAPPINGS) < composed.index(templates.ECS_COMPONENT)
    assert composed.index(templates.FEATURES_MAPPINGS) < composed.index(templates.ECS_COMPONENT)


def test_composition_mirrors_the_clusters_builtin_template() -> None:
    builtin = {key: value for key, value in _reference("traces-otel@template").items() if key != "version"}
    composed, missing_ok = templates.traces_composition(builtin)
    assert [name for name in composed if name in builtin["composed_of"]] == builtin["composed_of"]
    assert composed.index(templates.TRACES_MAPPINGS) < composed.index("traces@custom")
    assert composed.index(templates.TRACES_CUSTOM) > composed.index("traces-otel@custom")
    assert set(missing_ok) == {*builtin["ignore_missing_component_templates"], templates.TRACES_CUSTOM}
    # A newer built-in with a component 8.17 did not have: ours compose it too.
    newer = {"composed_of": [*builtin["composed_of"][:2], "otel@settings", *builtin["composed_of"][2:]]}
    assert "otel@settings" in templates.index_templates(newer)[templates.TRACES_TEMPLATE]["composed_of"]
    body = templates.index_templates(builtin)[templates.TRACES_TEMPLATE]
    typecheck([Case("index template mirroring the reference built-in", "IndexTemplateBody", body)])


def test_attributes_stay_the_same_passthrough_object_as_elastics() -> None:
    elastic = _reference("otel@mappings")["template"]["mappings"]["properties"]["attributes"]
    for name in (templates.TRACES_MAPPINGS, templates.FEATURES_MAPPINGS):
        ours = templates.component_templates([_baseline()])[name]["template"]["mappings"]["properties"]["attributes"]
        # A plain object cannot merge into a passthrough one; the priority must not collide with
        # scope (30) or resource (40) attributes; time_series_dimension is left to Elastic's.
        assert ours["type"] == elastic["type"] == "passthrough"
        assert ours["priority"] == elastic["priority"]
        assert "time_series_dimension" not in ours
        # subobjects are disabled under passthrough: names are flat leaves, never nested objects.
        assert all("properties" not in mapping for mapping in ours["properties"].values())


@pytest.mark.parametrize("pinned", [True, False], ids=["with baseline", "dynamic only"])
def test_every_field_the_analyzer_queries_is_aggregatable(pinned: bool) -> None:
    baseline = _baseline()
    mapping = EffectiveMapping(templates.component_templates([baseline] if pinned else []))
    question = queries.Question("churn", "3", WINDOW, 60, baseline.id, columns_for(baseline))
    bodies = [queries.models_body(WINDOW), queries.model_body(question),
              queries.predictions_body(WINDOW, "churn", "3", ["p1"])]
    fields = {name for body in bodies for name in _fields(body)}
    assert len(fields) > 60, sorted(fields)
    for field in sorted(fields):
        for sample in _samples(field):
            assert mapping.type_of(field, sample) in AGGREGATABLE, (field, sample)


def test_numbers_are_pinned_whatever_the_first_value() -> None:
    mapping = EffectiveMapping(templates.component_templates([_baseline()]))
    attr = layout.attr
    for field in (semconv.feature_value("unknown_feature"), semconv.batch_stat("temp", semconv.STAT_SUM),
                  semconv.batch_stat("a.bin", semconv.STAT_SUM), semconv.OUTPUT_VALUE, semconv.SAMPLE_RATE,
                  semconv.batch_stat(semconv.OUTPUT_SCORE_FEATURE, semconv.STAT_SUM)):
        assert mapping.type_of(attr(field), 3) == "double", field
    for field in (semconv.batch_stat("new", semconv.STAT_COUNT), semconv.batch_bin("new", 4),
                  semconv.batch_category("new", 2), semconv.batch_stat("new", semconv.STAT_OTHER_COUNT),
                  semconv.quality_count("future_check"), semconv.BATCH_SIZE):
        assert mapping.type_of(attr(field), 3) == "long", field
    assert mapping.type_of(attr(semconv.batch_stat("cat", semconv.STAT_TOP_VALUES)), "x") == "keyword"
    assert mapping.type_of(attr(semconv.feature_value("city")), "Paris") == "keyword"
    # A categorical feature whose codes look like numbers: only the baseline can say it is a keyword.
    assert mapping.type_of(attr(semconv.feature_value("zip")), 12345) == "keyword"
    dynamic_only = EffectiveMapping(templates.component_templates())
    assert dynamic_only.type_of(attr(semconv.feature_value("zip")), 12345) == "double"


def test_feature_mappings_cover_every_bin_and_category_of_the_baseline() -> None:
    baseline = _baseline()
    properties = templates.feature_mappings(baseline)
    temp, comment = baseline.features["temp"], baseline.features["comment"]
    for index in range(len(temp.edges) + 1):
        assert properties[semconv.batch_bin("temp", index)]["type"] == "long"
    assert semconv.batch_bin("temp", len(temp.edges) + 1) not in properties
    for index in range(len(baseline.features["zip"].categories)):
        assert properties[semconv.batch_category("zip", index)]["type"] == "long"
    assert properties[semconv.feature_value("comment") + semconv.TEXT_LENGTH_SUFFIX]["type"] == "double"
    assert len(comment.edges) > 0 and semconv.batch_bin("comment", len(comment.edges)) in properties
    assert baseline.output is not None
    for index in range(len(baseline.output.categories)):
        assert semconv.batch_category(semconv.OUTPUT_FEATURE, index) in properties
    assert all(semconv.parse_feature_attribute(name) is not None for name in properties)


def test_baselines_that_disagree_on_a_feature_type_are_refused() -> None:
    numeric = Baseline.from_data({"age": [1.0, 2.0, 3.0]}, model="a", version="1")
    categorical = Baseline.from_data({"age": ["young", "old", "old"]}, model="b", version="1", categorical=["age"])
    with pytest.raises(ValueError, match=r"ml\.feature\.age.*a 1.*b 1"):
        templates.merged_feature_mappings([numeric, categorical])
    assert templates.merged_feature_mappings([numeric, numeric]) == templates.feature_mappings(numeric)


def test_findings_and_outcomes_indices() -> None:
    found = templates.index_templates()[templates.FINDINGS_TEMPLATE]
    assert found["template"]["mappings"] == findings.mapping()
    assert found["index_patterns"] == [f"{findings.FINDINGS_INDEX}-*"]
    lifecycle = found["template"]["settings"]["index"]["lifecycle"]
    assert lifecycle == {"name": templates.FINDINGS_POLICY, "rollover_alias": findings.FINDINGS_INDEX}
    boot = templates.findings_bootstrap()
    first = boot[templates.FINDINGS_FIRST_INDEX]
    assert templates.bootstrap_name(templates.FINDINGS_FIRST_INDEX, first) == findings.FINDINGS_INDEX
    outcomes = boot[findings.OUTCOMES_INDEX]["mappings"]["properties"]
    # The label join sorts by prediction id and filters by time: both must be doc-valued types.
    assert outcomes["prediction"]["properties"]["id"]["type"] == "keyword"
    assert outcomes["@timestamp"]["type"] == "date"
    assert outcomes["actual"]["type"] == "keyword" and outcomes["actual"]["fields"]["value"]["type"] == "double"
    assert queries.OUTCOME_PREDICTION_ID == "prediction.id" and queries.OUTCOME_ACTUAL == "actual"
    for index in (layout.BASELINES_INDEX, layout.CHECKPOINTS_INDEX):
        assert boot[index]["mappings"]["properties"]["body"] == {"type": "object", "enabled": False}


def test_ilm_retention_is_configurable_and_validated() -> None:
    policies = templates.ilm_policies(retention_days=7, findings_retention_days=90)
    assert policies[templates.TRACES_POLICY]["policy"]["phases"]["delete"]["min_age"] == "7d"
    assert policies[templates.FINDINGS_POLICY]["policy"]["phases"]["delete"]["min_age"] == "90d"
    assert "rollover" in policies[templates.TRACES_POLICY]["policy"]["phases"]["hot"]["actions"]
    settings = templates.component_templates()[templates.TRACES_SETTINGS]["template"]["settings"]
    assert settings["index"]["lifecycle"]["name"] == templates.TRACES_POLICY
    for bad in (0, -3):
        with pytest.raises(ValueError, match="retention_days"):
            templates.ilm_policies(retention_days=bad)


def test_hash_stamps_change_with_content_only() -> None:
    first, again = templates.ilm_policies(30), templates.ilm_policies(30)
    other = templates.ilm_policies(31)
    digest = templates.body_hash(first[templates.TRACES_POLICY]["policy"])
    assert digest is not None and digest == templates.body_hash(again[templates.TRACES_POLICY]["policy"])
    assert digest != templates.body_hash(other[templates.TRACES_POLICY]["policy"])
    assert templates.body_hash({"_meta": {}}) is None


def test_no_ml_attribute_literals_in_the_templates_module() -> None:
    source = Path(templates.__file__).read_text()
    code = re.sub(r'""".*?"""', "", source, flags=re.S)
    assert not re.search(r"[\"']ml\.", code)


def _nested_type(mapping: dict[str, Any], field: str) -> str | None:
    properties = mapping["properties"]
    if field in properties:  # flat keys (findings: subobjects false)
        return str(properties[field]["type"])
    holder: Any = {"properties": properties}
    for part in field.split("."):
        holder = holder.get("properties", {}).get(part) if isinstance(holder, dict) else None
    return None if holder is None else str(holder["type"])


def test_outcome_and_findings_queries_use_mapped_aggregatable_fields() -> None:
    from modelspan.store import _es_extras

    boot = templates.findings_bootstrap()
    checks = [(boot[findings.OUTCOMES_INDEX]["mappings"], queries.outcomes_body(WINDOW, ["p9"])),
              (findings.mapping(), _es_extras.findings_body(WINDOW, [findings.TYPE_DRIFT], "churn"))]
    for mapping, body in checks:
        named = set(_fields(body)) | {key for sort in body.get("sort", []) for key in sort}
        assert named
        for field in named:
            assert _nested_type(mapping, field) in AGGREGATABLE, field
