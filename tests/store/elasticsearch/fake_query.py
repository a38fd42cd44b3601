"""Queries of the loopback Elasticsearch (``fake_es``): field access, ``bool``/``term``/``terms``/``range``/``exists``.

Split from ``fake_search`` (aggregations) to keep each module small; ``fake_search`` re-exports these names.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

Doc = dict[str, Any]


class ElasticError(Exception):
    """An error Elasticsearch would answer, with its status and its error object."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.body = {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
                     "status": status}


def field_values(doc: Doc, path: str) -> list[Any]:
    """Values of ``path`` in ``doc`` (flat dotted keys under ``attributes``/``metrics``, nested objects elsewhere)."""
    for prefix in ("resource.attributes.", "scope.attributes.", "attributes.", "metrics."):
        if path.startswith(prefix):
            holder: Any = doc
            for part in prefix.rstrip(".").split("."):
                holder = holder.get(part, {}) if isinstance(holder, dict) else {}
            value = holder.get(path[len(prefix):]) if isinstance(holder, dict) else None
            break
    else:
        value = doc.get(path)
        if value is None and "." in path:
            value = doc
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if path == "@timestamp":
        return [to_millis(v) for v in values]
    return [v for v in values if v is not None]


def to_millis(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.timestamp() * 1000.0


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return a == str(b)  # a keyword field compares the query's number as its text
    if isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(b, str):
        # A numeric field parses the query's (or include list's) strings as numbers, as Elasticsearch does.
        try:
            return float(a) == float(b)
        except ValueError:
            return False
    return bool(a == b)


def matches(doc: Doc, query: dict[str, Any] | None) -> bool:
    if not query:
        return True
    (kind, spec), = query.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        return (all(matches(doc, q) for q in spec.get("filter", []) + spec.get("must", []))
                and not any(matches(doc, q) for q in spec.get("must_not", []))
                and (not spec.get("should") or any(matches(doc, q) for q in spec["should"])))
    if kind == "exists":
        return bool(field_values(doc, spec["field"]))
    (path, arg), = spec.items()
    values = field_values(doc, path)
    if kind == "term":
        wanted = arg["value"] if isinstance(arg, dict) else arg
        return any(_same(v, wanted) for v in values)
    if kind == "terms":
        return any(_same(v, w) for v in values for w in arg)
    if kind == "range":
        convert = to_millis if path == "@timestamp" else float
        bounds = {op: convert(arg[op]) for op in ("gte", "gt", "lte", "lt") if op in arg}
        return any(_in_range(convert(v), bounds) for v in values)
    raise ValueError(f"fake Elasticsearch does not know query {kind!r}")


def _in_range(value: float, bounds: dict[str, float]) -> bool:
    return (value >= bounds.get("gte", -math.inf) and value > bounds.get("gt", -math.inf)
            and value <= bounds.get("lte", math.inf) and value < bounds.get("lt", math.inf))
