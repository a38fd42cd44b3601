"""What the SQLite write path costs: spans straight to rows vs the old encode-then-parse round trip.

The SQLite exporter used to turn each span into its Elasticsearch document (``span_to_document``)
and hand the documents to the store, which parsed them back into its rows (``span_row``: the
``@timestamp`` string read back into nanoseconds, the document written to JSON again, the
normalisation pass run for nothing). It now builds the rows from the span itself
(``span_record``): the document is encoded once, for the column that keeps it. Both paths store
the same rows (``tests/exporters/test_sqlite_rows.py``). Printed, best of several interleaved
rounds on the same spans, in the same run:

1. conversion alone: spans/s from ``ReadableSpan`` to what is inserted, old vs new, and the ratio;
2. end to end into a fresh SQLite file, batches of 512 (the BatchSpanProcessor's default): the old
   path (``span_to_document`` then ``SpanWriter.write_documents``, what the exporter did) vs
   ``SQLiteSpanExporter.export``, and the ratio.

The spans are those of ``benchmarks/export.py``: a decorated model (10 features, two sub-modules)
called with single rows and 32-row batches.

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


def seconds(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def compare(label: str, spans: Sequence[ReadableSpan], old: Callable[[int], Any], new: Callable[[int], Any],
            rounds: int) -> None:
    best_old = best_new = float("inf")
    for number in range(rounds):  # interleaved so both see the same machine state
        best_old = min(best_old, seconds(lambda n=number: old(n)))
        best_new = min(best_new, seconds(lambda n=number: new(n)))
    old_rate, new_rate = len(spans) / best_old, len(spans) / best_new
    print(f"{label}: old {old_rate:,.0f} spans/s, new {new_rate:,.0f} spans/s, ratio new/old = "
          f"{new_rate / old_rate:.2f}x")


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
