"""What the exporter did with every span: counted, logged, and exposed as OpenTelemetry metrics.

Nothing is lost silently (docs/architecture.md, decision 6): a span is *stored*, *spooled* (on disk, to be
replayed), *dead-lettered* (can never succeed, kept in a file with the reason) or *dropped*
(counted and logged when even the spool is full). The counts are plain integers behind a lock so
``stats()`` is exact, and are also read by asynchronous instruments of the global
``MeterProvider`` (``modelspan.exporter.*``), so they show up wherever the application's metrics go.
The instruments are created once per meter provider and report the sum over the live exporters
(weakly referenced: a replaced exporter is not kept alive by its metrics); with no SDK
``MeterProvider`` installed they cost nothing.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from opentelemetry import metrics

from modelspan.exporters._bulk import Item, span_attributes
from modelspan.instrumentation._processor import count_lost

_log = logging.getLogger("modelspan.exporters")

METER_NAME: Final = "modelspan.exporter"
# counter name -> (instrument name, description); monotonic except the gauges below
COUNTERS: Final = {
    "exported": ("modelspan.exporter.spans.exported", "spans handed to the exporter"),
    "stored": ("modelspan.exporter.spans.stored", "documents Elasticsearch acknowledged (201, or 409 on a replay)"),
    "duplicates": ("modelspan.exporter.spans.duplicates", "documents answered 409: already stored by an earlier try"),
    "retries": ("modelspan.exporter.retries", "bulk requests or items sent again after a retryable failure"),
    "spooled": ("modelspan.exporter.spans.spooled", "documents written to the on-disk spool"),
    "replayed": ("modelspan.exporter.spans.replayed", "spooled documents settled after Elasticsearch came back"),
    "dead_lettered": ("modelspan.exporter.spans.dead_lettered", "documents that can never succeed (kept with reason)"),
    "unencodable": ("modelspan.exporter.spans.unencodable",
                    "documents refused before sending: not encodable as JSON (dead-lettered with reason)"),
    "dropped": ("modelspan.exporter.spans.dropped",
                "documents lost: spool or dead-letter file full or unwritable, or export() failed"),
    "requests": ("modelspan.exporter.requests", "bulk requests sent"),
    "request_errors": ("modelspan.exporter.request_errors", "bulk requests that failed (status or connection)"),
}
GAUGES: Final = {
    "spool_bytes": ("modelspan.exporter.spool.size", "By", "bytes waiting in the on-disk spool"),
    "spool_documents": ("modelspan.exporter.spool.documents", "{document}", "documents waiting in the on-disk spool"),
}
_LOG_EVERY_S: Final = 30.0


class Counters:
    """Thread-safe counts of what happened to documents, with throttled warnings."""

    def __init__(self, gauges: Callable[[], dict[str, int]] | None = None) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._gauges = gauges or (lambda: {})
        self._last_warning: dict[str, float] = {}
        self._register_instruments()

    def add(self, name: str, amount: int = 1) -> None:
        """Count ``amount`` more of ``name`` (a key of ``COUNTERS``)."""
        if amount:
            with self._lock:
                self._counts[name] += amount

    def drop(self, items: Sequence[Item]) -> None:
        """Count ``items`` as lost, and each span among them in the process's accounting, against its
        model version (``modelspan.stats()["spans_dropped"]``, the profiles' ``dropped``), as the batch
        processor's queue counts the spans it evicts."""
        self.add("dropped", len(items))
        for item in items:
            attributes = span_attributes(item)
            if attributes is not None:
                count_lost(attributes)

    def warn(self, key: str, message: str, *args: object, exc_info: bool = False) -> None:
        """Log a warning at most every 30 s per ``key`` (an outage must not flood the log)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_warning.get(key, -_LOG_EVERY_S) < _LOG_EVERY_S:
                return
            self._last_warning[key] = now
        _log.warning(message, *args, exc_info=exc_info)

    def stats(self) -> dict[str, int]:
        """A snapshot: every counter plus the spool gauges."""
        with self._lock:
            snapshot = dict(self._counts)
        snapshot.update(self._gauges())
        return snapshot

    def _register_instruments(self) -> None:
        with _registry_lock:
            _live.add(self)
            try:
                provider = metrics.get_meter_provider()
                if any(known is provider for known in _providers):
                    return
                meter = provider.get_meter(METER_NAME)
                for key, (name, description) in COUNTERS.items():
                    meter.create_observable_counter(name, [_observe(key)], unit="1", description=description)
                for key, (name, unit, description) in GAUGES.items():
                    meter.create_observable_gauge(name, [_observe(key)], unit=unit, description=description)
                _providers.append(provider)
            except Exception:  # metrics are a convenience; the exporter must work without them
                _log.debug("modelspan exporter metrics not registered", exc_info=True)


_registry_lock = threading.Lock()
_live: weakref.WeakSet[Counters] = weakref.WeakSet()
_providers: list[object] = []


def _observe(key: str) -> Callable[[metrics.CallbackOptions], Iterable[metrics.Observation]]:
    def callback(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        return [metrics.Observation(sum(counters.stats().get(key, 0) for counters in list(_live)))]

    return callback
