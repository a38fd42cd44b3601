"""Watches and rules as committed: the nine alerts, their fields, their scripts, and the official types.

The contract check runs once for everything (tsc is ~2 s per call): each watch as ``WatchBody``
with its inner search body cut to ``{query}`` (the official types know no more: a known gap), the
full inner body as ``SearchBody``, each rule's ``esQuery`` as ``SearchBody``, and the data views'
runtime fields as Elasticsearch runtime mappings.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from modelspan import findings
from modelspan.elasticsearch import layout, profiles
from tests.contract.tsc import Case, typecheck
from tests.kibana import fields
from tests.kibana.test_saved_objects import VIEWS

KIBANA = Path(__file__).resolve().parents[2] / "kibana"
ALERTS = {"modelspan-drift", "modelspan-latency-p95", "modelspan-qps-drop", "modelspan-error-rate",
          "modelspan-quality-drop", "modelspan-novel-path", "modelspan-correlated-incident", "modelspan-experiment",
          "modelspan-estimated-drop"}


def _load(folder: str) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted((KIBANA / folder).glob("*.json"))}


WATCHES = _load("watches")
RULES = _load("rules")


def _field_type(indices: list[str], field: str) -> str | None:
    (index,) = indices
    if index == findings.FINDINGS_INDEX:
        return fields.findings_field_type(field)
    if index == profiles.PATTERN:
        return fields.profile_field_type(field)
    assert index == layout.SPANS_PATTERN, index
    return fields.span_field_type(field)


ESQL_RULES = {"modelspan-qps-drop", "modelspan-error-rate"}
"""Rules that read the profile data stream with ES|QL; the others query findings with the DSL."""
_ESQL_FIELD = re.compile(r"@timestamp|\b(?:attributes|metrics)\.[\w.]+")


def test_the_nine_alerts_exist_as_watches_and_as_rules() -> None:
    assert set(WATCHES) == ALERTS
    assert set(RULES) == ALERTS


@pytest.mark.parametrize("watch_id", sorted(ALERTS))
def test_watch_is_throttled_logs_and_calls_the_webhook(watch_id: str) -> None:
    watch = WATCHES[watch_id]
    assert re.fullmatch(r"\d+[smhd]", watch["throttle_period"])
    assert re.fullmatch(r"\d+[smhd]", watch["trigger"]["schedule"]["interval"])
    actions = watch["actions"]
    assert set(actions) == {"log", "webhook"}
    assert actions["log"]["logging"]["text"]
    webhook = actions["webhook"]["webhook"]
    assert webhook["host"].endswith(".invalid"), "the committed file must not point at a real receiver"
    assert {"scheme", "port", "path", "method", "body"} <= set(webhook)


@pytest.mark.parametrize("watch_id", sorted(ALERTS))
def test_watch_reads_only_existing_fields(watch_id: str) -> None:
    request = WATCHES[watch_id]["input"]["search"]["request"]
    names = list(fields.dsl_fields(request["body"]))
    names += fields.script_fields(WATCHES[watch_id]["transform"]["script"]["source"])
    assert names
    for name in names:
        assert _field_type(request["indices"], name) is not None, f"{watch_id}: unknown field {name!r}"


@pytest.mark.parametrize("watch_id", sorted(ALERTS))
def test_watch_scripts_use_only_its_metadata_and_aggregations(watch_id: str) -> None:
    watch = WATCHES[watch_id]
    scripts = [watch["transform"]["script"]["source"]]
    if "script" in watch["condition"]:
        scripts.append(watch["condition"]["script"]["source"])
    body = watch["input"]["search"]["request"]["body"]
    version_aggs = set(body["aggs"]["models"]["aggs"]["versions"]["aggs"]) if "aggs" in body else set()
    for source in scripts:
        assert set(re.findall(r"ctx\.metadata\.(\w+)", source)) <= set(watch["metadata"]), source
        assert set(re.findall(r"\bv\.(\w+)", source)) <= version_aggs | {"doc_count", "key"}, source
        assert source.count("{") == source.count("}")
    assert set(re.findall(r"params\.(\w+)", scripts[0])) <= set(watch["transform"]["script"]["params"])


def test_findings_watches_look_for_new_flagged_findings() -> None:
    for watch_id, watch in WATCHES.items():
        request = watch["input"]["search"]["request"]
        if request["indices"] != [findings.FINDINGS_INDEX]:
            continue
        filters = request["body"]["query"]["bool"]["filter"]
        assert {"term": {findings.FLAGGED: True}} in filters, watch_id
        dates = (findings.ANALYZED_AT, findings.TIMESTAMP)  # other ranges narrow the findings (test.score)
        (since,) = [f["range"] for f in filters if "range" in f and set(f["range"]) <= set(dates)]
        (time_field,) = since
        assert time_field in (findings.ANALYZED_AT, findings.TIMESTAMP), watch_id
        assert request["body"]["sort"] == [{time_field: {"order": "desc"}}]
        rule = RULES[watch_id]["params"]
        assert rule["timeField"] == time_field
        assert since[time_field]["gte"] == f"now-{rule['timeWindowSize']}{rule['timeWindowUnit']}"
        assert watch["condition"] == {"compare": {"ctx.payload.hits.total": {"gt": 0}}}
        assert request["rest_total_hits_as_int"] is True


@pytest.mark.parametrize("rule_id", sorted(ESQL_RULES))
def test_esql_rule_reads_the_profile_stream_by_its_mapped_fields(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert rule["rule_type_id"] == ".es-query"
    params = rule["params"]
    # Kibana requires these of an ES|QL rule: it alerts when the query returns rows.
    assert params["searchType"] == "esqlQuery" and params["thresholdComparator"] == ">"
    assert params["threshold"] == [0] and params["timeField"] == layout.TIMESTAMP
    esql = params["esqlQuery"]["esql"]
    assert esql.startswith(f"FROM {profiles.PATTERN}\n")
    names = set(_ESQL_FIELD.findall(esql))
    assert {profiles.CALLS, profiles.MODEL, profiles.VERSION, profiles.MODULE, profiles.KIND} <= names
    for name in names:
        assert fields.profile_field_type(name) is not None, f"{rule_id}: unknown field {name!r}"
    # The rule's own time window (applied before the query) holds every minute the query reads.
    oldest = max(int(m) for m in re.findall(r"NOW\(\)\) - (\d+) minutes", esql))
    assert params["timeWindowUnit"] == "m" and params["timeWindowSize"] > oldest


@pytest.mark.parametrize("rule_id", sorted(ALERTS - ESQL_RULES))
def test_rule_is_an_es_query_rule_on_existing_findings_fields(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert rule["rule_type_id"] == ".es-query"
    assert rule["consumer"] in ("alerts", "stackAlerts")
    assert re.fullmatch(r"\d+[smhd]", rule["schedule"]["interval"])
    params = rule["params"]
    assert params["searchType"] == "esQuery"
    assert params["thresholdComparator"] in (">", ">=", "<", "<=", "between", "notBetween")
    assert all(isinstance(n, int) for n in params["threshold"])
    assert params["timeWindowUnit"] in ("s", "m", "h", "d") and params["timeWindowSize"] > 0
    assert fields.findings_field_type(params["timeField"]) == "date"
    query = json.loads(params["esQuery"])
    assert set(query) == {"query"}
    names = list(fields.dsl_fields(query))
    assert names
    for name in names:
        assert _field_type(params["index"], name) is not None, f"{rule_id}: unknown field {name!r}"


def _watch_as_typed(watch: dict[str, Any]) -> dict[str, Any]:
    typed = copy.deepcopy(watch)
    body = typed["input"]["search"]["request"]["body"]
    typed["input"]["search"]["request"]["body"] = {"query": body["query"]}
    return typed


def test_contract_watches_inner_searches_rule_queries_and_runtime_fields() -> None:
    cases = [Case(f"watch {i}", "WatchBody", _watch_as_typed(w)) for i, w in WATCHES.items()]
    cases += [Case(f"watch {i} search", "SearchBody", w["input"]["search"]["request"]["body"])
              for i, w in WATCHES.items()]
    cases += [Case(f"rule {i} esQuery", "SearchBody", json.loads(r["params"]["esQuery"])) for i, r in RULES.items()
              if i not in ESQL_RULES]
    # What Kibana sends for an ES|QL rule: the query, filtered to the rule's time window.
    cases += [Case(f"rule {i} ES|QL", "Omit<estypes.EsqlQueryRequest, 'format'>", {
        "query": RULES[i]["params"]["esqlQuery"]["esql"],
        "filter": {"range": {layout.TIMESTAMP: {"gte": "now-10m", "lte": "now"}}}}) for i in sorted(ESQL_RULES)]
    cases += [Case(f"runtime fields of {view_id}", "Record<string, estypes.MappingRuntimeField>",
                   json.loads(view["attributes"]["runtimeFieldMap"])) for view_id, view in VIEWS.items()]
    typecheck(cases)
