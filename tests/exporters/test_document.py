"""The direct exporter's document equals the OTel Collector's ``otel``-mode document."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from modelspan import semconv
from modelspan.exporters._document import build_document, index_for, span_event_documents, span_to_document

# A byte-for-byte copy of the Collector's exporter/elasticsearchexporter/testdata/golden/otel_traces.json
# (opentelemetry-collector-contrib v0.146.0); see docs/export.md.
GOLDEN = Path(__file__).with_name("golden_otel_span.json")


class _OkWithMessage(Status):
    """The golden span is ``Ok`` with a message; the Python API keeps messages for errors only."""

    def __init__(self, message: str) -> None:
        super().__init__(StatusCode.OK)
        self._message = message

    @property
    def description(self) -> str | None:
        return self._message


def _golden() -> dict[str, Any]:
    return dict(json.loads(GOLDEN.read_text()))


def _golden_span(golden: dict[str, Any]) -> ReadableSpan:
    """A Python span holding exactly the values of the collector's golden span."""
    def context(trace_id: str, span_id: str) -> SpanContext:
        return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=TraceFlags(1))

    start = int(golden["@timestamp"].split(".")[0]) * 1_000_000
    link = golden["links"][0]
    resource, scope = golden["resource"], golden["scope"]
    return ReadableSpan(
        name=golden["name"],
        context=context(golden["trace_id"], golden["span_id"]),
        parent=context(golden["trace_id"], golden["parent_span_id"]),
        resource=Resource(resource["attributes"], resource["schema_url"]),
        attributes=golden["attributes"],
        links=(Link(context(link["trace_id"], link["span_id"]), link["attributes"]),),
        kind=SpanKind.SERVER,
        status=_OkWithMessage(golden["status"]["message"]),
        start_time=start,
        end_time=start + golden["duration"],
        instrumentation_scope=InstrumentationScope(
            scope["name"], scope["version"], scope["schema_url"], scope["attributes"]
        ),
    )


def _without_routing(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "data_stream"}


def test_golden_span_gives_the_golden_document() -> None:
    golden = _golden()
    document = span_to_document(_golden_span(golden))
    assert _without_routing(document) == _without_routing(golden)
    # routing: the collector appends ".otel" to the dataset (the golden file was made without routing)
    assert document["data_stream"] == {"type": "traces", "dataset": "generic.otel", "namespace": "default"}
    assert index_for(document) == "traces-generic.otel-default"


def test_golden_document_survives_json_round_trip() -> None:
    golden = _golden()
    document = span_to_document(_golden_span(golden))
    assert json.loads(json.dumps(document)) == document


def _spans(make: Any) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "svc", "data_stream.namespace": "Prod EU"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        make(provider.get_tracer("tests.exporters", "1.2"))
    finally:
        provider.shutdown()
    return list(exporter.get_finished_spans())


def test_model_span_routes_to_modelspan_stream_and_drops_routing_attributes() -> None:
    def make(tracer: Any) -> None:
        with tracer.start_as_current_span("predict", attributes={
            semconv.DATA_STREAM_DATASET: semconv.MODELSPAN_DATASET, "ml.model.name": "churn",
            "elasticsearch.document_id": "x", "values": (1.0, 2.0), "bad": float("nan"),
        }):
            pass

    (span,) = _spans(make)
    document = span_to_document(span)
    assert document["data_stream"] == {"type": "traces", "dataset": "modelspan.otel", "namespace": "prod_eu"}
    assert index_for(document) == "traces-modelspan.otel-prod_eu"
    assert document["attributes"] == {"ml.model.name": "churn", "values": [1.0, 2.0], "bad": None}
    assert document["resource"] == {"attributes": {"service.name": "svc"}}
    assert document["scope"] == {"name": "tests.exporters", "version": "1.2"}
    assert document["status"] == {}  # unset: no code (Collector v0.128.0 and later)
    assert document["links"] == []
    assert document["kind"] == "Internal"
    assert "parent_span_id" not in document
    # the encoder's fast path keeps tuples and NaN (json writes tuples as arrays; NaN is caught there)
    fast = build_document(span, normalise=False)
    assert fast["attributes"]["values"] == (1.0, 2.0) and math.isnan(fast["attributes"]["bad"])


