"""The loopback Elasticsearch behaves as a cluster does where the product depends on it.

Over real HTTP with gzip bodies: the types the templates define are applied to what is stored
(numbers coerced, a malformed value refused or ignored, a constant_keyword held to its value, the
first dynamic value deciding a field's type), a second ``create`` of an id is a 409, a data stream
takes ``create`` only, and errors come back shaped like Elasticsearch's.
"""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.fake_search import source_of

TEMPLATE = {"index_patterns": ["traces-t.otel-*"], "priority": 500, "data_stream": {}, "template": {"mappings": {
    "properties": {"data_stream": {"properties": {"dataset": {"type": "constant_keyword", "value": "t.otel"}}},
                   "score": {"type": "double"}, "loose": {"type": "double", "ignore_malformed": True},
                   "name": {"type": "keyword"}}}}}


def _call(es: FakeElasticsearch, method: str, path: str, body: Any = None, lines: list[Any] | None = None) -> Any:
    data = None
    headers = {"Content-Type": "application/json"}
    if lines is not None:
        data = gzip.compress("".join(json.dumps(line) + "\n" for line in lines).encode())
        headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    elif body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(es.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return {"http_status": error.code, **json.loads(error.read() or b"{}")}


def _create(doc_id: str, **fields: Any) -> list[Any]:
    document = {"@timestamp": "2026-11-22T10:00:00Z", "data_stream": {"dataset": "t.otel"}, **fields}
    return [{"create": {"_index": "traces-t.otel-default", "_id": doc_id}}, document]


@pytest.fixture
def es() -> Any:
    with FakeElasticsearch() as fake:
        assert _call(fake, "PUT", "/_index_template/t", TEMPLATE) == {"acknowledged": True}
        yield fake


def test_mapped_types_are_applied_to_what_is_stored(es: FakeElasticsearch) -> None:
    answer = _call(es, "POST", "/_bulk", lines=[*_create("a", score="1.5", loose="x", name=7, extra=3),
                                                *_create("b", score="hot"), *_create("c", extra=1.9),
                                                *_create("d", data_stream={"dataset": "other.otel"})])
    statuses = [item["create"]["status"] for item in answer["items"]]
    assert answer["errors"] and statuses == [201, 400, 201, 400]
    assert answer["items"][1]["create"]["error"]["type"] == "document_parsing_exception"
    assert "[score] of type [double]" in answer["items"][1]["create"]["error"]["reason"]
    assert "constant_keyword" in answer["items"][3]["create"]["error"]["reason"]
    rows = {doc["_id"]: doc for doc, _ in es.rows("traces-t.otel-*")}
    assert rows["a"]["score"] == 1.5 and "loose" not in rows["a"] and rows["a"]["name"] == "7"
    assert source_of(rows["a"])["loose"] == "x"  # ignore_malformed: kept in _source, not indexed
    assert rows["c"]["extra"] == 1  # 'extra' was first seen as an integer: a long truncates 1.9
    found = _call(es, "POST", "/traces-t.otel-*/_search", {"query": {"term": {"name": 7}}})
    assert [hit["_id"] for hit in found["hits"]["hits"]] == ["a"]


def test_a_second_create_is_a_conflict_and_a_data_stream_takes_create_only(es: FakeElasticsearch) -> None:
    _call(es, "POST", "/_bulk", lines=_create("a", score=1))
    again = _call(es, "POST", "/_bulk", lines=[*_create("a", score=2),
                                               {"index": {"_index": "traces-t.otel-default"}}, _create("b")[1]])
    assert [item[op]["status"] for item, op in zip(again["items"], ["create", "index"], strict=True)] == [409, 400]
    assert again["items"][0]["create"]["error"]["type"] == "version_conflict_engine_exception"


def test_limits_and_missing_things_answer_like_elasticsearch(es: FakeElasticsearch) -> None:
    too_far = _call(es, "POST", "/traces-t.otel-*/_search", {"from": 9_990, "size": 11})
    assert too_far["http_status"] == 400 and too_far["error"]["type"] == "illegal_argument_exception"
    missing = _call(es, "POST", "/nothing/_refresh")
    assert missing["http_status"] == 404 and missing["error"]["type"] == "index_not_found_exception"
    assert _call(es, "GET", "/_index_template/absent")["http_status"] == 404
    es.max_content_length = 10
    assert _call(es, "POST", "/_bulk", lines=_create("z"))["http_status"] == 413


def test_histogram_fields_are_checked_and_their_counts_weigh_in_percentiles() -> None:
    template = {"index_patterns": ["metrics-h-*"], "priority": 500, "data_stream": {}, "template": {"mappings": {
        "properties": {"metrics": {"properties": {"h": {"type": "histogram"}}}}}}}

    def create(doc_id: str, values: list[float], counts: list[int]) -> list[Any]:
        return [{"create": {"_index": "metrics-h-default", "_id": doc_id}},
                {"@timestamp": "2026-11-22T10:00:00Z", "metrics": {"h": {"values": values, "counts": counts}}}]

    with FakeElasticsearch() as fake:
        _call(fake, "PUT", "/_index_template/h", template)
        answer = _call(fake, "POST", "/_bulk", lines=[*create("a", [1.0, 10.0], [1, 8]), *create("b", [100.0], [1]),
                                                      *create("c", [5.0, 2.0], [1, 1])])
        assert [item["create"]["status"] for item in answer["items"]] == [201, 201, 400]
        assert "[histogram]" in answer["items"][2]["create"]["error"]["reason"]
        found = _call(fake, "POST", "/metrics-h-*/_search", {"size": 0, "aggs": {"p": {"percentiles": {
            "field": "metrics.h", "percents": [10, 50, 95]}}}})
    # ten values: 1 once, 10 eight times, 100 once (nearest rank)
    assert found["aggregations"]["p"]["values"] == {"10.0": 1.0, "50.0": 10.0, "95.0": 100.0}


def test_bucket_script_does_arithmetic_on_sibling_values_and_gives_no_value_on_a_gap() -> None:
    with FakeElasticsearch() as es:
        es.add("things", [{"g": "a", "n": 3, "d": 4}, {"g": "a", "n": 1, "d": 0}, {"g": "b", "n": 5, "d": 0}])
        aggs = {"groups": {"terms": {"field": "g"}, "aggs": {
            "n": {"sum": {"field": "n"}}, "d": {"sum": {"field": "d"}},
            "inner": {"filter": {"term": {"g": "a"}}, "aggs": {"n": {"sum": {"field": "n"}}}},
            "share": {"bucket_script": {"buckets_path": {"n": "n", "d": "d"}, "script": "params.n / params.d"}},
            "rate": {"bucket_script": {"buckets_path": {"n": "inner>n"},
                                       "script": {"source": "(params.n + 1) * 2 / params.s", "params": {"s": 10}}}}}}}
        answer = es.search("things", {"size": 0, "aggs": aggs})["aggregations"]
        buckets = {b["key"]: b for b in answer["groups"]["buckets"]}
        assert buckets["a"]["share"] == {"value": 1.0} and buckets["a"]["rate"] == {"value": 1.0}
        assert "share" not in buckets["b"]  # 5 / 0: painless gives no number, Elasticsearch no value
        assert buckets["b"]["rate"] == {"value": 0.2}
        with pytest.raises(ValueError, match="arithmetic"):
            es.search("things", {"size": 0, "aggs": {"x": {"sum": {"field": "n"}}, "y": {"bucket_script": {
                "buckets_path": {"x": "x"}, "script": "Math.log(params.x)"}}}})


def test_a_histogram_aggregation_over_a_histogram_field_sums_the_counts_and_terms_order_by_a_metric() -> None:
    with FakeElasticsearch() as es:
        es.add("metrics-x-default", [
            {"name": "a", "n": 1, "h": {"values": [0, 2], "counts": [3, 1]}},
            {"name": "a", "n": 5, "h": {"values": [2, 3], "counts": [4, 2]}},
            {"name": "b", "n": 9},
            {"name": "c", "n": 9},
        ])
        aggs = {"bins": {"histogram": {"field": "h", "interval": 1}},
                "names": {"terms": {"field": "name", "order": [{"calls": "desc"}, {"_key": "asc"}]},
                          "aggs": {"calls": {"sum": {"field": "n"}}}}}
        answer = es.search("metrics-x-default", {"size": 0, "aggs": aggs})["aggregations"]
    # Elasticsearch fills the empty buckets between the first and the last key (min_doc_count 0)
    assert [(b["key"], b["doc_count"]) for b in answer["bins"]["buckets"]] == [(0, 3), (1, 0), (2, 5), (3, 2)]
    assert [b["key"] for b in answer["names"]["buckets"]] == ["b", "c", "a"]  # by summed n, then by key
