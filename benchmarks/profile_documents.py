"""What profiles cost in Elasticsearch (docs/profiles.md): bytes per document and documents per call.

A profile document is one per (model version, sub-module, minute, process) whatever the call rate,
so its cost per call falls as traffic grows; a span document is one per sampled call. Prints, for a
narrow and a wide latency spread (lognormal, sigma 0.3 and 1.0, around 2 ms), the encoded bulk
item's size (action + source, before gzip) and the number of latency buckets, then documents and
bytes per 1,000,000 calls of one model without sub-modules at a few call rates, profile vs spans
(span size measured on a real decorated model's span document).

    python benchmarks/profile_documents.py
"""

from __future__ import annotations

import math

import numpy as np
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan.exporters._bulk import encode_spans
from modelspan.exporters._profiles import encode_profiles
from modelspan.instrumentation._profiles import _Profiles

START_NS = 1_795_341_600 * 10**9
CALLS = 1_000_000


def profile_documents(calls: int, calls_per_second: float, keys: int = 1) -> int:
    """Profile documents of ``calls`` calls at ``calls_per_second`` in one process: one per key (model
    version or sub-module) and minute, whatever the call rate (each further process adds its own).

    >>> profile_documents(1_000_000, 5000, keys=3)
    12
    """
    return keys * max(math.ceil(calls / calls_per_second / 60), 1)


def profile_bytes(sigma: float, calls: int = 5000) -> tuple[int, int]:
    """(bytes of one profile bulk item, latency buckets) for ``calls`` lognormal latencies."""
    rng = np.random.default_rng(1)
    state = _Profiles()
    for latency in rng.lognormal(np.log(2e6), sigma, calls).astype(int):
        state.record("churn", "3", "", START_NS, START_NS + int(latency), False, 1.0, True)
    profiles = state.take()
    items, _ = encode_profiles(profiles, "default", "4711-0123456789ab", 0)
    return len(items[0].lines), len(profiles[0].buckets)


def span_bytes() -> int:
    """Bytes of one model span's bulk item (a decorated model, three features)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter=exporter)
    try:
        @modelspan.monitor(model="churn", version="3")
        def predict(row: dict[str, float]) -> float:
            return row["a"] + row["b"] + row["c"]

        predict({"a": 1.0, "b": 2.0, "c": 3.0})
        modelspan.force_flush()
        batch = encode_spans(exporter.get_finished_spans())
    finally:
        modelspan.shutdown()
        provider.shutdown()
    return len(batch.items[0].lines)


def main() -> None:
    span = span_bytes()
    print(f"span document: {span} bytes")
    for sigma in (0.3, 1.0):
        size, buckets = profile_bytes(sigma)
        print(f"profile document, lognormal sigma {sigma}: {size} bytes ({buckets} latency buckets)")
    size, _ = profile_bytes(1.0)
    print(f"\nper {CALLS:,} calls (one process, wide spread)   profile docs  bytes (at most) span docs @1.0  @0.01")
    for rate in (10, 100, 1000, 5000):
        documents = profile_documents(CALLS, rate)
        print(f"  {rate:>5} calls/s {documents:>27,} {documents * size:>14,} {CALLS:>15,} {CALLS // 100:>6,}"
              f"   (span bytes at 1.0: {CALLS * span:,})")


if __name__ == "__main__":
    main()
