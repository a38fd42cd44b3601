"""Retention: delete spans (and everything derived from them) older than a cutoff, in bounded chunks.

Each chunk is its own short transaction, so writers and the analyzer are never blocked for long.
The cutoff is rounded down to a whole minute so the per-minute rollups and the raw rows they sum
always cover the same spans. Outcomes, findings, baselines and checkpoints are kept.
"""

from __future__ import annotations

import sqlite3

from modelspan.sqlite._db import transaction
from modelspan.sqlite._schema import MINUTE_NS

CHUNK = 5000


def purge(connection: sqlite3.Connection, cutoff_ns: int, *, chunk: int = CHUNK,
          max_chunks: int | None = None) -> tuple[int, bool]:
    """Delete spans that started before ``cutoff_ns``: ``(spans deleted, whether all old rows are gone)``.

    ``max_chunks`` bounds the work of one call (the exporter purges a little after each export).
    """
    cutoff = cutoff_ns // MINUTE_NS * MINUTE_NS
    deleted = 0
    chunks = 0
    statements = _statements(connection, cutoff, chunk)
    for sql, args, counts in statements:
        while max_chunks is None or chunks < max_chunks:
            with transaction(connection):
                gone = connection.execute(sql, args).rowcount
            chunks += 1 if gone else 0  # empty range deletes are cheap seeks: not charged
            deleted += gone if counts else 0
            if gone < chunk:
                break
        else:
            return deleted, False
    return deleted, True


def _bounded(table: str, key: str, where: str, chunk: int) -> str:
    """A DELETE of at most ``chunk`` rows, picked through the table's primary key ``key``."""
    return f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE {where} LIMIT {chunk})"


def _statements(connection: sqlite3.Connection, cutoff: int, chunk: int) -> list[tuple[str, tuple[int, ...], bool]]:
    minute = cutoff // MINUTE_NS
    statements: list[tuple[str, tuple[int, ...], bool]] = [
        (_bounded("spans", "span_id", "start_ns < ?", chunk), (cutoff,), True),
        (_bounded("calls", "series_id, module, start_ns, span_id", "start_ns < ?", chunk), (cutoff,), False),
    ]
    # Derived tables are keyed (series, field, ...): walk each key prefix with a range on time.
    triples = connection.execute(
        "SELECT DISTINCT series_id, field_id, binning FROM value_bins UNION "
        "SELECT DISTINCT series_id, field_id, 0 FROM value_categories").fetchall()
    for series, field, binning in triples:
        statements.append((_bounded("span_values", "series_id, field_id, binning, start_ns, span_id",
                                    "series_id = ? AND field_id = ? AND binning = ? AND start_ns < ?", chunk),
                           (series, field, binning, cutoff), False))
    batch_keys = {"batch_stats": "series_id, field_id, start_ns, span_id",
                  "batch_counts": "series_id, field_id, start_ns, span_id, kind, idx"}
    for table, key in batch_keys.items():
        for series, field in connection.execute(f"SELECT DISTINCT series_id, field_id FROM {table}").fetchall():
            statements.append((_bounded(table, key, "series_id = ? AND field_id = ? AND start_ns < ?", chunk),
                               (series, field, cutoff), False))
    for (series,) in connection.execute("SELECT id FROM series").fetchall():
        statements.append((_bounded("row_checks", "series_id, start_ns, span_id, check_no, feature",
                                    "series_id = ? AND start_ns < ?", chunk), (series, cutoff), False))
    statements.append((_bounded("value_bins", "series_id, field_id, binning, minute, bin", "minute < ?", chunk),
                       (minute,), False))
    statements.append((_bounded("value_categories", "series_id, field_id, minute, value", "minute < ?", chunk),
                       (minute,), False))
    statements.append((_bounded("call_minutes", "series_id, minute, sample_rate, path_key, output_label", "minute < ?",
                                chunk), (minute,), False))
    statements.append((_bounded("check_minutes", "series_id, minute, check_no, feature", "minute < ?", chunk),
                       (minute,), False))
    return statements
