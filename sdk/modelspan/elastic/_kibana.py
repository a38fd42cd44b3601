"""Kibana side of setup: saved objects (data views, dashboards), connectors and alerting rules.

Re-running compares before writing: saved objects are read back with ``_bulk_get`` and only the
missing or different ones are imported (multipart ``_import?overwrite=true``); connectors and rules
are created under fixed ids and updated in place (``PUT``) only when a field we set differs, so
there are never duplicates and an unchanged install sends no write at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from modelspan.elastic._http import SetupError, multipart, quote
from modelspan.elastic._session import Session, check_version

MIN_VERSION = (8, 17)
LOG_CONNECTOR_ID = "modelspan-server-log"
WEBHOOK_CONNECTOR_ID = "modelspan-webhook"
SAVED_OBJECTS = "Kibana feature privilege: Saved Objects Management (all) and Dashboard (all)"
RULES = "Kibana feature privilege: Stack Rules (all)"
CONNECTORS = "Kibana feature privilege: Actions and Connectors (all)"
STATUS = "Kibana access (any feature privilege)"
RULE_CREATE_ONLY = ("rule_type_id", "consumer", "enabled")
"""Fields a rule is created with that its update request does not accept."""


def check_kibana(session: Session) -> str:
    """Kibana's version (it must be 8.17+ as well)."""
    return check_version("kibana", session.kibana("GET", "/api/status", STATUS).body, MIN_VERSION)


