"""Tiny stand-in for ``modelspan.elastic.assets`` (one data view, one dashboard, one watch, one rule).

Setup's tests need assets of the documented shape, not the real dashboards (whose own tests live
with them), so they stay fast and independent of ``kibana/``.
"""

from __future__ import annotations

import json
from typing import Any

DATA_VIEW = {"type": "index-pattern", "id": "modelspan-spans", "attributes": {
    "title": "traces-modelspan.otel-*", "timeFieldName": "@timestamp", "name": "modelspan spans"}, "references": []}
DASHBOARD = {"type": "dashboard", "id": "modelspan-overview", "attributes": {"title": "modelspan overview",
             "panelsJSON": "[]"}, "references": [{"type": "index-pattern", "id": "modelspan-spans", "name": "spans"}]}


class FixtureAssets:
    """Mutable so a test can change an asset and watch setup update just that object."""

    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = [json.loads(json.dumps(DATA_VIEW)), json.loads(json.dumps(DASHBOARD))]
        self.threshold = 0.2

    def saved_objects(self) -> bytes:
        lines = [json.dumps(item) for item in self.objects]
        lines.append(json.dumps({"exportedCount": len(self.objects), "missingRefCount": 0, "missingReferences": []}))
        return ("\n".join(lines) + "\n").encode()

    def watches(self, webhook_url: str | None = None, throttle: str = "15m") -> dict[str, Any]:
        actions: dict[str, Any] = {"log": {"logging": {"text": "modelspan drift: {{ctx.payload.hits.total}}"}}}
        if webhook_url:
            actions["notify"] = {"webhook": {"url": webhook_url, "method": "post", "body": "{{#toJson}}ctx{{/toJson}}"}}
        search = {"indices": ["modelspan-findings"], "body": {"query": {"range": {"test.score": {
            "gte": self.threshold}}}}}
        return {"modelspan-drift": {"trigger": {"schedule": {"interval": "5m"}}, "input": {"search": {
            "request": search}}, "condition": {"compare": {"ctx.payload.hits.total": {"gt": 0}}},
            "actions": actions, "throttle_period": throttle}}

    def rules(self, throttle: str = "15m") -> dict[str, Any]:
        params = {"searchType": "esQuery", "index": ["modelspan-findings"], "timeField": "@timestamp",
                  "esQuery": json.dumps({"query": {"range": {"test.score": {"gte": self.threshold}}}}),
                  "size": 10, "threshold": [0], "thresholdComparator": ">", "timeWindowSize": 5,
                  "timeWindowUnit": "m"}
        return {"modelspan-drift": {"name": "modelspan: drift", "rule_type_id": ".es-query", "consumer": "stackAlerts",
                                    "schedule": {"interval": "5m"}, "params": params, "tags": ["modelspan"],
                                    "throttle": throttle, "notify_when": "onThrottleInterval"}}
