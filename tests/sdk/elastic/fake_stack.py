"""Loopback stand-ins for Elasticsearch and Kibana that keep state and record every request.

Two real HTTP servers on 127.0.0.1 (ephemeral ports) answer the calls ``modelspan elastic setup``
makes the way the real services do: templates, ILM policies, indices, aliases, mappings, watches
(refused with 403 on a basic licence, as Watcher is), Kibana saved objects (``_bulk_get``, multipart
``_import`` that conflicts without ``overwrite``), connectors and rules (409 on a duplicate id, 400
for an update carrying create-only fields, 400 for any write without ``kbn-xsrf``). Credentials,
403s per path and versions are scriptable.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

REFERENCE = Path("/work/shared/reference/elastic")
USER, PASSWORD = "elastic", "changeme"


@dataclass(frozen=True)
class Recorded:
    target: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def writes(self) -> bool:
        """Whether the request can change state (``_bulk_get`` is a read sent as POST)."""
        return self.method not in ("GET", "HEAD") and not self.path.endswith("/_bulk_get")


@dataclass
class State:
    license: str = "platinum"
    version: str = "9.1.0"
    kibana_version: str = "9.1.0"
    forbidden: list[tuple[str, str]] = field(default_factory=list)  # (method, path regex) -> 403
    components: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, Any] = field(default_factory=dict)
    policies: dict[str, Any] = field(default_factory=dict)
    indices: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {aliases, mappings}
    streams: list[str] = field(default_factory=list)
    watches: dict[str, Any] = field(default_factory=dict)
    saved: dict[tuple[str, str], Any] = field(default_factory=dict)
    connectors: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)


def _builtin_templates() -> dict[str, Any]:
    body = yaml.safe_load((REFERENCE / "traces-otel@template.yaml").read_text())
    return {"traces-otel@template": {key: value for key, value in body.items() if key != "version"}}


def _reference_components() -> dict[str, Any]:
    components = {}
    for name in ("otel@mappings", "traces-otel@mappings", "ecs@mappings"):
        path = REFERENCE / f"{name}.yaml"
        body = yaml.safe_load(path.read_text()) if path.exists() else {"template": {}}
        components[name] = {"template": body.get("template", {}), "_meta": body.get("_meta", {})}
    return components


def _passthrough_objects(properties: dict[str, Any], prefix: str = "") -> dict[str, int]:
    found: dict[str, int] = {}
    for name, mapping in properties.items():
        path = prefix + name
        if mapping.get("type") == "passthrough":
            found[path] = int(mapping.get("priority", 0))
        found.update(_passthrough_objects(mapping.get("properties", {}), path + "."))
    return found


def passthrough_clash(components: dict[str, Any], composed_of: list[str]) -> str | None:
    """Elasticsearch's check when a template's components merge: two passthrough objects may not
    share a priority (``PassThroughObjectMapper.checkForDuplicatePriorities``); a later component's
    priority for the same object replaces an earlier one's."""
    merged: dict[str, int] = {}
    for name in composed_of:
        mappings = components.get(name, {}).get("template", {}).get("mappings", {})
        merged.update(_passthrough_objects(mappings.get("properties", {})))
    by_priority: dict[int, list[str]] = {}
    for path, priority in merged.items():
        by_priority.setdefault(priority, []).append(path)
    for priority, paths in sorted(by_priority.items()):
        if len(paths) > 1:
            return f"Priority [{priority}] is defined more than once. Check fields {sorted(paths)}."
    return None


