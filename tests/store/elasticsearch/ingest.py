"""Spans into the loopback Elasticsearch the way a user's do: ``elastic setup``, then the real exporter.

Test traffic is generated in microseconds of Python; ``retimed`` moves a span to the time and
duration a served model would have given it (a new ``ReadableSpan``, everything else kept), so
the exporter encodes it like any other. ``cluster()`` starts the stand-in with modelspan's
templates installed by ``modelspan.elastic.setup``; ``export()`` sends spans through
``ElasticsearchSpanExporter`` and fails the test if one was not stored: what the analysis reads
afterwards is what the exporter wrote, through the mappings the templates gave it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

import modelspan
from modelspan.elastic import setup
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.instrumentation._profiles import Profile
from tests.store.elasticsearch.fake_es import FakeElasticsearch


def retimed(span: ReadableSpan, start_ns: int, duration_ns: int) -> ReadableSpan:
    """``span`` started at ``start_ns`` and lasting ``duration_ns``."""
    return ReadableSpan(name=span.name, context=span.context, parent=span.parent, resource=span.resource,
                        attributes=span.attributes, events=span.events, links=span.links, kind=span.kind,
                        status=span.status, start_time=start_ns, end_time=start_ns + duration_ns,
                        instrumentation_scope=span.instrumentation_scope)


@contextmanager
def cluster(baselines: Iterable[modelspan.Baseline] = ()) -> Iterator[FakeElasticsearch]:
    """The stand-in after ``modelspan elastic setup`` (with the baselines' feature types pinned)."""
    with FakeElasticsearch() as es:
        setup(es.url, baselines=list(baselines))
        yield es


def export(es: FakeElasticsearch, spans: list[ReadableSpan]) -> None:
    """Every span through the real exporter into ``es``; each must be stored (none dead-lettered)."""
    assert spans, "no spans to export: an empty store would answer every question with no problems"
    with tempfile.TemporaryDirectory() as directory:
        exporter = ElasticsearchSpanExporter(es.url, spool_dir=Path(directory) / "spool",
                                             dead_letter_path=Path(directory) / "dead.jsonl")
        try:
            for start in range(0, len(spans), 512):
                assert exporter.export(spans[start:start + 512]) is SpanExportResult.SUCCESS
            assert exporter.force_flush(60_000)
            letters = exporter.dead_letters.read()
        finally:
            exporter.shutdown()
    assert not letters, [letter.get("reason") for letter in letters[:3]]
    stored = sum(1 for index, _ in es.stored.values() if index.startswith("traces-"))
    assert stored >= len(spans), f"{stored} of {len(spans)} spans stored"


def export_profiles(es: FakeElasticsearch, flushes: Sequence[Sequence[Profile]]) -> None:
    """Each process flush through the real exporter's ``export_profiles`` into ``es``; none dead-lettered."""
    with tempfile.TemporaryDirectory() as directory:
        exporter = ElasticsearchSpanExporter(es.url, spool_dir=Path(directory) / "spool",
                                             dead_letter_path=Path(directory) / "dead.jsonl")
        try:
            for flush in flushes:
                exporter.export_profiles(flush)
            assert exporter.force_flush(60_000) and not exporter.dead_letters.read()
        finally:
            exporter.shutdown()
