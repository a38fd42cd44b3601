"""Exact ``@timestamp`` of span and span-event documents, and the bulk items they become.

The collector's ``otel`` mode writes ``<milliseconds>.<nanosecond remainder>`` (the remainder not
padded); a span and each of its events must come out exactly so, whatever the remainder.
"""

from __future__ import annotations

import json
import math
import uuid

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext

from modelspan import semconv
from modelspan.exporters import _document
from modelspan.exporters._bulk import encode_spans
from modelspan.exporters._document import build_document, index_for, span_event_documents, span_to_document

CASES = [  # (nanoseconds since the epoch, expected @timestamp)
    (1_705_314_600_000_123_456, "1705314600000.123456"),
    (1_705_314_600_002_000_789, "1705314600002.789"),
    (1_705_314_600_003_000_000, "1705314600003.0"),
    (1_705_314_600_999_999_999, "1705314600999.999999"),
    (999_999, "0.999999"),
]


def _span(start: int, events: tuple[Event, ...] = ()) -> ReadableSpan:
    return ReadableSpan(
        name="predict", context=SpanContext(0xABC, 0xDEF, is_remote=False), resource=Resource({}),
        attributes={semconv.DATA_STREAM_DATASET: semconv.MODELSPAN_DATASET}, events=events,
        start_time=start, end_time=start + 2_500,
    )


@pytest.mark.parametrize(("nanos", "expected"), CASES)
def test_span_timestamp_and_duration_are_exact(nanos: int, expected: str) -> None:
    document = span_to_document(_span(nanos))
    assert document["@timestamp"] == expected
    assert document["duration"] == 2_500


@pytest.mark.parametrize(("nanos", "expected"), CASES)
def test_event_timestamp_is_exact_and_its_own(nanos: int, expected: str) -> None:
    span = _span(1_000_000_000_000_000_000, events=(Event("first", {"n": 1}, timestamp=nanos),
                                                    Event("second", {"n": 2}, timestamp=nanos + 1_000_001)))
    first, second = span_event_documents(span)
    assert first["@timestamp"] == expected
    millis, _, remainder = expected.partition(".")
    carry = (int(remainder) + 1) // 1_000_000
    assert second["@timestamp"] == f"{int(millis) + 1 + carry}.{(int(remainder) + 1) % 1_000_000}"
    assert (first["event_name"], second["event_name"]) == ("first", "second")


def test_bulk_items_carry_the_same_timestamps_in_order() -> None:
    (nanos, expected), (event_nanos, event_expected) = CASES[0], CASES[1]
    batch = encode_spans([_span(nanos, events=(Event("e", {}, timestamp=event_nanos),))])
    items = batch.items
    assert batch.rejected == []
    assert [item.id for item in items] == [f"{0xABC:032x}{0xDEF:016x}", f"{0xABC:032x}{0xDEF:016x}-0"]
    sources = [json.loads(item.lines.splitlines()[1]) for item in items]
    assert [source["@timestamp"] for source in sources] == [expected, event_expected]
    assert items[0].index.startswith("traces-") and items[1].index.startswith("logs-")
    without_events = encode_spans([_span(nanos, events=(Event("e", {}, timestamp=event_nanos),))],
                                  span_events=False).items
    assert without_events == [items[0]]


def test_a_span_without_context_times_or_duration_still_gives_a_document() -> None:
    bare = ReadableSpan(name="bare", context=None, resource=Resource({}), start_time=None, end_time=None)
    document = span_to_document(bare)
    assert document["@timestamp"] == "0.0" and document["duration"] == 0
    assert "trace_id" not in document and "span_id" not in document
    invalid = ReadableSpan(name="zero", context=SpanContext(0, 0, is_remote=False), resource=Resource({}),
                           start_time=5_000_000, end_time=5_000_000)
    document = span_to_document(invalid)
    assert "trace_id" not in document and "span_id" not in document and document["duration"] == 0
    backwards = ReadableSpan(name="b", context=None, resource=Resource({}), start_time=9, end_time=3)
    assert span_to_document(backwards)["duration"] == 0


def test_an_event_at_time_zero_is_at_the_epoch() -> None:
    (event,) = span_event_documents(_span(1_000_000, events=(Event("e", {}, timestamp=0),)))
    assert event["@timestamp"] == "0.0"


def test_index_names_get_the_otel_suffix_once() -> None:
    assert index_for({"data_stream": {"dataset": "modelspan", "namespace": "prod"}}) == "traces-modelspan.otel-prod"
    assert index_for({"data_stream": {"dataset": "modelspan.otel"}}) == "traces-modelspan.otel-default"
    assert index_for({}) == "traces-generic.otel-default"


def test_the_same_text_as_dataset_and_namespace_is_sanitised_by_each_rule() -> None:
    # unique per run: the sanitising caches live for the process
    raw = f"Team-{uuid.uuid4().hex[:8]}"
    attributes = {"data_stream.dataset": raw, "data_stream.namespace": raw}
    for _ in range(2):  # separate resources: the second reads the caches the first filled
        span = ReadableSpan(name="s", context=SpanContext(1, 2, is_remote=False), resource=Resource(attributes),
                            start_time=1, end_time=2, events=(Event("e", attributes, timestamp=3),))
        document = span_to_document(span)
        expected = {"type": "traces", "dataset": raw.lower().replace("-", "_") + ".otel", "namespace": raw.lower()}
        assert document["data_stream"] == expected
        (event,) = span_event_documents(span)
        assert event["data_stream"] == {**expected, "type": "logs"}


def test_non_finite_list_items_become_null_and_other_items_stay() -> None:
    span = ReadableSpan(name="s", context=SpanContext(1, 2, is_remote=False), resource=Resource({}),
                        attributes={"tags": ("a", "b"), "xs": (1.0, math.nan, math.inf), "n": (1, 2)},
                        start_time=1, end_time=2)
    document = build_document(span, normalise=True)
    assert document["attributes"] == {"tags": ["a", "b"], "xs": [1.0, None, None], "n": [1, 2]}


def test_a_cached_context_is_only_reused_for_the_very_same_resource_and_scope() -> None:
    # ids are reused after garbage collection: an entry under this span's ids that holds other
    # objects must not be taken for it
    span = ReadableSpan(name="s", context=SpanContext(1, 2, is_remote=False),
                        resource=Resource({"service.name": "right"}), start_time=1, end_time=2)
    key = (id(span.resource), id(span.instrumentation_scope))
    _document._contexts[key] = _document._Context(Resource({"service.name": "stale"}), None)
    assert span_to_document(span)["resource"]["attributes"] == {"service.name": "right"}
    scope = InstrumentationScope("lib", "1.0")
    scoped = ReadableSpan(name="s", context=SpanContext(1, 2, is_remote=False), resource=span.resource,
                          instrumentation_scope=scope, start_time=1, end_time=2)
    _document._contexts[(id(span.resource), id(scope))] = _document._Context(span.resource, None)
    assert span_to_document(scoped)["scope"]["name"] == "lib"
