"""No batch is lost to one odd attribute: regression tests for each data-loss case of issue 18 and a
property test over every attribute value type the Python SDK accepts.

Each test exports through the real exporter into the loopback ``_bulk`` server: a span is either
stored (by its id) or dead-lettered alone with its reason, never dropped with its batch.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext

from modelspan.exporters._bulk import NOT_SENT, encode_spans
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from tests.exporters.bulk_server import BulkServer
from tests.exporters.otel_values import needs_any_value
from tests.exporters.test_elasticsearch import exporter_for, settle, span_id


def sdk_spans(attribute_sets: list[dict[str, Any]], events: bool = False) -> list[ReadableSpan]:
    """Finished SDK spans, one per attribute set (cleaned by the SDK as in production)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "odd"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.exporters.odd")
    try:
        for number, attributes in enumerate(attribute_sets):
            span = tracer.start_span(f"span-{number}")
            for key, value in attributes.items():
                span.set_attribute(key, value)
            if events:
                span.add_event("event", attributes)
            span.end()
    finally:
        provider.shutdown()
    return list(memory.get_finished_spans())


@contextmanager
def exporting(directory: Path) -> Iterator[tuple[BulkServer, ElasticsearchSpanExporter]]:
    # Arbitrary attributes of many spans share one index here; on a real cluster the first value of a
    # field fixes its type and later ones may clash: this file tests what the wire carries, not that.
    with BulkServer(apply_mappings=False) as server:
        exporter = exporter_for(server, directory)
        try:
            yield server, exporter
        finally:
            exporter.shutdown()


def export_all(exporter: ElasticsearchSpanExporter, spans: list[ReadableSpan]) -> None:
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    settle(exporter)


def stored_attributes(server: BulkServer, span: ReadableSpan) -> Any:
    return server.stored[span_id(span)][1]["attributes"]


@needs_any_value
def test_a_bytes_attribute_is_stored_as_hex_and_costs_no_other_span(tmp_path: Path) -> None:
    spans = sdk_spans([{"n": 1}, {"k": b"*"}, {"n": 2}, {"list": [b"\x01", b"\xff"]}, {"map": {"raw": b"\x00\x10"}}])
    with exporting(tmp_path) as (server, exporter):
        export_all(exporter, spans)
        assert set(server.stored) == {span_id(span) for span in spans}
        assert stored_attributes(server, spans[1]) == {"k": "2a"}
        assert stored_attributes(server, spans[3]) == {"list": ["01", "ff"]}
        assert stored_attributes(server, spans[4]) == {"map": {"raw": "0010"}}
        assert exporter.stats()["dropped"] == 0


@needs_any_value
def test_nan_and_infinity_nested_in_maps_and_arrays_are_written_as_null(tmp_path: Path) -> None:
    nan, inf = float("nan"), float("inf")
    spans = sdk_spans([{"n": 1}, {"m": {"x": nan, "y": [inf, 1.5]}}, {"nested": [[1.0, -inf], [nan]]}, {"n": 2}],
                      events=True)
    with exporting(tmp_path) as (server, exporter):
        export_all(exporter, spans)
        assert len(server.stored) == 2 * len(spans)  # spans and their events
        assert stored_attributes(server, spans[1]) == {"m": {"x": None, "y": [None, 1.5]}}
        assert stored_attributes(server, spans[2]) == {"nested": [[1.0, None], [None]]}
        assert server.stored[span_id(spans[1]) + "-0"][1]["attributes"]["m"] == {"x": None, "y": [None, 1.5]}


def test_a_string_with_a_lone_surrogate_is_sent_as_a_json_escape(tmp_path: Path) -> None:
    spans = sdk_spans([{"text": "ok \ud800 end"}, {"n": 1}])
    with exporting(tmp_path) as (server, exporter):
        export_all(exporter, spans)
        assert stored_attributes(server, spans[0]) == {"text": "ok \ud800 end"}  # "\\ud800" on the wire
        assert len(server.stored) == 2


def hand_built_span(value: Any) -> ReadableSpan:
    """A span built without the SDK's attribute cleaning, holding a value JSON cannot encode."""
    return ReadableSpan(name="hand-built", context=SpanContext(0xABC, 0xDEF, is_remote=False),
                        resource=Resource({}), attributes={"when": value, "fine": 1}, start_time=1, end_time=2)


