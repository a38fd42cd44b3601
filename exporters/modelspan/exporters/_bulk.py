"""The ``_bulk`` wire format: encode ``create`` actions, read the per-item answers.

Encoding is pure (spans in, bytes out) so it can be benchmarked and tested without a network.
Each document becomes two NDJSON lines, ``{"create":{"_index":...,"_id":...}}`` and the source;
data streams accept only ``create``. ``_id`` is ``<trace id><span id>`` (hex), so a replay of a
batch Elasticsearch already stored is answered 409 instead of writing a duplicate; with
``dynamic_ids`` a document's ``elasticsearch.document_id`` attribute is its ``_id`` instead (the
Collector's ``traces_dynamic_id``). The index is the data stream, or ``elasticsearch.index``.

Each document is encoded on its own: one that cannot be encoded (a value no JSON encoder knows,
only possible in a hand-built ``ReadableSpan``) is returned in ``Batch.rejected`` with the reason,
to be dead-lettered, and never costs the other documents of the batch.

``json`` with compact separators and ``allow_nan=False`` is the serialiser: orjson is not a
dependency, and the C encoder writes the shared resource/scope dicts and attribute tuples directly.
A span with a NaN, an infinity or bytes anywhere in its attributes raises there and takes the slow
path (normalised: ``null`` and hex, as the Collector writes them). ``benchmarks/export.py``
measures it against OTLP protobuf.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry.sdk.trace import ReadableSpan

from modelspan.exporters._document import Routed, index_for, route_span, route_span_events

_encode: Final = json.JSONEncoder(
    separators=(",", ":"), allow_nan=False, check_circular=False  # ensure_ascii: faster here, measured
).encode
_quote: Final[Callable[[str], str]] = json.encoder.encode_basestring_ascii

# How each item answer is handled (status codes of BulkResponseItem.status).
STORED: Final = "stored"
DUPLICATE: Final = "duplicate"
RETRY: Final = "retry"
DEAD: Final = "dead"
RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})
NOT_SENT: Final = 0  # the status of a document refused before sending (cannot be encoded)


@dataclass(frozen=True)
class Item:
    """One document on the wire: its id, its index and its two NDJSON lines (with newlines)."""

    id: str
    index: str
    lines: bytes


@dataclass(frozen=True)
class Outcome:
    """What Elasticsearch said about one item."""

    item: Item
    verdict: str  # STORED | DUPLICATE | RETRY | DEAD
    status: int
    reason: str


@dataclass
class Batch:
    """Encoded items to send, and the documents that could not be encoded (with the reason)."""

    items: list[Item] = field(default_factory=list)
    rejected: list[Outcome] = field(default_factory=list)


def document_id(document: dict[str, Any]) -> str:
    """The ``_id`` of a span document: trace id + span id, so retries and replays cannot duplicate."""
    return f"{document.get('trace_id', '')}{document.get('span_id', '')}"


def encode_spans(spans: Iterable[ReadableSpan], *, span_events: bool = True, dynamic_ids: bool = False) -> Batch:
    """Bulk items for ``spans`` (and their events as log documents, as the Collector writes them).

    A span whose document cannot be encoded is in ``rejected``; its events are still encoded.
    """
    batch = Batch()
    for span in spans:
        try:
            routed = route_span(span, normalise=False)
        except Exception as exc:  # a span we cannot even read: refuse it alone
            batch.rejected.append(_refused(_span_key(span), "", {"name": str(span.name)}, exc))
            continue
        identifier = document_id(routed.document)
        _add(batch, routed, routed.document_id if dynamic_ids and routed.document_id else identifier, span)
        if span_events and span.events:
            _add_events(batch, span, identifier, dynamic_ids)
    return batch


def encode_documents(documents: Iterable[dict[str, Any]]) -> list[Item]:
    """Bulk items for ready-made documents (already normalised)."""
    items = []
    for document in documents:
        identifier, index = document_id(document), index_for(document)
        items.append(Item(identifier, index, _action(index, identifier) + _line(document)))
    return items


def _add_events(batch: Batch, span: ReadableSpan, identifier: str, dynamic_ids: bool) -> None:
    try:
        events = route_span_events(span)
    except Exception as exc:
        batch.rejected.append(_refused(f"{identifier}-events", "", {"name": str(span.name)}, exc))
        return
    for number, event in enumerate(events):
        default = f"{identifier}-{number}" if identifier else ""
        _add(batch, event, event.document_id if dynamic_ids and event.document_id else default, None)


def _add(batch: Batch, routed: Routed, identifier: str, span: ReadableSpan | None) -> None:
    """Encode one document into ``batch``: an item, or a rejection with the reason.

    ``span``: the span of a document built without normalisation, rebuilt normalised when the
    encoder refuses a value (NaN, bytes); None for documents that are normalised already.
    """
    document = routed.document
    try:
        try:
            text = _encode(document)
        except (ValueError, TypeError):  # NaN/inf or bytes somewhere: the normalised document
            if span is None:
                raise
            document = route_span(span, normalise=True).document
            text = _encode(document)
        source = text.encode()  # ASCII: the encoder escapes the rest (lone surrogates too)
        action = _action(routed.index_name, identifier)
    except Exception as exc:
        batch.rejected.append(_refused(identifier, routed.index_name, document, exc))
        return
    batch.items.append(Item(identifier, routed.index_name, action + source + b"\n"))


def _refused(identifier: str, index: str, document: Any, exc: BaseException) -> Outcome:
    """A dead letter for a document that could not be encoded (kept readable, with the reason)."""
    reason = f"document cannot be encoded as JSON ({type(exc).__name__}: {exc})"[:500]
    try:
        source = json.dumps(document, default=repr, ensure_ascii=True, check_circular=True)
    except Exception:  # too deep, circular, ...: keep what can be shown
        source = json.dumps(repr(document)[:10_000])
    return Outcome(Item(identifier, index, _action(index, identifier) + source.encode() + b"\n"),
                   DEAD, NOT_SENT, reason)


def _span_key(span: ReadableSpan) -> str:
    context = span.context
    return f"{context.trace_id:032x}{context.span_id:016x}" if context is not None else ""


def _action(index: str, identifier: str) -> bytes:
    # quoted: an index or id taken from an attribute may hold quotes, backslashes or non-ASCII;
    # no id (a span without ids): Elasticsearch makes one, as for the Collector's documents
    if not identifier:
        return b'{"create":{"_index":%s}}\n' % _quote(index).encode()
    return b'{"create":{"_index":%s,"_id":%s}}\n' % (_quote(index).encode(), _quote(identifier).encode())


def _line(document: dict[str, Any]) -> bytes:
    try:
        text = _encode(document)
    except ValueError:
        text = _encode(_finite(document))
    return text.encode() + b"\n"


def _finite(value: Any) -> Any:
    """``value`` with NaN/inf floats as ``None`` (JSON has no NaN; the Collector writes null)."""
    if isinstance(value, float):
        return value if value - value == 0.0 else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def span_attributes(item: Item) -> dict[str, Any] | None:
    """The ``attributes`` of a span document (``traces-*``), or None for any other document or one
    that cannot be read (only used for the rare item that is dropped, to count it against its model)."""
    if not item.index.startswith("traces-"):
        return None
    try:
        attributes = json.loads(item.lines.split(b"\n", 2)[1]).get("attributes")
    except (ValueError, IndexError, AttributeError):
        return {}
    return attributes if isinstance(attributes, dict) else {}


def body(items: Sequence[Item]) -> bytes:
    """The NDJSON request body for ``items``."""
    return b"".join(item.lines for item in items)


def outcomes(items: Sequence[Item], response: dict[str, Any]) -> list[Outcome]:
    """Pair each item with its answer (``BulkResponse.items`` is in request order).

    2xx is stored, 409 is a duplicate (already stored: a retry of a request whose answer was
    lost), 429/5xx are retried, anything else (400 mapping errors, 404, 403) can never succeed.
    """
    answers = response.get("items")
    if not isinstance(answers, list) or len(answers) != len(items):
        raise ValueError(f"bulk response has {len(answers) if isinstance(answers, list) else 'no'} items "
                         f"for {len(items)} sent")
    results = []
    for item, answer in zip(items, answers, strict=True):
        detail = next(iter(answer.values())) if isinstance(answer, dict) and answer else {}
        status = int(detail.get("status", 0))
        if 200 <= status < 300:
            results.append(Outcome(item, STORED, status, ""))
        elif status == 409:
            results.append(Outcome(item, DUPLICATE, status, ""))
        else:
            verdict = RETRY if status in RETRYABLE_STATUS else DEAD
            results.append(Outcome(item, verdict, status, _reason(detail.get("error"))))
    return results


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type', '')}: {cause.get('reason', '')})"
        return text
    return str(error or "no error detail")
