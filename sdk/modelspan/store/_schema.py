"""Schema of the embedded SQLite store (``./modelspan.db`` or ``MODELSPAN_STORE``).

``spans.document`` holds each span exactly as the OTel Collector's Elasticsearch exporter writes it
in ``otel`` mapping mode (design.md, decision 1); the other columns are copies of fields of that
document, extracted once at write time so the analyzer can filter and group without parsing JSON.
Later versions may add tables and columns but never change the meaning of an existing one; the
version is kept in ``PRAGMA user_version`` and migrations run on open.
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 1

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
    dataset          TEXT,               -- data_stream.dataset ("modelspan" for model spans)
    ml_kind          TEXT,               -- ml.span.kind: "model" | "module" | NULL (app span)
    model_name       TEXT,               -- ml.model.name
    model_version    TEXT,               -- ml.model.version
    module_name      TEXT,               -- ml.module.name (module spans)
    prediction_id    TEXT,               -- ml.prediction.id (model spans)
    http_route       TEXT,               -- http.route (app server spans)
    http_status_code INTEGER,            -- http.response.status_code / http.status_code
    document         TEXT NOT NULL       -- the full JSON document
) WITHOUT ROWID
"""

SPANS_INDEXES: Final = (
    "CREATE INDEX IF NOT EXISTS spans_model_time ON spans (model_name, model_version, start_ns)",
    "CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id)",
    "CREATE INDEX IF NOT EXISTS spans_time ON spans (start_ns)",
    "CREATE INDEX IF NOT EXISTS spans_prediction ON spans (prediction_id)",
)
