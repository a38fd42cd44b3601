"""Opening the SQLite store safely for many writers and readers, migrations, and the write path.

Several processes (gunicorn workers, each with its exporter) write and the analyzer reads at once:
WAL lets readers run beside one writer, ``busy_timeout`` makes writers queue instead of failing,
``synchronous=NORMAL`` is durable across application crashes (WAL) at a fraction of ``FULL``'s
fsyncs, and each batch is one ``BEGIN IMMEDIATE`` transaction, so a writer takes the lock before
reading anything and can never deadlock on a lock upgrade.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import modelspan.sqlite._schema as _schema
from modelspan import semconv
from modelspan.sqlite._checks import StoreFileError, check_path, check_version, check_writable
from modelspan.sqlite._rows import DOCUMENT, SPAN_ID, Derived, Edges, Extractor, SpanRow, case, span_row

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

logger = logging.getLogger(__name__)
ENV_STORE = "MODELSPAN_STORE"
DEFAULT_PATH = "modelspan.db"
BUSY_TIMEOUT_MS = 30_000
CACHE_KIB = 65_536
"""Page cache per connection (64 MiB): rollup and value pages of recent minutes stay hot."""
ANALYSIS_LIMIT = 1000
"""Rows ``ANALYZE`` samples per index: statistics in milliseconds on a multi-GB file."""
_LOOKUP_CHUNK = 500
_CALL_MINUTE_SUMS = ("n", "errors", "rows", "duration",
                     *(f"{c}{n}" for n in range(_schema.QUALITY_SLOTS) for c in "qk"))


def store_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The store file: ``path``, else ``MODELSPAN_STORE``, else ``./modelspan.db``."""
    return Path(path if path is not None else (os.environ.get(ENV_STORE) or DEFAULT_PATH))


