"""One span, one document: what the OTel Collector's ``elasticsearch`` exporter writes in ``otel`` mode.

Both export paths must store the same shape (docs/architecture.md, decision 1), so every rule here follows
the collector's ``otelserializer`` (open-telemetry/opentelemetry-collector-contrib,
``exporter/elasticsearchexporter/internal/serializer/otelserializer``):

- ``@timestamp`` is the span start as the string ``"<ms>.<ns remainder>"`` (the remainder is not
  zero-padded, exactly as the collector writes it; ``@timestamp`` is a millisecond ``date``, so
  the fraction never changes what Elasticsearch stores);
- ``kind`` is ``Internal``/``Server``/``Client``/``Producer``/``Consumer``; ``status`` is always an
  object with ``code`` ``Unset``/``Ok``/``Error`` and ``message`` only when set; ``links`` is
  always a list; ``dropped_*_count`` only when non-zero; empty strings and ids are left out;
- ``data_stream.*`` and the collector's control attributes (``elasticsearch.*``,
  ``elastic.mapping.mode``) are routing, not data: they are removed from ``attributes``;
  ``*geo.location.lat``/``lon`` double pairs merge into ``geo.location: [lon, lat]``;
- the data stream is read from span, then scope, then resource attributes (``generic`` /
  ``default`` when absent), sanitised, and ``.otel`` is appended to the dataset, so the document
  says ``data_stream.dataset: "modelspan.otel"`` and lands in ``traces-modelspan.otel-<ns>``
  (``data_stream.dataset`` is a ``constant_keyword``: both paths must write the same value);
- span events are separate documents routed to ``logs-<dataset>.otel-<ns>`` (``span_event_documents``).

Speed: this runs for every span. The resource and scope parts are built once per (resource,
scope) pair and *shared* by every document made from them (treat documents as read-only), span
attributes are copied once with a flat dict copy, and the normalisation pass (tuples to lists,
NaN/inf to ``null`` as the collector does) can be skipped by the bulk encoder, which lets
``json`` write tuples as arrays and falls back to the normalised document only when a float is
not finite.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, StatusCode

__all__ = ["index_for", "span_event_documents", "span_to_document"]

DATASET_KEY: Final = "data_stream.dataset"
NAMESPACE_KEY: Final = "data_stream.namespace"
DEFAULT_DATASET: Final = "generic"
DEFAULT_NAMESPACE: Final = "default"
OTEL_SUFFIX: Final = ".otel"

# Attributes the collector treats as routing/control and never writes into ``attributes``.
ROUTING_ATTRIBUTES: Final = (
    "data_stream.type",
    DATASET_KEY,
    NAMESPACE_KEY,
    "elasticsearch.mapping.hints",
    "elastic.mapping.mode",
    "elasticsearch.document_id",
    "elasticsearch.ingest_pipeline",
    "elasticsearch._index",
)
_ROUTING_SET: Final = frozenset(ROUTING_ATTRIBUTES)

_KIND: Final = {
    SpanKind.INTERNAL: "Internal",
    SpanKind.SERVER: "Server",
    SpanKind.CLIENT: "Client",
    SpanKind.PRODUCER: "Producer",
    SpanKind.CONSUMER: "Consumer",
}
_STATUS: Final = {StatusCode.UNSET: "Unset", StatusCode.OK: "Ok", StatusCode.ERROR: "Error"}

_MAX_DATA_STREAM_BYTES: Final = 100
_DATASET_BAD: Final = frozenset('-\\/*?"<>| ,#:')
_NAMESPACE_BAD: Final = frozenset('\\/*?"<>| ,#:')
_GEO_LAT: Final = "geo.location.lat"
_GEO_LON: Final = "geo.location.lon"
_CACHE_LIMIT: Final = 256


def span_to_document(span: ReadableSpan) -> dict[str, Any]:
    """The collector's ``otel``-mode document for ``span`` (JSON-ready: lists, no NaN).

    The ``resource`` and ``scope`` values are shared between documents of the same resource and
    scope; do not mutate them.

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> provider = TracerProvider()
    >>> with provider.get_tracer("demo").start_as_current_span("predict") as span:
    ...     pass
    >>> document = span_to_document(span)
    >>> document["kind"], document["status"], index_for(document)
    ('Internal', {'code': 'Unset'}, 'traces-generic.otel-default')
    """
    return build_document(span, normalise=True)


def index_for(document: Mapping[str, Any]) -> str:
    """The data stream a document goes to: ``<type>-<dataset>.otel-<namespace>``.

    Accepts a dataset with or without the ``.otel`` suffix (documents from this module carry it).

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
    context = _context_for(span.resource, span.instrumentation_scope)
    raw = _raw_attributes(span)
    attributes = raw.copy()
    dataset, namespace = context.dataset, context.namespace
    for key in ROUTING_ATTRIBUTES:
        if key in attributes:
            value = attributes.pop(key)
            if key == DATASET_KEY:
                dataset = _dataset(value)
            elif key == NAMESPACE_KEY:
                namespace = _namespace(value)
    if normalise:
        attributes = _normalised(attributes)
    start = span.start_time or 0
    document: dict[str, Any] = {
        "@timestamp": f"{start // 1_000_000}.{start % 1_000_000}",
        "data_stream": context.stream(dataset, namespace),
    }
    span_context = span.context
    if span_context is not None and span_context.trace_id:
        document["trace_id"] = f"{span_context.trace_id:032x}"
    if span_context is not None and span_context.span_id:
        document["span_id"] = f"{span_context.span_id:016x}"
        if span_context.trace_state:
            document["trace_state"] = span_context.trace_state.to_header()
    parent = span.parent
    if parent is not None and parent.span_id:
        document["parent_span_id"] = f"{parent.span_id:016x}"
    if span.name:
        document["name"] = span.name
    document["kind"] = _KIND.get(span.kind, "Unspecified")
    document["duration"] = max((span.end_time or start) - start, 0)
    if attributes:
        document["attributes"] = _with_geo(attributes) if _has_geo(attributes) else attributes
    _put_count(document, "dropped_attributes_count", span.dropped_attributes)
    _put_count(document, "dropped_events_count", span.dropped_events)
    links = span.links
    document["links"] = [_link(link) for link in links] if links else []
    _put_count(document, "dropped_links_count", span.dropped_links)
    status = span.status
    document["status"] = (
        {"message": status.description, "code": _STATUS[status.status_code]}
        if status.description
        else {"code": _STATUS[status.status_code]}
    )
    document["resource"] = context.resource
    document["scope"] = context.scope
    return document


