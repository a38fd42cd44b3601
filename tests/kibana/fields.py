"""Which fields exist, and with which type, in the indices our dashboards, watches and rules read.

Span fields come from the index templates ``modelspan elastic setup`` installs
(``modelspan.elasticsearch.templates``: our pinned ``attributes.ml.*`` properties and the specific dynamic
templates) plus the OpenTelemetry core fields of Elastic's ``otel@mappings``/``traces-otel@mappings``
that our template composes (read from the reference YAML files). The catch-all ``attributes.ml.*``
dynamic templates are deliberately not enough: a field only they would map is a misspelling.
Findings fields come from ``modelspan.findings.mapping()``; profile fields from the profile data
stream's fixed mapping (``modelspan.elasticsearch.profiles.mapping()``, the one owner of its names).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from modelspan import findings
from modelspan.elasticsearch import profiles, templates

REFERENCE = Path("/work/shared/reference/elastic")
DYNAMIC = "dynamic"
"""Type of a field Elasticsearch maps from the first document (OTel passthrough attributes)."""
NUMERIC = {"long", "double", "float", "integer", "short", "byte", "scaled_float", "unsigned_long"}
_CORE_FILES = ("otel@mappings.yaml", "traces-otel@mappings.yaml")
_KQL_FIELD = re.compile(r"(?:^|[\s(])([A-Za-z_@][\w.@]*)\s*:")
_DOC_FIELD = re.compile(r"""(?:doc|_source)\[['"]([^'"]+)['"]\]""")


def _flatten(properties: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, mapping in properties.items():
        path = prefix + name
        kind = mapping.get("type", "object")
        if "properties" in mapping:
            yield from _flatten(mapping["properties"], path + ".")
        if kind not in ("object", "passthrough"):
            yield path, mapping.get("path", kind) if kind == "alias" else kind


@cache
def core_fields() -> dict[str, str]:
    """OTel core fields of Elastic's built-in mappings (aliases resolved to their target's type)."""
    fields: dict[str, str] = {}
    for name in _CORE_FILES:
        text = (REFERENCE / name).read_text(encoding="utf-8").replace("${xpack.oteldata.template.version}", "1")
        fields.update(_flatten(yaml.safe_load(text)["template"]["mappings"]["properties"]))
    aliases = {name: target for name, target in fields.items() if target in fields}
    fields.update({name: fields[target] for name, target in aliases.items()})
    return fields


def _our_attributes() -> dict[str, str]:
    mappings = templates.component_templates()[templates.TRACES_MAPPINGS]["template"]["mappings"]
    attributes = mappings["properties"][templates.ATTRIBUTES]["properties"]
    return {f"{templates.ATTRIBUTES}.{name}": mapping["type"] for name, mapping in attributes.items()}


def _dynamic() -> list[tuple[list[str], str]]:
    mappings = templates.component_templates()[templates.TRACES_MAPPINGS]["template"]["mappings"]
    rules = []
    for entry in mappings["dynamic_templates"]:
        (rule,) = entry.values()
        patterns = rule["path_match"] if isinstance(rule["path_match"], list) else [rule["path_match"]]
        if patterns == [templates.ML_ALL]:
            continue  # the catch-all: anything under ml.* would pass, including typos
        rules.append((patterns, rule["mapping"]["type"]))
    return rules


def span_field_type(field: str) -> str | None:
    """Type of a span document field, ``DYNAMIC`` for OTel attributes mapped on first sight, None if unknown."""
    ours = _our_attributes()
    if field in ours:
        return ours[field]
    for patterns, kind in _dynamic():
        if any(fnmatch.fnmatchcase(field, pattern) for pattern in patterns):
            return kind
    if field in core_fields():
        return core_fields()[field]
    # OTel semantic-convention attributes of application spans: passthrough, dynamically mapped.
    if field == "resource.attributes.service.name" or field.startswith("attributes.http."):
        return DYNAMIC
    return None


def profile_field_type(field: str) -> str | None:
    """Type of a field of the profile data stream (``metrics-modelspan.profile-*``), None if unmapped."""
    return dict(_flatten(profiles.mapping()["properties"])).get(field)


def findings_field_type(field: str) -> str | None:
    properties = findings.mapping()["properties"]
    if field in properties:
        return str(properties[field]["type"])
    return "keyword" if field in findings.field_names() else None


def kql_fields(query: str) -> list[str]:
    """Field names in a KQL query of the ``field : value`` form our generator writes."""
    return _KQL_FIELD.findall(re.sub(r'"[^"]*"', '""', query))


def script_fields(source: str) -> list[str]:
    """Fields a painless script reads with ``doc['...']`` or ``_source['...']``."""
    return _DOC_FIELD.findall(source)


def dsl_fields(node: Any) -> Iterator[str]:
    """Every field a query / aggregation / sort / ``_source`` clause of a search body names."""
    if isinstance(node, dict):
        for key, value in node.items():
            query_clause = key in ("term", "terms", "range", "match", "match_phrase", "prefix", "wildcard")
            if query_clause and isinstance(value, dict) and "field" not in value:  # else: a terms aggregation
                yield from (name for name in value if name not in ("boost", "_name"))
            elif key == "field" and isinstance(value, str):
                yield value
            elif key == "sort" and isinstance(value, list):
                for item in value:
                    yield from ([item] if isinstance(item, str) else list(item))
            elif key == "_source" and isinstance(value, list):
                yield from value
            elif key == "source" and isinstance(value, str):
                yield from script_fields(value)
            if isinstance(value, (dict, list)):
                yield from dsl_fields(value)
    elif isinstance(node, list):
        for item in node:
            yield from dsl_fields(item)
