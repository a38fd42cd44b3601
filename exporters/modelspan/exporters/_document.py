"""One span, one document: what the OTel Collector's ``elasticsearch`` exporter writes in ``otel`` mode.

Both export paths must store the same shape (docs/architecture.md, decision 1), so every rule here
follows the Collector's ``otelserializer`` and document router
(open-telemetry/opentelemetry-collector-contrib ``exporter/elasticsearchexporter``, v0.146.0; the
Collector's own test cases are replayed in ``tests/exporters/test_collector_cases.py``):

- ``@timestamp`` is the span start as the string ``"<ms>.<ns remainder>"`` (the remainder is not
  zero-padded, exactly as the Collector writes it; ``@timestamp`` is a millisecond ``date``, so
  the fraction never changes what Elasticsearch stores);
- ``kind`` is ``Internal``/``Server``/``Client``/``Producer``/``Consumer``; ``status`` is always an
  object: ``{}`` when the status is unset (Collector v0.128.0 and later), else ``code``
  ``Ok``/``Error`` and ``message`` when there is one; ``links`` is always a list;
  ``dropped_*_count`` only when non-zero; empty strings and all-zero ids are left out;
- attribute maps follow ``_attributes.attributes_part`` (routing keys removed, geo pairs merged,
  bytes as hex, NaN as null, ``attributes: {}`` when only routing keys were there);
- routing: ``elasticsearch.index`` (span, then scope, then resource; for an event: the event, then
  scope, then resource) names the index and the document has no ``data_stream``; otherwise the
  data stream is read from span, then scope, then resource attributes, then the name of the
  Collector receiver in the scope name (``.../receiver/hostmetricsreceiver/...``), then ``generic``
  / ``default``, sanitised, with ``.otel`` appended to the dataset, so model spans say
  ``data_stream.dataset: "modelspan.otel"`` and land in ``traces-modelspan.otel-<ns>``
  (``data_stream.dataset`` is a ``constant_keyword``: both paths must write the same value);
- span events are separate documents routed to ``logs-<dataset>.otel-<ns>`` (``span_event_documents``).

Speed: this runs for every span. The resource and scope parts are built once per (resource,
scope) pair and *shared* by every document made from them (treat documents as read-only), span
attributes are copied once with a flat dict copy, and the normalisation pass (tuples to lists,
NaN/inf to ``null``, bytes to hex) can be skipped by the bulk encoder, which lets ``json`` write
tuples as arrays and falls back to the normalised document only when the encoder refuses a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, StatusCode

from modelspan.elasticsearch.layout import DATASET_KEY, DEFAULT_DATASET, DEFAULT_NAMESPACE, NAMESPACE_KEY, OTEL_SUFFIX
from modelspan.exporters._attributes import ROUTING_ATTRIBUTES, attributes_part

__all__ = ["ROUTING_ATTRIBUTES", "Routed", "index_for", "route_span", "route_span_events",
           "span_event_documents", "span_to_document"]

INDEX_KEY: Final = "elasticsearch.index"
DOCUMENT_ID_KEY: Final = "elasticsearch.document_id"

_KIND: Final = {
    SpanKind.INTERNAL: "Internal",
    SpanKind.SERVER: "Server",
    SpanKind.CLIENT: "Client",
    SpanKind.PRODUCER: "Producer",
    SpanKind.CONSUMER: "Consumer",
}
_STATUS: Final = {StatusCode.OK: "Ok", StatusCode.ERROR: "Error"}  # Unset writes no code

_MAX_DATA_STREAM_BYTES: Final = 100
_DATASET_BAD: Final = frozenset('-\\/*?"<>| ,#:')
_NAMESPACE_BAD: Final = frozenset('\\/*?"<>| ,#:')
_RECEIVER: Final = re.compile(r"/receiver/(\w*receiver)", re.ASCII)  # Go's \w is ASCII
_CACHE_LIMIT: Final = 256


class Routed(NamedTuple):
    """A document, the index it goes to, and its ``elasticsearch.document_id`` attribute (or None)."""

    document: dict[str, Any]
    index_name: str
    document_id: str | None


def span_to_document(span: ReadableSpan) -> dict[str, Any]:
    """The Collector's ``otel``-mode document for ``span`` (JSON-ready: lists, no NaN, no bytes).

    The ``resource`` and ``scope`` values are shared between documents of the same resource and
    scope; do not mutate them.

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> provider = TracerProvider()
    >>> with provider.get_tracer("demo").start_as_current_span("predict") as span:
    ...     pass
    >>> document = span_to_document(span)
    >>> document["kind"], document["status"], index_for(document)
    ('Internal', {}, 'traces-generic.otel-default')
    """
    return route_span(span, normalise=True).document


def index_for(document: Mapping[str, Any]) -> str:
    """The data stream a document goes to: ``<type>-<dataset>.otel-<namespace>``.

    Accepts a dataset with or without the ``.otel`` suffix (documents from this module carry it).
    A document routed by ``elasticsearch.index`` has no ``data_stream``: use ``route_span``.

    >>> index_for({"data_stream": {"type": "traces", "dataset": "modelspan.otel", "namespace": "prod"}})
    'traces-modelspan.otel-prod'
    >>> index_for({"data_stream": {"dataset": "modelspan", "namespace": "default"}})
    'traces-modelspan.otel-default'
    """
    stream = document.get("data_stream") or {}
    dataset = str(stream.get("dataset") or DEFAULT_DATASET)
    if not dataset.endswith(OTEL_SUFFIX):
        dataset += OTEL_SUFFIX
    return f"{stream.get('type') or 'traces'}-{dataset}-{stream.get('namespace') or DEFAULT_NAMESPACE}"


def build_document(span: ReadableSpan, *, normalise: bool) -> dict[str, Any]:
    """``span_to_document`` with the normalisation pass optional (the bulk encoder skips it)."""
    return route_span(span, normalise=normalise).document


def route_span(span: ReadableSpan, *, normalise: bool) -> Routed:
    """The span's document, the index the Collector would send it to, and its document id attribute."""
    context = _context_for(span.resource, span.instrumentation_scope)
    raw = _raw_attributes(span)
    start = span.start_time or 0
    document: dict[str, Any] = {"@timestamp": f"{start // 1_000_000}.{start % 1_000_000}"}
    index = _explicit_index(raw) or context.index
    if index is None:
        dataset = _dataset(raw[DATASET_KEY]) if DATASET_KEY in raw else context.dataset
        namespace = _namespace(raw[NAMESPACE_KEY]) if NAMESPACE_KEY in raw else context.namespace
        document["data_stream"], index = context.stream("traces", dataset, namespace)
    span_context = span.context
    if span_context is not None and span_context.trace_id:
        document["trace_id"] = f"{span_context.trace_id:032x}"
    if span_context is not None and span_context.span_id:
        document["span_id"] = f"{span_context.span_id:016x}"
    if span_context is not None and span_context.trace_state:
        document["trace_state"] = span_context.trace_state.to_header()
    parent = span.parent
    if parent is not None and parent.span_id:
        document["parent_span_id"] = f"{parent.span_id:016x}"
    if span.name:
        document["name"] = span.name
    document["kind"] = _KIND.get(span.kind, "Unspecified")
    document["duration"] = max((span.end_time or start) - start, 0)
    attributes = attributes_part(raw, normalise=normalise)
    if attributes is not None:
        document["attributes"] = attributes
    _put_count(document, "dropped_attributes_count", span.dropped_attributes)
    _put_count(document, "dropped_events_count", span.dropped_events)
    links = span.links
    document["links"] = [_link(link) for link in links] if links else []
    _put_count(document, "dropped_links_count", span.dropped_links)
    document["status"] = _status(span)
    document["resource"] = context.resource
    document["scope"] = context.scope
    return Routed(document, index, _document_id(raw))


