"""Schema of the embedded SQLite store (``./modelspan.db`` or ``MODELSPAN_STORE``).

``spans.document`` holds each span exactly as the OTel Collector's Elasticsearch exporter writes it
in ``otel`` mapping mode (docs/architecture.md, decision 1); the other columns are copies of fields of that
document, extracted once at write time so the analyzer can filter and group without parsing JSON.
Later versions may add tables and columns but never change the meaning of an existing one; the
version is kept in ``PRAGMA user_version`` and migrations run on open (``_db.migrate``).

Version 2 adds what makes the analyzer fast and the store complete:

- ``calls``: one slim row per model or module span (latency, errors, sample rate, rows, module path,
  output label, quality counts), so operations and paths never touch the JSON documents;
- ``span_values``: each single-row feature/output value of a model span (numeric or category),
  keyed for range scans by (series, field, binning, time);
- ``value_bins`` / ``value_categories``: per-minute rollups of those values, maintained at write time
  (numbers binned on the edges of the baseline the span names, categories by value), so a drift
  question over a million spans reads thousands of rollup rows instead of twenty million values;
- ``batch_stats`` / ``batch_counts``: batch summaries (``ml.batch.<name>.*``) and their bin/category
  counts; ``row_checks``: single-row quality failures per feature;
- ``outcomes``, ``findings``, ``baselines``, ``checkpoints``.

Version 3 adds per-minute rollups of what every question reads over the whole window, so the cost
of a question follows the minutes of the window, not its spans:

- ``call_minutes``: model calls per (series, minute, sample rate, module path, output label) with
  their errors, rows, summed durations and quality counts (operations, QPS and paths);
- ``check_minutes``: single-row quality failures per (series, minute, check, feature);
- ``spans`` indexes for the incident correlator: ``spans_model_traces`` (covering the traces that
  called a model version; replaces ``spans_model_time``) and ``spans_server_time`` (partial: the
  application server spans only).

Version 4 changes no table, only the names in ``fields``: feature names inside attribute names are
escaped (``semconv.feature_token``: a dot in a name can no longer meet the grammar's dots) and batch
features are keyed by their attribute prefix ``ml.batch.<token>``, apart from single-row attributes
(``ml.feature.<token>``). Migrating rebuilds the derived tables from ``spans.document``, reading names
written before escaping (``semconv.canonical_attribute``); that also recovers the ``cat.other`` counts
that earlier versions misread as a feature ``<name>.cat``.

Rollups are exact: a rollup row only ever adds values whose bin the writer computed with the very
edges the question uses (same baseline id); everything else (partial minutes at the window's edges,
spans binned for another baseline or none) is binned at query time from ``span_values``.
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 6
MINUTE_NS: Final = 60 * 10**9
"""Width of a rollup bucket."""

SPANS_TABLE: Final = """
CREATE TABLE IF NOT EXISTS spans (
    span_id          TEXT PRIMARY KEY,   -- 16 hex digits, as in the document
    trace_id         TEXT NOT NULL,      -- 32 hex digits
    parent_span_id   TEXT,               -- NULL for a root span
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,      -- "Server", "Client", "Internal", ... (document's kind)
    start_ns         INTEGER NOT NULL,   -- span start, ns since the epoch (@timestamp)
    duration_ns      INTEGER NOT NULL,
    status_code      TEXT NOT NULL,      -- "Unset" | "Ok" | "Error"
    service_name     TEXT,               -- resource.attributes.service.name
    dataset          TEXT,               -- data_stream.dataset ("modelspan.otel" for model spans)
    ml_kind          TEXT,               -- ml.span.kind: "model" | "module" | NULL (app span)
    model_name       TEXT,               -- ml.model.name
    model_version    TEXT,               -- ml.model.version
    module_name      TEXT,               -- ml.module.name (module spans)
    prediction_id    TEXT,               -- ml.prediction.id (model spans)
    http_route       TEXT,               -- http.route (app server spans)
    http_status_code INTEGER,            -- http.response.status_code / http.status_code
    document         TEXT NOT NULL       -- the full JSON document
)
"""
"""Version 2 form: a rowid table (version 1 was ``WITHOUT ROWID``, which stores kilobyte-sized rows
about four times less densely); same columns, same meaning."""

SPANS_TABLE_V1: Final = SPANS_TABLE.rstrip() + " WITHOUT ROWID\n"
"""Version 1 form (kept to recognise and migrate old files)."""

SPANS_INDEXES: Final = (
    "CREATE INDEX IF NOT EXISTS spans_model_time ON spans (model_name, model_version, start_ns)",
    "CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id)",
    "CREATE INDEX IF NOT EXISTS spans_time ON spans (start_ns)",
    "CREATE INDEX IF NOT EXISTS spans_prediction ON spans (prediction_id)",
)

# --- Version 2 ---------------------------------------------------------------------------------
V2_TABLES: Final = (
    # A model version: integer keys keep the derived rows (and their indexes) small.
    """CREATE TABLE IF NOT EXISTS series (
        id INTEGER PRIMARY KEY, model_name TEXT NOT NULL, model_version TEXT NOT NULL,
        UNIQUE (model_name, model_version))""",
    # Attribute names of single-row values (ml.feature.x, ml.output.label, ...) and batch features.
    "CREATE TABLE IF NOT EXISTS fields (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    # Baselines whose edges the writer binned values with; 0 (no row) means "not binned".
    "CREATE TABLE IF NOT EXISTS binnings (id INTEGER PRIMARY KEY, baseline_id TEXT NOT NULL UNIQUE)",
    # Clustered by (model version, sub-module, time): a window is one contiguous range, no lookups.
    """CREATE TABLE IF NOT EXISTS calls (
        series_id INTEGER NOT NULL,
        module TEXT NOT NULL,             -- '' on model spans, the sub-module on module spans
        start_ns INTEGER NOT NULL, span_id TEXT NOT NULL, duration_ns INTEGER NOT NULL, error INTEGER NOT NULL,
        sample_rate REAL, batch_size REAL, path_key TEXT, output_label TEXT, trace_id TEXT NOT NULL,
        baseline_id TEXT, q0 REAL, q1 REAL, q2 REAL, q3 REAL, q4 REAL,
        PRIMARY KEY (series_id, module, start_ns, span_id)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS calls_time ON calls (start_ns)",
    "CREATE INDEX IF NOT EXISTS calls_path ON calls (series_id, path_key, start_ns)",
    """CREATE TABLE IF NOT EXISTS modules (
        series_id INTEGER NOT NULL, module TEXT NOT NULL, PRIMARY KEY (series_id, module)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS span_values (
        series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, binning INTEGER NOT NULL,
        start_ns INTEGER NOT NULL, span_id TEXT NOT NULL, num REAL, cat TEXT,
        PRIMARY KEY (series_id, field_id, binning, start_ns, span_id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS value_bins (
        series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, binning INTEGER NOT NULL,
        minute INTEGER NOT NULL, bin INTEGER NOT NULL,
        n INTEGER NOT NULL, total REAL NOT NULL, total_sq REAL NOT NULL, lo REAL, hi REAL,
        PRIMARY KEY (series_id, field_id, binning, minute, bin)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS value_categories (
        series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, minute INTEGER NOT NULL, value TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (series_id, field_id, minute, value)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS batch_stats (
        series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, start_ns INTEGER NOT NULL,
        span_id TEXT NOT NULL, baseline_id TEXT,
        count REAL, null_count REAL, nan_count REAL, sum REAL, sum_sq REAL, min REAL, max REAL,
        out_of_range_count REAL, unseen_count REAL, type_change_count REAL, other_count REAL,
        oov_rate REAL,
        PRIMARY KEY (series_id, field_id, start_ns, span_id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS batch_counts (
        series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, start_ns INTEGER NOT NULL,
        span_id TEXT NOT NULL, baseline_id TEXT, kind TEXT NOT NULL, idx INTEGER NOT NULL,
        count REAL NOT NULL,
        PRIMARY KEY (series_id, field_id, start_ns, span_id, kind, idx)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS row_checks (
        series_id INTEGER NOT NULL, start_ns INTEGER NOT NULL, span_id TEXT NOT NULL,
        check_no INTEGER NOT NULL, feature TEXT NOT NULL,
        PRIMARY KEY (series_id, start_ns, span_id, check_no, feature)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS outcomes (
        prediction_id TEXT PRIMARY KEY, base_id TEXT, row INTEGER,
        actual TEXT NOT NULL,             -- JSON
        timestamp TEXT NOT NULL, timestamp_ns INTEGER NOT NULL) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS outcomes_time ON outcomes (timestamp_ns)",
    """CREATE TABLE IF NOT EXISTS findings (
        id TEXT PRIMARY KEY, type TEXT, model_name TEXT, timestamp_ns INTEGER,
        document TEXT NOT NULL) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS findings_time ON findings (timestamp_ns)",
    """CREATE TABLE IF NOT EXISTS baselines (
        id TEXT NOT NULL, model_name TEXT NOT NULL, model_version TEXT NOT NULL,
        created_at TEXT NOT NULL, saved_ns INTEGER NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (model_name, model_version, saved_ns, id)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS baselines_id ON baselines (id)",
    """CREATE TABLE IF NOT EXISTS checkpoints (
        name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_ns INTEGER NOT NULL) WITHOUT ROWID""",
)

DERIVED_TABLES: Final = ("calls", "modules", "span_values", "value_bins", "value_categories", "batch_stats",
                         "batch_counts", "row_checks", "call_minutes", "check_minutes")
"""Tables rebuilt from ``spans.document`` (the migration from version 1 backfills them)."""

# --- Version 3 ---------------------------------------------------------------------------------
QUALITY_SLOTS: Final = 5
"""``calls.q0..q4``: one per ``semconv.CHECKS`` entry."""

V3_TABLES: Final = (
    # Model calls only (module = ''); the key holds what operations() groups by, NULLs as stored by the query
    # (sample rate 1.0, label ''), so a window's whole minutes are summed without touching ``calls``.
    """CREATE TABLE IF NOT EXISTS call_minutes (
        series_id INTEGER NOT NULL, minute INTEGER NOT NULL, sample_rate REAL NOT NULL, path_key TEXT NOT NULL,
        output_label TEXT NOT NULL, n INTEGER NOT NULL, errors INTEGER NOT NULL, rows REAL NOT NULL,
        duration INTEGER NOT NULL,
        q0 REAL NOT NULL, k0 INTEGER NOT NULL, q1 REAL NOT NULL, k1 INTEGER NOT NULL, q2 REAL NOT NULL,
        k2 INTEGER NOT NULL, q3 REAL NOT NULL, k3 INTEGER NOT NULL, q4 REAL NOT NULL, k4 INTEGER NOT NULL,
        PRIMARY KEY (series_id, minute, sample_rate, path_key, output_label)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS check_minutes (
        series_id INTEGER NOT NULL, minute INTEGER NOT NULL, check_no INTEGER NOT NULL, feature TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (series_id, minute, check_no, feature)) WITHOUT ROWID""",
)

V3_INDEXES: Final = (
    # The incident correlator's questions over ``spans`` (``modelspan.store._sqlite_traces``), answered from
    # indexes instead of one lookup of a kilobyte-sized row per span of the window:
    # the traces that called a model version (covering: no row is read) ...
    "CREATE INDEX IF NOT EXISTS spans_model_traces ON spans (model_name, model_version, start_ns, ml_kind, trace_id)",
    "DROP INDEX IF EXISTS spans_model_time",  # a prefix of the one above
    # ... and application server spans by time, which a window of model spans would otherwise bury.
    "CREATE INDEX IF NOT EXISTS spans_server_time ON spans (start_ns) WHERE kind = 'Server' AND ml_kind IS NULL",
)


# --- Version 5 ---------------------------------------------------------------------------------
V5_TABLES: Final = (
    # Profiles (docs/profiles.md): exact per-interval statistics of every call, one row per process flush;
    # a question sums the rows of its window. ``buckets`` is the latency histogram as JSON
    # ``{"<index>": count}`` (bucket ``i`` stands for ``2 * GAMMA**i / (GAMMA + 1)`` ns).
    """CREATE TABLE IF NOT EXISTS profiles (
        id INTEGER PRIMARY KEY, model_name TEXT NOT NULL, model_version TEXT NOT NULL, module TEXT NOT NULL,
        start_ns INTEGER NOT NULL, interval_ns INTEGER NOT NULL, calls INTEGER NOT NULL, errors INTEGER NOT NULL,
        rows REAL NOT NULL, spans INTEGER NOT NULL, dropped INTEGER NOT NULL, latency_sum INTEGER NOT NULL,
        latency_min INTEGER, latency_max INTEGER, zeros INTEGER NOT NULL, buckets TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS profiles_model_time ON profiles (model_name, model_version, module, start_ns)",
)


# --- Version 6 ---------------------------------------------------------------------------------
V6_COLUMNS: Final = (
    # Per-feature profiles (docs/profiles.md, "Profile records"): JSON, NULL on rows written by version 5
    # (a window without them is answered from spans). ``features``: a list of feature records;
    # ``paths``: {"<path key>": {"<output label>": calls}}; ``checks``: {"<check>": [failed values, calls]}.
    "ALTER TABLE profiles ADD COLUMN features TEXT",
    "ALTER TABLE profiles ADD COLUMN paths TEXT",
    "ALTER TABLE profiles ADD COLUMN checks TEXT",
    "ALTER TABLE profiles ADD COLUMN features_dropped INTEGER NOT NULL DEFAULT 0",
)
