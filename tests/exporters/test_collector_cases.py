"""The OTel Collector's own ``otel``-mode test cases, replayed on OpenTelemetry Python SDK spans.

Expected documents, indices and ids are copied verbatim into ``collector_otel_mode_cases.json``
(with the Collector version, file and test of each). Every case runs through the bulk encoder (the
bytes that are sent) and checks that ``span_to_document`` / ``span_event_documents`` return the
same documents. Documents are compared as canonical JSON, so ``42`` and ``42.0`` differ as they do
for Elasticsearch's dynamic mapping. Where the Python SDK cannot express the Collector's input, the
case says what the span becomes (``python``) and the test pins that; docs/export.md lists them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceState

from modelspan.exporters._bulk import encode_spans
from modelspan.exporters._document import span_event_documents, span_to_document
from tests.exporters.otel_values import needs_any_value

FIXTURE = json.loads(Path(__file__).with_name("collector_otel_mode_cases.json").read_text())
CASES: dict[str, dict[str, Any]] = FIXTURE["cases"]
TRACE, SPAN = 0x0102030405060708090A0B0C0D0E0F10, 0x0102030405060708


class _StatusWithMessage(Status):
    """Ok with a message: the Collector's input; the Python API keeps messages for errors only."""

    def __init__(self, message: str) -> None:
        super().__init__(StatusCode.OK)
        self._message = message

    @property
    def description(self) -> str | None:
        return self._message


class _RawTraceState(TraceState):
    """The Collector tests' trace states ("foo", "bar") are not W3C list members: keep them raw."""

    def __init__(self, header: str) -> None:
        super().__init__()
        self._header = header

    def to_header(self) -> str:
        return self._header

    def __bool__(self) -> bool:
        return True


def _attributes(values: Mapping[str, Any] | None, dropped: int = 0) -> BoundedAttributes:
    bounded = BoundedAttributes(attributes=dict(values or {}))  # cleaned as the SDK cleans them
    bounded.dropped = dropped
    return bounded


def _bounded(items: list[Any], dropped: int) -> BoundedList:
    bounded = BoundedList(None)
    bounded.extend(items)
    bounded.dropped = dropped
    return bounded


def make_span(*, name: str = "", ids: tuple[int, int] = (0, 0), parent: int = 0, kind: SpanKind = SpanKind.INTERNAL,
              attributes: Mapping[str, Any] | None = None, resource: Mapping[str, Any] | None = None,
              resource_schema: str | None = None, scope: tuple[str, str | None, str | None] = ("", None, None),
              scope_attributes: Mapping[str, Any] | None = None, status: Status | None = None, start: int = 0,
              end: int = 0, events: tuple[Event, ...] = (), links: tuple[Link, ...] = (),
              trace_state: TraceState | None = None, dropped: tuple[int, int, int] = (0, 0, 0)) -> ReadableSpan:
    """A finished SDK span holding exactly the Collector test's input."""
    context = SpanContext(ids[0], ids[1], is_remote=False, trace_state=trace_state)
    return ReadableSpan(
        name=name, context=context, parent=SpanContext(ids[0], parent, is_remote=False) if parent else None,
        resource=Resource(dict(resource or {}), resource_schema), attributes=_attributes(attributes, dropped[0]),
        events=_bounded(list(events), dropped[1]), links=_bounded(list(links), dropped[2]), kind=kind,
        status=status or Status(StatusCode.UNSET), start_time=start, end_time=end,
        instrumentation_scope=InstrumentationScope(scope[0], scope[1], scope[2], dict(scope_attributes or {})),
    )


