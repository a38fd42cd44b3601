"""``modelspan outcomes load labels.csv --id-column id --actual-column label``: late labels in bulk.

For the batch job that learns the truth days later, in another process: reads a CSV file (streamed,
any size) and records each row's ground truth by prediction id, in chunks, into the store
(``--store`` path or URL, else the one the exporter uses). Rows with an empty id or label are
refused with their line number (exit code 2) before anything is written.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelspan import outcomes
from modelspan.commands import _output
from modelspan.store import open_store

CHUNK = 10_000
_TYPES = {"str": str, "int": int, "float": float}


def register(subparsers: Any) -> None:
    """Add the ``outcomes`` sub-command (``outcomes load``)."""
    parser = subparsers.add_parser("outcomes", help="record ground-truth labels (late outcomes)",
                                   description="Record ground truth for predictions, joined by prediction id.")
    actions = parser.add_subparsers(dest="action", required=True)
    load = actions.add_parser("load", help="load outcomes from a CSV file",
                              description="Record one outcome per CSV row (prediction id and actual value).")
    load.add_argument("file", type=Path, help="CSV file with a header row")
    load.add_argument("--id-column", required=True, help="column holding the prediction id (batch rows: <id>:<i>)")
    load.add_argument("--actual-column", required=True, help="column holding the true label or value")
    load.add_argument("--timestamp-column", help="column holding when the outcome was observed (ISO 8601)")
    load.add_argument("--actual-type", choices=sorted(_TYPES), default="str",
                      help="type of the actual values: str for labels (default), float or int for numbers")
    load.add_argument("--store", help="SQLite path or Elasticsearch URL (default: MODELSPAN_STORE, "
                                      "ELASTICSEARCH_URL or ./modelspan.db)")
    load.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate every row, then record them in chunks; 2 on bad input, 0 on success."""
    try:
        rows = list(_rows(args.file, args.id_column, args.actual_column, args.timestamp_column,
                          _TYPES[args.actual_type]))
    except (OSError, ValueError) as exc:
        print(f"modelspan outcomes: {exc}", file=sys.stderr)
        return 2
    _output.refuse_damaged(args.store)
    store = open_store(args.store)
    try:
        written = sum(outcomes.record_outcomes(rows[start:start + CHUNK], store=store)
                      for start in range(0, len(rows), CHUNK))
    finally:
        store.close()
    print(f"recorded {written} outcomes from {args.file}")
    return 0


def _rows(path: Path, id_column: str, actual_column: str, timestamp_column: str | None,
          convert: Any) -> Iterator[tuple[Any, ...]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (id_column, actual_column, timestamp_column) if c and c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(missing)} (columns: {', '.join(reader.fieldnames or [])})")
        for line, record in enumerate(reader, start=2):
            prediction_id, actual = (record.get(id_column) or "").strip(), record.get(actual_column)
            if not prediction_id or actual is None or actual.strip() == "":
                raise ValueError(f"{path}:{line}: empty prediction id or actual value")
            try:
                value = convert(actual.strip())
            except ValueError:
                raise ValueError(f"{path}:{line}: actual {actual!r} is not a {convert.__name__}") from None
            stamp = (record.get(timestamp_column) or None) if timestamp_column else None
            yield outcomes.check((prediction_id, value, stamp), line)
