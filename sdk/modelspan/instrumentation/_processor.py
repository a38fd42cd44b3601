"""The one span processor modelspan adds to a TracerProvider (imports the OpenTelemetry SDK).

``configure()`` may run many times: the first call adds a :class:`ModelspanSpanProcessor` to the
provider and later calls swap the exporters *inside* it, because the SDK has no way to remove a
processor again. That keeps ``configure()`` idempotent and never touches the application's own
processors.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter


class ModelspanSpanProcessor(SpanProcessor):
    """Fans spans out to one ``BatchSpanProcessor`` per configured exporter; exporters swappable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inner: tuple[BatchSpanProcessor, ...] = ()
        self.exporter_key: object = None

    def set_exporters(self, exporters: Sequence[SpanExporter], key: object) -> None:
        """Replace the exporters; the previous ones are flushed and shut down."""
        new = tuple(BatchSpanProcessor(exporter) for exporter in exporters)
        with self._lock:
            old, self._inner = self._inner, new
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
        with self._lock:
            old, self._inner = self._inner, ()
            self.exporter_key = None
        for processor in old:
            processor.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self._inner)