def sent(spans: list[ReadableSpan], *, dynamic_ids: bool = False) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(action, document) pairs as they are sent, checked against the document functions."""
    batch = encode_spans(spans, dynamic_ids=dynamic_ids)
    assert batch.rejected == []
    pairs = []
    for item in batch.items:
        action, source = item.lines.splitlines()
        pairs.append((json.loads(action)["create"], json.loads(source)))
    built = [document for span in spans for document in [span_to_document(span), *span_event_documents(span)]]
    assert [canonical(document) for _, document in pairs] == [canonical(document) for document in built]
    return pairs


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def at(document: Mapping[str, Any], path: str) -> Any:
    for part in path.split(".", 1) if path.startswith(("scope.", "resource.")) else [path]:
        document = document[part]
    return document


# --- inputs, rebuilt from the Collector tests -------------------------------------------------------

SERIALIZER_START = 1721314113467654123


def _serializer_default(resource: dict[str, Any], scope: dict[str, Any]) -> ReadableSpan:
    return make_span(kind=SpanKind.SERVER, start=SERIALIZER_START, end=SERIALIZER_START + 2_000_000,
                     status=_StatusWithMessage("Hello"), resource=resource, scope_attributes=scope)


def _document_example() -> ReadableSpan:
    start = 1_710_273_641_123_456_789  # 2024-03-12T20:00:41.123456789Z
    return make_span(name="GET /api/users", ids=(TRACE, SPAN), parent=0x0807060504030201, kind=SpanKind.SERVER,
                     start=start, end=start + 1_000_000_000, status=_StatusWithMessage("success"),
                     attributes={"http.method": "GET", "http.url": "/api/users", "http.status_code": 200},
                     resource={"service.name": "my-service", "host.name": "my-host",
                               "deployment.environment": "production"},
                     scope=("io.opentelemetry.example", "1.0.0", None))


def _golden() -> ReadableSpan:
    golden = json.loads(Path(__file__).with_name("golden_otel_span.json").read_text())
    link, resource, scope = golden["links"][0], golden["resource"], golden["scope"]
    start = int(golden["@timestamp"].split(".")[0]) * 1_000_000
    return make_span(
        name=golden["name"], ids=(int(golden["trace_id"], 16), int(golden["span_id"], 16)),
        parent=int(golden["parent_span_id"], 16), kind=SpanKind.SERVER, attributes=golden["attributes"],
        resource=resource["attributes"], resource_schema=resource["schema_url"],
        scope=(scope["name"], scope["version"], scope["schema_url"]), scope_attributes=scope["attributes"],
        status=_StatusWithMessage(golden["status"]["message"]), start=start, end=start + golden["duration"],
        links=(Link(SpanContext(int(link["trace_id"], 16), int(link["span_id"], 16), False), link["attributes"]),))


DOCUMENT_INPUTS: dict[str, Callable[[], ReadableSpan]] = {
    "serializer default": lambda: _serializer_default({"foo": 123}, {"foo": "bar"}),
    "serializer default, map attributes": lambda: _serializer_default({"resource_map": {"foo": "bar"}},
                                                                      {"scope_map": {"foo": "bar"}}),
    "serializer unset status code": lambda: make_span(),
    "document example otel_trace": _document_example,
    "golden otel_traces": _golden,
}


@pytest.mark.parametrize("name", [pytest.param(name, marks=needs_any_value) if "map" in name else name
                                  for name in DOCUMENT_INPUTS])
def test_whole_documents_equal_the_collectors(name: str) -> None:
    case = CASES[name]
    expected = case.get("expected") or json.loads(Path(__file__).with_name(case["expected_file"]).read_text())
    expected = {key: value for key, value in expected.items() if key != "data_stream"}
    expected.update(case.get("python", {}))  # what the Python SDK can express instead (kind: Internal)
    ((action, document),) = sent([DOCUMENT_INPUTS[name]()])
    # the Collector test serialised with an empty index; routed, the document names its data stream
    assert document.pop("data_stream") == {"type": "traces", "dataset": "generic.otel", "namespace": "default"}
    assert canonical(document) == canonical(expected)
    assert action["_index"] == "traces-generic.otel-default"


def _otel_mode_span() -> ReadableSpan:
    event = Event("exception", _attributes({"event.attr.foo": "event.attr.bar"}, dropped=1), timestamp=0)
    link = Link(SpanContext(0x01 << 120, 0x01 << 56, False, trace_state=_RawTraceState("bar")),
                _attributes({"link.attr.foo": "link.attr.bar"}, dropped=11))
    return make_span(name="name", trace_state=_RawTraceState("foo"), dropped=(2, 3, 4), start=3600 * 10**9,
                     end=7200 * 10**9, events=(event,), links=(link,), attributes={"attr.foo": "attr.bar"},
                     resource={"resource.foo": "resource.bar"})


def test_exporter_otel_mode_span_and_event_documents_and_indices() -> None:
    case = CASES["exporter otel mode"]
    pairs = sent([_otel_mode_span()])
    assert len(pairs) == len(case["sent"])
    for (action, document), want in zip(pairs, case["sent"], strict=True):
        expected = dict(want["document"])
        if "kind" in expected:
            expected["kind"] = case["python"]["kind"]  # the Python SDK has no SpanKind.UNSPECIFIED
        assert canonical(document) == canonical(expected)
        # the Collector sends no _id here; neither do we when the span has no ids (an invalid context)
        assert action == want["action"]["create"]


@pytest.mark.parametrize("name", [name for name in CASES if name.startswith("exporter span event routing")])
def test_span_event_routing(name: str) -> None:
    case = CASES[name]
    event = Event("some_event_name", _attributes(case.get("event_attributes")), timestamp=1)
    (_, _), (action, document) = sent([make_span(ids=(TRACE, SPAN), events=(event,))])
    assert action["_index"] == case["event_index"]
    assert document["event_name"] == "some_event_name"
    assert ("data_stream" in document) == case["event_index"].startswith("logs-")


ATTRIBUTE_INPUTS: dict[str, dict[str, Any]] = {
    "attribute writer test attributes": {
        "record": {"empty": None, "data_stream.type": "logs", "string": "foo", "bool": True, "double": 42.0,
                   "int": 42, "bytes": b"\x2a", "elasticsearch.document_id": "my_id", "slice": [42, "foo"],
                   "map_slice": [{"foo.bar": "baz"}], "map": {"foo.bar": "baz", "inner.slice": ["foo"]}},
        "resource": {"resource_map": {"foo": "bar"}}, "scope": {"scope_map": {"foo": "bar"}}},
    "attribute writer geo attributes": {
        "record": {"geo.location.lon": 1.1, "geo.location.lat": 2.2, "foo.bar.geo.location.lon": 3.3,
                   "foo.bar.geo.location.lat": 4.4, "a.geo.location.lon": 5.5, "b.geo.location.lat": 6.6,
                   "unrelatedgeo.location.lon": 7.7, "unrelatedgeo.location.lat": 8.8, "d": 9.9,
                   "e.geo.location.lon": "foo", "e.geo.location.lat": "bar"}},
    "json writer float values": {
        "record": {"large exponent": 1e20, "very large exponent": 1e100, "negative value large exponent": -1e20,
                   "5e+18": 5e18, "decimal value": 1.5, "small exponent with decimal": 1e-20, "trailing zero": 42.0,
                   "negative decimal": -3.14, "zero": 0.0, "one": 1.0, "negative one": -1.0,
                   "positive infinity": float("inf"), "negative infinity": float("-inf"), "NaN": float("nan")}},
}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=needs_any_value) if name == "attribute writer test attributes" else name
    for name in [*ATTRIBUTE_INPUTS, "exporter attribute slice value", "exporter attribute key prefix conflict"]])
def test_attribute_maps_equal_the_collectors(name: str) -> None:
    case = CASES[name]
    given = ATTRIBUTE_INPUTS.get(name, case)
    record = given["record"]
    # the same map on the span, on a span event and on a link: the Collector writes all with one function
    event = Event("", _attributes(record), timestamp=1)
    link = Link(SpanContext(TRACE, SPAN + 1, False), _attributes(record))
    span = make_span(ids=(TRACE, SPAN), attributes=record, resource=given.get("resource"),
                     scope_attributes=given.get("scope"), events=(event,), links=(link,))
    (_, document), (_, event_document) = sent([span])
    found = {"event attributes": event_document["attributes"], "link attributes": document["links"][0]["attributes"]}
    for path in case["compare"]:
        want = case["expected"].get(path, case["expected"]["attributes"])
        got = found[path] if path in found else at(document, path)
        assert canonical(got) == canonical(want), path
        if name.startswith("exporter attribute") and path != "attributes":  # the event carries them too
            assert canonical(at(event_document, path)) == canonical(want)


def test_elasticsearch_index_routes_and_is_removed_everywhere() -> None:
    case = CASES["exporter publish with elasticsearch.index"]
    event = Event("", _attributes(case["event_attributes"]), timestamp=1)
    span = make_span(ids=(TRACE, SPAN), attributes=case["record"], resource=case["resource"],
                     scope_attributes=case["scope"], events=(event,))
    (action, document), (event_action, event_document) = sent([span])
    assert action["_index"] == case["index"] and event_action["_index"] == case["event_index"]
    assert document["attributes"] == case["expected"]["attributes"]
    assert event_document["attributes"] == case["expected"]["event attributes"]
    # routed by name, not to a data stream: no data_stream, and the key is gone from scope and resource
    assert "data_stream" not in document and "data_stream" not in event_document
    assert document["scope"] == {"attributes": {}} and document["resource"] == {"attributes": {}}


@pytest.mark.parametrize("name", [name for name in CASES if "dynamic id" in name])
def test_dynamic_ids(name: str) -> None:
    case = CASES[name]
    for_event = "event_id" in case
    events = (Event(case["event_name"], _attributes(case["event_attributes"]), timestamp=1),) if for_event else ()
    # ids set (the Collector test leaves them empty) so that the trace + span id fallback is visible
    span = make_span(ids=(TRACE, SPAN), attributes=case.get("record"), scope_attributes=case["scope"], events=events)
    pairs = sent([span], dynamic_ids=True)
    action, document = pairs[-1] if for_event else pairs[0]
    want = case["event_id" if for_event else "_id"]
    fallback = f"{TRACE:032x}{SPAN:016x}" + ("-0" if for_event else "")
    assert action["_id"] == (want if want is not None else fallback)  # None: the Collector sends no _id
    assert "elasticsearch.document_id" not in json.dumps(document)
    assert "elastic.mapping.mode" not in json.dumps(document)
    # without the option, _id stays trace + span id whatever the attribute says
    plain, _ = sent([span])[-1 if for_event else 0]
    assert plain["_id"] == fallback


@pytest.mark.parametrize("name", [name for name in CASES if name.startswith("router")])
def test_receiver_scope_names_select_the_dataset(name: str) -> None:
    case = CASES[name]
    event = Event("e", {}, timestamp=1)
    span = make_span(ids=(TRACE, SPAN), scope=(case["scope_name"], None, None), events=(event,))
    (action, document), (event_action, _) = sent([span])
    assert action["_index"] == case["index"]
    assert document["data_stream"]["dataset"] == case["index"].split("-")[1]
    assert event_action["_index"] == "logs-" + case["index"].split("-", 1)[1]  # span events route the same way


def test_a_dataset_attribute_wins_over_the_receiver_name() -> None:
    receiver = CASES["router otel with receiver scope name"]["scope_name"]
    span = make_span(ids=(TRACE, SPAN), scope=(receiver, None, None), resource={"data_stream.dataset": "mine"})
    ((action, _),) = sent([span])
    assert action["_index"] == "traces-mine.otel-default"


def test_every_case_of_the_fixture_is_replayed() -> None:
    replayed = {*DOCUMENT_INPUTS, "exporter otel mode", "exporter publish with elasticsearch.index", *ATTRIBUTE_INPUTS,
                "exporter attribute slice value", "exporter attribute key prefix conflict"}
    replayed |= {name for name in CASES if name.startswith(("exporter span event routing", "router"))}
    replayed |= {name for name in CASES if "dynamic id" in name}
    assert replayed == set(CASES)
    assert FIXTURE["source"]["version"] == "v0.146.0"


def test_every_action_shape_matches_the_official_bulk_types() -> None:
    """Actions without ``_id`` (a span without ids), to a named index, and with a dynamic id type-check."""
    from tests.contract.tsc import Case, typecheck

    case = CASES["exporter publish with elasticsearch.index"]
    routed = make_span(ids=(TRACE, SPAN), attributes={**case["record"], "elasticsearch.document_id": 'id "x"'},
                       events=(Event("e", _attributes(case["event_attributes"]), timestamp=1),))
    pairs = sent([_otel_mode_span()]) + sent([routed], dynamic_ids=True)
    cases = [Case(f"action {n}", "BulkOperation", {"create": action}) for n, (action, _) in enumerate(pairs)]
    cases += [Case(f"source {n}", "Record<string, unknown>", source) for n, (_, source) in enumerate(pairs)]
    typecheck(cases)
