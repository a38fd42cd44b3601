"""What direct export to Elasticsearch costs, measured against baselines in the same run.

Prints two figures (issue 3):

1. documents encoded per second (``_bulk.encode_spans``: the collector's ``otel``-mode document as
   NDJSON bulk lines) against the OTLP protobuf encoder (``encode_spans(...).SerializeToString()``)
   on the same spans, best of several interleaved rounds, and the ratio;
2. sustained spans per second through ``ElasticsearchSpanExporter`` (encode, hand-over to the
   sender thread, gzip, HTTP, per-item answers) into the loopback fake ``_bulk`` server running in
   another process, in batches of 512 (the BatchSpanProcessor's default), timed until
   ``force_flush()`` returns, with the number of spans the server stored checked against the
   number exported: zero drops (goal: at least 20,000 spans/s on 2 cores);
3. Elasticsearch documents and bytes per call (issue 13): the same model configured with the real
   ``ElasticsearchSpanExporter`` at span sample rates 1.0 and 0.01 sends its spans and profiles to
   the loopback stand-in, which counts every bulk request's documents and its gzip bytes as sent.
   Span documents scale with calls (measured per call); profile documents are one per model version,
   sub-module, minute and process whatever the call rate (measured per key and minute), so the
   figures per 1,000,000 calls are extrapolated at a stated call rate per process (100 and 5,000
   calls/s): documents = span documents per call x 10^6 + keys x minutes; bytes per call = (span
   documents x gzip bytes per span document + profile documents x gzip bytes per profile document)
   / 10^6. HTTP headers are not counted.

The spans are real: a decorated model (10 features, two sub-modules) called with single rows and
with 32-row batches, so model spans carry feature summaries as they do in production.

    python benchmarks/export.py [--spans 60000] [--quick] [--documents-only] [--calls 20000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.exporters.bulk_server

from benchmarks.profile_documents import CALLS, profile_documents

import modelspan
from modelspan import semconv
from modelspan.elasticsearch import profiles
from modelspan.exporters import _bulk
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter

BATCH = 512
KEYS = 3
"""Profile keys of the benchmark model: the model's own calls and its two sub-modules."""


def make_spans(calls: int, seed: int = 1) -> list[ReadableSpan]:
    """Spans of ``calls`` decorated calls (one in ten a 32-row batch), each with 2 module spans."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter=exporter, service_name="bench", environment="prod")
    try:
        drive(calls, seed)
        modelspan.force_flush()
        return list(exporter.get_finished_spans())
    finally:
        modelspan.shutdown()
        provider.shutdown()


def drive(calls: int, seed: int = 1, flush_every: int = 0) -> None:
    """``calls`` calls of a decorated model (10 features, two sub-modules), modelspan configured.

    ``flush_every`` calls, ``modelspan.force_flush()`` (so a tight loop does not overflow the span queue).
    """
    rng = np.random.default_rng(seed)

    @modelspan.monitor(model="churn", version="3")
    def predict(rows: Any) -> Any:
        with modelspan.module("encoder"):
            pass
        with modelspan.module("scorer"):
            return 1 if isinstance(rows, dict) else [1] * len(rows)

    plans = ["basic", "pro", "team"]

    def row(number: int) -> dict[str, Any]:
        values: dict[str, Any] = {f"x{i}": float(v) for i, v in enumerate(rng.normal(size=7))}
        values.update(plan=plans[number % 3], region="eu", tier=number % 4)
        return values

    for number in range(calls):
        predict([row(number) for _ in range(32)] if number % 10 == 0 else row(number))
        if flush_every and (number + 1) % flush_every == 0:
            modelspan.force_flush()


def best_rate(func: Callable[[], Any], count: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return count / best


def encoding(spans: list[ReadableSpan], rounds: int) -> None:
    sample = spans[:20000]
    ours = otlp = 0.0
    for _ in range(rounds):  # interleaved so both see the same machine state
        ours = max(ours, best_rate(lambda: _bulk.encode_spans(sample).items, len(sample), 1))
        otlp = max(otlp, best_rate(lambda: encode_spans(sample).SerializeToString(), len(sample), 1))
    size_ours = len(_bulk.body(_bulk.encode_spans(sample[:1000]).items))
    size_otlp = len(encode_spans(sample[:1000]).SerializeToString())
    print(f"encode: {ours:,.0f} documents/s (bulk NDJSON, otel-mode) vs {otlp:,.0f} spans/s (OTLP protobuf)"
          f"  ratio ours/otlp = {ours / otlp:.2f}x  ({size_ours / 1000:.0f} vs {size_otlp / 1000:.0f} bytes/span)")


def _serve(port_queue: Any, stop: Any, counts: Any, cpu: Any) -> None:
    from tests.exporters.bulk_server import BulkServer

    server = BulkServer(keep_sources=False).start()
    port_queue.put(server.port)
    while not stop.wait(0.2):
        counts.value = len(server.stored)
    counts.value = len(server.stored)
    cpu.value = time.process_time()
    server.stop()


def sustained(spans: list[ReadableSpan]) -> None:
    context = multiprocessing.get_context("spawn")
    port_queue, stop, counts = context.Queue(), context.Event(), context.Value("q", 0)
    server_cpu = context.Value("d", 0.0)
    process = context.Process(target=_serve, args=(port_queue, stop, counts, server_cpu), daemon=True)
    process.start()
    port = port_queue.get(timeout=30)
    with tempfile.TemporaryDirectory() as tmp:
        # export() only hands batches to the sender thread; a queue long enough for the whole run
        # keeps them in memory (no spool), and the clock stops when the server has them all.
        exporter = ElasticsearchSpanExporter(f"http://127.0.0.1:{port}", spool_dir=Path(tmp) / "spool",
                                             max_queued_batches=len(spans) // BATCH + 1)
        sent, start, cpu = 0, time.perf_counter(), time.process_time()
        for offset in range(0, len(spans), BATCH):
            exporter.export(spans[offset:offset + BATCH])
            sent += len(spans[offset:offset + BATCH])
        flushed = exporter.force_flush(300_000)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        stats = exporter.stats()
        exporter.shutdown()
    if not flushed:
        print("sustained: the exporter did not finish within 300 s")
    stop.set()
    process.join(10)
    drops = sent - counts.value
    print(f"sustained: {sent / elapsed:,.0f} spans/s into the loopback _bulk server ({sent:,} spans in "
          f"{elapsed:.1f} s, batches of {BATCH}); server stored {counts.value:,}; drops {drops}; "
          f"spooled {stats['spooled']}, retries {stats['retries']} (goal >= 20,000/s, zero drops); "
          f"exporter CPU {cpu:.1f} s = {sent / cpu:,.0f} spans per CPU-second (the rate a free core gives); "
          f"fake server CPU {server_cpu.value:.1f} s")


def _sent(server: Any) -> dict[str, list[int]]:
    """``{"traces" | "metrics": [documents, gzip bytes]}`` of the bulk requests the server received,
    and ``{"flushes": [model profile flushes]}``: the model's own operations documents, one per flush."""
    sent: dict[str, list[int]] = {"traces": [0, 0], "metrics": [0, 0], "flushes": [0]}
    for body, wire in zip(server.bodies, server.bulk_wire, strict=True):
        lines = body.splitlines()
        ((_, action),) = json.loads(lines[0]).items()
        kind = action["_index"].split("-")[0]  # one batch per request: spans or profiles, never both
        sent[kind][0] += len(lines) // 2
        sent[kind][1] += wire
        if kind == "metrics":
            sources = (json.loads(line)["attributes"] for line in lines[1::2])
            sent["flushes"][0] += sum(1 for a in sources if a.get(profiles.KIND_ATTRIBUTE) == profiles.KIND_OPERATIONS
                                      and a.get(semconv.MODULE_NAME) == "")
    return sent