KIBANA_TYPE_VERSIONS = {"search": "10.6.0", "dashboard": "10.3.0", "index-pattern": "8.0.0"}
"""What a current 9.x Kibana stamps on what it imports (its latest model version of each type)."""


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def kibana_import(item: dict[str, Any]) -> dict[str, Any]:
    """What Kibana stores for an imported object: migrated from its stamped version, normalised.

    An object without ``typeMigrationVersion`` is taken as current, so no migration runs on it (the
    saved-search ``tabs`` backfill of model version 6 included); JSON-string attributes come back
    re-serialised, and everything is stamped with the current versions.
    """
    stored = json.loads(json.dumps(item))
    attributes = stored.setdefault("attributes", {})
    stamped = stored.get("typeMigrationVersion")
    if (stored["type"] == "search" and stamped is not None and _version(stamped) < (10, 6, 0)
            and "tabs" not in attributes):
        tab = {key: attributes[key] for key in ("columns", "sort", "grid", "hideChart", "isTextBasedQuery",
                                                "kibanaSavedObjectMeta") if key in attributes}
        attributes["tabs"] = [{"id": "tab-1", "label": "Untitled", "attributes": tab}]

    def compact(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: compact(inner) for key, inner in value.items()}
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                return json.dumps(json.loads(value), separators=(",", ":"), sort_keys=True)
            except ValueError:
                return value
        return value

    stored["attributes"] = compact(attributes)
    stored["typeMigrationVersion"] = KIBANA_TYPE_VERSIONS.get(stored["type"], stamped or "8.0.0")
    stored["coreMigrationVersion"] = "8.8.0"
    return stored


