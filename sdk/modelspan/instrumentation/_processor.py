"""The one span processor modelspan adds to a TracerProvider (imports the OpenTelemetry SDK).

``configure()`` may run many times: the first call adds a :class:`ModelspanSpanProcessor` to the
provider and later calls swap the exporters *inside* it, because the SDK has no way to remove a
processor again. That keeps ``configure()`` idempotent and never touches the application's own
processors.
"""

from __future__ import annotations

import collections
import os
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from modelspan import semconv
from modelspan.instrumentation import _profiles


class ModelspanSpanProcessor(SpanProcessor):
    """Fans spans out to one ``BatchSpanProcessor`` per configured exporter; exporters swappable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inner: tuple[BatchSpanProcessor, ...] = ()
        self._exporters: tuple[SpanExporter, ...] = ()
        self.exporter_key: object = None

    def set_exporters(self, exporters: Sequence[SpanExporter], key: object) -> None:
        """Replace the exporters; the previous ones are flushed and shut down.

        Exporters with an ``export_profiles`` method (the SQLite exporter) receive the profiles.
        """
        new = tuple(BatchSpanProcessor(exporter) for exporter in exporters)
        for processor in new:
            _count_drops(processor)
        _profiles.set_sinks([exporter.export_profiles for exporter in exporters  # type: ignore[attr-defined]
                             if callable(getattr(exporter, "export_profiles", None))])
        with self._lock:
            old, self._inner = self._inner, new
            self._exporters = tuple(exporters)
            self.exporter_key = key
        for processor in old:
            processor.shutdown()  # type: ignore[no-untyped-call]

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in self._inner:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self._inner:
            processor.on_end(span)

    def shutdown(self) -> None:
        _profiles.set_sinks(())  # flushes the profiles to the exporters still open
        with self._lock:
            old, self._inner, self._exporters = self._inner, (), ()
            self.exporter_key = None
        for processor in old:
            processor.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export every queued span, then wait (within ``timeout_millis``) until each exporter has delivered.

        ``BatchSpanProcessor.force_flush`` only hands the queue to ``export()``; an exporter that sends
        from its own thread (the Elasticsearch one) has not delivered yet, so its ``force_flush`` is
        asked too. False when any of them could not deliver in time (or dropped spans).
        """
        end = time.monotonic() + timeout_millis / 1000
        with self._lock:
            pairs = tuple(zip(self._inner, self._exporters, strict=True))
        delivered = True
        for processor, exporter in pairs:
            handed = processor.force_flush(_millis_left(end))
            delivered = bool(exporter.force_flush(_millis_left(end))) and handed and delivered
        return _profiles.flush() and delivered


def _millis_left(end: float) -> int:
    return max(int((end - time.monotonic()) * 1000), 0)


class _CountingQueue(collections.deque):  # type: ignore[type-arg]
    """The batch processor's queue, counting each span it evicts when full (``_profiles.count_dropped``).

    OpenTelemetry's ``BatchProcessor`` queues with ``appendleft`` on a bounded deque, which silently
    evicts the oldest span when full, and its worker takes spans with ``pop``. Both run under one
    lock here, so the full-queue test and the eviction are one step: every evicted span is counted,
    against its own model, and none is counted twice.
    """

    def __init__(self, items: Any, maxlen: int) -> None:
        super().__init__(items, maxlen)
        self.lock = threading.Lock()
        _QUEUES[id(self)] = self

    def appendleft(self, span: Any) -> None:
        with self.lock:
            if len(self) == self.maxlen:
                _count_dropped(self[-1])
            super().appendleft(span)

    def pop(self) -> Any:  # type: ignore[override]  # deque.pop takes no index
        with self.lock:
            return super().pop()


_QUEUES: weakref.WeakValueDictionary[int, _CountingQueue] = weakref.WeakValueDictionary()


def _reinit_locks() -> None:
    for queue in list(_QUEUES.values()):
        queue.lock = threading.Lock()


os.register_at_fork(after_in_child=_reinit_locks)


def _count_drops(processor: BatchSpanProcessor) -> None:
    """Swap the processor's queue for a :class:`_CountingQueue`; an SDK without one is left as it is.

    Newer SDKs keep it in a shared ``BatchProcessor`` (``_batch_processor._queue``); older ones (1.27,
    our minimum) on the span processor itself (``queue``, ``max_queue_size``). Both evict with
    ``appendleft`` and take with ``pop``.
    """
    holder: Any = getattr(processor, "_batch_processor", None)
    layouts = ((holder, "_queue", "_max_queue_size"), (processor, "queue", "max_queue_size"))
    for owner, queue_name, limit_name in layouts:
        queue, limit = getattr(owner, queue_name, None), getattr(owner, limit_name, None)
        if owner is not None and type(queue) is collections.deque and isinstance(limit, int):
            setattr(owner, queue_name, _CountingQueue(queue, limit))
            return


def _count_dropped(span: ReadableSpan) -> None:
    count_lost(span.attributes)


def count_lost(attributes: Mapping[str, Any] | None) -> None:
    """Count a span lost before it was stored (the queue evicted it, an exporter dropped it), against
    its own model version and sub-module (``_profiles.count_dropped``); never raises.

    ``attributes``: the span's, or its document's ``attributes`` (the same dotted names).
    """
    try:
        attributes = attributes or {}
        model = attributes.get(semconv.MODEL_NAME)
        version = attributes.get(semconv.MODEL_VERSION)
        module = attributes.get(semconv.MODULE_NAME) if attributes.get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODULE \
            else None
        _profiles.count_dropped(str(model) if model is not None else "", str(version) if version is not None else "",
                                time.time_ns(), "" if module is None else str(module))
    except Exception as exc:
        from modelspan.instrumentation._health import record_error

        record_error("processor.dropped", exc)
