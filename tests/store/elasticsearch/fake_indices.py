"""The loopback Elasticsearch's state (``fake_es``): templates, ILM, indices, aliases and documents.

Index templates, component templates and ILM policies are recorded as sent and answered back as
Elasticsearch shapes them; an index or data stream created afterwards (explicitly, or by its first
bulk write) takes its mappings from them (``fake_mappings``), and every bulk document is indexed
through those mappings. Documents are kept per index as ``(indexed view, weight)`` rows, the sent
document under ``_source``.
"""

from __future__ import annotations

import fnmatch
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tests.store.elasticsearch import fake_mappings, fake_search
from tests.store.elasticsearch.fake_search import MAX_BUCKETS, MAX_RESULT_WINDOW, Doc, ElasticError, Rows

ItemStatus = Callable[[str, dict[str, Any]], int | None] | None


def _builtins() -> tuple[dict[str, Any], dict[str, Any]]:
    """Elastic's OTel component and index templates, as a 9.x cluster ships them."""
    from tests.sdk.elastic.fake_stack import _builtin_templates, _reference_components

    try:
        return _reference_components(), _builtin_templates()
    except OSError:  # without Elastic's reference files: the same names and routing, no mappings of theirs
        components = {name: {"template": {}} for name in ("otel@mappings", "traces-otel@mappings", "ecs@mappings")}
        return components, {"traces-otel@template": {
            "index_patterns": ["traces-*.otel-*"], "priority": 120, "data_stream": {},
            "composed_of": ["otel@mappings", "traces-otel@mappings", "ecs@mappings"]}}


