"""Outage: Elasticsearch down while a decorated model serves ~1,000 calls/s.

Afterwards every span is stored exactly once, the spool bound held, the process's memory did not
grow with the outage (batches went to disk), and the decorated call's latency is reported for the
healthy and the outage phase. The outage lasts 60 s, as the issue asks (90-100 s with the replay);
``MODELSPAN_OUTAGE_SECONDS=10`` shortens it for a quick local run. Per the
team's rule against timed assertions, the p99 ratio (goal: at most 1.2x) is printed and recorded
(``record_property``), not asserted: on two shared cores the healthy phase's own p99 moves by 10x
between runs. What is asserted is structural: the inference thread never opened or wrote to a
socket (tests/exporters/network_threads.py), so it never waited on the network.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

import modelspan
from modelspan.exporters._retry import Backoff
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.instrumentation import _config
from tests.exporters.bulk_server import BulkServer
from tests.exporters.network_threads import network_threads

OUTAGE_S = float(os.environ.get("MODELSPAN_OUTAGE_SECONDS", "60"))
HEALTHY_S = 5.0
RATE = 1000  # decorated calls per second
SPOOL_MAX = 256 * 1024 * 1024
TIMEOUT_S = 2.0


class SpanIds(SpanProcessor):
    """Remembers the id of every span that ended (cheap, unlike keeping the spans)."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None:
            self.ids.append(f"{span.context.trace_id:032x}{span.context.span_id:016x}")


def serve(predict: Any, seconds: float) -> list[float]:
    """Call ``predict`` at ``RATE`` calls/s for ``seconds``; the latency of each call (seconds)."""
    latencies = []
    rng = np.random.default_rng(0)
    start = next_call = time.perf_counter()
    while next_call - start < seconds:
        row = {"temp": float(rng.normal(20, 5)), "plan": "pro", "visits": int(rng.integers(0, 9))}
        began = time.perf_counter()
        predict(row)
        latencies.append(time.perf_counter() - began)
        next_call += 1.0 / RATE
        pause = next_call - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    return latencies


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
def test_outage_loses_nothing_and_keeps_inference_fast(tmp_path: Path, record_property: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    server = BulkServer(keep_sources=False).start()
    exporter = ElasticsearchSpanExporter(server.url, spool_dir=tmp_path / "spool", spool_max_bytes=SPOOL_MAX,
                                         timeout=TIMEOUT_S, backoff=Backoff(initial=0.05, maximum=1.0))
    ids = SpanIds()
    provider = TracerProvider()
    provider.add_span_processor(ids)
    modelspan.configure(tracer_provider=provider, exporter=exporter, environment="prod")
    try:
        @modelspan.monitor(model="churn", version="3")
        def predict(row: dict[str, Any]) -> str:
            with modelspan.module("scorer"):
                return "yes" if row["temp"] > 25 else "no"

        with network_threads(monkeypatch) as network:
            healthy = serve(predict, HEALTHY_S)
            server.stop()
            memory_before = rss_bytes()
            outage = serve(predict, OUTAGE_S)
            memory_growth = rss_bytes() - memory_before
            spooled = exporter.stats()
            server.start()
            after = serve(predict, 2.0)
        inference_touched_network = network.this_thread
        modelspan.force_flush()
        settle_started = time.monotonic()
        while not exporter.force_flush(500) and time.monotonic() < settle_started + 30 + OUTAGE_S:
            time.sleep(0.1)
        settle_s = time.monotonic() - settle_started
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
        server.stop()

    stats = exporter.stats()
    stored = {key for key, (index, _) in server.stored.items() if index.startswith("traces-")}
    calls = len(healthy) + len(outage) + len(after)
    assert len(ids.ids) == len(set(ids.ids)) == 2 * calls  # a model span and a module span per call
    assert stored == set(ids.ids), f"{len(set(ids.ids) - stored)} spans missing"
    # the rest are the profiles of the calls (docs/profiles.md), which went the same way
    others = {index for index, _ in server.stored.values() if not index.startswith("traces-")}
    assert others == {"metrics-modelspan.profile-prod"}  # the namespace configure gives model spans
    assert stats["stored"] == len(server.stored) and stats["dropped"] == 0 and stats["dead_lettered"] == 0
    assert spooled["spool_bytes"] <= SPOOL_MAX and spooled["spool_documents"] > 0
    assert stats["spool_documents"] == 0
    # the outage went to disk, not to memory: growth far below what the spool holds
    assert memory_growth < max(spooled["spool_bytes"] // 2, 32 * 1024 * 1024)

    p99 = {name: float(np.percentile(values, 99)) * 1e3 for name, values in
           (("healthy", healthy), ("outage", outage), ("after", after))}
    ratio = p99["outage"] / p99["healthy"]
    summary = (f"outage {OUTAGE_S:.0f} s at {RATE}/s: {len(stored)} spans stored once (replayed in {settle_s:.1f} s), "
               f"spool peak "
               f"{spooled['spool_bytes'] / 1e6:.1f} MB, RSS growth {memory_growth / 1e6:.1f} MB, decorated p99 ms "
               f"healthy {p99['healthy']:.3f} / outage {p99['outage']:.3f} / after {p99['after']:.3f}, "
               f"ratio {ratio:.2f}x")
    print(summary)
    record_property("outage_summary", summary)
    assert not inference_touched_network, summary  # the inference thread never did network I/O