def span_event_documents(span: ReadableSpan) -> list[dict[str, Any]]:
    """Each span event as the collector writes it: a document for ``logs-<dataset>.otel-<ns>``."""
    if not span.events:
        return []
    context = _context_for(span.resource, span.instrumentation_scope)
    span_context = span.context
    documents = []
    for event in span.events:
        attributes = dict(event.attributes or {})
        dataset = _dataset(attributes[DATASET_KEY]) if DATASET_KEY in attributes else context.dataset
        namespace = _namespace(attributes[NAMESPACE_KEY]) if NAMESPACE_KEY in attributes else context.namespace
        attributes = _normalised(_without_routing(attributes))
        if event.name:
            attributes["event.name"] = event.name
        when = event.timestamp or 0
        document: dict[str, Any] = {
            "@timestamp": f"{when // 1_000_000}.{when % 1_000_000}",
            "data_stream": {"type": "logs", "dataset": dataset, "namespace": namespace},
        }
        if span_context is not None:
            document["trace_id"] = f"{span_context.trace_id:032x}"
            document["span_id"] = f"{span_context.span_id:016x}"
        _put_count(document, "dropped_attributes_count", getattr(event, "dropped_attributes", 0))
        if event.name:
            document["event_name"] = event.name
        if attributes:
            document["attributes"] = attributes
        document["resource"] = context.resource
        document["scope"] = context.scope
        documents.append(document)
    return documents