class Indices:
    """What the cluster holds; the HTTP side is ``fake_es.FakeElasticsearch``."""

    def __init__(self, *, builtins: bool = True, keep_sources: bool = True, apply_mappings: bool = True) -> None:
        self.lock = threading.RLock()
        self.apply_mappings = apply_mappings
        """False: documents are kept as sent and not indexed (tests of what the wire carries, whatever
        types a mapping would give it: two spans' attributes may clash in one index on a real cluster)."""
        self.components: dict[str, Any] = {}
        self.index_templates: dict[str, Any] = {}
        if builtins:
            self.components, self.index_templates = _builtins()
        self.policies: dict[str, Any] = {}
        self.indices: dict[str, Rows] = defaultdict(list)
        self.mappings: dict[str, fake_mappings.Mapping] = {}
        self.data_streams: set[str] = set()
        self.aliases: dict[str, str] = {}  # alias -> its write index
        self.explicit: dict[str, Any] = {}  # index -> the mappings it was created with
        self.stored: dict[str, tuple[str, Any]] = {}
        """Every document written through ``_bulk``: ``_id`` -> (index, document as sent)."""
        self.actions: list[dict[str, Any]] = []
        self.keep_sources = keep_sources
        self.refreshes = 0
        self.ids: dict[str, set[str]] = defaultdict(set)
        self.max_result_window = MAX_RESULT_WINDOW
        self.max_buckets = MAX_BUCKETS
        self.largest_bucket_count = 0
        """The most buckets one search has produced (counted the way ``search.max_buckets`` counts)."""

    # --- documents ----------------------------------------------------------------------------
    def add(self, index: str, docs: list[Doc], weight: int = 1) -> None:
        """Inject documents as they are, without mappings (tests of the query side only)."""
        self.indices[index].extend((doc, weight) for doc in docs)

    def resolve(self, pattern: str) -> list[str]:
        names: list[str] = []
        for part in pattern.split(","):
            if part in self.aliases:
                names += [n for n in self.indices if n == self.aliases[part]]
            names += [n for n in self.indices if fnmatch.fnmatchcase(n, part) and n not in names]
        return list(dict.fromkeys(names))

    def rows(self, pattern: str) -> Rows:
        with self.lock:
            return [row for name in self.resolve(pattern) for row in self.indices[name]]

    def create_index(self, name: str, body: dict[str, Any] | None = None) -> None:
        body = body or {}
        mapping, stream = fake_mappings.compose(name, self.index_templates, self.components, body.get("mappings"))
        if not self.apply_mappings:
            mapping = {"fields": {}, "dynamic_templates": [], "dynamic": False}
        self.mappings[name] = mapping
        self.indices.setdefault(name, [])
        if stream and not body:
            self.data_streams.add(name)
        for alias in body.get("aliases", {}):
            self.aliases[alias] = name

    def bulk(self, lines: list[dict[str, Any]], item_status: ItemStatus, default_index: str | None,
             refresh: str | None = None) -> dict[str, Any]:
        items = []
        pairs = zip(lines[::2], lines[1::2], strict=True)
        for action, source in pairs:
            if self.keep_sources or item_status:
                self.actions.append(action)
            items.append(self._item(action, source, item_status, default_index))
        if refresh:
            self.refreshes += 1
        return {"errors": any(next(iter(i.values()))["status"] >= 300 for i in items), "took": 1, "items": items}

    def _item(self, action: dict[str, Any], source: dict[str, Any], item_status: ItemStatus,
              default_index: str | None) -> dict[str, Any]:
        (op, meta), = action.items()
        target = meta.get("_index") or default_index or ""
        identifier = str(meta.get("_id") or uuid.uuid4().hex[:20])
        status = item_status(identifier, source) if item_status else None
        if status == 429:
            return {op: _error(target, identifier, 429, "es_rejected_execution_exception",
                               "rejected execution of coordinating operation")}
        if status == 400:
            return {op: _error(target, identifier, 400, "document_parsing_exception",
                               f"[1:1] failed to parse field [attributes] in document with id '{identifier}'")}
        with self.lock:
            index = self.aliases.get(target, target)
            if index not in self.mappings:
                self.create_index(index)
            if index in self.data_streams and (op != "create" or "@timestamp" not in source):
                reason = ("only write ops with an op_type of create are allowed in data streams" if op != "create"
                          else "data stream timestamp field [@timestamp] is missing")
                kind = "illegal_argument_exception" if op != "create" else "document_parsing_exception"
                return {op: _error(index, identifier, 400, kind, reason)}
            return {op: self._store(op, index, identifier, source)}

    def _store(self, op: str, index: str, identifier: str, source: dict[str, Any]) -> dict[str, Any]:
        rows = self.indices[index]
        existing = [n for n, (doc, _) in enumerate(rows)
                    if doc.get("_id") == identifier] if identifier in self.ids[index] else []
        if existing and op == "create":
            return _error(index, identifier, 409, "version_conflict_engine_exception",
                          f"[{identifier}]: version conflict, document already exists (current version [1])")
        if not self.keep_sources:  # a load test: count what is stored, keep nothing else
            self.ids[index].add(identifier)
            self.stored[identifier] = (index, None)
            rows.append(({"_id": identifier}, 1))
            return {"_index": index, "_id": identifier, "_version": 1, "result": "created", "status": 201}
        try:
            indexed = fake_mappings.index_document(self.mappings[index], source, identifier)
        except ElasticError as error:
            return {"_index": index, "_id": identifier, "status": error.status,
                    "error": {**error.body["error"], "index": index}}
        indexed.update({"_id": identifier, "_index": index, "_source": source})
        for n in reversed(existing):
            del rows[n]
        rows.append((indexed, 1))
        self.ids[index].add(identifier)
        self.stored[identifier] = (index, source)
        result, status = ("updated", 200) if existing else ("created", 201)
        return {"_index": index, "_id": identifier, "_version": 2 if existing else 1, "result": result,
                "status": status, "_seq_no": len(rows), "_primary_term": 1,
                "_shards": {"total": 1, "successful": 1, "failed": 0}}

    # --- searches -------------------------------------------------------------------------------
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        rows = self.rows(index)
        response, buckets = fake_search.run_search(rows, body, self.max_result_window, self.max_buckets)
        self.largest_bucket_count = max(self.largest_bucket_count, buckets)
        return response

    def msearch(self, lines: list[dict[str, Any]], default_index: str | None) -> dict[str, Any]:
        responses = []
        for header, body in zip(lines[::2], lines[1::2], strict=True):
            try:  # as Elasticsearch does, one failed search is an error item, not a failed msearch
                responses.append({**self.search(header.get("index") or default_index or "*", body), "status": 200})
            except ElasticError as error:
                responses.append(error.body)
            except Exception as exc:  # a search the fake cannot evaluate: an error item, said loudly
                responses.append({"error": {"type": "fake_error", "reason": repr(exc)}, "status": 400})
        return {"took": 1, "responses": responses}

    def delete_by_query(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        deleted = 0
        with self.lock:
            for name in self.resolve(index):
                rows = self.indices[name]
                kept = [(d, w) for d, w in rows if not fake_search.matches(d, body.get("query"))]
                deleted += len(rows) - len(kept)
                rows[:] = kept
                self.ids[name] = {str(d.get("_id")) for d, _ in kept}
        return {"took": 1, "timed_out": False, "total": deleted, "deleted": deleted, "batches": 1,
                "version_conflicts": 0, "noops": 0, "failures": [], "requests_per_second": -1.0,
                "throttled_millis": 0, "throttled_until_millis": 0,
                "retries": {"bulk": 0, "search": 0}}

    # --- everything but _bulk -----------------------------------------------------------------
    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        with self.lock:
            if path == "/":
                return 200, {"name": "fake", "cluster_name": "fake", "cluster_uuid": "x",
                             "tagline": "You Know, for Search",
                             "version": {"number": "9.1.0", "build_flavor": "default", "lucene_version": "10"}}
            if parts[0] == "_license":
                return 200, {"license": {"status": "active", "uid": "x", "type": "basic",
                                         "issue_date_in_millis": 0, "max_nodes": 1000, "issued_to": "fake",
                                         "issuer": "elasticsearch", "start_date_in_millis": -1}}
            if parts[0] in ("_component_template", "_index_template", "_ilm"):
                return self._templates(method, parts, body)
            if parts[0] == "_data_stream":
                matched = [s for s in self.data_streams if fnmatch.fnmatchcase(s, parts[1])]
                return (200, {"data_streams": [{"name": s} for s in matched]}) if matched else _missing(parts[1])
            if parts[0] == "_alias":
                held = {index: {"aliases": {parts[1]: {}}} for alias, index in self.aliases.items()
                        if alias == parts[1]}
                return (200, held) if held else (404, {"error": f"alias [{parts[1]}] missing", "status": 404})
        return self._index_endpoint(method, parts, query, body)

    def _templates(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        kind, name = parts[0], parts[-1]
        store = {"_component_template": self.components, "_index_template": self.index_templates,
                 "_ilm": self.policies}[kind]
        if method == "PUT":
            store[name] = body
            return 200, {"acknowledged": True}
        if name not in store:
            return 404, {"error": {"root_cause": [], "type": "resource_not_found_exception",
                                   "reason": f"{kind.strip('_')} [{name}] missing"}, "status": 404}
        if method == "DELETE":
            del store[name]
            return 200, {"acknowledged": True}
        if kind == "_component_template":
            return 200, {"component_templates": [{"name": name, "component_template": store[name]}]}
        if kind == "_index_template":
            return 200, {"index_templates": [{"name": name, "index_template": store[name]}]}
        return 200, {name: {"version": 1, "modified_date": "2026-11-23T00:00:00Z", "policy": store[name]["policy"]}}

    def _index_endpoint(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> tuple[int, Any]:
        target, action = parts[0], parts[1] if len(parts) > 1 else ""
        if action == "_search" or (target == "_search" and not action):
            return 200, self.search("*" if target == "_search" else target, body or {})
        if action == "_msearch" or target == "_msearch":
            return 200, self.msearch(body or [], None if target == "_msearch" else target)
        if action == "_delete_by_query":
            return 200, self.delete_by_query(target, body or {})
        with self.lock:
            names = self.resolve(target) if target != "_refresh" else list(self.indices)
            if action == "_refresh" or target == "_refresh":
                if not names and query.get("ignore_unavailable") != "true" and "*" not in target:
                    return _missing(target)
                self.refreshes += 1
                return 200, {"_shards": {"total": len(names), "successful": len(names), "failed": 0}}
            if method == "HEAD" and not action:
                return (200, {}) if names else (404, None)
            if method == "PUT" and not action:
                if names:
                    return 400, {"error": {"type": "resource_already_exists_exception",
                                           "reason": f"index [{target}] already exists"}, "status": 400}
                self.create_index(target, body or {"mappings": {}})
                self.explicit[target] = (body or {}).get("mappings", {})
                return 200, {"acknowledged": True, "shards_acknowledged": True, "index": target}
            if not names:
                return _missing(target)
            if action == "_mapping":
                return self._mapping(method, names, body)
        raise ValueError(f"fake Elasticsearch has no endpoint {method} /{'/'.join(parts)}")

    def _mapping(self, method: str, names: list[str], body: Any) -> tuple[int, Any]:
        if method == "PUT":
            for name in names:
                explicit = self.explicit.setdefault(name, {})
                explicit.setdefault("properties", {}).update(body.get("properties", {}))
                fake_mappings.flatten(body.get("properties", {}), "", self.mappings[name]["fields"])
            return 200, {"acknowledged": True}
        return 200, {name: {"mappings": self.explicit.get(name, {"properties": {}})} for name in names}


def _missing(name: str) -> tuple[int, Any]:
    reason = f"no such index [{name}]"
    return 404, {"error": {"root_cause": [{"type": "index_not_found_exception", "reason": reason}],
                           "type": "index_not_found_exception", "reason": reason, "index": name}, "status": 404}


def _error(index: str, identifier: str, status: int, kind: str, reason: str) -> dict[str, Any]:
    return {"_index": index, "_id": identifier, "status": status,
            "error": {"type": kind, "reason": reason, "index": index}}
