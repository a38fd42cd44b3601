"""Direct export into a real cluster (``MODELSPAN_TEST_ES_URL``; skipped otherwise).

A decorated model's spans go through ``ElasticsearchSpanExporter`` into a throwaway namespace;
every span must be found once by its id in ``traces-modelspan.otel-<ns>``, and a second export of
the same spans (a replay) must be answered 409 and counted as stored, not duplicated.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from modelspan import semconv
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter

URL = os.environ.get("MODELSPAN_TEST_ES_URL")
pytestmark = [
    pytest.mark.live_es,
    pytest.mark.skipif(not URL, reason="needs a live Elasticsearch: set MODELSPAN_TEST_ES_URL"),
]


def test_spans_land_once_in_the_modelspan_data_stream(tmp_path: Path) -> None:
    assert URL is not None
    namespace = f"t{uuid.uuid4().hex[:8]}"
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("live")
    for number in range(20):
        tracer.start_span("predict", attributes={semconv.DATA_STREAM_DATASET: semconv.MODELSPAN_DATASET,
                                                 semconv.DATA_STREAM_NAMESPACE: namespace, "n": number}).end()
    provider.shutdown()
    spans = list(memory.get_finished_spans())
    index = f"traces-modelspan.otel-{namespace}"
    client = Elasticsearch(URL)
    exporter = ElasticsearchSpanExporter(URL, spool_dir=tmp_path / "spool", dead_letter_path=tmp_path / "dead.jsonl")
    try:
        exporter.export(spans)
        assert exporter.force_flush(30_000)
        exporter.export(spans)  # a replay of the same spans
        assert exporter.force_flush(30_000)
        stats = exporter.stats()
        assert stats["stored"] == 40 and stats["duplicates"] == 20 and stats["dead_lettered"] == 0
        client.indices.refresh(index=index)
        assert client.count(index=index)["count"] == 20
    finally:
        exporter.shutdown()
        client.options(ignore_status=404).indices.delete_data_stream(name=index)
        client.close()
