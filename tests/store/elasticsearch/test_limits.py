"""Limits a real cluster enforces, against the product's own requests at the sizes users reach.

The loopback Elasticsearch (``fake_es``) enforces ``index.max_result_window`` (10,000),
``search.max_buckets`` (65,536) and ``http.max_content_length`` (413) and answers errors shaped
like Elasticsearch's, so a request that a cluster would refuse fails here too: a 10,000-label join
over 100 batches, a day of 200 sub-modules at 300 s with many paths and labels, windows that do
not start on an interval boundary, and the exporter's bulk requests against a small body limit.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, Status, StatusCode

from modelspan import semconv
from modelspan.store import Question, Window
from modelspan.store import _es_queries as queries
from modelspan.store._answers import parse_operations
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.store.elasticsearch.fake_es import MAX_BUCKETS, MAX_CONTENT_LENGTH, ElasticError, FakeElasticsearch
from tests.store.elasticsearch.ingest import cluster, export
from tests.store.elasticsearch.scenario import outcome_documents
from tests.store.elasticsearch.traffic import INDEX, WINDOW, generate

DAY = Window.parse("2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z")


def test_ten_thousand_labels_over_a_hundred_batches_join_within_the_result_window() -> None:
    traffic = generate(singles=0, batches=100, batch_size=100, unseen_plan=None)
    outcomes = outcome_documents(traffic, every=1)
    assert len(outcomes) == 10_000
    with cluster([traffic.baseline]) as fake:
        export(fake, traffic.spans)  # written as a user's are: setup, then the real exporter
        with ElasticsearchStore(fake.url, outcomes_index="modelspan-outcomes") as store:
            store.record_outcomes([(o["prediction.id"], o["actual"], o["@timestamp"]) for o in outcomes])
            assert store.label_page == queries.MAX_RESULT_WINDOW  # the real page size, not a small one
            joined = store.labelled_predictions(WINDOW, "churn", "3")
        sizes = [body["size"] for _, path, body in fake.requests if path.endswith("/_search")]
    assert len(joined) == 10_000
    assert {p.prediction_id for p in joined} == {o["prediction.id"] for o in outcomes}
    assert max(sizes) <= queries.MAX_RESULT_WINDOW
    # A full outcomes page, 10,100 span ids (each batch adds its own id) in chunks of 5,000, then the
    # next outcomes page (empty: the first one was full, so there may have been more).
    assert sizes == [10_000, 5_000, 5_000, 100, 10_000]


def test_predictions_body_refuses_more_ids_than_one_search_may_return() -> None:
    with pytest.raises(ValueError, match="at most 10000"):
        queries.predictions_body(WINDOW, "m", "1", [str(i) for i in range(10_001)])


def _busy_day_spans(modules: int = 200, paths: int = 400, labels: int = 20) -> list[ReadableSpan]:
    """One span per sub-module and per (path, label): the bucket-heavy shape of a big model."""
    spans: list[ReadableSpan] = []

    def span(minute: int, **attributes: Any) -> ReadableSpan:
        start = int((DAY.start + _dt.timedelta(minutes=minute % (24 * 60))).timestamp()) * 10**9
        context = SpanContext(len(spans) + 1, len(spans) + 1, is_remote=False)
        return ReadableSpan(name="big", context=context, resource=Resource({"service.name": "big"}),
                            attributes={semconv.DATA_STREAM_DATASET: semconv.MODELSPAN_DATASET,
                                        semconv.MODEL_NAME: "big", semconv.MODEL_VERSION: "1", **attributes},
                            status=Status(StatusCode.OK), start_time=start, end_time=start + 1_000_000 + minute)

    for number in range(modules):
        spans.append(span(number * 7, **{semconv.SPAN_KIND: semconv.SPAN_KIND_MODULE,
                                         semconv.MODULE_NAME: f"m{number:03d}"}))
    for number in range(paths * labels):
        spans.append(span(number, **{semconv.SPAN_KIND: semconv.SPAN_KIND_MODEL,
                                     semconv.MODULE_PATH_KEY: f"p{number // labels}",
                                     semconv.OUTPUT_LABEL: f"l{number % labels}"}))
    return spans


@pytest.fixture(scope="module")
def busy_day() -> Iterator[FakeElasticsearch]:
    """A day of a big model, written through setup and the real exporter."""
    with cluster() as fake:
        export(fake, _busy_day_spans())
        yield fake


def test_a_day_of_two_hundred_sub_modules_stays_under_max_buckets(busy_day: FakeElasticsearch) -> None:
    question = Question("big", "1", DAY, 300)
    calls, modules = queries.worst_case_buckets(question, 300)
    assert calls + modules > MAX_BUCKETS  # one search would be refused
    busy_day.largest_bucket_count = 0
    with ElasticsearchStore(busy_day.url, interval_seconds=300) as store:
        stats, = store.model_stats([question])
    largest = busy_day.largest_bucket_count
    assert largest <= queries.BUCKET_BUDGET < MAX_BUCKETS
    assert len(stats.modules) == 200
    assert all(len(operations.intervals) == 288 for operations in stats.modules.values())
    assert stats.operations.calls == 400 * 20 and len(stats.paths) == 400


def test_the_unsplit_request_would_have_been_refused(busy_day: FakeElasticsearch) -> None:
    """The check above is not vacuous: the same documents, one search, too many buckets."""
    with pytest.raises(ElasticError, match="too many buckets"):
        busy_day.search(INDEX, queries.model_body(Question("big", "1", DAY, 300)))


@pytest.mark.parametrize("days", [1, 7, 31])
def test_long_windows_are_widened_until_every_search_fits(days: int) -> None:
    window = Window(DAY.start, DAY.start + _dt.timedelta(days=days))
    asked = Question("big", "1", window, 300)
    sent, split = queries.plan(asked)
    calls, modules = queries.worst_case_buckets(sent, sent.interval_seconds)
    assert sent.interval_seconds % 300 == 0
    assert calls <= queries.BUCKET_BUDGET and modules <= queries.BUCKET_BUDGET
    assert (calls + modules <= queries.BUCKET_BUDGET) or split
    if sent.interval_seconds > 300:  # widened only as far as needed
        narrower = queries.worst_case_buckets(sent, sent.interval_seconds - 300)
        assert max(narrower) > queries.BUCKET_BUDGET


def test_percentiles_compared_to_thresholds_ask_for_high_accuracy() -> None:
    body = queries.model_body(Question("m", "1", WINDOW, 300))
    calls = body["aggs"]["calls"]["aggs"]
    modules = body["aggs"]["modules"]["aggs"]["names"]["aggs"]
    for aggs in (calls, modules):
        assert aggs["latency"]["percentiles"]["tdigest"] == {"execution_hint": "high_accuracy"}


def _bucket(key: _dt.datetime, calls: int) -> dict[str, Any]:
    return {"key": int(key.timestamp() * 1000), "doc_count": calls, "errors": {"doc_count": 0},
            "rates": {"buckets": [{"key": 1.0, "doc_count": calls, "rows": {"value": float(calls)}}],
                      "sum_other_doc_count": 0}}


def test_unaligned_window_edges_do_not_read_as_throughput_dips() -> None:
    """Steady 1 call/s over [10:02:30, 10:17:30): buckets at 10:00, 10:05, 10:10, 10:15."""
    window = Window.parse("2026-11-22T10:02:30Z", "2026-11-22T10:17:30Z")
    start = _dt.datetime(2026, 11, 22, 10, 0, tzinfo=_dt.timezone.utc)
    calls_in = [150, 300, 300, 150]  # what a steady second-by-second traffic puts in each bucket
    agg = {"doc_count": sum(calls_in), "intervals": {"buckets": [
        _bucket(start + _dt.timedelta(minutes=5 * i), n) for i, n in enumerate(calls_in)]}}
    intervals = parse_operations(agg, 300, window).intervals
    assert [interval.seconds for interval in intervals] == [150.0, 300.0, 300.0, 150.0]
    assert [interval.qps for interval in intervals] == [1.0, 1.0, 1.0, 1.0]
    assert sum(interval.seconds for interval in intervals) == window.seconds
    aligned = parse_operations(agg, 300).intervals  # no window: whole intervals, as before
    assert [interval.seconds for interval in aligned] == [300.0] * 4


def test_bulk_requests_stay_within_the_body_limit_and_a_413_loses_nothing() -> None:
    """The exporter's default bulk size is under ``http.max_content_length``; under a smaller limit,
    the 413 makes it split, and every span is still stored once (none dead-lettered)."""
    from modelspan.exporters import elasticsearch as exporter

    assert exporter._DEFAULT_MAX_BULK_BYTES <= MAX_CONTENT_LENGTH
    traffic = generate(singles=150, batches=12)
    limit = 64 * 1024
    with FakeElasticsearch(max_content_length=limit) as fake:
        export(fake, traffic.spans)
        sizes = list(fake.bulk_sizes)
        stored = {identifier for identifier, (index, _) in fake.stored.items() if index.startswith("traces-")}
    assert any(status == 413 for _, status in sizes)  # the default size was too big for this cluster
    assert all(size <= limit for size, status in sizes if status == 200)
    assert len(stored) == len(traffic.spans)