def span_event_documents(span: ReadableSpan) -> list[dict[str, Any]]:
    """Each span event as the Collector writes it: a document for ``logs-<dataset>.otel-<ns>``."""
    return [routed.document for routed in route_span_events(span)]


def route_span_events(span: ReadableSpan) -> list[Routed]:
    """``span_event_documents`` with the index and document id attribute of each."""
    if not span.events:
        return []
    context = _context_for(span.resource, span.instrumentation_scope)
    span_context = span.context
    routed = []
    for event in span.events:
        raw: Mapping[str, Any] = event.attributes or {}
        if event.name:  # the Collector copies the attributes and puts event.name last (or in place)
            raw = {**raw, "event.name": event.name}
        when = event.timestamp or 0
        document: dict[str, Any] = {"@timestamp": f"{when // 1_000_000}.{when % 1_000_000}"}
        index = _explicit_index(raw) or context.index
        if index is None:
            dataset = _dataset(raw[DATASET_KEY]) if DATASET_KEY in raw else context.dataset
            namespace = _namespace(raw[NAMESPACE_KEY]) if NAMESPACE_KEY in raw else context.namespace
            document["data_stream"], index = context.stream("logs", dataset, namespace)
        if span_context is not None and span_context.trace_id:
            document["trace_id"] = f"{span_context.trace_id:032x}"
        if span_context is not None and span_context.span_id:
            document["span_id"] = f"{span_context.span_id:016x}"
        _put_count(document, "dropped_attributes_count", getattr(event, "dropped_attributes", 0))
        if event.name:
            document["event_name"] = event.name
        attributes = attributes_part(raw)
        if attributes is not None:
            document["attributes"] = attributes
        document["resource"] = context.resource
        document["scope"] = context.scope
        routed.append(Routed(document, index, _document_id(raw)))
    return routed


