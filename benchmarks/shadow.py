"""What a shadow challenger costs the champion's caller (issue 20): the caller's time per call with
``@modelspan.shadow`` (sample 1.0, a challenger 20x slower than the champion) against the same
monitored champion without it, in one run. The challenger runs on the background worker; the queue
drops what it cannot keep up with (counted), so the caller's cost is the enqueue, not the challenger.

    python benchmarks/shadow.py [--calls 20000] [--challenger sleep|spin]
"""

from __future__ import annotations

import argparse
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--challenger", choices=("sleep", "spin"), default="sleep",
                        help="sleep: a challenger that releases the GIL (I/O, most numpy work); spin: one that "
                        "holds it (pure Python), so the worker competes with the caller for the interpreter")
    args = parser.parse_args()
    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter=InMemorySpanExporter())

    @modelspan.monitor(model="ranker", version="2")
    def challenger(row: dict[str, float]) -> float:
        (_spin if args.challenger == "spin" else time.sleep)(0.0002)
        return row["x"] * 2

    @modelspan.monitor(model="ranker", version="1")
    def plain(row: dict[str, float]) -> float:
        _spin(0.00001)
        return row["x"]

    shadowed = modelspan.shadow(challenger, sample=1.0, experiment="bench")(plain)
    timings = {}
    for name, fn in (("without shadow", plain), ("with shadow", shadowed)):
        start = time.perf_counter()
        for i in range(args.calls):
            fn({"x": float(i)})
        timings[name] = (time.perf_counter() - start) / args.calls * 1e6
    worker = shadowed.shadow  # type: ignore[attr-defined]
    worker.flush(60)
    ratio = timings["with shadow"] / timings["without shadow"]
    print(f"caller time per call: without shadow {timings['without shadow']:.1f} us, "
          f"with shadow {timings['with shadow']:.1f} us (ratio {ratio:.2f})")
    print(f"shadow calls: submitted {worker.submitted}, completed {worker.completed}, dropped {worker.dropped}")
    modelspan.shutdown()
    provider.shutdown()


if __name__ == "__main__":
    main()
