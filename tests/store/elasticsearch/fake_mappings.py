"""Mappings for the loopback Elasticsearch (``fake_es``): what templates define, applied to what is stored.

An index (or data stream) takes its mappings, when it is created, from the highest-priority index
template whose patterns match its name: the ``composed_of`` component templates in order, then the
template's own ``template.mappings``. A document is then indexed as Elasticsearch would index it:

- a field mapped ``double``/``long``/... holds numbers: numeric strings are coerced (``"1.5"`` ->
  1.5; a ``long`` truncates 1.9 to 1), anything else fails the document with a
  ``document_parsing_exception``, unless the field has ``ignore_malformed`` (then the field is left
  out of the index, and stays in ``_source``);
- ``keyword`` holds strings (numbers and booleans are indexed as their text; longer than
  ``ignore_above``: not indexed); ``boolean`` takes true/false or "true"/"false";
- ``constant_keyword`` must match the mapped value (the first document sets it when unset);
- ``histogram`` must be ``{"values": [...ascending], "counts": [...]}`` of one length;
- an object with ``enabled: false`` is kept in ``_source`` only; a ``fields`` multi-field adds its
  own indexed value (``actual.value`` for ``actual``);
- an unmapped field goes through the ``dynamic_templates`` (``path_match``/``match``/
  ``match_mapping_type``), then dynamic mapping: the *first* value decides (an integer makes a
  ``long``, so a later 1.5 in that field is indexed as 1, which is why the modelspan template pins
  feature types); ``dynamic: false`` leaves it unindexed, ``dynamic: strict`` refuses the document.

The indexed view is what searches and aggregations see; ``_source`` is what was sent.
"""

from __future__ import annotations

import copy
import fnmatch
import math
from typing import Any

from tests.store.elasticsearch.fake_search import ElasticError

Mapping = dict[str, Any]  # {"fields": {dotted path: spec}, "dynamic_templates": [...], "dynamic": ...}
NUMERIC = {"double", "float", "half_float", "scaled_float", "long", "integer", "short", "byte", "unsigned_long"}
INTEGRAL = {"long", "integer", "short", "byte", "unsigned_long"}
_SKIP = object()