class _Context:
    """The parts shared by every span of one (resource, scope): built once, reused."""

    __slots__ = ("dataset", "index", "namespace", "resource", "resource_object", "scope", "scope_object",
                 "streams")

    def __init__(self, resource: Resource, scope: InstrumentationScope | None) -> None:
        self.resource_object = resource
        self.scope_object = scope
        resource_attributes = dict(resource.attributes)
        scope_attributes = dict(scope.attributes or {}) if scope is not None else {}
        self.index = _explicit_index(scope_attributes) or _explicit_index(resource_attributes)
        dataset = _first(DATASET_KEY, scope_attributes, resource_attributes, None)
        if dataset is None:  # receiver-based routing: only when no attribute names a dataset
            receiver = _RECEIVER.search(scope.name) if scope is not None and scope.name else None
            dataset = receiver[1] if receiver else DEFAULT_DATASET
        self.dataset = _dataset(dataset)
        self.namespace = _namespace(_first(NAMESPACE_KEY, scope_attributes, resource_attributes, DEFAULT_NAMESPACE))
        self.resource = _part(resource.schema_url, None, None, resource_attributes)
        self.scope = (
            _part(scope.schema_url, scope.name, scope.version, scope_attributes) if scope is not None else {}
        )
        self.streams: dict[tuple[str, str, str], tuple[dict[str, str], str]] = {}

    def stream(self, kind: str, dataset: str, namespace: str) -> tuple[dict[str, str], str]:
        """The ``data_stream`` object (shared between documents of the same stream) and its name."""
        key = (kind, dataset, namespace)
        found = self.streams.get(key)
        if found is None:
            if len(self.streams) >= _CACHE_LIMIT:
                self.streams.clear()
            found = self.streams[key] = (
                {"type": kind, "dataset": dataset, "namespace": namespace}, f"{kind}-{dataset}-{namespace}")
        return found


_contexts: dict[tuple[int, int], _Context] = {}