def parse_ndjson(data: bytes) -> list[dict[str, Any]]:
    """Saved objects of an export file (the trailing export summary line is left out)."""
    objects = []
    for number, line in enumerate(data.decode().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise SetupError(f"saved objects line {number} is not JSON: {exc}") from exc
        if "exportedCount" in item:
            continue
        if not isinstance(item, dict) or "type" not in item or "id" not in item:
            raise SetupError(f"saved objects line {number} has no type and id")
        objects.append(item)
    return objects


ASSET_HASH = re.compile(r"\[modelspan asset ([0-9a-f]{16})\]")
"""The content hash ``kibana/`` stamps into each saved object's description."""


def _same_object(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    """Whether Kibana holds this version of our object.

    Kibana migrates and normalises what it imports (JSON strings re-serialised, attributes such as
    a saved search's ``tabs`` added), so attributes are not compared as sent: an object with a
    content hash in its description is the same when the hash is; one without (data views) when
    everything we set is in what Kibana holds, JSON strings compared by value.
    """
    if "error" in theirs:
        return False
    wanted = ASSET_HASH.search(str(ours.get("attributes", {}).get("description", "")))
    if wanted is not None:
        found = ASSET_HASH.search(str(theirs.get("attributes", {}).get("description", "")))
        return found is not None and found.group(1) == wanted.group(1)

    def refs(item: Mapping[str, Any]) -> list[str]:
        return sorted(json.dumps(ref, sort_keys=True) for ref in item.get("references", []))

    return _subset(_decoded(ours.get("attributes")), _decoded(theirs.get("attributes"))) and refs(theirs) == refs(ours)


def _decoded(value: Any) -> Any:
    """``value`` with every string that holds a JSON object or array parsed (Kibana re-serialises them)."""
    if isinstance(value, Mapping):
        return {key: _decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return _decoded(json.loads(value))
        except ValueError:
            return value
    return value


def install_saved_objects(session: Session, ndjson: bytes) -> None:
    """Import the saved objects that are missing or differ; an identical install imports nothing."""
    objects = parse_ndjson(ndjson)
    if not objects:
        return
    wanted = [{"type": item["type"], "id": item["id"]} for item in objects]
    answer = session.kibana("POST", "/api/saved_objects/_bulk_get", SAVED_OBJECTS, wanted, expect=(200, 404, 410))
    # A Kibana without the (deprecated) bulk-get route: import everything; overwrite makes it idempotent.
    found = answer.body if answer.status == 200 and isinstance(answer.body, dict) else {}
    existing = {(item.get("type"), item.get("id")): item for item in found.get("saved_objects", [])}
    changed = []
    for item in objects:
        current = existing.get((item["type"], item["id"]))
        if current is not None and _same_object(item, current):
            session.record("unchanged", item["type"], item["id"])
            continue
        changed.append(item)
        new = current is None or "error" in current
        session.record("created" if new else "updated", item["type"], item["id"])
    if changed:
        _import(session, changed)


def _import(session: Session, objects: list[dict[str, Any]]) -> None:
    content = "".join(json.dumps(item) + "\n" for item in objects).encode()
    body, content_type = multipart("file", "modelspan.ndjson", content)
    answer = session.kibana("POST", "/api/saved_objects/_import?overwrite=true", SAVED_OBJECTS,
                            raw=body, headers={"Content-Type": content_type}).body or {}
    if not answer.get("success", False):
        errors = [f"{e.get('type')}/{e.get('id')}: {e.get('error')}" for e in answer.get("errors", [])]
        raise SetupError("Kibana did not import every saved object: " + "; ".join(errors or [str(answer)]))


def connectors(webhook_url: str | None) -> dict[str, dict[str, Any]]:
    """Connector bodies by id: a server-log connector always, a webhook one when a URL is given."""
    bodies: dict[str, dict[str, Any]] = {
        LOG_CONNECTOR_ID: {"name": "modelspan: Kibana server log", "connector_type_id": ".server-log",
                           "config": {}, "secrets": {}},
    }
    if webhook_url:
        bodies[WEBHOOK_CONNECTOR_ID] = {
            "name": "modelspan: webhook", "connector_type_id": ".webhook",
            "config": {"url": webhook_url, "method": "post", "hasAuth": False,
                       "headers": {"Content-Type": "application/json"}},
            "secrets": {},
        }
    return bodies


def default_actions(connector_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Rule actions for rules that bring none: log every alert, and post it to the webhook."""
    message = "modelspan alert {{rule.name}}: {{context.message}}"
    actions: list[dict[str, Any]] = []
    for connector in connector_ids:
        if connector == LOG_CONNECTOR_ID:
            actions.append({"group": "query matched", "id": connector, "params": {"level": "warn", "message": message}})
        else:
            body = '{"rule": "{{rule.name}}", "message": "{{context.message}}", "link": "{{context.link}}"}'
            actions.append({"group": "query matched", "id": connector, "params": {"body": body}})
    return actions


def _subset(ours: Any, theirs: Any) -> bool:
    """Whether everything we set is in what Kibana returns (it adds ids and defaults of its own)."""
    if isinstance(ours, Mapping):
        return isinstance(theirs, Mapping) and all(_subset(v, theirs.get(k)) for k, v in ours.items())
    if isinstance(ours, list):
        return isinstance(theirs, list) and len(ours) == len(theirs) and all(map(_subset, ours, theirs))
    return bool(ours == theirs)


def install_connectors(session: Session, bodies: Mapping[str, Mapping[str, Any]]) -> None:
    for connector_id, body in bodies.items():
        path = f"/api/actions/connector/{quote(connector_id)}"
        current = session.kibana("GET", path, CONNECTORS, expect=(200, 404))
        if current.status == 404:
            session.kibana("POST", path, CONNECTORS, dict(body))
            session.record("created", "connector", connector_id)
            continue
        update = {key: body[key] for key in ("name", "config")}
        if _subset(update, current.body):
            session.record("unchanged", "connector", connector_id)
            continue
        session.kibana("PUT", path, CONNECTORS, {**update, "secrets": body.get("secrets", {})})
        session.record("updated", "connector", connector_id)


def install_rules(session: Session, rules: Mapping[str, Mapping[str, Any]]) -> None:
    """Create each rule under its id, or update it in place when a field we set differs."""
    for rule_id, body in rules.items():
        path = f"/api/alerting/rule/{quote(rule_id)}"
        current = session.kibana("GET", path, RULES, expect=(200, 404))
        if current.status == 404:
            session.kibana("POST", path, RULES, dict(body))
            session.record("created", "rule", rule_id)
            continue
        update = {key: value for key, value in body.items() if key not in RULE_CREATE_ONLY}
        if _subset(update, current.body):
            session.record("unchanged", "rule", rule_id)
            continue
        session.kibana("PUT", path, RULES, update)
        session.record("updated", "rule", rule_id)


def remove(session: Session, kind: str, path: str, privilege: str) -> None:
    """DELETE one Kibana object; a missing one is fine."""
    answer = session.kibana("DELETE", path, privilege, expect=(200, 204, 404))
    session.record("absent" if answer.status == 404 else "deleted", kind, path.rsplit("/", 1)[-1])


def remove_saved_objects(session: Session, ndjson: bytes) -> None:
    for item in reversed(parse_ndjson(ndjson)):  # dashboards before the data views they use
        path = f"/api/saved_objects/{quote(item['type'])}/{quote(item['id'])}?force=true"
        answer = session.kibana("DELETE", path, SAVED_OBJECTS, expect=(200, 204, 404))
        session.record("absent" if answer.status == 404 else "deleted", item["type"], item["id"])
