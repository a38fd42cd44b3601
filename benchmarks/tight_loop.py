"""20,000 tight-loop single-row calls into the default SQLite store: what the analyzer counts (issue 13).

Scoring a DataFrame row by row outruns the exporter: the OpenTelemetry batch queue (2,048 spans)
drops spans. Profiles (docs/profiles.md) count every call before any queueing, so the analyzer's count
is exact; the spans stored and the spans counted as dropped are printed beside it, at span sample
rates 1.0 and 0.01. ``--processes N`` runs N processes at once against one store file.

    python benchmarks/tight_loop.py [--calls 20000] [--processes 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import tempfile
import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan.store.sqlite import SQLiteStore
from modelspan.store.types import Window


def run(path: str, calls: int, rate: float) -> dict[str, int]:
    modelspan.configure(tracer_provider=TracerProvider(), exporter="sqlite", store=path, sample_rate=rate)

    @modelspan.monitor(model="tight", version="1")
    def predict(row: dict[str, float]) -> float:
        return row["x"] * 2.0

    try:
        for i in range(calls):
            predict({"x": float(i)})
    finally:
        modelspan.shutdown()
    return modelspan.stats()


def measure(calls: int, processes: int, rate: float) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "modelspan.db")
        start = time.perf_counter()
        if processes == 1:
            run(path, calls, rate)
        else:
            context = multiprocessing.get_context("spawn")
            with context.Pool(processes) as pool:
                pool.starmap(run, [(path, calls, rate)] * processes)
        seconds = time.perf_counter() - start
        now = dt.datetime.now(dt.timezone.utc)
        window = Window(now - dt.timedelta(hours=1), now + dt.timedelta(minutes=1))
        with SQLiteStore(path) as store:
            operations = store.model_stats([store.question("tight", "1", window)])[0].operations
        made = calls * processes
        print(f"sample rate {rate:g}, {processes} process(es): {made:,} calls in {seconds:.1f} s -> analyzer counts "
              f"{operations.calls:,}; spans stored {operations.spans:,}, dropped by the queue "
              f"{operations.spans_dropped:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    for rate in (1.0, 0.01):
        measure(args.calls, args.processes, rate)


if __name__ == "__main__":
    main()
