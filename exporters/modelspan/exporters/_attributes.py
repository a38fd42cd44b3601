"""Attribute maps as the OTel Collector's ``otel``-mode serializer writes them.

One set of rules for every attribute map of a document (span, span event, link, resource, scope),
as the Collector's ``writeAttributes``/``writeValue`` apply them
(``exporter/elasticsearchexporter/internal/serializer/otelserializer``, contrib v0.146.0):

- a map that is not empty is written, even when every key in it is a routing key: a span whose only
  attributes are ``data_stream.dataset`` and ``elasticsearch.index`` has ``attributes: {}``;
- routing and control keys (``ROUTING_ATTRIBUTES``) are never written;
- ``<prefix>geo.location.lat``/``lon`` double pairs merge into ``<prefix>geo.location: [lon, lat]``
  (a lone half stays as it was);
- bytes are written as lowercase hex (``b"*"`` -> ``"2a"``), at any depth;
- NaN and infinities are written as ``null``, at any depth (JSON has no NaN);
- sequences become lists and nested maps stay maps (``otel`` mode never flattens them).

A value no JSON encoder knows (only possible when a ``ReadableSpan`` is built by hand, the SDK turns
such values into strings) is left as it is: the bulk encoder then refuses that one document and
dead-letters it with the reason, and every other document of the batch is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["ROUTING_ATTRIBUTES", "attributes_part", "normalise_value"]

# Attributes the Collector treats as routing/control and never writes into ``attributes``
# (its ``writeAttributes`` skip list). ``elasticsearch._index`` is not among them: only an old
# Collector version read it, so it is data like any other attribute.
ROUTING_ATTRIBUTES: Final = (
    "data_stream.type",
    "data_stream.dataset",
    "data_stream.namespace",
    "elasticsearch.mapping.hints",
    "elastic.mapping.mode",
    "elasticsearch.document_id",
    "elasticsearch.ingest_pipeline",
    "elasticsearch.index",
)
_ROUTING_SET: Final = frozenset(ROUTING_ATTRIBUTES)
_GEO_LAT: Final = "geo.location.lat"
_GEO_LON: Final = "geo.location.lon"
_CACHE_LIMIT: Final = 256


def attributes_part(raw: Mapping[str, Any] | None, *, normalise: bool = True) -> dict[str, Any] | None:
    """The ``attributes`` object for ``raw``, or None when ``raw`` is empty (no field at all).

    ``raw`` is never modified. With ``normalise=False`` the values are copied as they are (tuples,
    NaN, bytes): the bulk encoder's fast path, which falls back to the normalised map when the
    JSON encoder refuses one of them.

    >>> attributes_part({"data_stream.dataset": "modelspan", "k": b"*", "v": (1.5, float("nan"))})
    {'k': '2a', 'v': [1.5, None]}
    >>> attributes_part({"elasticsearch.index": "custom"})
    {}
    """
    if not raw:
        return None
    attributes = dict(raw)
    for key in _ROUTING_SET.intersection(attributes):  # one C-level pass; usually finds nothing
        del attributes[key]
    if _has_geo(attributes):
        attributes = _with_geo(attributes)
    if normalise:
        for key, value in attributes.items():
            kind = type(value)
            if not (kind is str or kind is int or kind is bool or (kind is float and value - value == 0.0)):
                attributes[key] = normalise_value(value)
    return attributes


def normalise_value(value: Any) -> Any:
    """``value`` as the Collector writes it: bytes as hex, NaN/inf as None, sequences as lists."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if isinstance(value, float):
        return value if value - value == 0.0 else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (tuple, list)):
        return [normalise_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key if type(key) is str else str(key): normalise_value(item) for key, item in value.items()}
    return value  # not JSON: the encoder refuses this one document (see the module docstring)


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
    """Merge ``<prefix>geo.location.lat``/``lon`` double pairs into ``<prefix>geo.location``.

    Runs before normalisation, as the Collector does: a NaN half is still a double, so the pair
    merges and the NaN is then written as null.
    """
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