def test_an_unencodable_document_is_dead_lettered_alone_with_its_reason(tmp_path: Path) -> None:
    good = sdk_spans([{"n": 1}, {"n": 2}])
    odd = hand_built_span(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    with exporting(tmp_path) as (server, exporter):
        export_all(exporter, [good[0], odd, good[1]])
        assert set(server.stored) == {span_id(span) for span in good}
        (letter,) = exporter.dead_letters.read()
        assert letter["id"] == span_id(odd) and letter["status"] == NOT_SENT
        assert "TypeError" in str(letter["reason"]) and "datetime" in str(letter["reason"])
        assert letter["document"]["attributes"]["fine"] == 1  # type: ignore[index]
        stats = exporter.stats()
        assert stats["unencodable"] == 1 and stats["dead_lettered"] == 1 and stats["dropped"] == 0


def test_quotes_in_a_routed_index_or_document_id_cannot_break_the_request(tmp_path: Path) -> None:
    spans = sdk_spans([{"elasticsearch.index": 'we"ird\\index'}, {"elasticsearch.document_id": 'id "1"\n'},
                       {"n": 1}])
    with BulkServer(apply_mappings=False) as server:
        exporter = exporter_for(server, tmp_path, dynamic_ids=True)
        try:
            export_all(exporter, spans)
        finally:
            exporter.shutdown()
    assert server.stored[span_id(spans[0])][0] == 'we"ird\\index'
    assert 'id "1"\n' in server.stored and span_id(spans[2]) in server.stored


# --- property: any attribute value the SDK accepts --------------------------------------------------

SCALARS = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=12),  # lone surrogates included
    st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.binary(max_size=6), st.none(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.tuples(inner, inner), st.dictionaries(st.text(max_size=6), inner, max_size=3),
), max_leaves=8)
KEYS = st.one_of(st.text(min_size=1, max_size=10), st.sampled_from([
    "elasticsearch.index", "elasticsearch.document_id", "data_stream.dataset", "data_stream.namespace",
    "geo.location.lat", "geo.location.lon", "a.geo.location.lat", "event.name", "elastic.mapping.mode",
]))
BATCHES = st.lists(st.dictionaries(KEYS, VALUES, max_size=4), min_size=1, max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=BATCHES, with_events=st.booleans(), poisoned=st.booleans())
def test_every_span_is_stored_or_dead_lettered_alone(batch: list[dict[str, Any]], with_events: bool,
                                                      poisoned: bool) -> None:
    spans = sdk_spans(batch, events=with_events)
    poison = hand_built_span(object())  # a document no encoder can write, in the middle of the batch
    if poisoned:
        spans.insert(len(spans) // 2, poison)
    expected = {span_id(span) for span in spans}
    if with_events:
        expected |= {span_id(span) + "-0" for span in spans if span.events}
    with tempfile.TemporaryDirectory() as directory, exporting(Path(directory)) as (server, exporter):
        export_all(exporter, spans)
        lettered = [str(letter["id"]) for letter in exporter.dead_letters.read()]
        assert all(letter["reason"] for letter in exporter.dead_letters.read())
        stored = set(server.stored)
        assert len(lettered) == len(set(lettered)) and stored.isdisjoint(lettered)
        assert stored | set(lettered) == expected
        assert lettered == ([span_id(poison)] if poisoned else [])  # only the poisoned one
        assert exporter.stats()["dropped"] == 0
        assert all(finite(document) for _, document in server.stored.values())  # JSON has no NaN


def finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(item) for item in value.values())
    if isinstance(value, list):
        return all(finite(item) for item in value)
    return True


class _Unreadable(ReadableSpan):
    """A span whose attributes raise when read (a broken wrapper around the SDK's span)."""

    @property
    def attributes(self) -> Any:
        raise RuntimeError("unreadable attributes")


def test_a_span_that_cannot_be_read_is_refused_alone_under_its_ids() -> None:
    readable = sdk_spans([{"n": 1}])
    with_ids = _Unreadable(name="broken", context=SpanContext(0xABC, 0xDEF, is_remote=False), start_time=1,
                           end_time=2)
    without = _Unreadable(name="broken", context=None, start_time=1, end_time=2)
    batch = encode_spans([with_ids, *readable, without])
    assert [item.id for item in batch.items] == [span_id(readable[0])]
    assert [(o.item.id, o.status) for o in batch.rejected] == [(f"{0xABC:032x}{0xDEF:016x}", NOT_SENT), ("", NOT_SENT)]
    assert all("RuntimeError: unreadable attributes" in o.reason for o in batch.rejected)


class _LongFailure(ReadableSpan):
    @property
    def attributes(self) -> Any:
        raise RuntimeError("x" * 2000)


def test_the_reason_of_a_refused_span_is_cut_to_500_characters() -> None:
    """The reason travels with the dead letter and into the log: bounded, whatever the exception says."""
    (refused,) = encode_spans([_LongFailure(name="broken", context=None, start_time=1, end_time=2)]).rejected
    assert refused.reason == ("document cannot be encoded as JSON (RuntimeError: " + "x" * 2000)[:500]


def test_a_refused_document_with_a_lone_surrogate_still_makes_an_ascii_dead_letter() -> None:
    """Refused for the datetime; the letter escapes the lone surrogate instead of failing to encode it."""
    span = ReadableSpan(name="hand-built", context=SpanContext(0xABC, 0xDEF, is_remote=False), resource=Resource({}),
                        attributes={"when": dt.datetime(2026, 1, 1), "text": "a\ud800b"}, start_time=1, end_time=2)
    (refused,) = encode_spans([span]).rejected
    assert refused.item.lines.isascii() and b"a\\ud800b" in refused.item.lines
