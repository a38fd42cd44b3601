"""The contract check itself: it must reject a misspelled aggregation and accept a good body."""

import pytest

from tests.contract.tsc import Case, bulk_groups, recorded_cases, typecheck


def test_accepts_a_valid_search_body() -> None:
    typecheck([Case("ok", "SearchBody", {"size": 0, "aggs": {"p": {"percentiles": {"field": "duration"}}}})])


def test_rejects_a_misspelled_aggregation() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"\[bad\].*percentile"):
        typecheck([Case("bad", "SearchBody", {"size": 0, "aggs": {"p": {"percentile": {"field": "duration"}}}})])


def test_bulk_bodies_are_typed_pair_by_pair() -> None:
    good = [{"create": {"_index": "traces-modelspan.otel-default", "_id": "a"}}, {"@timestamp": "1.0"},
            {"index": {"_index": "modelspan-findings", "_id": "f"}}, {"type": "drift"},
            {"delete": {"_index": "modelspan-findings", "_id": "g"}}]
    typecheck(recorded_cases([("POST", "/_bulk", good)]))
    assert bulk_groups(good)[2] == [good[4]]


@pytest.mark.parametrize("body", [
    [{"create": {"_id": "a"}}, {"create": {"_id": "b"}}, {"x": 1}],  # a missing source line
    [{"create": {"_id": "a"}, "index": {"_id": "a"}}, {"x": 1}],  # two operations in one action
    [{}, {"x": 1}],  # no operation
    [{"creat": {"_id": "a"}}, {"x": 1}],  # a misspelled operation
    [{"create": {"_id": 5}}, {"x": 1}],  # _id must be a string
    [{"update": {"_id": "a"}}, {"counter": 1}],  # an update needs doc / script / upsert
])
def test_ill_formed_bulk_bodies_are_rejected(body: list[dict[str, object]]) -> None:
    with pytest.raises(pytest.fail.Exception, match="contract check failed"):
        typecheck(recorded_cases([("POST", "/_bulk", body)]))