def _context_for(resource: Resource, scope: InstrumentationScope | None) -> _Context:
    key = (id(resource), id(scope))
    found = _contexts.get(key)
    # ids are reused after garbage collection: the entry keeps its objects alive and is checked
    if found is None or found.resource_object is not resource or found.scope_object is not scope:
        if len(_contexts) >= _CACHE_LIMIT:
            _contexts.clear()
        found = _contexts[key] = _Context(resource, scope)
    return found


def _part(schema_url: str | None, name: str | None, version: str | None, attributes: dict[str, Any]) -> dict[str, Any]:
    part: dict[str, Any] = {}
    if schema_url:
        part["schema_url"] = schema_url
    if name:
        part["name"] = name
    if version:
        part["version"] = version
    cleaned = attributes_part(attributes)
    if cleaned is not None:
        part["attributes"] = cleaned
    return part


def _raw_attributes(span: ReadableSpan) -> Mapping[str, Any]:
    # ReadableSpan.attributes wraps BoundedAttributes in a MappingProxyType whose item access
    # runs Python code per key; the plain dict underneath copies in C. Fall back when the SDK's
    # internals differ. Never modified here.
    bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    if type(inner) is dict:
        return inner
    return dict(span.attributes or {})


def _status(span: ReadableSpan) -> dict[str, str]:
    status = span.status
    part = {"message": status.description} if status.description else {}
    code = _STATUS.get(status.status_code)
    if code is not None:
        part["code"] = code
    return part


def _explicit_index(attributes: Mapping[str, Any]) -> str | None:
    # the Collector routes by any value it can read as a string; an empty name is no index
    if INDEX_KEY not in attributes:
        return None
    return _as_string(attributes[INDEX_KEY]) or None


def _document_id(attributes: Mapping[str, Any]) -> str | None:
    if DOCUMENT_ID_KEY not in attributes:
        return None
    return _as_string(attributes[DOCUMENT_ID_KEY]) or None


def _link(link: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if link.context.trace_id:
        out["trace_id"] = f"{link.context.trace_id:032x}"
    if link.context.span_id:
        out["span_id"] = f"{link.context.span_id:016x}"
    if link.context.trace_state:
        out["trace_state"] = link.context.trace_state.to_header()
    attributes = attributes_part(link.attributes)
    if attributes is not None:
        out["attributes"] = attributes
    _put_count(out, "dropped_attributes_count", getattr(link, "dropped_attributes", 0))
    return out


def _put_count(document: dict[str, Any], key: str, count: int) -> None:
    if count:
        document[key] = count


def _first(key: str, scope: Mapping[str, Any], resource: Mapping[str, Any], default: Any) -> Any:
    for attributes in (scope, resource):
        if key in attributes:
            return attributes[key]
    return default


def _sanitise(value: Any, bad: Iterable[str], room: int) -> str:
    text = _as_string(value)
    cleaned = "".join("_" if char in bad else char.lower() for char in text)
    encoded = cleaned.encode(errors="surrogatepass")
    if len(encoded) > room:
        cleaned = encoded[:room].decode(errors="ignore")
    return cleaned


_sanitised: dict[tuple[bool, str], str] = {}


def _dataset(value: Any) -> str:
    found = _sanitised.get((True, value)) if type(value) is str else None
    if found is None:
        found = _sanitise(value, _DATASET_BAD, _MAX_DATA_STREAM_BYTES - len(OTEL_SUFFIX)) + OTEL_SUFFIX
        _remember((True, value), found)
    return found


def _namespace(value: Any) -> str:
    found = _sanitised.get((False, value)) if type(value) is str else None
    if found is None:
        found = _sanitise(value, _NAMESPACE_BAD, _MAX_DATA_STREAM_BYTES)
        _remember((False, value), found)
    return found


def _remember(key: tuple[bool, Any], value: str) -> None:
    if type(key[1]) is not str:  # True and 1 hash alike but route differently ("true" / "1")
        return
    if len(_sanitised) >= _CACHE_LIMIT:
        _sanitised.clear()
    _sanitised[key] = value


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return str(value)
