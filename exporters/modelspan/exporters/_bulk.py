"""The ``_bulk`` wire format: encode ``create`` actions, read the per-item answers.

Encoding is pure (spans in, bytes out) so it can be benchmarked and tested without a network.
Each document becomes two NDJSON lines, ``{"create":{"_index":...,"_id":...}}`` and the source;
data streams accept only ``create``. ``_id`` is ``<trace id><span id>`` (hex), so a replay of a
batch Elasticsearch already stored is answered 409 instead of writing a duplicate.

``json`` with compact separators and ``allow_nan=False`` is the serialiser: orjson is not a
dependency, and the C encoder writes the shared resource/scope dicts and attribute tuples directly.
A span with a NaN or infinite attribute raises there and takes the slow path (normalised to
``null``, as the collector writes it). ``benchmarks/export.py`` measures it against OTLP protobuf.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.sdk.trace import ReadableSpan

from modelspan.exporters._document import build_document, index_for, span_event_documents

_encode: Final = json.JSONEncoder(
    separators=(",", ":"), allow_nan=False, check_circular=False  # ensure_ascii: faster here, measured
).encode

# How each item answer is handled (status codes of BulkResponseItem.status).
STORED: Final = "stored"
DUPLICATE: Final = "duplicate"
RETRY: Final = "retry"
DEAD: Final = "dead"
RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})


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


def document_id(document: dict[str, Any]) -> str:
    """The ``_id`` of a span document: trace id + span id, so retries and replays cannot duplicate."""
    return f"{document.get('trace_id', '')}{document.get('span_id', '')}"


def encode_spans(spans: Iterable[ReadableSpan], *, span_events: bool = True) -> list[Item]:
    """Bulk items for ``spans`` (and their events as log documents, as the collector writes them)."""
    items = []
    for span in spans:
        document = build_document(span, normalise=False)
        try:
            source = _encode(document)
        except ValueError:  # NaN/inf somewhere: the normalised document writes null instead
            source = _encode(build_document(span, normalise=True))
        identifier = document_id(document)
        index = index_for(document)
        items.append(Item(identifier, index, _action(index, identifier) + source.encode() + b"\n"))
        if span_events and span.events:
            for number, event in enumerate(span_event_documents(span)):
                event_id = f"{identifier}-{number}"
                event_index = index_for(event)
                items.append(Item(event_id, event_index, _action(event_index, event_id) + _line(event)))
    return items


def encode_documents(documents: Iterable[dict[str, Any]]) -> list[Item]:
    """Bulk items for ready-made documents (already normalised)."""
    items = []
    for document in documents:
        identifier, index = document_id(document), index_for(document)
        items.append(Item(identifier, index, _action(index, identifier) + _line(document)))
    return items


def _action(index: str, identifier: str) -> bytes:
    return b'{"create":{"_index":"%s","_id":"%s"}}\n' % (index.encode(), identifier.encode())


def _line(document: dict[str, Any]) -> bytes:
    try:
        text = _encode(document)
    except ValueError:
        text = _encode(_finite(document))
    return text.encode() + b"\n"


def _finite(value: Any) -> Any:
    """``value`` with NaN/inf floats as ``None`` (JSON has no NaN; the collector writes null)."""
    if isinstance(value, float):
        return value if value - value == 0.0 else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


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