def flatten(properties: dict[str, Any], prefix: str = "", into: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{dotted path: leaf spec}`` of a ``properties`` tree (objects and passthrough objects are walked)."""
    fields: dict[str, Any] = {} if into is None else into
    for name, spec in properties.items():
        path = prefix + name
        if "properties" in spec and spec.get("type", "object") in ("object", "passthrough", "nested"):
            if spec.get("enabled") is False:
                fields[path] = {"type": "object", "enabled": False}
            if "dynamic" in spec:  # an object's own setting outranks its parents' (attributes: true)
                fields[path] = {**fields.get(path, {}), "type": spec.get("type", "object"), "dynamic": spec["dynamic"]}
            flatten(spec["properties"], path + ".", fields)
        else:
            fields[path] = spec
    return fields


def compose(index: str, index_templates: dict[str, Any], components: dict[str, Any],
            explicit: dict[str, Any] | None = None) -> tuple[Mapping, bool]:
    """The mapping an index created now would get, and whether it is a data stream."""
    parts: list[dict[str, Any]] = []
    data_stream = False
    matching = [t for t in index_templates.values()
                if any(fnmatch.fnmatchcase(index, p) for p in t.get("index_patterns", []))]
    if matching:
        best = max(matching, key=lambda t: t.get("priority", 0))
        data_stream = "data_stream" in best
        parts += [components.get(name, {}).get("template", {}).get("mappings", {})
                  for name in best.get("composed_of", [])]
        parts.append(best.get("template", {}).get("mappings", {}))
    elif index.startswith(("traces-", "logs-", "metrics-")):
        data_stream = True  # Elasticsearch's built-in templates make these data streams
    if explicit:
        parts.append(explicit)
    mapping: Mapping = {"fields": {}, "dynamic_templates": [], "dynamic": True}
    for part in parts:
        flatten(part.get("properties", {}), "", mapping["fields"])
        mapping["dynamic_templates"] += part.get("dynamic_templates", [])
        if "dynamic" in part:
            mapping["dynamic"] = part["dynamic"]
    return copy.deepcopy(mapping), data_stream  # an index's mapping changes (dynamic fields); templates do not


def index_document(mapping: Mapping, document: dict[str, Any], identifier: str) -> dict[str, Any]:
    """The indexed view of ``document`` (raises :class:`ElasticError` as Elasticsearch would refuse it)."""
    indexed = copy.deepcopy(document)
    _walk(mapping, indexed, "", identifier)
    return indexed


def _walk(mapping: Mapping, holder: dict[str, Any], prefix: str, identifier: str) -> None:
    for key in list(holder):
        value, path = holder[key], prefix + key
        spec = mapping["fields"].get(path)
        if isinstance(value, dict) and (spec is None or spec.get("type") in (None, "object", "passthrough")):
            if spec is not None and spec.get("enabled") is False:
                del holder[key]
                continue
            _walk(mapping, value, path + ".", identifier)
            continue
        if spec is None:
            spec = _dynamic(mapping, path, key, value, identifier)
            if spec is None:
                del holder[key]
                continue
        indexed = _index_value(spec, path, value, identifier)
        if indexed is _SKIP:
            del holder[key]
            continue
        holder[key] = indexed
        for sub, sub_spec in spec.get("fields", {}).items():
            extra = _index_value({**sub_spec, "ignore_malformed": True}, f"{path}.{sub}", value, identifier)
            if extra is not _SKIP:
                holder[f"{key}.{sub}"] = extra


def _json_type(value: Any) -> str:
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int):
        return "long"
    if isinstance(sample, float):
        return "double"
    if isinstance(sample, dict):
        return "object"
    return "string"


def _dynamic(mapping: Mapping, path: str, key: str, value: Any, identifier: str) -> dict[str, Any] | None:
    """The spec an unmapped field gets, remembered for the documents after it."""
    dynamic = str(mapping.get("dynamic", True)).lower()
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the nearest enclosing object that says
        enclosing = mapping["fields"].get(".".join(parts[:cut]), {})
        if "dynamic" in enclosing:
            dynamic = str(enclosing["dynamic"]).lower()
            break
    if dynamic == "strict":
        raise _parsing(f"[1:2] mapping set to strict, dynamic introduction of [{path}] within [_doc] is not allowed",
                       identifier, "strict_dynamic_mapping_exception")
    if dynamic == "false":
        return None
    kind = _json_type(value)
    for entry in mapping["dynamic_templates"]:
        (_, rule), = entry.items()
        patterns = rule.get("path_match") or []
        patterns = [patterns] if isinstance(patterns, str) else patterns
        names = rule.get("match") or []
        names = [names] if isinstance(names, str) else names
        wanted = rule.get("match_mapping_type") or []
        wanted = [wanted] if isinstance(wanted, str) else wanted
        if patterns and not any(fnmatch.fnmatchcase(path, p) for p in patterns):
            continue
        if names and not any(fnmatch.fnmatchcase(key, n) for n in names):
            continue
        if wanted and "*" not in wanted and kind not in wanted:
            continue
        if not (patterns or names or wanted):
            continue
        spec = dict(rule.get("mapping", {}))
        spec.setdefault("type", {"string": "keyword", "object": "object"}.get(kind, kind))
        break
    else:
        spec = {"type": {"string": "keyword", "double": "float"}.get(kind, kind)}
    if spec.get("type") == "object":
        return None
    mapping["fields"][path] = spec
    return spec


def _parsing(reason: str, identifier: str, kind: str = "document_parsing_exception") -> ElasticError:
    return ElasticError(400, kind, f"{reason} in document with id '{identifier}'")


def _index_value(spec: dict[str, Any], path: str, value: Any, identifier: str) -> Any:
    kind = spec.get("type", "keyword")
    if kind == "histogram":
        return _histogram(path, value, identifier)
    if isinstance(value, list):
        values = [_one(spec, kind, path, v, identifier) for v in value if v is not None]
        return [v for v in values if v is not _SKIP]
    return _SKIP if value is None else _one(spec, kind, path, value, identifier)


def _one(spec: dict[str, Any], kind: str, path: str, value: Any, identifier: str) -> Any:
    def malformed(cause: str) -> Any:
        if spec.get("ignore_malformed"):
            return _SKIP
        error = _parsing(f"[1:1] failed to parse field [{path}] of type [{kind}]. Preview of field's value: "
                         f"'{value}'", identifier)
        error.body["error"]["caused_by"] = {"type": "illegal_argument_exception", "reason": cause}
        raise error

    if kind in NUMERIC:
        if isinstance(value, (bool, dict, list)):
            return malformed(f"Current token ({type(value).__name__}) not numeric")
        if isinstance(value, str) and spec.get("coerce", True) is False:
            return malformed(f"For input string: \"{value}\" (coercion disabled)")
        try:
            number = float(value)
        except ValueError:
            return malformed(f"For input string: \"{value}\"")
        if not math.isfinite(number):
            return malformed(f"[{kind}] supports only finite values, but got [{value}]")
        return int(number) if kind in INTEGRAL else number
    if kind == "keyword":
        if isinstance(value, dict):
            return malformed("object where a keyword was expected")
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return _SKIP if len(text) > int(spec.get("ignore_above", 2**31)) else text
    if kind == "constant_keyword":
        if "value" not in spec:
            spec["value"] = str(value)  # the first document sets it
        if str(value) != spec["value"]:
            raise _parsing(f"[constant_keyword] field [{path}] only accepts values that are equal to the value "
                           f"defined in the mappings [{spec['value']}], but got [{value}]", identifier)
        return str(value)
    if kind == "boolean":
        if value in (True, False, "true", "false"):
            return value in (True, "true")
        return malformed(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")
    return value


def _histogram(path: str, value: Any, identifier: str) -> Any:
    values, counts = (value.get("values"), value.get("counts")) if isinstance(value, dict) else (None, None)
    if not isinstance(values, list) or not isinstance(counts, list) or len(values) != len(counts) \
            or values != sorted(values):
        raise _parsing(f"[1:1] failed to parse field [{path}] of type [histogram]: expected ascending [values] "
                       f"and [counts] of one length", identifier)
    return value