def test_app_span_goes_to_generic_and_error_status_keeps_message() -> None:
    def make(tracer: Any) -> None:
        with tracer.start_as_current_span("GET /predict", kind=SpanKind.SERVER) as parent:
            with tracer.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
                child.set_status(Status(StatusCode.ERROR, "boom"))
            parent.add_event("retry", {"attempt": 2})

    child, parent = _spans(make)
    document = span_to_document(child)
    assert index_for(document) == "traces-generic.otel-prod_eu"
    assert document["status"] == {"message": "boom", "code": "Error"}
    assert document["kind"] == "Client"
    assert document["parent_span_id"] == f"{parent.context.span_id:016x}"
    (event,) = span_event_documents(parent)
    assert event["data_stream"] == {"type": "logs", "dataset": "generic.otel", "namespace": "prod_eu"}
    assert event["attributes"] == {"attempt": 2, "event.name": "retry"}
    assert event["event_name"] == "retry" and event["span_id"] == f"{parent.context.span_id:016x}"


def test_timestamp_is_milliseconds_dot_unpadded_nanosecond_remainder() -> None:
    def make(tracer: Any) -> None:
        tracer.start_span("a", start_time=1_705_314_600_000_123_456).end(end_time=1_705_314_600_001_123_456)

    (span,) = _spans(make)
    document = span_to_document(span)
    assert document["@timestamp"] == "1705314600000.123456"
    assert document["duration"] == 1_000_000


def test_geo_pairs_merge_and_dropped_counts_and_trace_state() -> None:
    context = SpanContext(1, 2, is_remote=False, trace_state=TraceState([("k", "v")]))
    span = ReadableSpan(
        name="geo", context=context, resource=Resource({}),
        attributes={"client.geo.location.lat": 1.5, "client.geo.location.lon": 2.5, "geo.location.lat": 3.0},
        events=(Event("e", {}),), start_time=10, end_time=20,
    )
    document = span_to_document(span)
    assert document["attributes"] == {"client.geo.location": [2.5, 1.5], "geo.location.lat": 3.0}
    assert document["trace_state"] == "k=v"
    assert document["scope"] == {} and document["resource"] == {}


@pytest.mark.parametrize(
    ("value", "expected"), [("A-B c", "a_b_c.otel"), ("x" * 200, "x" * 95 + ".otel"), (True, "true.otel")]
)
def test_dataset_is_sanitised_like_the_collector(value: Any, expected: str) -> None:
    span = ReadableSpan(name="s", context=SpanContext(1, 2, False), resource=Resource({}),
                        attributes={semconv.DATA_STREAM_DATASET: value}, start_time=1, end_time=2)
    assert span_to_document(span)["data_stream"]["dataset"] == expected


@pytest.mark.parametrize(("status", "code"), [(None, "Unset"), (Status(StatusCode.OK), "Ok"),
                                              (Status(StatusCode.ERROR, "boom"), "Error")])
def test_sqlite_rows_still_count_unset_ok_and_error(status: Status | None, code: str) -> None:
    """``status: {}`` for an unset span still reads as ``Unset`` in the SQLite ``spans`` row."""
    from modelspan.sqlite._rows import span_row

    def make(tracer: Any) -> None:
        with tracer.start_as_current_span("s") as span:
            if status is not None:
                span.set_status(status)

    (span,) = _spans(make)
    document = span_to_document(span)
    assert document["status"] == ({} if code == "Unset" else {"code": code, **({"message": "boom"} if code == "Error"
                                                                                 else {})})
    assert span_row(document)[7] == code
