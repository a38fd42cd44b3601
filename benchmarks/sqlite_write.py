"""What the SQLite write path costs: spans straight to rows vs the old encode-then-parse round trip.

The SQLite exporter used to turn each span into its Elasticsearch document (``span_to_document``)
and hand the documents to the store, which parsed them back into its rows (``span_row``: the
``@timestamp`` string read back into nanoseconds, the document written to JSON again, the
normalisation pass run on every span). It now builds the rows from the span itself
(``span_record``): the document is encoded once, for the column that keeps it. Both paths store
the same rows (``tests/exporters/test_sqlite_rows.py``). Printed, best of several interleaved
rounds on the same spans, in the same run:

1. conversion alone: spans/s from ``ReadableSpan`` to what is inserted, old vs new, and the ratio;
2. end to end into a fresh SQLite file, batches of 512 (the BatchSpanProcessor's default): the old
   path (``span_to_document`` then ``SpanWriter.write_documents``, what the exporter did) vs
   ``SQLiteSpanExporter.export``, and the ratio.

Each figure is given per wall-clock second and per CPU second of this process (the machine is
shared: CPU time is what other jobs disturb least). The spans are those of ``benchmarks/export.py``:
a decorated model (10 features, two sub-modules) called with single rows and 32-row batches.

    python benchmarks/sqlite_write.py [--spans 30000] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

sys.path.insert(0, str(Path(__file__).resolve().parent))  # export.make_spans

from export import make_spans
from modelspan.exporters._document import span_to_document
from modelspan.exporters.sqlite import SQLiteSpanExporter, span_record
from modelspan.sqlite import SpanWriter
from modelspan.sqlite._db import document_records

BATCH = 512


def old_records(spans: Sequence[ReadableSpan]) -> Any:
    """The old conversion: the Elasticsearch document, then the store's parse of it into rows."""
    return document_records([span_to_document(span) for span in spans])


def new_records(spans: Sequence[ReadableSpan]) -> Any:
    return [span_record(span) for span in spans]


def old_write(spans: Sequence[ReadableSpan], path: Path) -> None:
    writer = SpanWriter(path)
    try:
        for offset in range(0, len(spans), BATCH):
            writer.write_documents([span_to_document(span) for span in spans[offset:offset + BATCH]])
    finally:
        writer.close()


def new_write(spans: Sequence[ReadableSpan], path: Path) -> None:
    exporter = SQLiteSpanExporter(path)
    try:
        for offset in range(0, len(spans), BATCH):
            exporter.export(spans[offset:offset + BATCH])
        assert exporter.stats()["stored"] == len(spans), exporter.stats()
    finally:
        exporter.shutdown()


def seconds(func: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``func()`` (CPU time is what other jobs on the machine disturb least)."""
    wall, cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(label: str, spans: Sequence[ReadableSpan], old: Callable[[int], Any], new: Callable[[int], Any],
            rounds: int) -> None:
    best = {"old": [float("inf")] * 2, "new": [float("inf")] * 2}
    for number in range(rounds):  # interleaved so both see the same machine state
        for name, func in (("old", old), ("new", new)):
            taken = seconds(lambda n=number, f=func: f(n))
            best[name] = [min(a, b) for a, b in zip(best[name], taken, strict=True)]
    for clock, index in (("wall", 0), ("CPU", 1)):
        old_rate, new_rate = len(spans) / best["old"][index], len(spans) / best["new"][index]
        print(f"{label}, {clock}: old {old_rate:,.0f} spans/s, new {new_rate:,.0f} spans/s, "
              f"ratio new/old = {new_rate / old_rate:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=30000, help="approximate number of distinct spans")
    parser.add_argument("--quick", action="store_true", help="fewer spans and rounds")
    args = parser.parse_args()
    calls = (3000 if args.quick else args.spans) // 3
    spans = make_spans(calls)
    rounds = 2 if args.quick else 5
    print(f"{len(spans):,} spans from {calls:,} decorated calls, best of {rounds} rounds")
    compare("conversion (span -> rows)", spans, lambda _: old_records(spans), lambda _: new_records(spans), rounds)
    with tempfile.TemporaryDirectory() as tmp:
        compare(f"end to end (fresh SQLite file, batches of {BATCH})", spans,
                lambda n: old_write(spans, Path(tmp) / f"old{n}.db"),
                lambda n: new_write(spans, Path(tmp) / f"new{n}.db"), rounds)


if __name__ == "__main__":
    main()