def measure(calls: int, sample_rate: float) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """Documents and gzip bytes the real exporter sends for ``calls`` calls at ``sample_rate``."""
    from tests.exporters.bulk_server import BulkServer

    with tempfile.TemporaryDirectory() as tmp, BulkServer(record=True, keep_sources=False) as server:
        exporter = ElasticsearchSpanExporter(server.url, spool_dir=Path(tmp) / "spool")
        provider = TracerProvider()
        modelspan.configure(tracer_provider=provider, exporter=exporter, sample_rate=sample_rate,
                            service_name="bench", environment="prod")
        try:
            drive(calls, flush_every=500)  # 1,500 spans at most between flushes: the queue holds 2,048
            modelspan.force_flush()
            stats = modelspan.stats()
        finally:
            modelspan.shutdown()
            provider.shutdown()
        return _sent(server), stats


def documents(calls: int) -> None:
    print(f"\ndocuments and gzip bytes through ElasticsearchSpanExporter, measured on {calls:,} calls "
          f"(model + {KEYS - 1} sub-modules, one in ten a 32-row batch), extrapolated to {CALLS:,} calls:")
    for rate in (1.0, 0.01):
        sent, stats = measure(calls, rate)
        (spans, span_bytes), (profile_docs_sent, profile_bytes) = sent["traces"], sent["metrics"]
        per_span, per_profile = span_bytes / max(spans, 1), profile_bytes / max(profile_docs_sent, 1)
        # operations documents for the model and each sub-module, plus the model's per-feature ones
        per_flush = round(profile_docs_sent / max(sent["flushes"][0], 1))
        print(f"  span sample rate {rate}: measured {spans:,} span documents ({spans / calls:.3f} per call, "
              f"{per_span:.0f} gzip bytes each) and {profile_docs_sent} profile documents ({per_profile:.0f} gzip "
              f"bytes each: {per_flush} per flush ({KEYS} operations + the model's per-feature documents), and "
              f"the run flushes every 500 calls, a process once a minute); "
              f"spans dropped {stats.get('spans_dropped', 0)}")
        for calls_per_second in (100, 5000):
            span_docs = round(spans / calls * CALLS)
            profile_docs = profile_documents(CALLS, calls_per_second, per_flush)
            total_bytes = span_docs * per_span + profile_docs * per_profile
            print(f"    at {calls_per_second:>5,} calls/s per process: {span_docs + profile_docs:>9,} documents per "
                  f"{CALLS:,} calls ({span_docs:,} span + {profile_docs:,} profile), "
                  f"{total_bytes / CALLS:,.1f} gzip bytes per call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=150000, help="approximate number of distinct spans")
    parser.add_argument("--quick", action="store_true", help="fewer spans and rounds")
    parser.add_argument("--documents-only", action="store_true", help="only documents and bytes per call")
    parser.add_argument("--calls", type=int, default=20000, help="calls of the documents measurement")
    args = parser.parse_args()
    if args.documents_only:
        documents(args.calls)
        return
    calls = (6000 if args.quick else args.spans) // 3
    started = time.perf_counter()
    spans = make_spans(calls)
    print(f"{len(spans):,} spans from {calls:,} decorated calls in {time.perf_counter() - started:.1f} s")
    encoding(spans, rounds=2 if args.quick else 5)
    sustained(spans)
    documents(args.calls)


if __name__ == "__main__":
    main()