class FakeStack:
    """``with FakeStack() as stack: setup(stack.es_url, stack.kibana_url, ...)``."""

    def __init__(self) -> None:
        self.state = State(components=_reference_components(), templates=_builtin_templates())
        self.requests: list[Recorded] = []
        self.spaces: set[str] = set()
        self.lock = threading.Lock()
        self._servers = [self._server("elasticsearch"), self._server("kibana")]
        self.es_url = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.kibana_url = f"http://127.0.0.1:{self._servers[1].server_address[1]}"

    def _server(self, target: str) -> ThreadingHTTPServer:
        stack = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                recorded = Recorded(target, self.command, self.path, headers, body)
                with stack.lock:
                    stack.requests.append(recorded)
                    status, answer = stack.answer(recorded)
                data = b"" if answer is None or self.command == "HEAD" else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    def __enter__(self) -> FakeStack:
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def take(self) -> list[Recorded]:
        with self.lock:
            taken, self.requests = self.requests, []
        return taken

    # --- answers ------------------------------------------------------------------------------
    def answer(self, request: Recorded) -> tuple[int, Any]:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return 401, {"error": {"type": "security_exception", "reason": "unable to authenticate user"}}
        path = urllib.parse.urlparse(request.path).path
        for method, pattern in self.state.forbidden:
            if method == request.method and re.fullmatch(pattern, path):
                return 403, {"error": {"type": "security_exception",
                                       "reason": f"action [{path}] is unauthorized for user [{USER}]"}}
        if request.target == "kibana":
            space = re.match(r"/s/([^/]+)(/.*)", path)
            if space:
                self.spaces.add(space[1])
            return self._kibana(request, space[2] if space else path)
        return self._es(request, urllib.parse.unquote(path))

    def _es(self, request: Recorded, path: str) -> tuple[int, Any]:
        method, state, parts = request.method, self.state, path.strip("/").split("/")
        if path == "/":
            return 200, {"version": {"number": state.version}, "tagline": "You Know, for Search"}
        if path == "/_license":
            return 200, {"license": {"type": state.license, "status": "active"}}
        if parts[0] == "_watcher":
            if state.license == "basic":
                return 403, {"error": {"type": "security_exception",
                                       "reason": "current license is non-compliant for [watcher]"}}
            return self._store(method, state.watches, parts[2], request,
                               lambda name, body: {"found": True, "_id": name, "watch": body}, missing={"found": False})
        if parts[0] == "_component_template":
            if method == "DELETE" and any(parts[1] in t.get("composed_of", []) for t in state.templates.values()):
                return 400, {"error": {"type": "illegal_argument_exception", "reason": f"{parts[1]} is in use"}}
            return self._store(method, state.components, parts[1], request, lambda name, body: {
                "component_templates": [{"name": name, "component_template": body}]})
        if parts[0] == "_index_template":
            clash = passthrough_clash(state.components, (request.json() or {}).get("composed_of", [])) \
                if method == "PUT" else None
            if clash:
                return 400, {"error": {"type": "illegal_argument_exception", "reason": clash}, "status": 400}
            return self._store(method, state.templates, parts[1], request, lambda name, body: {
                "index_templates": [{"name": name, "index_template": body}]})
        if parts[0] == "_ilm":
            return self._store(method, state.policies, parts[2], request, lambda name, body: {
                name: {"version": 1, "modified_date": "2026-11-23T00:00:00Z", "policy": body["policy"]}})
        if parts[0] == "_data_stream":
            return self._streams(method, parts[1])
        if parts[0] == "_alias":
            held = {name: {"aliases": index["aliases"]} for name, index in state.indices.items()
                    if parts[1] in index["aliases"]}
            return (200, held) if held else (404, {"error": "alias missing"})
        return self._index(request, parts)

    def _store(self, method: str, store: dict[str, Any], name: str, request: Recorded, render: Any,
               missing: Any = None) -> tuple[int, Any]:
        if method == "PUT":
            store[name] = request.json()
            return 200, {"acknowledged": True}
        if name not in store:
            return 404, missing if missing is not None else {"error": {"type": "resource_not_found_exception"}}
        if method == "DELETE":
            del store[name]
            return 200, {"acknowledged": True}
        return 200, render(name, store[name])

    def _streams(self, method: str, name: str) -> tuple[int, Any]:
        pattern = re.compile(".*".join(map(re.escape, name.split("*"))))
        matched = [stream for stream in self.state.streams if pattern.fullmatch(stream)]
        if method == "DELETE" and matched:
            self.state.streams = [stream for stream in self.state.streams if stream not in matched]
            return 200, {"acknowledged": True}
        return (200, {"data_streams": [{"name": s} for s in matched]}) if matched else (404, {"error": "missing"})

    def _index(self, request: Recorded, parts: list[str]) -> tuple[int, Any]:
        indices, name = self.state.indices, parts[0]
        resolved = [n for n, idx in indices.items() if n == name or name in idx["aliases"]]
        if request.method == "HEAD":
            return (200, None) if resolved else (404, None)
        if request.method == "PUT" and len(parts) == 1:
            if resolved:
                return 400, {"error": {"type": "resource_already_exists_exception", "reason": name}}
            body = request.json() or {}
            mappings = body.get("mappings") or self._template_mappings(name)
            indices[name] = {"aliases": body.get("aliases", {}), "mappings": mappings}
            return 200, {"acknowledged": True, "index": name}
        if not resolved:
            return 404, {"error": {"type": "index_not_found_exception", "reason": name}}
        if request.method == "DELETE":
            del indices[name]
            return 200, {"acknowledged": True}
        if parts[1:] == ["_mapping"] and request.method == "GET":
            return 200, {n: {"mappings": indices[n]["mappings"]} for n in resolved}
        if parts[1:] == ["_mapping"] and request.method == "PUT":
            for n in resolved:
                indices[n]["mappings"].setdefault("properties", {}).update(request.json()["properties"])
            return 200, {"acknowledged": True}
        return 400, {"error": {"type": "unsupported", "reason": request.path}}

    def _template_mappings(self, name: str) -> dict[str, Any]:
        """Mappings of the highest-priority matching index template's own ``template`` section."""
        matching = [t for t in self.state.templates.values()
                    if any(re.fullmatch(".*".join(map(re.escape, p.split("*"))), name) for p in t["index_patterns"])]
        best: dict[str, Any] = max(matching, key=lambda t: t.get("priority", 0), default={})
        copied: dict[str, Any] = json.loads(json.dumps(best.get("template", {}).get("mappings", {"properties": {}})))
        return copied

    # --- Kibana -------------------------------------------------------------------------------
    def _kibana(self, request: Recorded, path: str) -> tuple[int, Any]:
        method = request.method
        if method != "GET" and "kbn-xsrf" not in request.headers:
            return 400, {"statusCode": 400, "message": 'Request must contain a kbn-xsrf header.'}
        if path == "/api/status":
            return 200, {"version": {"number": self.state.kibana_version}}
        if path == "/api/saved_objects/_bulk_get":
            return 200, {"saved_objects": [self.state.saved.get((item["type"], item["id"]), {
                **item, "error": {"statusCode": 404, "message": "Not found"}}) for item in request.json()]}
        if path == "/api/saved_objects/_import":
            return self._import(request)
        parts = [urllib.parse.unquote(part) for part in path.strip("/").split("/")]
        if parts[:2] == ["api", "saved_objects"] and method == "DELETE":
            removed = self.state.saved.pop((parts[2], parts[3]), None)
            return (200, {}) if removed is not None else (404, {"statusCode": 404})
        if parts[:3] == ["api", "actions", "connector"]:
            return self._object(request, self.state.connectors, parts[3], ("name", "config"))
        if parts[:3] == ["api", "alerting", "rule"]:
            return self._object(request, self.state.rules, parts[3], ("rule_type_id", "consumer", "enabled"))
        return 404, {"statusCode": 404, "message": f"no route {method} {path}"}

    def _import(self, request: Recorded) -> tuple[int, Any]:
        query = urllib.parse.parse_qs(urllib.parse.urlparse(request.path).query)
        overwrite = query.get("overwrite") == ["true"]
        head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
        files = [part for part in message.iter_parts()
                 if part.get_param("name", header="content-disposition") == "file"]
        if len(files) != 1:
            return 400, {"statusCode": 400, "message": "[request body.file]: expected value of type [Stream]"}
        errors, count = [], 0
        payload = files[0].get_payload(decode=True)
        assert isinstance(payload, bytes)
        for line in payload.decode().splitlines():
            item = json.loads(line)
            key = (item["type"], item["id"])
            if key in self.state.saved and not overwrite:
                errors.append({"type": key[0], "id": key[1], "error": {"type": "conflict"}})
                continue
            self.state.saved[key] = {**kibana_import(item), "updated_at": "2026-11-23T00:00:00Z",
                                     "version": "WzEsMV0="}
            count += 1
        return 200, {"success": not errors, "successCount": count, "errors": errors}

    def _object(self, request: Recorded, store: dict[str, Any], object_id: str,
                create_only: tuple[str, ...]) -> tuple[int, Any]:
        method, body = request.method, request.json()
        if method == "POST":
            if object_id in store:
                return 409, {"statusCode": 409, "message": f"{object_id} already exists"}
            store[object_id] = _kibana_shape(object_id, body)
            return 200, store[object_id]
        if object_id not in store:
            return 404, {"statusCode": 404, "message": "Not Found"}
        if method == "DELETE":
            del store[object_id]
            return 204, None
        if method == "PUT":
            if "rule_type_id" in create_only and any(key in body for key in create_only):
                return 400, {"statusCode": 400, "message": "[request body]: definition for this key is missing"}
            store[object_id] = _kibana_shape(object_id, {**store[object_id], **body})
            return 200, store[object_id]
        return 200, store[object_id]


def _kibana_shape(object_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """What Kibana returns: our fields plus ids and defaults of its own; secrets never come back."""
    shaped = {key: value for key, value in body.items() if key != "secrets"}
    shaped.update({"id": object_id, "is_preconfigured": False})
    if "actions" in shaped:
        shaped["actions"] = [{**action, "uuid": f"u{n}", "connector_type_id": ".x"}
                             for n, action in enumerate(shaped["actions"])]
    return shaped
