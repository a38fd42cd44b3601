"""Fixtures for SDK tests: a real TracerProvider with an in-memory exporter, reset afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan.instrumentation import _config, _redaction


class Spans:
    """The spans a test produced, read after a flush."""

    def __init__(self, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
        self.provider = provider
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        modelspan.force_flush()
        return list(self.exporter.get_finished_spans())

    def models(self) -> list[ReadableSpan]:
        return [s for s in self.all() if s.attributes and s.attributes.get("ml.span.kind") == "model"]

    def one(self) -> dict[str, Any]:
        models = self.models()
        assert len(models) == 1, [s.name for s in self.all()]
        return dict(models[0].attributes or {})


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spans]:
    for name in ("MODELSPAN_DISABLED", "OTEL_SDK_DISABLED", "MODELSPAN_SAMPLE_RATE", "MODELSPAN_REDACT",
                 "MODELSPAN_CAPTURE_INPUTS", "MODELSPAN_BASELINES", "OTEL_TRACES_EXPORTER", "MODELSPAN_EXPORTER",
                 "MODELSPAN_HASH_KEY", "MODELSPAN_ALLOW_UNKEYED_HASH", "MODELSPAN_EXCEPTION_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4096))
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter)
    try:
        yield Spans(provider, exporter)
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
        _config.STATE.enabled = True
        _config.STATE.redaction = {}
        _config.STATE.exception_messages = True
        _redaction.set_key(None)
        _config.STATE.capture_inputs = False
        _config.STATE.sample_rate = 1.0
        _config.STATE.namespace = None
