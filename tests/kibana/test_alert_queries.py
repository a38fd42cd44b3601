"""The findings alerts' searches find what they should, run over documents by the loopback stand-in.

Findings watches and rules run over findings documents built from ``modelspan.findings`` names,
flagged/unflagged, new/old, and must pick exactly the alerting ones. Relative dates (``now-10m``,
``now-6m/m``) are resolved to a fixed instant first: the stand-in knows no date math. The
operational watches (profiles) are checked in ``test_profile_alerts.py``.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelspan import findings as F
from modelspan._time import iso
from tests.store.elasticsearch import traffic
from tests.store.elasticsearch.fake_es import FakeElasticsearch

KIBANA = Path(__file__).resolve().parents[2] / "kibana"
NOW = traffic.WINDOW.end
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "s": "seconds"}


def _load(folder: str) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((KIBANA / folder).glob("*.json"))}


WATCHES = _load("watches")
RULES = _load("rules")


def _ago(amount: int, unit: str, now: _dt.datetime = NOW) -> str:
    return iso(now - _dt.timedelta(**{_UNITS[unit]: amount}))


def _millis(iso: str) -> float:
    return _dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000.0


def resolve_now(node: Any, field: str = F.TIMESTAMP, now: _dt.datetime = NOW) -> Any:
    """``now`` / ``now-<n><unit>`` -> instants relative to ``NOW``: ISO strings on ``@timestamp``, epoch
    milliseconds on other date fields (the stand-in parses dates of ``@timestamp`` only; the findings
    documents below carry their other dates as epoch milliseconds, which Elasticsearch accepts too)."""
    if isinstance(node, dict):
        if set(node) == {"range"}:
            ((name, bounds),) = node["range"].items()
            return {"range": {name: resolve_now(bounds, name, now)}}
        return {key: resolve_now(value, field, now) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve_now(item, field, now) for item in node]
    if isinstance(node, str):
        match = re.fullmatch(r"now(?:-(\d+)([smhd]))?(/m)?", node)
        if match:
            iso = _ago(int(match[1] or 0), match[2] or "s", now)
            if match[3]:  # rounded down to the minute (gte and lt alike, as Elasticsearch rounds them)
                iso = iso[:17] + "00.000Z"
            return iso if field == F.TIMESTAMP else _millis(iso)
    return node


def _finding(kind: str, flagged: bool, analyzed: str | None, **extra: Any) -> dict[str, Any]:
    doc = {F.ID: f"{kind}:{flagged}:{analyzed}:{sorted(extra.items())}", F.TYPE: kind, F.FLAGGED: flagged,
           F.TIMESTAMP: _ago(5, "m"), F.SUMMARY: f"{kind} finding", F.MODEL_NAME: "churn", F.MODEL_VERSION: "3"}
    if analyzed is not None:
        doc[F.ANALYZED_AT] = _millis(analyzed)
    doc.update(extra)
    return doc


def _findings() -> list[dict[str, Any]]:
    now, old = _ago(2, "m"), _ago(2, "h")
    latency, errors = "latency_p95_ms", "error_rate"
    return [
        _finding(F.TYPE_DRIFT, True, now), _finding(F.TYPE_DRIFT, False, now), _finding(F.TYPE_DRIFT, True, old),
        _finding(F.TYPE_PREDICTION_DRIFT, True, now),
        _finding(F.TYPE_QUALITY, True, now), _finding(F.TYPE_QUALITY, False, now),
        _finding(F.TYPE_ESTIMATED_PERFORMANCE, True, now, **{F.METRIC_NAME: "accuracy", F.TEST_SCORE: -4.5}),
        _finding(F.TYPE_ESTIMATED_PERFORMANCE, True, now, **{F.METRIC_NAME: "f1", F.TEST_SCORE: 4.5}),  # a rise
        _finding(F.TYPE_ESTIMATED_PERFORMANCE, False, now, **{F.METRIC_NAME: "recall", F.TEST_SCORE: -1.0}),
        _finding(F.TYPE_ESTIMATED_PERFORMANCE, True, old, **{F.METRIC_NAME: "precision", F.TEST_SCORE: -4.0}),
        _finding(F.TYPE_ESTIMATED_PERFORMANCE, True, now, **{F.METRIC_NAME: "mae", F.TEST_SCORE: -5.0}),  # error up
        _finding(F.TYPE_ESTIMATED_PERFORMANCE, True, now, **{F.METRIC_NAME: "rmse", F.TEST_SCORE: 5.0}),  # error down
        _finding(F.TYPE_NOVEL_PATH, True, now), _finding(F.TYPE_NOVEL_PATH, True, old),
        _finding(F.TYPE_INCIDENT, True, None, **{F.INCIDENT_KIND: "correlated"}),
        _finding(F.TYPE_INCIDENT, True, None, **{F.INCIDENT_KIND: "application_only"}),
        _finding(F.TYPE_INCIDENT, True, None, **{F.INCIDENT_KIND: "correlated", F.TIMESTAMP: _ago(3, "h")}),
        _finding(F.TYPE_LATENCY, False, now, **{F.METRIC_NAME: latency, F.METRIC_VALUE: 800.0}),
        _finding(F.TYPE_LATENCY, False, now, **{F.METRIC_NAME: latency, F.METRIC_VALUE: 300.0}),
        _finding(F.TYPE_LATENCY, False, now, **{F.METRIC_NAME: "latency_p50_ms", F.METRIC_VALUE: 900.0}),
        _finding(F.TYPE_ERROR_RATE, False, now, **{F.METRIC_NAME: errors, F.METRIC_VALUE: 0.1, F.SAMPLE_COUNT: 50}),
        _finding(F.TYPE_ERROR_RATE, False, now, **{F.METRIC_NAME: errors, F.METRIC_VALUE: 0.1, F.SAMPLE_COUNT: 5}),
        _finding(F.TYPE_ERROR_RATE, False, now, **{F.METRIC_NAME: errors, F.METRIC_VALUE: 0.01, F.SAMPLE_COUNT: 500}),
        _finding(F.TYPE_EXPERIMENT, True, now, **{F.EXPERIMENT_VERDICT: "lose", F.SAMPLE_COUNT: 1}),
        _finding(F.TYPE_EXPERIMENT, False, now, **{F.EXPERIMENT_VERDICT: "inconclusive", F.SAMPLE_COUNT: 2}),
        _finding(F.TYPE_EXPERIMENT, True, old, **{F.EXPERIMENT_VERDICT: "win", F.SAMPLE_COUNT: 3}),
        _finding(F.TYPE_EXPERIMENT, True, now, **{F.METRIC_NAME: errors, F.SAMPLE_COUNT: 4}),  # an effect, no verdict
    ]


def _key(doc: dict[str, Any]) -> tuple[Any, ...]:
    return (doc[F.TYPE], doc[F.FLAGGED], doc.get(F.ANALYZED_AT) is not None, doc.get(F.INCIDENT_KIND),
            doc.get(F.METRIC_NAME), doc.get(F.METRIC_VALUE), doc.get(F.SAMPLE_COUNT))


EXPECTED = {  # alert id -> the findings it must return (by _key), nothing else
    "modelspan-drift": {(F.TYPE_DRIFT, True, True, None, None, None, None),
                        (F.TYPE_PREDICTION_DRIFT, True, True, None, None, None, None)},
    "modelspan-quality-drop": {(F.TYPE_QUALITY, True, True, None, None, None, None)},
    "modelspan-novel-path": {(F.TYPE_NOVEL_PATH, True, True, None, None, None, None)},
    "modelspan-estimated-drop": {(F.TYPE_ESTIMATED_PERFORMANCE, True, True, None, "accuracy", None, None),
                                 (F.TYPE_ESTIMATED_PERFORMANCE, True, True, None, "mae", None, None)},
    "modelspan-correlated-incident": {(F.TYPE_INCIDENT, True, False, "correlated", None, None, None)},
    "modelspan-experiment": {(F.TYPE_EXPERIMENT, True, True, None, None, None, 1)},
    "modelspan-latency-p95": {(F.TYPE_LATENCY, False, True, None, "latency_p95_ms", 800.0, None)},
}


@pytest.fixture(scope="module")
def findings_es() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch() as fake:  # its HTTP side is unused: searches are asked of it directly
        fake.add(F.FINDINGS_INDEX, _findings())
        yield fake


def _keys(response: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {_key(hit["_source"]) for hit in response["hits"]["hits"]}


@pytest.mark.parametrize("watch_id", sorted(w for w, b in WATCHES.items()
                                            if b["input"]["search"]["request"]["indices"] == [F.FINDINGS_INDEX]))
def test_findings_watch_finds_exactly_the_new_flagged_findings(findings_es: FakeElasticsearch, watch_id: str) -> None:
    request = WATCHES[watch_id]["input"]["search"]["request"]
    body = resolve_now(request["body"])
    body["_source"] = None  # the stand-in returns whole documents; _key needs more than the watch asks for
    assert _keys(findings_es.search(request["indices"][0], body)) == EXPECTED[watch_id]


@pytest.mark.parametrize("rule_id", sorted(set(EXPECTED)))
def test_rule_finds_exactly_the_alerting_findings(findings_es: FakeElasticsearch, rule_id: str) -> None:
    params = RULES[rule_id]["params"]
    since = {"range": {params["timeField"]: {"gte": f"now-{params['timeWindowSize']}{params['timeWindowUnit']}"}}}
    query = resolve_now({"bool": {"filter": [json.loads(params["esQuery"])["query"], since]}})
    (index,) = params["index"]
    assert _keys(findings_es.search(index, {"query": query, "size": params["size"]})) == EXPECTED[rule_id]
