"""The SQLite file: its schema, how it is opened and migrated, and how spans are written to it.

This is the embedded store's data layout, shared by its writer (``modelspan.exporters.sqlite``)
and its reader (``modelspan.store.sqlite``); it imports neither. ``_schema`` describes the tables,
``_rows`` derives a span's rows at write time, ``_db`` opens, migrates and writes, ``_retention``
purges, ``SpanWriter`` ties them together.
"""

from __future__ import annotations

from modelspan.sqlite._checks import NoStoreError, StoreFileError, integrity_problems
from modelspan.sqlite._db import SpanRecord, connect, store_path, transaction
from modelspan.sqlite._rows import SpanRow, timestamp_ns
from modelspan.sqlite._writer import SpanWriter

__all__ = ["NoStoreError", "SpanRecord", "SpanRow", "SpanWriter", "StoreFileError", "connect", "integrity_problems",
           "store_path", "timestamp_ns", "transaction"]
