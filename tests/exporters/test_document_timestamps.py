"""Exact ``@timestamp`` of span and span-event documents, and the bulk items they become.

The collector's ``otel`` mode writes ``<milliseconds>.<nanosecond remainder>`` (the remainder not
padded); a span and each of its events must come out exactly so, whatever the remainder.
"""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext

from modelspan import semconv
from modelspan.exporters._bulk import encode_spans
from modelspan.exporters._document import span_event_documents, span_to_document

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
    items = encode_spans([_span(nanos, events=(Event("e", {}, timestamp=event_nanos),))])
    assert [item.id for item in items] == [f"{0xABC:032x}{0xDEF:016x}", f"{0xABC:032x}{0xDEF:016x}-0"]
    sources = [json.loads(item.lines.splitlines()[1]) for item in items]
    assert [source["@timestamp"] for source in sources] == [expected, event_expected]
    assert items[0].index.startswith("traces-") and items[1].index.startswith("logs-")
    assert encode_spans([_span(nanos, events=(Event("e", {}, timestamp=event_nanos),))], span_events=False)[0] \
        == items[0]
    assert len(encode_spans([_span(nanos, events=(Event("e", {}, timestamp=event_nanos),))],
                            span_events=False)) == 1