def connect(path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
            create: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with the pragmas above, migrated.

    The file is checked before anything is written to it: a file that is not a SQLite database, is
    truncated or comes from a newer modelspan raises ``StoreFileError`` and stays byte-identical.
    ``read_only`` opens an existing file through a read-only URI: no directory or file is created,
    the journal mode is not changed and nothing is migrated (a store that needs a migration is refused).
    ``create=False`` refuses a missing file instead of creating it (commands that only read or analyse).
    """
    target = store_path(path)
    memory = str(target) == ":memory:"
    if not memory:
        check_path(target, read_only or not create)
    if read_only:
        connection = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                     timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    else:
        if not memory:
            target.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(str(target), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                     check_same_thread=False)
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        check_version(connection, target, read_only)
        connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # the default 2 MB thrashes on multi-GB files
        if not read_only:
            check_writable(target)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")  # ANALYZE / PRAGMA optimize stay cheap
            migrate(connection)
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise StoreFileError(f"{target} is not a usable modelspan store ({exc}): check the path, or run "
                             f"'modelspan store check --store {target}'") from exc
    except BaseException:
        connection.close()
        raise
    return connection


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: the write lock is taken up front (``BEGIN IMMEDIATE``, so readers never
    upgrade into a deadlock), committed at the end, rolled back on any error, including a failed commit."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def migrate(connection: sqlite3.Connection) -> None:
    """Bring the schema to ``SCHEMA_VERSION``; a file from a newer modelspan is refused, not damaged."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version == _schema.SCHEMA_VERSION:
        return
    if version > _schema.SCHEMA_VERSION:
        raise RuntimeError(f"store schema version {version} is newer than this modelspan's "
                           f"({_schema.SCHEMA_VERSION}): upgrade modelspan")
    with transaction(connection):
        version = connection.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
        if version < 1:
            connection.execute(_schema.SPANS_TABLE)
            for statement in _schema.SPANS_INDEXES:
                connection.execute(statement)
        if version == 1:
            _rebuild_spans(connection)
        for statement in (*(_schema.V2_TABLES if version < 2 else ()), *_schema.V3_TABLES, *_schema.V3_INDEXES,
                          *_schema.V5_TABLES):
            connection.execute(statement)
        have = {str(row[1]) for row in connection.execute("PRAGMA table_info(profiles)")}
        for statement in _schema.V6_COLUMNS:  # added where missing (a file marked older may have them)
            if statement.split()[5] not in have:
                connection.execute(statement)
        if version in (2, 3):
            _clear_derived(connection)  # version 4: feature names re-keyed in today's grammar
        if 1 <= version < 4:
            _backfill(connection)  # every derived table, the version 3 rollups too (4 -> 5 -> 6 add profiles only)
        connection.execute(f"PRAGMA user_version = {_schema.SCHEMA_VERSION}")


def _rebuild_spans(connection: sqlite3.Connection) -> None:
    """Version 1 -> 2: the same spans in a rowid table (denser for kilobyte-sized documents)."""
    connection.execute("ALTER TABLE spans RENAME TO spans_v1")
    connection.execute(_schema.SPANS_TABLE)
    connection.execute("INSERT INTO spans SELECT * FROM spans_v1")
    connection.execute("DROP TABLE spans_v1")  # its indexes go with it; recreated on the new table
    for statement in _schema.SPANS_INDEXES:
        connection.execute(statement)


def _clear_derived(connection: sqlite3.Connection) -> None:
    """Versions 2 and 3 -> 4: forget the derived rows and field names, rebuilt from the documents.

    Version 4 keys batch features by their attribute prefix (``ml.batch.<token>``) and escapes dots in
    feature names (``semconv.feature_token``); before it, a batch's ``cat.other`` counts were misread as
    a feature ``<name>.cat`` and lost, and a feature name holding a dot could meet another attribute.
    """
    for table in (*_schema.DERIVED_TABLES, "fields"):
        connection.execute(f"DELETE FROM {table}")


def _backfill(connection: sqlite3.Connection) -> None:
    """Version 1 -> 2: derive the analyzer's rows from the stored documents, a page at a time."""
    extractor = Extractor(Ids(connection), BaselineEdges(connection))
    last = ""
    while True:
        page = connection.execute(
            "SELECT * FROM spans WHERE span_id > ? AND ml_kind IS NOT NULL ORDER BY span_id LIMIT 5000",
            (last,)).fetchall()
        if not page:
            return
        derived = Derived()
        for row in page:
            extractor.add(row, json.loads(row[DOCUMENT]).get("attributes") or {}, derived)
        insert_derived(connection, derived)
        last = page[-1][SPAN_ID]


class Ids:
    """Integer keys of series, fields and binnings, created on first use and cached."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self._series: dict[tuple[str, str], int] = {}
        self._fields: dict[str, int] = {}
        self._binnings: dict[str, int] = {}

    def series(self, model: str, version: str) -> int:
        key = (model, version)
        if key not in self._series:
            self._series[key] = self._get("series", "model_name = ? AND model_version = ?",
                                          "(model_name, model_version) VALUES (?, ?)", key)
        return self._series[key]

    def field(self, name: str) -> int:
        if name not in self._fields:
            self._fields[name] = self._get("fields", "name = ?", "(name) VALUES (?)", (name,))
        return self._fields[name]

    def binning(self, baseline_id: str) -> int:
        if baseline_id not in self._binnings:
            self._binnings[baseline_id] = self._get("binnings", "baseline_id = ?", "(baseline_id) VALUES (?)",
                                                    (baseline_id,))
        return self._binnings[baseline_id]

    def find_binning(self, baseline_id: str) -> int | None:
        """The binning id of a baseline, without creating one (readers never write)."""
        if baseline_id in self._binnings:
            return self._binnings[baseline_id]
        row = self.connection.execute("SELECT id FROM binnings WHERE baseline_id = ?", (baseline_id,)).fetchone()
        return None if row is None else int(row[0])

    def find_field(self, name: str) -> int | None:
        row = self.connection.execute("SELECT id FROM fields WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def _get(self, table: str, where: str, insert: str, key: tuple[str, ...]) -> int:
        self.connection.execute(f"INSERT OR IGNORE INTO {table} {insert}", key)
        return int(self.connection.execute(f"SELECT id FROM {table} WHERE {where}", key).fetchone()[0])


class BaselineEdges:
    """Bin edges per single-row field of a baseline id, from the ``baselines`` table or this process.

    A baseline the SDK was configured with in this process (``configure(baselines=...)`` or
    ``monitor(baseline=...)``) is saved to the store the first time a span names it, so the analyzer
    finds it too. An unknown id is looked up again in each write transaction: a baseline saved by
    another process in between is then used, and ``rebin`` has already binned the earlier values.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self._known: dict[str, Edges] = {}
        self._unknown: set[str] = set()

    def forget_unknown(self) -> None:
        """Look unknown baselines up again (called at the start of each write transaction)."""
        self._unknown.clear()

    def __call__(self, baseline_id: str) -> Edges | None:
        if baseline_id in self._known:
            return self._known[baseline_id]
        if baseline_id in self._unknown:
            return None
        baseline = load_baseline_by_id(self.connection, baseline_id) or self._from_process(baseline_id)
        if baseline is None:
            self._unknown.add(baseline_id)
            return None
        edges = baseline_edges(baseline)
        self._known[baseline_id] = edges
        return edges

    def _from_process(self, baseline_id: str) -> Baseline | None:
        state = getattr(sys.modules.get("modelspan.instrumentation._config"), "STATE", None)
        configured = list(getattr(state, "baselines", {}).values())
        decorated = list(getattr(state, "decorator_baselines", {}).values())
        for baseline in configured + decorated:
            if getattr(baseline, "id", None) == baseline_id:
                save_baseline(self.connection, baseline)  # inside the writer's transaction
                return baseline  # type: ignore[no-any-return]
        return None


def baseline_edges(baseline: Baseline) -> Edges:
    """Bin edges per single-row field (``ml.feature.x``, ``ml.output.value``) of a baseline."""
    profiles = [(name, profile, False) for name, profile in baseline.features.items()]
    if baseline.output is not None:
        profiles.append((semconv.OUTPUT_FEATURE, baseline.output, True))
    return {semconv.single_row_attribute(name, profile.kind, output=output): tuple(float(e) for e in profile.edges)
            for name, profile, output in profiles if profile.kind != "categorical" and profile.edges}


def save_baseline(connection: sqlite3.Connection, baseline: Baseline) -> None:
    """Insert ``baseline`` (the latest saved one per model version is the one loaded) and bin the
    values of spans that named it before it was known. Runs inside the caller's transaction."""
    created = baseline.created_at or ""
    connection.execute(
        "INSERT OR REPLACE INTO baselines VALUES (?, ?, ?, ?, ?, ?)",
        (baseline.id, baseline.model, baseline.version, created, time.time_ns(),
         json.dumps(baseline.to_dict(), allow_nan=False, default=str)))
    rebin(connection, baseline)


def rebin(connection: sqlite3.Connection, baseline: Baseline) -> int:
    """Rebuild the rollups of values stored unbinned (bin -1) under ``baseline``'s binning.

    Happens once, when a baseline is saved after spans that name it; returns the fields rebinned.
    """
    row = connection.execute("SELECT id FROM binnings WHERE baseline_id = ?", (baseline.id,)).fetchone()
    if row is None:
        return 0
    binning, done = int(row[0]), 0
    for name, edges in baseline_edges(baseline).items():
        field = connection.execute("SELECT id FROM fields WHERE name = ?", (name,)).fetchone()
        if field is None:
            continue
        for (series,) in connection.execute(
                "SELECT DISTINCT series_id FROM value_bins WHERE field_id = ? AND binning = ? AND bin = -1",
                (field[0], binning)).fetchall():
            key = (series, field[0], binning)
            connection.execute("DELETE FROM value_bins WHERE series_id = ? AND field_id = ? AND binning = ?", key)
            connection.execute(
                f"INSERT INTO value_bins SELECT series_id, field_id, binning, start_ns / {_schema.MINUTE_NS}, "
                f"{case(edges)}, count(*), total(num), total(num * num), min(num), max(num) FROM span_values "
                "WHERE series_id = ? AND field_id = ? AND binning = ? AND num IS NOT NULL GROUP BY 4, 5", key)
            done += 1
    return done


def load_baseline_by_id(connection: sqlite3.Connection, baseline_id: str) -> Baseline | None:
    row = connection.execute("SELECT body FROM baselines WHERE id = ? ORDER BY saved_ns DESC LIMIT 1",
                             (baseline_id,)).fetchone()
    if row is None:
        return None
    from modelspan.baseline import Baseline

    return Baseline.from_dict(json.loads(row[0]))


SpanRecord = tuple[SpanRow, Mapping[str, Any]]
"""A span ready to store: its ``spans`` row and its attributes (what the derived rows come from)."""


def document_records(documents: Iterable[Mapping[str, Any]]) -> tuple[list[SpanRecord], int]:
    """The records of ``otel``-mode span documents, and how many could not be read (logged)."""
    records: list[SpanRecord] = []
    rejected = 0
    for document in documents:
        try:
            records.append((span_row(document), document.get("attributes") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            rejected += 1
            logger.warning("span document rejected (%s): %.200r", exc, document)
    return records, rejected


def write_records(connection: sqlite3.Connection, records: Iterable[SpanRecord], extractor: Extractor) -> int:
    """Store spans not stored yet, with their derived rows, in one transaction; returns how many.

    Replays of stored span ids (and repeats within ``records``) are skipped.
    """
    rows: dict[str, SpanRecord] = {}
    for record in records:
        rows.setdefault(record[0][SPAN_ID], record)
    with transaction(connection):
        forget = getattr(extractor.binner, "forget_unknown", None)
        if callable(forget):
            forget()
        for existing in _existing(connection, list(rows)):
            del rows[existing]
        connection.executemany(f"INSERT OR IGNORE INTO spans VALUES ({_marks(18)})", [r for r, _ in rows.values()])
        derived = Derived()
        for row, attributes in rows.values():
            extractor.add(row, attributes, derived)
        insert_derived(connection, derived)
    return len(rows)


def _existing(connection: sqlite3.Connection, span_ids: Sequence[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(span_ids), _LOOKUP_CHUNK):
        chunk = span_ids[start:start + _LOOKUP_CHUNK]
        found += [r[0] for r in connection.execute(
            f"SELECT span_id FROM spans WHERE span_id IN ({_marks(len(chunk))})", chunk)]
    return found


def insert_derived(connection: sqlite3.Connection, derived: Derived) -> None:
    """Insert derived rows and add the rollups to the stored ones (inside the caller's transaction)."""
    connection.executemany(f"INSERT OR IGNORE INTO calls VALUES ({_marks(17)})", derived.calls)
    connection.executemany("INSERT OR IGNORE INTO modules VALUES (?, ?)", sorted(derived.modules))
    connection.executemany(f"INSERT OR IGNORE INTO span_values VALUES ({_marks(7)})", derived.values)
    connection.executemany(f"INSERT OR IGNORE INTO batch_stats VALUES ({_marks(17)})", derived.batch_stats)
    connection.executemany(f"INSERT OR IGNORE INTO batch_counts VALUES ({_marks(8)})", derived.batch_counts)
    connection.executemany(f"INSERT OR IGNORE INTO row_checks VALUES ({_marks(5)})", derived.row_checks)
    connection.executemany(
        f"INSERT INTO value_bins VALUES ({_marks(10)}) ON CONFLICT DO UPDATE SET n = n + excluded.n, "
        "total = total + excluded.total, total_sq = total_sq + excluded.total_sq, "
        "lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
        [(*key, *value) for key, value in derived.bins.items()])
    connection.executemany(
        f"INSERT INTO value_categories VALUES ({_marks(5)}) ON CONFLICT DO UPDATE SET n = n + excluded.n",
        [(*key, value) for key, value in derived.categories.items()])
    sums = ", ".join(f"{c} = {c} + excluded.{c}" for c in _CALL_MINUTE_SUMS)
    connection.executemany(f"INSERT INTO call_minutes VALUES ({_marks(19)}) ON CONFLICT DO UPDATE SET {sums}",
                           [(*key, *value) for key, value in derived.call_minutes.items()])
    connection.executemany(
        f"INSERT INTO check_minutes VALUES ({_marks(5)}) ON CONFLICT DO UPDATE SET n = n + excluded.n",
        [(*key, value) for key, value in derived.check_minutes.items()])


def _marks(count: int) -> str:
    return ", ".join("?" * count)
