"""The nine modelspan alerts, as Watcher watches (Standard licence and up) and Kibana `.es-query` rules (Basic).

Findings-based alerts (drift, quality drop, novel paths, correlated incidents) fire on new flagged
findings the analyzer wrote (``finding.analyzed_at`` within the look-back), so they fire exactly when
``modelspan analyze`` decided something is wrong. The operational alerts (latency p95, QPS drop,
error rate) read the profile data stream (``_profile_alerts``): exact counts of every call, whatever
the span sample rate, with or without the analyzer. The watches compute them with aggregations;
the rules for QPS and errors are ES|QL queries doing the same arithmetic, and the latency rule reads
the analyzer's p95 (ES|QL cannot read the ``histogram`` field on the versions we target).

Thresholds live in each watch's ``metadata`` (the condition reads ``ctx.metadata``) so they can be
changed in Kibana's Watcher UI without editing scripts.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from kibana import _profile_alerts
from kibana._views import TIMESTAMP
from modelspan import findings

Json = dict[str, Any]
SCHEDULE = "5m"
THROTTLE = "15m"
LOOKBACK = "20m"
"""A findings watch looks back at least its throttle plus one schedule: a finding written while the
watch was throttled is still in the window at the first run after the throttle ends (so it is never
missed; ``modelspan.elastic.assets.watches(throttle=...)`` widens it for longer throttles)."""
INCIDENT_LOOKBACK = "30m"
WEBHOOK_PLACEHOLDER: Json = {"scheme": "https", "host": "webhook.invalid", "port": 443, "path": "/modelspan"}
"""Committed in the files; ``modelspan.elastic.assets.watches(webhook_url=...)`` replaces it (or drops the
webhook action when no URL is given)."""
LATENCY_P95 = findings.METRIC_LATENCY_P95
CORRELATED = findings.INCIDENT_CORRELATED


def _flagged(types: list[str], *extra: Json) -> Json:
    """Flagged findings of ``types`` (the analyzer's verdicts); the time filter is added per alert."""
    return {"bool": {"filter": [{"terms": {findings.TYPE: types}}, {"term": {findings.FLAGGED: True}}, *extra]}}


# Painless that turns a payload into {'total': n, 'items': [one line per offender], 'text': one line} for
# the actions (findings are flat dotted keys, which mustache paths cannot reach).
_RESULT = "return ['total': items.size(), 'items': items, 'text': params.title + ': ' + String.join('; ', items)];"
_FINDINGS_ITEMS = ("def items = []; for (def hit : ctx.payload.hits.hits) { items.add(hit._source['"
                   + findings.SUMMARY + "']); } " + _RESULT)
_VERSIONS_LOOP = ("def items = []; for (def m : ctx.payload.aggregations.models.buckets) { "
                  "for (def v : m.versions.buckets) { %s } } ")


def _version_scripts(test: str, line: str) -> tuple[str, str]:
    """(condition, transform) over the per-version buckets: any offender / the list of offenders."""
    condition = _VERSIONS_LOOP % (test % "return true;") + "return false;"
    transform = _VERSIONS_LOOP % (test % f"items.add({line});") + _RESULT
    return condition, transform


def _watch(name: str, description: str, indices: list[str], body: Json, condition: Json, transform: str,
           metadata: Json | None = None) -> Json:
    webhook_body = ('{"text": {{#toJson}}ctx.payload.text{{/toJson}}, "watch_id": "{{ctx.watch_id}}", '
                    '"items": {{#toJson}}ctx.payload.items{{/toJson}}}')
    return {
        "metadata": {"modelspan": True, "name": name, "description": description, **(metadata or {})},
        "trigger": {"schedule": {"interval": SCHEDULE}},
        "input": {"search": {"request": {"indices": indices, "rest_total_hits_as_int": True, "body": body}}},
        "condition": condition,
        "transform": {"script": {"lang": "painless", "source": transform, "params": {"title": f"modelspan {name}"}}},
        "actions": {
            "log": {"logging": {"level": "warn", "text": "{{ctx.payload.text}}"}},
            "webhook": {"webhook": {**WEBHOOK_PLACEHOLDER, "method": "post",
                                    "headers": {"Content-Type": "application/json"}, "body": webhook_body}},
        },
        "throttle_period": THROTTLE,
    }


def _findings_watch(alert: FindingsAlert) -> Json:
    query = copy.deepcopy(alert.query)
    query["bool"]["filter"].append({"range": {alert.time_field: {"gte": f"now-{alert.lookback}"}}})
    body = {"size": 20, "sort": [{alert.time_field: {"order": "desc"}}], "query": query,
            "_source": [findings.SUMMARY, findings.MODEL_NAME, findings.MODEL_VERSION, findings.TRACE_IDS]}
    return _watch(alert.name, alert.description, [findings.FINDINGS_INDEX], body,
                  {"compare": {"ctx.payload.hits.total": {"gt": 0}}}, _FINDINGS_ITEMS)


@dataclass(frozen=True)
class FindingsAlert:
    """An alert on the analyzer's flagged findings, written within ``lookback`` by ``time_field``.

    ``finding.analyzed_at`` is when the analyzer wrote a finding, so findings of re-analysed late
    windows (labels arriving hours later) alert too; incident documents carry only ``@timestamp``
    (the end of the analysed window), hence their longer look-back.
    """

    name: str
    description: str
    query: Json
    time_field: str = findings.ANALYZED_AT
    lookback: str = LOOKBACK


def findings_alerts() -> dict[str, FindingsAlert]:
    return {
        "modelspan-drift": FindingsAlert(
            "drift", "Features or predictions drifted (analyzer drift findings).",
            _flagged([findings.TYPE_DRIFT, findings.TYPE_PREDICTION_DRIFT])),
        "modelspan-quality-drop": FindingsAlert(
            "quality drop", "Model quality dropped once late labels arrived (analyzer quality findings).",
            _flagged([findings.TYPE_QUALITY])),
        "modelspan-estimated-drop": FindingsAlert(
            "estimated performance drop", "A model's performance estimated before labels (a classifier's from its "
            "scores, CBPE; a regressor's MAE/RMSE from its expected errors, DLE) left its reference band for the "
            "worse (docs/estimation.md).",
            _flagged([findings.TYPE_ESTIMATED_PERFORMANCE], {"range": {findings.TEST_SCORE: {"lt": 0}}})),
        "modelspan-novel-path": FindingsAlert(
            "novel module paths", "Calls took sub-module paths never seen in the baseline for their output.",
            _flagged([findings.TYPE_NOVEL_PATH])),
        "modelspan-correlated-incident": FindingsAlert(
            "correlated incident", "An application incident whose failing traces hold the implicated model spans.",
            _flagged([findings.TYPE_INCIDENT], {"term": {findings.INCIDENT_KIND: CORRELATED}}),
            time_field=findings.TIMESTAMP, lookback=INCIDENT_LOOKBACK),
        "modelspan-experiment": FindingsAlert(
            "experiment verdict", "An experiment arm won or lost, or its sample ratio mismatched "
            "(always-valid analysis, docs/experiments.md).",
            _flagged([findings.TYPE_EXPERIMENT], {"exists": {"field": findings.EXPERIMENT_VERDICT}})),
    }


def _profile_watch(alert: _profile_alerts.ProfileWatch) -> Json:
    condition, transform = _version_scripts(alert.test, alert.line)
    return _watch(alert.name, alert.description, [_profile_alerts.PATTERN], alert.body,
                  {"script": {"lang": "painless", "source": condition}}, transform, alert.metadata)


def watches() -> dict[str, Json]:
    """Watch id -> PutWatch body."""
    operational = {alert_id: _profile_watch(alert) for alert_id, alert in _profile_alerts.watches().items()}
    found = {alert_id: _findings_watch(alert) for alert_id, alert in findings_alerts().items()}
    return dict(sorted({**operational, **found}.items()))


def _rule(name: str, query: Json, *, time_field: str = findings.ANALYZED_AT, window: str = LOOKBACK) -> Json:
    size, unit = int(window[:-1]), window[-1]
    return {
        "name": f"[modelspan] {name}",
        "rule_type_id": ".es-query",
        "consumer": "stackAlerts",
        "tags": ["modelspan"],
        "schedule": {"interval": SCHEDULE},
        "params": {
            "searchType": "esQuery", "esQuery": json.dumps({"query": query}, indent=2),
            "index": [findings.FINDINGS_INDEX], "timeField": time_field,
            "threshold": [0], "thresholdComparator": ">", "size": 20,
            # Each run alerts on the hits the previous run did not see, and its actions notify on every
            # such run (``onActiveAlert``, set at install), so every finding is notified exactly once;
            # a throttle here would drop the findings of the runs it silences.
            "timeWindowSize": size, "timeWindowUnit": unit, "excludeHitsFromPreviousRun": True,
        },
        "actions": [],
    }


def _esql_rule(name: str, esql: str, minutes: int) -> Json:
    """An ES|QL ``.es-query`` rule: it alerts when the query returns rows (threshold ``> 0`` is required)."""
    return {
        "name": f"[modelspan] {name}",
        "rule_type_id": ".es-query",
        "consumer": "stackAlerts",
        "tags": ["modelspan"],
        "schedule": {"interval": SCHEDULE},
        "params": {
            "searchType": "esqlQuery", "esqlQuery": {"esql": esql}, "timeField": TIMESTAMP,
            "threshold": [0], "thresholdComparator": ">", "size": 100,
            "timeWindowSize": minutes, "timeWindowUnit": "m", "excludeHitsFromPreviousRun": False,
        },
        "actions": [],
    }


def _measurement(kind: str, metric: str, *extra: Json) -> Json:
    return {"bool": {"filter": [{"term": {findings.TYPE: kind}}, {"term": {findings.METRIC_NAME: metric}},
                                *extra]}}


def rules() -> dict[str, Json]:
    """Rule id -> Kibana alerting rule body (``POST /api/alerting/rule/<id>``); actions added at install."""
    windows = _profile_alerts.RULE_WINDOW_MINUTES
    rules = {
        "modelspan-latency-p95": _rule("latency p95", _measurement(
            findings.TYPE_LATENCY, LATENCY_P95, {"range": {findings.METRIC_VALUE: {"gt": 500}}})),
        "modelspan-qps-drop": _esql_rule("QPS drop", _profile_alerts.esql_qps_drop(), windows["modelspan-qps-drop"]),
        "modelspan-error-rate": _esql_rule("error rate", _profile_alerts.esql_error_rate(),
                                           windows["modelspan-error-rate"]),
    }
    for rule_id, alert in findings_alerts().items():  # the rule's own time window replaces the watch's range
        rules[rule_id] = _rule(alert.name, alert.query, time_field=alert.time_field, window=alert.lookback)
    return dict(sorted(rules.items()))