class _Context:
    """The parts shared by every span of one (resource, scope): built once, reused."""

    __slots__ = ("dataset", "namespace", "resource", "resource_object", "scope", "scope_object", "streams")

    def __init__(self, resource: Resource, scope: InstrumentationScope | None) -> None:
        self.resource_object = resource
        self.scope_object = scope
        resource_attributes = dict(resource.attributes)
        scope_attributes = dict(scope.attributes or {}) if scope is not None else {}
        self.dataset = _dataset(_first(DATASET_KEY, scope_attributes, resource_attributes, DEFAULT_DATASET))
        self.namespace = _namespace(_first(NAMESPACE_KEY, scope_attributes, resource_attributes, DEFAULT_NAMESPACE))
        self.resource = _part(resource.schema_url, None, None, resource_attributes)
        self.scope = (
            _part(scope.schema_url, scope.name, scope.version, scope_attributes) if scope is not None else {}
        )
        self.streams: dict[tuple[str, str], dict[str, str]] = {}

    def stream(self, dataset: str, namespace: str) -> dict[str, str]:
        """The ``data_stream`` object, shared between documents of the same stream."""
        key = (dataset, namespace)
        found = self.streams.get(key)
        if found is None:
            if len(self.streams) >= _CACHE_LIMIT:
                self.streams.clear()
            found = self.streams[key] = {"type": "traces", "dataset": dataset, "namespace": namespace}
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
    cleaned = _normalised(_without_routing(attributes))
    if cleaned:
        part["attributes"] = _with_geo(cleaned) if _has_geo(cleaned) else cleaned
    return part


def _raw_attributes(span: ReadableSpan) -> dict[str, Any]:
    # ReadableSpan.attributes wraps BoundedAttributes in a MappingProxyType whose item access
    # runs Python code per key; the plain dict underneath copies in C. Fall back when the SDK's
    # internals differ.
    bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    if type(inner) is dict:
        return inner
    return dict(span.attributes or {})


def _without_routing(attributes: dict[str, Any]) -> dict[str, Any]:
    for key in _ROUTING_SET.intersection(attributes):
        del attributes[key]
    return attributes


def _normalised(attributes: dict[str, Any]) -> dict[str, Any]:
    """Tuples to lists, non-finite floats to ``None`` (the collector writes ``null``)."""
    for key, value in attributes.items():
        kind = type(value)
        if kind is tuple or kind is list:
            attributes[key] = [_finite(item) for item in value]
        elif kind is float and value - value != 0.0:
            attributes[key] = None
    return attributes


def _finite(value: Any) -> Any:
    return None if type(value) is float and not math.isfinite(value) else value


_geo_keys: dict[tuple[str, ...], bool] = {}


def _has_geo(attributes: Mapping[str, Any]) -> bool:
    # Spans of one model repeat the same keys: remember the answer per key tuple (hashing a tuple
    # of already-hashed strings is cheaper than searching the keys again).
    keys = tuple(attributes)
    found = _geo_keys.get(keys)
    if found is None:
        found = "geo.location.l" in "\n".join(keys)
        if len(_geo_keys) >= _CACHE_LIMIT:
            _geo_keys.clear()
        _geo_keys[keys] = found
    return found


def _with_geo(attributes: dict[str, Any]) -> dict[str, Any]:
    """Merge ``<prefix>geo.location.lat``/``lon`` double pairs into ``<prefix>geo.location``."""
    pairs: dict[str, dict[str, float]] = {}
    for key, value in list(attributes.items()):
        if type(value) is not float:
            continue
        for suffix, axis in ((_GEO_LAT, "lat"), (_GEO_LON, "lon")):
            if key == suffix or key.endswith("." + suffix):
                pairs.setdefault(key[: len(key) - len(suffix)], {})[axis] = value
                del attributes[key]
    for prefix, axes in pairs.items():
        if "lat" in axes and "lon" in axes:
            attributes[prefix + "geo.location"] = [axes["lon"], axes["lat"]]
        else:
            for axis, value in axes.items():
                attributes[prefix + (_GEO_LAT if axis == "lat" else _GEO_LON)] = value
    return attributes


def _link(link: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if link.context.trace_id:
        out["trace_id"] = f"{link.context.trace_id:032x}"
    if link.context.span_id:
        out["span_id"] = f"{link.context.span_id:016x}"
    if link.context.trace_state:
        out["trace_state"] = link.context.trace_state.to_header()
    attributes = _normalised(_without_routing(dict(link.attributes or {})))
    if attributes:
        out["attributes"] = attributes
    _put_count(out, "dropped_attributes_count", getattr(link, "dropped_attributes", 0))
    return out


def _put_count(document: dict[str, Any], key: str, count: int) -> None:
    if count:
        document[key] = count


def _first(key: str, scope: Mapping[str, Any], resource: Mapping[str, Any], default: str) -> Any:
    for attributes in (scope, resource):
        if key in attributes:
            return attributes[key]
    return default


def _sanitise(value: Any, bad: Iterable[str], room: int) -> str:
    text = _as_string(value)
    cleaned = "".join("_" if char in bad else char.lower() for char in text)
    encoded = cleaned.encode()
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
    return str(value)
