"""``SpanWriter``: the one way spans get into the SQLite file, for the exporter and the store alike.

Each call is one ``BEGIN IMMEDIATE`` transaction (see ``_db``); a lock serialises the threads of
one process. The writer is the file's owner in its process: it opens (and migrates) it, bins
values on the edges of the baseline a span names, purges old spans, and closes it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from modelspan.sqlite._db import (
    BaselineEdges,
    Ids,
    SpanRecord,
    connect,
    document_records,
    store_path,
    write_records,
)
from modelspan.sqlite._profiles import write_profiles
from modelspan.sqlite._retention import purge
from modelspan.sqlite._rows import Extractor

LOAD_CHUNK = 5000
OPTIMIZE_WAIT_MS = 200
logger = logging.getLogger(__name__)


class SpanWriter:
    """Write spans (as records or as ``otel``-mode documents) to the SQLite file at ``path``."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
                 create: bool = True) -> None:
        self.path: Path = store_path(path)
        self.read_only = read_only
        """Opened through a read-only URI: nothing is created, migrated or optimised (``connect``)."""
        self.connection: sqlite3.Connection = connect(self.path, read_only=read_only, create=create)
        self.lock = threading.RLock()
        self.ids = Ids(self.connection)
        self.edges = BaselineEdges(self.connection)
        self._extractor = Extractor(self.ids, self.edges)
        self.rejected_documents = 0
        """Documents ``write_documents`` could not read (no span id, bad timestamp): logged and counted."""

    def write_records(self, records: Sequence[SpanRecord]) -> int:
        """Store spans not stored yet (one transaction); returns how many were new."""
        with self.lock:
            return write_records(self.connection, records, self._extractor)

    def write_profiles(self, profiles: Sequence[Any]) -> int:
        """Store profiles (docs/profiles.md) in one transaction; returns how many rows were written."""
        with self.lock:
            return write_profiles(self.connection, profiles)

    def write_documents(self, documents: Iterable[Mapping[str, Any]]) -> int:
        """Store span documents not stored yet, ``LOAD_CHUNK`` per transaction; returns how many were new."""
        written = 0
        chunk: list[Mapping[str, Any]] = []
        for document in documents:
            chunk.append(document)
            if len(chunk) >= LOAD_CHUNK:
                written += self._write_documents(chunk)
                chunk = []
        return written + (self._write_documents(chunk) if chunk else 0)

    def _write_documents(self, documents: Sequence[Mapping[str, Any]]) -> int:
        records, rejected = document_records(documents)
        with self.lock:
            written = write_records(self.connection, records, self._extractor)
            self.rejected_documents += rejected
            return written

    def purge(self, older_than_days: float, *, max_chunks: int | None = None) -> tuple[int, bool]:
        """Delete spans older than ``older_than_days`` in bounded chunks (at most ``max_chunks``).

        Returns ``(spans deleted, finished)``; ``finished`` is False when the chunk budget ran out.
        """
        cutoff = time.time_ns() - int(older_than_days * 86_400 * 1e9)
        with self.lock:
            return purge(self.connection, cutoff, max_chunks=max_chunks)

    def close(self) -> None:
        """Close, refreshing the planner's statistics first where they are stale (``PRAGMA optimize``).

        Best effort: when another process holds the write lock, the file is closed without it after
        a short wait (a worker's shutdown must not wait ``busy_timeout`` for its siblings).
        """
        with self.lock:
            if self.read_only:
                self.connection.close()
                return
            try:
                self.connection.execute(f"PRAGMA busy_timeout = {OPTIMIZE_WAIT_MS}")
                self.connection.execute("PRAGMA optimize")
            except sqlite3.Error as exc:
                logger.debug("PRAGMA optimize skipped: %s", exc)
            self.connection.close()
